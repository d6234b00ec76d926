"""Growth direction of a cross-section, from its columns alone.

The atomic planes are the family of lattice lines along which the columns,
weighted by brightness, project most sharply: the film's basal planes (bright
Bi planes) and the parallel TiN(111) planes line up across the whole field,
whereas other lattice-line families are either sparser or only present on one
side of the interface. :func:`growth_axes` finds the candidate directions at
any rotation, the likeliest first; which end is the substrate is decided later, from the physics of
the planes (:func:`stemlayers.structure.grouping.group_layers`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Orientation", "growth_axes", "in_plane_step", "projection_sharpness"]


@dataclass(frozen=True)
class Orientation:
    """The growth axis in image pixel coordinates.

    Attributes
    ----------
    growth_dir : (2,) float array
        Unit vector (x, y) normal to the atomic planes; after the layers are
        grouped it points from the substrate into the film.
    angle_deg : float
        Direction of `growth_dir` in the image, degrees counter-clockwise from
        +x with y pointing down the image.
    sharpness : float
        Brightness-weighted sharpness of the plane projection along it (1 =
        every column on a single line; lower for more, blurrier planes).
    """

    growth_dir: np.ndarray
    angle_deg: float
    sharpness: float

    def flipped(self) -> Orientation:
        return Orientation(-self.growth_dir, (self.angle_deg + 180.0) % 360.0, self.sharpness)

    @property
    def tangent(self) -> np.ndarray:
        """Unit vector (x, y) along the planes: `growth_dir` turned a quarter turn."""
        return np.array([-self.growth_dir[1], self.growth_dir[0]])


def _direction(angle_deg):
    a = np.deg2rad(angle_deg)
    return np.array([np.cos(a), -np.sin(a)])  # y points down the image


def projection_sharpness(xy_A, weight, angles_deg, bin_A=0.08, blur_A=0.12):
    """Sharpness of the weighted 1D projection of points onto each direction.

    Parameters
    ----------
    xy_A : (N, 2) float array
        Positions in Å (x, y with y down).
    weight : (N,) float array
    angles_deg : (K,) float array
        Directions to project on.
    bin_A, blur_A : float
        Histogram bin and Gaussian blur of the projection, Å.

    Returns
    -------
    (K,) float array
        Sum of the squared normalised histogram: larger when the points fall
        on fewer, sharper lines perpendicular to the direction.
    """
    weight = np.asarray(weight, float) / np.sum(weight)
    out = np.empty(len(angles_deg))
    for k, angle in enumerate(angles_deg):  # a loop over a few hundred angles, vectorised over columns
        h = xy_A @ _direction(angle)
        index = np.floor((h - h.min()) / bin_A).astype(int)
        hist = ndimage.gaussian_filter1d(np.bincount(index, weight), blur_A / bin_A, mode="constant")
        out[k] = np.sum(hist**2)
    return out


def in_plane_step(xy_A, angle_deg):
    """Typical distance between neighbouring columns along the lines perpendicular to a direction."""
    n = _direction(angle_deg)
    h, u = xy_A @ n, xy_A @ np.array([-n[1], n[0]])
    order = np.argsort(h)
    # columns of one line lie within a few tenths of an Å in h; a jump of > 0.5 Å starts the next line
    starts = np.flatnonzero(np.diff(h[order]) > 0.5) + 1
    steps = []
    for members in np.split(u[order], starts):  # a loop over lines (tens), vectorised over their columns
        members = np.sort(members)
        if len(members) >= 3:
            steps.append(np.percentile(np.diff(members), 40))
    return float(np.median(steps)) if steps else np.nan


def growth_axes(xy, amplitude, pixel_size_A, periods_A=None, step_deg=0.5, n_candidates=4) -> list:
    """Candidate normals of the atomic planes, most likely first, at any in-plane rotation.

    The few sharpest directions of the brightness-weighted projection are the
    candidates. The sharpest projection is not always the basal planes (in a
    film alone a sparser family of lines can project more sharply), so the
    ones whose lines repeat at an expected period come first: within 8 % on
    the brighter half, then within 20 % (a calibration several % off) on any
    columns, then the rest by sharpness. Which candidate shows the system's
    structure is for the plane grouping to say.

    Parameters
    ----------
    xy : (N, 2) float array
        Column positions (x, y) in pixels.
    amplitude : (N,) float array
        Column brightness (weights the projection: bright planes dominate).
    pixel_size_A : float
    periods_A : sequence of float, optional
        Column periods expected along the planes (substrate and film).
    step_deg : float
        Step of the coarse search over 0-180 degrees, refined tenfold around
        each candidate.
    n_candidates : int

    Returns
    -------
    list of Orientation
        The sign of each `growth_dir` is arbitrary until the substrate side is known.
    """
    xy_A = np.asarray(xy, float) * pixel_size_A
    weight = np.clip(np.asarray(amplitude, float), 0, None) + 1e-12
    coarse = np.arange(0.0, 180.0, step_deg)
    sharp = projection_sharpness(xy_A, weight, coarse)
    # local maxima on the circle of directions, strongest first
    peaks = np.flatnonzero((sharp >= np.roll(sharp, 1)) & (sharp >= np.roll(sharp, -1)))
    peaks = list(peaks[np.argsort(-sharp[peaks])][:n_candidates])
    if periods_A:
        # measured on the brighter half: the film's planes, clear of any clutter among dim columns
        bright = xy_A[weight >= np.median(weight)]

        def mismatch(points, angle):
            step = in_plane_step(points, angle)
            return min(abs(np.log(step / p)) for p in periods_A) if np.isfinite(step) else np.inf
        near = [min(mismatch(bright, coarse[k]), 0.08 + mismatch(xy_A, coarse[k])) for k in peaks]
        rank = [0 if m < 0.08 else 1 if m < 0.28 else 2 for m in near]
        peaks = [k for _, _, k in sorted(zip(rank, range(len(peaks)), peaks))]
    out = []
    for k in peaks:
        fine = coarse[k] + np.linspace(-step_deg, step_deg, 21)
        sharp_fine = projection_sharpness(xy_A, weight, fine)
        angle = float(fine[np.argmax(sharp_fine)] % 180.0)
        out.append(Orientation(_direction(angle), angle, float(sharp_fine.max())))
    return out

