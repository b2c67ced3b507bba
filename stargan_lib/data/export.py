"""Write a synthetic set to disk in the real datasets' layouts, so the real loaders run on it.

Introduced in `notebooks/00_setup_and_data.ipynb`; from a shell: `stargan data export DATASET --out DIR`.

Layouts (`layout=`):

- "celeba":  `<out>/img_align_celeba/000001.png ...` + `<out>/list_attr_celeba.txt` with the 40
  CelebA attribute columns in the real file's order; the exported attributes are set from the
  labels, every other column is -1 (label names that are not CelebA attributes are appended as
  extra columns). Images are PNG, not the real set's JPEG, so the pixels survive the round trip
  (`image_format="jpg"` writes JPEG). When a held-out set is given, its images are placed on the
  lines that the loader's seed-1234 shuffle puts first, so
  `CelebADataset(out, split="test", test_size=<n_test>)` returns exactly the held-out set.
  Load with `--data-dir <out>`.
- "folders": `<out>/train/<domain>/*.png` and `<out>/val/<domain>/*.png`, the CelebA-HQ / AFHQ
  layout of the StarGAN v2 repository. Load with `--data-dir <out>/train` (or `<out>/val`).
- "rafd":    `<out>/train/<expression>/*.png` and `<out>/test/<expression>/*.png`, the RaFD layout of
  the official StarGAN v1 code (`data/RaFD/train`, `data/RaFD/test`).

Next to the images: `export.json` (what was written, how to load it, the set's parameters) and
`factors.npz` (per split: file names, labels and every recorded generative factor, in file order).
The export is written into a temporary folder and renamed into place, so a crash never leaves half
an export; a non-empty `out` is refused unless `overwrite=True`, and then only if it holds an
earlier export and nothing else (`export_leftovers`): a checkpoint or notes kept there are never
deleted, the export is refused and names them.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from stargan_lib.data.base import ImageSet
from stargan_lib.data.real import (CELEBA_ALL_ATTRS, CELEBA_ATTR_FILE, CELEBA_IMAGE_DIR, SPLIT_DIR_NAMES,
                                   celeba_split_order)
from stargan_lib.errors import DataError

# layout -> name of the held-out split folder ("" for CelebA, whose split is made by the loader)
LAYOUTS = {"celeba": "", "folders": "val", "rafd": "test"}
# the layout each synthetic dataset mimics
DEFAULT_LAYOUT = {"faces": "celeba", "expressions": "rafd", "animals": "folders", "faces_gender": "folders"}
IMAGE_FORMATS = {"png": "PNG", "jpg": "JPEG"}
MANIFEST = "export.json"
FACTORS = "factors.npz"


@dataclass
class ExportResult:
    """What `export_imageset` wrote: the folder, and the `--data-dir` to pass per split."""

    out: Path
    layout: str
    counts: dict[str, int]
    data_dirs: dict[str, Path]
    test_size: int | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"wrote {sum(self.counts.values())} images to {self.out} (layout {self.layout!r})"]
        for split, n in self.counts.items():
            lines.append(f"  {split}: {n} images -> --data-dir {self.data_dirs[split]}")
        if self.test_size is not None:
            lines.append(f"  CelebA test split: the first {self.test_size} lines of the seed-1234 shuffle (recorded in "
                         f"{MANIFEST}; the CelebA loader reads it from there)")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _check_imageset(imageset: ImageSet, what: str) -> None:
    imgs = imageset.images
    if imgs.ndim != 4 or imgs.shape[-1] != 3 or imgs.dtype != np.uint8:
        raise DataError(f"{what} {imageset.name!r}: images have shape {imgs.shape}, dtype {imgs.dtype}; "
                        "expected (N, H, W, 3) uint8")
    if len(imageset.labels) != len(imgs):
        raise DataError(f"{what} {imageset.name!r}: {len(imgs)} images but {len(imageset.labels)} labels")
    if len(imgs) == 0:
        raise DataError(f"{what} {imageset.name!r} is empty; nothing to export")


def _check_compatible(imageset: ImageSet, test_set: ImageSet | None) -> None:
    _check_imageset(imageset, "image set")
    if test_set is None:
        return
    _check_imageset(test_set, "held-out set")
    if (test_set.label_kind, list(test_set.label_names)) != (imageset.label_kind, list(imageset.label_names)):
        raise DataError(f"the held-out set has labels {test_set.label_names} ({test_set.label_kind}) but the training "
                        f"set {imageset.label_names} ({imageset.label_kind}); export two splits of one dataset")


def export_leftovers(out: str | Path) -> list[str]:
    """What the folder `out` of an earlier export holds besides that export's own files (relative paths,
    folders with a trailing "/"); empty when it holds the export and nothing else.

    The export's files are read from its `export.json` and `factors.npz` (every image it wrote); a
    folder whose record cannot be read is reported as a whole (["<the factors file> unreadable"])."""
    out = Path(out)
    try:
        manifest = read_manifest(out)
        files = {f for split in read_factors(out).values() for f in split.get("files", np.asarray([])).tolist()}
    except (DataError, OSError, ValueError, KeyError) as exc:
        return [f"{FACTORS} / {MANIFEST} unreadable ({exc})"]
    celeba = manifest.get("layout") == "celeba"
    files |= {MANIFEST, FACTORS} | ({CELEBA_ATTR_FILE} if celeba else set())
    dirs = {str(Path(f).parent) for f in files} - {"."}
    if celeba:
        dirs.add(CELEBA_IMAGE_DIR)
    else:                                           # every domain folder, also one left empty
        dirs |= {f"{split}/{d}" for split in manifest.get("counts", {}) for d in manifest.get("label_names", [])}
    dirs |= {str(parent) for d in list(dirs) for parent in Path(d).parents if str(parent) != "."}
    extra: list[str] = []
    for root, subdirs, names in os.walk(out):
        rel_root = Path(root).relative_to(out)
        for d in sorted(subdirs):
            rel = str(rel_root / d)
            if rel not in dirs or (Path(root) / d).is_symlink():
                extra.append(rel + "/")
        subdirs[:] = [d for d in subdirs if str(rel_root / d) in dirs and not (Path(root) / d).is_symlink()]
        extra.extend(str(rel_root / n) for n in sorted(names) if str(rel_root / n) not in files)
    return extra


def _prepare_out(out: Path, overwrite: bool) -> None:
    """Refuse a non-empty `out` unless overwrite=True and it holds an earlier export and nothing else."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file; give a folder path")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise DataError(f"--out {out} is not empty; choose a new folder or pass --overwrite (overwrite=True) "
                            "to replace an earlier export there")
        if not (out / MANIFEST).is_file():
            raise DataError(f"--out {out} is not empty and was not written by `stargan data export` (no {MANIFEST}); "
                            "refusing to delete it even with --overwrite. Choose a new folder or empty it yourself")
        extra = export_leftovers(out)
        if extra:
            shown = ", ".join(extra[:6]) + (f" ... (+{len(extra) - 6})" if len(extra) > 6 else "")
            raise DataError(f"--out {out} holds an earlier export and also files it did not write ({shown}); "
                            "--overwrite replaces only an export's own files, so nothing was changed. Move "
                            "those files out of the folder, or export into a new folder")


