"""`stargan lpips`, `stargan fid`, `stargan weights`: output and errors."""

from __future__ import annotations

import shutil

from stargan_lib.cli import build_parser, main
from stargan_lib.paths import lpips_reference_dir


def test_lpips_prints_the_distance(fixtures_dir, capsys):
    ref = lpips_reference_dir()
    assert main(["lpips", str(ref / "ex_ref.png"), str(ref / "ex_p0.png"), "--device", "cpu"]) == 0
    assert round(float(capsys.readouterr().out.strip()), 3) == 0.722


def test_fid_of_a_folder_with_a_copy_of_itself(fixtures_dir, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    for name in ("ex_ref.png", "ex_p0.png", "ex_p1.png"):
        shutil.copy(lpips_reference_dir() / name, a / name)
    shutil.copytree(a, b)
    assert main(["fid", str(a), str(b), "--device", "cpu", "--batch-size", "3", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert abs(float(captured.out.strip().splitlines()[-1])) < 1e-3
    assert "singular" in captured.err                # the few-images warning explains itself


def test_errors_name_the_path_without_traceback(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["fid", str(empty), str(empty), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert str(empty) in err and "Traceback" not in err
    assert main(["lpips", str(tmp_path / "missing.png"), str(tmp_path / "missing.png")]) == 2
    assert "missing.png" in capsys.readouterr().err


def test_weights_command_is_registered():
    args = build_parser().parse_args(["weights", "--check"])
    assert args.check and callable(args.func)


def _tiny_v2_checkpoint(path, letter):
    """A course-format StarGAN v2 checkpoint of a tiny untrained network (32 px, 3 domains)."""
    import torch

    from stargan_lib.models.stargan_v2_config import make_config
    from stargan_lib.models.stargan_v2 import build_nets, ema_copy
    from stargan_lib.train.common import config_dict

    cfg = make_config(letter, None, dataset="animals", image_size=32, max_conv_dim=32, hidden_dim=32,
                      style_dim=16, latent_dim=4, base_dim=8)
    nets = build_nets(cfg)
    everything = {**nets, **{f"ema_{k}": v for k, v in ema_copy(nets).items()}}
    torch.save({"format": "stargan-course/1", "step": 0, "config_class": type(cfg).__name__,
                "config": config_dict(cfg), "nets": {k: v.state_dict() for k, v in everything.items()},
                "optims": {}, "rng": {}, "history": {}, "extra": {}}, path)
    return path


def test_eval_runs_the_protocol_on_a_checkpoint(tmp_cache, tmp_path, monkeypatch, capsys):
    # The protocol's bookkeeping end to end; Inception is replaced by a cheap fixed projection here
    # (the real network is tested in test_metrics_fid.py / test_metrics_protocol.py).
    import json

    import numpy as np
    import torch

    from stargan_lib.metrics import fid_metric, protocol
    from stargan_lib.metrics.images import as_image_batches

    proj = torch.randn(3 * 8 * 8, 32, generator=torch.Generator().manual_seed(0))

    def features(images, *args, **kwargs):
        xs = torch.cat(list(as_image_batches(images).iterate(10_000)))
        return (torch.nn.functional.adaptive_avg_pool2d(xs, 8).flatten(1) @ proj).numpy().astype(np.float64)

    monkeypatch.setattr(protocol, "inception_features", features)
    monkeypatch.setattr(fid_metric, "inception_features", features)
    ckpt = _tiny_v2_checkpoint(tmp_path / "checkpoint.pt", "F")
    out = tmp_path / "results.json"
    code = main(["eval", str(ckpt), "--dataset", "animals", "--preset", "smoke", "--n-sources", "2",
                 "--n-outputs", "3", "--device", "cpu", "--quiet", "--out", str(out)])
    assert code == 0
    res = json.loads(out.read_text())
    assert set(res["modes"]) == {"latent", "reference"} and len(res["modes"]["latent"]["pairs"]) == 6
    assert res["model"]["config"] == "F" and res["config"]["latent_dim"] == 4   # read from the checkpoint
    assert "latent:" in capsys.readouterr().out

    det = _tiny_v2_checkpoint(tmp_path / "c.pt", "C")
    assert main(["eval", str(det), "--dataset", "animals", "--preset", "smoke", "--n-sources", "1",
                 "--n-outputs", "2", "--device", "cpu", "--quiet", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["modes"]["deterministic"]["lpips"] is None

    # a 3-domain model on a 2-domain dataset, and a dataset without domains
    assert main(["eval", str(ckpt), "--dataset", "faces_gender", "--preset", "smoke", "--quiet"]) == 2
    assert "3 domains" in capsys.readouterr().err
    assert main(["eval", str(ckpt), "--dataset", "faces", "--preset", "smoke", "--quiet"]) == 2
    assert "domain datasets" in capsys.readouterr().err
