"""PyTorch datasets and loaders over synthetic and real data: the batches every trainer consumes.

Introduced in `notebooks/00_setup_and_data.ipynb`; the mask-vector joint loader in
`notebooks/03_mask_vector_joint_training.ipynb`; images grouped by domain in
`notebooks/04_stargan_v2_A_to_C.ipynb` and `notebooks/06_ablation_table.ipynb`.

Item interfaces (the same for synthetic `ImageSet`s and for the real loaders of `real.py`):

- binary-attribute sets (faces / CelebA):                 `(x, c)`   x (3, H, W) float in [-1, 1], c (K,) float32 0/1
- domain sets (expressions / RaFD, animals / AFHQ, faces_gender / CelebA-HQ): `(x, y)` y int64
- joint CelebA + RaFD (`JointLoader`) batches:            `(dataset_index, x, y)`, y that dataset's own labels
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from stargan_lib.data.base import (AFHQ_DOMAINS, CELEBA_ATTRS, CELEBA_HQ_DOMAINS, RAFD_EXPRESSIONS, ImageSet,
                                   to_tensor_image)
from stargan_lib.data.real import CelebADataset, FolderDataset, RealImageDataset, afhq, celeba_hq, rafd
from stargan_lib.errors import ConfigError, DataError
from stargan_lib.threads import loader_worker_init

# --------------------------------------------------------------------------------------------
# In-memory sets
# --------------------------------------------------------------------------------------------


class ImageSetDataset(Dataset):
    """A synthetic (or materialised) `ImageSet` as a torch Dataset: items `(x, c)` or `(x, y)`.

    flip: random horizontal flip with probability 0.5 (the v1 paper's training augmentation).
    """

    def __init__(self, imageset: ImageSet, flip: bool = False):
        if imageset.label_kind not in ("binary", "domain"):
            raise DataError(f"ImageSet {imageset.name!r} has label_kind {imageset.label_kind!r}; "
                            "expected 'binary' or 'domain'")
        if imageset.images.ndim != 4 or imageset.images.shape[-1] != 3 or imageset.images.dtype != np.uint8:
            raise DataError(f"ImageSet {imageset.name!r} images have shape {imageset.images.shape} and dtype "
                            f"{imageset.images.dtype}; expected (N, H, W, 3) uint8")
        if len(imageset.labels) != len(imageset.images):
            raise DataError(f"ImageSet {imageset.name!r} has {len(imageset.images)} images but "
                            f"{len(imageset.labels)} labels")
        self.imageset = imageset
        self.flip = flip
        self.labels = imageset.labels
        self.label_names = list(imageset.label_names)
        self.label_kind = imageset.label_kind
        self.root = f"<synthetic {imageset.name}/{imageset.split}>"

    def __len__(self) -> int:
        return len(self.imageset)

    @property
    def n_labels(self) -> int:
        return len(self.label_names)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.imageset.images[index]                                   # (H, W, 3) uint8
        if self.flip and float(torch.rand(())) < 0.5:
            img = img[:, ::-1]
        x = to_tensor_image(img)                                            # (3, H, W) in [-1, 1]
        y = self.labels[index]
        label = torch.tensor(y, dtype=torch.float32) if self.label_kind == "binary" else torch.tensor(int(y))
        return x, label


def to_imageset(dataset: Dataset, name: str = "real", split: str = "train", limit: int | None = None,
                progress: bool = False) -> ImageSet:
    """Load (the first `limit` items of) a labelled dataset into memory as an `ImageSet` (no augmentation)."""
    from tqdm.auto import tqdm

    if isinstance(dataset, ImageSetDataset):
        return dataset.imageset if limit is None else dataset.imageset.subset(slice(0, limit))
    n = len(dataset) if limit is None else min(limit, len(dataset))
    images, labels = [], []
    flip = getattr(dataset, "flip", False)
    crop_prob = getattr(dataset, "random_crop_prob", 0.0)
    try:
        if flip or crop_prob:
            dataset.flip, dataset.random_crop_prob = False, 0.0
        for i in tqdm(range(n), desc="loading images", disable=not progress):
            x, y = dataset[i]
            images.append(((x.permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy())
            labels.append(y.numpy())
    finally:
        if flip or crop_prob:
            dataset.flip, dataset.random_crop_prob = flip, crop_prob
    kind = getattr(dataset, "label_kind", "binary")
    labels_arr = np.stack(labels).astype(np.float32 if kind == "binary" else np.int64)
    return ImageSet(name, split, np.stack(images), labels_arr, list(dataset.label_names), kind,
                    params={"root": str(getattr(dataset, "root", ""))})


# --------------------------------------------------------------------------------------------
# Images grouped by domain (the StarGAN v2 protocol, the ablation's grids, the notebooks' sources)
# --------------------------------------------------------------------------------------------

SYNTHETIC_DOMAIN_SETS = ("animals", "faces_gender")     # synthetic stand-ins with domain labels
REAL_DOMAIN_SETS = ("afhq", "celeba_hq")                # the real datasets they stand for


def domain_groups(labels: Any, n_domains: int) -> list[np.ndarray]:
    """The indices of the images of each domain 0 .. n_domains - 1, in order: the one grouping by domain
    that the protocol, the ablation's grids, the notebooks' sources and the explorers share.

    Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb`.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DataError(f"grouping by domain needs domain labels (one int per image), got labels of shape "
                        f"{labels.shape}; use a domain dataset (expressions, animals, faces_gender)")
    return [np.flatnonzero(labels == k) for k in range(int(n_domains))]


def domain_indices(labels: Any, n_domains: int, per_domain: int | None = None, last: bool = False) -> np.ndarray:
    """Indices of the first (or, with `last`, the last) `per_domain` images of each of `n_domains`
    domains, domain after domain (all of them when `per_domain` is None).

    Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` (its fixed evaluation and display sources).
    """
    groups = domain_groups(labels, n_domains)
    if per_domain is not None:
        groups = [g[max(0, len(g) - per_domain):] if last else g[:per_domain] for g in groups]
    return np.concatenate(groups).astype(np.int64) if groups else np.zeros(0, np.int64)


def pair_indices(labels: Any, label_names: Sequence[str], label_kind: str, domain: str, other: str) -> np.ndarray:
    """Indices of the images of `domain` in a two-domain pair (`domain`, `other`), as CycleGAN splits one
    labelled set: for binary attributes, those with `domain` on and `other` off (so the two domains do not
    overlap); for one-hot labels, those of class `domain`.

    Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """
    names = list(label_names)
    for d in (domain, other):
        if d not in names:
            raise ConfigError(f"domain {d!r} is not a label of this dataset; choose domain_a/domain_b from {names}")
    labels = np.asarray(labels)
    if label_kind == "binary":
        return np.flatnonzero((labels[:, names.index(domain)] > 0.5) & (labels[:, names.index(other)] < 0.5))
    return np.flatnonzero(labels == names.index(domain))


def fixed_batch(dataset: Dataset, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` images and labels of `dataset` (a torch Dataset of (x, y), or a `Subset` of one), without
    its random flip: the fixed inputs of sample grids. Introduced in `notebooks/01_cyclegan_baseline.ipynb`."""
    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    flip = getattr(base, "flip", False)
    try:
        if flip:
            base.flip = False
        items = [dataset[i] for i in range(min(n, len(dataset)))]
    finally:
        if flip:
            base.flip = flip
    return torch.stack([x for x, _ in items]), torch.stack([torch.as_tensor(y) for _, y in items])


def domain_arrays(data: Any, split: str = "train", progress: bool = False) -> tuple[list[str], list[np.ndarray], str]:
    """(domain names, per-domain uint8 (N, H, W, 3) image arrays, dataset name) of a domain-labelled set.

    `data`: an `ImageSet` with domain labels, a torch Dataset yielding (x, y) (loaded into memory
    with `to_imageset`) or a dict {domain name: uint8 (N, H, W, 3) images}; `split` only names the
    set in error messages. Introduced in `notebooks/06_ablation_table.ipynb` (the evaluation protocol).
    """
    if isinstance(data, dict):
        names = list(data)
        arrays = [np.asarray(v.images if isinstance(v, ImageSet) else v) for v in data.values()]
        for name, arr in zip(names, arrays):
            if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
                raise DataError(f"{split} images of domain {name!r}: expected uint8 (N, H, W, 3), got "
                                f"{arr.dtype} {arr.shape}")
        return names, arrays, "custom"
    if not isinstance(data, ImageSet):
        if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
            raise DataError(f"the {split} data must be an ImageSet, a torch Dataset with domain labels or a dict "
                            f"{{domain: uint8 images}}, got {type(data).__name__}")
        data = to_imageset(data, name=str(getattr(data, "root", "dataset")), split=split, progress=progress)
    if data.label_kind != "domain":
        raise DataError(f"images grouped by domain need domain labels, but {data.name}/{data.split} has "
                        f"{data.label_kind!r} labels; use a domain dataset (animals, faces_gender, AFHQ, CelebA-HQ)")
    groups = domain_groups(data.labels, len(data.label_names))
    return list(data.label_names), [data.images[g] for g in groups], data.name


def domain_train_test(dataset: str, data_dir: str | Path | None, image_size: int, preset: Any = None) -> tuple[Any, Any]:
    """The training and held-out sets of a domain dataset, as the evaluation protocol reads them.

    Synthetic (`SYNTHETIC_DOMAIN_SETS`, no `data_dir`): the preset's "train" and "test" ImageSets at
    `image_size`. Real (`REAL_DOMAIN_SETS`): `data_dir` holds train/ and val/ (or test/), one
    sub-folder per domain in each. Introduced in `notebooks/06_ablation_table.ipynb` (`stargan eval`
    and the ablation's experiment open their data through it).
    """
    if dataset in SYNTHETIC_DOMAIN_SETS:
        from stargan_lib.data.synthetic import make_dataset

        if data_dir is not None:
            raise ConfigError(f"{dataset!r} is synthetic and needs no --data-dir; for real data use "
                              f"{' / '.join(REAL_DOMAIN_SETS)}")
        return (make_dataset(dataset, "train", image_size=image_size, preset=preset),
                make_dataset(dataset, "test", image_size=image_size, preset=preset))
    if dataset in REAL_DOMAIN_SETS:
        if data_dir is None:
            raise ConfigError(f"{dataset!r} is real data: pass --data-dir, the folder holding train/ and val/ "
                              "(one sub-folder per domain in each), e.g. data/afhq")
        root = Path(data_dir)
        test_dir = next((root / s for s in ("val", "test") if (root / s).is_dir()), None)
        if not (root / "train").is_dir() or test_dir is None:
            raise DataError(f"{root} must hold train/ and val/ (or test/) folders, one sub-folder per domain in each "
                            "(the AFHQ / CelebA-HQ layout)")
        return (open_dataset(dataset, data_dir=root / "train", image_size=image_size),
                open_dataset(dataset, data_dir=test_dir, image_size=image_size))
    raise ConfigError(f"unknown evaluation dataset {dataset!r}; choose one of "
                      f"{SYNTHETIC_DOMAIN_SETS + REAL_DOMAIN_SETS} (domain datasets)")


# --------------------------------------------------------------------------------------------
# An endless loader
# --------------------------------------------------------------------------------------------

class InfiniteLoader:
    """Batches from `dataset` forever: `next(loader)` reshuffles at each epoch boundary.

    The order of epoch e depends only on (seed, e), so `state_dict()` / `load_state_dict()` resume a
    run at the same batch (skipping indices, not loading images).
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int = 0, shuffle: bool = True,
                 drop_last: bool = True, num_workers: int = 0, pin_memory: bool = False):
        n = len(dataset)
        if batch_size < 1:
            raise DataError(f"batch_size={batch_size}; it must be at least 1")
        if n == 0 or (drop_last and n < batch_size):
            raise DataError(f"the dataset at {getattr(dataset, 'root', '?')} has {n} items, fewer than one batch of "
                            f"{batch_size}; lower the batch size or add data")
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.epoch = 0
        self.step_in_epoch = 0
        self._it: Iterator | None = None

    def _generator(self, epoch: int) -> torch.Generator:
        return torch.Generator().manual_seed(int(self.seed) * 1_000_003 + epoch)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """The index batches of epoch `epoch` (a pure function of seed and epoch)."""
        n, g = len(self.dataset), self._generator(epoch)
        if self.shuffle:
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        order = order.tolist()
        stop = n - n % self.batch_size if self.drop_last else n
        return [order[i:i + self.batch_size] for i in range(0, stop, self.batch_size)]

    def __len__(self) -> int:
        """Batches per epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _start_epoch(self) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)
        batches = self.epoch_batches(self.epoch)[self.step_in_epoch:]
        loader = DataLoader(self.dataset, batch_sampler=batches, num_workers=self.num_workers,
                            pin_memory=self.pin_memory, generator=self._generator(self.epoch + 7919),
                            worker_init_fn=loader_worker_init)
        self._it = iter(loader)

    def __iter__(self) -> "InfiniteLoader":
        return self

    def __next__(self):
        if self._it is None:
            self._start_epoch()
        try:
            batch = next(self._it)
        except StopIteration:
            self.epoch, self.step_in_epoch = self.epoch + 1, 0
            self._start_epoch()
            batch = next(self._it)
        self.step_in_epoch += 1
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"seed": int(self.seed), "epoch": self.epoch, "step_in_epoch": self.step_in_epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if int(state["seed"]) != int(self.seed):
            raise DataError(f"loader state was saved with seed {state['seed']} but this loader has seed {self.seed}; "
                            "resume with the run's original seed")
        self.epoch, self.step_in_epoch = int(state["epoch"]), int(state["step_in_epoch"])
        self._it = None


