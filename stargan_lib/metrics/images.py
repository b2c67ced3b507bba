"""Turning whatever the user passes to a metric into batches of (B, 3, H, W) float images in [-1, 1].

Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` (where FID and LPIPS are first computed).

Accepted inputs, everywhere in `stargan_lib.metrics`:

- a float tensor (B, 3, H, W) in [-1, 1] (what every network of the course outputs; values a little
  outside are clamped, as saving the image would clamp them),
- a uint8 tensor (B, 3, H, W), or a uint8 numpy array (B, H, W, 3) (the `ImageSet.images` layout),
- an `ImageSet`,
- a folder of images (`.png`, `.jpg`, `.jpeg`, `.bmp`, `.webp`, `.tif`, `.tiff`; not recursive),
  or a list of image files,
- an iterable of batches (a DataLoader) yielding tensors or `(images, labels, ...)` tuples.

Bad input gets a clear message naming the path: unreadable files (broken or looping symbolic links
included) and empty folders are errors (with `on_bad="skip"`, the command line's `--on-bad skip`,
unreadable files are left out with a `BadImageWarning` instead), images of mixed sizes are an error,
and grayscale / RGBA / palette / 16-bit images are converted to 8-bit RGB (`stargan_lib.data.image_files.to_rgb`,
the same conversion as the training loaders) with one `ImageModeWarning` that lists them and says what
the conversion did.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from stargan_lib.data.image_files import (BadImageWarning, check_on_bad, file_problem, on_bad_hint, rgb_conversion,
                                          to_rgb)
from stargan_lib.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class ImageModeWarning(UserWarning):
    """Images that were not RGB (grayscale, RGBA, palette, ...) were converted to RGB."""


def _missing_or_unreadable(path: Path) -> DataError | None:
    """The error for a path that is not a readable regular file (missing, a link loop, ...), or None."""
    problem = file_problem(path)
    if problem is None:
        return None
    if problem == "file not found":
        return DataError(f"image file {path} does not exist; check the path")
    return DataError(f"cannot read image {path}: {problem}. Remove it or make it a real image file")


def _open_checked(path: Path) -> Image.Image:
    error = _missing_or_unreadable(path)
    if error is not None:
        raise error
    try:
        img = Image.open(path)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read image {path}: {exc}. Delete or re-save the file (it may be truncated or "
                        "not an image)") from exc
    return img


def _warn_converted(converted: list[tuple[Path, str]]) -> None:
    if not converted:
        return
    shown = ", ".join(f"{p} ({mode})" for p, mode in converted[:5])
    more = f" and {len(converted) - 5} more" if len(converted) > 5 else ""
    what = "; ".join(f"{mode}: {rgb_conversion(mode)}" for mode in dict.fromkeys(m for _, m in converted))
    warnings.warn(f"converted {len(converted)} image(s) to 8-bit RGB for the metric: {shown}{more}. FID and LPIPS "
                  f"are defined on 8-bit RGB images; what was done: {what}. Convert the files to 8-bit RGB yourself "
                  "to silence this warning.", ImageModeWarning, stacklevel=3)


def load_image_uint8(path: str | Path, warn: bool = True) -> np.ndarray:
    """One image file as (H, W, 3) uint8 (read with PIL; converted by `to_rgb` with a warning if needed)."""
    path = Path(path)
    img = _open_checked(path)
    try:
        with img:
            img.load()
            rgb = to_rgb(img)
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"cannot decode image {path}: {exc}. Delete or re-save the file") from exc
    if warn and img.mode != "RGB":
        _warn_converted([(path, img.mode)])
    return np.asarray(rgb, dtype=np.uint8).copy()


def load_image_tensor(path: str | Path) -> torch.Tensor:
    """One image file as (3, H, W) float in [-1, 1]."""
    return uint8_to_float(torch.from_numpy(load_image_uint8(path)).permute(2, 0, 1))


def uint8_to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 (..., 3, H, W) in [0, 255] -> float in [-1, 1]."""
    return x.float().div(127.5).sub(1.0)


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """Round [-1, 1] floats to the 256 levels a saved 8-bit image has (what pytorch-fid reads back)."""
    return x.clamp(-1, 1).add(1).mul(127.5).round().div(127.5).sub(1)


