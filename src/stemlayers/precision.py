"""How precise are the column positions of a real image? A truth-free estimate from the lattice itself.

On a real micrograph there is no truth to compare with. But along a lattice
translation ``a`` the second difference of positions,
``x(i + a) - 2 x(i) + x(i - a)``, cancels the lattice and any distortion that
varies slowly across the field (drift, scan non-linearity, strain), and
leaves the positions' own noise: for independent errors of standard
deviation sigma per coordinate its variance is ``6 sigma²``. The estimate is
robust (median absolute deviation), pooled over both coordinates and the two
shortest lattice translations, with a bootstrap confidence interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .robust import robust_sd

__all__ = ["LatticeNoise", "lattice_noise", "lattice_vectors"]


@dataclass(frozen=True)
class LatticeNoise:
    """Position noise per coordinate (px), its 95 % CI, from how many triplets, along which vectors (px)."""

    sigma_px: float
    ci95_px: tuple
    n_triplets: int
    vectors: np.ndarray


def lattice_vectors(xy, n_vectors=2, min_angle_deg=20.0):
    """The shortest, most common translations between neighbouring points (px), not parallel to each other.

    Examples
    --------
    >>> g = np.stack(np.meshgrid(np.arange(10) * 5.0, np.arange(8) * 7.0), -1).reshape(-1, 2)
    >>> np.abs(lattice_vectors(g)).round(3).tolist()
    [[5.0, 0.0], [0.0, 7.0]]
    """
    xy = np.asarray(xy, float)
    distance, index = cKDTree(xy).query(xy, k=min(7, len(xy)))
    vectors = (xy[index[:, 1:]] - xy[:, None, :]).reshape(-1, 2)
    vectors = np.where((vectors[:, :1] < 0) | ((vectors[:, :1] == 0) & (vectors[:, 1:] < 0)), -vectors, vectors)
    scale = float(np.median(distance[:, 1]))
    found = []
    candidates = vectors
    for _ in range(n_vectors):
        if not len(candidates):
            break
        # the densest cluster: the vector with the most others within 15 % of the nearest-neighbour distance
        tree = cKDTree(candidates)
        counts = np.array([len(c) for c in tree.query_ball_point(candidates, 0.15 * scale)])
        centre = candidates[np.argmax(counts)]
        members = candidates[np.linalg.norm(candidates - centre, axis=1) < 0.15 * scale]
        vector = members.mean(axis=0)
        found.append(vector)
        unit = vector / np.linalg.norm(vector)
        cos = np.abs(candidates @ unit) / np.maximum(np.linalg.norm(candidates, axis=1), 1e-12)
        candidates = candidates[cos < np.cos(np.deg2rad(min_angle_deg))]
    return np.array(found)


def lattice_noise(xy, vectors=None, tolerance=0.25, n_boot=200, seed=0) -> LatticeNoise:
    """Position noise per coordinate from second differences along lattice translations.

    Parameters
    ----------
    xy : (N, 2) float array
        Column positions, px.
    vectors : (K, 2) float array, optional
        Lattice translations (px); the two shortest common ones by default.
    tolerance : float
        A neighbour must lie within this fraction of |a| of ``x(i) ± a``.
    n_boot : int
        Bootstrap resamples (over triplets) for the 95 % CI.

    Returns
    -------
    LatticeNoise

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> g = np.stack(np.meshgrid(np.arange(40) * 6.0, np.arange(40) * 6.0), -1).reshape(-1, 2)
    >>> round(float(lattice_noise(g + rng.normal(0, 0.1, g.shape)).sigma_px), 2)
    0.1
    """
    xy = np.asarray(xy, float)
    vectors = lattice_vectors(xy) if vectors is None else np.asarray(vectors, float)
    tree = cKDTree(xy)
    second = []
    for a in vectors:
        limit = tolerance * np.linalg.norm(a)
        d_plus, j = tree.query(xy + a)
        d_minus, k = tree.query(xy - a)
        ok = (d_plus < limit) & (d_minus < limit)
        second.append(xy[j[ok]] - 2 * xy[ok] + xy[k[ok]])
    d = np.concatenate(second) if second else np.zeros((0, 2))
    if len(d) < 10:
        return LatticeNoise(float("nan"), (float("nan"), float("nan")), len(d), vectors)

    def sigma(values):
        flat = values.ravel()
        return robust_sd(flat) / np.sqrt(6.0)

    rng = np.random.default_rng(seed)
    boot = [sigma(d[rng.integers(0, len(d), len(d))]) for _ in range(n_boot)]
    return LatticeNoise(sigma(d), tuple(float(x) for x in np.percentile(boot, [2.5, 97.5])), len(d), vectors)
