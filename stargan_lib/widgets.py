"""Interactive explorers for JupyterLab (ipywidgets), shown when a person is looking at the notebook.

Introduced in `notebooks/02_stargan_v1.ipynb` (the attribute picker). A notebook's `INTERACTIVE`
parameter is None by default, meaning automatic (`live_frontend`): the explorers appear in JupyterLab,
Jupyter Notebook and VS Code, and headless runs (papermill, nbval, nbconvert) never build a widget.
True or False forces them on or off; `$STARGAN_INTERACTIVE=1` / `0` does the same for every notebook.
Pictures are shown at their own pixel size (`picture_widget`), never stretched to the page width.

`AttributePicker` keeps the logic apart from the widgets, so it can be driven (and tested) without
a browser: `picker.set_image(i)`, `picker.set_attribute(name, on)`, `picker.target()`,
`picker.render()` -> (H, W', 3) uint8 picture of the input and its translation. `attribute_picker`
builds the ipywidgets UI around it: an image slider, one tick box per target attribute (or a choice
of class for one-hot labels), a button back to the image's own labels, and the picture.
"""

from __future__ import annotations

import io
import os
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn

from stargan_lib.data.base import HAIR_ATTRS, ImageSet, to_uint8_image
from stargan_lib.errors import ConfigError, DataError


def check_imageset_fits(images: ImageSet, user: str, n_labels: int, mismatch: str, image_size: int) -> None:
    """Refuse an image set an explorer cannot show with its model: an empty one (`DataError`), one with
    other than `n_labels` label names or another image size than `image_size` (`ConfigError`). `user`
    names the explorer; `mismatch` opens the label-count error, up to the image set's name
    ("the model has 3 domains but image set").

    Introduced in `notebooks/02_stargan_v1.ipynb` (the attribute picker); the StarGAN v2 explorers use it too.
    """
    if len(images) == 0:
        raise DataError(f"image set {images.name!r} is empty: give the {user} at least one image")
    if len(images.label_names) != n_labels:
        raise ConfigError(f"{mismatch} {images.name!r} has {len(images.label_names)} "
                          f"({', '.join(images.label_names)}); use images of the dataset the model was trained on")
    if images.image_size != image_size:
        raise ConfigError(f"the model translates {image_size} px images but the image set has "
                          f"{images.image_size} px; render it at image_size={image_size}")


