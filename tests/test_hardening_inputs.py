"""Issue 13, image inputs: 16-bit images, truncated JPEGs, FID across sizes, misplaced --data-dir,
CelebA without its attribute file, symbolic link loops and the --on-bad flag."""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stargan_lib.cli import build_parser, main
from stargan_lib.data.base import to_uint8_image
from stargan_lib.data.datasets import open_dataset
from stargan_lib.data.image_files import BadImageWarning, bad_image_policy, load_rgb, to_rgb
from stargan_lib.data.real import CelebADataset, FolderDataset, detect_layout
from stargan_lib.errors import DataError
from stargan_lib.metrics.images import ImageModeWarning, as_image_batches, load_image_uint8

RNG = np.random.default_rng(13)
GRAY = RNG.integers(0, 256, (40, 40), dtype=np.uint8)
RGB = RNG.integers(0, 256, (40, 40, 3), dtype=np.uint8)


def write_png_16bit_rgb(path: Path, rgb16: np.ndarray) -> None:
    """A 16-bit-per-channel RGB PNG (PIL cannot write one), chunk by chunk."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[i].astype(">u2").tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def save_gray_pair(folder: Path) -> tuple[Path, Path]:
    """The same grayscale picture as an 8-bit and as a 16-bit PNG (value * 257, i.e. exact)."""
    folder.mkdir(parents=True, exist_ok=True)
    p8, p16 = folder / "gray8.png", folder / "gray16.png"
    Image.fromarray(GRAY).save(p8)
    Image.fromarray(GRAY.astype(np.uint16) * 257).save(p16)
    assert Image.open(p16).mode == "I;16"                       # really a 16-bit file
    return p8, p16


def write_domains(root: Path, domains=("cat", "dog"), n=3, size=16) -> Path:
    for d in domains:
        (root / d).mkdir(parents=True, exist_ok=True)
        for k in range(n):
            Image.fromarray(RNG.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / d / f"{k}.png")
    return root


def truncated_jpeg(path: Path) -> Path:
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])                      # header intact, pixel data cut
    return path


# ------------------------------------------------------------------------------ item 2: 16-bit images

def test_16bit_grayscale_reads_like_its_8bit_copy_in_the_loaders_and_the_metrics(tmp_path):
    p8, p16 = save_gray_pair(tmp_path / "train" / "gray")
    # training loaders
    a, b = np.asarray(load_rgb(p8, None)), np.asarray(load_rgb(p16, None))
    assert np.array_equal(a, b) and np.array_equal(a[..., 0], GRAY)
    ds = FolderDataset(tmp_path / "train", image_size=None)
    x = {p.name: to_uint8_image(ds[k][0]).astype(int) for k, p in enumerate(ds.files)}
    assert np.abs(x["gray8.png"] - x["gray16.png"]).max() <= 1
    # metrics
    with pytest.warns(ImageModeWarning) as rec:
        m8, m16 = load_image_uint8(p8), load_image_uint8(p16)
    assert np.array_equal(m8, m16) and np.array_equal(m16[..., 1], GRAY)
    msg16 = str(rec[1].message)
    assert "I;16" in msg16 and "16-bit grayscale scaled to 8 bits" in msg16 and "replicated" in msg16


def test_16bit_big_endian_and_16bit_rgb(tmp_path):
    big = Image.frombytes("I;16B", (40, 40), (GRAY.astype(np.uint16) * 257).astype(">u2").tobytes())
    assert np.array_equal(np.asarray(to_rgb(big))[..., 2], GRAY)
    rgb16 = np.minimum(RGB.astype(np.uint32) * 257 + 100, 65535)      # low bytes not zero
    write_png_16bit_rgb(tmp_path / "rgb16.png", rgb16)
    assert np.abs(load_image_uint8(tmp_path / "rgb16.png").astype(int) - RGB).max() <= 1
    assert np.abs(np.asarray(load_rgb(tmp_path / "rgb16.png", None)).astype(int) - RGB).max() <= 1


def test_float_images_are_refused_with_the_path(tmp_path):
    path = tmp_path / "f.tif"
    Image.fromarray(GRAY.astype(np.float32) / 255).save(path)
    with pytest.raises(DataError, match=r"f\.tif.*float image"):
        load_image_uint8(path)


def test_lpips_between_8bit_and_16bit_copies_is_zero(tmp_path, capsys):
    p8, p16 = save_gray_pair(tmp_path)
    assert main(["lpips", str(p8), str(p16), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert float(captured.out.strip()) == pytest.approx(0.0, abs=1e-6)
    assert "16-bit grayscale scaled" in captured.err


# ------------------------------------------------------------------------------ item 3: data info --check

def test_data_info_check_decodes_every_image(tmp_path, capsys):
    root = write_domains(tmp_path / "train")
    bad = truncated_jpeg(root / "dog" / "cut.jpg")
    FolderDataset(root)                                            # the fast header check lets it through
    assert main(["data", "info", str(root), "--check", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "checked" in out and "6 readable images" in out
    assert str(bad) in out and "truncated" in out
    assert main(["data", "info", str(root), "--check", "--no-progress", "--on-bad", "error"]) == 2
    assert str(bad) in capsys.readouterr().err


# ------------------------------------------------------------------------------ item 4: FID across sizes

def test_fid_warns_when_the_two_sets_differ_in_size(tmp_path, capsys):
    small = write_domains(tmp_path / "a", domains=("x",), n=3, size=16) / "x"
    large = write_domains(tmp_path / "b", domains=("x",), n=3, size=32) / "x"
    assert main(["fid", str(small), str(large), "--device", "cpu", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "different image sizes" in err and "16x16" in err and "32x32" in err
    assert "299" in err and "resolution" in err
    assert main(["fid", str(small), str(small), "--device", "cpu", "--quiet"]) == 0
    assert "different image sizes" not in capsys.readouterr().err


def test_size_warning_without_the_network():
    import torch

    from stargan_lib.metrics.fid_metric import FIDImageSizeWarning, warn_if_sizes_differ

    a = as_image_batches(torch.zeros(2, 3, 16, 16), where="A")
    b = as_image_batches(torch.zeros(2, 3, 32, 32), where="B")
    with pytest.warns(FIDImageSizeWarning, match="A is 16x16 px, B is 32x32 px"):
        warn_if_sizes_differ(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_sizes_differ(a, as_image_batches(torch.zeros(1, 3, 16, 16)))


# ------------------------------------------------------------------------------ item 7: --data-dir one level too deep

def test_a_domain_folder_as_data_dir_points_at_its_parent(tmp_path, capsys):
    train = write_domains(tmp_path / "afhq" / "train", domains=("cat", "dog", "wild"))
    with pytest.raises(DataError) as err:
        FolderDataset(train / "cat")
    msg = str(err.value)
    assert f"Point --data-dir at {train} " in msg and "dog" in msg and "wild" in msg
    assert "cat/cat" not in msg and "cat/dog" not in msg
    assert main(["data", "info", str(train / "cat")]) == 1
    assert f"Point --data-dir at {train} " in capsys.readouterr().out
    # a folder of loose images with no sibling domains: put them in a domain folder
    loose = tmp_path / "loose"
    loose.mkdir()
    Image.fromarray(RGB).save(loose / "a.png")
    with pytest.raises(DataError, match=r"no domain sub-folders.*move these images into .*loose/<domain>/"):
        FolderDataset(loose)


# ------------------------------------------------------------------------------ item 8: CelebA without attributes

def test_celeba_folder_without_the_attribute_file(tmp_path, capsys):
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    Image.fromarray(RGB).save(root / "img_align_celeba" / "000001.jpg")
    assert main(["data", "info", str(root)]) == 1
    out = capsys.readouterr().out
    assert "no list_attr_celeba.txt" in out and str(root / "list_attr_celeba.txt") in out
    assert "CelebA layout (list_attr_celeba.txt" not in out
    assert detect_layout(root).kind == "unknown"
    with pytest.raises(DataError, match=r"list_attr_celeba\.txt not found.*next to img_align_celeba"):
        CelebADataset(root)


# ------------------------------------------------------------------------------ item 9: symbolic link loops

def test_a_symlink_to_itself_is_skipped_with_a_warning_or_an_error(tmp_path, capsys):
    root = write_domains(tmp_path / "train")
    loop = root / "cat" / "loop.png"
    os.symlink(loop, loop)
    with pytest.warns(BadImageWarning, match=r"loop\.png \(symbolic link loop"):
        ds = FolderDataset(root, image_size=8)
    assert len(ds) == 6 and loop not in ds.files
    with pytest.raises(DataError, match=r"loop\.png: symbolic link loop"):
        FolderDataset(root, on_bad="error")
    assert detect_layout(root).details["counts"] == {"cat": 3, "dog": 3}
    # a looping link where a domain folder would be is named too, not dropped silently
    os.symlink(root / "bird", root / "bird")
    with pytest.warns(BadImageWarning, match=r"bird \(symbolic link loop"):
        assert detect_layout(root).details["counts"] == {"cat": 3, "dog": 3}
    (root / "bird").unlink()
    assert main(["data", "info", str(root), "--check", "--no-progress"]) == 0
    assert "symbolic link loop" in capsys.readouterr().out
    # the metrics: an error by default, left out with a warning under on_bad="skip"
    with pytest.raises(DataError, match=r"loop\.png: symbolic link loop.*--on-bad skip"):
        as_image_batches(root / "cat")
    with pytest.warns(BadImageWarning, match=r"loop\.png"):
        assert as_image_batches(root / "cat", on_bad="skip").count == 3


def test_celeba_image_that_is_a_symlink_loop(tmp_path):
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    names = ["000001.png", "000002.png", "000003.png"]
    for name in names[:2]:
        Image.fromarray(RGB).save(root / "img_align_celeba" / name)
    os.symlink(root / "img_align_celeba" / names[2], root / "img_align_celeba" / names[2])
    attrs = "Black_Hair Blond_Hair Brown_Hair Male Young"
    (root / "list_attr_celeba.txt").write_text(f"3\n{attrs}\n" + "".join(f"{n} 1 -1 -1 1 1\n" for n in names))
    with pytest.warns(BadImageWarning, match=r"000003\.png \(symbolic link loop"):
        assert len(CelebADataset(root, split="all", image_size=8)) == 2


# ------------------------------------------------------------------------------ item 11: --on-bad

def test_every_command_that_reads_images_takes_on_bad():
    parser = build_parser()
    commands = [["data", "info", "d"], ["data", "preview", "d"], ["fid", "a", "b"], ["eval", "c", "--dataset", "afhq"],
                ["sample", "c", "--out", "o.png"], ["ablation", "--dataset", "afhq", "--data-dir", "d"]] + [
                   ["train", m, "--out", "o"] for m in
                                                     ("cyclegan", "stargan_v1", "stargan_v2")]
    for argv in commands:
        assert parser.parse_args(argv + ["--on-bad", "error"]).on_bad == "error", argv
        assert parser.parse_args(argv + ["--on-bad", "skip"]).on_bad == "skip", argv
    assert parser.parse_args(["fid", "a", "b"]).on_bad == "error"          # the metrics are strict by default
    assert parser.parse_args(["data", "info", "d"]).on_bad == "skip"       # as the loaders
    with pytest.raises(SystemExit):
        parser.parse_args(["data", "info", "d", "--on-bad", "ignore"])


def test_warnings_name_the_flag_and_the_python_argument(tmp_path):
    root = write_domains(tmp_path / "train")
    (root / "dog" / "junk.jpg").write_bytes(b"not a jpeg")
    with pytest.warns(BadImageWarning) as rec:
        FolderDataset(root)
    msg = str(rec[0].message)
    assert "on_bad='error'" in msg and "--on-bad error" in msg
    with pytest.raises(DataError) as err:
        FolderDataset(root, on_bad="error")
    assert "on_bad='skip'" in str(err.value) and "--on-bad skip" in str(err.value)


def test_bad_image_policy_reaches_loaders_opened_inside(tmp_path):
    root = write_domains(tmp_path / "train")
    (root / "dog" / "junk.jpg").write_bytes(b"not a jpeg")
    with bad_image_policy("error"):
        with pytest.raises(DataError, match=r"junk\.jpg"):
            open_dataset("afhq", data_dir=root, image_size=8)
        with pytest.warns(BadImageWarning):                 # an explicit argument still wins
            open_dataset("afhq", data_dir=root, image_size=8, on_bad="skip")
    with pytest.warns(BadImageWarning):                     # back to the default outside the block
        open_dataset("afhq", data_dir=root, image_size=8)
    with pytest.raises(DataError, match="'skip'.*'error'"):
        with bad_image_policy("warn"):
            pass


def test_train_on_bad_error_stops_at_the_bad_file(tmp_path, capsys):
    root = write_domains(tmp_path / "afhq" / "train", domains=("cat", "dog", "wild"))
    loop = root / "wild" / "loop.png"
    os.symlink(loop, loop)
    argv = ["train", "stargan_v2", "--preset", "smoke", "--dataset", "afhq", "--data-dir", str(root),
            "--out", str(tmp_path / "run"), "--no-progress", "--on-bad", "error"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(loop) in err and "symbolic link loop" in err and "Traceback" not in err


def test_ablation_on_bad_reaches_the_experiment_data(tmp_path):
    # `stargan ablation --on-bad` is passed to each experiment notebook as ON_BAD, then to prepare
    from stargan_lib import ablation
    from stargan_lib.data.image_files import BadImageWarning

    root = tmp_path / "afhq"
    for split in ("train", "val"):
        write_domains(root / split, domains=("cat", "dog", "wild"), n=3, size=16)
    (root / "train" / "dog" / "junk.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="junk.jpg"):
        ablation.prepare("A", "smoke", dataset="afhq", data_dir=str(root), out_dir=tmp_path / "out1", on_bad="error")
    with pytest.warns(BadImageWarning, match="junk.jpg"):
        exp = ablation.prepare("A", "smoke", dataset="afhq", data_dir=str(root), out_dir=tmp_path / "out2",
                               on_bad="skip")
    assert len(exp.train) == 9
