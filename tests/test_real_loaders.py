"""Real-data loaders: export round trips, the sample photos, the CelebA split, and every bad input."""

from __future__ import annotations

import json
import os
import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from stargan_lib.data.base import AFHQ_DOMAINS, CELEBA_ATTRS, RAFD_EXPRESSIONS, ImageSet, to_uint8_image
from stargan_lib.data.datasets import domain_train_test, open_dataset, to_imageset
from stargan_lib.data.export import export_imageset, read_factors, read_manifest
from stargan_lib.data.real import (CELEBA_ALL_ATTRS, BadImageWarning, CelebADataset, FolderDataset,
                                   detect_layout, parse_celeba_attributes)
from stargan_lib.errors import DataError

SAMPLES = Path(__file__).parent / "fixtures" / "samples"


def domain_set(names, per_domain=3, size=12, seed=0, split="train", name="animals") -> ImageSet:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(names)), per_domain).astype(np.int64)
    rng.shuffle(labels)
    n = len(labels)
    factors = {"fur_hue": rng.random(n).astype(np.float32), "pattern": rng.integers(0, 4, n)}
    return ImageSet(name, split, rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), labels, list(names),
                    "domain", factors, {"seed": seed})


def binary_set(n=20, size=12, seed=0, names=CELEBA_ATTRS, split="train") -> ImageSet:
    rng = np.random.default_rng(seed)
    factors = {"skin_tone": rng.random(n).astype(np.float32)}
    return ImageSet("faces", split, rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                    rng.integers(0, 2, (n, len(names))).astype(np.float32), list(names), "binary", factors)


def pixels(ds) -> np.ndarray:
    return np.stack([to_uint8_image(ds[i][0]) for i in range(len(ds))])


def write_png(path: Path, size=8, mode="RGB", color=(10, 200, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size, size), color if mode in ("RGB", "RGBA") else color[0]).save(path)


def write_celeba(root: Path, n=6, names=CELEBA_ALL_ATTRS, lines=None, count=None, images=True) -> Path:
    """A tiny CelebA folder: 8 px PNGs and an attribute file (or the given raw lines)."""
    root.mkdir(parents=True, exist_ok=True)
    if lines is None:
        rng = np.random.default_rng(0)
        rows = [f"{k + 1:06d}.png " + " ".join(f"{v:2d}" for v in rng.choice([-1, 1], len(names))) for k in range(n)]
        lines = [str(n if count is None else count), " ".join(names)] + rows
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    if images:
        for k in range(n):
            write_png(root / "img_align_celeba" / f"{k + 1:06d}.png")
    return root


# ---------------------------------------------------------------------------------------------
# export -> real loader round trips
# ---------------------------------------------------------------------------------------------

def test_round_trip_celeba_layout_reproduces_labels_pixels_and_test_split(tmp_path):
    train, test = binary_set(n=25, seed=1), binary_set(n=7, seed=2, split="test")
    res = export_imageset(train, tmp_path / "celeba", "celeba", test_set=test)
    assert res.test_size == 7 and res.counts == {"train": 25, "test": 7}
    attr_text = (tmp_path / "celeba" / "list_attr_celeba.txt").read_text().splitlines()
    assert attr_text[0] == "32" and attr_text[1].split() == CELEBA_ALL_ATTRS
    tr = CelebADataset(tmp_path / "celeba", split="train", test_size=7, image_size=12)
    te = CelebADataset(tmp_path / "celeba", split="test", test_size=7, image_size=12)
    assert np.array_equal(tr.labels, train.labels) and np.array_equal(te.labels, test.labels)
    assert np.array_equal(pixels(tr), train.images) and np.array_equal(pixels(te), test.images)
    # attributes are selected by name, in the caller's order; the other 35 columns are all -1
    sel = CelebADataset(tmp_path / "celeba", attrs=["Young", "Black_Hair"], split="train", test_size=7, image_size=12)
    assert np.array_equal(sel.labels, train.labels[:, [4, 0]])
    table = parse_celeba_attributes(tmp_path / "celeba" / "list_attr_celeba.txt")
    others = [i for i, a in enumerate(CELEBA_ALL_ATTRS) if a not in CELEBA_ATTRS]
    assert np.all(table.values[:, others] == -1)
    # sidecar: factors in file order, manifest with the test size
    factors = read_factors(tmp_path / "celeba")
    assert np.array_equal(factors["test"]["factor/skin_tone"], test.factors["skin_tone"])
    assert [str(f) for f in factors["train"]["files"]] == [
        f"img_align_celeba/{p.name}" for p in tr.files]
    assert read_manifest(tmp_path / "celeba")["celeba_test_size"] == 7
    # without test_size, the loader takes the export's recorded held-out size (not the paper's 2,000)
    assert [p.name for p in CelebADataset(tmp_path / "celeba", split="test", image_size=12).files] == \
        [p.name for p in te.files]