@dataclass
class ImageFolder:
    """The image files of one folder, checked up front (readable headers, one size), loaded lazily.

    on_bad: "error" stops at a file whose pixels cannot be decoded; "skip" leaves it out with a
    `BadImageWarning` (the batch is then one image shorter).
    """

    path: Path
    files: list[Path]
    size: tuple[int, int]                       # (H, W)
    on_bad: str = "error"

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, path: Path) -> np.ndarray | None:
        try:
            return load_image_uint8(path, warn=False)
        except DataError as exc:
            if self.on_bad == "error":
                raise DataError(f"{exc}; or pass {on_bad_hint('skip')} to leave it out with a warning") from exc
            warnings.warn(f"{exc}; skipped (pass {on_bad_hint('error')} to stop instead)", BadImageWarning,
                          stacklevel=4)
            return None

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """(B, 3, H, W) float batches in [-1, 1]."""
        for start in range(0, len(self.files), batch_size):
            arrays = [a for a in map(self._load, self.files[start:start + batch_size]) if a is not None]
            if arrays:
                yield uint8_to_float(torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2))


def list_image_files(folder: str | Path) -> list[Path]:
    """The image files directly inside `folder`, sorted; errors name the folder and say what is wrong."""
    folder = Path(folder)
    if not folder.exists():
        problem = file_problem(folder)
        raise DataError(f"image folder {folder} does not exist; check the path" if problem == "file not found"
                        else f"cannot use {folder} as images: {problem}")
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; pass a folder of images (or a list of files)")
    # Not only regular files: broken and looping symbolic links with image names are listed too, so that
    # `scan_images` reports them instead of leaving them out silently.
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir())
    if not files:
        subdirs = sorted(p.name for p in folder.iterdir() if p.is_dir())
        hint = (f"; it has sub-folders {subdirs[:5]}: pass one of them (e.g. {folder / subdirs[0]})"
                if subdirs else "")
        raise DataError(f"image folder {folder} contains no images ({', '.join(IMAGE_EXTENSIONS)}){hint}")
    return files


def scan_images(files: list[Path], where: str, on_bad: str = "error") -> ImageFolder:
    """Open every header: one size is required, non-RGB modes are listed, and unreadable files (missing,
    link loops, not images) are errors (`on_bad="error"`) or left out with a `BadImageWarning` ("skip")."""
    check_on_bad(on_bad)
    size: tuple[int, int] | None = None
    first: Path | None = None
    converted: list[tuple[Path, str]] = []
    kept: list[Path] = []
    skipped: list[str] = []
    for p in files:
        try:
            with _open_checked(p) as img:
                hw = (img.height, img.width)
                mode = img.mode
        except DataError as exc:
            if on_bad == "error":
                raise DataError(f"{exc}; or pass {on_bad_hint('skip')} to leave it out with a warning") from exc
            skipped.append(str(exc))
            continue
        kept.append(p)
        if mode != "RGB":
            converted.append((p, mode))
        if size is None:
            size, first = hw, p
        elif hw != size:
            raise DataError(f"images in {where} have different sizes: {first} is {size[1]}x{size[0]} but {p} is "
                            f"{hw[1]}x{hw[0]} (width x height). Resize them to one size first (the metric "
                            "compares sets of equally sized images)")
    if skipped:
        shown = "; ".join(skipped[:5]) + (f"; ... and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        warnings.warn(f"skipped {len(skipped)} unreadable file(s) in {where}: {shown}. Pass {on_bad_hint('error')} "
                      "to stop instead", BadImageWarning, stacklevel=3)
    if not kept:
        raise DataError(f"none of the {len(files)} image file(s) in {where} could be read; see the warnings above")
    _warn_converted(converted)
    return ImageFolder(Path(where), kept, size, on_bad)  # type: ignore[arg-type]


def open_folder(folder: str | Path, on_bad: str = "error") -> ImageFolder:
    """`list_image_files` + `scan_images`."""
    return scan_images(list_image_files(folder), str(folder), on_bad)


