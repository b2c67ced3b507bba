"""The StarGAN v2 evaluation protocol (Appendix C): pairs, modes, seeding, JSON results.

One test runs the real networks end to end on a few images; the bookkeeping tests replace the
Inception feature extractor by a cheap stand-in (a fixed projection of the pixels), which is said
where it is done, so that they take a fraction of a second per run.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
import torch

from stargan_lib.data.base import ImageSet
from stargan_lib.errors import ConfigError, DataError
from stargan_lib.metrics import fid_metric, protocol
from stargan_lib.metrics.fid_metric import FIDSampleSizeWarning
from stargan_lib.metrics.protocol import EvalConfig, evaluate_protocol


def _domain_set(split: str, per_domain: int, size: int = 32, seed: int = 0) -> ImageSet:
    """Two domains: reddish and bluish noise images (uint8)."""
    rng = np.random.default_rng(seed + (split == "test"))
    imgs, labels = [], []
    for d in range(2):
        x = rng.integers(0, 120, (per_domain, size, size, 3))
        x[..., 0 if d == 0 else 2] += 120
        imgs.append(x.astype(np.uint8))
        labels += [d] * per_domain
    return ImageSet("toy", split, np.concatenate(imgs), np.array(labels, np.int64), ["red", "blue"], "domain")


def latent_fn(x, y, z):                                   # colour shift chosen by z
    return (x + 0.5 * torch.tanh(z[:, :3])[:, :, None, None]).clamp(-1, 1)


def reference_fn(x, y, x_ref):                            # blend with the reference
    return 0.5 * x + 0.5 * x_ref


def det_fn(x, y):                                         # one output per source
    return x.flip(-1)


@pytest.fixture
def stub_features(monkeypatch):
    """Stand-in for Inception: a fixed random projection of 8x8-pooled pixels to 64 dims."""
    proj = torch.randn(3 * 8 * 8, 64, generator=torch.Generator().manual_seed(0))

    def features(images, batch_size=50, device="auto", progress=True, quantize=True, desc=""):
        from stargan_lib.metrics.images import as_image_batches

        xs = torch.cat(list(as_image_batches(images).iterate(10_000)))
        pooled = torch.nn.functional.adaptive_avg_pool2d(xs, 8).flatten(1)
        return (pooled @ proj).numpy().astype(np.float64)

    monkeypatch.setattr(protocol, "inception_features", features)
    monkeypatch.setattr(fid_metric, "inception_features", features)


def test_real_networks_end_to_end(tmp_cache):
    train, test = _domain_set("train", 2), _domain_set("test", 4)
    cfg = EvalConfig(n_sources=1, n_outputs=3, device="cpu")
    with pytest.warns(FIDSampleSizeWarning):
        res = evaluate_protocol(train, test, latent_fn=latent_fn, reference_fn=reference_fn, cfg=cfg,
                                progress=False)
    assert set(res["modes"]) == {"latent", "reference"}
    for mode in res["modes"].values():
        assert set(mode["pairs"]) == {"red->blue", "blue->red"}
        for p in mode["pairs"].values():
            assert p["n_images"] == 3 and p["n_sources"] == 1
            assert np.isfinite(p["fid"]) and p["fid"] > 0
            assert p["lpips"] > 0
        assert mode["fid"] == pytest.approx(np.mean([p["fid"] for p in mode["pairs"].values()]))
    assert res["n_sources"] == {"red": 1, "blue": 1} and res["real_images"] == {"red": 2, "blue": 2}
    json.dumps(res)


def test_modes_pairs_and_json(stub_features, tmp_cache):
    train, test = _domain_set("train", 6), _domain_set("test", 5)
    cfg = EvalConfig(n_sources=2, n_outputs=4, batch_size=1, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FIDSampleSizeWarning)
        res = evaluate_protocol(train, test, latent_fn=latent_fn, reference_fn=reference_fn, cfg=cfg,
                                progress=False, dataset="toy")
        det = evaluate_protocol(train, test, det_fn=det_fn, cfg=cfg, progress=False, dataset="toy")
        no_boot = evaluate_protocol(train, test, latent_fn=latent_fn, cfg=dataclasses.replace(cfg, bootstrap=0),
                                    progress=False, dataset="toy")
    lat = res["modes"]["latent"]["pairs"]["red->blue"]
    assert lat["n_images"] == 8 and lat["n_sources"] == 2
    # diversity: the latent generator varies, so LPIPS > 0; deterministic: LPIPS undefined
    assert res["modes"]["latent"]["lpips"] > 0
    # its standard error over the 2 sources of each pair, and of the mean over pairs
    assert lat["lpips_se"] is not None and lat["lpips_se"] >= 0
    # without a bootstrap: the pairs' errors in quadrature; with it (the default): over the sources
    pair_se = [p["lpips_se"] for p in no_boot["modes"]["latent"]["pairs"].values()]
    assert no_boot["modes"]["latent"]["lpips_se"] == pytest.approx(np.sqrt(np.sum(np.square(pair_se))) / len(pair_se))
    assert no_boot["modes"]["latent"]["fid_se"] is None and no_boot["modes"]["latent"]["bootstrap"] == 0
    boot = res["modes"]["latent"]
    assert boot["bootstrap"] == cfg.bootstrap and boot["fid_se"] > 0 and boot["lpips_se"] > 0
    assert boot["lpips_se"] != no_boot["modes"]["latent"]["lpips_se"]
    assert det["modes"]["deterministic"]["fid_se"] > 0 and "lpips_se" in det["modes"]["deterministic"]
    d = det["modes"]["deterministic"]
    assert d["lpips"] is None and all(p["lpips"] is None for p in d["pairs"].values())
    # deterministic mode translates n_sources x n_outputs sources (capped by the 5 test images)
    assert d["pairs"]["red->blue"]["n_images"] == 5
    assert json.loads(json.dumps(det))["modes"]["deterministic"]["lpips"] is None


def test_seeded_and_reproducible(stub_features, tmp_cache):
    train, test = _domain_set("train", 4), _domain_set("test", 4)
    run = lambda seed: evaluate_protocol(  # noqa: E731
        train, test, latent_fn=latent_fn, reference_fn=reference_fn,
        cfg=EvalConfig(n_sources=2, n_outputs=3, seed=seed, device="cpu"), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FIDSampleSizeWarning)
        a, b, c = run(0), run(0), run(1)
    strip = lambda r: {m: {k: v for k, v in s.items() if k != "seconds"} for m, s in r["modes"].items()}  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_latent_codes_and_references_as_in_appendix_c(stub_features, tmp_cache):
    # 10 fresh z per source ~ N(0, I); references drawn from the target domain's test images.
    seen = {"z": [], "refs": []}
    train, test = _domain_set("train", 3), _domain_set("test", 12)

    def lat(x, y, z):
        seen["z"].append(z)
        return latent_fn(x, y, z)

    def ref(x, y, x_ref):
        seen["refs"].append((y.clone(), x_ref.clone()))
        return reference_fn(x, y, x_ref)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FIDSampleSizeWarning)
        evaluate_protocol(train, test, latent_fn=lat, reference_fn=ref,
                          cfg=EvalConfig(n_sources=3, n_outputs=10, latent_dim=16, device="cpu"), progress=False)
    z = torch.cat(seen["z"])
    assert z.shape == (2 * 3 * 10, 16)                      # 2 pairs x 3 sources x 10 outputs
    assert abs(float(z.mean())) < 0.15 and abs(float(z.std()) - 1) < 0.1
    test_t = torch.from_numpy(test.images).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    for y, x_ref in seen["refs"]:
        pool = test_t[torch.from_numpy(test.labels) == int(y[0])]
        for r in x_ref:                                     # every reference is a test image of the target domain
            assert (pool - r).abs().flatten(1).max(1).values.min() < 1e-6


def test_oracle_scores_per_pair(stub_features, tmp_cache):
    class Oracle:
        label_kind = "domain"
        label_names = ["red", "blue"]

        def predict(self, x):
            m = x.mean(dim=(2, 3))
            return {"logits": torch.stack([m[:, 0], m[:, 2]], 1), "factors": {"mean": x.mean((1, 2, 3))}}

    def swap(x, y):                                          # red <-> blue: reaches the target domain
        return x[:, [2, 1, 0]]

    train, test = _domain_set("train", 3), _domain_set("test", 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FIDSampleSizeWarning)
        res = evaluate_protocol(train, test, det_fn=swap, oracle=Oracle(),
                                cfg=EvalConfig(n_sources=3, n_outputs=1, device="cpu"), progress=False)
    d = res["modes"]["deterministic"]
    assert d["accuracy"] == 1.0 and d["classification_error"] == 0.0
    assert d["pairs"]["red->blue"]["content_error"] == pytest.approx(0.0, abs=1e-6)


def test_bad_configurations(stub_features, tmp_cache):
    train, test = _domain_set("train", 2), _domain_set("test", 2)
    with pytest.raises(ConfigError, match="at least one of"):
        evaluate_protocol(train, test, progress=False)
    binary = ImageSet("faces", "train", train.images, np.zeros((len(train), 5), np.float32), list("abcde"), "binary")
    with pytest.raises(DataError, match="domain labels"):
        evaluate_protocol(binary, test, det_fn=det_fn, progress=False)
    other = ImageSet("toy", "test", test.images, test.labels, ["cat", "dog"], "domain")
    with pytest.raises(DataError, match="differ"):
        evaluate_protocol(train, other, det_fn=det_fn, progress=False)
    with pytest.raises(DataError, match="shape"):
        evaluate_protocol(train, test, det_fn=lambda x, y: x[:, :, :8], progress=False,
                          cfg=EvalConfig(n_sources=1, device="cpu"))
