"""Scan distortion along the planes: how the length scale changes from row to row.

A STEM image is scanned row by row, so a drift that changes speed during the
frame changes the length scale with the (slow-scan) row. Where the film and
the TiN occupy different rows, a single film-to-TiN period ratio then carries
the scale difference between their rows into the TiN's a (a 2 % change from
the top row to the bottom one moves it by up to 1 %).

The film grows unstrained, so each run of film columns along a plane (a
segment) is a ruler at its own rows; TiN segments measure the same scale
times the TiN's unknown period. One smooth function of row and column, the
log of the scale along the planes, is fitted to both, with the TiN's period
as one more unknown. Tilted planes cross many rows, so film and TiN often
share rows and the fit interpolates; level planes leave a gap (the interface
band) that only the smoothness bridges. The polynomial degrees are what the
data ask for (BIC); the correction's error is taken with the segments
grouped by plane (a plane's segments share its errors) and includes how far
more flexible models differ. A correction that is not stable across models,
or not larger than its error, is not applied: the scale then wanders in a way
the rows seen cannot tell, and the spread of the planes' periods already
widens the TiN's CI (:mod:`stemlayers.verdict.strain`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import legendre

from ..numeric import robust_sd
from .planes import members_of
from .runs import run_means, run_periods

__all__ = ["RowScale", "fit_row_scale", "plane_segments", "stacking_shear"]

#: Highest polynomial degrees tried for the row dependence (a drift that wanders up to ~2 cycles per frame)
#: and for the column dependence (a scale that changes along the fast scan).
MAX_DEGREE = 4
MAX_COL_DEGREE = 1

#: A correction is applied when this many more flexible row models agree with it (within 2σ or STABLE_WITHIN).
STABILITY_DEGREES = 2

#: Columns per segment of a plane: a tilted plane crosses many rows, and its segments see the scale at each.
SEGMENT_COLUMNS = 8

#: Share of segments in rows the other material also occupies above which the row model may bend.
MIN_OVERLAP = 0.2
STABLE_WITHIN = 0.001
STABLE_SHARE = 0.25  # ... or within this share of the correction: applying it then leaves at most that much

#: ... and it must exceed this many of its errors: at 2 a registered series' residual waviness was taken for
#: a scale change (1 image in 5), at 3 none.
SIGNIFICANCE = 3.0


@dataclass(frozen=True)
class RowScale:
    """The scale along the planes as a function of the image row, relative to the film's average.

    Attributes
    ----------
    degree, col_degree : int
        Legendre degrees chosen for the row and the column (both 0: the
        scale is the same everywhere; no correction).
    factor : (P,) float array
        Per plane (in the order given to :func:`fit_row_scale`): the mean
        scale over the plane's rows, over the film's mean scale (1 where
        the plane has no segment). A plane's measured period divided by it is
        on the film's average scale.
    substrate_correction, substrate_correction_err : float
        The substrate planes' mean factor (1 when not applied) and its 1σ
        error (relative, e.g. 0.004 = 0.4 %), with the segments grouped by
        plane; not applied, the error is the least correction every model
        finds on one side, or 0.
    scale_range : (float, float)
        The relative scale at the top and the bottom row of the image
        (at the centre column).
    applied : bool
        Whether the factors correct anything: a row dependence was found,
        more flexible models agree on the substrate's correction, and it is
        beyond its error.
    """

    degree: int
    col_degree: int
    factor: np.ndarray
    substrate_correction: float = 1.0
    substrate_correction_err: float = 0.0
    scale_range: tuple = (1.0, 1.0)
    applied: bool = False


def plane_segments(u, xy, plane, periods, length=SEGMENT_COLUMNS):
    """Each plane cut into runs of about `length` columns along it, each with its own least-squares period.

    Parameters
    ----------
    u : (N,) float array
        Column positions along the planes (any length unit).
    xy : (N, 2) float array
        Column positions in the image, px (x = column, y = row).
    plane : (N,) int array
        Plane index of each column, -1 for none; only planes with a period count.
    periods : (P,) float array
        Each plane's period in the unit of `u` (NaN: none).
    length : int

    Returns
    -------
    (period, period_err, row, col, plane) : arrays
        One entry per segment of at least 4 columns spanning 2.5 periods or
        more: its period (:func:`stemlayers.structure.planes.fit_period`), the
        period's standard error for unit position noise (in the unit of `u`;
        the fit scales it), its mean row and column, its plane.
    """
    periods = np.asarray(periods, float)
    order, start, count, which = _runs(u, plane, periods, length)
    span = u[order[start + count - 1]] - u[order[start]]
    long = (count >= 4) & ~(span < 2.5 * periods[which])
    start, count, which = start[long], count[long], which[long]
    period = run_periods(u[order], start, count, periods[which])
    good = np.abs(period / periods[which] - 1) < 0.1
    # the error a least-squares slope has from the same position noise on every column: the residual
    # scatter of eight columns is itself too noisy to weigh segments by
    index_spread = (count**3 - count) / 12.0
    row_col = run_means(xy[order], start, count)[:, ::-1]
    return period[good], 1.0 / np.sqrt(index_spread[good]), row_col[good, 0], row_col[good, 1], which[good]


def _runs(u, plane, periods, length):
    """Each plane with a period, its columns in order along it, cut into runs as ``np.array_split`` cuts them.

    Returns
    -------
    (order, start, count, plane) : int arrays
        The columns plane by plane, each plane's in order of `u`; each
        run's first index into `order`, its number of columns and its plane.
    """
    groups = [(k, members[np.argsort(u[members])]) for k, members in members_of(np.where(plane >= 0, plane, -1))
              if np.isfinite(periods[k])]  # a loop over planes (tens)
    if not groups:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
    size = np.array([len(members) for _, members in groups])
    pieces = np.maximum(size // length, 1)
    of = np.repeat(np.arange(len(groups)), pieces)
    nth = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    # np.array_split: the first (size % pieces) runs hold one column more
    count = size[of] // pieces[of] + (nth < size[of] % pieces[of])
    order = np.concatenate([members for _, members in groups])
    return order, np.cumsum(count) - count, count, np.array([k for k, _ in groups])[of]


def _fit(design, target, weight, cluster):
    """Weighted least squares with a covariance that lets errors be shared within each cluster (plane)."""
    sw = np.sqrt(weight)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], target * sw, rcond=None)
    resid = target - design @ coef
    bread = np.linalg.pinv((design * weight[:, None]).T @ design)
    scores = np.zeros((cluster.max() + 1, design.shape[1]))
    np.add.at(scores, cluster, design * (weight * resid)[:, None])
    groups = len(np.unique(cluster))
    meat = scores.T @ scores * groups / max(groups - 1, 1)
    return coef, resid, bread @ meat @ bread


def fit_row_scale(xy, u, plane, periods, is_film, is_substrate, shape, max_degree=MAX_DEGREE,
                  max_col_degree=MAX_COL_DEGREE) -> RowScale | None:
    """Fit the log scale along the planes as a smooth function of row and column; film absolute, substrate offset.

    The function is a Legendre polynomial of the row (the slow-scan time)
    plus one of the column (a fast-scan scale that changes along the line,
    or a drift-scale change that grows away from the field's centre);
    each degree is what the data ask for (BIC).

    Parameters
    ----------
    xy : (N, 2) float array
        Column positions in the image, px (x = column, y = row).
    u, plane, periods
        As for :func:`plane_segments`.
    is_film, is_substrate : (P,) bool arrays
        Which planes are the unstrained film (the ruler) and the substrate
        (measured); other planes are left out of the fit.
    shape : (rows, cols)
        The image's (the polynomials run over it).
    max_degree, max_col_degree : int

    Returns
    -------
    RowScale or None
        None without film and substrate segments on two planes each.
    """
    periods = np.where(np.asarray(is_film) | np.asarray(is_substrate), periods, np.nan)
    xy = np.asarray(xy, float)
    period, period_err, row, col, which = plane_segments(np.asarray(u, float), xy, np.asarray(plane), periods)
    film, sub = np.asarray(is_film)[which], np.asarray(is_substrate)[which]
    if min(len(np.unique(which[film])), len(np.unique(which[sub]))) < 2:
        return None
    t = np.clip(2 * row / max(shape[0] - 1, 1) - 1, -1, 1)
    s = np.clip(2 * col / max(shape[1] - 1, 1) - 1, -1, 1)
    # the segments' periods themselves, not over each plane's mean: how the scale changes from plane to plane
    # (level planes at different rows) is half of what the fit is for
    target = np.log(period)
    weight = (period / period_err) ** 2  # of the log period: relative errors
    # where film and substrate share no rows (level planes), the row model only bridges the gap between
    # them: a steady change (degree 1) is all that a gap can carry; shared rows (tilted planes) allow more
    max_degree = max_degree if _row_overlap(row, film, sub) >= MIN_OVERLAP else min(max_degree, 1)
    keep = np.ones(len(target), bool)
    for first_pass in (True, False):  # outliers (a stray column in a plane) out, then refit
        fits = [_degree_fit(t, s, target, weight, which, sub, keep, d, e)
                for d in range(max_degree + 1) for e in range(max_col_degree + 1)]
        best = min(fits, key=lambda f: f["bic"])
        if first_pass:
            keep = np.abs(best["resid"]) <= 4 * robust_sd(best["resid"]) + 1e-12
            if len(np.unique(which[keep & film])) < 2 or len(np.unique(which[keep & sub])) < 2:
                return None  # too few segments agree to tell a scale change from stray columns
    # a correction is only as good as the model across the rows without data: the more flexible models, and
    # those with and without the column term, must give the same one, or the scale wanders in a way the
    # rows seen cannot tell
    degree, col_degree = best["degree"]
    alternatives = [(d, col_degree) for d in range(degree + 1, degree + 1 + STABILITY_DEGREES)]
    if max_col_degree:
        alternatives += [(d, 1 - col_degree) for d in range(degree, degree + 1 + STABILITY_DEGREES)]
    flexible = [_degree_fit(t, s, target, weight, which, sub, keep, d, e) for d, e in alternatives]
    return _row_scale(best, flexible, which, film, sub, len(periods))


def _row_overlap(row, film, sub):
    """Share of the segments that lie within the other material's range of rows."""
    inside_film = (row[sub] >= row[film].min()) & (row[sub] <= row[film].max())
    inside_sub = (row[film] >= row[sub].min()) & (row[film] <= row[sub].max())
    return float((inside_film.sum() + inside_sub.sum()) / len(row))


def _basis(t, s, degree, col_degree):
    """Legendre terms of the row up to `degree` (with the constant) and of the column from 1 to `col_degree`."""
    return np.column_stack([legendre.legvander(t, degree), legendre.legvander(s, col_degree)[:, 1:]])


def _degree_fit(t, s, target, weight, which, sub, keep, degree, col_degree):
    """One pair of degrees: coefficients, residuals (all segments), cluster covariance and BIC (kept ones)."""
    basis = _basis(t, s, degree, col_degree)
    design = np.column_stack([basis, sub.astype(float)])
    compact = np.unique(which[keep], return_inverse=True)[1]
    coef, _, cov = _fit(design[keep], target[keep], weight[keep], compact)
    resid = target - design @ coef
    rss = float(np.sum(weight[keep] * resid[keep] ** 2))
    count = int(keep.sum())
    return dict(degree=(degree, col_degree), coef=coef, cov=cov, resid=resid, basis=basis,
                bic=count * np.log(max(rss, 1e-30) / count) + design.shape[1] * np.log(count))


def _substrate_log_correction(fit, film, sub):
    """The substrate segments' mean log scale minus the film's, and its 1σ error (cluster covariance)."""
    coef, cov, basis = fit["coef"], fit["cov"], fit["basis"]
    contrast = basis[sub].mean(axis=0) - basis[film].mean(axis=0)
    return float(contrast @ coef[:-1]), float(np.sqrt(max(contrast @ cov[:-1, :-1] @ contrast, 0.0)))


def _row_scale(fit, flexible, which, film, sub, n_planes) -> RowScale:
    """Per-plane factors relative to the film's mean, and the substrate's correction with its error.

    The correction is applied when the more `flexible` fits agree with it
    (within twice their combined errors, 0.1 % or a quarter of the
    correction) and it is more than SIGNIFICANCE times its error; its error then
    includes how far they differ. Otherwise every factor is 1 and `applied`
    is False, and when every fit finds a correction of one sign beyond its
    error, the smallest of them is the error instead.
    """
    (degree, col_degree), coef, basis = fit["degree"], fit["coef"], fit["basis"]
    correction, error = _substrate_log_correction(fit, film, sub)
    others = [_substrate_log_correction(f, film, sub) for f in flexible]
    spread = max((abs(c - correction) for c, _ in others), default=0.0)
    tolerance = max(STABLE_WITHIN, STABLE_SHARE * abs(correction))
    agree = all(abs(c - correction) <= max(2 * np.hypot(e, error), tolerance) for c, e in others)
    total_err = float(np.hypot(error, spread))
    # ... and a correction within its own error is no better than none, and widens the CI for nothing
    applied = bool((degree or col_degree) and agree and abs(correction) > SIGNIFICANCE * total_err)
    shape = basis @ coef[:-1]
    film_mean = shape[film].mean()
    total = np.zeros(n_planes)
    count = np.zeros(n_planes)
    np.add.at(total, which, np.exp(shape - film_mean))
    np.add.at(count, which, 1)
    factor = np.where(count > 0, total / np.maximum(count, 1), 1.0) if applied else np.ones(n_planes)
    # at most a factor ten either way: past that the polynomial is extrapolated beyond its data, not a scan
    ends = np.clip(legendre.legval(np.array([-1.0, 1.0]), coef[:degree + 1]) - film_mean, -np.log(10), np.log(10))
    # a row dependence that every model finds, on the same side and beyond its error, but whose size they
    # do not agree on, is not corrected; the least of the sizes is how far the substrate's scale is at least
    # from the film's, and it goes into the error instead (a wandering drift gives models of either sign)
    every = [(correction, error)] + others
    same_side = all(np.sign(c) == np.sign(correction) and abs(c) > 2 * e for c, e in every)
    unsure = bool((degree or col_degree) and not agree and same_side)
    left_err = float(min(abs(c) for c, _ in every)) if unsure else 0.0
    return RowScale(degree, col_degree, factor, float(np.exp(correction)) if applied else 1.0,
                    total_err if applied else left_err, tuple(float(v) for v in np.exp(ends)), applied)


def stacking_shear(heights, registry, periods, max_step=3.2):
    """The shear of a close-packed stacking in the image, from how each plane's registry steps on.

    In ABC (rhombohedral, rock-salt (111)) stacking seen along a close-packed
    row, each plane sits a third of a period along from the one below, the
    same way every time. A shear of the image (a slow-scan drift along the
    fast axis) adds ``shear x height step / period`` to each step. Either
    sense of the stacking (a mirrored field) is allowed; a step that is off
    by a third (a plane not found) is left out.

    Parameters
    ----------
    heights : (P,) float array
        The group's consecutive planes' heights (any length unit).
    registry : (P,) float array
        Their registries within one period (0-1, :func:`stemlayers.structure.planes.registry`).
    periods : (P,) float array
        Their in-plane periods, in the unit of `heights`.
    max_step : float
        Longest height step between neighbouring planes, unit of `heights`.

    Returns
    -------
    (float, float) or None
        The shear (along-plane displacement per unit height) and its 1σ
        error; None with fewer than 3 usable steps.

    Examples
    --------
    >>> h = np.arange(8) * 2.0
    >>> r = (np.arange(8) / 3 + 0.01 * h / 3.8) % 1.0   # a 1 % shear on a 3.8 period
    >>> round(stacking_shear(h, r, np.full(8, 3.8))[0], 4)
    0.01
    """
    heights, registry, periods = (np.asarray(x, float) for x in (heights, registry, periods))
    step = np.diff(heights)
    near = (step > 0) & (step < max_step)
    if near.sum() < 3:
        return None
    x = (step / (0.5 * (periods[1:] + periods[:-1])))[near]
    change = np.diff(registry)[near]
    best = None
    for sense in (1.0, -1.0):
        offset = (change - sense / 3.0 + 0.5) % 1.0 - 0.5
        usable = np.abs(offset) < 0.15
        if best is None or usable.sum() > best[2].sum():
            best = (sense, offset, usable)
    _, offset, usable = best
    if usable.sum() < 3:
        return None
    x, y = x[usable], offset[usable]
    shear = float(np.sum(x * y) / np.sum(x * x))
    scatter = np.sqrt(np.sum((y - shear * x) ** 2) / max(len(y) - 1, 1))
    return shear, float(scatter / np.sqrt(np.sum(x * x)))
