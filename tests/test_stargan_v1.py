"""StarGAN v1 models and losses: paper parameter counts, official checkpoint layout, label handling,
each loss against a hand computation."""

import json
import math

import pytest
import torch
import torch.nn as nn

from stargan_lib.errors import CheckpointError, ConfigError
from stargan_lib.losses import stargan_v1 as L
from stargan_lib.models import stargan_v1 as M

LAYOUTS = "official_layouts/stargan_v1.json"
PAPER = {  # layout name -> (config overrides, G params, D params); v1 paper Table 3 / official code
    "celeba_5attrs_128": ({}, 8_430_528, 44_762_048),
    "rafd_8_128": ({"c_dim": 8, "datasets": ("expressions",)}, 8_439_936, 44_786_624),
    "both_128": ({"datasets": ("faces", "expressions")}, 8_461_888, 44_827_584),
}


def tiny(**kw):
    base = dict(image_size=16, g_conv_dim=4, d_conv_dim=4, g_repeat_num=1, d_repeat_num=3)
    return M.StarGANv1Config(**{**base, **kw})


# ----------------------------------------------------------------------------- architecture
@pytest.mark.parametrize("layout", sorted(PAPER))
def test_paper_parameter_counts(layout):
    overrides, g, d = PAPER[layout]
    cfg = M.StarGANv1Config(**overrides)
    assert M.param_counts(cfg) == {"G": g, "D": d}


def test_paper_defaults_are_the_papers():
    cfg = M.StarGANv1Config()
    assert (cfg.image_size, cfg.g_conv_dim, cfg.d_conv_dim, cfg.g_repeat_num, cfg.d_repeat_num) == (128, 64, 64, 6, 6)
    assert (cfg.lambda_cls, cfg.lambda_rec, cfg.lambda_gp, cfg.n_critic, cfg.batch_size) == (1, 10, 10, 5, 16)
    assert (cfg.g_lr, cfg.d_lr, cfg.beta1, cfg.beta2) == (1e-4, 1e-4, 0.5, 0.999)
    assert (cfg.total_iters, cfg.decay_iters) == (200_000, 100_000)
    assert M.config_for("paper") == cfg


@pytest.mark.parametrize("layout", sorted(PAPER))
def test_state_dict_has_official_layout(fixtures_dir, layout):
    spec = json.loads((fixtures_dir / LAYOUTS).read_text())[layout]
    nets = M.build_nets(M.StarGANv1Config(**PAPER[layout][0]))
    for name in ("G", "D"):
        ours = {k: list(v.shape) for k, v in nets[name].state_dict().items()}
        assert ours == spec[name]


def test_load_official_checkpoint_weights_only(fixtures_dir, tmp_path):
    """A state dict of the released checkpoints' layout loads (weights_only) and the model runs."""
    spec = json.loads((fixtures_dir / LAYOUTS).read_text())["celeba_5attrs_128"]
    nets = M.build_nets(M.StarGANv1Config())
    torch.manual_seed(0)
    for name, suffix in (("G", "200000-G.ckpt"), ("D", "200000-D.ckpt")):
        sd = {k: (torch.tensor(7) if not shape else torch.randn(*shape) * 0.02) for k, shape in spec[name].items()}
        for k in sd:
            if k.endswith("running_var"):
                sd[k] = sd[k].abs() + 1
        path = tmp_path / suffix
        torch.save(sd, path)
        assert torch.load(path, weights_only=True).keys() == sd.keys()
        M.load_official_weights(nets[name], path)
        assert torch.equal(nets[name].state_dict()[next(iter(sd))], sd[next(iter(sd))])
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    c = torch.tensor([[1.0, 0, 0, 1, 1]])
    with torch.no_grad():
        y = nets["G"](x, c)
        src, cls = nets["D"](y)
    assert y.shape == (1, 3, 128, 128) and y.abs().max() <= 1
    assert src.shape == (1, 1, 2, 2) and cls.shape == (1, 5)


def test_load_official_checkpoint_of_other_config_names_keys(fixtures_dir, tmp_path):
    spec = json.loads((fixtures_dir / LAYOUTS).read_text())["rafd_8_128"]["G"]
    sd = {k: torch.zeros(*shape) if shape else torch.tensor(0) for k, shape in spec.items()}
    torch.save(sd, tmp_path / "G.ckpt")
    G = M.Generator(label_dim=5)
    with pytest.raises(CheckpointError, match=r"main\.0\.weight \(64, 11, 7, 7\) vs \(64, 8, 7, 7\)"):
        M.load_official_weights(G, tmp_path / "G.ckpt")


