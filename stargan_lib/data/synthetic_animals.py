"""The synthetic "animals" dataset (a stand-in for AFHQ): cat / dog / wild told apart by the
head's shape; fur colour, pattern, eyes and ears vary inside each domain.

Introduced in `notebooks/00_setup_and_data.ipynb` (through `stargan_lib.data.synthetic`).
"""

from __future__ import annotations

import numpy as np

from stargan_lib.data.base import AFHQ_DOMAINS
from stargan_lib.data.synthetic_canvas import (F32, Canvas, box_sd, circle_sd, ellipse_sd, jitter_rgb, mix,
                                               per_image, segment_sd, triangle_sd)

# Palettes
FUR_COLORS = ["ginger", "brown", "black", "cream", "grey", "golden", "tawny", "dark_brown"]
_FUR_RGB = np.array([[0.86, 0.50, 0.20], [0.52, 0.34, 0.20], [0.14, 0.12, 0.11], [0.94, 0.90, 0.80],
                     [0.56, 0.56, 0.58], [0.86, 0.70, 0.40], [0.74, 0.58, 0.36], [0.30, 0.20, 0.12]], F32)
FUR_PATTERNS = ["solid", "stripes", "spots"]
ANIMAL_EYE_COLORS = ["green", "amber", "blue", "brown", "copper"]
_ANIMAL_EYE_RGB = np.array([[0.45, 0.70, 0.25], [0.90, 0.70, 0.15], [0.35, 0.60, 0.90],
                            [0.40, 0.25, 0.12], [0.80, 0.45, 0.15]], F32)
SCENES = ["grass", "soil", "rock", "sky", "snow"]
_SCENE_RGB = np.array([[0.36, 0.52, 0.26], [0.56, 0.45, 0.30], [0.55, 0.55, 0.55],
                       [0.55, 0.70, 0.86], [0.90, 0.92, 0.95]], F32)


def sample_animals(rng: np.random.Generator, n: int):
    """(factors, AFHQ domain indices (n,) int64: cat, dog, wild) of `n` animal heads."""
    f: dict[str, np.ndarray] = {}
    domain = rng.integers(0, len(AFHQ_DOMAINS), n)
    f["species"] = domain
    f["pos_x"] = rng.uniform(-0.08, 0.08, n)
    f["pos_y"] = rng.uniform(-0.02, 0.10, n)
    f["head_size"] = rng.uniform(0.44, 0.54, n)
    f["fur_color"] = rng.integers(0, len(FUR_COLORS), n)
    f["fur_rgb"] = jitter_rgb(rng, _FUR_RGB[f["fur_color"]], 0.08, 0.025)
    f["pattern"] = rng.choice(len(FUR_PATTERNS), n, p=[0.4, 0.3, 0.3])
    f["pattern_freq"] = rng.uniform(12.0, 18.0, n)
    f["pattern_angle"] = rng.uniform(-0.6, 0.6, n)
    f["pattern_phase"] = rng.uniform(0, 2 * np.pi, n)
    f["pattern_contrast"] = rng.uniform(0.55, 0.9, n)
    # Pattern colour: darker than the fur, or lighter on near-black fur.
    lum = f["fur_rgb"] @ np.array([0.3, 0.59, 0.11], F32)
    f["pattern_rgb"] = np.where(lum[:, None] > 0.3, f["fur_rgb"] * 0.35,
                                np.clip(f["fur_rgb"] + 0.45, 0, 1)).astype(F32)
    f["muzzle_rgb"] = mix(f["fur_rgb"], np.tile([[0.96, 0.93, 0.86]], (n, 1)), rng.uniform(0.15, 0.85, n))
    f["eye_color"] = rng.integers(0, len(ANIMAL_EYE_COLORS), n)
    f["eye_rgb"] = jitter_rgb(rng, _ANIMAL_EYE_RGB[f["eye_color"]], 0.08, 0.02)
    f["ear_size"] = rng.uniform(0.8, 1.25, n)
    f["mane_size"] = rng.uniform(1.18, 1.42, n)
    f["mane_rgb"] = (f["fur_rgb"] * rng.uniform(0.55, 0.85, (n, 1))).astype(F32)
    f["tongue"] = (rng.random(n) < 0.35).astype(np.int64)
    f["scene"] = rng.integers(0, len(SCENES), n)
    f["background"] = jitter_rgb(rng, _SCENE_RGB[f["scene"]], 0.12, 0.05)
    f["bg_gradient"] = rng.uniform(0.65, 1.1, n)
    return f, domain.astype(np.int64)


