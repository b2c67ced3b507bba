"""Hardening of the command-line inputs (issue: hostile CLI sweep, items 4 and 5).

4. every numeric config field is validated for every model, in Python and on the command line: NaN and
   infinity, negative values where only positive ones make sense, sizes that cannot be allocated, and a
   learning-rate decay longer than the run; the error names the flag, the value and a value that works;
5. every output path is checked before work starts: a folder that cannot be created or written, a file
   where a folder is wanted and the reverse, a cache ($STARGAN_CACHE) that is a file or read-only.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from stargan_lib.cli import main
from stargan_lib.models.stargan_v2_config import StarGANv2Config, make_config, validate
from stargan_lib.errors import ConfigError
from stargan_lib.models.cyclegan import CycleGANConfig
from stargan_lib.models.stargan_v1 import StarGANv1Config


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# ============================================================================ 4. numbers
BAD_FLAGS = [
    ("cyclegan", "--lr", "nan", "lr=nan (--lr): must be a finite number > 0"),
    ("cyclegan", "--lr", "-0.0001", "lr=-0.0001 (--lr): must be a finite number > 0"),
    ("cyclegan", "--lr", "inf", "lr=inf (--lr)"),
    ("cyclegan", "--lambda-cyc", "-1", "lambda_cyc=-1.0 (--lambda-cyc): must be a finite number >= 0"),
    ("cyclegan", "--beta1", "1.5", "beta1=1.5 (--beta1): must be a number in [0, 1)"),
    ("cyclegan", "--pool-size", "-2", "pool_size=-2 (--pool-size): must be an integer >= 0"),
    ("cyclegan", "--decay-iters", "-1", "decay_iters=-1 (--decay-iters)"),
    ("cyclegan", "--ngf", "0", "ngf=0 (--ngf): must be an integer >= 1"),
    ("stargan_v1", "--g-lr", "nan", "g_lr=nan (--g-lr)"),
    ("stargan_v1", "--lambda-rec", "-1", "lambda_rec=-1.0 (--lambda-rec)"),
    ("stargan_v1", "--lambda-gp", "inf", "lambda_gp=inf (--lambda-gp)"),
    ("stargan_v1", "--n-critic", "0", "n_critic=0 (--n-critic): must be an integer >= 1"),
    ("stargan_v1", "--d-repeat-num", "-1", "d_repeat_num=-1 (--d-repeat-num)"),
    ("stargan_v2", "--lr", "nan", "lr=nan (--lr)"),
    ("stargan_v2", "--r1-gamma", "-5", "r1_gamma=-5.0 (--r1-gamma): must be a finite number >= 0"),
    ("stargan_v2", "--lambda-cyc", "-1", "lambda_cyc=-1.0 (--lambda-cyc)"),
    ("stargan_v2", "--lambda-sty", "nan", "lambda_sty=nan (--lambda-sty)"),
    ("stargan_v2", "--weight-decay", "-1", "weight_decay=-1.0 (--weight-decay)"),
    ("stargan_v2", "--f-lr", "0", "f_lr=0.0 (--f-lr): must be a finite number > 0"),
    ("stargan_v2", "--ema-beta", "1", "ema_beta=1.0 (--ema-beta): must be a number in [0, 1)"),
    ("stargan_v2", "--latent-dim", "-4", "latent_dim=-4 (--latent-dim)"),
    ("stargan_v2", "--image-size", "1048576", "image_size=1048576 (--image-size): must be an integer >= 1 and at "
                                              "most 1024"),
]


@pytest.mark.parametrize("model,flag,value,message", BAD_FLAGS)
def test_train_refuses_a_bad_number_before_any_work(capsys, tmp_path, model, flag, value, message):
    code, _, err = run(capsys, "train", model, "--preset", "smoke", "--out", tmp_path / "run", flag, value,
                       "--no-progress")
    assert code == 2 and message in err and "Traceback" not in err, err
    assert "e.g. the paper's" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("model,flag,value,message", BAD_FLAGS)
def test_params_refuses_the_same_numbers(capsys, model, flag, value, message):
    code, _, err = run(capsys, "params", model, "--preset", "smoke", flag, value)
    assert code == 2 and message in err, err


def test_the_same_validation_runs_in_python():
    with pytest.raises(ConfigError, match=r"lr=nan \(--lr\)"):
        CycleGANConfig(lr=float("nan"))
    with pytest.raises(ConfigError, match=r"g_lr=-1 \(--g-lr\)"):
        StarGANv1Config(g_lr=-1)
    with pytest.raises(ConfigError, match=r"r1_gamma=-5 \(--r1-gamma\)"):
        make_config("F", "smoke", r1_gamma=-5)
    with pytest.raises(ConfigError, match=r"lambda_sty=nan"):
        validate(StarGANv2Config(lambda_sty=float("nan")))
    with pytest.raises(ConfigError, match=r"lambda_id=inf"):
        dataclasses.replace(CycleGANConfig(), lambda_id=float("inf"))        # a derived config too
    assert CycleGANConfig(lambda_id=0.0, pool_size=0, sample_every=0).pool_size == 0   # 0 = off stays valid


def test_paper_and_preset_configs_are_all_valid():
    from stargan_lib.models.cyclegan import config_for as cyclegan_for
    from stargan_lib.models.stargan_v1 import config_for as v1_for

    for preset in ("smoke", "course", "paper"):
        cyclegan_for(preset)
        v1_for(preset)
        v1_for(preset, datasets=("faces", "expressions"))
        for letter in "ABCDEF":
            for dataset in ("afhq", "celeba_hq"):
                make_config(letter, preset, dataset)


def test_networks_that_cannot_be_allocated_are_refused_before_building(capsys, tmp_path):
    code, _, err = run(capsys, "params", "cyclegan", "--preset", "smoke", "--ngf", "100000")
    assert code == 2 and "more than the 1,073,741,824 that can be allocated" in err and "ngf=100000" in err
    code, _, err = run(capsys, "train", "cyclegan", "--preset", "smoke", "--ngf", "100000", "--out", tmp_path / "r")
    assert code == 2 and "can be allocated" in err and not (tmp_path / "r").exists()


def test_a_decay_longer_than_the_run_is_refused_when_given(capsys, tmp_path):
    code, _, err = run(capsys, "train", "cyclegan", "--preset", "smoke", "--out", tmp_path / "r", "--total-iters",
                       "6", "--decay-iters", "1000")
    assert code == 2 and "--decay-iters 1000 is longer than the run" in err and "0.6%" in err
    assert not (tmp_path / "r").exists()


def test_a_preset_decay_longer_than_a_shortened_run_is_noted(capsys, tmp_path):
    code, _, err = run(capsys, "train", "stargan_v1", "--preset", "smoke", "--out", tmp_path / "r",
                       "--total-iters", "2", "--sample-every", "0", "--no-progress", "--device", "cpu")
    assert code == 0 and "note: the preset's decay_iters=5 is longer than total_iters=2" in err and "40.0%" in err


# ============================================================================ 5. output paths
@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("a file")
    return path


def test_train_out_that_cannot_be_created_or_is_a_file(capsys, a_file):
    code, _, err = run(capsys, "train", "cyclegan", "--preset", "smoke", "--out", a_file / "sub", "--no-progress")
    assert code == 2 and f"--out {a_file / 'sub'} cannot be created: {a_file} is a file" in err
    code, _, err = run(capsys, "train", "cyclegan", "--preset", "smoke", "--out", a_file, "--no-progress")
    assert code == 2 and f"--out {a_file} is a file, not a folder" in err and "Traceback" not in err


def test_train_out_that_cannot_be_written(capsys, tmp_path, monkeypatch):
    target = tmp_path / "locked"
    target.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if str(p) == str(target) else real(p, m, *a, **k))
    code, _, err = run(capsys, "train", "cyclegan", "--preset", "smoke", "--out", target, "--no-progress")
    assert code == 2 and "permission denied (cannot write into it)" in err
    code, _, err = run(capsys, "train", "cyclegan", "--preset", "smoke", "--out", target / "new", "--no-progress")
    assert code == 2 and f"permission denied (cannot create it in {target})" in err


def test_sample_and_preview_out_must_be_a_file(capsys, tmp_path, a_file):
    code, _, err = run(capsys, "sample", tmp_path / "missing.pt", "--out", tmp_path, "--preset", "smoke")
    assert code == 2 and f"--out {tmp_path} is a folder; give a file path" in err
    code, _, err = run(capsys, "sample", tmp_path / "missing.pt", "--out", a_file / "g.png", "--preset", "smoke")
    assert code == 2 and "cannot be created" in err and "is a file" in err
    code, _, err = run(capsys, "data", "preview", "faces", "--out", tmp_path, "--preset", "smoke")
    assert code == 2 and "is a folder; give a file path" in err
    code, _, err = run(capsys, "data", "preview", "faces", "--out", a_file / "p.png", "--preset", "smoke")
    assert code == 2 and "is a file" in err and not (a_file.parent / "p.png").exists()


def test_export_eval_and_ablation_out_are_checked_first(capsys, tmp_path, a_file):
    code, _, err = run(capsys, "data", "export", "animals", "--out", a_file / "x", "--preset", "smoke")
    assert code == 2 and "cannot be created" in err
    code, _, err = run(capsys, "eval", tmp_path / "missing.pt", "--dataset", "animals", "--out", tmp_path)
    assert code == 2 and "is a folder; give a file path" in err            # before the checkpoint is read
    code, _, err = run(capsys, "ablation", "--preset", "smoke", "--out", a_file)
    assert code == 2 and "is a file, not a folder" in err


def test_a_cache_that_is_a_file_or_read_only_is_refused(capsys, tmp_path, a_file, monkeypatch):
    from stargan_lib.utils import atomic_write_bytes, cache_dir, cache_root

    monkeypatch.setenv("STARGAN_CACHE", str(a_file))
    with pytest.raises(ConfigError, match=r"cache folder \$STARGAN_CACHE .*file\.txt is a file.*set \$STARGAN_CACHE"):
        cache_root()
    code, _, err = run(capsys, "train", "cyclegan", "--preset", "smoke", "--out", tmp_path / "r", "--no-progress")
    assert code == 2 and "$STARGAN_CACHE" in err and "Traceback" not in err and not (tmp_path / "r").exists()
    monkeypatch.setenv("STARGAN_CACHE", str(a_file / "sub"))
    with pytest.raises(ConfigError, match="cannot be created"):
        cache_dir("data")
    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setenv("STARGAN_CACHE", str(ro))
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if str(p) == str(ro) else real(p, m, *a, **k))
    code, _, err = run(capsys, "data", "export", "animals", "--out", tmp_path / "e", "--preset", "smoke")
    assert code == 2 and f"the cache folder $STARGAN_CACHE {ro}: permission denied" in err
    with pytest.raises(ConfigError, match=r"x\.bin .*file\.txt is a file"):
        atomic_write_bytes(a_file / "x.bin", b"")


def test_atomic_write_onto_a_folder_is_a_clear_error(tmp_path):
    from stargan_lib.utils import atomic_torch_save

    (tmp_path / "d").mkdir()
    with pytest.raises(ConfigError, match="it is a folder; give a file path"):
        atomic_torch_save({}, tmp_path / "d")


def test_data_commands_refuse_sizes_that_cannot_be_allocated(capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["data", "export", "faces", "--out", str(tmp_path / "x"), "--size", "1048576"])
    assert "too large to allocate; use at most 1024" in capsys.readouterr().err
    code, _, err = run(capsys, "data", "export", "faces", "--out", tmp_path / "x", "--size", "1024", "--n",
                       "100000", "--preset", "smoke")
    assert code == 2 and "GiB of memory" in err and "--n / --n-test or --size" in err
    assert not (tmp_path / "x").exists()
    code, _, err = run(capsys, "data", "preview", "faces", "--out", tmp_path / "p.png", "--size", "1024", "--n",
                       "1000000", "--preset", "smoke")
    assert code == 2 and "GiB of memory" in err


@pytest.mark.parametrize("flag,value", [("--n-outputs", "-1"), ("--batch-size", "0"), ("--bootstrap", "-5")])
def test_eval_counts_are_checked_before_the_checkpoint_is_read(capsys, tmp_path, flag, value):
    code, _, err = run(capsys, "eval", tmp_path / "missing.pt", "--dataset", "animals", flag, value)
    assert code == 2 and f"({flag}): must be an integer" in err and "missing.pt" not in err