def test_round_trip_folders_layout_afhq_style(tmp_path):
    train = domain_set(AFHQ_DOMAINS, per_domain=4, seed=3)
    val = domain_set(AFHQ_DOMAINS, per_domain=2, seed=4, split="test")
    res = export_imageset(train, tmp_path / "afhq", "folders", test_set=val)
    assert sorted(os.listdir(tmp_path / "afhq")) == ["export.json", "factors.npz", "train", "val"]
    assert res.data_dirs["train"] == (tmp_path / "afhq" / "train").resolve()
    for split, src in (("train", train), ("val", val)):
        ds = FolderDataset(tmp_path / "afhq" / split, image_size=12)
        assert ds.domains == AFHQ_DOMAINS
        factors = read_factors(tmp_path / "afhq")[split]
        # folder order differs from the set's order: match through the recorded file names
        order = {f"{split}/{p.parent.name}/{p.name}": k for k, p in enumerate(ds.files)}
        idx = [order[str(f)] for f in factors["files"]]
        assert np.array_equal(ds.labels[idx], src.labels)
        assert np.array_equal(pixels(ds)[idx], src.images)
        assert np.array_equal(factors["factor/pattern"], src.factors["pattern"])


def test_round_trip_rafd_layout_uses_train_and_test(tmp_path):
    train = domain_set(RAFD_EXPRESSIONS, per_domain=2, seed=5, name="expressions")
    test = domain_set(RAFD_EXPRESSIONS, per_domain=1, seed=6, split="test", name="expressions")
    export_imageset(train, tmp_path / "RaFD", test_set=test)  # default layout of "expressions" is rafd
    assert sorted(p.name for p in (tmp_path / "RaFD").iterdir() if p.is_dir()) == ["test", "train"]
    ds = open_dataset("rafd", data_dir=tmp_path / "RaFD" / "test", image_size=12)
    assert ds.domains == RAFD_EXPRESSIONS and len(ds) == 8
    assert sorted(ds.labels.tolist()) == list(range(8))
    # one --data-dir for training and evaluation: split "test" of .../train reads the sibling test/
    held = open_dataset("expressions", split="test", data_dir=tmp_path / "RaFD" / "train", image_size=12)
    assert held.root == tmp_path / "RaFD" / "test"
    assert open_dataset("expressions", data_dir=tmp_path / "RaFD" / "train", image_size=12).root.name == "train"


def test_export_refuses_non_empty_folders_and_replaces_only_exports(tmp_path):
    s = domain_set(["a", "b"], per_domain=2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="not empty.*--overwrite"):
        export_imageset(s, out, "folders")
    with pytest.raises(DataError, match="refusing to delete"):
        export_imageset(s, out, "folders", overwrite=True)
    assert (out / "mine.txt").read_text() == "keep me"
    export_imageset(s, tmp_path / "exp", "folders")
    export_imageset(domain_set(["c", "d"], per_domain=2), tmp_path / "exp", "folders", overwrite=True)
    assert sorted(os.listdir(tmp_path / "exp" / "train")) == ["c", "d"]