def paint_animals(f: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Paint a batch of animal heads from their factors; returns (n, size, size, 3) uint8."""
    n = len(f["pos_x"])
    cv = Canvas(n, size)
    x, y = cv.x, cv.y
    cx, cy, r = per_image(f["pos_x"]), per_image(f["pos_y"]), per_image(f["head_size"])
    dx, dy = x - cx, y - cy
    adx = np.abs(dx)
    sp = f["species"]
    cat, dog, wild = (per_image(sp == k) for k in range(3))
    fur, muzzle = f["fur_rgb"], f["muzzle_rgb"]
    es = per_image(f["ear_size"])
    far = np.float32(9.0)

    bg = f["background"]
    cv.vertical_gradient(bg, np.clip(bg * f["bg_gradient"][:, None], 0, 1))

    # Wild: a ragged mane / ruff behind the head.
    theta = np.arctan2(dy, dx)
    ms = per_image(f["mane_size"])
    k = np.sqrt((dx / (ms * r)) ** 2 + ((dy - 0.08 * r) / (ms * 0.95 * r)) ** 2)
    mane_sd = (k - 1.0 - 0.07 * np.sin(14.0 * theta)) * (ms * 0.9 * r)
    cv.paint(mane_sd, f["mane_rgb"], opacity=wild)

    # Ears behind the head. Cat: tall pointed triangles; wild: small round ears.
    ear_base_y, ear_x = -0.55 * r, 0.55 * r
    tip = (0.76 * r, -(0.55 + 0.62 * es) * r)
    cat_ear = triangle_sd(adx, dy, [(ear_x - 0.30 * es * r, ear_base_y), (ear_x + 0.28 * es * r, ear_base_y + 0.1 * r), tip])
    cv.paint(cat_ear + (1 - cat) * far, fur)
    inner = triangle_sd(adx, dy, [(ear_x - 0.16 * es * r, ear_base_y - 0.05 * r),
                                   (ear_x + 0.14 * es * r, ear_base_y), (tip[0] - 0.02 * r, tip[1] + 0.18 * r)])
    cv.paint(inner + (1 - cat) * far, (0.92, 0.62, 0.64))
    round_ear = circle_sd(adx - 0.64 * r, dy + 0.66 * r, 0.22 * es * r)
    cv.paint(round_ear + (1 - wild) * far, fur)
    cv.paint(circle_sd(adx - 0.64 * r, dy + 0.66 * r, 0.11 * es * r) + (1 - wild) * far, (0.12, 0.09, 0.08))

    # Head: round (cat), long (dog), broad (wild), with its fur pattern.
    rx = r * (1.0 * cat + 0.86 * dog + 1.02 * wild)
    ry = r * (0.88 * cat + 0.98 * dog + 0.90 * wild)
    head_sd = ellipse_sd(dx, dy, rx, ry)
    cv.paint(head_sd, fur)
    fq, ang, ph = per_image(f["pattern_freq"]), per_image(f["pattern_angle"]), per_image(f["pattern_phase"])
    ca, sa = np.cos(ang), np.sin(ang)
    pu = dx * ca + dy * sa
    pv = dy * ca - dx * sa
    stripes_sd = (0.25 - np.sin(fq * pu + ph)) / fq
    spots_sd = (0.40 - np.cos(fq * pu + ph) * np.cos(fq * pv)) / (0.7 * fq)
    pattern = f["pattern"]
    pattern_sd = np.where(per_image(pattern == 1), stripes_sd, spots_sd)
    alpha = cv.coverage(pattern_sd, per_image((pattern > 0) * f["pattern_contrast"])) * cv.coverage(head_sd + 0.03 * r)
    cv.paint_alpha(alpha, f["pattern_rgb"])

    # Dog: long floppy ears hanging over the sides of the head.
    flop_sd = ellipse_sd(adx - 0.80 * r, dy - 0.12 * r, 0.22 * es * r, 0.50 * es * r)
    cv.paint(flop_sd + (1 - dog) * far, f["pattern_rgb"] * 0.5 + fur * 0.5)

    # Muzzle: two small cheeks (cat), a big snout (dog), a broad pale muzzle (wild).
    cat_muzzle = circle_sd(adx - 0.11 * r, dy - 0.30 * r, 0.15 * r)
    dog_muzzle = ellipse_sd(dx, dy - 0.42 * r, 0.38 * r, 0.32 * r)
    wild_muzzle = ellipse_sd(dx, dy - 0.36 * r, 0.44 * r, 0.25 * r)
    muzzle_sd = np.minimum(np.minimum(cat_muzzle + (1 - cat) * far, dog_muzzle + (1 - dog) * far),
                           wild_muzzle + (1 - wild) * far)
    cv.paint(muzzle_sd, muzzle)
    # Dog tongue.
    cv.paint(ellipse_sd(dx, dy - 0.70 * r, 0.11 * r, 0.10 * r) + (1 - dog) * far, (0.90, 0.45, 0.50),
             opacity=per_image(f["tongue"]))

    # Nose: small pink triangle (cat), big black oval (dog), broad dark pad (wild).
    cat_nose = triangle_sd(dx, dy, [(-0.09 * r, 0.14 * r), (0.09 * r, 0.14 * r), (0.0 * r, 0.24 * r)])
    cv.paint(cat_nose + (1 - cat) * far, (0.88, 0.52, 0.56))
    cv.paint(ellipse_sd(dx, dy - 0.26 * r, 0.15 * r, 0.10 * r) + (1 - dog) * far, (0.07, 0.06, 0.06))
    cv.paint(box_sd(dx, dy - 0.20 * r, 0.13 * r, 0.07 * r, 0.04 * r) + (1 - wild) * far, (0.20, 0.12, 0.10))

    # Cat whiskers: three thin light lines on each side.
    wh = None
    for y0, y1 in [(0.26, 0.14), (0.31, 0.31), (0.36, 0.48)]:
        s = segment_sd(adx, dy, 0.30 * r, y0 * r, 0.86 * r, y1 * r, 0.018 * r)
        wh = s if wh is None else np.minimum(wh, s)
    cv.paint(wh + (1 - cat) * far, (0.95, 0.95, 0.92), opacity=0.85)

    # Eyes: almond with a slit pupil (cat), round and dark (dog), amber with tear marks (wild).
    ex, ey = adx - 0.33 * r, dy + 0.10 * r
    e_rx = r * (0.17 * cat + 0.11 * dog + 0.13 * wild)
    e_ry = r * (0.12 * cat + 0.11 * dog + 0.085 * wild)
    cv.paint(segment_sd(adx, dy, 0.30 * r, -0.02 * r, 0.24 * r, 0.26 * r, 0.03 * r) + (1 - wild) * far,
             (0.10, 0.08, 0.07), opacity=0.9)
    cv.paint(ellipse_sd(ex, ey, e_rx + 0.03 * r, e_ry + 0.03 * r), (0.06, 0.05, 0.05))
    eye_sd = ellipse_sd(ex, ey, e_rx, e_ry)
    cv.paint(eye_sd, f["eye_rgb"])
    pupil_rx = r * (0.035 * cat + 0.07 * dog + 0.045 * wild)
    pupil_ry = r * (0.10 * cat + 0.07 * dog + 0.045 * wild)
    cv.paint(np.maximum(ellipse_sd(ex, ey, pupil_rx, pupil_ry), eye_sd), (0.02, 0.02, 0.02))
    return cv.to_uint8()

