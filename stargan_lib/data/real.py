"""Loaders for the real datasets of the papers: CelebA, RaFD, CelebA-HQ and AFHQ.

Introduced in `notebooks/00_setup_and_data.ipynb` (the real layouts, shown on sample photos);
used by `notebooks/02_stargan_v1.ipynb`, `03_mask_vector_joint_training.ipynb` and the StarGAN v2
notebooks when a `--data-dir` is given.

Two layouts exist on disk:

- CelebA: `<root>/img_align_celeba/<file>` + `<root>/list_attr_celeba.txt`
  (line 1: number of images; line 2: the 40 attribute names; then `<file> v1 .. v40` with 1 / -1).
  Items are `(x, c)`: x float (3, H, W) in [-1, 1], c float32 multi-hot of the selected attributes.
- Domain folders: `<split>/<domain>/<file>` (RaFD `train|test/<expression>/`, CelebA-HQ and AFHQ
  `train|val/<domain>/`). The data root given to a loader is the split folder itself
  (`.../afhq/train`), as in the official StarGAN code. Domains are the sub-folder names sorted
  alphabetically. Items are `(x, y)`: y int64 domain index.

Every bad input raises a `DataError` naming the path and the fix (or, for an unreadable image file,
a broken or looping symbolic link, warns and skips it when `on_bad="skip"`; the command line's
`--on-bad skip|error` sets the same policy through `bad_image_policy`). Grayscale, palette, RGBA and
16-bit images are converted to 8-bit RGB by `to_rgb`, which says in `rgb_conversion` what it does.
"""

from __future__ import annotations

import difflib
import json
import os
import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

from stargan_lib.data.augment import random_resized_crop_box
from stargan_lib.data.base import CELEBA_ATTRS, to_tensor_image
from stargan_lib.data.image_files import (BadImageWarning, OnBad, check_image_file, check_on_bad, file_problem,
                                          is_image_name, load_rgb, on_bad_hint, resolve_on_bad)
from stargan_lib.errors import DataError

# The 40 attribute columns of `list_attr_celeba.txt`, in the file's order.
CELEBA_ALL_ATTRS = [
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby",
    "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male",
    "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair",
    "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
]
CELEBA_IMAGE_DIR = "img_align_celeba"
# The official StarGAN v1 download script unpacks the same images into `images/` instead.
CELEBA_IMAGE_DIR_ALT = "images"
CELEBA_ATTR_FILE = "list_attr_celeba.txt"
# The official StarGAN code shuffles the attribute lines with Python's `random.seed(1234)` and takes
# the first lines of the shuffled order as the test set; the paper says 2,000 images.
CELEBA_SPLIT_SEED = 1234
CELEBA_TEST_SIZE = 2000

# Folder names that mean "a split", never "a domain".
SPLIT_DIR_NAMES = ("train", "test", "val", "valid", "validation")