def test_export_failure_leaves_nothing_behind(tmp_path):
    bad = domain_set(["cat", "train"], per_domain=2)   # "train" would read as a split folder
    with pytest.raises(DataError, match="'train'"):
        export_imageset(bad, tmp_path / "out", "folders")
    assert os.listdir(tmp_path) == []


def test_export_layout_must_match_label_kind(tmp_path):
    with pytest.raises(DataError, match="layout 'celeba'"):
        export_imageset(binary_set(), tmp_path / "x", "folders")
    with pytest.raises(DataError, match="domain labels"):
        export_imageset(domain_set(["a", "b"]), tmp_path / "y", "celeba")


def test_export_accepts_non_celeba_attribute_names(tmp_path):
    s = binary_set(n=6, names=["Smiling", "Has_Wings"])
    res = export_imageset(s, tmp_path / "c", "celeba")
    assert any("Has_Wings" in n for n in res.notes)
    ds = CelebADataset(tmp_path / "c", attrs=["Has_Wings", "Smiling"], split="all", image_size=12)
    assert np.array_equal(ds.labels, s.labels[:, ::-1])


# ---------------------------------------------------------------------------------------------
# CelebA specifics
# ---------------------------------------------------------------------------------------------

def test_celeba_test_split_is_the_official_seed_1234_shuffle(tmp_path):
    n = 2100
    root = write_celeba(tmp_path / "celeba", n=n, images=False)
    img = tmp_path / "one.png"
    write_png(img)
    (root / "img_align_celeba").mkdir()
    for k in range(n):
        os.link(img, root / "img_align_celeba" / f"{k + 1:06d}.png")
    # the official recipe, stated independently: shuffle the attribute lines with random.seed(1234)
    lines = (root / "list_attr_celeba.txt").read_text().splitlines()[2:]
    state = random.getstate()
    random.seed(1234)
    random.shuffle(lines)
    random.setstate(state)
    expected_test = [line.split()[0] for line in lines[:2000]]
    test = CelebADataset(root, split="test", check_files=False)
    train = CelebADataset(root, split="train", check_files=False)
    assert len(test) == 2000 and len(train) == 100          # the paper's 2,000 test images
    assert [p.name for p in test.files] == expected_test
    assert not set(p.name for p in test.files) & set(p.name for p in train.files)


def test_celeba_crop_178_then_resize(tmp_path):
    root = write_celeba(tmp_path / "c", n=1, images=False)
    arr = np.zeros((218, 178, 3), np.uint8)
    arr[:20] = 255                      # white band at the top: cut away by the centred 178 x 178 crop
    arr[20:198] = (0, 0, 255)
    (root / "img_align_celeba").mkdir()
    Image.fromarray(arr).save(root / "img_align_celeba" / "000001.png")
    ds = CelebADataset(root, split="all", image_size=16)
    out = to_uint8_image(ds[0][0])
    assert out.shape == (16, 16, 3)
    assert np.all(out[..., 2] == 255) and np.all(out[..., 0] == 0)


def test_celeba_flip_option(tmp_path):
    root = write_celeba(tmp_path / "c", n=1, images=False)
    arr = np.zeros((16, 16, 3), np.uint8)
    arr[:, :8] = 255
    (root / "img_align_celeba").mkdir()
    Image.fromarray(arr).save(root / "img_align_celeba" / "000001.png")
    torch.manual_seed(0)
    lefts = {int(to_uint8_image(CelebADataset(root, split="all", image_size=16, flip=True)[0][0])[0, 0, 0])
             for _ in range(20)}
    assert lefts == {0, 255}
    assert to_uint8_image(CelebADataset(root, split="all", image_size=16)[0][0])[0, 0, 0] == 255


# ---------------------------------------------------------------------------------------------
# the sample photos (AFHQ, CelebA-HQ) in the StarGAN v2 layout
# ---------------------------------------------------------------------------------------------

def make_tree(tmp_path: Path, name: str) -> Path:
    """data/<name>/train/<domain>/ (two photos each) and val/ (one each), from the fixtures."""
    root = tmp_path / "data" / name
    for domain_dir in sorted((SAMPLES / name).iterdir()):
        photos = sorted(domain_dir.glob("*.jpg"))
        for split, chosen in (("train", photos), ("val", photos[:1])):
            (root / split / domain_dir.name).mkdir(parents=True)
            for p in chosen:
                shutil.copy(p, root / split / domain_dir.name / p.name)
    return root


