"""Hardening of what the commands write (issue: hostile CLI sweep, items 2, 6, 7, 9, 10).

2. `stargan data export --overwrite` never deletes files an export did not write;
6. files are created with the user's umask (not the 0600 of a temporary file);
7. one flag for the run folder: `--out` (no `--out-dir` beside it), recorded in the checkpoint;
9. every sampler treats `--n 0` and negative counts alike (refused, before any work);
10. FIGURES_JSON is strict JSON: infinities become null.
"""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import torch

from stargan_lib.cli import main
from stargan_lib.errors import ConfigError, DataError


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# ============================================================================ 10. strict FIGURES_JSON
def test_figures_json_writes_infinities_as_null(tmp_path):
    from stargan_lib.figures import write_figures

    path = write_figures(tmp_path / "f.json", {"fid": float("inf"), "lpips": -np.inf, "nan": np.float32("nan"),
                                               "target_acc_x": float("inf"), "n": 3},
                         fractions=("target_acc_",))
    text = path.read_text()
    assert "Infinity" not in text and "NaN" not in text
    # the strictest reader: a non-standard constant is an error
    obj = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert obj == {"fid": None, "lpips": None, "nan": None, "target_acc_x": None, "n": 3}


def test_figures_json_torch_infinity_is_null(tmp_path):
    from stargan_lib.figures import write_figures

    path = write_figures(tmp_path / "f.json", {"loss": torch.tensor(float("inf"))})
    assert json.loads(path.read_text()) == {"loss": None}


