"""Small array helpers shared by several stages: block reduction of a pixel grid, a robust spread, and an
inverse-variance mean.

``robust_sd`` is ``scipy.stats.median_abs_deviation(x, scale="normal")``;
importing scipy.stats would add ~0.4 s to ``import stemlayers`` (every CLI
call and every dask worker), for one line.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from skimage.measure import block_reduce

__all__ = ["MAD_TO_SD", "between_scatter", "binned", "in_row_strips", "inverse_variance_mean", "line_fit", "robust_sd",
           "thread_budget"]

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


#: Median of the chi-square distribution with one degree of freedom: of (x - mean)^2 / sd^2 for normal x.
CHI2_1_MEDIAN = 0.45493642311957283


def between_scatter(values, errors) -> float:
    """Scatter between values beyond their own errors, robust to values whose errors are understated.

    The between-value standard deviation ``tau`` at which the median of
    ``(values - median)**2 / (errors**2 + tau**2)`` is the median of a
    chi-square with one degree of freedom (a median form of the Paule-Mandel
    estimator of meta-analysis): where most values agree within their
    errors it is 0, however far a few stray ones lie.

    Examples
    --------
    >>> between_scatter([1.0, 1.05, 0.95, 1.0, 9.0], [0.1] * 5)   # one stray value
    0.0
    >>> round(between_scatter([0.0, 1.0, 2.0, 3.0, 4.0], [1e-3] * 5), 2)
    1.48
    """
    values, errors = np.asarray(values, float).ravel(), np.asarray(errors, float).ravel()
    if len(values) < 3:
        return 0.0
    squared = (values - np.median(values)) ** 2

    def excess(tau):
        return np.median(squared / (errors**2 + tau**2)) - CHI2_1_MEDIAN

    if excess(0.0) <= 0:
        return 0.0
    low, high = 0.0, float(np.sqrt(squared.max() / CHI2_1_MEDIAN)) + 1e-300
    for _ in range(60):  # bisection: the median falls monotonically with tau
        mid = 0.5 * (low + high)
        low, high = (mid, high) if excess(mid) > 0 else (low, mid)
    return float(0.5 * (low + high))


def inverse_variance_mean(values, errors) -> tuple[float, float]:
    """Inverse-variance mean and its error, inflated by the scatter between the values when that is larger.

    Examples
    --------
    >>> inverse_variance_mean([1.0, 3.0], [2.0, 2.0])   # scatter within the errors: the errors alone
    (2.0, 1.4142135623730951)
    >>> round(inverse_variance_mean([1.0, 3.0], [0.5, 0.5])[1], 6)  # scatter beyond them: inflated by it
    1.0
    """
    values, errors = np.asarray(values, float), np.asarray(errors, float)
    w = 1.0 / errors**2
    mean = float(np.sum(w * values) / np.sum(w))
    err = float(np.sqrt(1.0 / np.sum(w)))
    if len(values) > 1:
        chi2 = np.sum(w * (values - mean) ** 2) / (len(values) - 1)
        err *= float(np.sqrt(max(chi2, 1.0)))
    return mean, err


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
    if rows % block or cols % block:
        image = np.pad(image, ((0, -rows % block), (0, -cols % block)), mode="edge")
    else:  # np.pad would copy the whole image to add nothing; the same C-ordered layout, reduced alike
        image = np.ascontiguousarray(image)
    return block_reduce(image, (block, block), func)


def line_fit(x, y):
    """(slope, intercept) of the least-squares line of `y` on `x`, along the last axis.

    Rows of a 2-D stack are fitted each on its own, to the same bits as
    each row alone: the sums run along contiguous rows, as for one row.
    The distortion fit needs thousands of short runs at once, where
    ``np.polyfit``'s checks per call cost more than the fit.

    Examples
    --------
    >>> line_fit(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]))
    (np.float64(2.0), np.float64(1.0))
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    x_mean, y_mean = x.mean(axis=-1, keepdims=True), y.mean(axis=-1, keepdims=True)
    dx = x - x_mean
    slope = (dx * (y - y_mean)).sum(axis=-1) / (dx * dx).sum(axis=-1)
    return slope, y_mean[..., 0] - slope * x_mean[..., 0]


def thread_budget() -> int:
    """How many threads the fit may use: the CPUs this process may run on, capped by ``OMP_NUM_THREADS``.

    ``OMP_NUM_THREADS`` is the usual cap on numerical threads (NumPy's BLAS reads
    it too); dask's worker processes set it to 1, so that N workers on N cores
    do not each start N fit threads and fight over the cores.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        cap = int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        cap = 0
    return max(1, min(cpus, cap) if cap > 0 else cpus)


#: Images smaller than this many pixels are filtered in one piece: a thread costs more than it saves.
STRIP_MIN_PIXELS = 1 << 20


def in_row_strips(filter_, image, reach, **options):
    """``filter_(image, **options)``, computed in row strips on :func:`thread_budget` threads.

    SciPy's ndimage filters release the GIL, and each output pixel of a local
    filter reads only the pixels within `reach` of it. Each strip is
    filtered with `reach` rows of its neighbours on either side, and only its
    own rows are kept: the same values, bit for bit, as one call on the
    whole image (the image's own edges stay the strips' edges).

    Parameters
    ----------
    filter_ : callable
        A local filter of a 2-D array (``ndimage.gaussian_filter``, ...).
    image : (M, N) array
    reach : int
        How many pixels from an output pixel the filter reads, at most.
    **options
        Passed to `filter_`.

    Returns
    -------
    (M, N) array
        As ``filter_(image, **options)``.
    """
    image = np.asarray(image)
    rows = image.shape[0]
    n_strips = min(thread_budget(), rows // max(4 * reach, 1))
    if n_strips < 2 or image.size < STRIP_MIN_PIXELS:
        return filter_(image, **options)
    edges = np.linspace(0, rows, n_strips + 1).astype(int)

    def strip(k):
        lo, hi = max(edges[k] - reach, 0), min(edges[k + 1] + reach, rows)
        return filter_(image[lo:hi], **options)[edges[k] - lo:edges[k + 1] - lo]

    with ThreadPoolExecutor(n_strips) as pool:
        return np.concatenate(list(pool.map(strip, range(n_strips))))
