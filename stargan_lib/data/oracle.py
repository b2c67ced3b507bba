"""Oracle classifiers: small CNNs that read the labels and content factors of synthetic images.

Introduced in `notebooks/00_setup_and_data.ipynb`; the metrics of the later notebooks use them.

The StarGAN v1 paper scores translated RaFD images with an expression classifier trained on the
real data ("classification error", Table 3). On our synthetic data we can do better than a
classifier: every image comes with its generative factors, so one network per dataset learns

- a classification head: one logit per attribute (binary cross-entropy, for "faces") or one logit
  per domain (cross-entropy, for "expressions", "animals", "faces_gender"), and
- a regression head: the dataset's *content* factors (position, face shape, skin tone, background,
  see `synthetic.content_factors`), standardised, with a squared error, and
- one classification head per *style* factor where the dataset records one (animals: fur colour and
  pattern class, see `synthetic.style_factors`), cross-entropy; notebook 05 uses them to ask whether a
  reference-guided output took its reference's style.

A translation is then judged by whether the oracle reads the *target* label from the output, and
whether it reads the *same* content factors from the output as from the input. The 256 numbers
before the heads (`Oracle.embed`) are the feature space of the course's "oracle Fréchet distance"
(`metrics.oracle_metrics.oracle_frechet_distance`).

`get_oracle` trains an oracle once on the synthetic train split and caches its weights under
`cache_dir("oracle")`; `evaluate_oracle` measures it on a held-out split.

Deviation: the v1 paper's expression classifier is a ResNet-18 trained on real RaFD (99.55%
accuracy). Our oracles are small CNNs (0.6M parameters at 32 px) trained on synthetic images; they reach
>= 98% on every attribute and domain at 32 px in about a minute on a laptop CPU
(`benchmarks/bench_oracle.py`) and add the content-regression head.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from stargan_lib.data.base import ImageSet
from stargan_lib.data.synthetic import RENDERER_VERSION, content_factors, dataset_info, make_dataset, style_classes
from stargan_lib.errors import CheckpointError, ConfigError, DataError
from stargan_lib.presets import Preset, get_preset
from stargan_lib.utils import atomic_torch_save, cache_dir, params_key, resolve_device, safe_torch_load

# Bump when the network or its training recipe changes: it is part of the cache key.
ORACLE_VERSION = 1


# ==================================================================================================
# The network
# ==================================================================================================

def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class OracleNet(nn.Module):
    """A small VGG-like CNN with a classification head, a content-regression head and optional
    style-classification heads.

    Two conv blocks at full resolution (thin, so that 1-pixel details such as a brow's tilt are
    seen before any pooling), then a 2x max-pool + conv block per halving down to 4x4 (2 halvings
    at 16 px, 3 at 32 px, 5 at 128 px), a 256-unit hidden layer and the heads. Flattening the 4x4
    map keeps the coarse layout, which the position regressors need. `style_classes` gives the
    class count of each style head (none by default).
    """

    def __init__(self, n_labels: int, n_factors: int, image_size: int, width: int = 16,
                 style_classes: tuple[int, ...] | list[int] = ()):
        super().__init__()
        if image_size < 8 or image_size & (image_size - 1):
            raise ConfigError(f"oracle image_size={image_size} must be a power of two >= 8 (16, 32, 64, 128)")
        n_down = int(math.log2(image_size)) - 2
        layers: list[nn.Module] = [_conv_block(3, width), _conv_block(width, width)]
        c = width
        for i in range(n_down):
            c_next = min(width * 2 ** (i + 1), 8 * width)
            layers += [nn.MaxPool2d(2), _conv_block(c, c_next)]
            c = c_next
        self.features = nn.Sequential(*layers)
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(c * 16, 256), nn.ReLU(inplace=True))
        self.cls_head = nn.Linear(256, n_labels)
        self.reg_head = nn.Linear(256, n_factors)
        self.style_heads = nn.ModuleList([nn.Linear(256, int(k)) for k in style_classes])

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden layer before the heads: (B, 256) features (the oracle Fréchet distance's space)."""
        return self.hidden(self.features(x))           # (B, C, 4, 4) -> (B, 256)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.embed(x)
        return self.cls_head(h), self.reg_head(h)   # (B, K) logits, (B, F) standardised factors


