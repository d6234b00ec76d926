"""Terrace steps of the TiN surface, from the windows' own top planes.

Each window along the interface (:mod:`.windows`) finds its own top complete TiN plane. Less the field's
residual tilt, those heights jump by whole TiN (111) spacings where the surface steps; the upper terrace's
window, grown towards the lower one while its top plane stays its own, places the step.
:mod:`.segments` turns the steps into the report's records.
"""

from __future__ import annotations

import numpy as np

from .stretch import NOT_DECIDABLE
from .windows import Windows, grow_window

__all__ = ["end_steps", "longest_between", "terrace_heights", "terrace_steps"]


def longest_between(lo_A, hi_A, steps_u_A):
    """(a, b): the longest stretch of [lo_A, hi_A] between the terrace steps at `steps_u_A` (Å along u).

    Examples
    --------
    >>> longest_between(0.0, 100.0, [30.0, 120.0])
    (30.0, 100.0)
    """
    cuts = [lo_A, *sorted(u for u in steps_u_A if lo_A < u < hi_A), hi_A]
    return max(zip(cuts[:-1], cuts[1:]), key=lambda ab: ab[1] - ab[0])


def terrace_heights(windows: Windows, d111_A):
    """Window top heights with the field's residual tilt removed (NaN where a window has no ordered top), and
    the tilt (Å of height per Å along u).

    The tilt comes from neighbouring windows whose tops agree to within a fraction of a plane: a frame a
    degree or two off the interface, as a field grouped across a step leaves it.
    """
    ok = np.isfinite(windows.top_A) & (windows.label != NOT_DECIDABLE)
    top = np.where(ok, windows.top_A, np.nan)
    index = np.flatnonzero(ok)
    du, dh = np.diff(windows.centre_A[index]), np.diff(top[index])
    flat = (np.abs(dh) < 0.4 * d111_A) & (du > 0)
    slope = float(np.median(dh[flat] / du[flat])) if flat.any() else 0.0
    return top - slope * (windows.centre_A - windows.centre_A[0]), slope


def _over_tin(volume, reference):
    """How much brighter than a TiN column each column of `volume` is, in log intensity over the split
    between TiN and film (negative: TiN-like); None where the columns are all TiN-like.

    Columns on the upper terrace's top level are TiN; past the step the lower terrace's first film plane can
    lie at that same level (a bilayer's Bi 0.15 Å above it, a vdW contact's chalcogen 0.45 Å), brighter by a
    heavier element. Where the level's columns hold a bright group (two or more 1.4x a TiN column of the
    plane below), the split lies half-way between the TiN's and the bright group's median, in log intensity.
    """
    log_v, log_ref = np.log(np.maximum(volume, 1e-12)), np.log(max(reference, 1e-12))
    bright = log_v > log_ref + np.log(1.4)
    if bright.sum() < 2:
        return None
    return log_v - 0.5 * (log_ref + np.median(log_v[bright]))


def _step_on_columns(windows: Windows, c_u, c_l, top_u, d111_A, slope):
    """Where the TiN top plane at height `top_u` of the terrace around `c_u` ends towards `c_l` (Å along u),
    from the columns themselves (None where that plane shows too few columns between the two).

    The step lies past the terrace's last TiN column: the cut with the least brightness on the wrong side
    (film-bright columns before it, TiN-dim ones after it, each by how far it is from the split, so that a
    noisy column near the split weighs little), half-way to the next column beyond it, or half a column
    spacing beyond the last one where nothing brighter follows at that level.
    """
    u, h, volume = windows.columns_uhv.T
    way = 1.0 if c_l > c_u else -1.0
    s = (u - c_u) * way  # distance from the upper terrace's centre towards the lower one
    level = top_u + slope * (u - c_u)
    span = (s > -windows.width_A / 2) & (s < abs(c_l - c_u) + windows.width_A / 2)
    top = span & (np.abs(h - level) < 0.3 * d111_A)
    below = span & (np.abs(h - level + d111_A) < 0.3 * d111_A)
    if top.sum() < 3 or below.sum() < 3:
        return None
    order = np.argsort(s[top])
    s_top = s[top][order]
    over = _over_tin(volume[top][order], float(np.median(volume[below])))
    if over is None:
        k = s_top.size
    else:
        # cost of cutting before the k-th column (k = 0..n)
        wrong = (np.concatenate([[0.0], np.cumsum(np.maximum(over, 0.0))])
                 + np.concatenate([np.cumsum(np.maximum(-over, 0.0)[::-1])[::-1], [0.0]]))
        k = int(np.argmin(wrong))
    if k == 0:
        return None
    spacing = float(np.median(np.diff(s_top[:k]))) if k > 1 else windows.width_A / 8
    edge = s_top[k - 1] + (0.5 * (s_top[k] - s_top[k - 1]) if k < s_top.size else 0.5 * spacing)
    return c_u + way * edge