class RealImageDataset(Dataset):
    """Images on disk with labels in memory; the common part of the CelebA and folder loaders.

    Attributes used by the rest of the library (the same as an in-memory `ImageSetDataset`):
    `labels` (N, K) float32 / (N,) int64, `label_names`, `label_kind`, `root`, `files`.

    flip: random horizontal flip with probability 0.5 (the v1 paper's augmentation, training only).
    random_crop_prob: with this probability, a random crop of 80-100 % of the area and aspect ratio
        0.9-1.1 before the resize (the augmentation of the official StarGAN v2 code, which uses 0.5;
        the v2 paper does not describe it; see `stargan_lib.data.augment`). 0 disables it.
    """

    def __init__(self, root: Path, files: list[Path], labels: np.ndarray, label_names: list[str],
                 label_kind: str, image_size: int | None, crop_size: int | None, flip: bool,
                 random_crop_prob: float, on_bad: OnBad):
        self.root = Path(root)
        self.files = files
        self.labels = labels
        self.label_names = list(label_names)
        self.label_kind = label_kind
        self.image_size = image_size
        self.crop_size = crop_size
        self.flip = flip
        self.random_crop_prob = random_crop_prob
        self.on_bad = on_bad
        self._bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    @property
    def n_labels(self) -> int:
        return len(self.label_names)

    def label(self, index: int) -> torch.Tensor:
        y = self.labels[index]
        return torch.tensor(y, dtype=torch.float32) if self.label_kind == "binary" else torch.tensor(int(y))

    def _random_resized_crop(self, img: Image.Image) -> Image.Image:
        left, top, w, h = random_resized_crop_box(*img.size)
        return img.crop((left, top, left + w, top + h))

    def load_image(self, index: int) -> Image.Image:
        """The preprocessed PIL image of item `index` (crop, resize, augmentation), or DataError."""
        path = self.files[index]
        try:
            img = load_rgb(path, None, self.crop_size)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            problem = file_problem(path)
            reason = problem if problem is not None else f"{type(exc).__name__}: {exc}"
            raise DataError(f"cannot read image {path}: {reason}. The file is corrupt or not an image; delete or "
                            "re-download it") from exc
        if self.random_crop_prob > 0 and float(torch.rand(())) < self.random_crop_prob:
            img = self._random_resized_crop(img)
        if self.image_size is not None and img.size != (self.image_size, self.image_size):
            img = img.resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
        if self.flip and float(torch.rand(())) < 0.5:
            img = ImageOps.mirror(img)
        return img

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.files)
        same_domain = self.label_kind == "domain"
        for attempt in range(n):
            i = (index + attempt) % n
            # A substitute for an unreadable file comes from the same domain (reference pairs rely on it).
            if i in self._bad or (same_domain and self.labels[i] != self.labels[index]):
                continue
            try:
                img = self.load_image(i)
            except DataError as exc:
                if self.on_bad == "error":
                    raise
                # Header was fine at index time, pixel data is not (e.g. a truncated download).
                self._bad.add(i)
                warnings.warn(f"{exc}; skipping it (the next readable image is used instead; "
                              f"pass {on_bad_hint('error')} to stop instead)", BadImageWarning, stacklevel=2)
                continue
            return to_tensor_image(np.array(img)), self.label(i)
        where = f"domain {self.label_names[int(self.labels[index])]!r} of " if same_domain else ""
        raise DataError(f"no readable image left in {where}{self.root}; re-download the dataset")


def _screen_files(files: list[Path], root: Path, on_bad: OnBad, check_files: bool | str,
                  progress: bool = False) -> list[int]:
    """Indices of the files that exist and (if `check_files`) open as images; warn or raise on the rest.

    check_files: False (existence only), True (headers) or "decode" (every pixel; see `check_image_file`).
    """
    check_on_bad(on_bad)
    if check_files not in (False, True, "decode"):
        raise DataError(f"check_files={check_files!r} is not valid; use False, True (headers) or 'decode'")
    from tqdm.auto import tqdm

    keep, bad = [], []
    for i, path in enumerate(tqdm(files, desc=f"checking images in {root.name}", disable=not progress)):
        if not is_image_name(path.name):
            reason = "not an image file (unknown extension)"
        elif check_files:
            reason = check_image_file(path, decode=check_files == "decode")
        else:
            reason = file_problem(path)
        if reason is None:
            keep.append(i)
            continue
        if on_bad == "error":
            raise DataError(f"bad image file {path}: {reason}. Delete or re-download it, or pass "
                            f"{on_bad_hint('skip')} to leave it out with a warning")
        bad.append(f"{path} ({reason})")
    if bad:
        shown = "; ".join(bad[:5]) + (f"; ... and {len(bad) - 5} more" if len(bad) > 5 else "")
        warnings.warn(f"skipped {len(bad)} unreadable file(s) under {root}: {shown}. Delete or re-download them, "
                      f"or pass {on_bad_hint('error')} to stop instead", BadImageWarning, stacklevel=3)
    return keep


# --------------------------------------------------------------------------------------------
# CelebA
# --------------------------------------------------------------------------------------------