class Oracle(OracleNet):
    """An `OracleNet` that knows its dataset: label names, factor layout and standardisation.

    `predict(x)` takes images in [-1, 1] and returns labels, probabilities and content factors in
    the dataset's own units. `metrics` holds the held-out scores measured after training.
    """

    def __init__(self, meta: dict[str, Any]):
        super().__init__(len(meta["label_names"]), sum(meta["factor_dims"]), meta["image_size"], meta["width"],
                         [len(c) for c in meta.get("style_classes", {}).values()])
        self.meta = meta
        self.register_buffer("factor_mean", torch.tensor(meta["factor_mean"], dtype=torch.float32))
        self.register_buffer("factor_std", torch.tensor(meta["factor_std"], dtype=torch.float32))

    @property
    def dataset(self) -> str:
        return self.meta["dataset"]

    @property
    def label_names(self) -> list[str]:
        return list(self.meta["label_names"])

    @property
    def label_kind(self) -> str:
        return self.meta["label_kind"]

    @property
    def factor_names(self) -> list[str]:
        return list(self.meta["factor_names"])

    @property
    def style_names(self) -> list[str]:
        """The style factors this oracle reads (empty for an oracle without style heads)."""
        return list(self.meta.get("style_classes", {}))

    @property
    def image_size(self) -> int:
        return int(self.meta["image_size"])

    @property
    def metrics(self) -> dict[str, Any]:
        return self.meta.get("metrics", {})

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(x) or x.dim() != 4 or x.shape[1] != 3:
            shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
            raise DataError(f"oracle.predict expects a (B, 3, H, W) tensor in [-1, 1], got {shape}; "
                            "convert images with ImageSet.tensors() or data.base.to_tensor_image")
        if not x.is_floating_point():
            raise DataError(f"oracle.predict got a {x.dtype} tensor; it expects floats in [-1, 1] "
                            "(use ImageSet.tensors() or to_tensor_image, not raw uint8 pixels)")
        if x.numel() and (x.min() < -1.5 or x.max() > 1.5):
            raise DataError(f"oracle.predict got values in [{x.min():.2f}, {x.max():.2f}]; it expects [-1, 1] "
                            "(images in [0, 1] need x * 2 - 1; in [0, 255] use to_tensor_image)")
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            # The synthetic images are resolution-free, so resizing is legitimate: area-like resampling.
            x = F.interpolate(x.float(), size=(self.image_size, self.image_size), mode="bilinear",
                              antialias=True, align_corners=False)
        return x

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 256, features: bool = False) -> dict[str, Any]:
        """Read labels, content factors and style classes from images x (B, 3, H, W) in [-1, 1].

        Returns a dict with
          "logits": (B, K);  "probs": sigmoid (binary) or softmax (domain) of the logits;
          "labels": (B, K) float 0/1 for binary sets, (B,) long domain indices for domain sets;
          "factors": {content factor name: (B,) or (B, k) tensor in the dataset's units};
          "style": {style factor name: (B,) long class index} (empty without style heads);
          "features": (B, 256) `embed` features, only with `features=True`.
        Images of another size are resized to the oracle's size first.
        """
        was_training = self.training
        self.eval()
        dev = self.factor_mean.device
        x = self._prepare(x)
        logits, reg, feats = [], [], []
        styles: list[list[torch.Tensor]] = [[] for _ in self.style_heads]
        for start in range(0, len(x), batch_size):
            h = self.embed(x[start:start + batch_size].to(dev))
            logits.append(self.cls_head(h))
            reg.append(self.reg_head(h))
            for out, head in zip(styles, self.style_heads):
                out.append(head(h).argmax(1))
            if features:
                feats.append(h)
        self.train(was_training)
        k = len(self.label_names)
        logits = torch.cat(logits) if logits else torch.zeros(0, k, device=dev)
        reg = torch.cat(reg) if reg else torch.zeros(0, len(self.factor_mean), device=dev)
        reg = reg * self.factor_std + self.factor_mean
        if self.label_kind == "binary":
            probs = torch.sigmoid(logits)
            labels = (probs > 0.5).float()
        else:
            probs = torch.softmax(logits, dim=1)
            labels = probs.argmax(dim=1)
        factors, col = {}, 0
        for name, dim in zip(self.meta["factor_names"], self.meta["factor_dims"]):
            v = reg[:, col:col + dim]
            factors[name] = v[:, 0] if dim == 1 and self.meta["factor_scalar"][name] else v
            col += dim
        style = {name: (torch.cat(v) if v else torch.zeros(0, dtype=torch.long, device=dev))
                 for name, v in zip(self.style_names, styles)}
        out = {"logits": logits, "probs": probs, "labels": labels, "factors": factors, "style": style}
        if features:
            out["features"] = torch.cat(feats) if feats else torch.zeros(0, 256, device=dev)
        return out