def _save_image(img: np.ndarray, path: Path, fmt: str) -> None:
    pil = Image.fromarray(np.ascontiguousarray(img))
    if fmt == "JPEG":
        pil.save(path, fmt, quality=95)
    else:
        pil.save(path, fmt, compress_level=1)


def _factor_arrays(prefix: str, imageset: ImageSet, files: list[str]) -> dict[str, np.ndarray]:
    arrays = {f"{prefix}/files": np.asarray(files), f"{prefix}/labels": np.asarray(imageset.labels)}
    for key, value in imageset.factors.items():
        arr = np.asarray(value)
        if arr.dtype == object:
            raise DataError(f"factor {key!r} of {imageset.name!r} is an object array; record factors as numbers or "
                            "strings so they can be saved without pickle")
        arrays[f"{prefix}/factor/{key}"] = arr
    return arrays


def _write_celeba(tmp: Path, imageset: ImageSet, test_set: ImageSet | None, fmt: str, ext: str,
                  progress: bool) -> tuple[dict, dict, list[str]]:
    from tqdm.auto import tqdm

    if imageset.label_kind != "binary":
        raise DataError(f"layout 'celeba' needs binary attribute labels, but {imageset.name!r} has domain labels "
                        f"{imageset.label_names}; use layout 'folders' or 'rafd'")
    spaced = [a for a in imageset.label_names if not a or len(a.split()) != 1]
    if spaced:
        raise DataError(f"attribute names {spaced} contain spaces (or are empty); the attribute file separates "
                        "columns by spaces, so rename them (e.g. with underscores)")
    extra = [a for a in imageset.label_names if a not in CELEBA_ALL_ATTRS]
    columns = CELEBA_ALL_ATTRS + extra
    notes = [f"label names not among the 40 CelebA attributes were appended as columns: {extra}"] if extra else []
    col = [columns.index(a) for a in imageset.label_names]
    n_train, n_test = len(imageset), (0 if test_set is None else len(test_set))
    total = n_train + n_test
    # line position of each image: the held-out images go where the loader's shuffle puts its test split
    if test_set is None:
        train_pos, test_pos = list(range(total)), []
    else:
        order = celeba_split_order(total)
        test_pos, train_pos = order[:n_test], order[n_test:]
    values = -np.ones((total, len(columns)), dtype=np.int8)
    sources: list[tuple[np.ndarray, int]] = [(None, 0)] * total  # type: ignore[list-item]
    for sset, positions in ((imageset, train_pos), (test_set, test_pos)):
        if sset is None:
            continue
        labels = np.asarray(sset.labels)
        if labels.ndim != 2 or labels.shape[1] != len(sset.label_names):
            raise DataError(f"binary labels of {sset.name!r} have shape {labels.shape}; "
                            f"expected (N, {len(sset.label_names)})")
        for k, p in enumerate(positions):
            values[p, col] = np.where(labels[k] > 0.5, 1, -1)
            sources[p] = (sset.images, k)
    image_dir = tmp / CELEBA_IMAGE_DIR
    image_dir.mkdir()
    names = [f"{p + 1:06d}.{ext}" for p in range(total)]
    for p in tqdm(range(total), desc="writing images", disable=not progress):
        images, k = sources[p]
        _save_image(images[k], image_dir / names[p], fmt)
    rows = [f"{names[p]} " + " ".join(f"{v:2d}" for v in values[p]) for p in range(total)]
    text = f"{total}\n" + " ".join(columns) + "\n" + "\n".join(rows) + "\n"
    (tmp / CELEBA_ATTR_FILE).write_text(text)
    arrays = _factor_arrays("train", imageset, [f"{CELEBA_IMAGE_DIR}/{names[p]}" for p in train_pos])
    if test_set is not None:
        arrays.update(_factor_arrays("test", test_set, [f"{CELEBA_IMAGE_DIR}/{names[p]}" for p in test_pos]))
    info = {"attribute_columns": columns, "celeba_test_size": n_test or None,
            "data_dir": {"train": ".", **({"test": "."} if test_set is not None else {})}}
    return arrays, info, notes


