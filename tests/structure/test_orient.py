"""The growth axis of a point lattice at any angle."""

import numpy as np
import pytest

from stemlayers.structure.orient import growth_axes


def _abc_lattice(angle_deg, n_planes=8, n_columns=14, spacing_A=2.448, period_A=2.596, pixel_size_A=0.1):
    """Column positions (px) of ABC-stacked planes whose normal points along `angle_deg` (x towards y)."""
    k, j = np.meshgrid(np.arange(n_planes), np.arange(n_columns), indexing="ij")
    u = (j + k / 3.0) * period_A
    h = k * spacing_A
    theta = np.deg2rad(angle_deg)
    normal, along = np.array([np.cos(theta), np.sin(theta)]), np.array([-np.sin(theta), np.cos(theta)])
    xy_A = h.ravel()[:, None] * normal + u.ravel()[:, None] * along
    return xy_A / pixel_size_A + 200.0


@pytest.mark.parametrize("angle", [90.0, 17.0, 143.5])
def test_growth_axis_of_a_point_lattice(angle):
    xy = _abc_lattice(angle)
    best = growth_axes(xy, np.ones(len(xy)), 0.1, periods_A=[2.596, 3.798])[0]
    found = np.degrees(np.arctan2(best.growth_dir[1], best.growth_dir[0])) % 180.0
    assert min(abs(found - angle % 180.0), 180.0 - abs(found - angle % 180.0)) < 0.3