# ==================================================================================================
# Training and evaluation
# ==================================================================================================

def _factor_matrix(ds: ImageSet, names: list[str]) -> tuple[np.ndarray, list[int], dict[str, bool]]:
    cols, dims, scalar = [], [], {}
    for name in names:
        if name not in ds.factors:
            raise DataError(f"image set {ds.name!r} has no factor {name!r} (it has {sorted(ds.factors)}); "
                            "oracles need synthetic sets made by stargan_lib.data.synthetic")
        v = np.asarray(ds.factors[name], np.float32)
        scalar[name] = v.ndim == 1
        v = v.reshape(len(v), -1)
        cols.append(v)
        dims.append(v.shape[1])
    return np.concatenate(cols, 1), dims, scalar


def _batch(images_u8: torch.Tensor, idx: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, 3) rows idx -> float (B, 3, H, W) in [-1, 1] on device."""
    x = images_u8[torch.from_numpy(idx)].to(device)
    return x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def train_oracle(train_set: ImageSet, epochs: int, seed: int = 0, batch_size: int = 32, lr: float = 2e-3,
                 width: int = 16, noise: float = 0.04, device: str | torch.device = "cpu",
                 progress: bool = True) -> Oracle:
    """Train an oracle on a synthetic image set (labels + content factors + style classes).

    Adam with a cosine learning-rate decay; the only augmentation is a little Gaussian pixel noise
    (std drawn in [0, `noise`] per image), so that the oracle also reads slightly noisy generator
    outputs. No flips: "contemptuous" is one-sided and position is a content factor.
    """
    if len(train_set) == 0:
        raise DataError(f"cannot train an oracle on the empty image set {train_set.name!r}/{train_set.split!r}")
    info = dataset_info(train_set.name)
    device = resolve_device(device)
    names = content_factors(train_set.name)
    targets, dims, scalar = _factor_matrix(train_set, names)
    mean, std = targets.mean(0), np.maximum(targets.std(0), 1e-6)
    styles = style_classes(train_set.name)
    for name in styles:
        if name not in train_set.factors:
            raise DataError(f"image set {train_set.name!r} has no style factor {name!r}; oracles need synthetic "
                            "sets made by stargan_lib.data.synthetic")
    meta = {"dataset": train_set.name, "image_size": train_set.image_size, "width": width,
            "label_names": list(info.label_names), "label_kind": info.label_kind,
            "factor_names": names, "factor_dims": dims, "factor_scalar": scalar,
            "factor_mean": mean.tolist(), "factor_std": std.tolist(), "style_classes": styles,
            "train": {"n": len(train_set), "epochs": epochs, "seed": seed, "batch_size": batch_size, "lr": lr,
                      "oracle_version": ORACLE_VERSION, "renderer_version": RENDERER_VERSION}}
    images = torch.from_numpy(np.ascontiguousarray(train_set.images))
    y_cls = torch.from_numpy(train_set.labels).to(device)
    y_cls = y_cls.float() if info.label_kind == "binary" else y_cls.long()
    y_reg = torch.from_numpy((targets - mean) / std).float().to(device)
    y_style = [torch.from_numpy(np.asarray(train_set.factors[name], np.int64)).to(device) for name in styles]

    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        oracle = Oracle(meta).to(device)
        opt = torch.optim.Adam(oracle.parameters(), lr=lr)
        steps_per_epoch = max(1, math.ceil(len(train_set) / batch_size))
        total = max(1, epochs * steps_per_epoch)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
        oracle.train()
        bar = tqdm(total=total, desc=f"oracle {train_set.name}", disable=not progress, leave=False)
        for _ in range(epochs):
            order = rng.permutation(len(train_set))
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                if len(idx) < 2:     # batch norm needs two images
                    continue
                x = _batch(images, idx, device)
                x = x + torch.randn_like(x) * (torch.rand(len(x), 1, 1, 1, device=device) * noise)
                h = oracle.embed(x)
                logits, reg = oracle.cls_head(h), oracle.reg_head(h)
                if info.label_kind == "binary":
                    loss_cls = F.binary_cross_entropy_with_logits(logits, y_cls[idx])
                else:
                    loss_cls = F.cross_entropy(logits, y_cls[idx])
                loss_reg = F.mse_loss(reg, y_reg[idx])
                loss = loss_cls + loss_reg
                for head, y in zip(oracle.style_heads, y_style):
                    loss = loss + F.cross_entropy(head(h), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
                bar.set_postfix(cls=f"{loss_cls.item():.3f}", reg=f"{loss_reg.item():.3f}", refresh=False)
        bar.close()
    oracle.eval()
    return oracle


def evaluate_oracle(oracle: Oracle, imageset: ImageSet, batch_size: int = 256) -> dict[str, Any]:
    """Held-out scores of an oracle on a synthetic image set.

    Returns {"accuracy": {attribute or domain: accuracy}, "min_accuracy", "mean_accuracy",
    "overall_accuracy" (domain sets: fraction of images whose domain is read right; binary sets:
    fraction whose every attribute is read right), "r2": {content factor: R^2},
    "mae": {content factor: mean absolute error in the factor's units}, "style_accuracy": {style factor:
    fraction of images whose class is read right} (empty without style heads), "n"}.
    For a domain set, the accuracy of a domain is the fraction of that domain's images classified
    as it (its recall).
    """
    if imageset.name != oracle.dataset:
        raise DataError(f"oracle for {oracle.dataset!r} cannot be evaluated on the {imageset.name!r} set; "
                        f"use get_oracle({imageset.name!r})")
    if len(imageset) == 0:
        raise DataError(f"cannot evaluate an oracle on the empty image set {imageset.name!r}/{imageset.split!r}")
    preds: dict[str, list] = {"labels": [], "factors": []}
    style_pred: dict[str, list] = {name: [] for name in oracle.style_names}
    images = torch.from_numpy(np.ascontiguousarray(imageset.images))
    dev = oracle.factor_mean.device
    for start in range(0, len(imageset), batch_size):
        idx = np.arange(start, min(start + batch_size, len(imageset)))
        out = oracle.predict(_batch(images, idx, dev), batch_size=batch_size)
        preds["labels"].append(out["labels"].cpu().numpy())
        preds["factors"].append(torch.cat([v.reshape(len(idx), -1) for v in out["factors"].values()], 1).cpu().numpy())
        for name in style_pred:
            style_pred[name].append(out["style"][name].cpu().numpy())
    labels = np.concatenate(preds["labels"])
    fac_pred = np.concatenate(preds["factors"])
    fac_true, dims, _ = _factor_matrix(imageset, oracle.factor_names)

    acc: dict[str, float] = {}
    if oracle.label_kind == "binary":
        correct = labels == imageset.labels
        for k, name in enumerate(oracle.label_names):
            acc[name] = float(correct[:, k].mean())
        overall = float(correct.all(1).mean())
    else:
        for k, name in enumerate(oracle.label_names):
            mask = imageset.labels == k
            acc[name] = float((labels[mask] == k).mean()) if mask.any() else float("nan")
        overall = float((labels == imageset.labels).mean())
    r2, mae, col = {}, {}, 0
    for name, dim in zip(oracle.factor_names, dims):
        t, p = fac_true[:, col:col + dim], fac_pred[:, col:col + dim]
        sst = ((t - t.mean(0)) ** 2).sum()
        r2[name] = float(1.0 - ((t - p) ** 2).sum() / sst) if sst > 0 else float("nan")
        mae[name] = float(np.abs(t - p).mean())
        col += dim
    vals = [v for v in acc.values() if not math.isnan(v)]
    style_acc = {name: float((np.concatenate(v) == np.asarray(imageset.factors[name])).mean())
                 for name, v in style_pred.items()}
    return {"accuracy": acc, "min_accuracy": min(vals), "mean_accuracy": float(np.mean(vals)),
            "overall_accuracy": overall, "r2": r2, "mae": mae, "style_accuracy": style_acc, "n": len(imageset)}


# ==================================================================================================
# Cached oracles
# ==================================================================================================

def oracle_path(name: str, image_size: int, n_train: int, epochs: int, seed: int = 0) -> Path:
    """Where the oracle of these training parameters is cached (the style factors it reads are part of
    the key, so adding style heads to a dataset trains its oracle again and leaves the others' caches)."""
    params = {"dataset": name, "image_size": image_size, "n_train": n_train, "epochs": epochs,
              "seed": seed, "oracle_version": ORACLE_VERSION, "renderer_version": RENDERER_VERSION}
    if style_classes(name):
        params["style"] = style_classes(name)
    key = params_key(params)
    return cache_dir("oracle") / f"{name}_{image_size}px_n{n_train}_e{epochs}_{key}.pt"


def load_oracle(path: str | Path, device: str | torch.device = "cpu") -> Oracle:
    """Load an oracle saved by `get_oracle` (weights only: no code is unpickled)."""
    blob = safe_torch_load(path, map_location="cpu")
    if not isinstance(blob, dict) or "state_dict" not in blob or "meta" not in blob:
        raise CheckpointError(f"{path} is not an oracle checkpoint (no state_dict/meta); delete it and call "
                              "get_oracle(..., retrain=True)")
    oracle = Oracle(blob["meta"])
    try:
        oracle.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"oracle checkpoint {path} does not fit the current network ({exc}); "
                              "call get_oracle(..., retrain=True)") from exc
    return oracle.to(resolve_device(device)).eval()


