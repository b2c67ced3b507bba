"""`stargan data export|preview|info` through `stargan_lib.cli.main`, and once as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stargan_lib.cli import main
from stargan_lib.data.base import AFHQ_DOMAINS, CELEBA_ATTRS
from stargan_lib.data.datasets import open_dataset
from stargan_lib.data.export import read_factors, read_manifest
from stargan_lib.data.real import FolderDataset
from stargan_lib.data.synthetic import make_dataset

SAMPLES = Path(__file__).parent / "fixtures" / "samples"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STARGAN_CACHE", str(tmp_path / "cache"))


def test_export_animals_then_load_with_the_real_loader(tmp_path, capsys):
    out = tmp_path / "afhq"
    rc = main(["data", "export", "animals", "--out", str(out), "--preset", "smoke", "--n", "24", "--n-test", "12",
               "--size", "16", "--seed", "3", "--no-progress"])
    assert rc == 0
    assert f"--data-dir {out.resolve() / 'train'}" in capsys.readouterr().out
    train = FolderDataset(out / "train", image_size=16)
    assert train.domains == AFHQ_DOMAINS and len(train) == 24
    expected = make_dataset("animals", "train", n=24, image_size=16, seed=3, preset="smoke")
    factors = read_factors(out)["train"]
    order = {f"train/{p.parent.name}/{p.name}": k for k, p in enumerate(train.files)}
    idx = [order[str(f)] for f in factors["files"]]
    assert np.array_equal(train.labels[idx], expected.labels)
    x, _ = train[idx[0]]
    assert np.array_equal(((x.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy(), expected.images[0])
    assert set(expected.factors) <= {k.split("/", 1)[1] for k in factors if k.startswith("factor/")}
    assert read_manifest(out)["layout"] == "folders"


def test_export_faces_celeba_layout(tmp_path, capsys):
    out = tmp_path / "celeba"
    assert main(["data", "export", "faces", "--out", str(out), "--preset", "smoke", "--n", "20", "--n-test", "5",
                 "--no-progress"]) == 0
    assert "first 5 lines" in capsys.readouterr().out
    ds = open_dataset("celeba", split="test", data_dir=out, image_size=16)   # test size read from export.json
    expected = make_dataset("faces", "test", n=5, image_size=16, preset="smoke")
    assert np.array_equal(ds.labels, expected.labels) and ds.label_names == CELEBA_ATTRS


def test_export_refuses_a_non_empty_folder(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "x").write_text("")
    rc = main(["data", "export", "expressions", "--out", str(out), "--preset", "smoke", "--n", "8", "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--overwrite" in err and "Traceback" not in err


def test_export_validates_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["data", "export", "animals", "--out", str(tmp_path / "o"), "--n", "0"])
    assert e.value.code == 2 and "positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "export", "cats", "--out", str(tmp_path / "o")])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "export", "animals", "--out", str(tmp_path / "o"), "--size", "4"])
    assert "too small" in capsys.readouterr().err


def test_preview_synthetic_writes_a_grid_with_every_domain(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["data", "preview", "animals", "--out", str(out), "--n", "6", "--nrow", "3", "--preset", "smoke"]) == 0
    text = capsys.readouterr().out
    with Image.open(out) as im:
        w, h = im.size
    assert w > h > 0                                   # 3 columns x 2 rows
    assert [line.split()[-1] for line in text.splitlines()[1:]] == ["cat", "dog", "wild"] * 2


def test_preview_a_real_folder(tmp_path, capsys):
    out = tmp_path / "samples.png"
    assert main(["data", "preview", str(SAMPLES / "celeba_hq"), "--out", str(out), "--n", "4", "--size", "32"]) == 0
    assert out.is_file()
    assert "female" in capsys.readouterr().out
    assert main(["data", "preview", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "neither a synthetic dataset" in capsys.readouterr().err


def test_info_describes_layouts_and_the_data_dir(tmp_path, capsys):
    root = tmp_path / "afhq"
    for domain in ("cat", "dog"):
        (root / "train" / domain).mkdir(parents=True)
        for p in sorted((SAMPLES / "afhq" / domain).glob("*.jpg")):
            os.link(p, root / "train" / domain / p.name)
    (root / "train" / "dog" / "bad.jpg").write_bytes(b"nope")
    assert main(["data", "info", str(root)]) == 0
    out = capsys.readouterr().out
    assert "split folders train" in out and "cat (2)" in out and f"--data-dir {root / 'train'}" in out
    assert main(["data", "info", str(root / "train"), "--check", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "4 readable images" in out and "bad.jpg" in out
    assert main(["data", "info", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_module_help_as_a_subprocess():
    res = subprocess.run([sys.executable, "-m", "stargan_lib", "data", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    for word in ("export", "preview", "info"):
        assert word in res.stdout
