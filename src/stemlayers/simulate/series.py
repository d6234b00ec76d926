"""A series of fast frames of one simulated field, each with its own scan distortion and noise.

The field is rendered once without noise (:func:`stemlayers.simulate.simulate`
with ``noise=False``); every frame then resamples it through its own raster
scan: a drift that grows from frame to frame, a slow-scan shear and stretch
drawn per frame, and a line jitter drawn per scan row; then Poisson noise.
The truth is the undistorted column positions of the rendered field.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from . import simulate
from .params import SimulationParams
from .scan import nonlinear_drift_px
from .truth import Truth

__all__ = ["SimulatedSeries", "affine_residual", "simulate_scan_pair", "simulate_series"]


@dataclasses.dataclass(frozen=True, eq=False)
class SimulatedSeries:
    """Frames (n, rows, cols) in counts, their pixel size, the truth and each frame's scan."""

    frames: np.ndarray
    pixel_size_A: float
    truth: Truth
    drift_px: np.ndarray  # (n, 2) content displacement (x, y) of each frame
    shear: np.ndarray  # (n,) slow-scan shear: x offset per row
    stretch: np.ndarray  # (n,) slow-scan stretch: relative


def _raster(image, dy, dx):
    """`image` as a raster scan sees it: row r shows row r + dy[r] at columns c + dx[r]."""
    rows, cols = np.mgrid[0:image.shape[0], 0:image.shape[1]].astype(float)
    return ndimage.map_coordinates(image, [rows + dy[:, None], cols + dx[:, None]], order=3, mode="nearest")


def _scan(image, shift_xy, shear, stretch, jitter):
    """`image` scanned with a shift, a slow-scan shear and stretch, and a line `jitter` per row (:func:`_raster`)."""
    from_centre = np.arange(image.shape[0], dtype=float) - 0.5 * (image.shape[0] - 1)
    return _raster(image, -shift_xy[1] + stretch * from_centre, -shift_xy[0] + shear * from_centre + jitter)


def simulate_series(params: SimulationParams | None = None, n_frames=10, drift_px=(2.0, 1.5), jitter_px=0.8,
                    shear_sd=0.01, stretch_sd=0.005, seed=0, **overrides) -> SimulatedSeries:
    """Frames of one field as a microscope's fast series records them.

    Parameters
    ----------
    params : SimulationParams, optional
    n_frames : int
    drift_px : (float, float)
        Drift (x, y) from one frame to the next, px (plus a random 0.3 px).
    jitter_px : float
        rms line jitter along the fast scan, per row, px.
    shear_sd, stretch_sd : float
        Spread of each frame's slow-scan shear (x px per row) and stretch.
    seed : int
    **overrides
        Fields of SimulationParams (e.g. ``shape=(256, 256)``).

    Returns
    -------
    SimulatedSeries
    """
    base = simulate(params, noise=False, jitter_px=0.0, **overrides)
    rng = np.random.default_rng(seed)
    rows = base.data.shape[0]
    drift = np.arange(n_frames)[:, None] * np.asarray(drift_px, float) + rng.normal(0, 0.3, (n_frames, 2))
    drift -= drift.mean(axis=0)
    shear = rng.normal(0, shear_sd, n_frames)
    stretch = rng.normal(0, stretch_sd, n_frames)
    frames = np.stack([
        rng.poisson(np.clip(_scan(base.data, drift[k], shear[k], stretch[k], rng.normal(0, jitter_px, rows)), 0, None))
        for k in range(n_frames)]).astype(np.float32)
    return SimulatedSeries(frames, base.pixel_size_A, base.truth, drift, shear, stretch)


def affine_residual(found_xy, true_xy, guess_shift=(0.0, 0.0), match_px=3.0, iterations=4, affine=True):
    """rms distance (px) of found points from the true ones after the best affine map, and the matched count.

    The map is fitted by least squares on nearest pairs, re-matched each
    time, starting from a translation `guess_shift` (found - true). With
    ``affine=False`` the map is the best translation alone (a linear drift
    then counts as an error too).
    """
    from scipy.spatial import cKDTree

    true_xy = np.asarray(true_xy, float)
    found_xy = np.asarray(found_xy, float)
    design = np.column_stack([true_xy, np.ones(len(true_xy))])
    coef = np.array([[1.0, 0.0], [0.0, 1.0], list(guess_shift)])
    tree = cKDTree(found_xy)
    for _ in range(iterations):
        predicted = design @ coef
        distance, nearest = tree.query(predicted)
        ok = distance < match_px
        if affine:
            coef = np.linalg.lstsq(design[ok], found_xy[nearest[ok]], rcond=None)[0]
        else:
            coef[2] += np.mean(found_xy[nearest[ok]] - predicted[ok], axis=0)
    residual = found_xy[nearest[ok]] - design[ok] @ coef
    return float(np.sqrt(np.mean(np.sum(residual**2, axis=1)))), int(ok.sum())


def _drifting_scan(image, drift_per_row, wander_px, jitter_px, rng):
    """`image` scanned row by row while the specimen drifts: row r shows it displaced by D(r), px.

    D(r) is a steady drift (`drift_per_row`, x and y px per row, about the middle row) plus a smooth
    wandering one (:func:`~stemlayers.simulate.scan.nonlinear_drift_px`, peak `wander_px`); each row also
    jitters along the fast scan (rms `jitter_px`).
    """
    r = np.arange(image.shape[0], dtype=float)
    drift = np.outer(r - 0.5 * (image.shape[0] - 1), drift_per_row)
    drift += nonlinear_drift_px(r, image.shape[0], wander_px, rng)
    jitter = rng.normal(0, jitter_px, image.shape[0])
    return _raster(image, -drift[:, 1], -drift[:, 0] - jitter)


def simulate_scan_pair(params: SimulationParams | None = None, drift_per_row=(0.004, 0.006), wander_px=1.5,
                       jitter_px=0.3, seed=0, **overrides):
    """The same field scanned twice, at 0° and at 90° scan rotation, each with its own drift.

    Parameters
    ----------
    params : SimulationParams, optional
    drift_per_row : (float, float)
        Steady drift (x, y) of the specimen per scan row, px, in each scan's own frame (the second scan
        gets it turned by its rotation, as one drift of the stage would be).
    wander_px : float
        Peak of each scan's own smooth wandering drift, px.
    jitter_px : float
        rms line jitter, px.
    seed : int
    **overrides
        Fields of SimulationParams.

    Returns
    -------
    (first, second, sim)
        The two scans as saved (the second turned by a quarter turn: ``numpy.rot90(second)`` is back in
        the first's frame), counts with Poisson noise, and the noise-free SimulatedImage with the truth
        in the specimen's (the first scan's undistorted) frame.
    """
    params = dataclasses.replace(params or SimulationParams(), **{"seed": seed, **overrides})
    clean = simulate(params, noise=False)
    rng = np.random.default_rng([seed, 7])
    first = _drifting_scan(clean.data, np.asarray(drift_per_row, float), wander_px, jitter_px, rng)
    turned = np.rot90(clean.data, -1)
    second = _drifting_scan(turned, np.asarray(drift_per_row, float)[::-1] * [1, -1], wander_px, jitter_px, rng)
    noisy = [rng.poisson(np.clip(x, 0, None)).astype(np.float32) for x in (first, second)]
    return noisy[0], noisy[1], clean