@dataclass
class CelebAAttributes:
    """The parsed `list_attr_celeba.txt`: names (the 40 columns), files, values (N, 40) int8 of +-1."""

    path: Path
    names: list[str]
    filenames: list[str]
    values: np.ndarray = field(repr=False)

    @property
    def duplicates(self) -> dict[str, list[int]]:
        """{file name: its line numbers in the file (1-based)} for every image listed more than once."""
        lines: dict[str, list[int]] = {}
        for k, name in enumerate(self.filenames):
            lines.setdefault(name, []).append(k + 3)
        return {name: ls for name, ls in lines.items() if len(ls) > 1}

    def duplicate_report(self, limit: int = 5) -> str:
        """The duplicated images in words ("" when none); a repeat with other attributes says so."""
        dups, v = self.duplicates, self.values
        parts = [f"{name} on lines {', '.join(map(str, ls))}" + (" with different attributes" if (
            v[[i - 3 for i in ls]] != v[ls[0] - 3]).any() else "") for name, ls in list(dups.items())[:limit]]
        return "; ".join(parts) + (f"; ... and {len(dups) - limit} more" if len(dups) > limit else "")

    def missing_files(self, image_dir: Path) -> list[str]:
        """The listed file names that are not in `image_dir` (in file order, each once)."""
        present = set(os.listdir(image_dir)) if image_dir.is_dir() else set()
        return list(dict.fromkeys(n for n in self.filenames if n not in present))

    def select(self, attrs: Sequence[str]) -> np.ndarray:
        """(N, len(attrs)) float32 0/1 for the attributes named `attrs` (unknown names: DataError)."""
        cols = [attribute_index(self.names, a, self.path) for a in attrs]
        return (self.values[:, cols] == 1).astype(np.float32)


def attribute_index(names: Sequence[str], attr: str, path: Path | str) -> int:
    """Column of attribute `attr`, or a DataError listing the valid names with the closest match."""
    try:
        return list(names).index(attr)
    except ValueError:
        close = difflib.get_close_matches(attr, names, n=3, cutoff=0.5)
        if not close:
            lower = {n.lower(): n for n in names}
            close = [lower[attr.lower()]] if attr.lower() in lower else []
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise DataError(f"unknown attribute {attr!r}: {path} has no such column.{hint} "
                        f"Valid attributes: {', '.join(names)}") from None