def get_oracle(name: str, preset: str | Preset | None = None, image_size: int | None = None,
               retrain: bool = False, progress: bool = True, seed: int = 0,
               device: str | torch.device = "auto") -> Oracle:
    """The oracle of synthetic dataset `name`, trained once at the preset's size and cached.

    Trains on the preset's n_train images of the train split for `preset.oracle_epochs` epochs,
    measures it on the n_test images of the test split (kept in `oracle.metrics`), and saves it
    atomically under `cache_dir("oracle")`. Later calls load the saved weights; `retrain=True`
    trains again and overwrites them. An unreadable cache file is replaced with a warning.
    """
    dataset_info(name)
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    size = preset.image_size if image_size is None else int(image_size)

    def build() -> Oracle:
        train = make_dataset(name, "train", image_size=size, seed=seed, preset=preset)
        oracle = train_oracle(train, preset.oracle_epochs, seed=seed, device=device, progress=progress)
        test = make_dataset(name, "test", image_size=size, seed=seed, preset=preset)
        oracle.meta["metrics"] = {**evaluate_oracle(oracle, test), "preset": preset.name}
        return oracle

    return cached_oracle(oracle_path(name, size, preset.n_train, preset.oracle_epochs, seed), build, device, retrain)


def cached_oracle(path: Path, build: Any, device: str | torch.device = "auto", retrain: bool = False) -> Oracle:
    """The oracle saved at `path`, or `build()` (which trains it and fills `meta["metrics"]`), saved
    there atomically. `retrain=True` builds again; an unreadable file is rebuilt with a warning."""
    if path.is_file() and not retrain:
        try:
            return load_oracle(path, device)
        except CheckpointError as exc:
            warnings.warn(f"{exc}; training the oracle again", stacklevel=3)
    oracle = build()
    atomic_torch_save({"state_dict": {k: v.cpu() for k, v in oracle.state_dict().items()}, "meta": oracle.meta}, path)
    return oracle
