"""The headline figures of the lecture notebooks, from their scores: one place for the live run and the
course run of each notebook, and for the manifests of the shipped course runs.

- `*_figures(scores)`: the `FIGURES_JSON` keys a notebook reports, from the scores its cells print
  (`evaluate_cyclegan`, `evaluate_attribute_transfer`, `evaluate_domain_transfer`, `measure_*`);
- `v2_indices(test_set, preset)`: the held-out images notebooks 04 and 05 evaluate and show;
- `figures_of(name, run, preset)`: every figure of one course run, computed with the notebooks' own
  calls (the exporter stores them in the run's manifest).

Layer: experiments. Introduced in `notebooks/01_cyclegan_baseline.ipynb`, section "The course run".
"""

from __future__ import annotations

from functools import partial
from typing import Any, Mapping

import numpy as np
import torch

from stargan_lib.data.datasets import domain_indices
from stargan_lib.presets import Preset, as_preset

SINGLE = ("Black", "Blond", "Brown", "Gender", "Aged")
MULTI = ("H+G", "H+A", "G+A", "H+G+A")
N_EXPR_EVAL = 400          # held-out faces notebook 03 translates to every expression


# ============================================================================ notebook 01
def cyclegan_figures(scores: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Notebook 01: target accuracy and content error per direction, and the unchanged attributes kept
    (every pair of both directions, pooled as the oracle counted them)."""
    n = sum(s["n"] for s in scores.values())
    return {"target_acc_a2b": scores["A->B"]["target_accuracy"], "target_acc_b2a": scores["B->A"]["target_accuracy"],
            "kept": sum(s["kept_accuracy"] * s["n"] for s in scores.values()) / n,
            "content_error_a2b": scores["A->B"]["content_error"], "content_error_b2a": scores["B->A"]["content_error"]}


# ============================================================================ notebook 02
def stargan_v1_figures(scores: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Notebook 02 (Fig. 4): target accuracy of every single and multiple edit, unchanged attributes
    kept and content error (weighted by the images each edit changes), and the worst edit's content error."""
    from stargan_lib.experiments.stargan_v1 import FIG4_TASKS

    edits = [k for k in FIG4_TASKS if k in scores]
    n = sum(scores[k]["n"] for k in edits)
    figures = {f"single_acc_{k}": scores[k]["target_accuracy"] for k in SINGLE if k in scores}
    figures |= {f"multi_acc_{k}": scores[k]["target_accuracy"] for k in MULTI if k in scores}
    figures |= {"kept": sum(scores[k]["kept_accuracy"] * scores[k]["n"] for k in edits) / n,
                "content_error": sum(scores[k]["content_error"] * scores[k]["n"] for k in edits) / n,
                "content_error_max": max(scores[k]["content_error"] for k in edits)}
    return figures


def table3_figures(table3: Mapping[str, Any]) -> dict[str, float]:
    """Notebook 02 (Table 3): classification errors and parameter counts of StarGAN and CycleGAN."""
    return {"table3_error_stargan": table3["StarGAN"]["error"], "table3_error_cyclegan": table3["CycleGAN"]["error"],
            "table3_params_stargan": table3["StarGAN"]["params"],
            "table3_params_cyclegan": table3["CycleGAN"]["params"]}


# ============================================================================ notebook 03
def joint_figures(results: Mapping[str, Mapping[str, Any]], wrong: Mapping[str, Any] | None,
                  as_input: float | None) -> dict[str, float]:
    """Notebook 03 (Fig. 6, Fig. 7): expression accuracy and content error of JNT and SNG (whichever
    `results` holds), the wrong mask's expression accuracy and share of outputs read as old, and the
    expression accuracy of unchanged inputs."""
    figures: dict[str, float] = {}
    for name, r in results.items():
        figures[f"{name.lower()}_expr_acc"] = r["accuracy"]
        figures[f"{name.lower()}_content_error"] = r["content_error"]
    if wrong is not None:
        figures["wrong_mask_expr_acc"] = wrong["accuracy"]
        figures["wrong_mask_aged"] = 1 - wrong["attributes"]["Young"]
    if as_input is not None:
        figures["unchanged_expr_acc"] = float(as_input)
    return figures


def unchanged_expression_accuracy(expr_oracle: Any, x: torch.Tensor, n_classes: int) -> float:
    """How often the oracle reads each expression in unchanged inputs (what a translation that does nothing scores)."""
    read = expr_oracle.predict(x)["labels"].cpu()
    return float((read[None] == torch.arange(n_classes)[:, None]).float().mean())


# ============================================================================ notebooks 04, 05
def v2_indices(test_set: Any, preset: Any) -> dict[str, np.ndarray]:
    """The held-out images notebooks 04 and 05 use, by domain order:

    "eval": the first `preset.eval_sources` of each domain (04's oracle scores); "show": the first two
    (04's grids); "div": the first min(eval_sources, 5) (05's diversity sources); "show1": the first one
    (05's grids); "ref": the last four of each domain (05's references)."""
    p = as_preset(preset)
    first = partial(domain_indices, test_set.labels, len(test_set.label_names))
    return {"eval": first(p.eval_sources), "show": first(2), "div": first(min(p.eval_sources, 5)), "show1": first(1),
            "ref": first(4, last=True)}


N_OUT = 10                   # notebook 05: latent-guided outputs per source for the diversity score (paper: 10)


def det_figures(letter: str, s: Any) -> dict[str, float]:
    """Notebook 04: one configuration's (A-C) `measure_det` scores under its keys."""
    return {f"target_acc_{letter}": s.accuracy, f"pose_kept_{letter}": s.pose_kept,
            f"pose_kept_shuffled_{letter}": s.pose_kept_shuffled, f"content_error_{letter}": s.content_error}


def latent_figures(letter: str, s: Mapping[str, Any]) -> dict[str, float]:
    """Notebook 05: one configuration's (D-F) `measure_latent` scores under its keys."""
    return {f"target_acc_{letter}": s["acc"], f"lpips_{letter}": s["lpips"], f"lpips_se_{letter}": s["lpips_se"],
            f"pose_kept_{letter}": s["pose_kept"]}


def reference_figures(letter: str, r: Mapping[str, Any]) -> dict[str, float]:
    """Notebook 05: one configuration's (E, F) `measure_reference` scores under its keys."""
    return {f"ref_target_acc_{letter}": r["acc"], f"ref_style_agreement_{letter}": r["style_agreement"],
            f"ref_style_chance_{letter}": r["style_chance"], f"ref_pose_kept_{letter}": r["pose_kept"]}


# ============================================================================ one course run
def figures_of(name: str, run: Any, preset: Any, seed: int = 0) -> dict[str, Any]:
    """The figures notebook `RUNS[name].notebook` reports for course run `name` (`run`: a `LoadedRun`),
    computed with the notebook's calls on the preset's held-out data and oracles. Not under no_grad:
    an oracle missing from the cache is trained on first use."""
    from stargan_lib.data import get_oracle, make_dataset

    p = as_preset(preset)
    cfg = run.cfg
    if name == "cyclegan":
        from stargan_lib.experiments.cyclegan import evaluate_cyclegan
        oracle = get_oracle("faces", preset=p, seed=seed, progress=False)
        return cyclegan_figures(evaluate_cyclegan(run.nets, cfg, make_dataset("faces", "test", preset=p), oracle))
    if name == "stargan_v1":
        from stargan_lib.experiments.stargan_v1 import evaluate_attribute_transfer
        oracle = get_oracle("faces", preset=p, seed=seed, progress=False)
        test = make_dataset("faces", "test", preset=p)
        return stargan_v1_figures(evaluate_attribute_transfer(run.nets["G"], cfg, test, oracle))
    if name.startswith("table3_") or name == "sng":
        from stargan_lib.experiments.table3 import SOURCE, default_targets, table3_errors
        figures: dict[str, Any] = {}
        if name == "sng":
            figures |= _joint_run_figures("SNG", run, p, seed)
            targets = default_targets(p.name)
            errors = table3_errors(p, lambda x, k, t: _stargan_to(run, x, k), targets, seed)
            figures |= {f"table3_error_stargan_{t}": e for t, e in errors.items()}
            figures["table3_error_stargan"] = sum(errors.values()) / len(errors)
            return figures
        target = name.removeprefix("table3_")
        from stargan_lib.models.cyclegan import translate
        errors = table3_errors(p, lambda x, k, t: translate(run.nets["G_AB"], x), (target,), seed)
        return {f"table3_error_cyclegan_{target}": errors[target], "source": SOURCE}
    if name == "jnt":
        return _joint_run_figures("JNT", run, p, seed)
    letter = name.removeprefix("v2_")
    from stargan_lib.experiments import stargan_v2 as v2
    test_set = make_dataset("animals", "test", preset=p, seed=seed)
    oracle = get_oracle("animals", preset=p, seed=seed, progress=False)
    idx = v2_indices(test_set, p)
    if letter in "ABC":
        return det_figures(letter, v2.measure_det(run.ema, test_set, idx["eval"], oracle, seed=seed))
    figures = latent_figures(letter, v2.measure_latent(run.ema, test_set, idx["div"], oracle, n_out=N_OUT, seed=seed))
    if letter in "EF":
        figures |= reference_figures(letter, v2.measure_reference(run.ema, test_set, idx["div"], idx["ref"], oracle,
                                                                  seed=seed))
    return figures


def _stargan_to(run: Any, x: torch.Tensor, k: int) -> torch.Tensor:
    from stargan_lib.models.stargan_v1 import generator_label, translate
    return translate(run.nets["G"], x, generator_label(run.cfg, torch.full((len(x),), k, dtype=torch.long)))


def _joint_run_figures(which: str, run: Any, p: Preset, seed: int) -> dict[str, float]:
    """Notebook 03's figures of JNT (with the wrong mask) or SNG."""
    from stargan_lib.data import get_oracle, make_dataset
    from stargan_lib.experiments.stargan_v1 import evaluate_domain_transfer, expression_oracle_both_styles

    expr_oracle = expression_oracle_both_styles(p, seed=seed)
    face_oracle = get_oracle("faces", preset=p, seed=seed, progress=False)
    x_eval, _ = make_dataset("faces", "test", preset=p).subset(slice(0, N_EXPR_EVAL)).tensors()
    dataset = 1 if which == "JNT" else 0
    result = evaluate_domain_transfer(run.nets["G"], run.cfg, x_eval, expr_oracle, dataset=dataset,
                                      content_oracle=face_oracle)
    wrong = (evaluate_domain_transfer(run.nets["G"], run.cfg, x_eval, expr_oracle, dataset=1,
                                      content_oracle=face_oracle, mask_dataset=0) if which == "JNT" else None)
    n_cls = run.cfg.label_dims[dataset]
    return joint_figures({which: result}, wrong, unchanged_expression_accuracy(expr_oracle, x_eval, n_cls))


__all__ = ["N_EXPR_EVAL", "N_OUT", "cyclegan_figures", "det_figures", "figures_of", "joint_figures",
           "latent_figures", "reference_figures", "stargan_v1_figures", "table3_figures",
           "unchanged_expression_accuracy", "v2_indices"]
