"""All columns' 2D Gaussians at once, on hand-built images of known columns."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from stemlayers.columns.find import find_columns
from stemlayers.columns.fit import ROUND, column_shape, fit_gaussians
from stemlayers.columns.render import render_gaussians
from stemlayers.simulate import SimulationParams, simulate

SIGMA_PX = 2.0


def _lattice(spacing=10.0, n=8, seed=0):
    """Centres (px) of an n x n lattice with random sub-pixel offsets, inside a margin.

    10 px apart at a width of 2 px: 5 widths, as Ti columns 2.6 Å apart under a 0.5 Å probe.
    """
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(n), np.arange(n)), -1).reshape(-1, 2) * spacing + 12.0
    return grid + rng.uniform(-0.5, 0.5, grid.shape)


def _image(xy, amplitude, noise_sd, seed=1, background=10.0, sigma=SIGMA_PX):
    shape = (int(xy[:, 1].max()) + 14, int(xy[:, 0].max()) + 14)
    clean = render_gaussians(xy, amplitude, np.full(len(xy), sigma), shape) + background
    return clean + np.random.default_rng(seed).normal(0, noise_sd, shape)


def test_positions_amplitudes_and_widths_of_known_columns():
    xy = _lattice()
    amplitude = np.random.default_rng(2).uniform(50, 150, len(xy))
    image = _image(xy, amplitude, noise_sd=3.0)
    start = xy + np.random.default_rng(3).uniform(-0.7, 0.7, xy.shape)
    fit = fit_gaussians(image, start, SIGMA_PX, radius=3.5)
    assert fit.sane.all()
    error = np.hypot(*(fit.xy - xy).T)
    assert np.percentile(error, 95) < 0.1
    assert np.median(np.abs(fit.amplitude / amplitude - 1)) < 0.03
    assert np.median(fit.sigma) == pytest.approx(SIGMA_PX, rel=0.03)
    assert np.median(fit.background) == pytest.approx(10.0, abs=1.5)


def test_stated_position_errors_match_the_real_ones():
    xy = _lattice(n=10, seed=4)
    image = _image(xy, np.full(len(xy), 60.0), noise_sd=4.0, seed=5)
    fit = fit_gaussians(image, xy + 0.3, SIGMA_PX, radius=3.5)
    z = (fit.xy - xy) / fit.xy_err
    assert 0.6 <= np.std(z) <= 1.6


def test_overlapping_neighbours_are_separated():
    """Columns 3.5 widths apart, whose tails reach into each other's patches: neighbour subtraction keeps each
    fit on its own column (a patch this small trades some width for background, so the tail is wider)."""
    xy = _lattice(spacing=7.0, n=8, seed=6)
    image = _image(xy, np.full(len(xy), 100.0), noise_sd=1.0, seed=7)
    fit = fit_gaussians(image, xy + 0.4, SIGMA_PX, radius=3.5, n_rounds=4)
    error = np.hypot(*(fit.xy - xy).T)
    assert np.median(error) < 0.06 and np.percentile(error, 95) < 0.2
    isolated = fit_gaussians(image, xy + 0.4, SIGMA_PX, radius=3.5, n_rounds=1)
    assert np.median(error) < np.median(np.hypot(*(isolated.xy - xy).T))


def test_significance_tells_a_column_from_noise():
    xy = _lattice(n=6, seed=8)
    keep = np.arange(len(xy)) % 2 == 0
    image = _image(xy[keep], np.full(keep.sum(), 40.0), noise_sd=3.0, seed=9)
    fit = fit_gaussians(image, xy, SIGMA_PX, radius=3.0)
    assert fit.significance[keep].min() > 2 * np.abs(fit.significance[~keep]).max()


def test_no_columns_gives_an_empty_fit():
    fit = fit_gaussians(np.zeros((20, 20)), np.zeros((0, 2)), SIGMA_PX, radius=3.0)
    assert fit.xy.shape == (0, 2) and fit.amplitude.size == 0 and fit.noise == (1.0, 0.0)


ASTIGMATIC = dict(system="Bi2Se3/TiN", interface="vdw", interface_offset_A=6.0, shape=(256, 256), pixel_size_A=0.09,
                  probe_sigma_A=0.54, contrast_exponent=1.64, column_ellipticity=1.2, column_ellipse_angle_deg=150.0,
                  rotation_deg=-7.0, seed=27)


@pytest.mark.parametrize("ellipticity, angle", [(1.2, 150.0), (1.12, 30.0), (1.0, 0.0)])
def test_the_columns_common_shape_is_read_off_the_image(ellipticity, angle):
    params = SimulationParams(**{**ASTIGMATIC, "column_ellipticity": ellipticity, "column_ellipse_angle_deg": angle,
                                 "dose": 200.0})
    sim = simulate(params)
    columns = find_columns(sim.data, pixel_size=params.pixel_size_A)
    fit = fit_gaussians(sim.data, columns.xy[np.argsort(-columns.amplitude)[:200]], float(np.median(columns.sigma)),
                        2.2 * float(np.median(columns.sigma)), n_rounds=1)
    found_e, found_angle = column_shape(sim.data, fit)
    if ellipticity == 1.0:
        assert (found_e, found_angle) == ROUND
    else:
        assert found_e == pytest.approx(ellipticity, abs=0.05)
        assert abs((found_angle - angle + 90) % 180 - 90) < 8.0  # the lattice's neighbours bias it a little


def test_a_dim_column_beside_a_bright_elliptical_one_is_not_pulled_towards_it():
    # a round model of an elliptical Bi leaves its flank in a Se's patch 1.96 Å away: the Se moved 8 pm
    # (median) towards the Bi, at any dose
    sim = simulate(SimulationParams(**ASTIGMATIC, dose=1e6))
    columns = find_columns(sim.data, pixel_size=0.09)
    truth = sim.truth
    true_xy = np.column_stack([truth.x_px, truth.y_px])
    inside = np.all((true_xy > 6) & (true_xy < 249), axis=1)
    bi_xy = true_xy[truth.element == "Bi"]
    to_bi, nearest_bi = cKDTree(bi_xy).query(true_xy)
    se = inside & (truth.element == "Se") & (np.abs(to_bi * 0.09 - 1.96) < 0.1)
    error, match = cKDTree(columns.xy).query(true_xy[se])
    found = error * 0.09 < 0.5
    assert se.sum() > 10 and found.mean() >= 0.8
    offset = columns.xy[match[found]] - true_xy[se][found]
    to_their_bi = bi_xy[nearest_bi[se][found]] - true_xy[se][found]
    towards_bi = np.einsum("ij,ij->i", offset, to_their_bi) / to_bi[se][found]
    assert abs(np.median(towards_bi)) * 9.0 < 3.0  # pm
