"""Interactive explorers for StarGAN v2 (ipywidgets), shown when a person is looking at the notebook.

Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` (interpolating between two domain codes) and
`notebooks/05_stargan_v2_D_to_F.ipynb` (interpolating between latent or reference style codes, and
the reference picker). Headless runs (nbval, papermill) never build a widget: a notebook's
`INTERACTIVE = None` decides automatically (`stargan_lib.widgets.show_if`, `live_frontend`).

The logic lives in two plain classes that can be driven and tested without a browser:

- `StyleExplorer`: one source image and two style codes a and b; `outputs()` is the row
  G(x, (1 − t)·s_a + t·s_b) for t from 0 to 1. Each end is a `Endpoint`: the domain code of A–C
  ("label": the one-hot target or the learned embedding e_y), a latent code ("latent": s = F_y(z) for
  E/F, [e_y ; z] for D, z drawn from a seed) or a reference image ("reference": s = E_y(x_ref), E/F).
- `ReferencePicker`: one source and one reference image, picked by domain and index inside the
  domain, so the style encoder always reads a reference with its own domain's head.

`style_explorer(...)` and `reference_picker(...)` wrap them in ipywidgets UIs. The networks should
be the EMA copies (`TrainResult.ema`), which is what the paper evaluates.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from stargan_lib.data.base import ImageSet, to_tensor_image, to_uint8_image
from stargan_lib.data.datasets import domain_groups
from stargan_lib.errors import ConfigError, DataError
from stargan_lib.models.stargan_v2 import StarGANv2Nets, label_code, latent_code, reference_code
from stargan_lib.widgets import check_imageset_fits, picture_widget, png_bytes, set_picture

KINDS = ("label", "latent", "reference")


# ============================================================================ codes
def available_kinds(nets: StarGANv2Nets) -> tuple[str, ...]:
    """The style codes a configuration can make: ("label",) for A–C, ("latent",) for D,
    ("latent", "reference") for E and F."""
    style = nets.cfg.style
    if style == "label":
        return ("label",)
    if style == "latent":
        return ("latent",)
    return ("latent", "reference")


def _device(nets: StarGANv2Nets) -> torch.device:
    return next(nets.parameters()).device


def latent_from_seed(latent_dim: int, seed: int) -> torch.Tensor:
    """z ~ N(0, I) of shape (1, latent_dim) drawn from its own generator (the same seed, the same z)."""
    return torch.randn(1, latent_dim, generator=torch.Generator().manual_seed(int(seed)))


@torch.no_grad()
def style_code(nets: StarGANv2Nets, kind: str, domain: int, seed: int = 0,
               x_ref: torch.Tensor | None = None) -> torch.Tensor:
    """One code (1, code_dim) for G: the domain code ("label"), the code of latent z(seed) ("latent")
    or the style of reference image x_ref (3, H, W) of `domain` ("reference")."""
    cfg = nets.cfg
    if kind not in available_kinds(nets):
        raise ConfigError(f"configuration {cfg.config} cannot make a {kind!r} code; it has "
                          f"{available_kinds(nets)} (A-C: label, D: latent, E-F: latent and reference)")
    if not 0 <= int(domain) < cfg.num_domains:
        raise ConfigError(f"domain {domain} is out of range: the model has {cfg.num_domains} domains "
                          f"(0..{cfg.num_domains - 1})")
    dev = _device(nets)
    y = torch.tensor([int(domain)], device=dev)
    if kind == "label":
        return label_code(nets, cfg, y)
    if kind == "latent":
        return latent_code(nets, cfg, y, latent_from_seed(cfg.latent_dim, seed).to(dev))
    if x_ref is None or x_ref.dim() != 3:
        raise ConfigError("a reference code needs one reference image x_ref shaped (3, H, W)")
    return reference_code(nets, cfg, x_ref[None].to(dev), y)


@torch.no_grad()
def interpolate_styles(nets: StarGANv2Nets, x: torch.Tensor, s_a: torch.Tensor, s_b: torch.Tensor,
                       steps: int = 7) -> torch.Tensor:
    """G(x, (1 − t)·s_a + t·s_b) for `steps` values of t from 0 to 1: (steps, 3, H, W) in [-1, 1].

    x is one source image (3, H, W); s_a, s_b are codes (1, code_dim) or (code_dim,).
    """
    if steps < 2:
        raise ConfigError(f"steps={steps}: an interpolation needs at least its two ends (steps >= 2)")
    if x.dim() != 3:
        raise ConfigError(f"x must be one image shaped (3, H, W), got {tuple(x.shape)}")
    s_a, s_b = s_a.reshape(1, -1), s_b.reshape(1, -1)
    if s_a.shape != s_b.shape:
        raise ConfigError(f"the two codes differ in size: {tuple(s_a.shape)} and {tuple(s_b.shape)}")
    dev = _device(nets)
    t = torch.linspace(0, 1, steps, device=dev)[:, None]                 # (steps, 1)
    codes = (1 - t) * s_a.to(dev) + t * s_b.to(dev)                      # (steps, code_dim)
    xs = x.to(dev)[None].expand(steps, -1, -1, -1)                       # (steps, 3, H, W)
    return nets["generator"](xs, codes)


# ============================================================================ shared checks
class _DomainImages:
    """Images of a domain-labelled ImageSet grouped by domain, checked against the model."""

    def __init__(self, nets: StarGANv2Nets, images: ImageSet):
        cfg = nets.cfg
        if not isinstance(images, ImageSet) or images.label_kind != "domain":
            raise DataError("the explorer needs a domain-labelled ImageSet (e.g. make_dataset('animals', 'test'))")
        check_imageset_fits(images, "explorer", cfg.num_domains,
                            f"the model has {cfg.num_domains} domains but image set", cfg.image_size)
        self.images = images
        self.names = list(images.label_names)
        self.by_domain = domain_groups(images.labels, cfg.num_domains)

    def image(self, index: int) -> torch.Tensor:
        if not 0 <= int(index) < len(self.images):
            raise DataError(f"image index {index} is out of range: the set has {len(self.images)} images")
        return to_tensor_image(self.images.images[int(index)])

    def of_domain(self, domain: int, index: int) -> int:
        """The set index of image `index` among the images of `domain`."""
        if not 0 <= int(domain) < len(self.names):
            raise ConfigError(f"domain {domain} is out of range: choose 0..{len(self.names) - 1} ({self.names})")
        idx = self.by_domain[int(domain)]
        if len(idx) == 0:
            raise DataError(f"the image set has no image of domain {self.names[int(domain)]!r}")
        if not 0 <= int(index) < len(idx):
            raise DataError(f"reference index {index} is out of range: domain {self.names[int(domain)]!r} has "
                            f"{len(idx)} images (0..{len(idx) - 1})")
        return int(idx[int(index)])


def _picture(images: Sequence[torch.Tensor | None], scale: int) -> np.ndarray:
    """Images side by side (None = a white gap of one image), 1 px white between, enlarged `scale` times."""
    tiles = []
    h = next(int(im.shape[-2]) for im in images if im is not None)
    for im in images:
        tile = np.full((h, h, 3), 255, np.uint8) if im is None else to_uint8_image(im.detach().cpu())
        tiles += [tile, np.full((h, 1, 3), 255, np.uint8)]
    pic = np.concatenate(tiles[:-1], axis=1)
    return pic.repeat(scale, axis=0).repeat(scale, axis=1)


# ============================================================================ style interpolation
@dataclass(frozen=True)
class Endpoint:
    """One end of an interpolation: a code `kind` of `domain`; `seed` for latent codes, `ref` (index
    among the images of `domain`) for reference codes."""

    kind: str
    domain: int
    seed: int = 0
    ref: int = 0


class StyleExplorer:
    """Interpolate between two style codes for one source image (see the module docstring)."""

    def __init__(self, nets: StarGANv2Nets, images: ImageSet, steps: int = 7, scale: int = 4):
        if steps < 2:
            raise ConfigError(f"steps={steps}: an interpolation needs at least 2 images")
        self.nets, self.steps, self.scale = nets, int(steps), int(scale)
        self.data = _DomainImages(nets, images)
        self.kinds = available_kinds(nets)
        k = nets.cfg.num_domains
        self.source = 0
        self.ends = {"a": Endpoint(self.kinds[0], 0, seed=0), "b": Endpoint(self.kinds[0], 1 % k, seed=1)}

    def set_source(self, index: int) -> None:
        """Use image `index` of the set as the source."""
        self.data.image(index)
        self.source = int(index)

    def set_endpoint(self, which: str, **changes: Any) -> Endpoint:
        """Change end "a" or "b": kind=, domain=, seed=, ref= (checked before it is kept)."""
        if which not in self.ends:
            raise ConfigError(f"endpoint {which!r}: choose 'a' or 'b'")
        unknown = set(changes) - {f.name for f in dataclasses.fields(Endpoint)}
        if unknown:
            raise ConfigError(f"unknown endpoint field(s) {sorted(unknown)}; use kind, domain, seed, ref")
        end = dataclasses.replace(self.ends[which], **changes)
        if end.kind not in self.kinds:
            raise ConfigError(f"configuration {self.nets.cfg.config} has no {end.kind!r} codes; choose one of "
                              f"{self.kinds}")
        if end.kind == "reference":
            self.data.of_domain(end.domain, end.ref)
        elif not 0 <= end.domain < len(self.data.names):
            raise ConfigError(f"domain {end.domain} is out of range: choose 0..{len(self.data.names) - 1}")
        self.ends[which] = end
        return end

    def reference_image(self, which: str) -> torch.Tensor | None:
        end = self.ends[which]
        if end.kind != "reference":
            return None
        return self.data.image(self.data.of_domain(end.domain, end.ref))

    def code(self, which: str) -> torch.Tensor:
        """The code (1, code_dim) of end `which`."""
        end = self.ends[which]
        return style_code(self.nets, end.kind, end.domain, seed=end.seed, x_ref=self.reference_image(which))

    def describe(self, which: str) -> str:
        end, name = self.ends[which], self.data.names[self.ends[which].domain]
        if end.kind == "label":
            return f"domain code of {name}"
        if end.kind == "latent":
            return f"latent code z (seed {end.seed}) of {name}"
        return f"style of {name} reference #{end.ref}"

    def outputs(self) -> torch.Tensor:
        """(steps, 3, H, W): the source translated with codes from s_a (first) to s_b (last)."""
        return interpolate_styles(self.nets, self.data.image(self.source), self.code("a"), self.code("b"),
                                  self.steps)

    def render(self) -> np.ndarray:
        """source | gap | [reference a] outputs [reference b], as an enlarged uint8 picture."""
        outs = list(self.outputs())
        row: list[torch.Tensor | None] = [self.data.image(self.source), None]
        ra, rb = self.reference_image("a"), self.reference_image("b")
        row += ([ra] if ra is not None else []) + outs + ([rb] if rb is not None else [])
        return _picture(row, self.scale)

    def png(self) -> bytes:
        return png_bytes(self.render())


# ============================================================================ reference picker
class ReferencePicker:
    """Translate one source image with the style of one reference image (configurations E and F)."""

    def __init__(self, nets: StarGANv2Nets, images: ImageSet, scale: int = 5):
        if "reference" not in available_kinds(nets):
            raise ConfigError(f"configuration {nets.cfg.config} has no style encoder: reference-guided synthesis "
                              "needs configuration E or F")
        self.nets, self.scale = nets, int(scale)
        self.data = _DomainImages(nets, images)
        self.source, self.domain, self.ref = 0, 1 % nets.cfg.num_domains, 0
        self.data.of_domain(self.domain, self.ref)

    def set_source(self, index: int) -> None:
        self.data.image(index)
        self.source = int(index)

    def set_reference(self, domain: int, index: int = 0) -> None:
        """Use image `index` among the images of `domain` as the reference (its domain picks E's head)."""
        self.data.of_domain(domain, index)
        self.domain, self.ref = int(domain), int(index)

    @torch.no_grad()
    def translate(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(source, reference, G(source, E_y(reference))), each (3, H, W) in [-1, 1]."""
        x = self.data.image(self.source)
        x_ref = self.data.image(self.data.of_domain(self.domain, self.ref))
        s = style_code(self.nets, "reference", self.domain, x_ref=x_ref)
        dev = _device(self.nets)
        return x, x_ref, self.nets["generator"](x[None].to(dev), s)[0]

    def render(self) -> np.ndarray:
        x, x_ref, out = self.translate()
        return _picture([x, x_ref, None, out], self.scale)

    def png(self) -> bytes:
        return png_bytes(self.render())


# ============================================================================ ipywidgets UIs
def style_explorer(nets: StarGANv2Nets, images: ImageSet, steps: int = 7, scale: int = 4,
                   max_images: int | None = 200, max_seed: int = 99):
    """The ipywidgets UI of a `StyleExplorer`: a source slider and, for each end, the code kind, its
    domain and its latent seed or reference index. Returns a VBox with `.explorer` and `.controls`."""
    import ipywidgets as W

    ex = StyleExplorer(nets, images, steps=steps, scale=scale)
    n = len(images) if max_images is None else min(len(images), max_images)
    image = picture_widget(ex.render())
    caption = W.HTML()
    source = W.IntSlider(value=0, min=0, max=n - 1, description="source")
    controls: dict[str, Any] = {"source": source}
    rows = []
    busy = {"flag": False}

    def redraw() -> None:
        set_picture(image, ex.render())
        caption.value = (f"<b>left</b>: {ex.describe('a')} &rarr; <b>right</b>: {ex.describe('b')}")

    for which in ("a", "b"):
        end = ex.ends[which]
        kind = W.Dropdown(options=list(ex.kinds), value=end.kind, description=f"{which}: code")
        domain = W.Dropdown(options=[(name, i) for i, name in enumerate(ex.data.names)], value=end.domain,
                            description="domain")
        seed = W.IntSlider(value=end.seed, min=0, max=max_seed, description="seed")
        ref = W.IntSlider(value=0, min=0, max=max(0, len(ex.data.by_domain[end.domain]) - 1),
                          description="reference")

        def on_change(change: dict, which=which, kind=kind, domain=domain, seed=seed, ref=ref) -> None:
            if busy["flag"]:
                return
            busy["flag"] = True
            try:
                ref.max = max(0, len(ex.data.by_domain[domain.value]) - 1)
                ex.set_endpoint(which, kind=kind.value, domain=domain.value, seed=seed.value,
                                ref=min(ref.value, ref.max))
                seed.disabled = kind.value != "latent"
                ref.disabled = kind.value != "reference"
            finally:
                busy["flag"] = False
            redraw()

        for w in (kind, domain, seed, ref):
            w.observe(on_change, names="value")
        seed.disabled = end.kind != "latent"
        ref.disabled = end.kind != "reference"
        controls.update({f"{which}_kind": kind, f"{which}_domain": domain, f"{which}_seed": seed,
                         f"{which}_ref": ref})
        rows.append(W.HBox([kind, domain, seed, ref]))

    def on_source(change: dict) -> None:
        ex.set_source(int(change["new"]))
        redraw()

    source.observe(on_source, names="value")
    redraw()
    ui = W.VBox([source] + rows + [caption, image])
    ui.explorer, ui.controls = ex, controls
    return ui


def reference_picker(nets: StarGANv2Nets, images: ImageSet, scale: int = 5, max_images: int | None = 200):
    """The ipywidgets UI of a `ReferencePicker`: source slider, reference domain and index, the picture
    source | reference | output. Returns a VBox with `.picker` and `.controls`."""
    import ipywidgets as W

    picker = ReferencePicker(nets, images, scale=scale)
    n = len(images) if max_images is None else min(len(images), max_images)
    image = picture_widget(picker.render())
    caption = W.HTML()
    source = W.IntSlider(value=0, min=0, max=n - 1, description="source")
    domain = W.Dropdown(options=[(name, i) for i, name in enumerate(picker.data.names)], value=picker.domain,
                        description="reference")
    ref = W.IntSlider(value=0, min=0, max=len(picker.data.by_domain[picker.domain]) - 1, description="index")

    def redraw() -> None:
        set_picture(image, picker.render())
        src_dom = picker.data.names[int(picker.data.images.labels[picker.source])]
        caption.value = (f"<b>source</b> ({src_dom}) | <b>reference</b> ({picker.data.names[picker.domain]} "
                         f"#{picker.ref}) | <b>output</b>")

    def on_change(_change: dict) -> None:
        ref.max = max(0, len(picker.data.by_domain[domain.value]) - 1)
        picker.set_source(source.value)
        picker.set_reference(domain.value, min(ref.value, ref.max))
        redraw()

    for w in (source, domain, ref):
        w.observe(on_change, names="value")
    redraw()
    ui = W.VBox([W.HBox([source, domain, ref]), caption, image])
    ui.picker, ui.controls = picker, {"source": source, "domain": domain, "ref": ref}
    return ui


__all__: Sequence[str] = ("KINDS", "Endpoint", "StyleExplorer", "ReferencePicker", "available_kinds", "style_code",
                          "latent_from_seed", "interpolate_styles", "style_explorer", "reference_picker")
