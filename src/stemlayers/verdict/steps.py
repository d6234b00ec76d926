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

__all__ = ["longest_between", "terrace_heights", "terrace_steps"]


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


def _step_position(windows: Windows, upper, lower, d111_A, step_A=2.0):
    """Where the terrace of window `upper` ends towards window `lower`, Å along u.

    The upper terrace's window is grown towards the lower one while its top plane stays its own. A window
    keeps its top plane while the plane spans at least the minimum occupancy of the window's length, so the
    step lies that share of the grown window from its outer edge. Without a judge, half-way.
    """
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


def terrace_steps(windows: Windows, heights_A, d111_A):
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
        out.append((_step_position(windows, upper, lower, d111_A), abs(planes), abs(heights_A[j] - heights_A[i]),
                    spread))
    return sorted(out)
