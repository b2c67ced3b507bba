"""StarGAN v2 networks: paper-size parameter counts, the official checkpoint layout, configurations
A–F, generation modes and bad input."""

from __future__ import annotations

import json

import pytest
import torch

from stargan_lib.configs_v2 import ABLATION, LETTERS
from stargan_lib.models.stargan_v2_config import code_dim, make_config
from stargan_lib.errors import CheckpointError, ConfigError
from stargan_lib.models.stargan_v2 import (AdaIN, build_nets, ema_copy, load_official_nets_ema,
                                           param_counts, translate_det, translate_latent,
                                           translate_reference, update_ema)
from stargan_lib.train.common import load_state_dict_checked

OFFICIAL_COUNTS = {
    "afhq": {"generator": 33_892_995, "mapping_network": 3_259_072, "style_encoder": 20_949_760,
             "discriminator": 20_852_803},
    "celeba_hq": {"generator": 43_467_395, "mapping_network": 2_438_272, "style_encoder": 20_916_928,
                  "discriminator": 20_852_290},
}


@pytest.fixture(scope="module")
def layout(request):
    from pathlib import Path
    path = Path(__file__).parent / "fixtures" / "official_layouts" / "stargan_v2.json"
    return json.loads(path.read_text())


@pytest.mark.parametrize("dataset", ["afhq", "celeba_hq"])
def test_paper_size_counts_and_layout_equal_the_official_networks(dataset, layout):
    nets = build_nets(make_config("F", "paper", dataset))
    counts = {k: sum(p.numel() for p in v.parameters()) for k, v in nets.items()}
    assert counts == OFFICIAL_COUNTS[dataset]
    for name, shapes in layout[dataset].items():
        ours = {k: list(v.shape) for k, v in nets[name].state_dict().items()}
        assert ours == shapes, f"{dataset}/{name}: keys {sorted(set(ours) ^ set(shapes))[:5]}"


def test_param_counts_helper_and_ablation_networks():
    assert param_counts(make_config("F", "paper", "afhq")) == OFFICIAL_COUNTS["afhq"]
    smoke = {k: set(build_nets(make_config(k, "smoke", "afhq"))) for k in LETTERS}
    assert smoke["A"] == smoke["B"] == {"generator", "discriminator"}
    assert smoke["C"] == {"generator", "discriminator", "domain_embedding"}
    assert smoke["D"] == {"generator", "discriminator", "domain_embedding", "style_encoder"}
    assert smoke["E"] == smoke["F"] == {"generator", "discriminator", "mapping_network", "style_encoder"}


@pytest.fixture(scope="module")
def official_afhq_ckpt(tmp_path_factory, layout):
    """A file in the official `100000_nets_ema.ckpt` layout (AFHQ) with random weights."""
    gen = torch.Generator().manual_seed(0)
    state = {}
    for name in ("generator", "mapping_network", "style_encoder"):
        state[name] = {k: torch.randn(shape, generator=gen) * 0.02 for k, shape in layout["afhq"][name].items()}
    path = tmp_path_factory.mktemp("official") / "100000_nets_ema.ckpt"
    torch.save(state, path)
    return path, state


def test_official_layout_checkpoint_loads_safely_and_runs(official_afhq_ckpt):
    path, state = official_afhq_ckpt
    nets = load_official_nets_ema(path, dataset="afhq")
    assert nets.cfg.config == "F" and nets.cfg.num_domains == 3 and nets.cfg.w_hpf == 0
    torch.testing.assert_close(nets["generator"].state_dict()["decode.3.conv1x1.weight"],
                               state["generator"]["decode.3.conv1x1.weight"])
    x = torch.rand(2, 3, 64, 64) * 2 - 1           # G is fully convolutional: a small source suffices
    x_ref = torch.rand(2, 3, 256, 256) * 2 - 1     # E needs the paper's 256 px
    with torch.no_grad():
        out_ref = translate_reference(nets, x, torch.tensor([0, 2]), x_ref)
        out_lat = translate_latent(nets, x, torch.tensor([1, 1]), torch.randn(2, 16))
    assert out_ref.shape == out_lat.shape == (2, 3, 64, 64)
    assert torch.isfinite(out_ref).all() and torch.isfinite(out_lat).all()


def test_official_checkpoint_bad_inputs(official_afhq_ckpt, tmp_path):
    path, state = official_afhq_ckpt
    with pytest.raises(CheckpointError, match="3 domains.*num_domains=2"):
        load_official_nets_ema(path, num_domains=2)
    with pytest.raises(CheckpointError, match="celeba_hq"):
        load_official_nets_ema(path, dataset="celeba_hq")
    other = tmp_path / "training.ckpt"
    torch.save({"generator": state["generator"]}, other)
    with pytest.raises(CheckpointError, match="mapping_network"):
        load_official_nets_ema(other)


def test_loading_weights_of_another_configuration_names_the_keys():
    f_weights = build_nets(make_config("F", "smoke", "afhq"))["generator"].state_dict()
    a_gen = build_nets(make_config("A", "smoke", "afhq"))["generator"]
    with pytest.raises(CheckpointError, match=r"from_rgb\.weight|shape mismatch|unexpected keys"):
        load_state_dict_checked(a_gen, f_weights, "F->A")


