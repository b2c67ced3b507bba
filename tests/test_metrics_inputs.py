"""Bad input to the metrics: clear errors and warnings that name the path (no network needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stargan_lib.errors import DataError
from stargan_lib.metrics import fid as fid_fn
from stargan_lib.metrics.images import ImageModeWarning, as_image_batches, open_folder


def _save(path, size=(16, 16), mode="RGB", value=128):
    Image.new(mode, size, value if mode in ("L", "P") else (value,) * len(mode)).save(path)
    return path


def test_folder_of_rgb_pngs_loads(tmp_path):
    for i in range(3):
        _save(tmp_path / f"{i}.png", value=40 * i)
    (tmp_path / "notes.txt").write_text("not an image: ignored")
    src = as_image_batches(tmp_path)
    batches = list(src.iterate(2))
    assert src.count == 3 and [b.shape[0] for b in batches] == [2, 1]
    assert batches[0].shape[1:] == (3, 16, 16) and batches[0].min() >= -1 and batches[0].max() <= 1


def test_mixed_sizes_name_both_files(tmp_path):
    _save(tmp_path / "a.png", (16, 16))
    _save(tmp_path / "b.png", (20, 16))
    with pytest.raises(DataError) as info:
        open_folder(tmp_path)
    assert str(tmp_path / "a.png") in str(info.value) and str(tmp_path / "b.png") in str(info.value)
    with pytest.raises(DataError, match="different sizes"):
        fid_fn(tmp_path, tmp_path, device="cpu", progress=False)   # fails before any network runs


def test_grayscale_and_rgba_are_converted_with_a_warning(tmp_path):
    _save(tmp_path / "gray.png", mode="L")
    _save(tmp_path / "rgba.png", mode="RGBA")
    _save(tmp_path / "rgb.png")
    with pytest.warns(ImageModeWarning) as record:
        src = as_image_batches(tmp_path)
    msg = str(record[0].message)
    assert "gray.png (L)" in msg and "rgba.png (RGBA)" in msg and "/rgb.png" not in msg
    x = next(src.iterate(8))
    assert x.shape == (3, 3, 16, 16)
    # tensors with 1 or 4 channels too
    with pytest.warns(ImageModeWarning, match="alpha dropped"):
        y = next(as_image_batches(torch.zeros(2, 4, 8, 8)).iterate(8))
    assert y.shape == (2, 3, 8, 8)


def test_empty_folder_and_missing_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=f"{empty}.*contains no images"):
        as_image_batches(empty)
    nested = tmp_path / "train"
    (nested / "cat").mkdir(parents=True)
    _save(nested / "cat" / "0.png")
    with pytest.raises(DataError, match="sub-folders.*cat"):
        as_image_batches(nested)
    with pytest.raises(DataError, match="does not exist"):
        as_image_batches(tmp_path / "nowhere")


def test_unreadable_file_is_named(tmp_path):
    _save(tmp_path / "ok.png")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    with pytest.raises(DataError, match="broken.png"):
        as_image_batches(tmp_path)
    # truncated data behind a valid header is caught when the pixels are read
    img = tmp_path / "trunc" / "t.png"
    img.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(img)
    img.write_bytes(img.read_bytes()[:200])
    src = as_image_batches(img.parent)
    with pytest.raises(DataError, match="t.png"):
        list(src.iterate(4))


def test_tensor_inputs_checked():
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        as_image_batches(torch.full((2, 3, 8, 8), 200.0))
    with pytest.raises(DataError, match="3 colour channels"):
        as_image_batches(torch.zeros(2, 5, 8, 8))
    with pytest.raises(DataError, match="empty"):
        as_image_batches(torch.zeros(0, 3, 8, 8))
    with pytest.raises(DataError, match="cannot use"):
        as_image_batches(42)
    # uint8 HWC arrays (the ImageSet layout) and uint8 tensors map to the same floats
    arr = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    a = next(as_image_batches(arr).iterate(8))
    b = next(as_image_batches(torch.from_numpy(arr).permute(0, 3, 1, 2)).iterate(8))
    assert torch.equal(a, b) and a.min() >= -1 and a.max() <= 1


def test_loader_input():
    data = torch.utils.data.TensorDataset(torch.rand(5, 3, 8, 8) * 2 - 1, torch.zeros(5))
    loader = torch.utils.data.DataLoader(data, batch_size=2)
    src = as_image_batches(loader)
    assert src.count == 5 and sum(len(b) for b in src.iterate(99)) == 5