def test_afhq_sample_photos(tmp_path):
    root = make_tree(tmp_path, "afhq")
    ds = open_dataset("afhq", data_dir=root / "train", image_size=64)
    assert ds.domains == ["cat", "dog", "wild"] and len(ds) == 6
    assert ds.labels.tolist() == [0, 0, 1, 1, 2, 2]
    x, y = ds[2]
    assert x.shape == (3, 64, 64) and y.dtype == torch.int64 and int(y) == 1
    assert -1 <= float(x.min()) < -0.5 and 0.5 < float(x.max()) <= 1   # a real photo spans the range
    # the loader's pixels are PIL's RGB conversion + bilinear resize of the file
    with Image.open(ds.files[2]) as im:
        ref = np.asarray(im.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR))
    assert np.array_equal(to_uint8_image(x), ref)
    batch = next(iter(DataLoader(ds, batch_size=6)))
    assert batch[0].shape == (6, 3, 64, 64)
    train, test = domain_train_test("afhq", root, 32)          # the evaluation protocol's two splits
    assert (len(train), len(test)) == (6, 3) and train.label_names == test.label_names == ["cat", "dog", "wild"]
    with pytest.raises(DataError, match="point --data-dir at .*train"):
        FolderDataset(root)


def test_celeba_hq_sample_photos(tmp_path):
    root = make_tree(tmp_path, "celeba_hq")
    ds = open_dataset("faces_gender", data_dir=root / "val", image_size=32)
    assert ds.domains == ["female", "male"] and ds.labels.tolist() == [0, 1]
    info = detect_layout(root)
    assert info.kind == "splits" and info.details["counts"]["train"] == {"female": 2, "male": 2}


# ---------------------------------------------------------------------------------------------
# bad input: one test each, every message names the path and the fix
# ---------------------------------------------------------------------------------------------

def test_parent_of_train_is_refused_with_the_fix(tmp_path):
    for split in ("train", "test"):
        write_png(tmp_path / "RaFD" / split / "happy" / "a.png")
    with pytest.raises(DataError) as err:
        FolderDataset(tmp_path / "RaFD")
    msg = str(err.value)
    assert str(tmp_path / "RaFD") in msg and f"point --data-dir at {tmp_path / 'RaFD' / 'train'}" in msg
    assert "'test' and 'train' would be taken as domains" in msg


def test_missing_attribute_file(tmp_path):
    root = write_celeba(tmp_path / "celeba", n=2)
    (root / "list_attr_celeba.txt").unlink()
    with pytest.raises(DataError, match=r"list_attr_celeba\.txt not found\. Download"):
        CelebADataset(root)


def test_official_v1_download_layout_with_images_folder(tmp_path):
    root = write_celeba(tmp_path / "celeba", n=3)
    (root / "img_align_celeba").rename(root / "images")
    ds = CelebADataset(root, split="all", image_size=8)
    assert len(ds) == 3 and ds.files[0].parent.name == "images"
    assert detect_layout(root).details["n_files"] == 3


def test_image_folder_given_instead_of_celeba_root(tmp_path):
    root = write_celeba(tmp_path / "celeba", n=2)
    with pytest.raises(DataError, match=f"point --data-dir at its parent {root}"):
        CelebADataset(root / "img_align_celeba")


