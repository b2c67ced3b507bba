"""The attribute picker of notebook 02 (stargan_lib.widgets): its logic without a browser, and its UI."""

import numpy as np
import pytest
import torch

from stargan_lib.data.base import CELEBA_ATTRS, RAFD_EXPRESSIONS, ImageSet
from stargan_lib.errors import ConfigError, DataError
from stargan_lib.models.stargan_v1 import StarGANv1Config, build_nets
from stargan_lib.widgets import AttributePicker, attribute_picker, live_frontend, picture_widget, show_if


def faces(n=3, size=16):
    rng = np.random.default_rng(0)
    labels = np.array([[1, 0, 0, 1, 1], [0, 1, 0, 0, 1], [0, 0, 0, 1, 0]], np.float32)[:n]
    return ImageSet("faces", "test", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), labels,
                    list(CELEBA_ATTRS), "binary")


def model(**kw):
    torch.manual_seed(0)
    cfg = StarGANv1Config(**{**dict(image_size=16, g_conv_dim=4, d_conv_dim=4, g_repeat_num=1, d_repeat_num=2), **kw})
    return cfg, build_nets(cfg)["G"].eval()


def test_picker_starts_from_the_images_own_labels_and_translates():
    cfg, G = model()
    p = AttributePicker(G, cfg, faces(), scale=2)
    assert p.target().tolist() == [1, 0, 0, 1, 1]
    assert p.target_names() == ["Black_Hair", "Male", "Young"]
    pic = p.render()
    assert pic.shape == (32, 2 * (2 * 16 + 1), 3) and pic.dtype == np.uint8
    x, y = p.translate()
    with torch.no_grad():
        want = G(x[None], torch.tensor([[1.0, 0, 0, 1, 1]]))[0]
    assert torch.allclose(y, want, atol=1e-6)


def test_ticking_changes_the_target_and_the_translation():
    cfg, G = model()
    p = AttributePicker(G, cfg, faces())
    before = p.render()
    p.set_attribute("Blond_Hair", True)            # hair colours are exclusive: black is cleared
    assert p.target().tolist() == [0, 1, 0, 1, 1]
    p.set_attribute("Male", False)
    assert p.target_names() == ["Blond_Hair", "Young"]
    assert not np.array_equal(before, p.render())
    p.reset()
    assert p.target().tolist() == [1, 0, 0, 1, 1]
    p.set_image(2)
    assert p.target().tolist() == [0, 0, 0, 1, 0]


def test_hair_not_exclusive_when_asked():
    cfg, G = model()
    p = AttributePicker(G, cfg, faces(), exclusive_hair=False)
    p.set_attribute("Brown_Hair")
    assert p.target().tolist() == [1, 0, 1, 1, 1]


def test_one_hot_labels_and_joint_models():
    cfg, G = model(datasets=("faces", "expressions"))
    rng = np.random.default_rng(1)
    expr = ImageSet("expressions", "test", rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8),
                    np.array([5, 4]), list(RAFD_EXPRESSIONS), "domain")
    p = AttributePicker(G, cfg, expr, dataset=1)
    assert p.target_names() == ["neutral"]
    p.set_attribute("happy")
    assert int(p.target()) == 4
    x, y = p.translate()
    with torch.no_grad():
        c = torch.zeros(1, 15)
        c[0, 5 + 4] = 1
        c[0, 14] = 1                                 # mask: the expressions labels are the known ones
        assert torch.allclose(y, G(x[None], c)[0], atol=1e-6)


def test_bad_input_is_named():
    cfg, G = model()
    with pytest.raises(ConfigError, match="5 labels but the image set"):
        AttributePicker(G, cfg, ImageSet("faces", "test", np.zeros((1, 16, 16, 3), np.uint8),
                                         np.zeros((1, 4), np.float32), CELEBA_ATTRS[:4], "binary"))
    with pytest.raises(ConfigError, match="16 px images but the image set has 32 px"):
        AttributePicker(G, cfg, faces(size=32))
    p = AttributePicker(G, cfg, faces())
    with pytest.raises(DataError, match="out of range"):
        p.set_image(3)
    with pytest.raises(ConfigError, match="unknown label 'Bald'"):
        p.set_attribute("Bald")


