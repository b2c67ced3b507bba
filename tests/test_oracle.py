"""Oracle classifiers: they learn at a tiny size, cache their weights, and read factors back."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from stargan_lib.data import oracle as oracle_mod
from stargan_lib.data.oracle import Oracle, evaluate_oracle, get_oracle, oracle_path, train_oracle
from stargan_lib.data.synthetic import content_factors, make_dataset, render
from stargan_lib.errors import DataError
from stargan_lib.presets import Preset

# A preset small enough for a test: 16 px, a few hundred images, a few epochs (about a second).
TINY = Preset(name="tiny", image_size=16, n_train=480, n_test=150, oracle_epochs=4, eval_sources=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train the tiny animals oracle once for this module; keep its saved file's bytes."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STARGAN_CACHE", str(tmp_path_factory.mktemp("oracle_cache")))
        oracle = get_oracle("animals", preset=TINY, progress=False, device="cpu")
        blob = oracle_path("animals", TINY.image_size, TINY.n_train, TINY.oracle_epochs).read_bytes()
    return oracle, blob


@pytest.fixture
def animals_oracle(trained) -> Oracle:
    return trained[0]


@pytest.fixture
def cached_oracle(trained, tmp_cache) -> Oracle:
    """The tiny oracle, with its weights file placed in this test's empty cache."""
    path = oracle_path("animals", TINY.image_size, TINY.n_train, TINY.oracle_epochs)
    path.write_bytes(trained[1])
    return trained[0]


def test_tiny_oracle_beats_chance_clearly(animals_oracle):
    m = animals_oracle.metrics
    assert m["n"] == TINY.n_test and m["preset"] == "tiny"
    assert m["overall_accuracy"] > 0.75           # chance is 1/3
    assert m["min_accuracy"] > 0.5
    assert set(m["accuracy"]) == {"cat", "dog", "wild"}
    assert set(m["r2"]) == set(content_factors("animals"))
    assert m["r2"]["background"] > 0.5            # the regression head reads the scene colour


def test_binary_oracle_learns_attributes(tmp_cache):
    train = render("faces", 480, 16, seed=11)
    train.name = "faces"
    oracle = train_oracle(train, epochs=4, progress=False)
    test = render("faces", 150, 16, seed=12)
    m = evaluate_oracle(oracle, test)
    majority = np.maximum(test.labels.mean(0), 1 - test.labels.mean(0))
    accs = np.array([m["accuracy"][k] for k in test.label_names])
    assert (accs >= majority - 0.02).all()         # never worse than always answering the majority
    assert accs.mean() > majority.mean() + 0.08     # and clearly better on average


def test_cached_oracle_reloads_with_identical_predictions(cached_oracle, monkeypatch):
    animals_oracle = cached_oracle
    path = oracle_path("animals", TINY.image_size, TINY.n_train, TINY.oracle_epochs)
    assert path.is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although the oracle is cached")

    monkeypatch.setattr(oracle_mod, "train_oracle", no_training)
    again = get_oracle("animals", preset=TINY, progress=False, device="cpu")
    x, _ = make_dataset("animals", "test", preset=TINY).tensors()
    a, b = animals_oracle.predict(x), again.predict(x)
    assert torch.equal(a["logits"], b["logits"])
    for k in a["factors"]:
        assert torch.equal(a["factors"][k], b["factors"][k])
    assert again.metrics == animals_oracle.metrics


def test_retrain_trains_again(cached_oracle, monkeypatch):
    calls = []
    real = oracle_mod.train_oracle
    monkeypatch.setattr(oracle_mod, "train_oracle", lambda *a, **k: calls.append(1) or real(*a, **k))
    get_oracle("animals", preset=TINY, progress=False, device="cpu", retrain=True)
    assert calls == [1]


def test_corrupt_oracle_cache_is_replaced_with_a_warning(cached_oracle):
    path = oracle_path("animals", TINY.image_size, TINY.n_train, TINY.oracle_epochs)
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="training the oracle again"):
        fresh = get_oracle("animals", preset=TINY, progress=False, device="cpu")
    assert isinstance(fresh, Oracle)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_oracle("animals", preset=TINY, progress=False, device="cpu")   # loads cleanly now


def test_predict_shapes_and_units(animals_oracle):
    ds = render("animals", 10, 16, seed=3)
    x, _ = ds.tensors()
    out = animals_oracle.predict(x)
    assert out["logits"].shape == (10, 3) and out["labels"].shape == (10,) and out["labels"].dtype == torch.long
    assert torch.allclose(out["probs"].sum(1), torch.ones(10), atol=1e-5)
    assert list(out["factors"]) == content_factors("animals")
    assert out["factors"]["pos_x"].shape == (10,) and out["factors"]["background"].shape == (10, 3)
    # Factors come back in the dataset's units, not standardised ones.
    assert 0.3 < float(out["factors"]["head_size"].mean()) < 0.7
    # Another image size is resized to the oracle's.
    big, _ = render("animals", 4, 32, seed=3).tensors()
    assert animals_oracle.predict(big)["labels"].shape == (4,)


def test_binary_predict_returns_attribute_vectors(tmp_cache):
    train = render("faces", 64, 16, seed=1)
    oracle = train_oracle(train, epochs=1, progress=False)
    out = oracle.predict(train.tensors()[0][:5])
    assert out["labels"].shape == (5, 5) and set(out["labels"].unique().tolist()) <= {0.0, 1.0}
    assert ((out["probs"] >= 0) & (out["probs"] <= 1)).all()


def test_predict_rejects_wrong_inputs(animals_oracle):
    ds = render("animals", 2, 16, seed=0)
    with pytest.raises(DataError, match="uint8"):
        animals_oracle.predict(torch.from_numpy(ds.images).permute(0, 3, 1, 2))
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        animals_oracle.predict(torch.from_numpy(ds.images).permute(0, 3, 1, 2).float())
    with pytest.raises(DataError, match="B, 3, H, W"):
        animals_oracle.predict(torch.zeros(2, 16, 16))


def test_evaluate_refuses_another_dataset(animals_oracle):
    with pytest.raises(DataError, match="get_oracle"):
        evaluate_oracle(animals_oracle, render("faces", 4, 16))


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_network_works_at_every_course_size(size):
    from stargan_lib.data.oracle import OracleNet

    logits, factors = OracleNet(5, 7, size)(torch.zeros(2, 3, size, size))
    assert logits.shape == (2, 5) and factors.shape == (2, 7)