# ============================================================================ 9. --n of every sampler
@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A finished smoke run of every model (one iteration each)."""
    root = tmp_path_factory.mktemp("runs")
    os.environ.setdefault("STARGAN_THREADS", "1")
    for model in ("cyclegan", "stargan_v1", "stargan_v2"):
        assert main(["train", model, "--preset", "smoke", "--out", str(root / model), "--total-iters", "1",
                     "--sample-every", "0", "--no-progress", "--device", "cpu"]) == 0
    return {m: root / m / "checkpoint.pt" for m in ("cyclegan", "stargan_v1", "stargan_v2")}


@pytest.mark.parametrize("model", ["cyclegan", "stargan_v1", "stargan_v2"])
@pytest.mark.parametrize("n", ["0", "-3"])
def test_every_sampler_refuses_a_non_positive_count_alike(capsys, tmp_path, checkpoints, model, n):
    with pytest.raises(SystemExit) as exc:
        main(["sample", str(checkpoints[model]), "--out", str(tmp_path / "g.png"), "--preset", "smoke", "--n", n])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--n: expected a positive integer" in err and "Traceback" not in err
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize("model", ["cyclegan", "stargan_v1", "stargan_v2"])
def test_every_sampler_refuses_a_non_positive_count_from_python(tmp_path, checkpoints, model):
    from stargan_lib.train.registry import sample_run

    with pytest.raises(ConfigError, match=r"--n 0: give a positive number"):
        sample_run(str(checkpoints[model]), tmp_path / "g.png", n=0, preset="smoke")


@pytest.mark.parametrize("model", ["cyclegan", "stargan_v1", "stargan_v2"])
def test_every_sampler_writes_one_row_per_image(capsys, tmp_path, checkpoints, model):
    code, out, err = run(capsys, "sample", checkpoints[model], "--out", tmp_path / "g.png", "--preset", "smoke",
                         "--n", "1")
    assert code == 0 and (tmp_path / "g.png").is_file(), err


# ============================================================================ 7. one flag for the run folder
def test_train_has_one_run_folder_flag_and_records_it(capsys, tmp_path, checkpoints):
    with pytest.raises(SystemExit):
        main(["train", "stargan_v2", "--preset", "smoke", "--out", str(tmp_path / "a"), "--out-dir",
              str(tmp_path / "b"), "--total-iters", "1"])
    assert "unrecognized arguments: --out-dir" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    state = torch.load(checkpoints["stargan_v2"], weights_only=True)
    assert state["config"]["out_dir"] == str(checkpoints["stargan_v2"].parent)   # what was trained where


def test_params_has_no_run_folder_flag(capsys):
    with pytest.raises(SystemExit):
        main(["params", "stargan_v2", "--preset", "smoke", "--out-dir", "x"])
    assert "unrecognized arguments: --out-dir" in capsys.readouterr().err


# ============================================================================ 6. the user's umask
@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield 0o640
    finally:
        os.umask(old)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_writes_follow_the_umask(tmp_path, umask_027):
    from stargan_lib.utils import atomic_torch_save, atomic_write_bytes, write_json

    atomic_write_bytes(tmp_path / "a.bin", b"x")
    atomic_torch_save({"x": 1}, tmp_path / "b.pt")
    write_json(tmp_path / "c.json", {"a": 1})
    assert [mode(tmp_path / n) for n in ("a.bin", "b.pt", "c.json")] == [umask_027] * 3
    os.umask(0o022)
    atomic_write_bytes(tmp_path / "a.bin", b"y")                 # a rewrite gets the current umask's mode
    assert mode(tmp_path / "a.bin") == 0o644


def test_a_training_run_and_the_cache_follow_the_umask(capsys, tmp_path, tmp_cache, umask_027):
    out = tmp_path / "run"
    code, _, err = run(capsys, "train", "cyclegan", "--preset", "smoke", "--out", out, "--total-iters", "2",
                       "--sample-every", "1", "--no-progress", "--device", "cpu")
    assert code == 0, err
    files = [out / "checkpoint.pt", out / "history.csv", *sorted((out / "samples").iterdir())]
    cached = [p for p in tmp_cache.rglob("*") if p.is_file()]
    assert cached, "the synthetic data was not cached"
    assert {p: mode(p) for p in files + cached} == {p: umask_027 for p in files + cached}


# ============================================================================ 2. export --overwrite
def export(capsys, out, *extra):
    return run(capsys, "data", "export", "animals", "--out", out, "--preset", "smoke", "--n", "6", "--n-test", "3",
               "--size", "16", "--no-progress", *extra)


def test_export_overwrite_refuses_a_folder_holding_other_files(capsys, tmp_path, tmp_cache):
    out = tmp_path / "exp"
    assert export(capsys, out)[0] == 0
    keep = {out / "checkpoint.pt": b"weights", out / "notes" / "todo.txt": b"notes",
            out / "train" / "cat" / "mine.png": b"a picture of my own"}
    domain = next(d for d in (out / "train").iterdir())
    keep[out / "train" / domain.name / "mine.png"] = keep.pop(out / "train" / "cat" / "mine.png")
    for path, data in keep.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    code, _, err = export(capsys, out, "--overwrite", "--seed", "1")
    assert code == 2 and "files it did not write" in err and "checkpoint.pt" in err and "notes/" in err
    assert f"train/{domain.name}/mine.png" in err
    assert all(path.read_bytes() == data for path, data in keep.items())
    # once the user's files are moved out, --overwrite replaces the earlier export
    for path in keep:
        path.unlink()
    (out / "notes").rmdir()
    code, _, err = export(capsys, out, "--overwrite", "--seed", "1")
    assert code == 0, err
    assert json.loads((out / "export.json").read_text())["params"]["seed"] == 1


def test_export_leftovers_lists_only_foreign_files(tmp_path):
    from stargan_lib.data.export import export_imageset, export_leftovers
    from stargan_lib.data.synthetic import make_dataset

    train = make_dataset("faces", "train", n=4, image_size=16, preset="smoke")
    export_imageset(train, tmp_path / "x")
    assert export_leftovers(tmp_path / "x") == []
    (tmp_path / "x" / "img_align_celeba" / "extra.jpg").write_bytes(b"")
    (tmp_path / "x" / "empty").mkdir()
    assert sorted(export_leftovers(tmp_path / "x")) == ["empty/", "img_align_celeba/extra.jpg"]
    with pytest.raises(DataError, match="files it did not write"):
        export_imageset(train, tmp_path / "x", overwrite=True)
    assert (tmp_path / "x" / "img_align_celeba" / "extra.jpg").exists()
