"""The parametric face of the synthetic "faces" (CelebA), "expressions" (RaFD) and "faces_gender"
(CelebA-HQ) datasets: how its factors are drawn and how they are painted.

Introduced in `notebooks/00_setup_and_data.ipynb` (through `stargan_lib.data.synthetic`, whose
registry names what each dataset's labels and content factors are). One module for the three:
they share the identity sampler and the painter and differ only in capture style and labels.
"""

from __future__ import annotations

import numpy as np

from stargan_lib.data.base import RAFD_EXPRESSIONS
from stargan_lib.data.synthetic_canvas import (F32, Canvas, box_sd, circle_sd, ellipse_sd, jitter_rgb, mix,
                                               per_image, segment_sd)

# Palettes
# Hair: ids 0..2 are the three labelled CelebA colours; 3 and 4 are "other" (no hair label set).
HAIR_COLORS = ["black", "blond", "brown", "grey", "red"]
_HAIR_RGB = np.array([[0.09, 0.07, 0.06], [0.93, 0.80, 0.45], [0.46, 0.28, 0.13],
                      [0.76, 0.76, 0.78], [0.78, 0.30, 0.12]], F32)
EYE_COLORS = ["brown", "blue", "green", "grey", "hazel"]
_EYE_RGB = np.array([[0.36, 0.20, 0.10], [0.25, 0.47, 0.78], [0.30, 0.58, 0.30],
                     [0.52, 0.57, 0.62], [0.60, 0.45, 0.20]], F32)
# Skin tone 0 (light) .. 1 (dark), piecewise-linear through these colours.
_SKIN_RGB = np.array([[0.98, 0.87, 0.78], [0.90, 0.72, 0.58], [0.74, 0.53, 0.38],
                      [0.52, 0.35, 0.24], [0.34, 0.22, 0.15]], F32)


def skin_rgb(tone: np.ndarray) -> np.ndarray:
    """Skin colour (n, 3) of skin tones in [0, 1] (0 light, 1 dark)."""
    t = np.clip(np.asarray(tone, F32), 0, 1) * (len(_SKIN_RGB) - 1)
    i = np.minimum(t.astype(int), len(_SKIN_RGB) - 2)
    return mix(_SKIN_RGB[i], _SKIN_RGB[i + 1], t - i)


# Expression shapes: offsets from neutral of (brow_raise, brow_tilt, eye_open, mouth_curve,
# mouth_open, mouth_width, mouth_asym) plus teeth and nose_wrinkle flags. brow_tilt > 0 lowers the
# inner ends of the brows (a frown), < 0 raises them (worry); mouth_curve > 0 is a smile.
_EXPR_PARAMS = ["brow_raise", "brow_tilt", "eye_open", "mouth_curve", "mouth_open", "mouth_width", "mouth_asym"]
_EXPR_NEUTRAL = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0], F32)
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
    f["hair_rgb"] = jitter_rgb(rng, _HAIR_RGB[f["hair_color"]], 0.08, 0.02)
    f["male"] = (rng.random(n) < (0.5 if style != "celeba" else 0.45)).astype(np.int64)
    f["young"] = (rng.random(n) < 0.72).astype(np.int64)
    male = f["male"] == 1
    # Hair length 0 = short (every man), 0.4..1 = long (every woman): the strongest gender cue.
    f["hair_length"] = np.where(male, 0.0, rng.uniform(0.4, 1.0, n))
    # Beard: 0 none, 1 stubble, 2 full (men only).
    beard = rng.choice(3, n, p=[0.3, 0.45, 0.25])
    f["beard"] = np.where(male, beard, 0)
    f["eye_color"] = rng.integers(0, len(EYE_COLORS), n)
    f["eye_rgb"] = jitter_rgb(rng, _EYE_RGB[f["eye_color"]], 0.08, 0.02)
    lipstick = jitter_rgb(rng, np.tile([[0.78, 0.18, 0.26]], (n, 1)), 0.15, 0.05)
    natural = mix(skin_rgb(f["skin_tone"]) * np.array([0.75, 0.5, 0.5], F32),
                   np.tile([[0.62, 0.24, 0.24]], (n, 1)), np.full(n, 0.5))
    f["lip_rgb"] = np.where(male[:, None], natural, mix(natural, lipstick, rng.uniform(0.3, 1.0, n)))

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
    table = np.array([_EXPR_TABLE[e][0] for e in RAFD_EXPRESSIONS], F32)
    intensity = rng.uniform(0.8, 1.2, (n, 1))
    noise = rng.normal(0, 1, (n, len(_EXPR_PARAMS))) * np.array([0.01, 0.07, 0.04, 0.07, 0.03, 0.04, 0.04])
    params = _EXPR_NEUTRAL + intensity * (table[expression] - _EXPR_NEUTRAL) + noise
    f = {name: params[:, i] for i, name in enumerate(_EXPR_PARAMS)}
    # Contempt raises one corner of the mouth, left or right (so horizontal flips stay contempt).
    f["mouth_asym"] = f["mouth_asym"] * np.where(rng.random(n) < 0.5, -1.0, 1.0)
    f["teeth"] = np.array([_EXPR_TABLE[e][1] for e in RAFD_EXPRESSIONS], np.int64)[expression]
    f["nose_wrinkle"] = np.array([_EXPR_TABLE[e][2] for e in RAFD_EXPRESSIONS], np.int64)[expression]
    return f


