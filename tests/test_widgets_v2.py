"""The StarGAN v2 explorers of notebooks 04/05 (stargan_lib.widgets_v2): their logic without a browser,
their errors, and the ipywidgets UIs."""

import numpy as np
import pytest
import torch

from stargan_lib.models.stargan_v2_config import make_config
from stargan_lib.data.base import AFHQ_DOMAINS, ImageSet
from stargan_lib.errors import ConfigError, DataError
from stargan_lib.models.stargan_v2 import (build_nets, ema_copy, translate_det, translate_latent,
                                           translate_reference)
from stargan_lib.widgets_v2 import (Endpoint, ReferencePicker, StyleExplorer, available_kinds, interpolate_styles,
                                    latent_from_seed, reference_picker, style_code, style_explorer)


def animals(n=6, size=16):
    rng = np.random.default_rng(0)
    return ImageSet("animals", "test", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                    np.arange(n) % 3, list(AFHQ_DOMAINS), "domain")


def nets(letter):
    torch.manual_seed(0)
    return ema_copy(build_nets(make_config(letter, "smoke", "afhq")))


def as_float(img_u8):
    return torch.from_numpy(img_u8).permute(2, 0, 1).float().div(127.5).sub(1.0)


def test_kinds_per_configuration():
    assert [available_kinds(nets(c)) for c in "ACDF"] == [("label",), ("label",), ("latent",),
                                                           ("latent", "reference")]


@pytest.mark.parametrize("letter", ["A", "C"])
def test_label_interpolation_ends_are_the_domain_translations(letter):
    n, data = nets(letter), animals()
    ex = StyleExplorer(n, data, steps=5, scale=2)
    ex.set_source(4)
    ex.set_endpoint("a", domain=0)
    ex.set_endpoint("b", domain=2)
    outs = ex.outputs()
    x = as_float(data.images[4])[None]
    assert outs.shape == (5, 3, 16, 16)
    assert torch.allclose(outs[0], translate_det(n, x, [0])[0], atol=1e-5)
    assert torch.allclose(outs[-1], translate_det(n, x, [2])[0], atol=1e-5)
    assert not torch.allclose(outs[1], outs[0], atol=1e-4)          # the middle really is in between
    pic = ex.render()
    assert pic.dtype == np.uint8 and pic.shape == (32, (1 + 1 + 5) * 32 + 6 * 2, 3)
    assert "domain code of cat" in ex.describe("a")


def test_latent_and_reference_ends_match_the_models_synthesis():
    n, data = nets("F"), animals()
    ex = StyleExplorer(n, data, steps=3)
    ex.set_endpoint("a", kind="latent", domain=1, seed=7)
    ex.set_endpoint("b", kind="reference", domain=2, ref=1)          # image 5, the 2nd wild one
    outs = ex.outputs()
    x = as_float(data.images[0])[None]
    want_a = translate_latent(n, x, [1], latent_from_seed(n.cfg.latent_dim, 7))
    want_b = translate_reference(n, x, [2], as_float(data.images[5])[None])
    assert torch.allclose(outs[0], want_a[0], atol=1e-5)
    assert torch.allclose(outs[-1], want_b[0], atol=1e-5)
    assert torch.equal(latent_from_seed(16, 3), latent_from_seed(16, 3))
    # the rendered row shows the references at the ends: source, gap, outputs, reference b
    assert ex.render().shape[1] == ((1 + 1 + 3 + 1) * 16 + 5) * 4
    assert "reference #1" in ex.describe("b")


def test_configuration_d_interpolates_latents():
    n = nets("D")
    ex = StyleExplorer(n, animals(), steps=4)
    assert ex.ends["a"].kind == "latent"
    assert ex.code("a").shape == (1, n.cfg.style_dim + n.cfg.latent_dim)
    assert ex.outputs().shape == (4, 3, 16, 16)


def test_explorer_bad_inputs():
    ex = StyleExplorer(nets("C"), animals())
    with pytest.raises(ConfigError, match="no 'latent' codes"):
        ex.set_endpoint("a", kind="latent")
    with pytest.raises(ConfigError, match="out of range"):
        ex.set_endpoint("b", domain=3)
    with pytest.raises(ConfigError, match="'a' or 'b'"):
        ex.set_endpoint("c", domain=0)
    with pytest.raises(DataError, match="out of range"):
        ex.set_source(6)
    assert ex.ends["b"] == Endpoint("label", 1, seed=1)               # nothing was changed by the errors
    fex = StyleExplorer(nets("F"), animals())
    with pytest.raises(DataError, match="domain 'dog' has 2 images"):
        fex.set_endpoint("a", kind="reference", domain=1, ref=2)
    with pytest.raises(ConfigError, match="has 3 domains but image set"):
        StyleExplorer(nets("F"), ImageSet("two", "test", animals().images, np.arange(6) % 2, ["a", "b"], "domain"))
    with pytest.raises(ConfigError, match="16 px images but the image set has 8 px"):
        StyleExplorer(nets("F"), animals(size=8))
    with pytest.raises(ConfigError, match="at least its two ends"):
        interpolate_styles(nets("F"), torch.zeros(3, 16, 16), torch.zeros(64), torch.zeros(64), steps=1)
    with pytest.raises(ConfigError, match="cannot make a 'reference' code"):
        style_code(nets("D"), "reference", 0, x_ref=torch.zeros(3, 16, 16))


def test_reference_picker_uses_the_references_own_domain():
    n, data = nets("E"), animals()
    p = ReferencePicker(n, data, scale=1)
    p.set_source(3)
    p.set_reference(2, 0)                                            # image 2: the first wild one
    x, x_ref, out = p.translate()
    assert torch.equal(x_ref, as_float(data.images[2]))
    want = translate_reference(n, x[None], [2], x_ref[None])[0]
    assert torch.allclose(out, want, atol=1e-5)
    assert p.render().shape == (16, 4 * 16 + 3, 3)
    with pytest.raises(DataError, match="out of range"):
        p.set_reference(2, 5)
    with pytest.raises(ConfigError, match="needs configuration E or F"):
        ReferencePicker(nets("D"), data)


def test_ipywidgets_uis_build_and_respond():
    pytest.importorskip("ipywidgets")
    n, data = nets("F"), animals()
    ui = style_explorer(n, data, steps=3, scale=1)
    before = ui.children[-1].value
    ui.controls["b_kind"].value = "reference"
    assert ui.explorer.ends["b"].kind == "reference"
    assert ui.controls["b_seed"].disabled and not ui.controls["b_ref"].disabled
    ui.controls["b_domain"].value = 0
    assert ui.explorer.ends["b"].domain == 0
    ui.controls["source"].value = 2
    assert ui.explorer.source == 2 and ui.children[-1].value != before
    rp = reference_picker(n, data, scale=1)
    rp.controls["domain"].value = 0
    rp.controls["ref"].value = 1
    assert (rp.picker.domain, rp.picker.ref) == (0, 1)
    assert "cat #1" in rp.children[1].value


def test_v2_explorers_show_pictures_at_their_pixel_size():
    pytest.importorskip("ipywidgets")
    n, data = nets("F"), animals()
    explorer, picker = style_explorer(n, data, steps=3, scale=2), reference_picker(n, data, scale=3)
    for ui, owner in ((explorer, explorer.explorer), (picker, picker.picker)):
        h, w = owner.render().shape[:2]
        image = ui.children[-1]
        assert (image.width, image.height) == (str(w), str(h))
        assert (image.layout.width, image.layout.height) == (f"{w}px", f"{h}px")
