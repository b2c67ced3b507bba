"""The synthetic data family: determinism, sizes, labels, factors, disk cache, intra-domain style."""

from __future__ import annotations

import numpy as np
import pytest

from stargan_lib.data import synthetic
from stargan_lib.data.base import AFHQ_DOMAINS, CELEBA_ATTRS, CELEBA_HQ_DOMAINS, RAFD_EXPRESSIONS
from stargan_lib.data.synthetic import (
    DATASETS,
    content_factors,
    describe,
    factor_names,
    make_dataset,
    paint_factors,
    render,
)
from stargan_lib.errors import ConfigError
from stargan_lib.presets import get_preset
from stargan_lib.utils import cache_dir

NAMES = list(DATASETS)


def test_dataset_names_and_labels_match_the_papers_vocabulary():
    assert NAMES == ["faces", "expressions", "animals", "faces_gender"]
    assert list(DATASETS["faces"].label_names) == CELEBA_ATTRS
    assert list(DATASETS["expressions"].label_names) == RAFD_EXPRESSIONS
    assert list(DATASETS["animals"].label_names) == AFHQ_DOMAINS
    assert list(DATASETS["faces_gender"].label_names) == CELEBA_HQ_DOMAINS
    assert DATASETS["faces"].label_kind == "binary"
    assert {DATASETS[n].label_kind for n in NAMES[1:]} == {"domain"}


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bytes_other_seed_other_images(name):
    a, b, c = render(name, 12, 16, seed=3), render(name, 12, 16, seed=3), render(name, 12, 16, seed=4)
    assert a.images.tobytes() == b.images.tobytes()
    assert np.array_equal(a.labels, b.labels)
    assert all(np.array_equal(a.factors[k], b.factors[k]) for k in a.factors)
    assert a.images.tobytes() != c.images.tobytes()


@pytest.mark.parametrize("size", [16, 32, 64, 128])
@pytest.mark.parametrize("name", NAMES)
def test_every_dataset_renders_at_every_size(name, size):
    n = 3 if size == 128 else 6
    ds = render(name, n, size, seed=0)
    assert ds.images.shape == (n, size, size, 3) and ds.images.dtype == np.uint8
    assert ds.name == name and ds.label_names == list(DATASETS[name].label_names)
    if ds.label_kind == "binary":
        assert ds.labels.shape == (n, len(ds.label_names)) and ds.labels.dtype == np.float32
    else:
        assert ds.labels.shape == (n,) and ds.labels.dtype == np.int64
    # Not a blank canvas: images have structure.
    assert ds.images.std() > 20


@pytest.mark.parametrize("name", NAMES)
def test_same_picture_at_every_resolution(name):
    """Factors do not depend on the size, and painting is resolution-free: a 128 px image
    averaged down 2x2 is (nearly) the 64 px image."""
    big, small = render(name, 4, 128, seed=5), render(name, 4, 64, seed=5)
    for k in big.factors:
        assert np.array_equal(big.factors[k], small.factors[k])
    down = big.images.astype(np.float32).reshape(4, 64, 2, 64, 2, 3).mean(axis=(2, 4))
    assert np.abs(down - small.images).mean() < 4.0          # out of 255


@pytest.mark.parametrize("name", NAMES)
def test_every_factor_recorded_with_one_value_per_image(name):
    ds = render(name, 7, 16, seed=1)
    assert sorted(ds.factors) == factor_names(name)
    for key, value in ds.factors.items():
        assert len(value) == 7, key
        assert np.isfinite(value).all(), key
    assert set(content_factors(name)) <= set(ds.factors)
    assert len(content_factors(name)) >= 3


def test_face_labels_valid_and_all_present():
    ds = render("faces", 400, 16, seed=0)
    hair = ds.labels[:, :3]
    assert set(np.unique(ds.labels)) == {0.0, 1.0}
    assert (hair.sum(1) <= 1).all(), "hair colours must be mutually exclusive"
    assert (hair.sum(1) == 0).any(), "some faces have none of the three hair colours, as in CelebA"
    assert (ds.labels.min(0) == 0).all() and (ds.labels.max(0) == 1).all()
    # Labels agree with the recorded factors.
    assert np.array_equal(ds.labels[:, 3], ds.factors["male"])
    assert np.array_equal(ds.labels[:, 4], ds.factors["young"])
    assert np.array_equal(hair.argmax(1)[hair.sum(1) == 1], ds.factors["hair_color"][hair.sum(1) == 1])