def _band_near(windows: Windows, upper, lower):
    """Whether deteriorated windows, two or more (one alone is as often a window across the step), have their
    centres within a window's half-width of the stretch between the centres of windows `upper` and `lower`."""
    lo, hi = sorted(windows.centre_A[[upper, lower]])
    near = (windows.centre_A > lo - windows.width_A / 2) & (windows.centre_A < hi + windows.width_A / 2)
    return int(np.sum(windows.label[near] == "deteriorated")) >= 2


def _step_position(windows: Windows, upper, lower, d111_A, step_A=2.0, slope=0.0):
    """Where the terrace of window `upper` ends towards window `lower`, Å along u.

    On the columns where the windows carry them (:func:`_step_on_columns`) and no deteriorated stretch lies
    near (its roughened TiN planes and intermixed band put columns of any brightness at the terrace's level);
    otherwise:

    The upper terrace's window is grown towards the lower one while its top plane stays its own. A window
    keeps its top plane while the plane spans at least the minimum occupancy of the window's length, so the
    step lies that share of the grown window from its outer edge. Without a judge, half-way.
    """
    if windows.columns_uhv is not None and not _band_near(windows, upper, lower):
        on_columns = _step_on_columns(windows, windows.centre_A[upper], windows.centre_A[lower],
                                      windows.top_A[upper], d111_A, slope)
        if on_columns is not None:
            return on_columns
    c_u, c_l = windows.centre_A[upper], windows.centre_A[lower]
    if windows.judge is None:
        return 0.5 * (c_u + c_l)
    way = 1.0 if c_l > c_u else -1.0
    outer, inner = c_u - way * windows.width_A / 2, c_u + way * windows.width_A / 2
    level = windows.top_A[upper]

    def own_top(row):
        top = row[1][3]
        return np.isfinite(top) and abs(top - level) <= 0.5 * d111_A

    inner = grow_window(windows.judge, outer, inner, c_l + way * windows.width_A / 2, own_top, step_A)
    return outer + way * windows.min_occupancy * abs(inner - outer)


def terrace_steps(windows: Windows, heights_A, d111_A, slope=0.0):
    """(u_A, planes, height_A, u_err_A) of each terrace step between consecutive windows of known (tilt-free)
    height.

    Deteriorated windows are left out: their top complete plane lies below the roughened ones, as deep as
    the roughening reaches, which is no terrace (under a deteriorated band a step is not seen).
    """
    out = []
    index = np.flatnonzero(np.isfinite(heights_A) & (windows.label != "deteriorated"))
    for i, j in zip(index[:-1], index[1:]):
        rise = (heights_A[j] - heights_A[i]) / d111_A
        planes = int(np.round(rise))
        if planes == 0 or abs(rise - planes) >= 0.3:
            continue
        upper, lower = (i, j) if rise < 0 else (j, i)
        # between windows that follow each other the step is placed to a couple of Å; across deteriorated
        # windows it lies somewhere under them
        hidden = np.any(windows.label[i + 1:j] == "deteriorated")
        spread = abs(windows.centre_A[j] - windows.centre_A[i]) / np.sqrt(12) if hidden else 2.0
        out.append((_step_position(windows, upper, lower, d111_A, slope=slope), abs(planes), abs(heights_A[j] - heights_A[i]),
                    spread))
    return sorted(out)


def end_steps(windows: Windows, heights_A, d111_A, slope=0.0, found_u_A=()):
    """(u_A, planes, height_A, u_err_A) of terrace steps between the field's ends and their nearest window.

    A terrace at either end of the interface shorter than the minimum occupancy of a window has no window
    whose top plane is its own. A narrower window flush with the end (``windows.end_looks``) measures its top:
    where that sits a whole number of TiN planes from the nearest window's (tilt-free), and no step is found
    between them already, the step lies there, placed on the columns (half-way without them).
    """
    out = []
    known = np.flatnonzero(np.isfinite(heights_A) & (windows.label != "deteriorated"))
    for centre, label, top in windows.end_looks:
        if known.size == 0 or not np.isfinite(top) or label in (NOT_DECIDABLE, "deteriorated"):
            continue
        near = known[np.argmin(np.abs(windows.centre_A[known] - centre))]
        c_near = windows.centre_A[near]
        if abs(centre - c_near) < 1.0 or any(min(centre, c_near) < u < max(centre, c_near) for u in found_u_A):
            continue
        end_height = top - slope * (centre - windows.centre_A[0])
        rise = (heights_A[near] - end_height) / d111_A
        planes = int(np.round(rise))
        if planes == 0 or abs(rise - planes) >= 0.3:
            continue
        # the upper terrace: the end where the end sits higher, else the nearest window's
        c_u, c_l, top_u = (centre, c_near, top) if rise < 0 else (c_near, centre, windows.top_A[near])
        at = None if windows.columns_uhv is None else _step_on_columns(windows, c_u, c_l, top_u, d111_A, slope)
        out.append((0.5 * (c_u + c_l) if at is None else at, abs(planes), abs(heights_A[near] - end_height), 2.0))
    return sorted(out)
