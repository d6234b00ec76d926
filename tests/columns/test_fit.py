"""All columns' 2D Gaussians at once, on hand-built images of known columns."""

import numpy as np
import pytest

from stemlayers.columns.fit import fit_gaussians
from stemlayers.columns.render import render_gaussians

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
