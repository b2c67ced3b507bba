"""The synthetic data family the course trains on: procedural, deterministic, rendered at any size.

Introduced in `notebooks/00_setup_and_data.ipynb`.

Real face and animal datasets cannot be downloaded on every machine, and GANs trained on them need
GPU-days. So the course draws its own images. Four datasets stand in for the four of the papers:

=================  ==========  =========================================================  ===========
name               stands for  labels                                                     label kind
=================  ==========  =========================================================  ===========
``faces``          CelebA      Black_Hair, Blond_Hair, Brown_Hair, Male, Young            binary
``expressions``    RaFD        angry ... surprised (8 expressions)                        domain
``animals``        AFHQ        cat, dog, wild                                             domain
``faces_gender``   CelebA-HQ   female, male                                               domain
=================  ==========  =========================================================  ===========

How an image is made
--------------------
Every image is a pure function of a handful of numbers, its *factors* (face width, skin tone, hair
colour, mouth curvature, fur pattern, ...). `render` first draws all factors of a set from one seeded
NumPy generator, then paints the images in batches. The painter works in continuous, normalised
coordinates (x and y run from -1 to 1 across the image), so the same factors give the same picture
at 16, 32, 64 or 128 px. Each shape is a *signed distance* (negative inside, positive outside, in
normalised units); multiplying it by the pixels per unit and clipping to [0, 1] gives a coverage
that is exactly one pixel wide at every resolution: smooth, anti-aliased edges with no per-pixel
Python loop. Shapes are stacked back to front like layers of paint.

Every factor of every image is stored in `ImageSet.factors`, so later notebooks can ask whether a
translation kept what it should keep (`content_factors`) and changed what it should change.

Caching
-------
`make_dataset` stores each generated set in `cache_dir("data")` as a compressed ``.npz`` whose
name holds a hash of every parameter (dataset, split, size, count, seed, `RENDERER_VERSION`), so
the next notebook loads it from disk instead of drawing it again. Bump `RENDERER_VERSION` whenever
a change to this file changes a single pixel.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from stargan_lib.data.base import (
    AFHQ_DOMAINS,
    CELEBA_ATTRS,
    CELEBA_HQ_DOMAINS,
    RAFD_EXPRESSIONS,
    ImageSet,
)
from stargan_lib.errors import ConfigError
from stargan_lib.presets import Preset, get_preset
from stargan_lib.utils import atomic_write_bytes, cache_dir, params_key

# Bump when the pictures change: it is part of every cache key.
RENDERER_VERSION = 1

SPLITS = ("train", "test")

_F32 = np.float32
# Pixels painted per batch (images * height * width): keeps every temporary array ~2 MB, in cache.
_PIXELS_PER_BATCH = 1 << 19


# ==================================================================================================
# Drawing primitives: signed distances in normalised coordinates, and a canvas that paints them.
# Per-image parameters have shape (n, 1, 1); x has shape (1, 1, S) and y (1, S, 1), so most
# intermediate arrays stay (n, 1, S) or (n, S, 1) until two of them meet.
# ==================================================================================================

def _c(values) -> np.ndarray:
    """(n,) per-image values -> (n, 1, 1) float32, ready to broadcast against the pixel grid."""
    return np.asarray(values, dtype=_F32)[:, None, None]


def _ellipse_sd(dx: np.ndarray, dy: np.ndarray, rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipse with radii (rx, ry), centred at dx=dy=0.

    Uses the first-order estimate (k0 - 1) / |grad k0| with k0 = |(dx/rx, dy/ry)|, which is exact on
    the outline, where anti-aliasing needs it.
    """
    u, v = dx / rx, dy / ry
    k0 = np.sqrt(u * u + v * v)
    u, v = u / rx, v / ry
    k1 = np.sqrt(u * u + v * v)
    k1 += 1e-6
    return k0 * (k0 - 1.0) / k1


