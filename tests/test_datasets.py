"""Torch datasets, images grouped by domain, the endless loader and the mask-vector joint loader."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stargan_lib.data.base import CELEBA_ATTRS, RAFD_EXPRESSIONS, ImageSet
from stargan_lib.data.datasets import (ImageSetDataset, InfiniteLoader, JointLoader, domain_arrays, domain_groups,
                                       domain_indices, domain_train_test, make_unified_label, open_dataset,
                                       split_unified_label, to_imageset)
from stargan_lib.errors import ConfigError, DataError


def binary_set(n=12, size=8, seed=0, names=CELEBA_ATTRS) -> ImageSet:
    rng = np.random.default_rng(seed)
    return ImageSet("faces", "train", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                    rng.integers(0, 2, (n, len(names))).astype(np.float32), list(names), "binary")


def domain_set(counts=(4, 3, 5), size=8, seed=0, names=None, name="animals") -> ImageSet:
    rng = np.random.default_rng(seed)
    names = names or [f"d{k}" for k in range(len(counts))]
    labels = np.concatenate([np.full(c, k) for k, c in enumerate(counts)]).astype(np.int64)
    rng.shuffle(labels)
    n = len(labels)
    return ImageSet(name, "train", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), labels,
                    list(names), "domain")


# ---------------------------------------------------------------------------------------------
# item interfaces
# ---------------------------------------------------------------------------------------------

def test_binary_items_are_float_multi_hot_and_images_in_range():
    s = binary_set()
    x, c = ImageSetDataset(s)[3]
    assert x.shape == (3, 8, 8) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert c.dtype == torch.float32 and torch.equal(c, torch.from_numpy(s.labels[3]))
    # pixel mapping: 0 -> -1, 255 -> +1
    expected = torch.from_numpy(s.images[3]).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.allclose(x, expected)


def test_domain_items_are_int64():
    s = domain_set()
    x, y = ImageSetDataset(s)[5]
    assert y.dtype == torch.int64 and int(y) == int(s.labels[5])


def test_flip_mirrors_width_only():
    s = binary_set(n=1)
    ds = ImageSetDataset(s, flip=True)
    seen = set()
    torch.manual_seed(0)
    for _ in range(30):
        x, _ = ds[0]
        plain = ImageSetDataset(s)[0][0]
        if torch.equal(x, plain):
            seen.add("plain")
        elif torch.equal(x, plain.flip(-1)):
            seen.add("flipped")
        else:
            pytest.fail("flip changed the image in a way other than a horizontal mirror")
    assert seen == {"plain", "flipped"}


def test_bad_imageset_is_refused():
    s = binary_set()
    s.images = s.images.astype(np.float32)
    with pytest.raises(DataError, match="uint8"):
        ImageSetDataset(s)


def test_to_imageset_round_trip():
    s = domain_set()
    back = to_imageset(ImageSetDataset(s))
    assert np.array_equal(back.images, s.images) and np.array_equal(back.labels, s.labels)


# ---------------------------------------------------------------------------------------------
# images grouped by domain, and the endless loader
# ---------------------------------------------------------------------------------------------

def test_domain_groups_and_indices_first_and_last_per_domain():
    labels = np.array([2, 0, 1, 0, 2, 0, 1])
    assert [g.tolist() for g in domain_groups(labels, 4)] == [[1, 3, 5], [2, 6], [0, 4], []]
    assert domain_indices(labels, 3).tolist() == [1, 3, 5, 2, 6, 0, 4]
    assert domain_indices(labels, 3, per_domain=2).tolist() == [1, 3, 2, 6, 0, 4]
    assert domain_indices(labels, 3, per_domain=1, last=True).tolist() == [5, 6, 4]
    assert domain_indices(labels, 3, per_domain=5, last=True).tolist() == [1, 3, 5, 2, 6, 0, 4]
    assert domain_indices(labels, 4, per_domain=1).tolist() == [1, 2, 0]       # an empty domain adds nothing
    with pytest.raises(DataError, match="domain labels"):
        domain_indices(np.zeros((4, 5)), 5)


def test_domain_arrays_from_imageset_dataset_and_dict():
    s = domain_set(counts=(2, 3, 1))
    names, arrays, name = domain_arrays(s)
    assert names == list(s.label_names) and name == s.name and [len(a) for a in arrays] == [2, 3, 1]
    assert np.array_equal(arrays[1], s.images[s.labels == 1])
    names2, arrays2, _ = domain_arrays(ImageSetDataset(s))              # a torch Dataset: loaded into memory
    assert names2 == names and all(np.array_equal(a, b) for a, b in zip(arrays, arrays2))
    names3, arrays3, name3 = domain_arrays({"x": arrays[0], "y": arrays[1]})
    assert names3 == ["x", "y"] and name3 == "custom" and arrays3[1] is not None
    with pytest.raises(DataError, match="domain labels"):
        domain_arrays(binary_set())
    with pytest.raises(DataError, match="test images of domain 'x'.*uint8"):
        domain_arrays({"x": arrays[0].astype(np.float32)}, "test")
    with pytest.raises(DataError, match="ImageSet, a torch Dataset"):
        domain_arrays(42)


def test_domain_train_test_errors_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="synthetic and needs no --data-dir"):
        domain_train_test("animals", tmp_path, 16)
    with pytest.raises(ConfigError, match="pass --data-dir"):
        domain_train_test("afhq", None, 16)
    with pytest.raises(DataError, match=f"{tmp_path}.*train/ and val/"):
        domain_train_test("afhq", tmp_path, 16)
    with pytest.raises(ConfigError, match="unknown evaluation dataset 'faces'"):
        domain_train_test("faces", None, 16)


def test_infinite_loader_crosses_epochs_and_is_seeded():
    s = domain_set(counts=(4, 3, 3))
    ds = ImageSetDataset(s)
    loader = InfiniteLoader(ds, batch_size=4, seed=1)
    assert len(loader) == 2  # drop_last: 10 // 4
    batches = [next(loader) for _ in range(7)]  # 3.5 epochs
    assert loader.epoch == 3 and loader.step_in_epoch == 1
    assert all(b[0].shape == (4, 3, 8, 8) for b in batches)
    # epochs differ in order, and the same seed replays them
    e0, e1 = loader.epoch_batches(0), loader.epoch_batches(1)
    assert e0 != e1
    replay = InfiniteLoader(ds, batch_size=4, seed=1)
    for b in batches:
        assert torch.equal(next(replay)[0], b[0])
    other = InfiniteLoader(ds, batch_size=4, seed=2)
    assert other.epoch_batches(0) != e0


def test_infinite_loader_resumes_from_state():
    ds = ImageSetDataset(domain_set(counts=(5, 5)))
    a = InfiniteLoader(ds, batch_size=3, seed=0)
    for _ in range(4):
        next(a)
    state = a.state_dict()
    expected = [next(a)[1] for _ in range(5)]
    b = InfiniteLoader(ds, batch_size=3, seed=0)
    b.load_state_dict(state)
    got = [next(b)[1] for _ in range(5)]
    assert all(torch.equal(e, g) for e, g in zip(expected, got))
    with pytest.raises(DataError, match="seed"):
        InfiniteLoader(ds, batch_size=3, seed=9).load_state_dict(state)


def test_loader_smaller_than_a_batch_is_a_clear_error():
    with pytest.raises(DataError, match="fewer than one batch of 16"):
        InfiniteLoader(ImageSetDataset(domain_set(counts=(2, 2))), batch_size=16)


# ---------------------------------------------------------------------------------------------
# StarGAN v1 mask vector (Sec. 3.2, Eq. 7)
# ---------------------------------------------------------------------------------------------

def test_unified_label_layout_for_celeba():
    c = torch.tensor([[1.0, 0, 0, 1, 1], [0, 1, 0, 0, 0]])
    u = make_unified_label(c, 0)
    assert u.shape == (2, 15)
    assert torch.equal(u[:, :5], c)
    assert torch.equal(u[:, 5:13], torch.zeros(2, 8))          # RaFD label unknown -> zeros
    assert torch.equal(u[:, 13:], torch.tensor([[1.0, 0], [1.0, 0]]))  # mask [1, 0]


def test_unified_label_layout_for_rafd_from_indices_and_one_hot():
    y = torch.tensor([4, 0, 7])
    u = make_unified_label(y, 1)
    assert torch.equal(u[:, :5], torch.zeros(3, 5))
    assert torch.equal(u[:, 5:13], torch.nn.functional.one_hot(y, 8).float())
    assert torch.equal(u[:, 13:], torch.tensor([[0.0, 1]] * 3))
    assert torch.equal(make_unified_label(torch.nn.functional.one_hot(y, 8).float(), 1), u)
    parts, m = split_unified_label(u)
    assert torch.equal(parts[1].argmax(1), y) and torch.equal(m[:, 1], torch.ones(3))


def test_unified_label_general_dims_and_errors():
    u = make_unified_label(torch.tensor([1, 2]), 2, dims=(2, 3, 4))
    assert u.shape == (2, 2 + 3 + 4 + 3)
    assert u[:, -3:].tolist() == [[0, 0, 1], [0, 0, 1]]
    with pytest.raises(DataError, match="dataset_index=2"):
        make_unified_label(torch.zeros(2, 5), 2)
    with pytest.raises(DataError, match=r"\(B, 5\)"):
        make_unified_label(torch.zeros(2, 4), 0)
    with pytest.raises(DataError, match="out of range"):
        make_unified_label(torch.tensor([8]), 1)


def test_joint_loader_alternates_and_labels_follow_eq7():
    celeba = ImageSetDataset(binary_set(n=10))
    rafd = ImageSetDataset(domain_set(counts=(2,) * 8, names=RAFD_EXPRESSIONS, name="expressions"))
    joint = JointLoader([celeba, rafd], batch_size=4, seed=0)
    assert joint.label_dim == 15
    seen = []
    for _ in range(6):
        i, x, y = next(joint)                       # each dataset's own labels; c̃ is built from them once
        seen.append(i)
        assert y.shape == ((4, 5) if i == 0 else (4,))
        c_tilde = make_unified_label(y, i, joint.dims)
        assert x.shape == (4, 3, 8, 8) and c_tilde.shape == (4, 15)
        (c1, c2), m = split_unified_label(c_tilde)
        assert torch.equal(m, torch.eye(2)[[i] * 4])
        if i == 0:
            assert torch.equal(c2, torch.zeros(4, 8))
            assert set(c1.unique().tolist()) <= {0.0, 1.0}
        else:
            assert torch.equal(c1, torch.zeros(4, 5))
            assert torch.equal(c2.sum(1), torch.ones(4))   # one-hot expression
    assert seen == [0, 1, 0, 1, 0, 1]


def test_joint_loader_resumes_and_checks_sizes():
    celeba = ImageSetDataset(binary_set(n=10))
    rafd = ImageSetDataset(domain_set(counts=(2,) * 8, names=RAFD_EXPRESSIONS))
    a = JointLoader([celeba, rafd], batch_size=2, seed=5)
    for _ in range(3):
        next(a)
    b = JointLoader([celeba, rafd], batch_size=2, seed=5)
    b.load_state_dict(a.state_dict())
    ia, xa, ca = next(a)
    ib, xb, cb = next(b)
    assert ia == ib == 1 and torch.equal(xa, xb) and torch.equal(ca, cb)
    big = ImageSetDataset(domain_set(counts=(2,) * 8, size=16, names=RAFD_EXPRESSIONS))
    mixed = JointLoader([celeba, big], batch_size=2)
    next(mixed)
    with pytest.raises(DataError, match="same image_size"):
        next(mixed)


# ---------------------------------------------------------------------------------------------
# domain count check and the one entry point
# ---------------------------------------------------------------------------------------------

def test_open_dataset_synthetic(tmp_path, monkeypatch):
    monkeypatch.setenv("STARGAN_CACHE", str(tmp_path))
    ds = open_dataset("expressions", split="test", n=16, image_size=16, preset="smoke")
    x, y = ds[0]
    assert x.shape == (3, 16, 16) and y.dtype == torch.int64
    assert ds.label_names == RAFD_EXPRESSIONS
    with pytest.raises(DataError, match="--data-dir"):
        open_dataset("afhq")
    with pytest.raises(DataError, match="unknown dataset"):
        open_dataset("mnist")


def test_models_train_on_the_presets_train_size_and_the_oracles_on_n_train():
    # Preset.train_sizes: the papers' size ratios (RaFD small beside CelebA); every trainer opens its
    # data through open_dataset, which applies it to the "train" split only.
    import dataclasses

    from stargan_lib.data.datasets import open_dataset
    from stargan_lib.presets import PRESETS

    p = dataclasses.replace(PRESETS["smoke"], train_sizes={"expressions": 40})
    assert len(open_dataset("expressions", "train", preset=p)) == 40
    assert len(open_dataset("faces", "train", preset=p)) == p.n_train
    assert len(open_dataset("expressions", "test", preset=p)) == p.n_test
    assert PRESETS["course"].train_size("expressions") == 1200 < PRESETS["course"].train_size("faces") == 6000
