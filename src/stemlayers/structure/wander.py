"""Scan wander: the columns' displacement along the planes as a smooth function of the scan row.

A STEM image is scanned row by row, so a drift that wanders during the frame
displaces every column by an amount that depends on its row. Along a plane
tilted against the rows the columns sit at rows that change with their index,
and their spacing follows the wander's slope: each plane's period is off by
the wander's mean slope over its rows. The TiN and the film fill different
rows, so their periods are off by different amounts, and the film-to-TiN
ratio that gives the TiN's a carries the difference (0.5 % for a wander of
1 px over a 448-row frame, planes 20° off the rows).

The planes of one material are rulers of one period. One smooth function of
the row (Legendre terms of degree 2 and up: a constant shift is each plane's
origin, a steady one a common scale), shared by all planes, is fitted to the
columns' positions along the planes, with each plane's origin and each
material's period free. It is seen both in the bend of each tilted plane and
in how its planes' periods change from row to row. Its degree is the one of
most Bayesian evidence; it is taken out only where that evidence is strong
and more flexible models give the TiN the same correction. Planes level with
the rows do not see the wander, and it does not change their period either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import legendre

from ..numeric import robust_sd

__all__ = ["WANDER_PX", "RowWander", "fit_row_wander"]

#: Highest Legendre degree of the wander over the frame (a drift that wanders up to ~2-3 cycles per frame).
MAX_DEGREE = 10

#: The prior's scale of a scan's wander (1σ over the frame, px): a few pixels at most.
WANDER_PX = 2.0

#: Log evidence (natural units) the wander must have over none to be taken out. Column positions have
#: biases of their own (probe tails near the interface, an interpolated rotation) that a row function
#: can fit a little: on multislice references they reached 10; a wander of 0.3 px and more gives 25 to 2000.
MIN_EVIDENCE = 20.0

#: More flexible models (this many more terms) must give the TiN the same correction, within twice their
#: combined errors or STABLE_WITHIN (relative): across the interface band the two materials may share few
#: rows, and a model only bridges the gap.
STABILITY_TERMS = 2
STABLE_WITHIN = 0.001

#: Columns a plane needs to weigh in (its two end columns left out).
MIN_COLUMNS = 5


@dataclass(frozen=True)
class RowWander:
    """The scan's wander along the planes, fitted as a function of the row.

    Attributes
    ----------
    degree : int
        Highest Legendre degree of the row taken out (1: none).
    shift : (N,) float array
        Each column's displacement along the planes, in the unit of the `u`
        given to :func:`fit_row_wander` (0 where none was taken out).
    factor : (P,) float array
        Each plane's period with the wander over its period without it (1
        for planes left out): divide a period by it to take the wander out.
    substrate_change, substrate_change_err : float
        The substrate planes' mean log factor minus the film's, and its 1σ
        error (0 when either has no ruler plane or nothing was taken out).
    extent_px : float
        How far the columns wander over the frame, peak to peak, px.
    """

    degree: int
    shift: np.ndarray
    factor: np.ndarray
    substrate_change: float = 0.0
    substrate_change_err: float = 0.0
    extent_px: float = 0.0

    @property
    def applied(self) -> bool:
        return self.degree > 1


def _none(n_columns, n_planes) -> RowWander:
    return RowWander(1, np.zeros(n_columns), np.ones(n_planes))


def _plane_indices(u, plane, periods):
    """Columns of planes with a period, in order along each plane, and each column's index along it.

    Returns (order, plane of each, index k): steps rounded to the plane's
    period (at least 1) and summed, as :func:`stemlayers.structure.planes.fit_period` indexes them.
    """
    known = np.isfinite(periods)[np.maximum(plane, 0)] if len(periods) else np.zeros(len(u), bool)
    order = np.flatnonzero((plane >= 0) & known)
    order = order[np.lexsort((u[order], plane[order]))]
    which = plane[order]
    same = which[1:] == which[:-1]
    step = np.where(same, np.maximum(np.round(np.diff(u[order]) / periods[which[1:]]), 1), 0)
    k = np.concatenate([[0.0], np.cumsum(step)])
    first = np.r_[True, ~same]
    return order, which, k - np.maximum.accumulate(np.where(first, k, -np.inf))  # k restarts on each plane


def _slopes(values, k, group, n_groups):
    """Each group's least-squares slope of `values` against k."""
    count = np.bincount(group, minlength=n_groups).astype(float)
    sk, skk = np.bincount(group, k, n_groups), np.bincount(group, k * k, n_groups)
    sv, svk = np.bincount(group, values, n_groups), np.bincount(group, values * k, n_groups)
    det = count * skk - sk**2
    return (count * svk - sk * sv) / np.where(det > 1e-12, det, np.inf)