@pytest.mark.parametrize("name", ["expressions", "animals", "faces_gender"])
def test_domain_labels_in_range_and_all_present(name):
    ds = render(name, 200, 16, seed=0)
    k = len(ds.label_names)
    assert ds.labels.min() >= 0 and ds.labels.max() < k
    assert set(ds.labels.tolist()) == set(range(k))


def test_labels_are_visible_changing_a_label_factor_changes_the_picture():
    ds = render("faces", 8, 32, seed=2)
    for factor in ("male", "young", "hair_color"):
        edited = {k: v.copy() for k, v in ds.factors.items()}
        if factor == "hair_color":
            edited["hair_rgb"] = 1.0 - edited["hair_rgb"]      # a far-away colour
        else:
            edited[factor] = 1 - edited[factor]
        if factor == "male":        # the sampler couples gender with hair length and beard
            edited["hair_length"] = np.where(edited["male"] == 1, 0.0, 0.7).astype(np.float32)
            edited["beard"] = np.where(edited["male"] == 1, 1, 0)
        diff = np.abs(paint_factors("faces", edited, 32).astype(int) - ds.images).max(axis=3)
        changed_fraction = (diff > 30).mean(axis=(1, 2))
        assert (changed_fraction > 0.005).all(), (factor, changed_fraction)   # >= 6 of 1024 pixels
    assert np.array_equal(paint_factors("faces", ds.factors, 32), ds.images)


def test_animal_style_varies_inside_a_domain():
    ds = render("animals", 300, 16, seed=0)
    for k, domain in enumerate(AFHQ_DOMAINS):
        inside = ds.labels == k
        f = {key: v[inside] for key, v in ds.factors.items()}
        assert len(np.unique(f["fur_color"])) >= 6, domain
        assert set(np.unique(f["pattern"])) == {0, 1, 2}, domain
        assert len(np.unique(f["eye_color"])) >= 4, domain
        assert np.ptp(f["ear_size"]) > 0.3, domain
        # Pixel spread across images of one domain is large (not one template).
        assert ds.images[inside].astype(np.float32).std(axis=0).mean() > 25, domain
    # The recorded fur colour is what is painted: the head centre's brightness follows it.
    centre = ds.images[:, 5:9, 6:10].astype(np.float32).mean(axis=(1, 2, 3))
    fur = ds.factors["fur_rgb"].mean(1)
    assert np.corrcoef(centre, fur)[0, 1] > 0.5


def test_male_female_style_varies_inside_each_domain():
    ds = render("faces_gender", 300, 16, seed=0)
    for k, domain in enumerate(CELEBA_HQ_DOMAINS):
        inside = ds.labels == k
        assert len(np.unique(ds.factors["hair_color"][inside])) == 5, domain
        assert len(np.unique(ds.factors["young"][inside])) == 2, domain
        assert np.ptp(ds.factors["skin_tone"][inside]) > 0.8, domain
        assert ds.images[inside].astype(np.float32).std(axis=0).mean() > 25, domain
    assert np.array_equal(ds.labels, ds.factors["male"])


def test_describe_names_what_varies():
    for name in NAMES:
        text = describe(name)
        assert name in text and "Inside a domain" in text
        assert all(label in text for label in DATASETS[name].label_names)


def test_unknown_names_and_bad_arguments_give_clear_errors():
    with pytest.raises(ConfigError, match="faces_gender"):
        render("celeba", 4, 16)
    with pytest.raises(ConfigError, match="animals"):
        describe("afhq")
    with pytest.raises(ConfigError, match="image_size"):
        render("faces", 4, 4)
    with pytest.raises(ConfigError, match="non-negative"):
        render("faces", -1, 16)
    with pytest.raises(ConfigError, match="split"):
        make_dataset("faces", split="val", n=4, image_size=16, cache=False)


