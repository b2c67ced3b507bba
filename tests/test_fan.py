"""The face-alignment network (FAN) of the official StarGAN v2 code: layout of the released wing.ckpt,
parameter count, safe loading and its errors, the heatmap/mask/landmark functions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from stargan_lib.errors import CheckpointError
from stargan_lib.models.fan import (EYEBROWS, FAN, WING_DEFAULT, landmarks_from_heatmaps, preprocess)

LAYOUT = Path(__file__).parent / "fixtures" / "official_layouts" / "stargan_v2_fan.json"


@pytest.fixture(scope="module")
def fan() -> FAN:
    torch.manual_seed(0)
    return FAN()


def test_state_dict_keys_shapes_and_order_equal_the_released_wing_ckpt(fan):
    layout = json.loads(LAYOUT.read_text())
    ours = {k: list(v.shape) for k, v in fan.state_dict().items()}
    assert len(ours) == len(layout) == 336
    assert ours == layout, sorted(set(ours) ^ set(layout))[:5]
    assert list(ours) == list(layout)                          # same registration order


def test_parameter_count_is_the_official_one(fan):
    assert sum(p.numel() for p in fan.parameters()) == 6_333_603


def test_fan_is_frozen_and_stays_in_eval_mode(fan):
    assert not any(p.requires_grad for p in fan.parameters())
    fan.train()
    assert not fan.training and not any(m.training for m in fan.modules())


def test_forward_returns_heatmaps_and_boundary_channels(fan):
    outputs, boundaries = fan(torch.rand(2, 3, 256, 256))
    assert len(outputs) == len(boundaries) == 1
    assert outputs[0].shape == (2, 99, 64, 64)
    assert boundaries[0].shape == (2, 2, 64, 64)


def test_get_heatmap_gives_two_masks_in_unit_range_at_any_input_size(fan):
    for size in (32, 256):
        m1, m2 = fan.get_heatmap(torch.rand(2, 3, size, size) * 2 - 1)
        for m in (m1, m2):
            assert m.shape == (2, 1, 256, 256) and not m.requires_grad
            assert float(m.min()) >= 0.0 and float(m.max()) <= 1.0
        assert torch.all(m2 <= m1 + 1e-6)                      # mask 2 is mask 1 with parts left out
    raw = fan.get_heatmap(torch.rand(1, 3, 256, 256) * 2 - 1, b_preprocess=False)
    assert raw.shape == (1, 98, 64, 64)


def test_masks_are_float32_inside_bf16_autocast(fan):
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        m1, m2 = fan.get_heatmap(x.bfloat16())
    ref1, ref2 = fan.get_heatmap(x.bfloat16().float())
    assert m1.dtype == m2.dtype == torch.float32
    assert torch.equal(m1, ref1) and torch.equal(m2, ref2)


def test_get_landmark_shape_and_scale(fan):
    lm = fan.get_landmark(torch.rand(2, 3, 128, 128) * 2 - 1)
    assert lm.shape == (2, 98, 2)
    assert float(lm.min()) >= -1.0 and float(lm.max()) <= 128.0


def test_landmarks_from_heatmaps_finds_peaks_with_quarter_pixel_refinement():
    hm = torch.zeros(1, 2, 64, 64)
    hm[0, 0, 10, 20] = 1.0                 # row 10, column 20; right neighbour higher than left
    hm[0, 0, 10, 21] = 0.5
    hm[0, 1, 0, 5] = 1.0                   # on the border: no refinement
    lm = landmarks_from_heatmaps(hm)
    # 1-based arg-max (21, 11), +0.25 towards the right, y unchanged (equal neighbours), -0.5
    assert lm[0, 0].tolist() == [20.75, 10.5]
    assert lm[0, 1].tolist() == [5.5, 0.5]


def _one_peak(channel: int, row: int, col: int) -> torch.Tensor:
    hm = torch.zeros(1, 98, 256, 256)
    hm[0, channel, row - 2:row + 3, col - 2:col + 3] = 1.0
    return hm


def test_preprocess_masks_follow_the_facial_parts():
    # an eyebrow point: in mask 1, moved 7 rows down; mask 2 leaves eyebrows out
    m1, m2 = preprocess(_one_peak(EYEBROWS[0] + 3, 100, 100))
    rows = torch.nonzero(m1[0, 0].sum(dim=1)).flatten()
    assert rows.min().item() == 98 + 7 and rows.max().item() == 102 + 7
    assert float(m2.abs().sum()) == 0.0
    # an outline end (point 0) is removed from both masks
    m1, m2 = preprocess(_one_peak(0, 100, 100))
    assert float(m1.sum()) == 0.0 and float(m2.sum()) == 0.0
    # an eye point appears in both masks, as (8 rows down) plus (24 rows down)
    m1, m2 = preprocess(_one_peak(62, 120, 80))
    assert torch.equal(m1, m2)
    rows = set(torch.nonzero(m1[0, 0].sum(dim=1)).flatten().tolist())
    assert rows == set(range(118 + 8, 123 + 8)) | set(range(118 + 24, 123 + 24))
    # NaN input becomes 0 in both masks (Deviation noted in the module)
    hm = _one_peak(62, 120, 80)
    hm[0, 62, 0, 0] = float("nan")
    m1, m2 = preprocess(hm)
    assert not torch.isnan(m1).any() and not torch.isnan(m2).any()


def test_released_layout_loads_safely(tmp_path, fan):
    """A file in the released form ({"state_dict": ...}, DataParallel `module.` prefix) loads and gives
    the same outputs; FAN() itself loads nothing."""
    torch.manual_seed(1)
    src = FAN()
    path = tmp_path / "wing.ckpt"
    torch.save({"state_dict": {"module." + k: v for k, v in src.state_dict().items()}}, path)
    loaded = FAN(fname_pretrained=path)
    x = torch.rand(1, 3, 256, 256)
    assert torch.equal(loaded(x)[0][0], src(x)[0][0])
    assert not torch.equal(fan(x)[0][0], src(x)[0][0])


def test_file_with_code_is_refused(tmp_path):
    path = tmp_path / "wing.ckpt"
    torch.save({"state_dict": FAN().state_dict(), "hook": Path("x")}, path)   # an arbitrary object
    with pytest.raises(CheckpointError, match=str(path)):
        FAN(fname_pretrained=path)


def test_wrong_layout_names_the_file_the_keys_and_the_fix(tmp_path):
    sd = FAN().state_dict()
    sd.pop("l0.weight")
    sd["l0.bias"] = torch.zeros(69)
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": sd}, path)
    with pytest.raises(CheckpointError) as err:
        FAN(fname_pretrained=path)
    msg = str(err.value)
    assert str(path) in msg and "l0.weight" in msg and "l0.bias" in msg


def test_stargan_networks_file_is_named_as_the_wrong_file(tmp_path):
    path = tmp_path / "100000_nets_ema.ckpt"
    torch.save({"generator": {}, "mapping_network": {}, "style_encoder": {}}, path)
    with pytest.raises(CheckpointError, match="not the face-alignment network's wing.ckpt") as err:
        FAN(fname_pretrained=path)
    assert "download.sh wing" in str(err.value)


def test_missing_file_says_where_to_get_wing_ckpt(tmp_path):
    path = tmp_path / "nowhere" / "wing.ckpt"
    with pytest.raises(CheckpointError) as err:
        FAN(fname_pretrained=path)
    msg = str(err.value)
    assert str(path) in msg and "download.sh wing" in msg and WING_DEFAULT in msg