def _circle_sd(dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    return np.sqrt(dx * dx + dy * dy) - r


def _segment_sd(px, py, ax, ay, bx, by, r) -> np.ndarray:
    """Signed distance to a capsule: the segment a-b thickened to radius r."""
    pax, pay = px - ax, py - ay
    bax, bay = bx - ax, by - ay
    h = (pax * bax + pay * bay) / (bax * bax + bay * bay + 1e-12)
    np.clip(h, 0.0, 1.0, out=h)
    ex, ey = pax - bax * h, pay - bay * h
    return np.sqrt(ex * ex + ey * ey) - r


def _box_sd(dx, dy, hx, hy, r) -> np.ndarray:
    """Signed distance to a box of half-sizes (hx, hy) with corners rounded to radius r."""
    qx = np.abs(dx) - (hx - r)
    qy = np.abs(dy) - (hy - r)
    outside = np.sqrt(np.maximum(qx, 0.0) ** 2 + np.maximum(qy, 0.0) ** 2)
    inside = np.minimum(np.maximum(qx, qy), 0.0)
    return outside + inside - r


def _triangle_sd(px, py, verts) -> np.ndarray:
    """Signed distance (exact on the edges, rounded beyond the corners) to a triangle.

    `verts` is three (x, y) pairs of (n, 1, 1) arrays; the orientation does not matter.
    """
    sd = None
    for i in range(3):
        (ax, ay), (bx, by), (kx, ky) = verts[i], verts[(i + 1) % 3], verts[(i + 2) % 3]
        nx, ny = by - ay, ax - bx
        norm = np.sqrt(nx * nx + ny * ny) + 1e-12
        # Orient the edge normal away from the opposite vertex, so that inside is negative.
        side = np.where((kx - ax) * nx + (ky - ay) * ny > 0, -1.0, 1.0).astype(_F32)
        nx, ny = nx * side / norm, ny * side / norm
        d = (px - ax) * nx + (py - ay) * ny
        sd = d if sd is None else np.maximum(sd, d)
    return sd


class _Canvas:
    """A batch of n RGB images (stored channel-first as (3, n, S, S) float32 in [0, 1])."""

    def __init__(self, n: int, size: int):
        self.n, self.size = n, size
        self.px = size / 2.0                     # pixels per normalised unit
        grid = (np.arange(size, dtype=_F32) + 0.5) * (2.0 / size) - 1.0   # pixel centres
        self.x = grid[None, None, :]              # (1, 1, S)
        self.y = grid[None, :, None]              # (1, S, 1)
        self.img = np.empty((3, n, size, size), _F32)

    def _rgb(self, color) -> np.ndarray:
        return np.broadcast_to(np.asarray(color, _F32), (self.n, 3))

    def vertical_gradient(self, top, bottom) -> None:
        """Fill with a top-to-bottom colour gradient (a plain colour when top == bottom)."""
        top, bottom = self._rgb(top), self._rgb(bottom)
        t = (self.y + 1.0) * 0.5                  # (1, S, 1)
        for ch in range(3):
            self.img[ch] = top[:, ch, None, None] + (bottom[:, ch] - top[:, ch])[:, None, None] * t

    def coverage(self, sd: np.ndarray, opacity=None) -> np.ndarray:
        """Signed distance -> fraction of each pixel covered (one pixel of smooth edge)."""
        a = sd * (-self.px)
        a += 0.5
        np.clip(a, 0.0, 1.0, out=a)
        if opacity is not None:
            a = a * opacity
        return a

    def paint(self, sd: np.ndarray, color, opacity=None) -> None:
        """Lay `color` ((3,) or (n, 3)) over the image where the signed distance is negative."""
        self.paint_alpha(self.coverage(sd, opacity), color)

    def paint_alpha(self, alpha: np.ndarray, color) -> None:
        color = self._rgb(color)
        for ch in range(3):
            plane = self.img[ch]
            plane += alpha * (color[:, ch, None, None] - plane)

    def multiply(self, factor: np.ndarray) -> None:
        """Multiply every channel by a (broadcastable) factor, e.g. a lighting gradient."""
        self.img *= factor[None]

    def to_uint8(self) -> np.ndarray:
        """(n, S, S, 3) uint8."""
        out = np.clip(self.img, 0.0, 1.0)
        out *= 255.0
        out += 0.5
        return out.astype(np.uint8).transpose(1, 2, 3, 0).copy()


def _jitter_rgb(rng: np.random.Generator, base: np.ndarray, brightness: float, channel: float) -> np.ndarray:
    """Per-image colour variation around palette colours `base` (n, 3)."""
    n = len(base)
    out = base * rng.uniform(1 - brightness, 1 + brightness, (n, 1)) + rng.normal(0, channel, (n, 3))
    return np.clip(out, 0.0, 1.0).astype(_F32)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (a + (b - a) * np.asarray(t, _F32).reshape(-1, 1)).astype(_F32)


# ==================================================================================================
# Palettes
# ==================================================================================================

# Hair: ids 0..2 are the three labelled CelebA colours; 3 and 4 are "other" (no hair label set).
HAIR_COLORS = ["black", "blond", "brown", "grey", "red"]
_HAIR_RGB = np.array([[0.09, 0.07, 0.06], [0.93, 0.80, 0.45], [0.46, 0.28, 0.13],
                      [0.76, 0.76, 0.78], [0.78, 0.30, 0.12]], _F32)
EYE_COLORS = ["brown", "blue", "green", "grey", "hazel"]
_EYE_RGB = np.array([[0.36, 0.20, 0.10], [0.25, 0.47, 0.78], [0.30, 0.58, 0.30],
                     [0.52, 0.57, 0.62], [0.60, 0.45, 0.20]], _F32)
# Skin tone 0 (light) .. 1 (dark), piecewise-linear through these colours.
_SKIN_RGB = np.array([[0.98, 0.87, 0.78], [0.90, 0.72, 0.58], [0.74, 0.53, 0.38],
                      [0.52, 0.35, 0.24], [0.34, 0.22, 0.15]], _F32)

FUR_COLORS = ["ginger", "brown", "black", "cream", "grey", "golden", "tawny", "dark_brown"]
_FUR_RGB = np.array([[0.86, 0.50, 0.20], [0.52, 0.34, 0.20], [0.14, 0.12, 0.11], [0.94, 0.90, 0.80],
                     [0.56, 0.56, 0.58], [0.86, 0.70, 0.40], [0.74, 0.58, 0.36], [0.30, 0.20, 0.12]], _F32)
FUR_PATTERNS = ["solid", "stripes", "spots"]
ANIMAL_EYE_COLORS = ["green", "amber", "blue", "brown", "copper"]
_ANIMAL_EYE_RGB = np.array([[0.45, 0.70, 0.25], [0.90, 0.70, 0.15], [0.35, 0.60, 0.90],
                            [0.40, 0.25, 0.12], [0.80, 0.45, 0.15]], _F32)
SCENES = ["grass", "soil", "rock", "sky", "snow"]
_SCENE_RGB = np.array([[0.36, 0.52, 0.26], [0.56, 0.45, 0.30], [0.55, 0.55, 0.55],
                       [0.55, 0.70, 0.86], [0.90, 0.92, 0.95]], _F32)


def skin_rgb(tone: np.ndarray) -> np.ndarray:
    """Skin colour (n, 3) of skin tones in [0, 1] (0 light, 1 dark)."""
    t = np.clip(np.asarray(tone, _F32), 0, 1) * (len(_SKIN_RGB) - 1)
    i = np.minimum(t.astype(int), len(_SKIN_RGB) - 2)
    return _mix(_SKIN_RGB[i], _SKIN_RGB[i + 1], t - i)


# ==================================================================================================
# Faces: one parametric face shared by "faces", "expressions" and "faces_gender".
# ==================================================================================================

# Expression shapes: offsets from neutral of (brow_raise, brow_tilt, eye_open, mouth_curve,
# mouth_open, mouth_width, mouth_asym) plus teeth and nose_wrinkle flags. brow_tilt > 0 lowers the
# inner ends of the brows (a frown), < 0 raises them (worry); mouth_curve > 0 is a smile.
_EXPR_PARAMS = ["brow_raise", "brow_tilt", "eye_open", "mouth_curve", "mouth_open", "mouth_width", "mouth_asym"]
_EXPR_NEUTRAL = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0], _F32)
_EXPR_TABLE = {  # (continuous params, teeth, nose_wrinkle)
    "angry":        ([-0.10, 1.10, 0.70, -0.35, 0.00, 0.80, 0.0], 0, 0),
    "contemptuous": ([0.00, 0.00, 0.90, 0.00, 0.00, 0.95, 1.5], 0, 0),
    "disgusted":    ([-0.06, 0.55, 0.60, -0.70, 0.35, 1.05, 0.0], 1, 1),
    "fearful":      ([0.12, -0.95, 1.40, -0.30, 0.50, 1.25, 0.0], 1, 0),
    "happy":        ([0.03, 0.00, 0.80, 1.10, 0.40, 1.25, 0.0], 1, 0),
    "neutral":      ([0.00, 0.00, 1.00, 0.00, 0.00, 1.00, 0.0], 0, 0),
    "sad":          ([0.02, -0.95, 0.80, -1.00, 0.00, 0.90, 0.0], 0, 0),
    "surprised":    ([0.18, 0.00, 1.50, 0.00, 1.10, 0.60, 0.0], 0, 0),
}
assert list(_EXPR_TABLE) == RAFD_EXPRESSIONS


