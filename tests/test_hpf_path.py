"""The CelebA-HQ high-pass path at a small size with deterministic FAN weights: FAN's masks of the
source feed G's high-pass skip in the losses and in the evaluation; the cycle uses the masks of the
translated image; and the errors for a missing wing.ckpt and for w_hpf > 0 on a dataset of non-faces."""

from __future__ import annotations

import pytest
import torch

from stargan_lib.configs_v2 import WING_DEFAULT
from stargan_lib.models.stargan_v2_config import make_config
from stargan_lib.errors import ConfigError
from stargan_lib.losses.stargan_v2 import compute_d_loss, compute_g_loss
from stargan_lib.models.fan import FAN, build_fan
from stargan_lib.models.stargan_v2 import build_nets, translate_latent


def small_cfg(**kw):
    return make_config("F", "smoke", "celeba_hq", w_hpf=1.0, wing_path="random", **kw)


@pytest.fixture(scope="module")
def setup():
    cfg = small_cfg()
    torch.manual_seed(0)
    nets = build_nets(cfg)
    fan = build_fan(cfg)
    g = torch.Generator().manual_seed(1)
    b, size = 2, cfg.image_size
    batch = {"x": torch.rand(b, 3, size, size, generator=g) * 2 - 1, "y": torch.tensor([0, 1]),
             "y_trg": torch.tensor([1, 0]), "z1": torch.randn(b, cfg.latent_dim, generator=g),
             "z2": torch.randn(b, cfg.latent_dim, generator=g),
             "x_ref": torch.rand(b, 3, size, size, generator=g) * 2 - 1,
             "x_ref2": torch.rand(b, 3, size, size, generator=g) * 2 - 1, "alpha": torch.rand(b, 1, 1, 1)}
    return cfg, nets, fan, batch


class Spy:
    """FAN with a record of the images its get_heatmap was called on."""

    def __init__(self, fan):
        self.fan, self.calls = fan, []

    def get_heatmap(self, x):
        self.calls.append(x.detach().clone())
        return self.fan.get_heatmap(x)

    def parameters(self):
        return self.fan.parameters()

    def to(self, device):
        self.fan = self.fan.to(device)
        return self


def test_random_fan_is_deterministic_and_leaves_the_global_rng_alone():
    cfg = small_cfg()
    torch.manual_seed(3)
    before = torch.random.get_rng_state()
    a, b = build_fan(cfg), build_fan(cfg)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert build_fan(make_config("F", "smoke", "celeba_hq")) is None          # w_hpf = 0: no FAN


def test_masks_change_the_generator_output(setup):
    cfg, nets, fan, batch = setup
    assert nets["generator"].hpf is not None
    x = batch["x"]
    masks = fan.get_heatmap(x)
    with torch.no_grad():
        with_skip = translate_latent(nets, x, batch["y_trg"], batch["z1"], masks)
        without = translate_latent(nets, x, batch["y_trg"], batch["z1"])
    assert with_skip.shape == x.shape
    assert not torch.allclose(with_skip, without)


def test_losses_use_fan_on_the_source_and_on_the_translation(setup):
    cfg, nets, fan, batch = setup
    spy = Spy(fan)
    all_nets = {**nets, "fan": spy}
    d_loss, d_terms = compute_d_loss(all_nets, cfg, batch, 0, "latent")
    assert len(spy.calls) == 1 and torch.equal(spy.calls[0], batch["x"])
    spy.calls.clear()
    g_loss, g_terms = compute_g_loss(all_nets, cfg, batch, 0, "latent")
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert len(spy.calls) == 2 and torch.equal(spy.calls[0], batch["x"])
    assert not torch.equal(spy.calls[1], batch["x"])                # the cycle: masks of G(x, s̃)
    # precomputed masks of the iteration are used as they are: FAN then runs only for the cycle
    spy.calls.clear()
    with_masks = {**batch, "masks": fan.get_heatmap(batch["x"])}
    g_loss2, _ = compute_g_loss(all_nets, cfg, with_masks, 0, "latent")
    assert len(spy.calls) == 1 and torch.allclose(g_loss, g_loss2)
    g_loss.backward()
    assert all(p.grad is None for p in fan.parameters())


def test_skip_without_fan_is_a_clear_error(setup):
    cfg, nets, _, batch = setup
    with pytest.raises(ConfigError, match=r"nets\['fan'\]"):
        compute_d_loss(nets, cfg, batch, 0, "latent")


def test_evaluation_gives_g_the_masks_of_the_sources(setup):
    from stargan_lib.metrics.protocol import stargan_v2_fns
    cfg, nets, fan, batch = setup
    spy = Spy(fan)
    fns = stargan_v2_fns(nets, fan=spy)
    x, y, z = batch["x"], batch["y_trg"], batch["z1"]
    with torch.no_grad():
        out = fns["latent_fn"](x, y, z)
        expected = translate_latent(nets, x, y, z, fan.get_heatmap(x))
        ref = fns["reference_fn"](x, y, batch["x_ref"])
    assert torch.equal(out, expected) and ref.shape == x.shape
    assert len(spy.calls) == 2 and all(torch.equal(c, x) for c in spy.calls)