class AttributePicker:
    """Translate one image of `imageset` with a StarGAN v1 generator to the target labels the user picks.

    G, cfg: a trained generator and its `StarGANv1Config`; `dataset` is the index (in cfg.datasets)
    of the dataset whose labels are picked (for a joint model the unified label c̃ is built for it).
    Binary labels: any set of attributes can be ticked; with `exclusive_hair` ticking a hair colour
    clears the other hair colours, as in the training data. One-hot labels: one class at a time.
    """

    def __init__(self, G: nn.Module, cfg: Any, imageset: ImageSet, dataset: int = 0, exclusive_hair: bool = True,
                 scale: int = 6):
        if not 0 <= dataset < len(cfg.datasets):
            raise ConfigError(f"dataset={dataset} but the model has datasets {tuple(cfg.datasets)}")
        kind, dim = cfg.label_kinds[dataset], cfg.label_dims[dataset]
        check_imageset_fits(imageset, "picker", dim,
                            f"the model's dataset {cfg.datasets[dataset]!r} has {dim} labels but the image set",
                            cfg.image_size)
        self.G, self.cfg, self.imageset, self.dataset = G, cfg, imageset, dataset
        self.kind = kind
        self.names = list(imageset.label_names)
        self.exclusive_hair = exclusive_hair
        self.scale = scale
        self.index = 0
        self._target = self._own_labels()

    # ------------------------------------------------------------------ state
    def _own_labels(self) -> torch.Tensor:
        y = self.imageset.labels[self.index]
        if self.kind == "binary":
            return torch.as_tensor(np.asarray(y), dtype=torch.float32).clone()
        return torch.tensor(int(y))

    def set_image(self, index: int) -> None:
        """Show image `index`; the target starts as the image's own labels (no change)."""
        if not 0 <= index < len(self.imageset):
            raise DataError(f"image index {index} is out of range: the set has {len(self.imageset)} images")
        self.index = int(index)
        self._target = self._own_labels()

    def reset(self) -> None:
        """Back to the image's own labels."""
        self._target = self._own_labels()

    def set_attribute(self, name: str, on: bool = True) -> None:
        """Tick (on) or untick a binary attribute; for one-hot labels, choose class `name` (`on` ignored)."""
        if name not in self.names:
            raise ConfigError(f"unknown label {name!r}; choose one of {self.names}")
        i = self.names.index(name)
        if self.kind != "binary":
            self._target = torch.tensor(i)
            return
        if on and self.exclusive_hair and name in HAIR_ATTRS:
            for h in HAIR_ATTRS:
                if h in self.names:
                    self._target[self.names.index(h)] = 0.0
        self._target[i] = 1.0 if on else 0.0

    def target(self) -> torch.Tensor:
        """The picked target: (k,) 0/1 attributes, or a class index."""
        return self._target.clone()

    def target_names(self) -> list[str]:
        """The ticked attributes (binary) or the chosen class."""
        if self.kind != "binary":
            return [self.names[int(self._target)]]
        return [n for n, v in zip(self.names, self._target.tolist()) if v > 0.5]

    # ------------------------------------------------------------------ translation
    @torch.no_grad()
    def translate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(input, translation), each (3, H, W) in [-1, 1]."""
        from stargan_lib.models.stargan_v1 import generator_label
        from stargan_lib.models.stargan_v1 import translate

        x, _ = self.imageset.subset(slice(self.index, self.index + 1)).tensors()
        c = generator_label(self.cfg, self._target.unsqueeze(0), self.dataset)
        return x[0], translate(self.G, x, c)[0]

    def render(self) -> np.ndarray:
        """Input and translation side by side, enlarged `scale` times: (H*s, (2W + 1)*s, 3) uint8."""
        x, y = self.translate()
        a, b = to_uint8_image(x), to_uint8_image(y)
        gap = np.full((a.shape[0], 1, 3), 255, np.uint8)
        pic = np.concatenate([a, gap, b], axis=1)
        return pic.repeat(self.scale, axis=0).repeat(self.scale, axis=1)

    def png(self) -> bytes:
        return png_bytes(self.render())


def attribute_picker(G: nn.Module, cfg: Any, imageset: ImageSet, dataset: int = 0, exclusive_hair: bool = True,
                     scale: int = 6, max_images: int | None = None):
    """The ipywidgets UI of an `AttributePicker` (see the module docstring); display it in a notebook.

    The returned box has the picker as `.picker` and its controls as `.controls` (name -> widget).
    """
    import ipywidgets as W

    picker = AttributePicker(G, cfg, imageset, dataset=dataset, exclusive_hair=exclusive_hair, scale=scale)
    n = len(imageset) if max_images is None else min(len(imageset), max_images)
    image = picture_widget(picker.render())
    caption = W.HTML()
    slider = W.IntSlider(value=0, min=0, max=n - 1, description="image")
    reset = W.Button(description="own labels", tooltip="back to the image's own labels")
    if picker.kind == "binary":
        boxes = {name: W.Checkbox(value=False, description=name, indent=False) for name in picker.names}
    else:
        boxes = {"class": W.RadioButtons(options=picker.names, description="target")}
    updating = {"busy": False}

    def sync_boxes() -> None:
        updating["busy"] = True
        try:
            t = picker.target()
            if picker.kind == "binary":
                for name, box in boxes.items():
                    box.value = bool(t[picker.names.index(name)] > 0.5)
            else:
                boxes["class"].value = picker.names[int(t)]
        finally:
            updating["busy"] = False

    def redraw() -> None:
        set_picture(image, picker.render())
        own = AttributePicker._own_labels(picker)
        own_names = ([n for n, v in zip(picker.names, own.tolist()) if v > 0.5] if picker.kind == "binary"
                     else [picker.names[int(own)]])
        caption.value = (f"<b>input</b> ({', '.join(own_names) or 'none'}) &rarr; <b>target</b> "
                         f"({', '.join(picker.target_names()) or 'none'})")

    def on_box(change: dict) -> None:
        if updating["busy"]:
            return
        owner = change["owner"]
        if picker.kind == "binary":
            picker.set_attribute(owner.description, bool(change["new"]))
        else:
            picker.set_attribute(change["new"])
        sync_boxes()
        redraw()

    def on_slider(change: dict) -> None:
        picker.set_image(int(change["new"]))
        sync_boxes()
        redraw()

    def on_reset(_button: Any) -> None:
        picker.reset()
        sync_boxes()
        redraw()

    for box in boxes.values():
        box.observe(on_box, names="value")
    slider.observe(on_slider, names="value")
    reset.on_click(on_reset)
    sync_boxes()
    redraw()
    ui = W.VBox([W.HBox([slider, reset]), W.HBox(list(boxes.values())), caption, image])
    ui.picker = picker
    ui.controls = {**boxes, "image": slider, "reset": reset}
    return ui


def png_bytes(pic: np.ndarray) -> bytes:
    """An (H, W, 3) uint8 picture as PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pic)).save(buf, format="PNG")
    return buf.getvalue()