def _sample_face_identity(rng: np.random.Generator, n: int, style: str) -> dict[str, np.ndarray]:
    """Who the person is and how the photo was taken, for one of the three face capture styles.

    style "celeba": varied backgrounds and framing; "rafd": centred, fixed framing, plain light
    background, black shirt, strong side light; "celebahq": large centred faces, soft two-tone
    backgrounds. Hair colour, gender and age are drawn here too; the dataset decides which of
    them are labels.
    """
    f: dict[str, np.ndarray] = {}
    if style == "celeba":
        f["pos_x"] = rng.uniform(-0.10, 0.10, n)
        f["pos_y"] = rng.uniform(-0.12, 0.04, n)
        f["face_w"] = rng.uniform(0.36, 0.46, n)
        f["face_h"] = rng.uniform(0.46, 0.56, n)
    elif style == "rafd":
        f["pos_x"] = rng.uniform(-0.03, 0.03, n)
        f["pos_y"] = rng.uniform(-0.03, 0.03, n)
        f["face_w"] = rng.uniform(0.50, 0.60, n)
        f["face_h"] = rng.uniform(0.64, 0.74, n)
    else:  # celebahq
        f["pos_x"] = rng.uniform(-0.06, 0.06, n)
        f["pos_y"] = rng.uniform(-0.10, 0.02, n)
        f["face_w"] = rng.uniform(0.42, 0.52, n)
        f["face_h"] = rng.uniform(0.54, 0.64, n)
    f["skin_tone"] = rng.uniform(0.0, 1.0, n)

    # Hair colour: black, blond, brown, or "other" (grey / red), as in CelebA where all three
    # hair attributes can be 0.
    hair = rng.choice(4, n, p=[0.28, 0.18, 0.30, 0.24])
    other = rng.random(n) < 0.5
    f["hair_color"] = np.where(hair == 3, np.where(other, 3, 4), hair)
    f["hair_rgb"] = _jitter_rgb(rng, _HAIR_RGB[f["hair_color"]], 0.08, 0.02)
    f["male"] = (rng.random(n) < (0.5 if style != "celeba" else 0.45)).astype(np.int64)
    f["young"] = (rng.random(n) < 0.72).astype(np.int64)
    male = f["male"] == 1
    # Hair length 0 = short (every man), 0.4..1 = long (every woman): the strongest gender cue.
    f["hair_length"] = np.where(male, 0.0, rng.uniform(0.4, 1.0, n))
    # Beard: 0 none, 1 stubble, 2 full (men only).
    beard = rng.choice(3, n, p=[0.3, 0.45, 0.25])
    f["beard"] = np.where(male, beard, 0)
    f["eye_color"] = rng.integers(0, len(EYE_COLORS), n)
    f["eye_rgb"] = _jitter_rgb(rng, _EYE_RGB[f["eye_color"]], 0.08, 0.02)
    lipstick = _jitter_rgb(rng, np.tile([[0.78, 0.18, 0.26]], (n, 1)), 0.15, 0.05)
    natural = _mix(skin_rgb(f["skin_tone"]) * np.array([0.75, 0.5, 0.5], _F32),
                   np.tile([[0.62, 0.24, 0.24]], (n, 1)), np.full(n, 0.5))
    f["lip_rgb"] = np.where(male[:, None], natural, _mix(natural, lipstick, rng.uniform(0.3, 1.0, n)))

    if style == "rafd":
        grey = rng.uniform(0.84, 0.96, (n, 1))
        f["background"] = np.clip(grey + rng.normal(0, 0.015, (n, 3)), 0, 1)
        f["bg_gradient"] = np.ones(n)
        f["shirt_rgb"] = np.clip(rng.uniform(0.04, 0.12, (n, 1)) + np.zeros((n, 3)), 0, 1)
        angle = rng.uniform(0, 2 * np.pi, n)
        strength = rng.uniform(0.15, 0.35, n)
    else:
        f["background"] = rng.uniform(0.12, 0.92, (n, 3))
        f["bg_gradient"] = rng.uniform(0.6, 1.15, n) if style == "celeba" else rng.uniform(0.5, 1.3, n)
        f["shirt_rgb"] = rng.uniform(0.05, 0.9, (n, 3))
        angle = rng.uniform(0, 2 * np.pi, n)
        strength = rng.uniform(0.0, 0.12, n)
    f["light_x"] = strength * np.cos(angle)
    f["light_y"] = strength * np.sin(angle)
    return f