def test_unknown_configuration_letter_lists_a_to_f():
    with pytest.raises(ConfigError, match="A, B, C, D, E, F"):
        make_config("G")
    assert make_config("c", "smoke").config == "C"     # case-insensitive


def test_ablation_is_cumulative_as_in_table_1():
    cfgs = {k: make_config(k, "smoke", "afhq") for k in LETTERS}
    assert (cfgs["A"].adversarial, cfgs["A"].discriminator, cfgs["A"].conditioning) == ("wgan", "acgan", "concat")
    assert cfgs["B"].discriminator == "multitask" and cfgs["B"].adversarial == "wgan"
    assert (cfgs["C"].adversarial, cfgs["C"].conditioning, cfgs["C"].style) == ("nonsat", "adain", "label")
    assert cfgs["D"].style == "latent" and cfgs["E"].style == "style_code"
    assert cfgs["E"].lambda_ds == 0 and cfgs["F"].lambda_ds == 2.0      # AFHQ: λ_ds = 2
    assert make_config("F", "paper", "celeba_hq").lambda_ds == 1.0
    assert ABLATION["F"] == {"config": "F"}                             # F is the paper's default
    paper = make_config("F", "paper")
    assert (paper.beta1, paper.beta2, paper.lr, paper.f_lr, paper.weight_decay) == (0.0, 0.99, 1e-4, 1e-6, 1e-4)
    assert (paper.batch_size, paper.total_iters, paper.image_size, paper.latent_dim, paper.style_dim) == \
        (8, 100_000, 256, 16, 64)
    assert (paper.lambda_sty, paper.lambda_cyc, paper.r1_gamma, paper.ema_beta) == (1.0, 1.0, 1.0, 0.999)


def test_generation_modes_per_configuration():
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    y = torch.tensor([0, 2])
    for letter in LETTERS:
        nets = ema_copy(build_nets(make_config(letter, "smoke", "afhq")))
        z = torch.randn(2, nets.cfg.latent_dim)
        if letter in "ABC":
            a, b = translate_det(nets, x, y), translate_det(nets, x, y)
            assert a.shape == x.shape and torch.equal(a, b)            # one output per domain
            with pytest.raises(ConfigError, match="no latent code"):
                translate_latent(nets, x, y, z)
        else:
            with pytest.raises(ConfigError, match="not deterministic"):
                translate_det(nets, x, y)
            out1, out2 = translate_latent(nets, x, y, z), translate_latent(nets, x, y, -z)
            assert out1.shape == x.shape and not torch.allclose(out1, out2)   # z changes the output
        if letter in "EF":
            assert translate_reference(nets, x, y, x.flip(0)).shape == x.shape
        else:
            with pytest.raises(ConfigError, match="reference"):
                translate_reference(nets, x, y, x)


def test_reference_from_a_wrong_domain_index_or_count_is_refused():
    nets = ema_copy(build_nets(make_config("F", "smoke", "afhq")))
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    with pytest.raises(ConfigError, match=r"domain index 3.*3 domains \(indices 0\.\.2\)"):
        translate_reference(nets, x, torch.tensor([0, 3]), x)
    with pytest.raises(ConfigError, match="domain index -1"):
        translate_latent(nets, x, torch.tensor([-1, 0]), torch.randn(2, 8))
    with pytest.raises(ConfigError, match="one reference per source"):
        translate_reference(nets, x, torch.tensor([0, 1]), x[:1])
    with pytest.raises(ConfigError, match="one integer domain index per image"):
        translate_reference(nets, x, torch.tensor([0, 1, 2]), x)
    with pytest.raises(ConfigError, match="resize the references to 16"):
        translate_reference(nets, x, torch.tensor([0, 1]), torch.zeros(2, 3, 32, 32))


def test_adain_uses_one_plus_gamma_and_the_code_width():
    ada = AdaIN(4, 3)
    torch.nn.init.zeros_(ada.fc.weight)
    torch.nn.init.zeros_(ada.fc.bias)
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(ada(x, torch.randn(2, 4)), torch.nn.functional.instance_norm(x))
    assert code_dim(make_config("A", "smoke", "afhq")) == 3                  # one-hot of K = 3
    assert code_dim(make_config("D", "smoke", "afhq")) == 16 + 8             # [e_y ; z]


def test_ema_update_is_a_moving_average():
    nets = build_nets(make_config("F", "smoke", "afhq"))
    ema = ema_copy(nets)
    before = ema["generator"].from_rgb.weight.clone()
    with torch.no_grad():
        nets["generator"].from_rgb.weight.add_(1.0)
    update_ema(ema, nets, beta=0.9)
    torch.testing.assert_close(ema["generator"].from_rgb.weight, 0.9 * before + 0.1 * (before + 1.0))
    assert "discriminator" not in ema and not any(p.requires_grad for p in ema.parameters())