def _write_folders(tmp: Path, imageset: ImageSet, test_set: ImageSet | None, heldout: str, fmt: str, ext: str,
                   progress: bool) -> tuple[dict, dict, list[str]]:
    from tqdm.auto import tqdm

    if imageset.label_kind != "domain":
        raise DataError(f"layout with domain folders needs domain labels, but {imageset.name!r} has binary "
                        f"attributes {imageset.label_names}; use layout 'celeba'")
    for d in imageset.label_names:
        if not d or d.startswith(".") or "/" in d or "\\" in d or d.lower() in SPLIT_DIR_NAMES:
            raise DataError(f"domain name {d!r} cannot be a folder name the loaders read as a domain; rename it")
    notes = []
    if list(imageset.label_names) != sorted(imageset.label_names):
        notes.append(f"domains {imageset.label_names} are not in alphabetical order; the folder loaders number "
                     f"domains alphabetically ({sorted(imageset.label_names)}), so label indices change")
    arrays: dict[str, np.ndarray] = {}
    start = 0
    for split, sset in (("train", imageset), (heldout, test_set)):
        if sset is None:
            continue
        labels = np.asarray(sset.labels).astype(np.int64)
        if labels.ndim != 1 or len(labels) and (labels.min() < 0 or labels.max() >= len(sset.label_names)):
            raise DataError(f"domain labels of {sset.name!r} must be (N,) integers in 0..{len(sset.label_names) - 1}")
        for d in sset.label_names:
            (tmp / split / d).mkdir(parents=True)
        files = []
        for k in tqdm(range(len(sset)), desc=f"writing {split}", disable=not progress):
            rel = f"{split}/{sset.label_names[labels[k]]}/{start + k + 1:06d}.{ext}"
            _save_image(sset.images[k], tmp / rel, fmt)
            files.append(rel)
        start += len(sset)
        arrays.update(_factor_arrays(split, sset, files))
        empty = [d for j, d in enumerate(sset.label_names) if not np.any(labels == j)]
        if empty:
            notes.append(f"WARNING {split}: no images of domain(s) {empty}; the folder loader refuses an empty "
                         "domain folder, so export more images (--n / --n-test)")
    info = {"heldout_split": heldout, "data_dir": {"train": "train", **({heldout: heldout} if test_set else {})}}
    return arrays, info, notes


