"""Periods of many runs at once are fit_period's, to the bit (the distortion fit's numbers depend on it)."""

import numpy as np

from stemlayers.structure.planes import fit_period
from stemlayers.structure.runs import run_means, run_medians, run_periods


def test_run_periods_are_fit_periods_to_the_bit():
    rng = np.random.default_rng(3)
    count = rng.integers(1, 20, 400)
    guess = rng.uniform(2.0, 5.0, 400)
    guess[::37] = np.nan
    runs = []
    for i, (n, g) in enumerate(zip(count, np.nan_to_num(guess, nan=3.0))):
        # missing columns, stray ones closer than a period, runs far from the origin, and runs whose columns
        # repeat at two or three times the guess (a pixel size that far off)
        index = rng.integers(0, 3 * n, n) if i % 5 else np.arange(n) * (2 + i % 2)
        runs.append(np.sort(index * g * rng.uniform(0.95, 1.05) + rng.normal(0, 0.3, n) + rng.uniform(-400, 400)))
    got = run_periods(np.concatenate(runs), np.cumsum(count) - count, count, guess)
    want = [fit_period(u, g, split=False)[0] for u, g in zip(runs, guess)]
    want = np.array([np.nan if p is None else p for p in want])
    assert np.isnan(want).any() and not np.isnan(want).all()
    assert np.any(np.abs(want[::5] / guess[::5] - 2) < 0.1) and np.any(np.abs(want[::5] / guess[::5] - 3) < 0.1)
    np.testing.assert_array_equal(got, want)


def test_run_means_are_numpys_means_to_the_bit():
    rng = np.random.default_rng(4)
    values = rng.uniform(-1e3, 1e3, (300, 2))
    count = rng.integers(1, 17, 20)
    start = rng.integers(0, 300 - 16, 20)
    want = np.array([values[s:s + n].mean(axis=0) for s, n in zip(start, count)])
    np.testing.assert_array_equal(run_means(values, start, count), want)


def test_run_medians_are_numpys_medians_to_the_bit():
    rng = np.random.default_rng(5)
    count = rng.integers(1, 200, 50)
    values = np.round(rng.normal(3.0, 2.0, count.sum()), 2)  # ties too
    values[7] = np.nan
    start = np.cumsum(count) - count
    want = np.array([np.median(values[s:s + n]) for s, n in zip(start, count)])
    np.testing.assert_array_equal(run_medians(values, start, count), want)
