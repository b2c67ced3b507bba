"""Image grids as pixels: any image batch of the course -> one uint8 picture or PNG file.

The helper layer under `stargan_lib.viz` (which shows the grids) and the training engine (which
writes sample grids), so that both use one implementation. Introduced in
`notebooks/00_setup_and_data.ipynb`.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch

from stargan_lib.errors import DataError
from stargan_lib.utils import atomic_write_bytes


def to_uint8_batch(x) -> np.ndarray:
    """Any supported image batch (tensor or array, channels first or last, [-1, 1] floats or uint8)
    -> (B, H, W, 3) uint8."""
    if torch.is_tensor(x):
        x = x.detach().cpu()
        x = x.numpy() if x.dtype == torch.uint8 else x.float().numpy()
    x = np.asarray(x)
    if x.ndim == 3:                        # a single image
        x = x[None]
    if x.ndim != 4:
        raise DataError(f"expected images shaped (B, 3, H, W) or (B, H, W, 3), got shape {x.shape}")
    if x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(0, 2, 3, 1)            # channels first -> last
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    if x.shape[-1] != 3:
        raise DataError(f"expected 1 or 3 colour channels, got shape {x.shape}")
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"images must be uint8 or float in [-1, 1], got dtype {x.dtype}")
    if x.size and (np.nanmin(x) < -1.5 or np.nanmax(x) > 1.5):
        raise DataError(f"float images must be in [-1, 1], got values in [{np.nanmin(x):.2f}, {np.nanmax(x):.2f}]; "
                        "rescale them (x * 2 - 1 for [0, 1]) or pass uint8 pixels")
    return np.clip((x + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def image_grid(x, nrow: int = 8, padding: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile a batch of images into one (H, W, 3) uint8 picture, `nrow` images per row.

    x: (B, 3, H, W) float in [-1, 1] (tensor or array), or uint8 (B, H, W, 3) / (B, 3, H, W).
    Images are separated by `padding` pixels of `pad_value`; a short last row is padded blank.
    """
    imgs = to_uint8_batch(x)
    b, h, w, _ = imgs.shape
    if b == 0:
        raise DataError("image_grid got an empty batch; pass at least one image")
    if nrow < 1:
        raise DataError(f"nrow={nrow} must be at least 1")
    ncol = min(nrow, b)
    nrows = math.ceil(b / ncol)
    grid = np.full((nrows * (h + padding) + padding, ncol * (w + padding) + padding, 3), pad_value, np.uint8)
    for i in range(b):
        r, c = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        grid[top:top + h, left:left + w] = imgs[i]
    return grid


def reference_layout(sources, references, outputs) -> tuple[np.ndarray, int]:
    """The StarGAN v2 paper's Fig. 4 layout: sources down the left side, references along the top, the
    output of source i with the style of reference j in cell (i, j); the top-left corner is blank.

    sources (S, ...), references (R, ...), outputs (S, R, 3, H, W) or (S, R, H, W, 3) (any form
    `to_uint8_batch` takes). Returns ((S + 1) * (R + 1) uint8 images, R + 1), for `image_grid`
    or `save_grid`. Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb`.
    """
    src, ref = to_uint8_batch(sources), to_uint8_batch(references)
    out = np.asarray(outputs.detach().cpu().float() if torch.is_tensor(outputs) else outputs)
    if out.ndim != 5 or out.shape[:2] != (len(src), len(ref)):
        raise DataError(f"outputs of shape {out.shape} do not fit {len(src)} sources x {len(ref)} references; "
                        "give (sources, references, 3, H, W)")
    cells = to_uint8_batch(out.reshape(-1, *out.shape[2:])).reshape(len(src), len(ref), *src.shape[1:])
    if src.shape[1:] != ref.shape[1:] or cells.shape[2:] != src.shape[1:]:
        raise DataError(f"sources {src.shape[1:]}, references {ref.shape[1:]} and outputs {cells.shape[2:]} "
                        "must have one image size")
    blank = np.full((1, *src.shape[1:]), 255, np.uint8)
    rows = [np.concatenate([blank, ref])] + [np.concatenate([src[i:i + 1], cells[i]]) for i in range(len(src))]
    return np.concatenate(rows), len(ref) + 1


def latent_layout(sources, outputs) -> tuple[np.ndarray, int]:
    """The StarGAN v2 paper's Fig. 3 layout for latent-guided synthesis: one row per source, the source
    then, for each target domain in turn, its outputs for several latent codes.

    sources (S, ...), outputs (S, T, Z, 3, H, W): T target domains, Z latent codes each. Returns
    (S * (1 + T * Z) uint8 images, 1 + T * Z). Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb`.
    """
    src = to_uint8_batch(sources)
    out = np.asarray(outputs.detach().cpu().float() if torch.is_tensor(outputs) else outputs)
    if out.ndim != 6 or out.shape[0] != len(src):
        raise DataError(f"outputs of shape {out.shape} do not fit {len(src)} sources; give "
                        "(sources, target domains, latent codes, 3, H, W)")
    per_row = out.shape[1] * out.shape[2]
    cells = to_uint8_batch(out.reshape(-1, *out.shape[3:])).reshape(len(src), per_row, *src.shape[1:])
    return np.concatenate([np.concatenate([src[i:i + 1], cells[i]]) for i in range(len(src))]), per_row + 1


def save_grid(x, path: str | Path, nrow: int = 8, scale: int = 1) -> Path:
    """Write an image grid as a PNG (atomically); `scale` enlarges it by pixel repetition.

    x: a batch as `image_grid` takes it, or a (N, T, 3, H, W) grid (N rows of T images; `nrow`
    is then T). The one grid writer of the course: notebooks (`stargan_lib.viz`), the training
    engine's sample grids and `stargan sample` all use it. Introduced in
    `notebooks/00_setup_and_data.ipynb`.
    """
    from PIL import Image

    if torch.is_tensor(x) and x.dim() == 5:
        nrow, x = x.shape[1], x.flatten(0, 1)

    grid = image_grid(x, nrow)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG")
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path
