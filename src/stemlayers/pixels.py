"""Pixel-grid helpers shared by the column finder, the fit and the batch thumbnails."""

from __future__ import annotations

import numpy as np
from skimage.measure import block_reduce

__all__ = ["binned"]


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
