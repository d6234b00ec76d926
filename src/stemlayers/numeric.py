"""Two small array helpers shared by several stages: block reduction of a pixel grid, and a robust spread.

``robust_sd`` is ``scipy.stats.median_abs_deviation(x, scale="normal")``;
importing scipy.stats would add ~0.4 s to ``import stemlayers`` (every CLI
call and every dask worker), for one line.
"""

from __future__ import annotations

import numpy as np
from skimage.measure import block_reduce

__all__ = ["MAD_TO_SD", "binned", "robust_sd"]

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


def binned(image, block, func=np.mean):
    """`image` reduced over `block` x `block` pixel blocks, the last partial blocks padded with edge values.

    scikit-image's :func:`~skimage.measure.block_reduce` pads with a constant;
    repeating the edge keeps a border block's mean and minimum those of the
    pixels it holds.

    Parameters
    ----------
    image : (M, N) array
    block : int
    func : callable
        Reduction over the block axes (``np.mean``, ``np.min``, ...).

    Returns
    -------
    (ceil(M / block), ceil(N / block)) array

    Examples
    --------
    >>> binned(np.arange(9.0).reshape(3, 3), 2)
    array([[2. , 3.5],
           [6.5, 8. ]])
    """
    image = np.asarray(image)
    if block <= 1:
        return image
    rows, cols = image.shape
    padded = np.pad(image, ((0, -rows % block), (0, -cols % block)), mode="edge")
    return block_reduce(padded, (block, block), func)