def test_missing_wing_ckpt_at_the_paper_preset_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                                   # no expr/checkpoints/wing.ckpt here
    cfg = make_config("F", "paper", "celeba_hq")
    assert cfg.w_hpf == 1.0 and cfg.wing_path == WING_DEFAULT
    with pytest.raises(ConfigError) as err:
        build_fan(cfg)
    msg = str(err.value)
    assert "wing_path='expr/checkpoints/wing.ckpt'" in msg and str(tmp_path) in msg
    assert "bash download.sh wing" in msg and "clovaai/stargan-v2" in msg and "--wing-path" in msg
    # the evaluation of a CelebA-HQ network reports the same
    from stargan_lib.metrics.protocol import stargan_v2_fns
    with pytest.raises(ConfigError, match="download.sh wing"):
        stargan_v2_fns(build_nets(make_config("F", "smoke", "celeba_hq", w_hpf=1.0)))


def test_wing_ckpt_at_the_configured_path_is_loaded(tmp_path):
    torch.manual_seed(4)
    src = FAN()
    path = tmp_path / "wing.ckpt"
    torch.save({"state_dict": src.state_dict()}, path)
    fan = build_fan(make_config("F", "paper", "celeba_hq", wing_path=str(path)))
    assert all(torch.equal(p, q) for p, q in zip(fan.parameters(), src.parameters()))


@pytest.mark.parametrize("dataset", ["afhq", "animals"])
def test_w_hpf_on_a_dataset_of_non_faces_is_refused(dataset):
    with pytest.raises(ConfigError) as err:
        make_config("F", "smoke", dataset, w_hpf=1.0)
    msg = str(err.value)
    assert "w_hpf=1.0" in msg and "dataset='afhq'" in msg and "w_hpf=0" in msg and "celeba_hq" in msg


def test_negative_w_hpf_is_refused():
    with pytest.raises(ConfigError, match="w_hpf=-1.0"):
        make_config("F", "smoke", "celeba_hq", w_hpf=-1.0)


def test_presets_keep_the_skip_off_except_paper_celeba_hq():
    assert make_config("F", "paper", "celeba_hq").w_hpf == 1.0
    assert make_config("F", "paper", "afhq").w_hpf == 0.0
    assert make_config("F", "course", "celeba_hq").w_hpf == 0.0
    assert make_config("F", "smoke", "celeba_hq").w_hpf == 0.0


def test_trainer_runs_the_high_pass_path_with_fan_frozen_and_outside_optimisers_and_ema(tmp_path):
    from stargan_lib.train.engine import Engine
    from stargan_lib.train.stargan_v2 import StarGANv2Task, load_training_data
    cfg = small_cfg(total_iters=2, ckpt_every=0, batch_size=2)
    data = load_training_data(cfg, preset="smoke")
    trainer = StarGANv2Task(cfg, data)
    engine = Engine(trainer, tmp_path, progress=False)
    fan = trainer.fan
    assert fan is not None and not fan.training
    before = [p.detach().clone() for p in fan.parameters()]
    buffers = [b.detach().clone() for b in fan.buffers()]
    fan_ids = {id(p) for p in fan.parameters()}
    for opt in trainer.optims.values():
        assert not fan_ids & {id(p) for group in opt.param_groups for p in group["params"]}
    assert "fan" not in trainer.nets and "fan" not in trainer.ema
    calls = []
    real = fan.get_heatmap
    fan.get_heatmap = lambda x, b_preprocess=True: calls.append(len(x)) or real(x, b_preprocess)
    engine.run()
    # per iteration: once on the sources, then once per G pass (latent, reference) for the cycle
    assert len(calls) >= 2 * 3 and engine.step == 2
    assert all(torch.equal(a, b) for a, b in zip(before, fan.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(buffers, fan.buffers()))   # BatchNorm statistics too
    assert not fan.training
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert not any("fan" in k for k in saved["nets"])
    assert all(torch.isfinite(torch.tensor(v)).all() for k, v in engine.history.items() if k != "step")


def test_celeba_hq_training_without_wing_ckpt_stops_before_reading_data(tmp_path, monkeypatch):
    """The trainer (and `stargan train`, through check_fan_weights) checks for wing.ckpt first: here the
    data argument is not even a dataset, and the error is still the one about the missing file."""
    from stargan_lib.train.stargan_v2 import train
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="download.sh wing"):
        train(make_config("F", "paper", "celeba_hq", device="cpu"), tmp_path / "run", data=None, progress=False)