# --------------------------------------------------------------------------------------------
# StarGAN v1 joint training: the mask vector (Sec. 3.2, Eq. 7)
# --------------------------------------------------------------------------------------------

def make_unified_label(c: torch.Tensor, dataset_index: int, dims: Sequence[int] = (5, 8)) -> torch.Tensor:
    """The unified label c~ = [c1, ..., cn, m] of the v1 paper's Eq. (7).

    c: the known label of dataset `dataset_index`: (B, dims[i]) float (binary attributes or one-hot)
       or (B,) integer class indices, turned into one-hot.
    Returns (B, sum(dims) + n) float: the known label in its slot, zeros for the other datasets'
    (unknown) labels, then m, the n-dimensional one-hot mask of which dataset is known.
    For CelebA (5 attributes) + RaFD (8 expressions): 5 + 8 + 2 = 15 numbers.
    """
    dims = [int(d) for d in dims]
    n = len(dims)
    if not 0 <= dataset_index < n:
        raise DataError(f"dataset_index={dataset_index} but there are {n} datasets (dims={dims}); use 0..{n - 1}")
    d = dims[dataset_index]
    if c.dim() == 1:
        if c.dtype.is_floating_point:
            raise DataError(f"a 1-d label must hold integer class indices, got dtype {c.dtype}; pass (B, {d}) "
                            "for binary attributes")
        if len(c) and (int(c.min()) < 0 or int(c.max()) >= d):
            raise DataError(f"class index out of range for dataset {dataset_index} with {d} classes: "
                            f"min {int(c.min())}, max {int(c.max())}")
        c = torch.nn.functional.one_hot(c.long(), d)
    if c.dim() != 2 or c.shape[1] != d:
        raise DataError(f"label of dataset {dataset_index} has shape {tuple(c.shape)}; expected (B, {d}) or (B,)")
    B = c.shape[0]
    parts = [torch.zeros(B, k, device=c.device) for k in dims]
    parts[dataset_index] = c.float()                                       # the known label c_i
    m = torch.zeros(B, n, device=c.device)
    m[:, dataset_index] = 1.0                                              # mask vector m (one-hot)
    return torch.cat(parts + [m], dim=1)                                   # (B, sum(dims) + n)