def test_make_dataset_caches_on_disk_and_reloads(tmp_cache, monkeypatch):
    first = make_dataset("animals", "train", n=20, image_size=16, seed=1)
    files = list(cache_dir("data").glob("*.npz"))
    assert len(files) == 1 and "animals" in files[0].name

    def no_render(*args, **kwargs):
        raise AssertionError("render called although the set is cached")

    monkeypatch.setattr(synthetic, "render", no_render)
    second = make_dataset("animals", "train", n=20, image_size=16, seed=1)
    assert second.images.tobytes() == first.images.tobytes()
    assert np.array_equal(second.labels, first.labels)
    assert second.label_names == first.label_names and second.label_kind == first.label_kind
    assert sorted(second.factors) == sorted(first.factors)
    for k in first.factors:
        assert np.array_equal(second.factors[k], first.factors[k]) and second.factors[k].dtype == first.factors[k].dtype
    assert second.split == "train" and second.params == first.params


def test_cache_is_keyed_by_parameters(tmp_cache):
    a = make_dataset("faces", "train", n=10, image_size=16)
    make_dataset("faces", "train", n=10, image_size=32)
    make_dataset("faces", "train", n=10, image_size=16, seed=1)
    b = make_dataset("faces", "test", n=10, image_size=16)
    assert len(list(cache_dir("data").glob("*.npz"))) == 4
    assert a.images.tobytes() != b.images.tobytes(), "train and test must be drawn from different seeds"
    # No temporary files left behind by the atomic writes.
    assert not [p for p in cache_dir("data").iterdir() if p.suffix != ".npz"]


def test_unreadable_cache_file_is_rendered_again(tmp_cache):
    ds = make_dataset("expressions", "test", n=6, image_size=16)
    (path,) = cache_dir("data").glob("*.npz")
    path.write_bytes(b"not an npz file")
    with pytest.warns(UserWarning, match="unreadable"):
        again = make_dataset("expressions", "test", n=6, image_size=16)
    assert again.images.tobytes() == ds.images.tobytes()


def test_make_dataset_defaults_come_from_the_preset(tmp_cache):
    smoke = get_preset("smoke")
    train = make_dataset("faces_gender", "train", preset="smoke", cache=False)
    test = make_dataset("faces_gender", "test", preset=smoke, cache=False)
    assert len(train) == smoke.n_train and len(test) == smoke.n_test
    assert train.image_size == test.image_size == smoke.image_size
    assert list(cache_dir("data").glob("*.npz")) == []


# SHA-256 of render(name, 6, 32, seed=1): images, labels, then every factor by name. Pinned before the
# renderer was split into modules (canvas, faces, animals, registry), so a refactor that changes a
# single pixel or factor fails here. A deliberate change of the pictures bumps RENDERER_VERSION
# (which also invalidates the disk caches) and updates these hashes.
RENDER_SHA256 = {
    "faces": "04feb0c8bb87385696152d5914beaf9306c6961753c228074e7e07e42a575c0f",
    "expressions": "49380de9d0c3e9dff581e41d6cbcb0f02e85051c13452cf5864027743ae34de5",
    "animals": "a2b1d3f7d3e3f1e0b01c8c6e360e113914960b4b2ad918b16619c93c6ec36920",
    "faces_gender": "b1e109921ff232e63fcbbbed56b1c1eb54caeb5b8ccb46697cf8c6940084ec2b",
}


@pytest.mark.parametrize("name", NAMES)
def test_rendered_bytes_are_pinned(name):
    import hashlib

    ds = render(name, 6, 32, seed=1)
    h = hashlib.sha256(ds.images.tobytes())
    h.update(np.ascontiguousarray(ds.labels).tobytes())
    for k in sorted(ds.factors):
        h.update(k.encode())
        h.update(np.ascontiguousarray(ds.factors[k]).tobytes())
    assert synthetic.RENDERER_VERSION == 1
    assert h.hexdigest() == RENDER_SHA256[name]
