"""Oracle metrics: target accuracy / classification error and content preservation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stargan_lib.errors import DataError
from stargan_lib.metrics.oracle_metrics import (classification_error, content_preservation, oracle_scores,
                                                target_accuracy)


class ColourOracle:
    """A fake domain oracle: the domain is the brightest colour channel (R, G, B); the content
    factors are the image's mean brightness and the horizontal centre of mass of its brightness."""

    label_kind = "domain"
    label_names = ["red", "green", "blue"]

    def predict(self, x):
        logits = x.mean(dim=(2, 3)) * 10                           # (B, 3)
        gray = (x.mean(1) + 1) / 2                                 # (B, H, W) in [0, 1]
        cols = torch.linspace(0, 1, x.shape[-1])
        com = (gray.sum(1) * cols).sum(1) / gray.sum((1, 2)).clamp_min(1e-6)
        return {"logits": logits, "factors": {"brightness": gray.mean((1, 2)), "com_x": com}}


class AttrOracle:
    """A fake binary oracle with two attributes read from the R and G channel means."""

    label_kind = "binary"
    label_names = ["reddish", "greenish"]

    def predict(self, x):
        return x.mean(dim=(2, 3))[:, :2] * 10, torch.stack([x.mean((1, 2, 3))], 1)


def _images(colours, n_side=8, seed=0):
    """One image per colour index with a random blob (content) on a dim background."""
    g = torch.Generator().manual_seed(seed)
    out = torch.full((len(colours), 3, n_side, n_side), -0.8)
    for i, c in enumerate(colours):
        col = int(torch.randint(0, n_side - 2, (1,), generator=g))
        out[i, c, :, col:col + 2] = 0.2 + 0.6 * float(torch.rand(1, generator=g))
    return out


def test_domain_accuracy_and_error():
    oracle = ColourOracle()
    y_trg = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    produced = [0, 1, 2, 0, 2, 2, 1, 1]          # two of eight wrong
    x_fake = _images(produced)
    res = target_accuracy(oracle, x_fake, y_trg)
    assert res["accuracy"] == pytest.approx(6 / 8)
    assert res["classification_error"] == pytest.approx(2 / 8)
    assert classification_error(oracle, x_fake, y_trg) == pytest.approx(0.25)
    assert res["per_label"] == pytest.approx({"red": 2 / 3, "green": 2 / 3, "blue": 1.0})
    with pytest.raises(DataError, match="target labels"):
        target_accuracy(oracle, x_fake, y_trg[:3])


def test_binary_accuracy():
    oracle = AttrOracle()
    x = torch.zeros(4, 3, 4, 4)
    x[0, 0], x[1, 1], x[2, :2] = 0.5, 0.5, 0.5                    # (1,0), (0,1), (1,1), (0,0)
    y = torch.tensor([[1, 0], [0, 1], [1, 0], [0, 0]], dtype=torch.float32)   # image 2 has an extra attribute
    res = target_accuracy(oracle, x, y)
    assert res["accuracy"] == pytest.approx(7 / 8)
    assert res["exact_match"] == pytest.approx(3 / 4)
    assert res["per_label"] == pytest.approx({"reddish": 1.0, "greenish": 0.75})


def test_content_kept_exactly_vs_lost():
    oracle = ColourOracle()
    x_src = _images([0] * 16, seed=1)
    kept = x_src[:, [1, 0, 2]]                     # recoloured red -> green, same blob: content kept
    lost = _images([1] * 16, seed=99)              # other blobs: content lost
    a = content_preservation(oracle, x_src, kept)
    b = content_preservation(oracle, x_src, lost)
    assert a["error"] == pytest.approx(0.0, abs=1e-6) and a["corr"] == pytest.approx(1.0, abs=1e-5)
    assert b["error"] > 0.1 and b["corr"] < 0.9
    assert set(a["per_factor"]) == {"brightness", "com_x"}
    assert a["error_shuffled"] > a["error"]


def test_oracle_scores_bundle():
    oracle = ColourOracle()
    x_src = _images([0] * 6, seed=2)
    x_fake = x_src[:, [2, 1, 0]]                    # red -> blue
    s = oracle_scores(oracle, x_src, x_fake, torch.full((6,), 2))
    assert s.accuracy == 1.0 and s.classification_error == 0.0
    assert s.content_error == pytest.approx(0.0, abs=1e-6)
    d = s.to_dict()
    assert d["n"] == 6 and "per_factor" in d


def test_with_the_course_oracle(tmp_cache):
    # The real oracle API (smoke preset: trains in seconds). An identity "translation" to the true
    # domain keeps the content exactly, whatever the oracle's quality.
    from stargan_lib.data.oracle import get_oracle
    from stargan_lib.data.synthetic import make_dataset

    oracle = get_oracle("animals", preset="smoke", progress=False, device="cpu")
    test = make_dataset("animals", "test", preset="smoke")
    x, y = test.tensors()
    s = oracle_scores(oracle, x[:12], x[:12], y[:12])
    assert 0.0 <= s.accuracy <= 1.0
    assert s.content_error == pytest.approx(0.0, abs=1e-6)
    assert set(s.per_factor) == set(oracle.factor_names)
    assert not math.isnan(s.content_error_shuffled)
    # accuracy on the true labels equals the oracle's own accuracy on these images
    pred = oracle.predict(x[:12])["labels"].numpy()
    assert s.accuracy == pytest.approx(float(np.mean(pred == y[:12].numpy())))
