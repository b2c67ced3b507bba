"""Pictures for every notebook: image grids, labelled grids, loss curves, PNG files; and `source_excerpt`,
the library's own lines of code a notebook shows beside an equation.

Introduced in `notebooks/00_setup_and_data.ipynb`. Images come in either form the course uses:
float tensors/arrays (B, 3, H, W) in [-1, 1] (what the networks see) or uint8 arrays
(B, H, W, 3) (what `ImageSet.images` holds; (B, 3, H, W) uint8 works too).

The course's images are tiny (16-64 px), so grids are shown with nearest-neighbour interpolation
(no blur), without axes, and at a size where one image is about an inch wide.

In a notebook, end a line that calls `show_grid` / `plot_losses` with ``;`` (or assign the figure):
the inline backend already shows the figure, and a returned figure would show a second time.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from stargan_lib.errors import DataError
from stargan_lib.grids import (latent_layout, reference_layout, to_uint8_batch, image_grid,  # noqa: F401
                               save_grid)


def show_grid(x, nrow: int = 8, title: str | None = None, row_labels: Sequence[str] | None = None,
              col_labels: Sequence[str] | None = None, inch_per_image: float = 0.9):
    """Show a grid of images with matplotlib and return the figure.

    row_labels / col_labels name the rows (e.g. source images) and columns (e.g. target domains).
    """
    import matplotlib.pyplot as plt

    imgs = to_uint8_batch(x)
    grid = image_grid(imgs, nrow)
    ncol = min(nrow, len(imgs))
    nrows = math.ceil(len(imgs) / ncol)
    for labels, count, what in ((row_labels, nrows, "rows"), (col_labels, ncol, "columns")):
        if labels is not None and len(labels) != count:
            raise DataError(f"got {len(labels)} labels for {count} {what} of the grid; give one per {what[:-1]}")
    extra_w = 1.2 if row_labels is not None else 0.0
    extra_h = (0.4 if col_labels is not None else 0.0) + (0.4 if title else 0.0)
    fig, ax = plt.subplots(figsize=(ncol * inch_per_image + extra_w, nrows * inch_per_image + extra_h))
    ax.imshow(grid, interpolation="nearest")
    h, w = imgs.shape[1:3]
    ax.set_xticks([1 + c * (w + 1) + w / 2 for c in range(ncol)] if col_labels is not None else [])
    ax.set_yticks([1 + r * (h + 1) + h / 2 for r in range(nrows)] if row_labels is not None else [])
    if col_labels is not None:
        ax.set_xticklabels(col_labels, fontsize=8)
        ax.xaxis.tick_top()
    if row_labels is not None:
        ax.set_yticklabels(row_labels, fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def show_reference_grid(sources, references, outputs, source_labels: Sequence[str] | None = None,
                        reference_labels: Sequence[str] | None = None, title: str | None = None,
                        inch_per_image: float = 0.9):
    """Reference-guided synthesis laid out as the StarGAN v2 paper's Fig. 4: sources down the left
    side, references along the top, each cell the source with the reference's style
    (`grids.reference_layout`; outputs (S, R, 3, H, W), e.g. `experiments.stargan_v2.reference_outputs`).
    Labels name the rows (sources) and columns (references). Introduced in
    `notebooks/05_stargan_v2_D_to_F.ipynb`."""
    cells, nrow = reference_layout(sources, references, outputs)
    rows = None if source_labels is None else ["reference →"] + list(source_labels)
    cols = None if reference_labels is None else ["source ↓"] + list(reference_labels)
    return show_grid(cells, nrow=nrow, title=title, row_labels=rows, col_labels=cols, inch_per_image=inch_per_image)


def show_latent_grid(sources, outputs, domain_names: Sequence[str], source_labels: Sequence[str] | None = None,
                     title: str | None = None, inch_per_image: float = 0.9):
    """Latent-guided synthesis laid out as the StarGAN v2 paper's Fig. 3: one row per source, then for
    each target domain its outputs for several latent codes (`grids.latent_layout`; outputs
    (S, T, Z, 3, H, W) with T = len(domain_names)). Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb`."""
    t, z = outputs.shape[1], outputs.shape[2]
    if len(domain_names) != t:
        raise DataError(f"{len(domain_names)} domain names for {t} target domains of the outputs")
    cells, nrow = latent_layout(sources, outputs)
    cols = ["source"] + [f"{d} z{j + 1}" for d in domain_names for j in range(z)]
    return show_grid(cells, nrow=nrow, title=title, row_labels=source_labels, col_labels=cols,
                     inch_per_image=inch_per_image)


def show_examples(imageset, per_label: int = 8, title: str | None = None, seed: int = 0):
    """One row per domain (or per attribute, for binary labels) of examples from an `ImageSet`.

    Binary sets show, in each row, images that have that attribute. A notebook-00 tour helper.
    """
    rng = np.random.default_rng(seed)
    rows, names = [], []
    for k, name in enumerate(imageset.label_names):
        mask = imageset.labels[:, k] > 0.5 if imageset.label_kind == "binary" else imageset.labels == k
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            continue
        pick = rng.choice(idx, size=min(per_label, len(idx)), replace=False)
        block = imageset.images[pick]
        if len(block) < per_label:  # keep the grid rectangular
            block = np.concatenate([block, np.full((per_label - len(block),) + block.shape[1:], 255, np.uint8)])
        rows.append(block)
        names.append(name)
    if not rows:
        raise DataError(f"image set {imageset.name!r} has no labelled images to show")
    return show_grid(np.concatenate(rows), nrow=per_label, title=title, row_labels=names)


def smooth(values: Sequence[float], weight: float = 0.9) -> np.ndarray:
    """Exponential moving average with bias correction (the first points are not pulled to 0)."""
    out = np.empty(len(values))
    avg = 0.0
    for i, v in enumerate(values):
        avg = weight * avg + (1 - weight) * float(v)
        out[i] = avg / (1 - weight ** (i + 1))
    return out


def plot_losses(history: dict[str, list[float]], smoothing: float = 0.9, keys: Sequence[str] | None = None,
                ncols: int = 3, title: str | None = None, steps: Sequence[float] | None = None, logy: bool = False):
    """Plot training curves, one small panel per loss term: raw values faint, smoothed bold.

    history: {term: [value per logged step]} as the trainers record it; `keys` picks and orders
    the terms; `steps` gives the x values (default 0, 1, 2, ...).
    """
    import matplotlib.pyplot as plt

    keys = [k for k in (keys or history) if len(history.get(k, []))]
    if not keys:
        raise DataError(f"nothing to plot: the history has no values (keys: {sorted(history)})")
    ncols = max(1, min(ncols, len(keys)))
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.4 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        y = np.asarray(history[key], dtype=float)
        x = np.arange(len(y)) if steps is None else np.asarray(steps, dtype=float)[:len(y)]
        ax.plot(x, y, alpha=0.3, linewidth=0.8)
        ax.plot(x, smooth(y, smoothing), linewidth=1.6, color="C0")
        ax.set_title(key, fontsize=9)
        ax.tick_params(labelsize=7)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def source_excerpt(fn, first: str, last: str | None = None) -> str:
    """The lines of `fn`'s source from the first line that contains `first` through the next line that
    contains `last` (`first`'s line alone without `last`), dedented: the library code that computes a term,
    shown beside its equation (notebook 05). A ValueError when a marker is not in the source, so a notebook
    never shows an excerpt of code that changed under it."""
    import inspect
    import textwrap

    lines = inspect.getsource(fn).splitlines()
    start = next((i for i, line in enumerate(lines) if first in line), None)
    if start is None:
        raise ValueError(f"{first!r} is not in the source of {fn.__qualname__}")
    end = start if last is None else next((i for i in range(start, len(lines)) if last in lines[i]), None)
    if end is None:
        raise ValueError(f"{last!r} does not follow {first!r} in the source of {fn.__qualname__}")
    return textwrap.dedent("\n".join(lines[start:end + 1]))

