"""How precise are the column positions of a real image? A truth-free estimate from the lattice itself.

On a real micrograph there is no truth to compare with. But along a lattice
translation ``a`` the second difference of positions,
``x(i + a) - 2 x(i) + x(i - a)``, cancels the lattice and any distortion that
varies slowly across the field (drift, scan non-linearity, strain), and
leaves the positions' own noise: for independent errors of standard
deviation sigma per coordinate its variance is ``6 sigma²``. The estimate is
robust (median absolute deviation), pooled over both coordinates and the two
shortest lattice translations, with a bootstrap confidence interval over
blocks of the field (neighbouring triplets share columns).

The translations must be those of the crystal's lattice, not of the set of
columns: in SrTiO3 [001] the Sr and the Ti-O columns together form a
centred square whose shortest vectors join a Sr column to a Ti-O one, and a
second difference along them mixes the two kinds, so any systematic offset
between the kinds (a probe tail, a scan that treats bright and dim columns
differently) reads as noise. Given the columns' brightness,
:func:`bravais_vectors` keeps the shortest translations that join columns
of the same brightness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..numeric import robust_sd
from .planes import members_of

__all__ = ["LatticeNoise", "bravais_vectors", "lattice_noise", "lattice_vectors"]


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
    if len(xy) < 3:
        return np.zeros((0, 2))
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
        counts = tree.query_ball_point(candidates, 0.15 * scale, return_length=True)
        centre = candidates[np.argmax(counts)]
        members = candidates[np.linalg.norm(candidates - centre, axis=1) < 0.15 * scale]
        vector = members.mean(axis=0)
        found.append(vector)
        unit = vector / np.linalg.norm(vector)
        cos = np.abs(candidates @ unit) / np.maximum(np.linalg.norm(candidates, axis=1), 1e-12)
        candidates = candidates[cos < np.cos(np.deg2rad(min_angle_deg))]
    return np.array(found)


def _partners(xy, tree, vector, tolerance):
    """For each point: whether points lie at +vector and -vector (within `tolerance` of |vector|), and which."""
    limit = tolerance * np.linalg.norm(vector)
    d_plus, j = tree.query(xy + vector)
    d_minus, k = tree.query(xy - vector)
    return (d_plus < limit) & (d_minus < limit), j, k


def bravais_vectors(xy, amplitude, tolerance=0.25, min_triplets=0.3):
    """Two shortest translations that join columns of the same brightness: the crystal's lattice, not the columns'.

    Candidates are the two shortest common translations between neighbours
    (:func:`lattice_vectors`), their sum and difference, and their doubles.
    A candidate counts when at least `min_triplets` of the columns have
    partners on both sides; its brightness mismatch is the median
    ``|log(amplitude(partner) / amplitude)|``. The two shortest
    non-parallel candidates whose mismatch is within 1.5x (+ 0.03) of the
    smallest are kept; for a lattice of one kind of column these are the
    shortest translations themselves.

    Examples
    --------
    >>> cell = np.stack(np.meshgrid(np.arange(12) * 8.0, np.arange(12) * 8.0), -1).reshape(-1, 2)
    >>> xy = np.vstack([cell, cell + 4.0])          # a centred square: two kinds of column
    >>> amplitude = np.r_[np.full(len(cell), 100.0), np.full(len(cell), 40.0)]
    >>> np.abs(lattice_vectors(xy)).round(1).tolist()   # the columns' shortest vectors join the two kinds
    [[4.0, 4.0], [4.0, 4.0]]
    >>> sorted(np.abs(bravais_vectors(xy, amplitude)).round(1).tolist())
    [[0.0, 8.0], [8.0, 0.0]]
    """
    xy, log_amp = np.asarray(xy, float), np.log(np.maximum(np.asarray(amplitude, float), 1e-12))
    base = lattice_vectors(xy)
    if len(base) < 2:
        return base
    v1, v2 = base[:2]
    candidates = np.array([v1, v2, v1 + v2, v1 - v2, 2 * v1, 2 * v2])
    tree = cKDTree(xy)
    usable, mismatch = [], []
    for vector in candidates:
        ok, j, k = _partners(xy, tree, vector, tolerance)
        usable.append(ok.mean() >= min_triplets)
        diffs = np.abs(np.concatenate([log_amp[j[ok]] - log_amp[ok], log_amp[k[ok]] - log_amp[ok]]))
        mismatch.append(np.median(diffs) if len(diffs) else np.inf)
    mismatch = np.where(usable, mismatch, np.inf)
    if not np.isfinite(mismatch).any():
        return base
    good = candidates[mismatch <= 1.5 * mismatch.min() + 0.03]
    good = good[np.argsort(np.linalg.norm(good, axis=1))]
    chosen = [good[0]]
    for vector in good[1:]:
        cos = abs(vector @ chosen[0]) / (np.linalg.norm(vector) * np.linalg.norm(chosen[0]))
        if cos < np.cos(np.deg2rad(20.0)):
            chosen.append(vector)
            break
    return np.array(chosen)


def lattice_noise(xy, vectors=None, tolerance=0.25, n_boot=200, seed=0, amplitude=None) -> LatticeNoise:
    """Position noise per coordinate from second differences along lattice translations.

    Parameters
    ----------
    xy : (N, 2) float array
        Column positions, px.
    vectors : (K, 2) float array, optional
        Lattice translations (px); by default the two shortest common ones
        (:func:`lattice_vectors`), or with `amplitude` the shortest that
        join columns of the same brightness (:func:`bravais_vectors`).
    tolerance : float
        A neighbour must lie within this fraction of |a| of ``x(i) ± a``.
    n_boot : int
        Bootstrap resamples (over blocks of about three lattice spacings) for the 95 % CI.
    amplitude : (N,) float array, optional
        The columns' brightness (e.g. ``Columns.amplitude``).

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
    xy = np.asarray(xy, float).reshape(-1, 2)
    if vectors is None:
        vectors = lattice_vectors(xy) if amplitude is None else bravais_vectors(xy, amplitude, tolerance)
    vectors = np.asarray(vectors, float).reshape(-1, 2)
    if len(xy) < 3:
        return LatticeNoise(float("nan"), (float("nan"), float("nan")), 0, vectors)
    tree = cKDTree(xy)
    second, centres = [], []
    for a in vectors:
        ok, j, k = _partners(xy, tree, a, tolerance)
        second.append(xy[j[ok]] - 2 * xy[ok] + xy[k[ok]])
        centres.append(xy[ok])
    d = np.concatenate(second) if second else np.zeros((0, 2))
    if len(d) < 10:
        return LatticeNoise(float("nan"), (float("nan"), float("nan")), len(d), vectors)

    def sigma(values):
        return robust_sd(values.ravel()) / np.sqrt(6.0)

    # neighbouring triplets share columns, so they are not independent: the bootstrap resamples square
    # blocks of about three lattice spacings, not single triplets (which gives a CI too narrow)
    side = 3.0 * float(np.linalg.norm(vectors, axis=1).max())
    block = np.unique(np.floor(np.concatenate(centres) / side), axis=0, return_inverse=True)[1].ravel()
    members = [indices for _, indices in members_of(block)]
    rng = np.random.default_rng(seed)
    boot = [sigma(d[np.concatenate([members[b] for b in rng.integers(0, len(members), len(members))])])
            for _ in range(n_boot)]
    return LatticeNoise(sigma(d), tuple(float(x) for x in np.percentile(boot, [2.5, 97.5])), len(d), vectors)
