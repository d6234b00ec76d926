"""Periods of many short runs of columns at once: :func:`~stemlayers.structure.planes.fit_period`, batched.

The scan-distortion fit (:mod:`stemlayers.structure.distortion`) cuts every
plane into runs of about eight columns and needs each run's period; one call
of ``fit_period`` per run (thousands on a large field) spends most of its
time in NumPy's per-call overhead. Here every step runs over all runs at once.

The periods are ``fit_period(..., split=False)``'s to the bit, not merely close (a run of about eight
columns is too short to tell two registries in it): a period that
moved in its last digit would move every number the distortion fit reports.
Element-wise steps give the same bits batched; each reduction (a mean, a
least-squares line) is taken over runs of one length stacked into rows, and
NumPy reduces a row with the same additions in the same order as it reduces
the run alone.
"""

from __future__ import annotations

import numpy as np

from ..numeric import line_fit

#: Steps between a plane's columns it takes before their common multiple is read as the plane's own period:
#: with fewer, two or three missing columns in a row make the same pattern.
MIN_ALIAS_STEPS = 4

__all__ = ["run_means", "run_medians", "run_periods"]


def _stacks(count):
    """For each distinct run length: the runs of that length and the length."""
    for n in np.unique(count):
        yield np.flatnonzero(count == n), int(n)


def run_means(values, start, count):
    """The mean of ``values[s:s + n]`` (along its first axis) for each run start `s` and length `n`.

    Each equals ``values[s:s + n].mean(axis=0)`` to the bit.

    Parameters
    ----------
    values : (N, ...) array
    start, count : (R,) int arrays
        Each run's first index into `values` and its length (>= 1).

    Returns
    -------
    (R, ...) array

    Examples
    --------
    >>> run_means(np.array([1.0, 2.0, 4.0, 8.0]), np.array([0, 1]), np.array([2, 3]))
    array([1.5       , 4.66666667])
    """
    out = np.empty((len(start),) + values.shape[1:], np.result_type(values, float))
    for which, n in _stacks(count):  # a loop over run lengths (a handful), not runs
        out[which] = values[start[which, None] + np.arange(n)].mean(axis=1)
    return out


def run_medians(values, start, count):
    """The median of ``values[s:s + n]`` for each run start `s` and length `n`, as ``np.median`` gives it.

    One sort of all runs' values: the middle value of each run, or the mean
    of its two middle values (NaN for a run that holds a NaN).

    Parameters
    ----------
    values : (N,) float array
    start, count : (R,) int arrays
        Each run's first index into `values` and its length (>= 1).

    Returns
    -------
    (R,) float array

    Examples
    --------
    >>> run_medians(np.array([5.0, 1.0, 3.0, 4.0, 2.0]), np.array([0, 2]), np.array([3, 2]))
    array([3. , 3.5])
    """
    start, count = np.asarray(start), np.asarray(count)
    first = np.cumsum(count) - count
    run = np.repeat(np.arange(len(start)), count)
    x = np.asarray(values, float)[start[run] + np.arange(len(run)) - first[run]]
    x = x[np.lexsort((x, run))]  # NaN last within its run
    low, high = x[first + (count - 1) // 2], x[first + count // 2]
    median = np.where(count % 2 == 1, low, (low + high) / 2)  # np.median's mean of the two middle values
    return np.where(np.bincount(run, np.isnan(x), minlength=len(start)) > 0, np.nan, median)


def _slopes(k, u, start, count):
    """Slope of `u` on `k` within each run: :func:`~stemlayers.numeric.line_fit` on stacks of runs of one length."""
    slope = np.empty(len(start))
    for which, n in _stacks(count):
        index = start[which, None] + np.arange(n)
        slope[which] = line_fit(k[index], u[index])[0]
    return slope


def _strays(u, run, guess, registry):
    """Columns :func:`~stemlayers.structure.planes.fit_period` drops: of two closer than 0.6 periods, the one
    further off its run's registry."""
    off = np.abs((u / guess[run] - registry[run] + 0.5) % 1.0 - 0.5)
    close = np.flatnonzero((np.diff(u) < 0.6 * guess[run[1:]]) & (run[1:] == run[:-1]))
    worse_first = off[close] > off[close + 1]
    stray = np.zeros(len(u), bool)
    stray[close[worse_first]] = True
    stray[close[~worse_first] + 1] = True
    return stray


def _common_step(step, within, run_of_step, start, count):
    """Each step's divisor: the greatest common divisor of its run's steps where the run has at least
    MIN_ALIAS_STEPS of them (:func:`~stemlayers.structure.planes.fit_period`'s rule), 1 elsewhere."""
    eligible = count - 1 >= MIN_ALIAS_STEPS
    if not eligible.any():
        return np.ones(len(step))
    # steps across runs and of runs too short count as 0, which leaves a gcd alone
    whole = np.where(within & eligible[run_of_step], step, 0).astype(np.int64)
    first = start[eligible]  # the index of a run's first step in `step`
    divisor = np.ones(len(count), np.int64)
    divisor[eligible] = np.gcd.reduceat(whole, first)
    return np.maximum(divisor[run_of_step], 1)


def run_periods(u, start, count, guess):
    """The period ``fit_period(u[s:s + n], guess, split=False)`` gives for each run, NaN where it gives None.

    Parameters
    ----------
    u : (N,) float array
        Column positions along the planes, sorted within each run.
    start, count : (R,) int arrays
        Each run's first index into `u` and its number of columns.
    guess : (R,) float array
        Each run's expected period.

    Returns
    -------
    (R,) float array

    Examples
    --------
    >>> u = np.delete(np.arange(12) * 2.596, [3, 7])
    >>> run_periods(np.concatenate([u, u[:2]]), np.array([0, 10]), np.array([10, 2]), np.array([2.6, 2.6]))
    array([2.596,   nan])
    """
    u, start, count, guess = (np.asarray(a) for a in (u, start, count, guess))
    period = np.full(len(start), np.nan)
    fits = (count >= 3) & (guess > 0)
    start, count, guess = start[fits], count[fits], guess[fits]
    if not len(start):
        return period
    run = np.repeat(np.arange(len(start)), count)
    u = u[start[run] + np.arange(len(run)) - (np.cumsum(count) - count)[run]]  # the runs' columns, one after another
    start = np.cumsum(count) - count
    registry = np.angle(run_means(np.exp(2j * np.pi * u / guess[run]), start, count)) / (2 * np.pi) % 1.0
    kept = ~_strays(u, run, guess, registry)
    u, run = u[kept], run[kept]
    count = np.bincount(run, minlength=len(start))  # >= 1: of close columns, the one nearest the registry stays
    start = np.cumsum(count) - count
    # each column's index along its run: steps rounded to the period, at least one (a run's first is 0)
    step = np.maximum(np.round(np.diff(u) / guess[run[1:]]), 1)
    within = run[1:] == run[:-1]
    step = step / _common_step(step, within, run[1:], start, count)
    k = np.cumsum(np.concatenate([[0.0], np.where(within, step, 0.0)]))
    k -= k[start[run]]  # whole numbers: the cumulative sums are exact
    last = k[start + count - 1]
    ok = (count >= 3) & (last >= 2)
    slope = np.full(len(start), np.nan)
    slope[ok] = _slopes(k, u, start[ok], count[ok])
    # Python's round is correctly rounded (np.round is not): the digits fit_period keeps
    period[fits] = [round(float(s), 12) for s in slope]
    return period