def _tensor_to_float(x: torch.Tensor, where: str) -> torch.Tensor:
    """A (B, C, H, W) uint8 or float tensor -> (B, 3, H, W) float in [-1, 1]."""
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4:
        raise DataError(f"{where}: expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
    if x.shape[1] not in (1, 3, 4):
        raise DataError(f"{where}: expected 3 colour channels in dimension 1, got shape {tuple(x.shape)} "
                        "(channels-last arrays must be numpy uint8 (B, H, W, 3))")
    if x.shape[1] != 3:
        warnings.warn(f"{where}: {x.shape[1]}-channel images converted to RGB ("
                      f"{'grayscale replicated' if x.shape[1] == 1 else 'alpha dropped'})",
                      ImageModeWarning, stacklevel=4)
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x[:, :3]
    if x.dtype == torch.uint8:
        return uint8_to_float(x)
    if not x.is_floating_point():
        raise DataError(f"{where}: expected uint8 or float images, got dtype {x.dtype}")
    if x.numel() and (x.max() > 2.0 or x.min() < -2.0):
        raise DataError(f"{where}: float images must be in [-1, 1], got values in [{x.min():.3g}, {x.max():.3g}]; "
                        "pass uint8 for [0, 255] images, or rescale")
    return x.float().clamp(-1, 1)


def _numpy_to_tensor(x: np.ndarray, where: str) -> torch.Tensor:
    if x.ndim in (3, 4) and x.shape[-1] in (1, 3, 4) and x.dtype == np.uint8:
        t = torch.from_numpy(np.ascontiguousarray(x))
        return t.permute(2, 0, 1) if t.dim() == 3 else t.permute(0, 3, 1, 2)
    if x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating):
        return torch.from_numpy(np.ascontiguousarray(x))
    raise DataError(f"{where}: numpy images must be uint8 (B, H, W, 3) or float (B, 3, H, W), got "
                    f"{x.dtype} {x.shape}")


@dataclass
class ImageBatches:
    """A re-iterable source of (B, 3, H, W) float batches in [-1, 1], with the number of images if known."""

    batches: Any                  # callable(batch_size) -> iterator
    count: int | None
    description: str
    size: tuple[int, int] | None = None   # (H, W) when known before iterating (not for loaders)

    def iterate(self, batch_size: int) -> Iterator[torch.Tensor]:
        return self.batches(batch_size)


def as_image_batches(images: Any, where: str = "images", on_bad: str = "error") -> ImageBatches:
    """Wrap any accepted input (see the module docstring) as `ImageBatches` (which are returned as they are).

    on_bad: for folders and lists of files, "error" (default) or "skip" unreadable files with a warning.
    """
    from stargan_lib.data.base import ImageSet

    if isinstance(images, ImageBatches):
        return images
    if isinstance(images, ImageSet):
        where = f"{where} (ImageSet {images.name}/{images.split})"
        images = images.images
    if isinstance(images, (str, Path)):
        folder = open_folder(images, on_bad)
        return ImageBatches(folder.batches, len(folder), str(folder.path), folder.size)
    if isinstance(images, (list, tuple)) and images and all(isinstance(p, (str, Path)) for p in images):
        folder = scan_images([Path(p) for p in images], f"{where} (list of {len(images)} files)", on_bad)
        return ImageBatches(folder.batches, len(folder), folder.path.as_posix(), folder.size)
    if isinstance(images, np.ndarray):
        images = _numpy_to_tensor(images, where)
    if isinstance(images, torch.Tensor):
        x = images
        if x.dim() == 3:
            x = x[None]
        if x.shape[0] == 0:
            raise DataError(f"{where}: got an empty image tensor {tuple(x.shape)}")
        _tensor_to_float(x[:1], where)  # check shape / dtype / range once, up front

        def tensor_batches(batch_size: int) -> Iterator[torch.Tensor]:
            for start in range(0, x.shape[0], batch_size):
                yield _tensor_to_float(x[start:start + batch_size], where)

        return ImageBatches(tensor_batches, int(x.shape[0]), where, (int(x.shape[-2]), int(x.shape[-1])))
    if isinstance(images, Iterable):
        loader = images
        count = len(loader.dataset) if hasattr(loader, "dataset") and hasattr(loader.dataset, "__len__") else None

        def loader_batches(batch_size: int) -> Iterator[torch.Tensor]:  # the loader's own batch size wins
            n = 0
            for item in loader:
                x = item[0] if isinstance(item, (list, tuple)) else item
                if isinstance(x, np.ndarray):
                    x = _numpy_to_tensor(x, where)
                if not isinstance(x, torch.Tensor):
                    raise DataError(f"{where}: the loader yielded {type(x).__name__}, expected image tensors")
                x = _tensor_to_float(x, where)
                n += x.shape[0]
                yield x
            if n == 0:
                raise DataError(f"{where}: the loader yielded no images")

        return ImageBatches(loader_batches, count, where)
    raise DataError(f"{where}: cannot use {type(images).__name__} as images; pass a tensor (B, 3, H, W), a uint8 "
                    "array (B, H, W, 3), an ImageSet, a folder, a list of files or a DataLoader")