def test_generator_concatenates_replicated_label():
    x = torch.zeros(2, 3, 4, 4)
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    xc = M.concat_label(x, c)
    assert xc.shape == (2, 5, 4, 4)
    assert torch.equal(xc[0, 3], torch.ones(4, 4)) and torch.equal(xc[0, 4], torch.zeros(4, 4))
    assert torch.equal(xc[1, 4], torch.ones(4, 4)) and torch.equal(xc[:, :3], x)


def test_tiny_shapes_and_label_sensitivity():
    cfg = tiny()
    nets = M.build_nets(cfg)
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    c0, c1 = torch.zeros(3, 5), torch.ones(3, 5)
    y0, y1 = nets["G"](x, c0), nets["G"](x, c1)
    assert y0.shape == x.shape and not torch.allclose(y0, y1)      # G depends on the label
    src, cls = nets["D"](x)
    assert src.shape == (3, 1, 2, 2) and cls.shape == (3, 5)


def test_instance_norm_has_running_stats_but_eval_keeps_instance_statistics():
    G = M.Generator(label_dim=2, conv_dim=4, repeat_num=1)
    x, c = torch.randn(2, 3, 8, 8), torch.zeros(2, 2)
    norm = G.main[1]
    assert norm.track_running_stats and norm.affine
    before = norm.running_mean.clone()
    y_train = G(x, c)
    assert not torch.equal(norm.running_mean, before)          # buffers updated while training
    G.eval()
    after = norm.running_mean.clone()
    y_eval = G(x, c)
    assert torch.allclose(y_train, y_eval, atol=1e-6)          # eval does not switch to running stats
    assert torch.equal(norm.running_mean, after)               # and does not update them


def test_label_dimension_mismatch_is_a_clear_error():
    cfg = tiny()
    G = M.build_nets(cfg)["G"]
    with pytest.raises(ConfigError, match=r"expects labels of shape \(2, 5\) but got \(2, 8\)"):
        G(torch.zeros(2, 3, 16, 16), torch.zeros(2, 8))
    with pytest.raises(ConfigError, match="c_dim"):
        M.generator_label(cfg, torch.zeros(2, 8))
    with pytest.raises(ConfigError, match="out of range"):
        M.generator_label(tiny(c_dim=8, datasets=("expressions",)), torch.tensor([3, 8]))


def test_bad_configs():
    with pytest.raises(ConfigError, match="d_repeat_num"):
        M.StarGANv1Config(image_size=32)                          # 32 / 2**6 is not an integer
    with pytest.raises(ConfigError, match="unknown"):
        M.StarGANv1Config(datasets=("faces", "cats"))
    with pytest.raises(ConfigError, match="no field"):
        M.config_for("smoke", lambda_foo=1)


def test_generator_label_single_and_joint():
    cfg = tiny(c_dim=3, datasets=("expressions",))
    assert torch.equal(M.generator_label(cfg, torch.tensor([2, 0])), torch.tensor([[0.0, 0, 1], [1, 0, 0]]))
    joint = tiny(c_dim=2, c2_dim=3, datasets=("faces", "expressions"))
    assert joint.g_label_dim == 2 + 3 + 2 and joint.d_cls_dim == 5
    c = M.generator_label(joint, torch.tensor([[1.0, 0.0]]), 0)
    assert torch.equal(c, torch.tensor([[1.0, 0, 0, 0, 0, 1, 0]]))    # [c1, zeros, m = (1, 0)]
    c = M.generator_label(joint, torch.tensor([1]), 1)
    assert torch.equal(c, torch.tensor([[0.0, 0, 0, 1, 0, 0, 1]]))    # [zeros, one-hot, m = (0, 1)]


