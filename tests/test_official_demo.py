"""Notebook 05's official demo (`stargan_lib.models.official_demo`) on the sample photos, with files of
the official layout made from random weights: AFHQ, and CelebA-HQ with the face-alignment network; and
the message with the download commands when the files are absent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stargan_lib.models.stargan_v2_config import make_config
from stargan_lib.errors import CheckpointError
from stargan_lib.models.fan import FAN
from stargan_lib.models.official_demo import DEMO_PHOTOS, missing_files_message, official_demo
from stargan_lib.models.stargan_v2 import build_nets

SAMPLES = Path(__file__).parent / "fixtures" / "samples"


def _official_layout_ckpt(dataset: str, path: Path) -> Path:
    """A nets_ema file in the released layout (paper size, `module.` prefixes) with random weights."""
    torch.manual_seed(0)
    nets = build_nets(make_config("F", "paper", dataset))
    torch.save({name: {"module." + k: v for k, v in nets[name].state_dict().items()}
                for name in ("generator", "mapping_network", "style_encoder")}, path)
    return path


def _wing(path: Path) -> Path:
    torch.manual_seed(1)
    torch.save({"state_dict": FAN().state_dict()}, path)
    return path


@pytest.mark.parametrize("dataset", ["afhq", "celeba_hq"])
def test_demo_runs_on_the_sample_photos_with_official_layout_files(dataset, tmp_path, monkeypatch):
    ckpt = _official_layout_ckpt(dataset, tmp_path / "100000_nets_ema.ckpt")
    wing = _wing(tmp_path / "wing.ckpt") if dataset == "celeba_hq" else None
    assert missing_files_message(dataset, ckpt, wing) is None
    calls = []
    real = FAN.get_heatmap
    monkeypatch.setattr(FAN, "get_heatmap", lambda self, x, b_preprocess=True: calls.append(len(x))
                        or real(self, x, b_preprocess))
    out = official_demo(dataset, ckpt, SAMPLES / dataset, wing=wing)
    k = len(DEMO_PHOTOS[dataset]["domains"])
    n_src = len(DEMO_PHOTOS[dataset]["sources"])
    assert out["nrow"] == k + 1 and out["col_labels"] == ["source"] + DEMO_PHOTOS[dataset]["domains"]
    images = out["images"]
    assert images.shape == ((n_src + 1) * (k + 1), 3, 256, 256)
    assert torch.isfinite(images).all() and images.min() >= -1 and images.max() <= 1
    grid = images.view(n_src + 1, k + 1, 3, 256, 256)
    assert torch.all(grid[0, 0] == 1)                                        # blank corner
    assert not torch.equal(grid[1, 1], grid[1, 2])                           # each reference its own style
    # FAN's masks of each source feed the CelebA-HQ generator; AFHQ has no high-pass skip
    assert calls == ([k] * n_src if dataset == "celeba_hq" else [])


def test_missing_files_message_gives_the_download_commands_and_destinations(tmp_path):
    ckpt = tmp_path / "expr" / "checkpoints" / "celeba_hq" / "100000_nets_ema.ckpt"
    wing = tmp_path / "expr" / "checkpoints" / "wing.ckpt"
    msg = missing_files_message("celeba_hq", ckpt, wing)
    assert "git clone https://github.com/clovaai/stargan-v2" in msg
    assert "bash download.sh pretrained-network-celeba-hq" in msg and "bash download.sh wing" in msg
    assert f"cp 'stargan-v2/expr/checkpoints/celeba_hq/100000_nets_ema.ckpt' '{ckpt}'" in msg
    assert f"cp 'stargan-v2/expr/checkpoints/wing.ckpt' '{wing}'" in msg
    msg = missing_files_message("afhq", tmp_path / "a.ckpt")
    assert "bash download.sh pretrained-network-afhq" in msg and "wing" not in msg
    wing.parent.mkdir(parents=True)
    _wing(wing)
    msg = missing_files_message("celeba_hq", ckpt, wing)                    # only what is missing
    assert "download.sh wing" not in msg and "pretrained-network-celeba-hq" in msg


def test_demo_with_a_wing_file_of_the_wrong_layout_is_refused(tmp_path):
    ckpt = tmp_path / "nets.ckpt"
    torch.save({"generator": {}, "mapping_network": {}, "style_encoder": {}}, ckpt)
    with pytest.raises(CheckpointError, match="not the face-alignment network's wing.ckpt"):
        official_demo("celeba_hq", ckpt, SAMPLES / "celeba_hq", wing=ckpt)
