"""The truth-free position-noise estimate against known noise, on one kind of column and on two."""

import numpy as np
import pytest

from stemlayers.structure.precision import bravais_vectors, lattice_noise


def _square(n=30, a=20.0):
    return np.stack(np.meshgrid(np.arange(n) * a, np.arange(n) * a), -1).reshape(-1, 2)


def test_the_noise_of_a_square_lattice_is_found():
    rng = np.random.default_rng(3)
    for sigma in (0.05, 0.2, 0.5):
        estimate = lattice_noise(_square() + rng.normal(0, sigma, (900, 2)))
        assert estimate.sigma_px == pytest.approx(sigma, rel=0.1)
        assert estimate.ci95_px[0] < estimate.sigma_px < estimate.ci95_px[1]


def test_two_kinds_of_column_are_measured_along_the_crystal_lattice():
    # SrTiO3 [001]-like: bright columns on a square, dim ones at the cell centres, 0.3 px off the exact centre
    # (a probe tail, a scan that treats them differently): not noise, and it must not read as noise
    rng = np.random.default_rng(4)
    bright = _square()
    dim = bright + [10.3, 10.0]
    xy = np.vstack([bright, dim]) + rng.normal(0, 0.1, (1800, 2))
    amplitude = np.r_[np.full(900, 5000.0), np.full(900, 3200.0)] * rng.normal(1, 0.05, 1800)
    mixed = lattice_noise(xy)  # the columns' shortest vectors join a bright column to a dim one
    crystal = lattice_noise(xy, amplitude=amplitude)
    assert mixed.sigma_px > 0.15
    assert crystal.sigma_px == pytest.approx(0.1, rel=0.1)
    assert sorted(np.abs(crystal.vectors).round(0).tolist()) == [[0.0, 20.0], [20.0, 0.0]]


def test_one_kind_keeps_the_shortest_translations():
    xy = _square() + np.random.default_rng(5).normal(0, 0.1, (900, 2))
    assert sorted(np.abs(bravais_vectors(xy, np.full(900, 100.0))).round(0).tolist()) == [[0.0, 20.0], [20.0, 0.0]]


def test_the_ci_covers_the_noise_as_often_as_it_says():
    # triplets share columns: a bootstrap over single triplets covered 89 of 100, over blocks it must reach 90+
    covered = 0
    for seed in range(60):
        xy = _square() + np.random.default_rng(seed).normal(0, 0.2, (900, 2))
        lo, hi = lattice_noise(xy, n_boot=150, seed=seed).ci95_px
        covered += lo <= 0.2 <= hi
    assert covered >= 54


@pytest.mark.parametrize("n", [0, 2])
def test_too_few_columns_give_no_estimate_not_an_error(n):
    estimate = lattice_noise(np.zeros((n, 2)) + np.arange(n)[:, None])
    assert np.isnan(estimate.sigma_px) and estimate.n_triplets == 0
