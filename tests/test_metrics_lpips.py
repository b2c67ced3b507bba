"""LPIPS on the real AlexNet v0.1 weights: the LPIPS authors' reference values, pairwise == per pair.

Needs the weights from `stargan weights` (run by `make setup`); without them the tests fail with
the message that says how to get them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from stargan_lib.errors import DataError
from stargan_lib.metrics.images import load_image_tensor
from stargan_lib.metrics.lpips_metric import (build_lpips, diversity_lpips, load_lpips, lpips_distance,
                                              naive_diversity_lpips)
from stargan_lib.metrics.weights import alexnet_features_state
from stargan_lib.paths import lpips_reference_dir


@pytest.fixture(scope="module")
def ref_dir():
    return lpips_reference_dir()


def test_reference_values_from_files(ref_dir):
    # The LPIPS authors' example: ex_ref vs ex_p0 = 0.722, vs ex_p1 = 0.138 (alex, v0.1).
    d0 = lpips_distance(ref_dir / "ex_ref.png", ref_dir / "ex_p0.png", device="cpu")
    d1 = lpips_distance(ref_dir / "ex_ref.png", ref_dir / "ex_p1.png", device="cpu")
    assert isinstance(d0, float)
    assert round(d0, 3) == 0.722
    assert round(d1, 3) == 0.138


def test_reference_values_from_tensors_batched(ref_dir):
    ref = load_image_tensor(ref_dir / "ex_ref.png")
    p = torch.stack([load_image_tensor(ref_dir / "ex_p0.png"), load_image_tensor(ref_dir / "ex_p1.png")])
    d = lpips_distance(ref, p, device="cpu")            # one image against a batch of two
    assert d.shape == (2,)
    assert [round(float(v), 3) for v in d] == [0.722, 0.138]
    # uint8 input gives the same numbers; identical images are at distance 0
    p_u8 = ((p + 1) * 127.5).round().to(torch.uint8)
    assert torch.allclose(lpips_distance(ref, p_u8, device="cpu"), d, atol=1e-6)
    assert float(lpips_distance(ref, ref, device="cpu")) == pytest.approx(0.0, abs=1e-7)


def test_build_is_quiet_and_loads_every_trunk_weight(capsys):
    trunk, source = alexnet_features_state()
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # torchvision's `pretrained` warning must not leak
        net = build_lpips(trunk)
    assert capsys.readouterr().out == ""             # no "Setting up [LPIPS]..." print
    for key, value in trunk.items():
        _, idx, kind = key.split(".")
        slice_no = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}[int(idx)]
        loaded = net.net.state_dict()[f"slice{slice_no}.{idx}.{kind}"]
        assert torch.equal(loaded, value), key


def test_pairwise_diversity_equals_per_pair_network():
    torch.manual_seed(0)
    base = torch.rand(3, 1, 3, 48, 48) * 2 - 1
    outputs = (base + 0.4 * torch.randn(3, 10, 3, 48, 48)).clamp(-1, 1)   # 3 sources x 10 outputs
    fast, per_source = diversity_lpips(outputs, device="cpu", per_source=True)
    slow = naive_diversity_lpips(outputs, device="cpu")
    assert per_source.shape == (3,)
    assert fast > 0.01
    assert abs(fast - slow) < 1e-5
    # one source's (K, 3, H, W) works too and equals that source's entry
    assert diversity_lpips(outputs[1], device="cpu") == pytest.approx(per_source[1], abs=1e-6)


def test_diversity_is_zero_for_identical_outputs_and_grows_with_spread():
    torch.manual_seed(1)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    same = x.expand(5, -1, -1, -1)
    assert diversity_lpips(same, device="cpu") == pytest.approx(0.0, abs=1e-7)
    vals = [diversity_lpips((x + s * torch.randn(5, 3, 32, 32)).clamp(-1, 1), device="cpu") for s in (0.05, 0.3)]
    assert vals[0] < vals[1]


def test_small_images_are_upsampled_not_rejected():
    # AlexNet needs >= 31 px; the smoke preset's 16 px images are upsampled to 32 px (documented deviation).
    torch.manual_seed(2)
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    assert diversity_lpips(x, device="cpu") > 0
    assert abs(diversity_lpips(x, device="cpu") - naive_diversity_lpips(x, device="cpu")) < 1e-5


def test_diversity_is_measured_at_256_px():
    # Outputs below DIVERSITY_SIZE are upsampled bilinearly to 256 px first (documented deviation);
    # size=None measures them as they are, which gives another number.
    import torch.nn.functional as F

    from stargan_lib.metrics.lpips_metric import DIVERSITY_SIZE

    torch.manual_seed(3)
    x = (torch.rand(1, 3, 32, 32) * 2 - 1 + 0.3 * torch.randn(6, 3, 32, 32)).clamp(-1, 1)
    up = F.interpolate(x, size=(DIVERSITY_SIZE, DIVERSITY_SIZE), mode="bilinear", align_corners=False)
    assert DIVERSITY_SIZE == 256
    assert diversity_lpips(x, device="cpu") == pytest.approx(diversity_lpips(up, device="cpu", size=None), abs=1e-6)
    assert abs(diversity_lpips(x, device="cpu") - diversity_lpips(x, device="cpu", size=None)) > 1e-3
    assert diversity_lpips(x, device="cpu", size=64) == pytest.approx(naive_diversity_lpips(x, device="cpu", size=64),
                                                                      abs=1e-5)


def test_bad_inputs(tmp_path, ref_dir):
    from PIL import Image

    small = tmp_path / "small.png"
    Image.new("RGB", (32, 32)).save(small)
    with pytest.raises(DataError, match="same size"):
        lpips_distance(ref_dir / "ex_ref.png", small, device="cpu")
    with pytest.raises(DataError, match="at least 2 outputs"):
        diversity_lpips(torch.zeros(3, 1, 3, 32, 32), device="cpu")
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        lpips_distance(torch.full((1, 3, 32, 32), 255.0), torch.zeros(1, 3, 32, 32), device="cpu")


def test_cached_network_is_reused():
    assert load_lpips("cpu") is load_lpips("cpu")