# ----------------------------------------------------------------------------- losses by hand
def test_classification_losses_by_hand():
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    # binary: sum over attributes of BCE, mean over the batch
    target = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    sp = lambda v: math.log1p(math.exp(v))       # -log σ(-v) = softplus(v)
    hand = ((sp(-0.0) + sp(2.0)) + (sp(1.0) + sp(-1.0))) / 2
    assert L.cls_loss_r(logits, target, "binary").item() == pytest.approx(hand, rel=1e-6)
    # one-hot: softmax cross-entropy, mean over the batch
    idx = torch.tensor([1, 0])
    lse = lambda a, b: math.log(math.exp(a) + math.exp(b))
    hand = ((lse(0, 2) - 2) + (lse(1, -1) - 1)) / 2
    assert L.cls_loss_f(logits, idx, "domain").item() == pytest.approx(hand, rel=1e-6)
    with pytest.raises(ConfigError, match="class indices"):
        L.classification_loss(logits, torch.zeros(2, 2), "domain")
    with pytest.raises(ConfigError, match="shape of the logits"):
        L.classification_loss(logits, torch.zeros(2, 3), "binary")


def test_masked_classification_loss_uses_known_part_only():
    dims, kinds = (2, 3), ("binary", "domain")
    logits = torch.randn(4, 5, requires_grad=True)
    y_expr = torch.tensor([0, 2, 1, 1])
    loss = L.masked_cls_loss(logits, y_expr, 1, dims, kinds)
    assert loss.item() == pytest.approx(nn.functional.cross_entropy(logits[:, 2:], y_expr).item())
    loss.backward()
    assert torch.all(logits.grad[:, :2] == 0) and torch.any(logits.grad[:, 2:] != 0)
    y_face = torch.tensor([[1.0, 0.0]] * 4)
    loss = L.masked_cls_loss(logits, y_face, 0, dims, kinds)
    assert loss.item() == pytest.approx(L.classification_loss(logits[:, :2], y_face, "binary").item())
    with pytest.raises(ConfigError, match="5 outputs"):
        L.masked_cls_loss(logits, y_face, 0, (2, 4), kinds)


def test_rec_loss_is_l1():
    a, b = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, -1.0], [2.0, 0.0]]]])
    assert L.rec_loss(a, b).item() == pytest.approx(1.0)


class _ConstD(nn.Module):
    """D_src(x) = mean of x per sample (a 1x1 map), D_cls = fixed logits: gradients are known."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return x.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1), self.logits.expand(x.size(0), -1)


class _AddG(nn.Module):
    """G(x, c) = x + c[:, :1] (a constant shift by the first label value)."""

    def forward(self, x, c):
        return x + c[:, :1].view(-1, 1, 1, 1)


def test_compute_losses_by_hand():
    cfg = tiny(c_dim=2)
    logits = torch.tensor([[0.0, 0.0]])
    nets = {"G": _AddG(), "D": _ConstD(logits)}
    x = torch.full((2, 3, 2, 2), 0.5)
    batch = {"x_real": x, "y_org": torch.tensor([[0.0, 1.0], [0.0, 1.0]]), "y_trg": torch.tensor([[1.0, 0.0]] * 2),
             "c_org": torch.tensor([[0.0, 1.0]] * 2), "c_trg": torch.tensor([[1.0, 0.0]] * 2), "dataset": 0}
    d_loss, d = L.compute_d_loss(nets, cfg, batch)
    # D_src(real) = 0.5, D_src(fake) = 1.5: -0.5 + 1.5 = 1
    assert d["D/adv"] == pytest.approx(1.0)
    # ∇ of mean over 12 pixels is 1/12 each: ||∇|| = sqrt(12)/12; gp = (that - 1)^2
    assert d["D/gp"] == pytest.approx((math.sqrt(12) / 12 - 1) ** 2, rel=1e-5)
    assert d["D/cls_r"] == pytest.approx(2 * math.log(2), rel=1e-6)      # two attributes at p = 0.5
    assert d_loss.item() == pytest.approx(1.0 + 10 * d["D/gp"] + 2 * math.log(2), rel=1e-5)
    g_loss, g = L.compute_g_loss(nets, cfg, batch)
    assert g["G/adv"] == pytest.approx(-1.5)
    # x -> x + 1 (c_trg[0] = 1) -> x + 1 + 0 (c_org[0] = 0): |x - x_rec| = 1
    assert g["G/rec"] == pytest.approx(1.0)
    assert g_loss.item() == pytest.approx(-1.5 + 2 * math.log(2) + 10 * 1.0, rel=1e-6)
