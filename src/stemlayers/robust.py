"""The robust spread shared by the plane, contrast, calibration, strain, registration and precision steps.

``scipy.stats.median_abs_deviation(x, scale="normal")`` is the same number;
importing scipy.stats would add ~0.4 s to ``import stemlayers`` (every CLI
call and every dask worker), for one line.
"""

from __future__ import annotations

import numpy as np

__all__ = ["robust_sd"]

#: 1 / Phi^-1(3/4): the median absolute deviation of a normal sample times this is its standard deviation.
MAD_TO_SD = 1.4826


def robust_sd(values) -> float:
    """Standard deviation from the median absolute deviation about the median (outliers barely move it).

    Examples
    --------
    >>> robust_sd([1.0, 2.0, 3.0, 4.0, 100.0])
    1.4826
    """
    values = np.asarray(values, float).ravel()
    return float(MAD_TO_SD * np.median(np.abs(values - np.median(values))))