def test_widget_ui_follows_the_controls():
    cfg, G = model()
    ui = attribute_picker(G, cfg, faces(), scale=1)
    boxes = ui.controls
    assert boxes["Black_Hair"].value and boxes["Male"].value and not boxes["Blond_Hair"].value
    first = ui.children[-1].value
    boxes["Blond_Hair"].value = True                 # tick blond: black is unticked by the picker
    assert not boxes["Black_Hair"].value
    assert ui.picker.target().tolist() == [0, 1, 0, 1, 1]
    assert ui.children[-1].value != first
    assert "Blond_Hair" in ui.children[-2].value
    boxes["image"].value = 1
    assert ui.picker.target().tolist() == [0, 1, 0, 0, 1] and boxes["Blond_Hair"].value
    boxes["Male"].value = True
    boxes["reset"].click()
    assert not boxes["Male"].value


def test_show_if_builds_nothing_when_not_interactive(capsys):
    called = []
    assert show_if(False, lambda: called.append(1)) is None
    assert not called
    assert "INTERACTIVE = False" in capsys.readouterr().out


def test_show_if_auto_builds_nothing_under_pytest(capsys):
    # INTERACTIVE = None (the notebooks' default) decides by itself; under pytest (and nbval's kernels,
    # which inherit PYTEST_CURRENT_TEST) nothing is built.
    called = []
    assert show_if(None, lambda: called.append(1)) is None
    assert not called
    assert "no live Jupyter frontend" in capsys.readouterr().out


class _Kernel:
    """Stands in for IPython's shell inside a Jupyter kernel (it has a `.kernel`)."""

    def __init__(self, user_ns=None):
        self.kernel = object()
        self.user_ns = user_ns or {}


class _Terminal:
    """IPython in a terminal: no kernel."""
    kernel = None
    user_ns = {}


@pytest.mark.parametrize("env, shell, expected", [
    ({"JPY_SESSION_NAME": "/repo/notebooks/02_stargan_v1.ipynb"}, _Kernel(), True),    # JupyterLab / Notebook
    ({}, _Kernel({"__vsc_ipynb_file__": "/repo/notebooks/02.ipynb"}), True),              # VS Code
    ({}, _Kernel(), False),                                  # papermill / nbconvert / make notebooks: a bare kernel
    ({"JPY_SESSION_NAME": "nb.ipynb", "PYTEST_CURRENT_TEST": "nb.ipynb::Cell 0 (setup)"}, _Kernel(), False),  # nbval
    ({"JPY_SESSION_NAME": "nb.ipynb", "PYTEST_VERSION": "9.2.0"}, _Kernel(), False),
    ({"JPY_SESSION_NAME": "nb.ipynb"}, _Terminal(), False),  # IPython in a terminal
    ({"STARGAN_INTERACTIVE": "1"}, _Kernel(), True),
    ({"STARGAN_INTERACTIVE": "1", "PYTEST_VERSION": "9"}, _Terminal(), True),   # the override wins
    ({"STARGAN_INTERACTIVE": "0", "JPY_SESSION_NAME": "nb.ipynb"}, _Kernel(), False),
])
def test_live_frontend_detection(env, shell, expected):
    assert live_frontend(env=env, shell=shell) is expected


def test_live_frontend_rejects_a_bad_override():
    with pytest.raises(ConfigError, match="STARGAN_INTERACTIVE='maybe'"):
        live_frontend(env={"STARGAN_INTERACTIVE": "maybe"}, shell=_Kernel())


def _png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image
    import io

    return Image.open(io.BytesIO(data)).size


def test_picture_widget_has_the_pictures_pixel_size():
    pytest.importorskip("ipywidgets")
    pic = np.zeros((198, 65, 3), np.uint8)
    w = picture_widget(pic)
    assert _png_size(w.value) == (65, 198)
    assert (w.width, w.height) == ("65", "198")
    assert (w.layout.width, w.layout.height) == ("65px", "198px")       # not stretched to the page width
    assert w.layout.align_self == "flex-start"


def test_picker_ui_shows_its_picture_at_its_pixel_size():
    cfg, G = model()
    ui = attribute_picker(G, cfg, faces(), scale=6)
    image = ui.children[-1]
    h, w = ui.picker.render().shape[:2]                    # 16 px images, side by side, 6x: 96 x 198
    assert (h, w) == (96, 198)
    assert _png_size(image.value) == (198, 96)
    assert (image.layout.width, image.layout.height) == ("198px", "96px")
    ui.controls["image"].value = 1                         # a redraw keeps the size
    assert (image.layout.width, image.layout.height) == ("198px", "96px")