def _line_rms(values, k, group, n_groups):
    """Each group's rms residual from its own least-squares line in k."""
    count = np.bincount(group, minlength=n_groups).astype(float)
    slope = _slopes(values, k, group, n_groups)
    intercept = (np.bincount(group, values, n_groups) - slope * np.bincount(group, k, n_groups)) / count
    resid = values - intercept[group] - slope[group] * k
    return np.sqrt(np.bincount(group, resid**2, n_groups) / count)


def _nuisance_residual(values, k, group, n_groups, film):
    """Each column of `values` (N, m) with each group's mean and each material's least-squares slope in k
    (one slope for the groups of the `film`, one for the others) taken out."""
    count = np.maximum(np.bincount(group, minlength=n_groups), 1)
    k_dm = k - (np.bincount(group, k, n_groups) / count)[group]
    nuisance = np.column_stack([k_dm * film, k_dm * ~film])
    out = np.empty_like(values)
    for j in range(values.shape[1]):  # a loop over basis terms (ten)
        v_dm = values[:, j] - (np.bincount(group, values[:, j], n_groups) / count)[group]
        out[:, j] = v_dm - nuisance @ np.linalg.lstsq(nuisance, v_dm, rcond=None)[0]
    return out


def _posterior(design, target, noise, amplitude):
    """Coefficients, their covariance and the log evidence against no wander, under a normal prior.

    Each of the m coefficients has a prior sd of ``amplitude / sqrt(m)`` (the
    whole wander about `amplitude`). The log evidence is the log ratio of the
    data's marginal likelihood with the terms to that without them.
    """
    m = design.shape[1]
    tau2 = amplitude**2 / m
    precision = design.T @ design / noise**2 + np.eye(m) / tau2
    pull = design.T @ target / noise**2
    try:
        cov = np.linalg.inv(precision)
    except np.linalg.LinAlgError:
        # a design with no spread against a noise of nothing (a few columns at a wrong trial scale): there is
        # nothing to weigh, and no evidence for a wander
        return np.zeros(m), np.full((m, m), np.nan), -np.inf
    coef = cov @ pull
    evidence = 0.5 * float(pull @ coef) - 0.5 * float(np.linalg.slogdet(tau2 * precision)[1])
    return coef, cov, evidence


def _shared_cov(cov, design, pull, group, n_groups):
    """The coefficients' covariance, or the cluster-robust (sandwich) one with scores summed per plane where
    that is the larger: errors shared within a plane (a bent plane, a biased stretch of columns) make the
    coefficients less sure than independent ones would."""
    scores = np.zeros((n_groups, design.shape[1]))
    np.add.at(scores, group, design * pull[:, None])
    shared = cov @ (scores.T @ scores) @ cov * n_groups / max(n_groups - 1, 1)
    return shared if np.trace(shared) > np.trace(cov) else cov