def paint_faces(f: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Paint a batch of faces from their factors; returns (n, size, size, 3) uint8."""
    n = len(f["pos_x"])
    cv = Canvas(n, size)
    x, y = cv.x, cv.y
    cx, cy = per_image(f["pos_x"]), per_image(f["pos_y"])
    fw, fh = per_image(f["face_w"]), per_image(f["face_h"])
    male, young = per_image(f["male"]), per_image(f["young"])
    skin = skin_rgb(f["skin_tone"])
    hair = f["hair_rgb"]
    dx, dy = x - cx, y - cy                           # (n,1,S), (n,S,1) relative to the face centre
    adx = np.abs(dx)                                  # mirrored: one SDF draws both eyes, brows...

    # Background and shoulders.
    bg = f["background"].astype(F32)
    cv.vertical_gradient(bg, np.clip(bg * f["bg_gradient"][:, None], 0, 1))
    cv.paint(ellipse_sd(dx, y - (cy + fh + 0.62), fw * 2.1, per_image(np.full(n, 0.55))), f["shirt_rgb"])

    # Hair behind the head: a cap for everyone, plus a long fall for long hair.
    cap_sd = ellipse_sd(dx, dy + 0.10 * fh, fw * (1.10 + 0.04 * (1 - male)), fh * 1.0)
    length = per_image(f["hair_length"])
    long_sd = ellipse_sd(dx, dy - 0.45 * fh, fw * (1.12 + 0.12 * length), fh * (0.95 + 0.6 * length))
    long_sd = np.where(length > 0, long_sd, np.float32(9.0))
    cv.paint(np.minimum(cap_sd, long_sd), hair)

    # Ears (short hair leaves them visible), neck, face. Men get a squarer jaw.
    ear_sd = ellipse_sd(adx - 0.98 * fw, dy - 0.05 * fh, 0.15 * fw, 0.22 * fh)
    cv.paint(ear_sd, skin * 0.9, opacity=male)
    cv.paint(box_sd(dx, y - (cy + fh * 0.9 + 0.15), 0.42 * fw, per_image(np.full(n, 0.3)), 0.1 * fw), skin * 0.82)
    face_sd = ellipse_sd(dx, dy, fw, fh)
    jaw_sd = box_sd(dx, dy - 0.42 * fh, 0.86 * fw, 0.52 * fh, 0.32 * fw)
    face_sd = np.minimum(face_sd, jaw_sd + (1 - male) * 9.0)
    cv.paint(face_sd, skin)

    # Mouth geometry (painted last): a midline y = mid(u) across u in [-1, 1] (curve: smile > 0,
    # asym: one corner up), opened into a lens of half-height `half`; lips around it.
    mw = 0.36 * fw * per_image(f["mouth_width"])
    u = np.clip(dx / mw, -1.0, 1.0)
    amp = 0.15 * fh
    asym = per_image(f["mouth_asym"])
    curve = per_image(f["mouth_curve"])
    raise_ = np.maximum(np.sign(asym) * u, 0.0)               # 0 .. 1 towards the raised corner
    mid = 0.50 * fh + curve * amp * (0.35 - u * u) - amp * np.abs(asym) * raise_ ** 2
    slope = (-2.0 * curve * amp * u - 2.0 * amp * asym * raise_) / mw    # d mid / dx
    half = per_image(f["mouth_open"]) * 0.17 * fh * (1.0 - u * u)
    off = np.abs(dy - mid) / np.sqrt(1.0 + slope * slope)     # distance across the (sloped) midline
    lips_sd = np.maximum(off - half - (0.06 + 0.015 * (1 - male)) * fh, np.abs(dx) - mw)

    # Beard: stubble (a translucent shadow) or full (hair-coloured), on the lower face, leaving a
    # shaved ring around the lips so that the mouth stays readable.
    beard = f["beard"]
    beard_sd = np.maximum(np.maximum(face_sd + 0.02, (cy + 0.12 * fh) - y), 0.05 * fh - lips_sd)
    beard_opacity = per_image(np.select([beard == 1, beard == 2], [0.40, 0.92], 0.0))
    beard_rgb = np.where(beard[:, None] == 2, hair, mix(skin * 0.55, hair, np.full(n, 0.5)))
    cv.paint(beard_sd, beard_rgb, opacity=beard_opacity)

    # Age: forehead lines, smile lines and eye bags on older faces.
    old = 1 - young
    line_rgb = skin * 0.55
    r_line = 0.045 * fh
    wr = segment_sd(adx, dy, 0.0, -0.47 * fh, 0.45 * fw, -0.45 * fh, r_line)
    wr = np.minimum(wr, segment_sd(adx, dy, 0.0, -0.60 * fh, 0.40 * fw, -0.58 * fh, r_line))
    wr = np.minimum(wr, segment_sd(adx, dy, 0.24 * fw, 0.14 * fh, 0.40 * fw, 0.38 * fh, r_line))
    wr = np.minimum(wr, segment_sd(adx, dy, 0.22 * fw, 0.08 * fh, 0.50 * fw, 0.06 * fh, r_line))
    cv.paint(np.maximum(wr, face_sd), line_rgb, opacity=old * 0.85)

    # Fringe: hair on the forehead above the hairline (older faces: a receding hairline).
    hairline = -fh * (0.66 + 0.08 * old) + 0.40 * fh * (dx / fw) ** 2
    cv.paint(np.maximum(cap_sd, dy - hairline), hair)

    # Eyes: dark outline, white, coloured iris, pupil.
    eye_x, eye_y = 0.36 * fw, -0.08 * fh
    ex, ey = adx - eye_x, dy - eye_y
    e_rx, e_ry = 0.20 * fw, 0.11 * fh * per_image(f["eye_open"])
    cv.paint(ellipse_sd(ex, ey, e_rx + 0.03 * fw, e_ry + 0.03 * fw), skin * 0.35)
    sclera_sd = ellipse_sd(ex, ey, e_rx, e_ry)
    cv.paint(sclera_sd, (0.96, 0.96, 0.94))
    cv.paint(np.maximum(circle_sd(ex, ey, 0.11 * fw), sclera_sd), f["eye_rgb"])
    cv.paint(np.maximum(circle_sd(ex, ey, 0.05 * fw), sclera_sd), (0.03, 0.03, 0.03))

    # Brows: thicker for men; raised, lowered and tilted by the expression.
    brow_y = -0.32 * fh - per_image(f["brow_raise"]) * fh
    tilt = per_image(f["brow_tilt"]) * 0.10 * fh
    brow_r = (0.045 + 0.02 * male) * fh
    brow_rgb = mix(hair * 0.6, np.zeros_like(hair), np.full(n, 0.3))
    cv.paint(segment_sd(adx, dy, 0.14 * fw, brow_y + tilt, 0.60 * fw, brow_y - 0.3 * tilt, brow_r), brow_rgb)

    # Nose, and the wrinkles across it (disgust).
    cv.paint(segment_sd(dx, dy, 0.0, 0.0, 0.04 * fw, 0.22 * fh, 0.045 * fw), skin * 0.78, opacity=0.8)
    nw = segment_sd(adx, dy, 0.0, 0.02 * fh, 0.16 * fw, -0.01 * fh, 0.03 * fh)
    nw = np.minimum(nw, segment_sd(adx, dy, 0.0, 0.10 * fh, 0.18 * fw, 0.08 * fh, 0.03 * fh))
    cv.paint(nw, skin * 0.5, opacity=per_image(f["nose_wrinkle"]))

    # Mouth: lips, the dark inside (a thin line between closed lips), teeth.
    cv.paint(lips_sd, f["lip_rgb"])
    inside_sd = np.maximum(off - np.maximum(half, 0.03 * fh), np.abs(dx) - 0.92 * mw)
    cv.paint(inside_sd, (0.25, 0.05, 0.06), opacity=0.8)
    teeth_sd = np.maximum(inside_sd, (dy - mid) + 0.1 * half)
    cv.paint(teeth_sd, (0.95, 0.95, 0.92), opacity=per_image(f["teeth"]))

    # Light: a linear brightness gradient over the whole photograph.
    cv.multiply(1.0 + per_image(f["light_x"]) * x + per_image(f["light_y"]) * y)
    return cv.to_uint8()


def sample_faces(rng: np.random.Generator, n: int):
    """(factors, CelebA attribute labels (n, 5) float32) of `n` faces in the "celeba" capture style."""
    f = _sample_face_identity(rng, n, "celeba")
    f.update(_sample_casual_expression(rng, n))
    hair = f["hair_color"]
    labels = np.stack([hair == 0, hair == 1, hair == 2, f["male"] == 1, f["young"] == 1], 1).astype(np.float32)
    return f, labels


def sample_expressions(rng: np.random.Generator, n: int):
    """(factors, RaFD expression indices (n,) int64) of `n` faces in the "rafd" capture style."""
    f = _sample_face_identity(rng, n, "rafd")
    expression = rng.integers(0, len(RAFD_EXPRESSIONS), n)
    f.update(_sample_expression(rng, expression))
    f["expression"] = expression
    return f, expression.astype(np.int64)


def sample_faces_gender(rng: np.random.Generator, n: int):
    """(factors, gender indices (n,) int64: 0 female, 1 male) of `n` faces in the "celebahq" capture style."""
    f = _sample_face_identity(rng, n, "celebahq")
    f.update(_sample_casual_expression(rng, n))
    return f, f["male"].astype(np.int64)