def split_unified_label(c_tilde: torch.Tensor, dims: Sequence[int] = (5, 8)) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Inverse of `make_unified_label`: ([c1, ..., cn], m)."""
    dims = [int(d) for d in dims]
    if c_tilde.dim() != 2 or c_tilde.shape[1] != sum(dims) + len(dims):
        raise DataError(f"unified label has shape {tuple(c_tilde.shape)}; expected (B, {sum(dims) + len(dims)}) "
                        f"for dims={dims}")
    parts = list(torch.split(c_tilde, dims + [len(dims)], dim=1))
    return parts[:-1], parts[-1]


class JointLoader:
    """Alternates batches of several datasets (CelebA, RaFD): yields (i, x, y), the dataset index, its
    images and its own labels (binary attributes, or class indices).

    Step 0 is a batch of dataset 0, step 1 of dataset 1, and so on (the v1 paper's training
    alternates between CelebA and RaFD). Each dataset has its own `InfiniteLoader`, seeded
    `seed + i`. dims defaults to each dataset's number of labels (5 and 8 for the paper's setting);
    the unified label c̃ = [c1, c2, m] is built once, where G reads it (`make_unified_label`, through
    `models.stargan_v1.generator_label`).
    """

    def __init__(self, datasets: Sequence[Dataset], batch_size: int, seed: int = 0,
                 dims: Sequence[int] | None = None, num_workers: int = 0):
        if len(datasets) < 2:
            raise DataError(f"joint training needs at least two datasets, got {len(datasets)}")
        self.dims = [len(ds.label_names) for ds in datasets] if dims is None else [int(d) for d in dims]
        for i, (ds, d) in enumerate(zip(datasets, self.dims)):
            if len(ds.label_names) != d:
                raise DataError(f"dataset {i} ({getattr(ds, 'root', '?')}) has {len(ds.label_names)} labels but "
                                f"dims[{i}] = {d}; make them agree")
        self.datasets = list(datasets)
        self.loaders = [InfiniteLoader(ds, batch_size, seed=seed + i, num_workers=num_workers)
                        for i, ds in enumerate(datasets)]
        self.step = 0
        self._shape: tuple[int, ...] | None = None

    @property
    def label_dim(self) -> int:
        """Length of c_tilde: sum(dims) + number of datasets (15 for CelebA 5 + RaFD 8)."""
        return sum(self.dims) + len(self.dims)

    def __iter__(self) -> "JointLoader":
        return self

    def __next__(self) -> tuple[int, torch.Tensor, torch.Tensor]:
        i = self.step % len(self.loaders)
        x, c = next(self.loaders[i])
        if self._shape is None:
            self._shape = tuple(x.shape[1:])
        elif tuple(x.shape[1:]) != self._shape:
            raise DataError(f"dataset {i} ({getattr(self.datasets[i], 'root', '?')}) gives images of shape "
                            f"{tuple(x.shape[1:])} but the other dataset {self._shape}; load both with the "
                            "same image_size")
        self.step += 1
        return i, x, c

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "loaders": [ld.state_dict() for ld in self.loaders]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        for ld, st in zip(self.loaders, state["loaders"]):
            ld.load_state_dict(st)


# --------------------------------------------------------------------------------------------
# One entry point: a synthetic set, or the matching real dataset when a data folder is given
# --------------------------------------------------------------------------------------------

# synthetic name -> (real name, label names, paper image size)
DATASETS: dict[str, tuple[str, list[str], int]] = {
    "faces": ("celeba", CELEBA_ATTRS, 128),
    "expressions": ("rafd", RAFD_EXPRESSIONS, 128),
    "animals": ("afhq", AFHQ_DOMAINS, 256),
    "faces_gender": ("celeba_hq", CELEBA_HQ_DOMAINS, 256),
}
REAL_TO_SYNTHETIC = {real: syn for syn, (real, _, _) in DATASETS.items()}


HELDOUT_DIR = {"rafd": ("test", "val"), "afhq": ("val", "test"), "celeba_hq": ("val", "test")}


def _heldout_sibling(data_dir: Path, split: str, real: str) -> Path:
    """`.../train` -> `.../val` (or `.../test`) when the held-out split is asked for."""
    if split == "train" or data_dir.name != "train":
        return data_dir
    for name in HELDOUT_DIR[real]:
        if (data_dir.parent / name).is_dir():
            return data_dir.parent / name
    warnings.warn(f"split {split!r} asked for but {data_dir.parent} has no held-out folder "
                  f"({' or '.join(HELDOUT_DIR[real])}/); using the training images in {data_dir}", stacklevel=3)
    return data_dir


def open_dataset(name: str, split: str = "train", data_dir: str | Path | None = None, image_size: int | None = None,
                 flip: bool = False, preset: Any = None, n: int | None = None, seed: int = 0,
                 on_bad: str | None = None, attrs: Sequence[str] | None = None, **kw) -> Dataset:
    """The torch Dataset for `name`: synthetic when `data_dir` is None, else the real dataset it stands for.

    name: a synthetic name (faces, expressions, animals, faces_gender) or its real counterpart
        (celeba, rafd, afhq, celeba_hq; these need `data_dir`).
    data_dir: for CelebA the folder with `img_align_celeba/` and `list_attr_celeba.txt` (split
        "train"/"test" picks the 2,000-image test split); for the folder datasets the split folder
        itself (`data/afhq/train`). There, split "test" with a folder named `train` reads its
        held-out sibling (`val/` for AFHQ and CelebA-HQ, `test/` for RaFD), so one `--data-dir`
        serves training and evaluation; any other folder is read as given.
    image_size: default the preset's size (synthetic) or the paper's (real: 128 for v1 data, 256 for v2).
    n: synthetic images; default the preset's `train_size(name)` for "train" (what the models train
        on), its n_test for "test".
    on_bad: real data only: "skip" (warn and leave unreadable images out) or "error"; None: the policy of
        the enclosing `bad_image_policy` (the command line's `--on-bad`), "skip" outside one.
    """
    syn = REAL_TO_SYNTHETIC.get(name, name)
    if syn not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)} (synthetic) or "
                        f"{sorted(REAL_TO_SYNTHETIC)} (real, with --data-dir)")
    real, _, paper_size = DATASETS[syn]
    if data_dir is None:
        if syn != name:
            raise DataError(f"dataset {name!r} is real data: pass its folder as --data-dir (see the README), or use "
                            f"the synthetic stand-in {syn!r}")
        from stargan_lib.data.synthetic import make_dataset
        from stargan_lib.presets import Preset, get_preset

        if n is None and split == "train":
            n = (preset if isinstance(preset, Preset) else get_preset(preset)).train_size(syn)          # the papers' size ratios (Preset.train_sizes)
        imageset = make_dataset(syn, split=split, n=n, image_size=image_size, seed=seed, preset=preset)
        return ImageSetDataset(imageset, flip=flip)
    size = paper_size if image_size is None else image_size
    data_dir = Path(data_dir).expanduser()
    if real != "celeba":
        data_dir = _heldout_sibling(data_dir, split, real)
    if real == "celeba":
        return CelebADataset(data_dir, attrs=CELEBA_ATTRS if attrs is None else attrs, split=split, image_size=size,
                             flip=flip, on_bad=on_bad, **kw)
    loader = {"rafd": rafd, "afhq": afhq, "celeba_hq": celeba_hq}[real]
    return loader(data_dir, image_size=size, flip=flip, on_bad=on_bad, **kw)


__all__ = [
    "ImageSetDataset", "InfiniteLoader", "JointLoader", "make_unified_label", "split_unified_label",
    "domain_groups", "domain_indices", "pair_indices", "fixed_batch", "domain_arrays", "domain_train_test",
    "open_dataset", "to_imageset",
    "CelebADataset", "FolderDataset", "RealImageDataset", "DATASETS",
]
