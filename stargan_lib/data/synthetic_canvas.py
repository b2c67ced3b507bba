"""Drawing primitives of the synthetic datasets: signed distances and a canvas that paints them.

Introduced in `notebooks/00_setup_and_data.ipynb` (through `stargan_lib.data.synthetic`).

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

Per-image parameters have shape (n, 1, 1); x has shape (1, 1, S) and y (1, S, 1), so most
intermediate arrays stay (n, 1, S) or (n, S, 1) until two of them meet. Imports numpy only.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


def per_image(values) -> np.ndarray:
    """(n,) per-image values -> (n, 1, 1) float32, ready to broadcast against the pixel grid."""
    return np.asarray(values, dtype=F32)[:, None, None]


def ellipse_sd(dx: np.ndarray, dy: np.ndarray, rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
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


def circle_sd(dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Signed distance to a circle of radius r centred at dx=dy=0."""
    return np.sqrt(dx * dx + dy * dy) - r


def segment_sd(px, py, ax, ay, bx, by, r) -> np.ndarray:
    """Signed distance to a capsule: the segment a-b thickened to radius r."""
    pax, pay = px - ax, py - ay
    bax, bay = bx - ax, by - ay
    h = (pax * bax + pay * bay) / (bax * bax + bay * bay + 1e-12)
    np.clip(h, 0.0, 1.0, out=h)
    ex, ey = pax - bax * h, pay - bay * h
    return np.sqrt(ex * ex + ey * ey) - r


def box_sd(dx, dy, hx, hy, r) -> np.ndarray:
    """Signed distance to a box of half-sizes (hx, hy) with corners rounded to radius r."""
    qx = np.abs(dx) - (hx - r)
    qy = np.abs(dy) - (hy - r)
    outside = np.sqrt(np.maximum(qx, 0.0) ** 2 + np.maximum(qy, 0.0) ** 2)
    inside = np.minimum(np.maximum(qx, qy), 0.0)
    return outside + inside - r


def triangle_sd(px, py, verts) -> np.ndarray:
    """Signed distance (exact on the edges, rounded beyond the corners) to a triangle.

    `verts` is three (x, y) pairs of (n, 1, 1) arrays; the orientation does not matter.
    """
    sd = None
    for i in range(3):
        (ax, ay), (bx, by), (kx, ky) = verts[i], verts[(i + 1) % 3], verts[(i + 2) % 3]
        nx, ny = by - ay, ax - bx
        norm = np.sqrt(nx * nx + ny * ny) + 1e-12
        # Orient the edge normal away from the opposite vertex, so that inside is negative.
        side = np.where((kx - ax) * nx + (ky - ay) * ny > 0, -1.0, 1.0).astype(F32)
        nx, ny = nx * side / norm, ny * side / norm
        d = (px - ax) * nx + (py - ay) * ny
        sd = d if sd is None else np.maximum(sd, d)
    return sd


class Canvas:
    """A batch of n RGB images (stored channel-first as (3, n, S, S) float32 in [0, 1])."""

    def __init__(self, n: int, size: int):
        self.n, self.size = n, size
        self.px = size / 2.0                     # pixels per normalised unit
        grid = (np.arange(size, dtype=F32) + 0.5) * (2.0 / size) - 1.0   # pixel centres
        self.x = grid[None, None, :]              # (1, 1, S)
        self.y = grid[None, :, None]              # (1, S, 1)
        self.img = np.empty((3, n, size, size), F32)

    def _rgb(self, color) -> np.ndarray:
        return np.broadcast_to(np.asarray(color, F32), (self.n, 3))

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


def jitter_rgb(rng: np.random.Generator, base: np.ndarray, brightness: float, channel: float) -> np.ndarray:
    """Per-image colour variation around palette colours `base` (n, 3)."""
    n = len(base)
    out = base * rng.uniform(1 - brightness, 1 + brightness, (n, 1)) + rng.normal(0, channel, (n, 3))
    return np.clip(out, 0.0, 1.0).astype(F32)


def mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-image linear blend of colours (n, 3): a where t = 0, b where t = 1."""
    return (a + (b - a) * np.asarray(t, F32).reshape(-1, 1)).astype(F32)