def parse_celeba_attributes(path: str | Path) -> CelebAAttributes:
    """Read and validate `list_attr_celeba.txt`; errors name the line number and what to fix."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"attribute file {path} not found. Download {CELEBA_ATTR_FILE} from the CelebA site "
                        f"(mmlab.ie.cuhk.edu.hk/projects/CelebA.html, folder 'Anno') and put it next to "
                        f"{CELEBA_IMAGE_DIR}/ in {path.parent}")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"attribute file {path} is not a text file ({exc}); re-download {CELEBA_ATTR_FILE}") from exc
    while lines and not lines[-1].strip():
        lines.pop()  # a blank last line is harmless; blank lines elsewhere are reported below
    fix = f"re-download {CELEBA_ATTR_FILE} or repair the file"
    if len(lines) < 2:
        raise DataError(f"attribute file {path} has {len(lines)} line(s); expected the image count on line 1, "
                        f"the attribute names on line 2, then one line per image; {fix}")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise DataError(f"{path} line 1 should be the number of images, got {lines[0][:60]!r}; {fix}") from None
    names = lines[1].split()
    if not names or any(n.lstrip("-").isdigit() for n in names):
        raise DataError(f"{path} line 2 should list the attribute names (5_o_Clock_Shadow ... Young), "
                        f"got {lines[1][:80]!r}; {fix}")
    rows = lines[2:]
    if len(rows) != count:
        raise DataError(f"{path} says {count} images on line 1 but lists {len(rows)} (lines 3-{len(lines)}); "
                        f"the file is truncated or edited: {fix}")
    filenames: list[str] = []
    chunks: list[str] = []
    valid = {"1", "-1"}
    for k, line in enumerate(rows):
        parts = line.split()
        lineno = k + 3
        if len(parts) != len(names) + 1:
            raise DataError(f"{path} line {lineno}: expected a file name and {len(names)} values, got "
                            f"{len(parts)} column(s): {line[:80]!r}; {fix}")
        if not valid.issuperset(parts[1:]):
            bad = next(v for v in parts[1:] if v not in valid)
            raise DataError(f"{path} line {lineno}: attribute values must be 1 or -1, found {bad!r} "
                            f"(file {parts[0]}); {fix}")
        filenames.append(parts[0])
        chunks.append(" ".join(parts[1:]))
    values = np.fromstring(" ".join(chunks), dtype=np.int8, sep=" ").reshape(len(rows), len(names))
    return CelebAAttributes(path, names, filenames, values)


def celeba_split_order(n: int, seed: int = CELEBA_SPLIT_SEED) -> list[int]:
    """The order of the attribute lines after the official code's shuffle (`random.seed(seed)`).

    Python's shuffle depends only on the list length and the seed, so shuffling line indices gives
    the same permutation as shuffling the lines themselves.
    """
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def celeba_test_indices(n: int, test_size: int = CELEBA_TEST_SIZE, seed: int = CELEBA_SPLIT_SEED) -> list[int]:
    """Line indices (0-based, after the two header lines) of the test split."""
    return celeba_split_order(n, seed)[:test_size]


def celeba_image_dir(root: Path) -> Path:
    """`<root>/img_align_celeba`, or `<root>/images` (the official StarGAN v1 download) when only that exists."""
    main, alt = root / CELEBA_IMAGE_DIR, root / CELEBA_IMAGE_DIR_ALT
    return alt if not main.is_dir() and alt.is_dir() else main


def _celeba_root_hint(root: Path) -> str:
    """Why `root` is not a CelebA root, in words a student can act on."""
    if root.name in (CELEBA_IMAGE_DIR, CELEBA_IMAGE_DIR_ALT) and (root.parent / CELEBA_ATTR_FILE).is_file():
        return f"{root} is the image folder itself; point --data-dir at its parent {root.parent}"
    if (root / CELEBA_IMAGE_DIR / CELEBA_IMAGE_DIR).is_dir():
        return (f"the images are one level too deep ({root / CELEBA_IMAGE_DIR / CELEBA_IMAGE_DIR}, a zip "
                f"extracted into a folder of the same name); move them up to {root / CELEBA_IMAGE_DIR}")
    return ""


def _exported_test_size(root: Path) -> int | None:
    """The held-out size a `stargan data export` recorded next to its CelebA layout, if any."""
    manifest = root / "export.json"
    if not manifest.is_file():
        return None
    try:
        value = json.loads(manifest.read_text()).get("celeba_test_size")
    except (ValueError, OSError):
        return None
    return int(value) if value else None


class CelebADataset(RealImageDataset):
    """CelebA as in the StarGAN v1 paper (Sec. 4.2): 178 x 178 centre crop, resize, 2,000-image test split.

    root: the folder holding `img_align_celeba/` and `list_attr_celeba.txt` (an `images/` folder
        instead of `img_align_celeba/`, as the official StarGAN v1 download script makes, works too).
    attrs: attribute names to select (default the paper's five), in the order of the label vector.
    split: "train", "test" or "all". The attribute lines are shuffled with seed 1234 and the first
        `test_size` lines are the test split, the rest the training split (both in shuffled order);
        "all" is every line in file order.
    test_size: default 2,000 (the paper), or, for a synthetic set written by `stargan data export`,
        the held-out size recorded in its `export.json`.
    on_bad: "skip" (warn and leave unreadable files out) or "error"; None: the policy of the enclosing
        `bad_image_policy` (the command line's `--on-bad`), "skip" outside one.
    check_files: True checks every image's header up front, "decode" decodes every image (slow,
        catches truncated pixel data), False checks only that the files exist.
    allow_duplicates: True keeps an image listed twice (`data info --check`); else a DataError names the lines.

    Deviation: the official StarGAN code keeps lines with `(i + 1) < 2000`, i.e. 1,999 test images;
    we take the 2,000 the paper states (`test_size=1999` reproduces the official split exactly).
    """

    def __init__(self, root: str | Path, attrs: Sequence[str] = tuple(CELEBA_ATTRS), split: str = "train",
                 image_size: int | None = 128, crop_size: int | None = 178, flip: bool = False,
                 test_size: int | None = None, on_bad: OnBad | None = None, attr_file: str | Path | None = None,
                 check_files: bool | str = True, progress: bool = False, allow_duplicates: bool = False):
        on_bad = resolve_on_bad(on_bad)
        root = Path(root).expanduser()
        if not root.is_dir():
            raise DataError(f"CelebA folder {root} does not exist; pass the folder that holds "
                            f"{CELEBA_IMAGE_DIR}/ and {CELEBA_ATTR_FILE} as --data-dir")
        if split not in ("train", "test", "all"):
            raise DataError(f"split={split!r} is not valid for CelebA; use 'train', 'test' or 'all'")
        attr_path = Path(attr_file) if attr_file is not None else root / CELEBA_ATTR_FILE
        image_dir = celeba_image_dir(root)
        hint = _celeba_root_hint(root)
        if hint and not attr_path.is_file():
            raise DataError(f"{attr_path} not found: {hint}")
        table = parse_celeba_attributes(attr_path)
        if table.duplicates and not allow_duplicates:
            raise DataError(f"{attr_path} lists {len(table.duplicates)} image(s) more than once: "
                            f"{table.duplicate_report()}. An image must be listed once (a repeat would be trained "
                            "with both labels, and could land in both the training and the test split); delete the "
                            f"wrong lines and update the count on line 1, or re-download {CELEBA_ATTR_FILE}")
        attrs = list(attrs)
        if not attrs:
            raise DataError("attrs is empty; select at least one CelebA attribute, e.g. "
                            f"{', '.join(CELEBA_ATTRS)}")
        labels = table.select(attrs)
        if not image_dir.is_dir():
            raise DataError(f"image folder {image_dir} not found"
                            + (f": {hint}" if hint else f"; unzip img_align_celeba.zip into {root}"))
        if (image_dir / CELEBA_IMAGE_DIR).is_dir() and not any(is_image_name(p) for p in os.listdir(image_dir)):
            raise DataError(f"{image_dir} holds no images: {_celeba_root_hint(root)}")

        n = len(table.filenames)
        if test_size is None:
            test_size = _exported_test_size(root) or CELEBA_TEST_SIZE
        if split != "all" and not 0 < test_size < n:
            raise DataError(f"{attr_path} lists {n} images, too few for a {test_size}-image test split; pass "
                            f"test_size between 1 and {n - 1}")
        order = celeba_split_order(n)
        chosen = list(range(n)) if split == "all" else (order[:test_size] if split == "test" else order[test_size:])
        files = [image_dir / table.filenames[i] for i in chosen]
        keep = _screen_files(files, image_dir, on_bad, check_files, progress)
        if not keep:
            raise DataError(f"none of the {len(files)} images listed in {attr_path} for split {split!r} could be "
                            f"read from {image_dir}; check that the images are unzipped there")
        chosen = [chosen[k] for k in keep]
        super().__init__(root, [files[k] for k in keep], labels[chosen], attrs, "binary", image_size, crop_size,
                         flip, 0.0, on_bad)
        self.attr_path = attr_path
        self.split = split
        self.line_indices = np.asarray(chosen, dtype=np.int64)  # rows of the attribute file, 0-based


# --------------------------------------------------------------------------------------------
# Domain folders: RaFD, CelebA-HQ, AFHQ
# --------------------------------------------------------------------------------------------

def _visible(entries: Sequence[os.DirEntry]) -> list[os.DirEntry]:
    # Hidden entries (.DS_Store, macOS "._x.jpg" resource forks, .ipynb_checkpoints) are never data.
    return [e for e in entries if not e.name.startswith(".")]


def _is_dir(entry: os.DirEntry) -> bool:
    # A symbolic link loop makes DirEntry.is_dir raise OSError (ELOOP); such an entry is no folder.
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _split_dirs(root: Path) -> list[str]:
    return sorted(e.name for e in _visible(list(os.scandir(root)))
                  if _is_dir(e) and e.name.lower() in SPLIT_DIR_NAMES)


def _image_folders(parent: Path) -> list[str]:
    """Sorted names of the visible sub-folders of `parent` that hold image files directly."""
    try:
        entries = _visible(list(os.scandir(parent)))
    except OSError:
        return []
    return sorted(e.name for e in entries if _is_dir(e) and count_images(Path(e.path)) > 0)


def _celeba_missing_attr_message(root: Path) -> str:
    return (f"{root} holds {CELEBA_IMAGE_DIR}/ (CelebA's images) but no {CELEBA_ATTR_FILE}, so it is an incomplete "
            f"CelebA folder, not domain folders: download {CELEBA_ATTR_FILE} from the CelebA site "
            f"(mmlab.ie.cuhk.edu.hk/projects/CelebA.html, folder 'Anno') and put it at {root / CELEBA_ATTR_FILE}; "
            "then load the folder with the CelebA loader (dataset 'celeba' / CelebADataset)")


def list_domain_folders(root: str | Path) -> list[str]:
    """Sorted domain sub-folder names of a split folder, with the layout mistakes turned into errors."""
    root = Path(root).expanduser()
    if not root.is_dir():
        parent_hint = ""
        if root.parent.is_dir():
            splits = _split_dirs(root.parent)
            if splits:
                parent_hint = f" ({root.parent} has {', '.join(splits)})"
        raise DataError(f"data folder {root} does not exist{parent_hint}; point --data-dir at the split folder "
                        "that holds one sub-folder per domain, e.g. data/afhq/train")
    splits = _split_dirs(root)
    if splits:
        raise DataError(f"{root} holds split folders ({', '.join(splits)}), not domain folders: point --data-dir at "
                        f"{root / splits[0] if 'train' not in splits else root / 'train'} (one sub-folder per domain) "
                        f"-- otherwise {' and '.join(repr(s) for s in splits)} would be taken as domains")
    if (root / CELEBA_ATTR_FILE).is_file():
        raise DataError(f"{root} is in the CelebA layout ({CELEBA_ATTR_FILE} + {CELEBA_IMAGE_DIR}/), not domain "
                        "folders; load it with the CelebA loader (dataset 'celeba' / CelebADataset)")
    if (root / CELEBA_IMAGE_DIR).is_dir():
        raise DataError(_celeba_missing_attr_message(root))
    entries = _visible(list(os.scandir(root)))
    domains = sorted(e.name for e in entries if _is_dir(e))
    dangling = [f"{e.path} ({file_problem(Path(e.path))})" for e in entries
                if e.is_symlink() and not _is_dir(e) and not _is_file(e)]
    if dangling:
        warnings.warn(f"{root}: ignored {len(dangling)} symbolic link(s) that lead nowhere: {'; '.join(dangling[:5])}. "
                      "If one of them was meant as a domain folder, fix or replace the link", BadImageWarning,
                      stacklevel=3)
    if not domains:
        loose = [e.name for e in entries if _is_file(e) and is_image_name(e.name)]
        if loose:
            siblings = [d for d in _image_folders(root.parent) if d != root.name]
            if siblings and root.parent != root:
                raise DataError(
                    f"{root} holds {len(loose)} image(s) directly but no domain sub-folders: it looks like one "
                    f"domain folder of {root.parent}, which also holds {', '.join(siblings[:5])}"
                    f"{' ...' if len(siblings) > 5 else ''}. Point --data-dir at {root.parent} (the folder whose "
                    f"sub-folders are the domains: {', '.join(sorted([root.name] + siblings)[:6])})")
            raise DataError(f"{root} holds {len(loose)} image(s) directly but no domain sub-folders. A domain "
                            f"dataset needs one sub-folder per domain: move these images into {root}/<domain>/ "
                            f"(e.g. {root}/cat/) and put each other domain's images in a folder beside it")
        raise DataError(f"no images at all in {root}: expected one sub-folder per domain with images in it "
                        f"(e.g. {root}/cat/*.jpg); check the path or download/unzip the dataset there")
    return domains


class FolderDataset(RealImageDataset):
    """Images in `<root>/<domain>/*`; domains are the sub-folder names in alphabetical order.

    root: the split folder (`data/afhq/train`, `data/RaFD/test`), NOT its parent; the parent of
        `train/` is refused with the fix, since its split folders would otherwise become domains.
    domains: if given, the domain names that must be present (e.g. RAFD_EXPRESSIONS); a
        mismatch is a DataError naming the missing and unexpected folders.
    on_bad, check_files: as for `CelebADataset`. Broken and looping symbolic links among the images
        count as unreadable files.
    """

    def __init__(self, root: str | Path, image_size: int | None = 256, crop_size: int | None = None,
                 flip: bool = False, random_crop_prob: float = 0.0, on_bad: OnBad | None = None,
                 domains: Sequence[str] | None = None, check_files: bool | str = True, progress: bool = False):
        on_bad = resolve_on_bad(on_bad)
        root = Path(root).expanduser()
        found = list_domain_folders(root)
        if domains is not None and sorted(domains) != found:
            missing = sorted(set(domains) - set(found))
            extra = sorted(set(found) - set(domains))
            raise DataError(f"{root} has domain folders {found}, expected {sorted(domains)}"
                            + (f"; missing: {missing}" if missing else "") + (f"; unexpected: {extra}" if extra else "")
                            + f". Rename or add the folders under {root}")
        files: list[Path] = []
        labels: list[int] = []
        for k, name in enumerate(found):
            folder = root / name
            entries = sorted(_visible(list(os.scandir(folder))), key=lambda e: e.name)
            # Everything but sub-folders: files, and broken or looping links (reported by _screen_files).
            subdirs = [e.name for e in entries if _is_dir(e)]
            names = [e.name for e in entries if not _is_dir(e)]
            if not names:
                more = (f" but sub-folders {subdirs[:5]}: is --data-dir one level too high, or was a zip extracted "
                        "into an extra folder?" if subdirs else "")
                raise DataError(f"domain folder {folder} is empty{more}. Put the domain's images in it or delete "
                                f"the folder (every sub-folder of {root} is a domain)")
            if subdirs:
                warnings.warn(f"{folder} has sub-folders {subdirs[:5]}; only the files directly in it are used",
                              BadImageWarning, stacklevel=2)
            files.extend(folder / n for n in names)
            labels.extend([k] * len(names))
        keep = _screen_files(files, root, on_bad, check_files, progress)
        labels_arr = np.asarray(labels, dtype=np.int64)[keep]
        for k, name in enumerate(found):
            if not np.any(labels_arr == k):
                raise DataError(f"domain folder {root / name} has no readable image (all were skipped as "
                                "unreadable); re-download its images or delete the folder")
        super().__init__(root, [files[i] for i in keep], labels_arr, found, "domain", image_size, crop_size,
                         flip, random_crop_prob, on_bad)

    @property
    def domains(self) -> list[str]:
        return self.label_names


def rafd(root: str | Path, image_size: int | None = 128, crop_size: int | None = 256, **kw) -> FolderDataset:
    """RaFD (v1 paper Sec. 4.2): `data/RaFD/train/<expression>/`; 256 crop "where the faces are centred", 128 px.

    The paper crops the faces to the centre first; this loader takes the centred 256 x 256 square of
    each file (a no-op on face crops of that size) and resizes it. Pass `crop_size=None` for images
    you cropped yourself to another size.
    """
    return FolderDataset(root, image_size=image_size, crop_size=crop_size, **kw)


def afhq(root: str | Path, image_size: int | None = 256, **kw) -> FolderDataset:
    """AFHQ (v2 paper App. A): `data/afhq/train|val/{cat,dog,wild}/`, 512 px files, 256 px in the paper."""
    return FolderDataset(root, image_size=image_size, **kw)


def celeba_hq(root: str | Path, image_size: int | None = 256, **kw) -> FolderDataset:
    """CelebA-HQ split by gender (v2 paper): `data/celeba_hq/train|val/{female,male}/`, 256 px."""
    return FolderDataset(root, image_size=image_size, **kw)


# --------------------------------------------------------------------------------------------
# Recognising a layout (for `stargan data info` and for messages)
# --------------------------------------------------------------------------------------------

def count_images(folder: Path) -> int:
    """The number of image files directly in `folder` (hidden files and broken links not counted)."""
    return sum(1 for e in _visible(list(os.scandir(folder))) if _is_file(e) and is_image_name(e.name))


@dataclass
class LayoutInfo:
    """What a folder looks like: kind is "celeba", "splits" (holds train/val/test), "domains" or "unknown"."""

    path: Path
    kind: str
    details: dict = field(default_factory=dict)

    def describe(self) -> str:
        p, d = self.path, self.details
        if self.kind == "celeba":
            lines = [f"{p}: CelebA layout ({CELEBA_ATTR_FILE} + {d['image_dir']}/)",
                     f"  images listed: {d['n_listed']}, image files found: {d['n_files']}",
                     f"  {len(d['attributes'])} attributes: {' '.join(d['attributes'])}"]
            for name, pos in d.get("positives", {}).items():
                lines.append(f"  {name:<12} {pos:>7} positive ({pos / max(d['n_listed'], 1):.1%})")
            if d.get("n_duplicates"):
                lines.append(f"  PROBLEM: {d['n_duplicates']} image(s) listed more than once: {d['duplicates']} "
                             "(training refuses this file; delete the wrong lines)")
            if d.get("missing"):
                miss = d["missing"]
                lines.append(f"  PROBLEM: {len(miss)} listed image(s) missing from {d['image_dir']}/: "
                             f"{', '.join(miss[:5])}{' ...' if len(miss) > 5 else ''} (training leaves them out "
                             "with a warning; unzip or re-download them)")
            lines.append(f"  use: --data-dir {p}")
            return "\n".join(lines)
        if self.kind == "splits":
            lines = [f"{p}: split folders {', '.join(d['splits'])}"]
            for split, counts in d["counts"].items():
                lines.append(f"  {split}/: {len(counts)} domains: "
                             + ", ".join(f"{k} ({v})" for k, v in counts.items()))
            lines.append(f"  use: --data-dir {p / d['splits'][0]} (point at one split folder, not at {p.name}/)")
            return "\n".join(lines)
        if self.kind == "domains":
            counts = d["counts"]
            return (f"{p}: {len(counts)} domain folders (labels 0..{len(counts) - 1} in this order): "
                    + ", ".join(f"{k} ({v})" for k, v in counts.items()) + f"\n  use: --data-dir {p}")
        return f"{p}: unrecognised layout: {d.get('reason', '')}"


def detect_layout(path: str | Path, attrs: Sequence[str] = tuple(CELEBA_ATTRS)) -> LayoutInfo:
    """Recognise CelebA, a folder of split folders, or a split folder of domains (raises DataError if missing)."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataError(f"{path} is not a folder; pass the folder you downloaded the dataset into")
    if (path / CELEBA_ATTR_FILE).is_file():
        table = parse_celeba_attributes(path / CELEBA_ATTR_FILE)
        image_dir = celeba_image_dir(path)
        n_files = count_images(image_dir) if image_dir.is_dir() else 0
        positives = {a: int((table.values[:, table.names.index(a)] == 1).sum()) for a in attrs if a in table.names}
        missing = table.missing_files(image_dir)
        return LayoutInfo(path, "celeba", {"n_listed": len(table.filenames), "n_files": n_files,
                                           "image_dir": image_dir.name, "attributes": table.names,
                                           "positives": positives, "duplicates": table.duplicate_report(),
                                           "n_duplicates": len(table.duplicates), "missing": missing})
    hint = _celeba_root_hint(path)
    if hint:
        return LayoutInfo(path, "unknown", {"reason": hint})
    splits = _split_dirs(path)
    if splits:
        counts = {}
        for s in splits:
            sub = path / s
            counts[s] = {d.name: count_images(Path(d.path)) for d in sorted(_visible(list(os.scandir(sub))),
                                                                             key=lambda e: e.name) if _is_dir(d)}
        return LayoutInfo(path, "splits", {"splits": splits, "counts": counts})
    try:
        domains = list_domain_folders(path)
    except DataError as exc:
        return LayoutInfo(path, "unknown", {"reason": str(exc)})
    return LayoutInfo(path, "domains", {"counts": {d: count_images(path / d) for d in domains}})
