"""Plotting helpers: grid shapes and values, labelled figures, loss curves, PNG files."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from stargan_lib.data.synthetic import render  # noqa: E402
from stargan_lib.errors import DataError  # noqa: E402
from stargan_lib.viz import image_grid, plot_losses, save_grid, show_examples, show_grid, smooth  # noqa: E402


def test_image_grid_from_float_tensor_layout_and_values():
    x = torch.linspace(-1, 1, 5).view(5, 1, 1, 1).expand(5, 3, 16, 16)
    grid = image_grid(x, nrow=4, padding=1)
    assert grid.shape == (2 * 17 + 1, 4 * 17 + 1, 3) and grid.dtype == np.uint8
    assert grid[1, 1, 0] == 0                      # first image: -1 -> 0
    assert grid[1 + 17, 1 + 16 - 1, 0] == 255      # fifth image (second row): +1 -> 255
    assert (grid[0] == 255).all()                  # padding


def test_image_grid_accepts_uint8_in_both_layouts():
    imgs = render("animals", 6, 16, seed=0).images                      # (B, H, W, 3)
    a = image_grid(imgs, nrow=3)
    b = image_grid(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)), nrow=3)   # (B, 3, H, W)
    assert a.shape == (2 * 17 + 1, 3 * 17 + 1, 3)
    assert np.array_equal(a, b)
    assert np.array_equal(a[1:17, 1:17], imgs[0])
    # Round trip through the networks' range gives the same picture.
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert np.array_equal(image_grid(x, nrow=3), a)


def test_image_grid_rejects_bad_input():
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        image_grid(np.full((2, 3, 8, 8), 200.0))
    with pytest.raises(DataError, match="shape"):
        image_grid(np.zeros((8, 8)))
    with pytest.raises(DataError, match="empty"):
        image_grid(np.zeros((0, 8, 8, 3), np.uint8))


def test_show_grid_with_labels_returns_a_figure():
    imgs = render("faces", 6, 16, seed=0).images
    fig = show_grid(imgs, nrow=3, title="faces", row_labels=["a", "b"], col_labels=["1", "2", "3"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
    assert ax.get_images()[0].get_interpolation() == "nearest"
    w, h = fig.get_size_inches()
    assert 2 < w < 6 and 1 < h < 4                  # sized for tiny images
    plt.close(fig)
    with pytest.raises(DataError, match="labels"):
        show_grid(imgs, nrow=3, row_labels=["only one"])


def test_show_examples_one_row_per_domain():
    fig = show_examples(render("expressions", 80, 16, seed=0), per_label=4)
    assert len(fig.axes[0].get_yticklabels()) == 8
    plt.close(fig)


def test_plot_losses_panels_and_smoothing():
    history = {"d_adv": list(np.random.default_rng(0).normal(size=50)), "g_rec": [1.0] * 50, "empty": []}
    fig = plot_losses(history, ncols=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["d_adv", "g_rec"]
    plt.close(fig)
    assert np.allclose(smooth([2.0, 2.0, 2.0]), 2.0)          # bias-corrected EMA
    with pytest.raises(DataError, match="nothing to plot"):
        plot_losses({"a": []})


def test_save_grid_writes_a_png(tmp_path):
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    path = save_grid(x, tmp_path / "sub" / "grid.png", nrow=2, scale=3)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (3 * (2 * 17 + 1), 3 * (2 * 17 + 1))
        assert np.array_equal(np.asarray(im)[::3, ::3], image_grid(x, nrow=2))
