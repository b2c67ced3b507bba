"""What a file says is what it holds (issue: hostile CLI sweep, item 8).

- a nets_ema.ckpt that is not the EMA of the checkpoint.pt beside it (copied beside another
  configuration's run, or left behind by a killed save) is refused by `stargan eval` instead of being
  scored under that checkpoint's configuration;
- a CelebA attribute file that lists an image twice is refused by the loader and reported by
  `stargan data info [--check]`, as are listed images that are missing.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from stargan_lib.cli import main
from stargan_lib.models.stargan_v2_config import make_config
from stargan_lib.data.base import ImageSet
from stargan_lib.errors import CheckpointError, DataError
from stargan_lib.train import stargan_v2 as V2
from stargan_lib.train.engine import Engine


def domains(n=24, size=16, k=3):
    rng = np.random.default_rng(0)
    return ImageSet("toy", "train", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), np.arange(n) % k,
                    [f"d{i}" for i in range(k)], "domain")


# ============================================================================ nets_ema.ckpt and its checkpoint
@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("v2")
    for letter, steps in (("E", 1), ("F", 1)):
        V2.train(make_config(letter, "smoke", "afhq", device="cpu", total_iters=steps), root / letter,
                 domains(), progress=False)
    return root


def test_a_run_s_own_nets_ema_passes(two_runs):
    V2.check_nets_ema_beside_checkpoint(two_runs / "F" / "nets_ema.ckpt")
    V2.check_nets_ema_beside_checkpoint(two_runs / "F" / "checkpoint.pt")       # a checkpoint: nothing to compare


def test_a_nets_ema_copied_beside_another_configuration_is_refused(two_runs, tmp_path, capsys):
    mixed = tmp_path / "mixed"
    shutil.copytree(two_runs / "F", mixed)
    shutil.copy(two_runs / "E" / "nets_ema.ckpt", mixed / "nets_ema.ckpt")     # E's networks beside F's run
    with pytest.raises(CheckpointError, match=r"does not hold the EMA networks of .*checkpoint\.pt.*a F run at step 1"):
        V2.check_nets_ema_beside_checkpoint(mixed / "nets_ema.ckpt")
    code = main(["eval", str(mixed / "nets_ema.ckpt"), "--dataset", "animals", "--preset", "smoke", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "would be scored under that run's configuration" in err and "Traceback" not in err


def test_a_stale_nets_ema_is_refused_until_the_run_resumes(two_runs, tmp_path):
    import torch

    run = tmp_path / "run"
    shutil.copytree(two_runs / "F", run)
    stale = torch.load(run / "nets_ema.ckpt", weights_only=True)
    cfg = make_config("F", "smoke", "afhq", device="cpu", total_iters=2)
    V2.train(cfg, run, domains(), progress=False)
    torch.save(stale, run / "nets_ema.ckpt")                       # as if killed between the two writes
    with pytest.raises(CheckpointError, match="resume that run once"):
        V2.check_nets_ema_beside_checkpoint(run / "nets_ema.ckpt")
    assert Engine(V2.StarGANv2Task(cfg, domains()), run, progress=False).resume()
    V2.check_nets_ema_beside_checkpoint(run / "nets_ema.ckpt")


# ============================================================================ CelebA: duplicates and missing images
@pytest.fixture
def celeba(tmp_path):
    from stargan_lib.data.export import export_imageset
    from stargan_lib.data.synthetic import make_dataset

    train = make_dataset("faces", "train", n=8, image_size=16, preset="smoke")
    test = make_dataset("faces", "test", n=2, image_size=16, preset="smoke")
    export_imageset(train, tmp_path / "celeba", test_set=test)
    return tmp_path / "celeba"


def duplicate_a_line(root, flip=True):
    path = root / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    name, *values = lines[2].split()
    if flip:
        values = [str(-int(v)) for v in values]
    lines.append(f"{name} " + " ".join(f"{int(v):2d}" for v in values))
    lines[0] = str(len(lines) - 2)
    path.write_text("\n".join(lines) + "\n")
    return name


def test_an_image_listed_twice_is_refused_by_the_loader(celeba):
    from stargan_lib.data.real import CelebADataset

    name = duplicate_a_line(celeba)
    with pytest.raises(DataError, match=rf"lists 1 image\(s\) more than once: {name} on lines 3, 13 with different "
                                        r"attributes.*delete the wrong lines"):
        CelebADataset(celeba, split="all", image_size=16)
    assert len(CelebADataset(celeba, split="all", image_size=16, allow_duplicates=True)) == 11


def test_an_identical_repeat_is_refused_too(celeba):
    from stargan_lib.data.real import CelebADataset

    name = duplicate_a_line(celeba, flip=False)
    with pytest.raises(DataError, match=rf"{name} on lines 3, 13\. An image"):
        CelebADataset(celeba, split="test", test_size=2, image_size=16)


def test_data_info_reports_duplicates_and_missing_images(celeba, capsys):
    assert main(["data", "info", str(celeba), "--check", "--no-progress"]) == 0
    assert "PROBLEM" not in capsys.readouterr().out
    name = duplicate_a_line(celeba)
    gone = sorted((celeba / "img_align_celeba").iterdir())[-1]
    gone.unlink()
    assert main(["data", "info", str(celeba), "--check", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert f"PROBLEM: 1 image(s) listed more than once: {name} on lines 3, 13 with different attributes" in out
    assert f"PROBLEM: 1 listed image(s) missing from img_align_celeba/: {gone.name}" in out
    assert "checked" in out                                        # the decode check still ran
    assert main(["data", "info", str(celeba)]) == 1                  # reported without --check too
