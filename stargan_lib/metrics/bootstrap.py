"""Bootstrap standard errors over source images for the ablation's FID, LPIPS and oracle Fréchet distance.

Introduced in `notebooks/06_ablation_table.ipynb`; `metrics.protocol.evaluate_protocol` uses it.

What is estimated: how much a configuration's number would move if the evaluation had drawn other
source images (and, with them, other latent codes or references) from the same test distribution,
with the trained networks held fixed. One bootstrap draw resamples, for every source domain, its
evaluated source images with replacement (each keeps all its outputs); every domain pair of that
source domain uses the same draw, since the pairs share their sources. The metric is recomputed
on the draw (the FID of each pair from the drawn sources' outputs against the same real
statistics, averaged over the pairs); the standard error is the standard deviation of the `B`
recomputed values (`DEFAULT_B` = 100 draws: the estimate of the standard error itself is good to
about 1 / sqrt(2 (B - 1)), 7 %). Training noise (another seed) is not in it.

FID of a draw: a draw repeats some sources, so its covariance has lower rank; with n <= d outputs the
exact low-rank route of `fid_metric` (an n x n eigenproblem on a precomputed Gram matrix X Σ_r Xᵀ)
keeps a draw at milliseconds, so 100 draws cost about a second per pair at the course preset.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from stargan_lib.errors import ConfigError, DataError

DEFAULT_B = 100


def source_draws(n_sources: Mapping[int, int], n_boot: int = DEFAULT_B, seed: int = 0) -> list[dict[int, np.ndarray]]:
    """`n_boot` bootstrap draws: for each group (source domain) g with `n_sources[g]` sources, indices
    0..n-1 drawn with replacement. The same draw serves every pair of that source domain."""
    if n_boot < 2:
        raise ConfigError(f"n_boot={n_boot}: a bootstrap standard error needs at least 2 draws (default {DEFAULT_B})")
    rng = np.random.default_rng(seed)
    return [{g: rng.integers(0, n, n) for g, n in n_sources.items()} for _ in range(n_boot)]


def standard_error(values: Sequence[float]) -> float:
    """The bootstrap standard error: the standard deviation (ddof 1) of the recomputed values."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        raise DataError(f"a standard error needs at least 2 bootstrap values, got {len(v)}")
    return float(v.std(ddof=1))


class FrechetResampler:
    """The Fréchet distance between a set of fake features, grouped by source, and fixed real
    statistics, recomputed for any multiset of sources (`distance(draw)`).

    features: (N, d) fake features, `per_source` consecutive rows per source (a source's outputs);
    real_mu (d,), real_sigma (d, d): the real set's Gaussian. `distance(np.arange(n_sources))` is the
    distance of the whole set (equal to `fid_metric.fid_from_stats` up to rounding).
    """

    def __init__(self, features: np.ndarray, per_source: int, real_mu: np.ndarray, real_sigma: np.ndarray):
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or per_source < 1 or len(x) % per_source:
            raise DataError(f"features {x.shape} do not split into sources of {per_source} outputs each")
        self.per_source = int(per_source)
        self.n_sources = len(x) // self.per_source
        self.centre = x.mean(0)
        self.x = x - self.centre                                 # centred once: better conditioned
        self.mu = np.asarray(real_mu, dtype=np.float64)
        self.sigma = np.asarray(real_sigma, dtype=np.float64)
        self.tr_real = float(np.trace(self.sigma))
        self.lowrank = len(x) <= x.shape[1]
        if self.lowrank:
            self.gram = self.x @ self.sigma @ self.x.T               # (N, N): X Σ_r Xᵀ
        else:
            w, v = np.linalg.eigh((self.sigma + self.sigma.T) / 2)
            self.sigma_half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T    # Σ_r^(1/2)

    def rows(self, draw: np.ndarray) -> np.ndarray:
        """The output rows of the drawn sources (with repeats)."""
        d = np.asarray(draw, dtype=np.int64)
        if d.size and (d.min() < 0 or d.max() >= self.n_sources):
            raise DataError(f"source indices must lie in [0, {self.n_sources}), got {d.min()}..{d.max()}")
        return (d[:, None] * self.per_source + np.arange(self.per_source)).ravel()

    def distance(self, draw: np.ndarray) -> float:
        """Fréchet distance of the outputs of sources `draw` (indices, repeats allowed) to the real set."""
        r = self.rows(draw)
        n = len(r)
        if n < 2:
            raise DataError("a Fréchet distance needs at least 2 outputs")
        xb = self.x[r]
        m = xb.mean(0)
        diff = self.centre + m - self.mu
        tr_fake = (float((xb * xb).sum()) - n * float(m @ m)) / (n - 1)
        if self.lowrank:
            g = self.gram[np.ix_(r, r)]
            gm = g.mean(0)
            g = g - gm[None, :] - gm[:, None] + gm.mean()          # H (X Σ_r Xᵀ) H: the centred draw
            eig = np.linalg.eigvalsh((g + g.T) / 2) / (n - 1)
        else:
            y = xb - m
            s = self.sigma_half @ (y.T @ y / (n - 1)) @ self.sigma_half
            eig = np.linalg.eigvalsh((s + s.T) / 2)
        return float(diff @ diff + tr_fake + self.tr_real - 2 * np.sqrt(np.clip(eig, 0, None)).sum())


__all__ = ["DEFAULT_B", "source_draws", "standard_error", "FrechetResampler"]
