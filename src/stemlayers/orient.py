"""Growth direction of a cross-section, from its columns alone.

The atomic planes are the family of lattice lines along which the columns,
weighted by brightness, project most sharply: the film's basal planes (bright
Bi planes) and the parallel TiN(111) planes line up across the whole field,
whereas other lattice-line families are either sparser or only present on one
side of the interface. :func:`growth_axis` finds that direction at any
rotation; which end is the substrate is decided later, from the physics of
the planes (:func:`stemlayers.layers.group_layers`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Orientation", "growth_axis", "projection_sharpness"]


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


def growth_axis(xy, amplitude, pixel_size_A, step_deg=0.5) -> Orientation:
    """The normal of the atomic planes, at any in-plane rotation.

    Parameters
    ----------
    xy : (N, 2) float array
        Column positions (x, y) in pixels.
    amplitude : (N,) float array
        Column brightness (weights the projection: bright planes dominate).
    pixel_size_A : float
    step_deg : float
        Step of the coarse search over 0-180 degrees, refined tenfold around
        the best angle.

    Returns
    -------
    Orientation
        `growth_dir` points along +y or the first direction found: its sign
        is arbitrary until the substrate side is known.
    """
    xy_A = np.asarray(xy, float) * pixel_size_A
    weight = np.clip(np.asarray(amplitude, float), 0, None) + 1e-12
    coarse = np.arange(0.0, 180.0, step_deg)
    sharp = projection_sharpness(xy_A, weight, coarse)
    best = coarse[np.argmax(sharp)]
    fine = best + np.linspace(-step_deg, step_deg, 21)
    sharp_fine = projection_sharpness(xy_A, weight, fine)
    angle = float(fine[np.argmax(sharp_fine)] % 180.0)
    return Orientation(_direction(angle), angle, float(sharp_fine.max()))