@pytest.mark.parametrize("mutate, expected", [
    (lambda ls: ["7"] + ls[1:], r"says 7 images on line 1 but lists 3"),
    (lambda ls: ["three"] + ls[1:], r"line 1 should be the number of images"),
    (lambda ls: ls[:3] + [ls[3].rsplit(" ", 1)[0]] + ls[4:], r"line 4: expected a file name and 40 values, got 40"),
    (lambda ls: ls[:4] + [ls[4].replace(" 1", " 0", 1).replace("-1", " 0", 1)],
     r"line 5: attribute values must be 1 or -1, found '0'"),
    (lambda ls: ls[:2] + [ls[2].replace("-1", "yes", 1).replace(" 1", " yes", 1)] + ls[3:], r"line 3: .*found 'yes'"),
])
def test_garbled_attribute_file_names_the_line(tmp_path, mutate, expected):
    root = write_celeba(tmp_path / "celeba", n=3)
    lines = (root / "list_attr_celeba.txt").read_text().splitlines()
    (root / "list_attr_celeba.txt").write_text("\n".join(mutate(lines)) + "\n")
    with pytest.raises(DataError, match=expected) as err:
        CelebADataset(root)
    assert str(root / "list_attr_celeba.txt") in str(err.value) and "re-download" in str(err.value)


def test_unknown_attribute_lists_valid_names_and_suggests(tmp_path):
    root = write_celeba(tmp_path / "celeba", n=2)
    with pytest.raises(DataError) as err:
        CelebADataset(root, attrs=["Black_Hair", "Blond_Hiar"])
    msg = str(err.value)
    assert "'Blond_Hiar'" in msg and "Did you mean 'Blond_Hair'" in msg and "Wearing_Necktie" in msg


def test_corrupt_and_non_image_files_are_skipped_with_a_warning(tmp_path):
    root = tmp_path / "train"
    for k in range(3):
        write_png(root / "cat" / f"{k}.png")
        write_png(root / "dog" / f"{k}.png")
    (root / "cat" / "broken.jpg").write_bytes(b"<html>not a jpeg</html>")
    (root / "dog" / "notes.txt").write_text("hello")
    (root / "dog" / ".DS_Store").write_bytes(b"\0\1")             # hidden: ignored silently
    with pytest.warns(BadImageWarning) as rec:
        ds = FolderDataset(root, image_size=8)
    msg = " ".join(str(w.message) for w in rec)
    assert "broken.jpg" in msg and "notes.txt" in msg and ".DS_Store" not in msg and "on_bad='error'" in msg
    assert len(ds) == 6
    with pytest.raises(DataError, match=r"bad image file .*broken\.jpg.*Delete or re-download"):
        FolderDataset(root, on_bad="error")


