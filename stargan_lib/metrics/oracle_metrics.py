"""Oracle metrics for synthetic data: did the translation reach the target, and did it keep the content?

Introduced in `notebooks/02_stargan_v1.ipynb` (classification error, as in the v1 paper's Table 3)
and used again for CycleGAN and StarGAN v2.

The StarGAN v1 paper (Sec. 4.6, Table 3) trains an expression classifier on real RaFD images and
reports the classification error of the *target* expression on translated images. The course's
oracles (`stargan_lib.data.oracle.get_oracle`) do the same on the synthetic sets, and also regress
the recorded content factors (position, face shape, skin tone, background...), so a second question
can be answered: does the output keep the input's content?

- Target accuracy: domain sets: fraction of outputs whose oracle domain (argmax) is the target;
  binary attribute sets (faces): fraction of (image, attribute) pairs read as the target value,
  plus the fraction of images with every attribute right. Classification error = 1 - accuracy.
  Per-target values say which translation tasks fail.
- Content preservation: for each content factor, the oracle's reading of the input and of the
  output are compared: mean absolute difference divided by the factor's spread in the training
  data (the oracle's `factor_std`; 0 = kept exactly, about 1.1 = as different as two random images
  of a Gaussian factor), and their Pearson correlation across images (1 = kept). The same
  difference for randomly re-paired inputs is reported as `error_shuffled`, the "nothing kept" level.

Any oracle with `predict(x)` returning a dict {"logits": (B, K), "factors": {name: (B,) or (B, k)}}
(or a tuple `(logits, factors)`) and a `label_kind` of "binary" or "domain" works.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from stargan_lib.errors import ConfigError, DataError
from stargan_lib.metrics.images import as_image_batches


def _float_images(x: Any, where: str) -> torch.Tensor:
    return torch.cat(list(as_image_batches(x, where=where).iterate(1 << 30)))


def predict(oracle: Any, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """What an oracle reads from images x (B, 3, H, W) in [-1, 1]: its logits (B, K) and content
    factors {name: (B, k)}, as float tensors on the CPU. Any supported oracle (see the module doc).

    Compute it once and pass it on (`score_edit`'s `source`, `target_accuracy`'s `logits`) when
    several scores read the same images. Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """
    out = oracle.predict(x)
    if isinstance(out, dict):
        logits, factors = out["logits"], out.get("factors", {})
    elif isinstance(out, (tuple, list)):
        logits, factors = out[0], (out[1] if len(out) > 1 else {})
    else:
        logits, factors = out.logits, getattr(out, "factors", {})
    if isinstance(factors, torch.Tensor):
        names = list(getattr(oracle, "factor_names", [f"factor_{i}" for i in range(factors.shape[1])]))
        factors = {n: factors[:, i] for i, n in enumerate(names)}
    factors = {k: v.detach().float().reshape(len(v), -1).cpu() for k, v in factors.items()}
    return logits.detach().float().cpu(), factors


def _label_names(oracle: Any, k: int) -> list[str]:
    return list(getattr(oracle, "label_names", [str(i) for i in range(k)]))


def target_accuracy(oracle: Any, x_fake: Any, y_trg: Any, logits: torch.Tensor | None = None,
                    only: torch.Tensor | None = None) -> dict[str, Any]:
    """Accuracy of the target labels read back from translated images (see the module docstring).

    y_trg: (B,) domain indices (domain oracles) or (B, K) 0/1 attribute vectors (binary oracles).
    only (binary oracles): a (B, K) bool mask of the (image, attribute) pairs to score, e.g. the
    attributes an edit changed; `exact_match` is then the fraction of images whose selected
    attributes all read right (NaN accuracies when nothing is selected).
    Returns {"accuracy", "classification_error", "per_label": {name: accuracy}, "exact_match" (binary), "n"}.
    Introduced in `notebooks/02_stargan_v1.ipynb`.
    """
    kind = getattr(oracle, "label_kind", None)
    if kind not in ("binary", "domain"):
        raise DataError(f"the oracle's label_kind is {kind!r}; expected 'binary' or 'domain'")
    if logits is None:
        logits, _ = predict(oracle, _float_images(x_fake, "translated images"))
    y = torch.as_tensor(y_trg).cpu()
    names = _label_names(oracle, logits.shape[1])
    if len(y) != len(logits):
        raise DataError(f"{len(logits)} translated images but {len(y)} target labels")
    if kind == "domain":
        if y.dim() != 1:
            raise DataError(f"domain targets must be (B,) indices, got shape {tuple(y.shape)}")
        correct = logits.argmax(1) == y.long()
        per = {names[k]: float(correct[y == k].float().mean()) for k in range(len(names)) if (y == k).any()}
        acc, exact = float(correct.float().mean()), None
    else:
        if y.shape != logits.shape:
            raise DataError(f"binary targets must be (B, {logits.shape[1]}) 0/1 vectors, got {tuple(y.shape)}")
        correct = (logits > 0) == (y > 0.5)
        sel = torch.ones_like(correct) if only is None else torch.as_tensor(only, dtype=torch.bool).cpu()
        if sel.shape != correct.shape:
            raise DataError(f"the mask `only` must have shape {tuple(correct.shape)}, got {tuple(sel.shape)}")
        nan = float("nan")
        per = {name: float(correct[sel[:, k], k].float().mean()) if sel[:, k].any() else nan
               for k, name in enumerate(names)}
        acc = float(correct[sel].float().mean()) if sel.any() else nan
        exact = float((correct | ~sel).all(1).float().mean())
    return {"accuracy": acc, "classification_error": 1.0 - acc, "per_label": per, "exact_match": exact,
            "n": int(len(y))}


def score_edit(oracle: Any, source: torch.Tensor | tuple, x_fake: torch.Tensor, y_src: torch.Tensor,
               y_trg: torch.Tensor, rows: torch.Tensor | None = None, seed: int = 0) -> dict[str, Any]:
    """Oracle scores of an attribute edit on binary labels: x_fake should show y_trg where x showed y_src.

    source: the source images (N, 3, H, W), or their `predict` reading (computed once for several
    edits; `rows` then selects the edited images from it). Built on `target_accuracy` (with the
    changed / unchanged attributes as `only`) and `content_preservation`. Returns
      target_accuracy  fraction of images whose *changed* attributes all read as the target
                       (1 - the StarGAN v1 paper's "classification error", Table 3)
      kept_accuracy    fraction of (image, unchanged attribute) pairs still read as the source's label
      content_error    normalised difference of the content factors read from input and output
                       (0 = kept; `content_error_shuffled` is the "nothing kept" level), content_corr
      content_per_factor  the content error of each factor (position, face shape, skin, background)
      n                images scored
    Introduced in `notebooks/01_cyclegan_baseline.ipynb`; StarGAN v1 uses it in notebook 02.
    """
    if getattr(oracle, "label_kind", None) != "binary":
        raise ConfigError("score_edit reads binary attributes; use an oracle of a binary-attribute dataset (faces)")
    _, f_src = predict(oracle, source) if torch.is_tensor(source) else source
    if rows is not None:
        f_src = {k: v[rows] for k, v in f_src.items()}
    y_src, y_trg = torch.as_tensor(y_src).float().cpu(), torch.as_tensor(y_trg).float().cpu()
    if y_src.shape != y_trg.shape or len(y_trg) != len(x_fake):
        raise ConfigError(f"score_edit got {len(x_fake)} translated images, source labels {tuple(y_src.shape)} "
                          f"and target labels {tuple(y_trg.shape)}; give one (k,) label of each per image")
    logits, f_fake = predict(oracle, x_fake)
    changed = y_trg != y_src
    edited = target_accuracy(oracle, None, y_trg, logits=logits, only=changed)
    kept = target_accuracy(oracle, None, y_trg, logits=logits, only=~changed)
    cp = content_preservation(oracle, None, None, seed=seed, factors_src=f_src, factors_fake=f_fake)
    return {"target_accuracy": edited["exact_match"], "kept_accuracy": kept["accuracy"],
            "content_error": cp["error"], "content_corr": cp["corr"],
            "content_error_shuffled": cp["error_shuffled"], "n": int(len(y_trg)),
            "content_per_factor": {k: v["error"] for k, v in cp["per_factor"].items()}}


def classification_error(oracle: Any, x_fake: Any, y_trg: Any) -> float:
    """1 - target accuracy: the v1 paper's "classification error" (Table 3), read by the oracle."""
    return target_accuracy(oracle, x_fake, y_trg)["classification_error"]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def _factor_scales(oracle: Any, names: list[str], src: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per-factor spread: the oracle's training-data std if it has one, else the sources' std."""
    std = getattr(oracle, "factor_std", None)
    meta = getattr(oracle, "meta", {}) or {}
    if std is not None and "factor_dims" in meta:
        out, col = {}, 0
        for name, dim in zip(meta["factor_names"], meta["factor_dims"]):
            out[name] = std[col:col + dim].detach().float().cpu()
            col += dim
        return out
    return {n: src[n].std(0).clamp_min(1e-8) for n in names}


def content_preservation(oracle: Any, x_src: Any, x_fake: Any, seed: int = 0,
                         factors_src: dict[str, torch.Tensor] | None = None,
                         factors_fake: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
    """How well translated images keep the content factors of their inputs (see the module docstring).

    Returns {"error": mean normalised abs difference, "corr": mean Pearson r, "error_shuffled",
    "per_factor": {name: {"error", "corr", "error_shuffled"}}, "n"}.
    """
    if factors_src is None:
        _, factors_src = predict(oracle, _float_images(x_src, "source images"))
    if factors_fake is None:
        _, factors_fake = predict(oracle, _float_images(x_fake, "translated images"))
    names = list(factors_src)
    if not names:
        raise DataError("the oracle returned no content factors; content preservation needs an oracle with a "
                        "regression head (stargan_lib.data.oracle.get_oracle)")
    n = len(next(iter(factors_src.values())))
    if len(next(iter(factors_fake.values()))) != n:
        raise DataError(f"{n} source images but {len(next(iter(factors_fake.values())))} translated images")
    scales = _factor_scales(oracle, names, factors_src)
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    per: dict[str, dict[str, float]] = {}
    for name in names:
        a, b, s = factors_src[name], factors_fake[name], scales[name]
        corr = [_pearson(a[:, j].numpy(), b[:, j].numpy()) for j in range(a.shape[1])] if n > 1 else [float("nan")]
        per[name] = {"error": float(((a - b).abs() / s).mean()),
                     "corr": float(np.nanmean(corr)) if not all(map(math.isnan, corr)) else float("nan"),
                     "error_shuffled": float(((a[perm] - b).abs() / s).mean())}
    mean = {k: float(np.nanmean([v[k] for v in per.values()])) for k in ("error", "corr", "error_shuffled")}
    return {**mean, "per_factor": per, "n": int(n)}


@dataclass
class OracleScores:
    """Target accuracy and content preservation of one translation task (see the module docstring)."""

    accuracy: float
    classification_error: float
    per_label: dict[str, float]
    exact_match: float | None
    content_error: float
    content_corr: float
    content_error_shuffled: float
    per_factor: dict[str, dict[str, float]] = field(default_factory=dict)
    n: int = 0
    pose_kept: float | None = None               # `pose_kept` (None: not asked for)
    pose_kept_shuffled: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def oracle_scores(oracle: Any, x_src: Any, x_fake: Any, y_trg: Any, seed: int = 0,
                  pose: tuple[dict[str, Any], dict[str, float]] | None = None) -> OracleScores:
    """Both oracle metrics for translated images `x_fake = G(x_src, y_trg)` (one forward pass each).

    pose: (the sources' recorded factors, one row per output; `pose_tolerance`) to add `pose_kept`.
    """
    _, f_src = predict(oracle, _float_images(x_src, "source images"))
    logits, f_fake = predict(oracle, _float_images(x_fake, "translated images"))
    acc = target_accuracy(oracle, None, y_trg, logits=logits)
    cp = content_preservation(oracle, None, None, seed=seed, factors_src=f_src, factors_fake=f_fake)
    pk = pose_kept(f_fake, pose[0], pose[1], seed=seed) if pose is not None else {"kept": None, "shuffled": None}
    return OracleScores(acc["accuracy"], acc["classification_error"], acc["per_label"], acc["exact_match"],
                        cp["error"], cp["corr"], cp["error_shuffled"], cp["per_factor"], acc["n"],
                        pk["kept"], pk["shuffled"])


# ==================================================================================================
# StarGAN v2 (notebooks 04-06): pose kept, reference style agreement, oracle Fréchet distance
# ==================================================================================================

POSE_QUANTILE = 0.99


def read_style(oracle: Any, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The style classes an oracle with style heads reads from images x: {style factor: (B,) long}.
    Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb`."""
    if not getattr(oracle, "style_names", None):
        raise ConfigError("this oracle has no style heads; use get_oracle on a dataset with style factors "
                          "(animals: fur_color, pattern), trained by this version of the course")
    out = oracle.predict(_float_images(x, "images"))
    return {k: v.detach().long().cpu() for k, v in out["style"].items()}


def oracle_features(oracle: Any, x: Any) -> np.ndarray:
    """(B, 256) float64 features of images x in the oracle's hidden layer (`Oracle.embed`), the space
    of `oracle_frechet_distance`. Introduced in `notebooks/06_ablation_table.ipynb`."""
    if not hasattr(oracle, "embed"):
        raise ConfigError(f"{type(oracle).__name__} has no embed(); the oracle Fréchet distance needs a course "
                          "oracle (stargan_lib.data.oracle.get_oracle)")
    out = oracle.predict(_float_images(x, "images"), features=True)
    return out["features"].detach().double().cpu().numpy()


def oracle_frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """The course's "oracle Fréchet distance": the Fréchet distance between Gaussians fitted to two
    sets of oracle features (`oracle_features`), e.g. translated images and real images of the target
    domain. A course metric, not FID: same formula as FID (||mu_a - mu_b||^2 + Tr(S_a + S_b - 2
    (S_a S_b)^(1/2))), but in the 256-dimensional feature space of the oracle that was trained on the
    synthetic images themselves, so it feels their domain cues (ears, snout, mane) where Inception
    features of 32 px cartoons upsampled to 299 px are blunt. Its values are not comparable with any
    FID. Introduced in `notebooks/06_ablation_table.ipynb`."""
    from stargan_lib.metrics.fid_metric import fid_from_stats, statistics_from_features

    return fid_from_stats(statistics_from_features(features_a, warn=False, where="oracle features A"),
                          statistics_from_features(features_b, warn=False, where="oracle features B"))


def _as_columns(factors: dict[str, Any], names: list[str], where: str) -> dict[str, torch.Tensor]:
    missing = [n for n in names if n not in factors]
    if missing:
        raise DataError(f"{where} lack the factors {missing} (they have {sorted(factors)}); give the recorded "
                        "factors of a synthetic set (ImageSet.factors) and an oracle of that dataset")
    return {n: torch.as_tensor(np.asarray(factors[n]), dtype=torch.float64).reshape(len(factors[n]), -1)
            for n in names}


def pose_tolerance(oracle: Any, x_real: Any, recorded: dict[str, Any], names: list[str],
                   q: float = POSE_QUANTILE) -> dict[str, float]:
    """Per pose factor, how far the oracle's reading of *real* images strays from their recorded value:
    the `q` quantile (0.99) of |read - recorded| over `x_real` (held-out real images) with their
    `recorded` factors. `pose_kept` calls an output's pose kept when it is read within this
    tolerance, so a perfect translation (the source itself) scores about `q` per factor: the oracle's
    own error is forgiven, nothing more. The course oracle for animals (32 px) gives 0.030 / 0.023 /
    0.034 for pos_x / pos_y / head_size, whose ranges are 0.16 / 0.12 / 0.10; other held-out real
    images then keep their pose 95 % of the time, randomly re-paired ones 9 %. A weak oracle (the smoke
    preset's) has a wide tolerance, and its shuffled level says so.
    Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb`."""
    if not 0.5 <= q < 1.0:
        raise ConfigError(f"pose tolerance quantile q={q}; give a value in [0.5, 1), e.g. 0.99")
    _, read = predict(oracle, _float_images(x_real, "real images"))
    read = _as_columns(read, names, "the oracle's readings")
    rec = _as_columns(recorded, names, "the recorded factors")
    return {n: float(torch.quantile((read[n] - rec[n]).abs().max(1).values, q)) for n in names}


def pose_kept(read_out: dict[str, Any], recorded_src: dict[str, Any], tolerance: dict[str, float],
              seed: int = 0) -> dict[str, Any]:
    """Fraction of outputs whose pose and position stay as in their source.

    read_out: the oracle's reading of the outputs ({factor: (N,)}, `predict`); recorded_src: the
    source's *recorded* factors, one row per output; tolerance: {pose factor: allowed |read -
    recorded|} (`pose_tolerance`: the oracle's 99th-percentile error on real images). An output
    keeps its pose when every pose factor is within its tolerance. Returns {"kept": that fraction,
    "per_factor": {factor: fraction within tolerance}, "shuffled": the same with the sources
    re-paired at random (the level of an output that kept nothing of its source's pose), "n"}.
    Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb`.
    """
    names = list(tolerance)
    if not names:
        raise ConfigError("pose_kept needs at least one pose factor in `tolerance` (see pose_tolerance)")
    out = _as_columns(read_out, names, "the outputs' readings")
    src = _as_columns(recorded_src, names, "the sources' recorded factors")
    n = len(out[names[0]])
    if len(src[names[0]]) != n:
        raise DataError(f"{n} outputs but {len(src[names[0]])} recorded sources; give one source row per output")
    if n == 0:
        raise DataError("pose_kept got no outputs")
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(n))

    def within(order: torch.Tensor | slice) -> dict[str, torch.Tensor]:
        return {k: ((out[k] - src[k][order]).abs() <= tolerance[k]).all(1) for k in names}

    ok, shuffled = within(slice(None)), within(perm)
    both = torch.stack(list(ok.values())).all(0)
    return {"kept": float(both.double().mean()),
            "per_factor": {k: float(v.double().mean()) for k, v in ok.items()},
            "shuffled": float(torch.stack(list(shuffled.values())).all(0).double().mean()), "n": int(n)}


def style_agreement(read_out: dict[str, Any], recorded_ref: dict[str, Any]) -> dict[str, Any]:
    """How often reference-guided outputs show their reference's style, read by the oracle.

    read_out: the oracle's style classes of the outputs ({style factor: (N,)}, `read_style`);
    recorded_ref: each output's reference's *recorded* classes, one row per output. Returns
    {"agreement": fraction of (output, style factor) pairs whose class matches (the mean over the
    factors), "per_factor": {factor: fraction}, "all": fraction of outputs matching in every factor,
    "chance": the agreement expected if outputs and references were paired at random, sum over classes
    of (share of outputs read as c) x (share of references of class c), averaged over the factors (what
    an output that ignored its reference scores, given the class frequencies and whatever the generator
    prefers), "n"}.
    Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb`.
    """
    names = list(read_out)
    if not names:
        raise ConfigError("style_agreement got no style factors; the oracle needs style heads (read_style)")
    missing = [k for k in names if k not in recorded_ref]
    if missing:
        raise DataError(f"the references' recorded factors lack {missing}; give ImageSet.factors of the references")
    out = {k: torch.as_tensor(np.asarray(read_out[k])).long().flatten() for k in names}
    ref = {k: torch.as_tensor(np.asarray(recorded_ref[k])).long().flatten() for k in names}
    n = len(out[names[0]])
    if n == 0 or any(len(v) != n for v in list(out.values()) + list(ref.values())):
        raise DataError(f"style_agreement needs one reference row per output and at least one output, got "
                        f"{ {k: len(v) for k, v in out.items()} } outputs and { {k: len(v) for k, v in ref.items()} } "
                        "references")
    hit = {k: out[k] == ref[k] for k in names}

    def chance(k: str) -> float:
        m = int(max(out[k].max(), ref[k].max())) + 1
        return float((torch.bincount(out[k], minlength=m).double() / n
                      * torch.bincount(ref[k], minlength=m).double() / n).sum())

    return {"agreement": float(torch.stack(list(hit.values())).double().mean()),
            "per_factor": {k: float(v.double().mean()) for k, v in hit.items()},
            "all": float(torch.stack(list(hit.values())).all(0).double().mean()),
            "chance": float(np.mean([chance(k) for k in names])), "n": int(n)}