def fit_row_wander(u, xy, plane, periods, is_film, shape, prior_amplitude, unit_per_px=1.0,
                   max_degree=MAX_DEGREE) -> RowWander | None:
    """Fit the columns' displacement along the planes as a smooth function of the scan row.

    Parameters
    ----------
    u : (N,) float array
        Column positions along the planes.
    xy : (N, 2) float array
        Column positions in the image, px (x = column, y = row).
    plane : (N,) int array
        Plane index of each column, -1 for none.
    periods : (P,) float array
        Each plane's period in the unit of `u`; NaN for planes that are no
        ruler (the interface band's).
    is_film : (P,) bool array
        The film's planes; the other rulers are the substrate's.
    shape : (rows, cols)
        The image's (the polynomial runs over its rows).
    prior_amplitude : float
        The prior's scale of the whole wander, in the unit of `u`.
    unit_per_px : float
        The unit of `u` per pixel (for `extent_px`).
    max_degree : int

    Returns
    -------
    RowWander or None
        None with fewer than two ruler planes; not applied (degree 1) when
        the evidence is below `MIN_EVIDENCE` or more flexible models give
        the substrate another correction.
    """
    u, xy, plane = np.asarray(u, float), np.asarray(xy, float), np.asarray(plane, int)
    periods = np.asarray(periods, float)
    order, which, k = _plane_indices(u, plane, periods)
    sizes = np.bincount(which, minlength=len(periods))
    # a plane's end columns sit at the field's edge, where their peaks are cut and their positions pulled
    # inward; along a tilted edge (a rotated frame) the ends of successive planes fall on successive rows
    ends = np.r_[True, which[1:] != which[:-1]] | np.r_[which[1:] != which[:-1], True]
    big = sizes[which] >= MIN_COLUMNS + 2
    order, which, k, ends = order[big], which[big], k[big], ends[big]
    if len(np.unique(which)) < 2:
        return None
    groups, group = np.unique(which, return_inverse=True)
    # a plane whose columns stray from its line far more than the others' do is no ruler (columns indexed
    # wrong, two planes linked into one): a wander moves every plane's columns alike
    rms = _line_rms(u[order], k, group, len(groups))
    ruler = (rms <= 4 * np.median(rms))[group]
    if len(np.unique(which[ruler])) < 2:
        return None
    order, which, k, ends = order[ruler], which[ruler], k[ruler], ends[ruler]
    groups, group = np.unique(which, return_inverse=True)
    t = np.clip(2 * xy[order, 1] / max(shape[0] - 1, 1) - 1, -1, 1)
    every_basis = legendre.legvander(t, max_degree)[:, 2:]
    # the periods the planes' own fits give (all their columns), and how the wander's terms change them
    raw = _slopes(u[order], k, group, len(groups))
    slopes = np.column_stack([_slopes(every_basis[:, j], k, group, len(groups))
                              for j in range(every_basis.shape[1])])
    shifted_order = order
    order, which, k, group, basis = order[~ends], which[~ends], k[~ends], group[~ends], every_basis[~ends]
    film = np.asarray(is_film, bool)[which]
    design = _nuisance_residual(basis, k, group, len(groups), film)
    target = _nuisance_residual(u[order][:, None], k, group, len(groups), film)[:, 0]
    inlier = np.ones(len(target), bool)
    noise = max(robust_sd(target), 1e-12)
    for _ in range(2):  # stray columns (a speck, a column indexed one off) out, then again
        fits = [_posterior(design[inlier, :m], target[inlier], noise, prior_amplitude) for m in range(1, max_degree)]
        m = 1 + int(np.argmax([f[2] for f in fits]))
        resid = target - design[:, :m] @ fits[m - 1][0]
        inlier = np.abs(resid) <= 4 * noise
        noise = max(robust_sd(resid[inlier]), 1e-12)
    if fits[m - 1][2] < MIN_EVIDENCE:
        return _none(len(u), len(periods))
    on_film = np.asarray(is_film, bool)[groups]
    contrast = np.where(on_film, -1.0 / max(on_film.sum(), 1), 1.0 / max((~on_film).sum(), 1))

    def effect(terms):
        """Planes' log factors, and the substrate-minus-film contrast with its error."""
        coef, cov, _ = fits[terms - 1]
        cov = _shared_cov(cov, design[inlier, :terms], (target - design[:, :terms] @ coef)[inlier] / noise**2,
                          group[inlier], len(groups))
        gradient = slopes[:, :terms] / raw[:, None]  # a plane's log factor per coefficient, to first order
        log_factor, towards = gradient @ coef, contrast @ gradient
        return log_factor, float(towards @ coef), float(np.sqrt(max(towards @ cov @ towards, 0.0)))

    log_factor, change, change_err = effect(m)
    both = on_film.any() and not on_film.all()
    if both:
        for more in range(m + 1, min(m + STABILITY_TERMS, len(fits)) + 1):
            other, other_err = effect(more)[1:]
            if abs(other - change) > max(2 * np.hypot(change_err, other_err), STABLE_WITHIN):
                return _none(len(u), len(periods))
    shift = np.zeros(len(u))
    shift[shifted_order] = every_basis[:, :m] @ fits[m - 1][0]
    factor = np.ones(len(periods))
    factor[groups] = np.exp(log_factor)
    return RowWander(m + 1, shift, factor, change if both else 0.0, change_err if both else 0.0,
                     float(np.ptp(shift[shifted_order]) / unit_per_px))