def _sample_casual_expression(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The unlabelled expressions of celebrity photos: mostly neutral to smiling."""
    f: dict[str, np.ndarray] = {}
    f["brow_raise"] = rng.normal(0, 0.015, n)
    f["brow_tilt"] = rng.normal(0, 0.10, n)
    f["eye_open"] = rng.uniform(0.85, 1.10, n)
    f["mouth_curve"] = rng.uniform(-0.15, 0.9, n)
    f["mouth_open"] = np.where(rng.random(n) < 0.35, rng.uniform(0.1, 0.35, n), 0.0)
    f["mouth_width"] = rng.uniform(0.9, 1.15, n)
    f["mouth_asym"] = np.zeros(n)
    f["teeth"] = ((f["mouth_open"] > 0) & (f["mouth_curve"] > 0.3)).astype(np.int64)
    f["nose_wrinkle"] = np.zeros(n, np.int64)
    return f


def _sample_expression(rng: np.random.Generator, expression: np.ndarray) -> dict[str, np.ndarray]:
    """Face-part parameters of labelled expressions: the table's shape at a random intensity."""
    n = len(expression)
    table = np.array([_EXPR_TABLE[e][0] for e in RAFD_EXPRESSIONS], _F32)
    intensity = rng.uniform(0.8, 1.2, (n, 1))
    noise = rng.normal(0, 1, (n, len(_EXPR_PARAMS))) * np.array([0.01, 0.07, 0.04, 0.07, 0.03, 0.04, 0.04])
    params = _EXPR_NEUTRAL + intensity * (table[expression] - _EXPR_NEUTRAL) + noise
    f = {name: params[:, i] for i, name in enumerate(_EXPR_PARAMS)}
    # Contempt raises one corner of the mouth, left or right (so horizontal flips stay contempt).
    f["mouth_asym"] = f["mouth_asym"] * np.where(rng.random(n) < 0.5, -1.0, 1.0)
    f["teeth"] = np.array([_EXPR_TABLE[e][1] for e in RAFD_EXPRESSIONS], np.int64)[expression]
    f["nose_wrinkle"] = np.array([_EXPR_TABLE[e][2] for e in RAFD_EXPRESSIONS], np.int64)[expression]
    return f


def _paint_faces(f: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Paint a batch of faces from their factors; returns (n, size, size, 3) uint8."""
    n = len(f["pos_x"])
    cv = _Canvas(n, size)
    x, y = cv.x, cv.y
    cx, cy = _c(f["pos_x"]), _c(f["pos_y"])
    fw, fh = _c(f["face_w"]), _c(f["face_h"])
    male, young = _c(f["male"]), _c(f["young"])
    skin = skin_rgb(f["skin_tone"])
    hair = f["hair_rgb"]
    dx, dy = x - cx, y - cy                           # (n,1,S), (n,S,1) relative to the face centre
    adx = np.abs(dx)                                  # mirrored: one SDF draws both eyes, brows...

    # Background and shoulders.
    bg = f["background"].astype(_F32)
    cv.vertical_gradient(bg, np.clip(bg * f["bg_gradient"][:, None], 0, 1))
    cv.paint(_ellipse_sd(dx, y - (cy + fh + 0.62), fw * 2.1, _c(np.full(n, 0.55))), f["shirt_rgb"])

    # Hair behind the head: a cap for everyone, plus a long fall for long hair.
    cap_sd = _ellipse_sd(dx, dy + 0.10 * fh, fw * (1.10 + 0.04 * (1 - male)), fh * 1.0)
    length = _c(f["hair_length"])
    long_sd = _ellipse_sd(dx, dy - 0.45 * fh, fw * (1.12 + 0.12 * length), fh * (0.95 + 0.6 * length))
    long_sd = np.where(length > 0, long_sd, np.float32(9.0))
    cv.paint(np.minimum(cap_sd, long_sd), hair)

    # Ears (short hair leaves them visible), neck, face. Men get a squarer jaw.
    ear_sd = _ellipse_sd(adx - 0.98 * fw, dy - 0.05 * fh, 0.15 * fw, 0.22 * fh)
    cv.paint(ear_sd, skin * 0.9, opacity=male)
    cv.paint(_box_sd(dx, y - (cy + fh * 0.9 + 0.15), 0.42 * fw, _c(np.full(n, 0.3)), 0.1 * fw), skin * 0.82)
    face_sd = _ellipse_sd(dx, dy, fw, fh)
    jaw_sd = _box_sd(dx, dy - 0.42 * fh, 0.86 * fw, 0.52 * fh, 0.32 * fw)
    face_sd = np.minimum(face_sd, jaw_sd + (1 - male) * 9.0)
    cv.paint(face_sd, skin)

    # Mouth geometry (painted last): a midline y = mid(u) across u in [-1, 1] (curve: smile > 0,
    # asym: one corner up), opened into a lens of half-height `half`; lips around it.
    mw = 0.36 * fw * _c(f["mouth_width"])
    u = np.clip(dx / mw, -1.0, 1.0)
    amp = 0.15 * fh
    asym = _c(f["mouth_asym"])
    curve = _c(f["mouth_curve"])
    raise_ = np.maximum(np.sign(asym) * u, 0.0)               # 0 .. 1 towards the raised corner
    mid = 0.50 * fh + curve * amp * (0.35 - u * u) - amp * np.abs(asym) * raise_ ** 2
    slope = (-2.0 * curve * amp * u - 2.0 * amp * asym * raise_) / mw    # d mid / dx
    half = _c(f["mouth_open"]) * 0.17 * fh * (1.0 - u * u)
    off = np.abs(dy - mid) / np.sqrt(1.0 + slope * slope)     # distance across the (sloped) midline
    lips_sd = np.maximum(off - half - (0.06 + 0.015 * (1 - male)) * fh, np.abs(dx) - mw)

    # Beard: stubble (a translucent shadow) or full (hair-coloured), on the lower face, leaving a
    # shaved ring around the lips so that the mouth stays readable.
    beard = f["beard"]
    beard_sd = np.maximum(np.maximum(face_sd + 0.02, (cy + 0.12 * fh) - y), 0.05 * fh - lips_sd)
    beard_opacity = _c(np.select([beard == 1, beard == 2], [0.40, 0.92], 0.0))
    beard_rgb = np.where(beard[:, None] == 2, hair, _mix(skin * 0.55, hair, np.full(n, 0.5)))
    cv.paint(beard_sd, beard_rgb, opacity=beard_opacity)

    # Age: forehead lines, smile lines and eye bags on older faces.
    old = 1 - young
    line_rgb = skin * 0.55
    r_line = 0.045 * fh
    wr = _segment_sd(adx, dy, 0.0, -0.47 * fh, 0.45 * fw, -0.45 * fh, r_line)
    wr = np.minimum(wr, _segment_sd(adx, dy, 0.0, -0.60 * fh, 0.40 * fw, -0.58 * fh, r_line))
    wr = np.minimum(wr, _segment_sd(adx, dy, 0.24 * fw, 0.14 * fh, 0.40 * fw, 0.38 * fh, r_line))
    wr = np.minimum(wr, _segment_sd(adx, dy, 0.22 * fw, 0.08 * fh, 0.50 * fw, 0.06 * fh, r_line))
    cv.paint(np.maximum(wr, face_sd), line_rgb, opacity=old * 0.85)

    # Fringe: hair on the forehead above the hairline (older faces: a receding hairline).
    hairline = -fh * (0.66 + 0.08 * old) + 0.40 * fh * (dx / fw) ** 2
    cv.paint(np.maximum(cap_sd, dy - hairline), hair)

    # Eyes: dark outline, white, coloured iris, pupil.
    eye_x, eye_y = 0.36 * fw, -0.08 * fh
    ex, ey = adx - eye_x, dy - eye_y
    e_rx, e_ry = 0.20 * fw, 0.11 * fh * _c(f["eye_open"])
    cv.paint(_ellipse_sd(ex, ey, e_rx + 0.03 * fw, e_ry + 0.03 * fw), skin * 0.35)
    sclera_sd = _ellipse_sd(ex, ey, e_rx, e_ry)
    cv.paint(sclera_sd, (0.96, 0.96, 0.94))
    cv.paint(np.maximum(_circle_sd(ex, ey, 0.11 * fw), sclera_sd), f["eye_rgb"])
    cv.paint(np.maximum(_circle_sd(ex, ey, 0.05 * fw), sclera_sd), (0.03, 0.03, 0.03))

    # Brows: thicker for men; raised, lowered and tilted by the expression.
    brow_y = -0.32 * fh - _c(f["brow_raise"]) * fh
    tilt = _c(f["brow_tilt"]) * 0.10 * fh
    brow_r = (0.045 + 0.02 * male) * fh
    brow_rgb = _mix(hair * 0.6, np.zeros_like(hair), np.full(n, 0.3))
    cv.paint(_segment_sd(adx, dy, 0.14 * fw, brow_y + tilt, 0.60 * fw, brow_y - 0.3 * tilt, brow_r), brow_rgb)

    # Nose, and the wrinkles across it (disgust).
    cv.paint(_segment_sd(dx, dy, 0.0, 0.0, 0.04 * fw, 0.22 * fh, 0.045 * fw), skin * 0.78, opacity=0.8)
    nw = _segment_sd(adx, dy, 0.0, 0.02 * fh, 0.16 * fw, -0.01 * fh, 0.03 * fh)
    nw = np.minimum(nw, _segment_sd(adx, dy, 0.0, 0.10 * fh, 0.18 * fw, 0.08 * fh, 0.03 * fh))
    cv.paint(nw, skin * 0.5, opacity=_c(f["nose_wrinkle"]))

    # Mouth: lips, the dark inside (a thin line between closed lips), teeth.
    cv.paint(lips_sd, f["lip_rgb"])
    inside_sd = np.maximum(off - np.maximum(half, 0.03 * fh), np.abs(dx) - 0.92 * mw)
    cv.paint(inside_sd, (0.25, 0.05, 0.06), opacity=0.8)
    teeth_sd = np.maximum(inside_sd, (dy - mid) + 0.1 * half)
    cv.paint(teeth_sd, (0.95, 0.95, 0.92), opacity=_c(f["teeth"]))

    # Light: a linear brightness gradient over the whole photograph.
    cv.multiply(1.0 + _c(f["light_x"]) * x + _c(f["light_y"]) * y)
    return cv.to_uint8()


def _sample_faces(rng: np.random.Generator, n: int):
    f = _sample_face_identity(rng, n, "celeba")
    f.update(_sample_casual_expression(rng, n))
    hair = f["hair_color"]
    labels = np.stack([hair == 0, hair == 1, hair == 2, f["male"] == 1, f["young"] == 1], 1).astype(np.float32)
    return f, labels


def _sample_expressions(rng: np.random.Generator, n: int):
    f = _sample_face_identity(rng, n, "rafd")
    expression = rng.integers(0, len(RAFD_EXPRESSIONS), n)
    f.update(_sample_expression(rng, expression))
    f["expression"] = expression
    return f, expression.astype(np.int64)


def _sample_faces_gender(rng: np.random.Generator, n: int):
    f = _sample_face_identity(rng, n, "celebahq")
    f.update(_sample_casual_expression(rng, n))
    return f, f["male"].astype(np.int64)


# ==================================================================================================
# Animals: cat / dog / wild told apart by shape; fur colour, pattern, eyes, ears vary inside each.
# ==================================================================================================

def _sample_animals(rng: np.random.Generator, n: int):
    f: dict[str, np.ndarray] = {}
    domain = rng.integers(0, len(AFHQ_DOMAINS), n)
    f["species"] = domain
    f["pos_x"] = rng.uniform(-0.08, 0.08, n)
    f["pos_y"] = rng.uniform(-0.02, 0.10, n)
    f["head_size"] = rng.uniform(0.44, 0.54, n)
    f["fur_color"] = rng.integers(0, len(FUR_COLORS), n)
    f["fur_rgb"] = _jitter_rgb(rng, _FUR_RGB[f["fur_color"]], 0.08, 0.025)
    f["pattern"] = rng.choice(len(FUR_PATTERNS), n, p=[0.4, 0.3, 0.3])
    f["pattern_freq"] = rng.uniform(12.0, 18.0, n)
    f["pattern_angle"] = rng.uniform(-0.6, 0.6, n)
    f["pattern_phase"] = rng.uniform(0, 2 * np.pi, n)
    f["pattern_contrast"] = rng.uniform(0.55, 0.9, n)
    # Pattern colour: darker than the fur, or lighter on near-black fur.
    lum = f["fur_rgb"] @ np.array([0.3, 0.59, 0.11], _F32)
    f["pattern_rgb"] = np.where(lum[:, None] > 0.3, f["fur_rgb"] * 0.35,
                                np.clip(f["fur_rgb"] + 0.45, 0, 1)).astype(_F32)
    f["muzzle_rgb"] = _mix(f["fur_rgb"], np.tile([[0.96, 0.93, 0.86]], (n, 1)), rng.uniform(0.15, 0.85, n))
    f["eye_color"] = rng.integers(0, len(ANIMAL_EYE_COLORS), n)
    f["eye_rgb"] = _jitter_rgb(rng, _ANIMAL_EYE_RGB[f["eye_color"]], 0.08, 0.02)
    f["ear_size"] = rng.uniform(0.8, 1.25, n)
    f["mane_size"] = rng.uniform(1.18, 1.42, n)
    f["mane_rgb"] = (f["fur_rgb"] * rng.uniform(0.55, 0.85, (n, 1))).astype(_F32)
    f["tongue"] = (rng.random(n) < 0.35).astype(np.int64)
    f["scene"] = rng.integers(0, len(SCENES), n)
    f["background"] = _jitter_rgb(rng, _SCENE_RGB[f["scene"]], 0.12, 0.05)
    f["bg_gradient"] = rng.uniform(0.65, 1.1, n)
    return f, domain.astype(np.int64)


def _paint_animals(f: dict[str, np.ndarray], size: int) -> np.ndarray:
    n = len(f["pos_x"])
    cv = _Canvas(n, size)
    x, y = cv.x, cv.y
    cx, cy, r = _c(f["pos_x"]), _c(f["pos_y"]), _c(f["head_size"])
    dx, dy = x - cx, y - cy
    adx = np.abs(dx)
    sp = f["species"]
    cat, dog, wild = (_c(sp == k) for k in range(3))
    fur, muzzle = f["fur_rgb"], f["muzzle_rgb"]
    es = _c(f["ear_size"])
    far = np.float32(9.0)

    bg = f["background"]
    cv.vertical_gradient(bg, np.clip(bg * f["bg_gradient"][:, None], 0, 1))

    # Wild: a ragged mane / ruff behind the head.
    theta = np.arctan2(dy, dx)
    ms = _c(f["mane_size"])
    k = np.sqrt((dx / (ms * r)) ** 2 + ((dy - 0.08 * r) / (ms * 0.95 * r)) ** 2)
    mane_sd = (k - 1.0 - 0.07 * np.sin(14.0 * theta)) * (ms * 0.9 * r)
    cv.paint(mane_sd, f["mane_rgb"], opacity=wild)

    # Ears behind the head. Cat: tall pointed triangles; wild: small round ears.
    ear_base_y, ear_x = -0.55 * r, 0.55 * r
    tip = (0.76 * r, -(0.55 + 0.62 * es) * r)
    cat_ear = _triangle_sd(adx, dy, [(ear_x - 0.30 * es * r, ear_base_y), (ear_x + 0.28 * es * r, ear_base_y + 0.1 * r), tip])
    cv.paint(cat_ear + (1 - cat) * far, fur)
    inner = _triangle_sd(adx, dy, [(ear_x - 0.16 * es * r, ear_base_y - 0.05 * r),
                                   (ear_x + 0.14 * es * r, ear_base_y), (tip[0] - 0.02 * r, tip[1] + 0.18 * r)])
    cv.paint(inner + (1 - cat) * far, (0.92, 0.62, 0.64))
    round_ear = _circle_sd(adx - 0.64 * r, dy + 0.66 * r, 0.22 * es * r)
    cv.paint(round_ear + (1 - wild) * far, fur)
    cv.paint(_circle_sd(adx - 0.64 * r, dy + 0.66 * r, 0.11 * es * r) + (1 - wild) * far, (0.12, 0.09, 0.08))

    # Head: round (cat), long (dog), broad (wild), with its fur pattern.
    rx = r * (1.0 * cat + 0.86 * dog + 1.02 * wild)
    ry = r * (0.88 * cat + 0.98 * dog + 0.90 * wild)
    head_sd = _ellipse_sd(dx, dy, rx, ry)
    cv.paint(head_sd, fur)
    fq, ang, ph = _c(f["pattern_freq"]), _c(f["pattern_angle"]), _c(f["pattern_phase"])
    ca, sa = np.cos(ang), np.sin(ang)
    pu = dx * ca + dy * sa
    pv = dy * ca - dx * sa
    stripes_sd = (0.25 - np.sin(fq * pu + ph)) / fq
    spots_sd = (0.40 - np.cos(fq * pu + ph) * np.cos(fq * pv)) / (0.7 * fq)
    pattern = f["pattern"]
    pattern_sd = np.where(_c(pattern == 1), stripes_sd, spots_sd)
    alpha = cv.coverage(pattern_sd, _c((pattern > 0) * f["pattern_contrast"])) * cv.coverage(head_sd + 0.03 * r)
    cv.paint_alpha(alpha, f["pattern_rgb"])

    # Dog: long floppy ears hanging over the sides of the head.
    flop_sd = _ellipse_sd(adx - 0.80 * r, dy - 0.12 * r, 0.22 * es * r, 0.50 * es * r)
    cv.paint(flop_sd + (1 - dog) * far, f["pattern_rgb"] * 0.5 + fur * 0.5)

    # Muzzle: two small cheeks (cat), a big snout (dog), a broad pale muzzle (wild).
    cat_muzzle = _circle_sd(adx - 0.11 * r, dy - 0.30 * r, 0.15 * r)
    dog_muzzle = _ellipse_sd(dx, dy - 0.42 * r, 0.38 * r, 0.32 * r)
    wild_muzzle = _ellipse_sd(dx, dy - 0.36 * r, 0.44 * r, 0.25 * r)
    muzzle_sd = np.minimum(np.minimum(cat_muzzle + (1 - cat) * far, dog_muzzle + (1 - dog) * far),
                           wild_muzzle + (1 - wild) * far)
    cv.paint(muzzle_sd, muzzle)
    # Dog tongue.
    cv.paint(_ellipse_sd(dx, dy - 0.70 * r, 0.11 * r, 0.10 * r) + (1 - dog) * far, (0.90, 0.45, 0.50),
             opacity=_c(f["tongue"]))

    # Nose: small pink triangle (cat), big black oval (dog), broad dark pad (wild).
    cat_nose = _triangle_sd(dx, dy, [(-0.09 * r, 0.14 * r), (0.09 * r, 0.14 * r), (0.0 * r, 0.24 * r)])
    cv.paint(cat_nose + (1 - cat) * far, (0.88, 0.52, 0.56))
    cv.paint(_ellipse_sd(dx, dy - 0.26 * r, 0.15 * r, 0.10 * r) + (1 - dog) * far, (0.07, 0.06, 0.06))
    cv.paint(_box_sd(dx, dy - 0.20 * r, 0.13 * r, 0.07 * r, 0.04 * r) + (1 - wild) * far, (0.20, 0.12, 0.10))

    # Cat whiskers: three thin light lines on each side.
    wh = None
    for y0, y1 in [(0.26, 0.14), (0.31, 0.31), (0.36, 0.48)]:
        s = _segment_sd(adx, dy, 0.30 * r, y0 * r, 0.86 * r, y1 * r, 0.018 * r)
        wh = s if wh is None else np.minimum(wh, s)
    cv.paint(wh + (1 - cat) * far, (0.95, 0.95, 0.92), opacity=0.85)

    # Eyes: almond with a slit pupil (cat), round and dark (dog), amber with tear marks (wild).
    ex, ey = adx - 0.33 * r, dy + 0.10 * r
    e_rx = r * (0.17 * cat + 0.11 * dog + 0.13 * wild)
    e_ry = r * (0.12 * cat + 0.11 * dog + 0.085 * wild)
    cv.paint(_segment_sd(adx, dy, 0.30 * r, -0.02 * r, 0.24 * r, 0.26 * r, 0.03 * r) + (1 - wild) * far,
             (0.10, 0.08, 0.07), opacity=0.9)
    cv.paint(_ellipse_sd(ex, ey, e_rx + 0.03 * r, e_ry + 0.03 * r), (0.06, 0.05, 0.05))
    eye_sd = _ellipse_sd(ex, ey, e_rx, e_ry)
    cv.paint(eye_sd, f["eye_rgb"])
    pupil_rx = r * (0.035 * cat + 0.07 * dog + 0.045 * wild)
    pupil_ry = r * (0.10 * cat + 0.07 * dog + 0.045 * wild)
    cv.paint(np.maximum(_ellipse_sd(ex, ey, pupil_rx, pupil_ry), eye_sd), (0.02, 0.02, 0.02))
    return cv.to_uint8()


# ==================================================================================================
# The registry of datasets
# ==================================================================================================

@dataclass(frozen=True)
class DatasetInfo:
    """What a synthetic dataset is: its labels, its factors, and which factors are content."""

    name: str
    stands_for: str
    label_kind: str                         # "binary" or "domain"
    label_names: tuple[str, ...]
    content: tuple[str, ...]                # factors a translation must keep (pose, identity, scene)
    between: str                            # what changes between domains / attributes
    within: str                             # what varies inside a domain
    sample: Callable
    paint: Callable


_FACE_FACTORS_DOC = ("skin tone, face width and height, position, background colour and gradient, "
                     "eye colour, shirt colour, lip colour, lighting direction")

DATASETS: dict[str, DatasetInfo] = {
    "faces": DatasetInfo(
        name="faces", stands_for="CelebA", label_kind="binary", label_names=tuple(CELEBA_ATTRS),
        content=("pos_x", "pos_y", "face_w", "face_h", "skin_tone", "background"),
        between=("hair colour (black / blond / brown, or none of them: grey or red), gender (Male: short "
                 "hair, visible ears, square jaw, thicker brows, stubble or beard; female: long hair, "
                 "lipstick) and age (not Young: forehead lines, smile lines, eye bags, receding hairline)"),
        within=_FACE_FACTORS_DOC + ", beard type, hair length, casual expression (smile, open mouth)",
        sample=_sample_faces, paint=_paint_faces),
    "expressions": DatasetInfo(
        name="expressions", stands_for="RaFD", label_kind="domain", label_names=tuple(RAFD_EXPRESSIONS),
        content=("face_w", "face_h", "skin_tone", "hair_rgb", "background"),
        between=("the facial expression, drawn with brows (raised, lowered, tilted), eyes (narrowed, wide) "
                 "and mouth (smile, frown, open lens, round O, one-sided smirk, teeth, nose wrinkles)"),
        within=("the person (skin tone, face shape, hair colour and length, gender, age, eye colour), the "
                "expression's intensity, and the studio light; capture style: centred, fixed framing, "
                "plain light background, black shirt, strong side light"),
        sample=_sample_expressions, paint=_paint_faces),
    "animals": DatasetInfo(
        name="animals", stands_for="AFHQ", label_kind="domain", label_names=tuple(AFHQ_DOMAINS),
        content=("pos_x", "pos_y", "head_size", "background"),
        between=("the head's shape: cat = round head, tall pointed ears, small cheeks, pink nose, whiskers, "
                 "slit pupils; dog = long head, floppy ears, big snout, black nose, tongue; wild = broad head "
                 "with a ragged mane, small round ears, broad pale muzzle, tear marks"),
        within=("fur colour (8 colours), fur pattern (solid / stripes / spots, with its frequency, angle, "
                "contrast), muzzle colour, eye colour (5), ear size, mane size and colour, scene behind "
                "(grass, soil, rock, sky, snow), position and head size"),
        sample=_sample_animals, paint=_paint_animals),
    "faces_gender": DatasetInfo(
        name="faces_gender", stands_for="CelebA-HQ", label_kind="domain", label_names=tuple(CELEBA_HQ_DOMAINS),
        content=("pos_x", "pos_y", "face_w", "face_h", "skin_tone", "background"),
        between=("gender: female = long hair, lipstick, fine brows; male = short hair, visible ears, "
                 "square jaw, thick brows, stubble or beard"),
        within=("hair colour (black, blond, brown, grey, red), hair length, beard type, age (wrinkles), "
                + _FACE_FACTORS_DOC + ", casual expression; large centred faces on soft two-tone backgrounds"),
        sample=_sample_faces_gender, paint=_paint_faces),
}


def dataset_info(name: str) -> DatasetInfo:
    """The `DatasetInfo` of `name`, or a ConfigError that lists the valid names."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown synthetic dataset {name!r}; choose one of {list(DATASETS)}") from None


def describe(name: str) -> str:
    """A paragraph on what varies between the domains of `name` and what varies inside one."""
    info = dataset_info(name)
    unit = "attributes" if info.label_kind == "binary" else "domains"
    return (f"{name} (a synthetic stand-in for {info.stands_for}; {info.label_kind} labels: "
            f"{', '.join(info.label_names)}).\n"
            f"Between {unit}: {info.between}.\n"
            f"Inside a domain: {info.within}.\n"
            f"Content a translation must keep: {', '.join(info.content)}.")


def factor_names(name: str) -> list[str]:
    """Names of every factor recorded for each image of dataset `name` (sorted)."""
    info = dataset_info(name)
    if name not in _FACTOR_NAMES:
        factors, _ = info.sample(np.random.default_rng(0), 1)
        _FACTOR_NAMES[name] = sorted(factors)
    return list(_FACTOR_NAMES[name])


_FACTOR_NAMES: dict[str, list[str]] = {}


def content_factors(name: str) -> list[str]:
    """The factors of `name` that a translation must preserve (position, face shape, skin, scene)."""
    return list(dataset_info(name).content)


# ==================================================================================================
# Public API: render (no cache) and make_dataset (cached)
# ==================================================================================================

def _check_size(image_size) -> int:
    if not isinstance(image_size, (int, np.integer)) or isinstance(image_size, bool) or image_size < 8:
        raise ConfigError(f"image_size={image_size!r} is not usable; give an integer of at least 8 "
                          "(the course uses 16, 32, 64 or 128)")
    return int(image_size)


def render(name: str, n: int, image_size: int, seed: int = 0) -> ImageSet:
    """Draw `n` images of dataset `name` at `image_size` px from `seed` (deterministic, no cache).

    Factors are drawn first (they do not depend on the size), then painted in batches, so the same
    seed gives the same pictures at every resolution.
    """
    info = dataset_info(name)
    size = _check_size(image_size)
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"n={n!r} images cannot be rendered; give a non-negative integer")
    n = int(n)
    rng = np.random.default_rng(seed)
    factors, labels = info.sample(rng, n)
    factors = {k: _as_factor_array(v) for k, v in factors.items()}
    images = paint_factors(name, factors, size)
    params = {"dataset": name, "n": n, "image_size": size, "seed": int(seed), "renderer_version": RENDERER_VERSION}
    return ImageSet(name=name, split="custom", images=images, labels=labels, label_names=list(info.label_names),
                    label_kind=info.label_kind, factors=factors, params=params)