def set_picture(widget: Any, pic: np.ndarray) -> None:
    """Show the (H, W, 3) uint8 `pic` in an ipywidgets Image at its own pixel size (one screen pixel per
    picture pixel; the explorers enlarge their pictures with `scale` beforehand). A fixed width and
    height keep JupyterLab from stretching the picture to the width of the page."""
    h, w = int(pic.shape[0]), int(pic.shape[1])
    widget.value = png_bytes(pic)
    widget.width, widget.height = str(w), str(h)
    widget.layout.width, widget.layout.height = f"{w}px", f"{h}px"
    widget.layout.align_self = "flex-start"     # a VBox would otherwise stretch its children across


def picture_widget(pic: np.ndarray) -> Any:
    """An ipywidgets Image showing `pic` at its pixel size (see `set_picture`)."""
    import ipywidgets as W

    widget = W.Image(format="png")
    set_picture(widget, pic)
    return widget


def live_frontend(env: Mapping[str, str] | None = None, shell: Any = None) -> bool:
    """Whether a person is looking at this notebook, so that explorers are worth building.

    $STARGAN_INTERACTIVE (1 / 0, yes / no, true / false) decides when set. Otherwise True only in a
    Jupyter kernel (`shell`: IPython's, default `get_ipython()`) that a frontend started for an open
    notebook: Jupyter Server (JupyterLab, Jupyter Notebook) gives such kernels $JPY_SESSION_NAME,
    VS Code defines `__vsc_ipynb_file__`. False under pytest, which nbval's kernels show by inheriting
    $PYTEST_CURRENT_TEST / $PYTEST_VERSION, and for papermill, nbconvert and `make notebooks`, whose
    kernels carry none of these signs (papermill itself sets no variable to test for).
    """
    env = os.environ if env is None else env
    forced = env.get("STARGAN_INTERACTIVE", "").strip().lower()
    if forced:
        if forced not in ("1", "0", "yes", "no", "true", "false", "on", "off"):
            raise ConfigError(f"$STARGAN_INTERACTIVE={forced!r}: use 1 (show the explorers) or 0 (never)")
        return forced in ("1", "yes", "true", "on")
    if "PYTEST_CURRENT_TEST" in env or "PYTEST_VERSION" in env:
        return False
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:      # plain Python or a terminal IPython
        return False
    return bool(env.get("JPY_SESSION_NAME")) or "__vsc_ipynb_file__" in getattr(shell, "user_ns", {})


def resolve_interactive(interactive: bool | None) -> bool:
    """A notebook's INTERACTIVE parameter: True / False as given, None: `live_frontend()`."""
    return live_frontend() if interactive is None else bool(interactive)


def show_if(interactive: bool | None, make: Any, *args: Any, **kwargs: Any) -> Any:
    """Build and display the widget `make(*args, **kwargs)` when `resolve_interactive(interactive)`;
    else say why not and how to get it."""
    if not resolve_interactive(interactive):
        if interactive is None:
            print("Interactive explorer skipped: no live Jupyter frontend (INTERACTIVE = None shows it in "
                  "JupyterLab, not under papermill or nbval). Set INTERACTIVE = True in the parameters cell "
                  "to build it anyway.")
        else:
            print("Interactive explorer skipped (INTERACTIVE = False). Set INTERACTIVE = None (automatic) or "
                  "True in the parameters cell and run this cell again in JupyterLab.")
        return None
    from IPython.display import display

    widget = make(*args, **kwargs)
    display(widget)
    return widget


__all__: Sequence[str] = ("AttributePicker", "attribute_picker", "png_bytes", "set_picture", "picture_widget",
                          "live_frontend", "resolve_interactive", "show_if")
