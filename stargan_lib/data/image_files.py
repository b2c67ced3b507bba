"""Reading one image file: what counts as an image, the bad-file policy, and the conversion to 8-bit RGB.

Introduced in `notebooks/00_setup_and_data.ipynb`; the real-dataset loaders (`data.real`) and the
metrics' folder reading (`metrics.images`) share it.

A bad input (unreadable, truncated, a broken or looping symbolic link) is skipped with a warning or
stops with a `DataError` naming the path, after `on_bad` ("skip" | "error"); the command line's
`--on-bad` sets the same policy for a whole command through `bad_image_policy`. Grayscale, palette,
RGBA and 16-bit images are converted to 8-bit RGB by `to_rgb`; `rgb_conversion` says what it does.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import stat
from pathlib import Path
from typing import Iterator, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from stargan_lib.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm")

OnBad = Literal["skip", "error"]
ON_BAD_CHOICES = ("skip", "error")
# The policy of loaders created without an explicit `on_bad` (set for a whole command by `--on-bad`).
_ON_BAD_DEFAULT: contextvars.ContextVar[str] = contextvars.ContextVar("stargan_on_bad", default="skip")


class BadImageWarning(UserWarning):
    """An image file could not be read and was skipped (`on_bad="skip"`)."""


def on_bad_hint(value: str) -> str:
    """How to ask for policy `value`, in the library and on the command line (for messages)."""
    return f"on_bad={value!r} (command line: --on-bad {value})"


def check_on_bad(on_bad: str) -> str:
    """`on_bad` if it is a valid policy, else a DataError listing the valid ones."""
    if on_bad not in ON_BAD_CHOICES:
        raise DataError(f"on_bad={on_bad!r} is not valid; use 'skip' (warn and leave the file out) or 'error' "
                        "(stop at the first unreadable file)")
    return on_bad


def resolve_on_bad(on_bad: str | None) -> str:
    """`on_bad` itself, or when None the policy set by the enclosing `bad_image_policy` ("skip" outside one)."""
    return check_on_bad(_ON_BAD_DEFAULT.get() if on_bad is None else on_bad)


@contextlib.contextmanager
def bad_image_policy(on_bad: str) -> Iterator[None]:
    """Within the block, real-data loaders created without an explicit `on_bad` use `on_bad`.

    This is how a command's `--on-bad` reaches loaders built deep inside a trainer or the evaluation
    protocol, without every function in between taking the argument. Used by `stargan_lib.cli`
    (notebook 00 shows the loaders' `on_bad` argument itself).
    """
    token = _ON_BAD_DEFAULT.set(check_on_bad(on_bad))
    try:
        yield
    finally:
        _ON_BAD_DEFAULT.reset(token)


# --------------------------------------------------------------------------------------------
# Reading one image
# --------------------------------------------------------------------------------------------

def is_image_name(name: str) -> bool:
    """True when `name` ends in an image extension (IMAGE_EXTENSIONS); used by the loaders of notebook 00."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def file_problem(path: Path) -> str | None:
    """Why `path` is not a regular file that can be opened (missing, a symbolic link loop, a broken link,
    a folder), in words for messages; None when it is one."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (the link points to itself or to a cycle of links)"
        if os.path.islink(path):
            return f"broken symbolic link to {os.readlink(path)} (the target does not exist)"
        if exc.errno == errno.ENOENT:
            return "file not found"
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    if not stat.S_ISREG(mode):
        return "not a regular file (a folder, device or pipe)"
    return None


def check_image_file(path: Path, decode: bool = False) -> str | None:
    """None if PIL can read `path`, else the reason it cannot (for messages).

    decode=False reads the header only (plus the chunk checksums for PNG), so indexing 200k files
    takes seconds; a file whose header is fine but whose pixel data is cut (an interrupted download)
    is then caught later, at load time. decode=True decodes every pixel (`stargan data info --check`),
    which catches those files too, at the cost of reading all the data.
    """
    problem = file_problem(path)
    if problem is not None:
        return problem
    try:
        with Image.open(path) as img:
            if decode:
                img.load()
                to_rgb(img)
            else:
                img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# PIL modes of 16-bit (and 32-bit integer) grayscale images: PNG / TIFF with 16 bits per sample.
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def rgb_conversion(mode: str) -> str | None:
    """What `to_rgb` does to an image of PIL mode `mode`, in words (None for RGB, which is kept as it is)."""
    if mode == "RGB":
        return None
    if mode in SIXTEEN_BIT_MODES:
        return "16-bit grayscale scaled to 8 bits (value / 257, rounded) and replicated to 3 channels"
    return {
        "L": "grayscale replicated to 3 channels",
        "LA": "grayscale replicated to 3 channels, alpha dropped (not blended with a background)",
        "1": "black-and-white replicated to 3 channels (0 or 255)",
        "RGBA": "alpha dropped (not blended with a background)",
        "RGBa": "alpha dropped (not blended with a background)",
        "RGBX": "padding channel dropped",
        "P": "palette colours looked up (any transparency dropped)",
        "PA": "palette colours looked up, alpha dropped",
        "CMYK": "CMYK converted with PIL's plain formula (no colour profile)",
        "YCbCr": "YCbCr converted to RGB",
    }.get(mode, f"converted with PIL's convert('RGB') from mode {mode}")


def to_rgb(img: Image.Image) -> Image.Image:
    """`img` as an 8-bit RGB image (see `rgb_conversion` for what each mode becomes).

    16-bit grayscale (PIL modes I;16, I;16B, ...; PIL's own `convert("RGB")` clips them at 255, so
    almost every pixel turns white) is scaled from 0..65535 to 0..255; so is mode I (32-bit integer,
    how PIL opens 16-bit PGM files), whose values outside 0..65535 are a ValueError. 16-bit RGB PNGs
    already open as 8-bit RGB in PIL. A float image (mode F) has no known value range: ValueError.
    """
    if img.mode == "RGB":
        return img
    if img.mode in SIXTEEN_BIT_MODES:
        values = np.asarray(img).astype(np.float32)   # exact for integers up to 2**24
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(f"{img.mode} image with values in [{values.min():.0f}, {values.max():.0f}], outside "
                             "the 16-bit range 0..65535; save it as an 8- or 16-bit image")
        gray = np.rint(values / 257.0).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[..., None], 3, axis=2), "RGB")
    if img.mode == "F":
        raise ValueError("32-bit float image (mode F) has no known value range; save it as an 8- or 16-bit image")
    return img.convert("RGB")


def center_crop_square(img: Image.Image, crop_size: int | None) -> Image.Image:
    """The centred `crop_size` square (CelebA's 178 x 178 crop of a 178 x 218 photo).

    The crop never pads: an image smaller than `crop_size` is cropped to its largest centred square,
    so synthetic exports rendered at 32 px pass through unchanged. `None`: largest centred square
    only when the image is not square.
    """
    w, h = img.size
    side = min(w, h) if crop_size is None else min(crop_size, w, h)
    if (w, h) == (side, side):
        return img
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def load_rgb(path: Path, image_size: int | None, crop_size: int | None = None) -> Image.Image:
    """Open an image as 8-bit RGB (grayscale / palette / RGBA / 16-bit converted by `to_rgb`), crop the centre,
    resize."""
    with Image.open(path) as img:
        img.load()
        rgb = to_rgb(img)
    rgb = center_crop_square(rgb, crop_size)
    if image_size is not None and rgb.size != (image_size, image_size):
        rgb = rgb.resize((image_size, image_size), Image.Resampling.BILINEAR)
    return rgb


# --------------------------------------------------------------------------------------------
# The torch Dataset shared by both layouts
# --------------------------------------------------------------------------------------------