def paint_factors(name: str, factors: dict[str, np.ndarray], image_size: int) -> np.ndarray:
    """Paint images of dataset `name` from given factors: (N, S, S, 3) uint8.

    `factors` is an `ImageSet.factors` dict, possibly edited: change one factor (say "male" or
    "pattern") and paint again to see exactly what that factor does, everything else kept.
    """
    info = dataset_info(name)
    size = _check_size(image_size)
    missing = sorted(set(factor_names(name)) - set(factors))
    if missing:
        raise ConfigError(f"factors for {name!r} lack {missing}; start from an ImageSet.factors of {name!r}")
    n = len(next(iter(factors.values())))
    images = np.empty((n, size, size, 3), np.uint8)
    batch = max(1, _PIXELS_PER_BATCH // (size * size))
    for start in range(0, n, batch):
        part = {k: np.asarray(v)[start:start + batch] for k, v in factors.items()}
        images[start:start + batch] = info.paint(part, size)
    return images


def _as_factor_array(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v)
    if v.dtype.kind in "iub":
        return v.astype(np.int64)
    return v.astype(np.float32)


def split_seed(name: str, split: str, seed: int) -> int:
    """The rendering seed of one split: train and test never share images."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    words = [int(seed) % 2**32, SPLITS.index(split), list(DATASETS).index(name)]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def _cache_path(params: dict) -> Path:
    key = params_key(params)
    return cache_dir("data") / f"{params['dataset']}_{params['split']}_{params['image_size']}px_n{params['n']}_{key}.npz"


def _save(ds: ImageSet, path: Path) -> None:
    arrays = {"images": ds.images, "labels": ds.labels}
    arrays.update({f"factor__{k}": v for k, v in ds.factors.items()})
    meta = {"name": ds.name, "split": ds.split, "label_names": ds.label_names, "label_kind": ds.label_kind,
            "params": ds.params}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _load(path: Path) -> ImageSet:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        factors = {k[len("factor__"):]: z[k] for k in z.files if k.startswith("factor__")}
        return ImageSet(name=meta["name"], split=meta["split"], images=z["images"], labels=z["labels"],
                        label_names=meta["label_names"], label_kind=meta["label_kind"], factors=factors,
                        params=meta["params"])


def make_dataset(name: str, split: str = "train", n: int | None = None, image_size: int | None = None,
                 seed: int = 0, preset: str | Preset | None = None, cache: bool = True) -> ImageSet:
    """The synthetic set `name` / `split`, loaded from the disk cache or rendered and cached.

    n and image_size default to the preset's n_train (n_test for split "test") and image_size;
    the preset defaults to `$STARGAN_PRESET` or "course". The train and test splits are drawn
    from different seeds derived from `seed`.
    """
    dataset_info(name)
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    n = (preset.n_train if split == "train" else preset.n_test) if n is None else n
    size = _check_size(preset.image_size if image_size is None else image_size)
    params = {"dataset": name, "split": split, "n": int(n), "image_size": size, "seed": int(seed),
              "renderer_version": RENDERER_VERSION}
    path = _cache_path(params) if cache else None
    if path is not None and path.is_file():
        try:
            return _load(path)
        except Exception as exc:  # a truncated or foreign file: the cache is disposable, draw again
            warnings.warn(f"synthetic data cache {path} is unreadable ({exc}); rendering it again", stacklevel=2)
    ds = render(name, n, size, split_seed(name, split, seed))
    ds.split = split
    ds.params = params
    if path is not None:
        _save(ds, path)
    return ds