def export_imageset(imageset: ImageSet, out_dir: str | Path, layout: str | None = None, *,
                    test_set: ImageSet | None = None, overwrite: bool = False, image_format: str = "png",
                    progress: bool = False) -> ExportResult:
    """Write `imageset` (and an optional held-out `test_set`) under `out_dir` in a real dataset's layout.

    layout: "celeba", "folders" (train/ + val/) or "rafd" (train/ + test/); default from the set's
        name (faces -> celeba, expressions -> rafd, animals and faces_gender -> folders), else
        "celeba" for binary labels and "folders" for domain labels.
    """
    if layout is None:
        layout = DEFAULT_LAYOUT.get(imageset.name, "celeba" if imageset.label_kind == "binary" else "folders")
    if layout not in LAYOUTS:
        raise DataError(f"unknown layout {layout!r}; choose one of {sorted(LAYOUTS)}")
    if image_format not in IMAGE_FORMATS:
        raise DataError(f"unknown image format {image_format!r}; choose one of {sorted(IMAGE_FORMATS)}")
    _check_compatible(imageset, test_set)
    out = Path(out_dir).expanduser().resolve()
    _prepare_out(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    fmt = IMAGE_FORMATS[image_format]
    try:
        if layout == "celeba":
            arrays, info, notes = _write_celeba(tmp, imageset, test_set, fmt, image_format, progress)
        else:
            arrays, info, notes = _write_folders(tmp, imageset, test_set, LAYOUTS[layout], fmt, image_format, progress)
        with open(tmp / FACTORS, "wb") as f:
            np.savez(f, **arrays)
        counts = {"train": len(imageset)}
        if test_set is not None:
            counts["test" if layout == "celeba" else LAYOUTS[layout]] = len(test_set)
        manifest: dict[str, Any] = {
            "dataset": imageset.name, "layout": layout, "image_format": image_format,
            "image_size": [int(s) for s in imageset.images.shape[1:3]],
            "label_kind": imageset.label_kind, "label_names": list(imageset.label_names), "counts": counts,
            "source_splits": {"train": imageset.split, **({"heldout": test_set.split} if test_set else {})},
            "params": imageset.params, "factors": sorted(imageset.factors), "notes": notes, **info,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        # Swap into place: the old export (if any) is removed only once the new one is complete.
        if out.exists():
            trash = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, trash)
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    data_dirs = {split: (out / rel).resolve() for split, rel in info["data_dir"].items()}
    return ExportResult(out, layout, counts, data_dirs, info.get("celeba_test_size"), notes)


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    """The `export.json` of an export (DataError naming the path when it is missing)."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        raise DataError(f"{path} not found: {out_dir} was not written by `stargan data export`")
    return json.loads(path.read_text())


def read_factors(out_dir: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """`factors.npz` of an export as {split: {"files": ..., "labels": ..., "factor/<name>": ...}}."""
    path = Path(out_dir) / FACTORS
    if not path.is_file():
        raise DataError(f"{path} not found: {out_dir} was not written by `stargan data export`")
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path, allow_pickle=False) as z:
        for key in z.files:
            split, rest = key.split("/", 1)
            out.setdefault(split, {})[rest] = z[key]
    return out