def test_truncated_image_is_caught_at_load_time_not_deep_in_pytorch(tmp_path):
    root = tmp_path / "train"
    for k in range(2):
        write_png(root / "a" / f"{k}.png", color=(0, 0, 0))
        write_png(root / "b" / f"{k}.png", color=(255, 255, 255))
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(root / "b" / "2.jpg", quality=95)
    data = (root / "b" / "2.jpg").read_bytes()
    (root / "b" / "2.jpg").write_bytes(data[: len(data) // 2])   # header intact, pixel data cut
    ds = FolderDataset(root, image_size=8)
    assert len(ds) == 5                                           # the header check passes
    idx = [p.name for p in ds.files].index("2.jpg")
    with pytest.warns(BadImageWarning, match=r"2\.jpg"):
        x, y = ds[idx]
    assert int(y) == 1 and float(x.min()) == 1.0                  # replaced by another image of domain b
    strict = FolderDataset(root, image_size=8, on_bad="error")
    with pytest.raises(DataError, match=r"cannot read image .*2\.jpg"):
        next(iter(DataLoader(strict, batch_size=5)))


def test_empty_domain_folder(tmp_path):
    write_png(tmp_path / "train" / "cat" / "a.png")
    (tmp_path / "train" / "dog").mkdir()
    with pytest.raises(DataError, match=r"domain folder .*dog is empty.*delete"):
        FolderDataset(tmp_path / "train")


def test_domain_folder_with_only_subfolders_hints_at_the_level(tmp_path):
    write_png(tmp_path / "train" / "cat" / "cat" / "a.png")
    with pytest.raises(DataError, match="one level too high"):
        FolderDataset(tmp_path / "train")


def test_no_images_at_all(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no images at all in .*empty"):
        FolderDataset(tmp_path / "empty")
    write_png(tmp_path / "loose" / "a.png")
    with pytest.raises(DataError, match="no domain sub-folders"):
        FolderDataset(tmp_path / "loose")
    with pytest.raises(DataError, match="does not exist"):
        FolderDataset(tmp_path / "missing")


def test_all_images_unreadable_in_a_domain(tmp_path):
    write_png(tmp_path / "train" / "cat" / "a.png")
    (tmp_path / "train" / "dog").mkdir()
    (tmp_path / "train" / "dog" / "x.jpg").write_bytes(b"junk")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BadImageWarning)
        with pytest.raises(DataError, match=r"dog has no readable image"):
            FolderDataset(tmp_path / "train")


def test_missing_celeba_images_are_skipped_with_a_warning(tmp_path):
    root = write_celeba(tmp_path / "celeba", n=4)
    (root / "img_align_celeba" / "000002.png").unlink()
    with pytest.warns(BadImageWarning, match=r"000002\.png \(file not found\)"):
        ds = CelebADataset(root, split="all", image_size=8)
    assert len(ds) == 3


def test_grayscale_palette_and_rgba_become_rgb(tmp_path):
    write_png(tmp_path / "train" / "a" / "gray.png", mode="L", color=(77, 0, 0))
    write_png(tmp_path / "train" / "a" / "rgba.png", mode="RGBA", color=(1, 2, 3, 128))
    Image.new("P", (8, 8), 5).save(tmp_path / "train" / "a" / "pal.png")
    ds = FolderDataset(tmp_path / "train", image_size=8)
    imgs = {p.name: to_uint8_image(ds[k][0]) for k, p in enumerate(ds.files)}
    assert all(v.shape == (8, 8, 3) for v in imgs.values())
    assert np.all(imgs["gray.png"] == 77) and np.all(imgs["rgba.png"] == [1, 2, 3])


def test_folder_loader_refuses_a_celeba_root(tmp_path):
    root = write_celeba(tmp_path / "celeba", n=2)
    with pytest.raises(DataError, match="CelebA layout"):
        FolderDataset(root)


def test_expected_domains_mismatch(tmp_path):
    for d in ("angry", "happy"):
        write_png(tmp_path / "train" / d / "a.png")
    with pytest.raises(DataError, match=r"missing: \['contemptuous'"):
        FolderDataset(tmp_path / "train", domains=RAFD_EXPRESSIONS)


def test_detect_layout_kinds(tmp_path):
    root = write_celeba(tmp_path / "celeba", n=3)
    info = detect_layout(root)
    assert info.kind == "celeba" and info.details["n_listed"] == 3 and info.details["n_files"] == 3
    assert "--data-dir" in info.describe()
    write_png(tmp_path / "dom" / "x" / "a.png")
    assert detect_layout(tmp_path / "dom").kind == "domains"
    assert detect_layout(root / "img_align_celeba").kind == "unknown"
    assert json.loads(json.dumps(detect_layout(tmp_path / "dom").details)) == {"counts": {"x": 1}}


def test_random_resized_crop_keeps_size_and_changes_pixels(tmp_path):
    root = make_tree(tmp_path, "afhq")
    plain = FolderDataset(root / "val", image_size=32)
    cropped = FolderDataset(root / "val", image_size=32, random_crop_prob=1.0)
    torch.manual_seed(0)
    x0, x1 = plain[0][0], cropped[0][0]
    assert x1.shape == x0.shape == (3, 32, 32) and not torch.equal(x0, x1)


def test_invalid_on_bad_value(tmp_path):
    write_png(tmp_path / "train" / "a" / "x.png")
    with pytest.raises(DataError, match="on_bad='ignore' is not valid"):
        FolderDataset(tmp_path / "train", on_bad="ignore")


def test_real_dataset_to_imageset(tmp_path):
    root = make_tree(tmp_path, "afhq")
    s = to_imageset(FolderDataset(root / "val", image_size=16, flip=True), name="afhq", split="val")
    assert s.images.shape == (3, 16, 16, 3) and s.labels.tolist() == [0, 1, 2] and s.label_kind == "domain"
