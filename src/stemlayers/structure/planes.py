"""Atomic planes from columns: link, measure, and tell substrate from film.

The first steps of :func:`stemlayers.structure.grouping.group_layers`, each a small pure
function over arrays or over a tuple of frozen :class:`Plane` records:

- :func:`link_planes`: columns joined to their nearest neighbour along the
  plane at nearly the same height; chains are planes (they may bend);
- :func:`measure_planes`: each plane's height under the common tilt, its
  in-plane period, registry (where its columns sit within a period),
  brightness, scatter and how much of the field's width it fills;
- :func:`field_scale` and :func:`label_kinds`: which planes have the
  substrate's period and which the film's. Only the *ratio* of the two
  periods is trusted (they are measured along the same axis), so a pixel size
  off by 15 % does not turn TiN into film.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull, QhullError, cKDTree

from ..numeric import MAD_TO_SD, line_fit
from .runs import MIN_ALIAS_STEPS, run_medians

__all__ = ["FIELD_SCALE_RANGE", "Plane", "at_search_bound", "field_scale", "fit_period", "label_kinds", "line_length_in_field", "link_planes", "measure_planes",
           "period_guess", "registry", "registry_split", "with_occupancy"]

HEIGHT_TOLERANCE_A = 0.55  # a third of the closest plane spacing (Bi2Se3 X1-Bi, 1.55 Å)
MIN_COLUMNS = 3
#: The calibration error :func:`field_scale` searches within (relative).
FIELD_SCALE_RANGE = 0.2
#: How far to either side of a plane its length inside the columns' hull is measured too, Å: well beyond a
#: column's scatter about its plane (a few pm), well short of the hull's slant at the field's corners.
EDGE_PLANE_REACH_A = 0.5


@dataclass(frozen=True, eq=False)
class Plane:
    """One atomic plane as measured, before it is named (lengths in Å along the file's calibration).

    Attributes
    ----------
    label : int
        The chain label shared by its columns.
    members : (n,) int array
        Indices of its columns.
    height_A, height_err_A : float
        Height at the field's centre under the common tilt, and its 1σ error.
    scatter_A : float
        rms deviation of its columns from the plane (columns more than 3
        robust standard deviations + 0.1 Å off are left out of it and of the height).
    peak : float
        Median column amplitude (peak height).
    volume : float
        Median integrated column intensity (the fitted Gaussian's volume).
    brightness : float or None
        The same with a smooth trend along the planes (a thickness wedge)
        taken out (:func:`stemlayers.structure.elements.flat_brightness`): what the
        elements are told apart by.
    period_A, period_err_A : float or None
        Projected in-plane column period and its standard error.
    phase : float or None
        Registry of the columns within one period (0-1), on the common axis
        and its kind's common period (set once the kinds are known, see
        :func:`stemlayers.structure.grouping.group_layers`; None before).
    occupancy : float
        Columns found over columns that fit in the plane's length inside the field.
    end_missing : float
        Of the columns that fit, how many lie beyond its first and last found
        column: a plane that ends inside the field (a terrace edge), not
        columns missed along it.
    kind : str
        "substrate", "film" or "disordered" once labelled ("" before).
    element : str or None
    element_probability : float or None
        Posterior probability of `element` from the image's own brightness clusters.
    """

    label: int
    members: np.ndarray
    height_A: float
    height_err_A: float
    scatter_A: float
    peak: float
    volume: float
    period_A: float | None = None
    period_err_A: float | None = None
    phase: float | None = None
    occupancy: float = 1.0
    kind: str = ""
    element: str | None = None
    element_probability: float | None = None
    brightness: float | None = None
    end_missing: float = 0.0

    @property
    def n_columns(self) -> int:
        return int(len(self.members))


def link_planes(u, h, max_step, tolerance=HEIGHT_TOLERANCE_A, min_columns=MIN_COLUMNS):
    """Label the columns of each atomic plane.

    Every column is linked to its nearest right-hand neighbour within
    `max_step` whose height differs by less than `tolerance`; chains are
    planes. Chains of one plane split by a missing column are joined by
    height, and chains shorter than `min_columns` get the label -1.

    Parameters
    ----------
    u, h : (N,) float arrays
        Positions along the planes and along the growth axis, Å.
    max_step : float
        Longest link, Å.
    tolerance : float
        Largest height difference of linked columns, Å.
    min_columns : int

    Returns
    -------
    (N,) int array
        Plane label per column, -1 for columns in no plane.

    Examples
    --------
    >>> u = np.array([0.0, 3.8, 7.6, 0.0, 3.8, 7.6])
    >>> h = np.array([0.0, 0.05, 0.0, 2.6, 2.6, 2.65])
    >>> label = link_planes(u, h, 9.0)
    >>> bool(label[0] == label[2] and label[0] != label[3])
    True
    """
    n = len(u)
    if n < 2:
        return np.full(n, -1)
    # pairs within a flat box (max_step along the planes, tolerance across them): a disc of radius max_step
    # holds ~50 neighbours per column, the box a few, and the exact test below keeps the same pairs
    stretch = max_step / tolerance
    tree = cKDTree(np.column_stack([u, h * stretch]))
    pairs = tree.query_pairs(max_step, p=np.inf, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    du, dh = u[j] - u[i], h[j] - h[i]
    flip = du < 0  # every pair left to right
    i, j, du, dh = np.where(flip, j, i), np.where(flip, i, j), np.abs(du), np.where(flip, -dh, dh)
    ok = (np.abs(dh) < tolerance) & (du > 1.0) & (np.hypot(du, dh) <= max_step)
    i, j, du = i[ok], j[ok], du[ok]
    order = np.lexsort((j, du, i))  # each column's nearest right-hand neighbour (ties: the lower index)
    first = np.ones(len(order), bool)
    first[1:] = i[order][1:] != i[order][:-1]
    i, j = i[order][first], j[order][first]
    label = connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)[1]
    label = _merge_by_height(label, u, h, 0.5 * tolerance)
    inverse = np.unique(label, return_inverse=True)[1]
    return np.where(np.bincount(inverse)[inverse] >= min_columns, label, -1)


def _merge_by_height(label, u, h, tolerance):
    """Join chains of one plane split by a gap: similar height, hardly overlapping along the plane."""
    ids, inverse = np.unique(label, return_inverse=True)
    column = np.argsort(inverse, kind="stable")  # chain by chain, as members_of orders them
    count = np.bincount(inverse, minlength=len(ids))
    start = np.cumsum(count) - count
    height = run_medians(h[column], start, count)
    span = np.column_stack([np.minimum.reduceat(u[column], start), np.maximum.reduceat(u[column], start)])
    order = np.argsort(height)
    parent = np.arange(len(ids))
    for a, b in zip(order[:-1], order[1:]):  # a loop over chains (tens), not columns
        if abs(height[b] - height[a]) < tolerance:
            if min(span[a, 1], span[b, 1]) - max(span[a, 0], span[b, 0]) < 1.0:
                parent[b] = parent[a]
                span[b] = (min(span[a, 0], span[b, 0]), max(span[a, 1], span[b, 1]))
    return ids[parent][inverse]


def members_of(label):
    """The column indices of each plane label >= 0, in label order: one sort, not one scan per plane."""
    order = np.argsort(label, kind="stable")
    ids, starts = np.unique(label[order], return_index=True)
    groups = np.split(order, starts[1:])
    return [(int(k), g) for k, g in zip(ids, groups) if k >= 0]


def common_tilt(u, h, label):
    """Median slope dh/du of the planes (orientation error, drift shear), weighted by their size."""
    slopes, weights = [], []
    for _, m in members_of(label):
        if len(m) >= 4 and np.ptp(u[m]) > 5.0:
            slopes.append(np.polyfit(u[m], h[m], 1)[0])
            weights.append(len(m))
    if not slopes:
        return 0.0
    order = np.argsort(slopes)
    cumulative = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(slopes)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def typical_step(u):
    """The usual distance between neighbouring columns of a plane (some steps span gaps)."""
    steps = np.diff(np.sort(u))
    return float(np.percentile(steps, 40)) if len(steps) else np.nan


def period_guess(u, candidates, tolerance=0.15):
    """Of the expected periods, the one on whose lattice most of the plane's columns sit.

    A plane with missing columns has steps of 2 or 3 periods, and stray
    columns (specks, false detections) make odd steps, so neither its typical
    step nor its steps' fit says the period; the share of columns within
    `tolerance` periods of a common registry does.

    Examples
    --------
    >>> period_guess(np.array([0.0, 2.6, 7.8, 10.4, 15.6]), (2.596, 3.798))
    2.596
    >>> period_guess(np.array([0.0, 3.8, 5.7, 7.6, 11.4, 13.3, 15.2]), (2.596, 3.798))
    3.798
    """
    u = np.asarray(u, float)
    candidates = np.asarray(candidates, float)
    if not len(u):
        return float(candidates[0])
    turns = u[None, :] / candidates[:, None]
    phase = np.angle(np.mean(np.exp(2j * np.pi * turns), axis=1)) / (2 * np.pi)
    off = np.abs((turns - phase[:, None] + 0.5) % 1.0 - 0.5)
    on_lattice = np.mean(off < tolerance, axis=1)
    return float(candidates[np.argmax(on_lattice)])  # a tie goes to the first


def registry(u, period):
    """Where columns at positions `u` sit within one `period`: their circular mean, as a fraction 0-1.

    Examples
    --------
    >>> round(registry(np.array([1.0, 4.8, 8.6]), 3.8), 3)
    0.263
    """
    return float(np.angle(np.mean(np.exp(2j * np.pi * np.asarray(u, float) / period))) / (2 * np.pi) % 1.0)


def fit_period(u, guess, u_err=0.0, split=True):
    """Projected period and its standard error from positions `u` (each ±`u_err`) along a plane.

    Columns are indexed by rounding their steps to `guess`; the period is the
    slope of position against index. The error is the larger of the fit's
    scatter and what the columns' own position errors allow. With `split`, a
    plane of two runs with a plain jump of registry between them
    (:func:`registry_split`) has one period and two registries.

    Returns
    -------
    (float, float) or (None, None)
        None when fewer than three columns span at least two periods.

    Examples
    --------
    >>> fit_period(np.array([0.0, 3.8, 7.6, 15.2]), 3.7)[0]
    3.8
    """
    u = np.sort(np.asarray(u, float))
    if len(u) < MIN_COLUMNS or not guess > 0:
        return None, None
    # a stray column between two of the plane's (a speck, a column of the band) would shift the index of
    # every column after it: of two columns closer than 0.6 periods, the one further off the plane's
    # registry goes
    off = np.abs((u / guess - registry(u, guess) + 0.5) % 1.0 - 0.5)
    close = np.flatnonzero(np.diff(u) < 0.6 * guess)
    if len(close):
        u = np.delete(u, np.where(off[close] > off[close + 1], close, close + 1))
    if len(u) < MIN_COLUMNS:
        return None, None
    steps = np.maximum(np.round(np.diff(u) / guess), 1)
    if len(steps) >= MIN_ALIAS_STEPS:
        # every step a whole multiple of the guess (all 2s, all 3s) is a plane whose columns repeat at that
        # multiple: with a pixel size 2x off, a column step of twice the expected period must not be read as
        # the period with every other column missing
        steps = steps / np.gcd.reduce(steps.astype(int))
    k = np.concatenate([[0], np.cumsum(steps)])
    if np.ptp(k) < 2:
        return None, None
    slope, intercept = line_fit(k, u)
    residual = u - (slope * k + intercept)
    spread = np.sum((k - k.mean()) ** 2)
    rss, dof = float(np.sum(residual**2)), len(u) - 2
    # columns about one line within twice their own position errors (RMS) hold no plain jump: most planes
    two_runs = registry_split(k, u) if split and rss / max(dof, 1) > (SPLIT_GATE * u_err) ** 2 else None
    if two_runs is not None:  # explains the scatter SPLIT_F times better than the one line: its rss is smaller
        slope, rss, spread = two_runs
        dof = len(u) - 3
    err = max(np.sqrt(rss / max(dof, 1) / spread), u_err / np.sqrt(spread))
    return round(float(slope), 12), float(max(err, 1e-6))


#: A plane is read as two runs of one period whose registries differ where a jump between them explains
#: the columns' scatter this much better than one line (an F statistic of one degree of freedom, taken as
#: the best of every split: about 7 standard deviations).
SPLIT_F = 50.0
#: ... and the jump is at least this share of the period (scan noise moves a run by far less).
SPLIT_JUMP = 0.05
#: Columns on either side of such a jump.
SPLIT_MIN_COLUMNS = 3
#: Only planes whose columns scatter about one line more than this many times their position errors (RMS)
#: are looked at for a jump: a plain one (F > SPLIT_F) leaves far more.
SPLIT_GATE = 2.0


def registry_split(k, u):
    """(slope, rss, spread) of the columns `u` (indexed `k`, sorted) as two runs of one period with their
    own registries, where a jump between them is plain; None where it is not.

    A plane grouped across a domain boundary of the film (its planes over a bilayer and over a band sit at
    other heights and registries) joins two runs of columns shifted by a fraction of a period: one line
    through them tilts, and its slope, the period, with it. Within each run the period is the lattice's.

    Returns
    -------
    (float, float, float) or None
        The common slope of the two runs, their residual sum of squares and the sum of squares of the
        indices about each run's mean.
    """
    n = len(u)
    if n < 2 * SPLIT_MIN_COLUMNS + 1:
        return None
    k, u = np.asarray(k, float), np.asarray(u, float)
    k, u = k - k.mean(), u - u.mean()  # centred: the sums below then cancel nothing
    sums = np.cumsum(np.stack([k, u, k * k, k * u, u * u]), axis=1)
    j = np.arange(SPLIT_MIN_COLUMNS, n - SPLIT_MIN_COLUMNS + 1)  # the right run starts at column j
    left, right = sums[:, j - 1], sums[:, -1:] - sums[:, j - 1]
    n_left, n_right = j, n - j
    sxx = left[2] - left[0] ** 2 / n_left + right[2] - right[0] ** 2 / n_right
    sxy = left[3] - left[0] * left[1] / n_left + right[3] - right[0] * right[1] / n_right
    syy = left[4] - left[1] ** 2 / n_left + right[4] - right[1] ** 2 / n_right
    slope = sxy / sxx
    rss = syy - slope * sxy
    best = int(np.argmin(rss))
    means = left[:2, best] / n_left[best], right[:2, best] / n_right[best]  # (k, u) of each run
    jump = (means[1][1] - slope[best] * means[1][0]) - (means[0][1] - slope[best] * means[0][0])
    one_line = sums[4, -1] - sums[3, -1] ** 2 / sums[2, -1]
    sigma2 = max(rss[best], 0.0) / (n - 3)
    if sigma2 <= 0 or (one_line - rss[best]) / sigma2 < SPLIT_F or abs(jump) < SPLIT_JUMP * abs(slope[best]):
        return None
    return float(slope[best]), float(max(rss[best], 0.0)), float(sxx[best])


def line_length_in_field(point, direction, shape, hull_equations=None):
    """Length of the line through `point` along `direction` inside a (rows, cols) field, in pixels.

    With `hull_equations` (``scipy.spatial.ConvexHull.equations`` of the
    columns), only the part inside that hull counts too: a field with an
    empty corner (a rotated scan padded with background, vacuum beside a
    wedge) holds no columns there.

    Examples
    --------
    >>> line_length_in_field(np.array([5.0, 5.0]), np.array([1.0, 0.0]), (10, 20))
    19.0
    """
    lo, hi = -np.inf, np.inf
    for axis, size in ((0, shape[1] - 1), (1, shape[0] - 1)):  # x then y slabs
        d, p = direction[axis], point[axis]
        if abs(d) < 1e-12:
            if not 0 <= p <= size:
                return 0.0
            continue
        t0, t1 = sorted(((0 - p) / d, (size - p) / d))
        lo, hi = max(lo, t0), min(hi, t1)
    if hull_equations is not None:
        # inside: normal . x + offset <= 0 for every facet
        normal, offset = hull_equations[:, :2], hull_equations[:, 2]
        along, at = normal @ direction, normal @ point + offset
        going_out = along > 1e-12
        coming_in = along < -1e-12
        if np.any((np.abs(along) <= 1e-12) & (at > 0)):
            return 0.0
        if going_out.any():
            hi = min(hi, float(np.min(-at[going_out] / along[going_out])))
        if coming_in.any():
            lo = max(lo, float(np.max(-at[coming_in] / along[coming_in])))
    return float(max(hi - lo, 0.0))


def measure_planes(u, h, h_err, u_err, peak, volume, label, expected=None):
    """One :class:`Plane` per label, heights under the common tilt of all planes.

    Parameters
    ----------
    u, h, h_err, u_err : (N,) float arrays
        Positions along the planes and along the growth axis, and their 1σ errors, Å.
    peak, volume : (N,) float arrays
        Column peak heights and integrated intensities.
    label : (N,) int array
        From :func:`link_planes`.
    expected : sequence of float, optional
        The periods the planes may have (bulk x the field's scale), for
        indexing columns across gaps (:func:`period_guess`); each plane's
        typical step by default.

    Returns
    -------
    tuple of Plane
        Ordered by height.
    """
    tilt = common_tilt(u, h, label)
    u_centre = float(np.median(u)) if len(u) else 0.0
    groups = members_of(label)
    if not groups:
        return ()
    count = np.array([len(members) for _, members in groups])
    start = np.cumsum(count) - count
    column = np.concatenate([members for _, members in groups])
    plane = np.repeat(np.arange(len(groups)), count)
    # every plane's medians in one sort, not six np.median calls per plane
    level = h[column] - tilt * (u[column] - u_centre)
    middle = run_medians(level, start, count)
    # height and scatter from the columns that sit on the plane: a stray column linked in (a speck, a
    # false detection) must not make an ordered plane look rough (robust_sd, per plane)
    robust = MAD_TO_SD * run_medians(np.abs(level - middle[plane]), start, count)
    on = np.abs(level - middle[plane]) <= 3 * robust[plane] + 0.1
    u_err_mid, peak_mid, volume_mid = (run_medians(v[column], start, count) for v in (u_err, peak, volume))
    planes = []
    for i, (k, members) in enumerate(groups):  # a loop over planes (tens), vectorised over their columns
        kept = on[start[i]:start[i] + count[i]]
        level_on = level[start[i]:start[i] + count[i]][kept]
        n = len(level_on)
        scatter = float(np.std(level_on)) if n > 1 else 0.0
        err = float(np.sqrt(max(scatter**2 / n, np.mean(h_err[members][kept] ** 2) / n)))
        guess = period_guess(u[members], expected) if expected else typical_step(u[members])
        period, period_err = fit_period(u[members], guess, float(u_err_mid[i]))
        planes.append(Plane(int(k), members, float(np.mean(level_on)), err, scatter, float(peak_mid[i]),
                            float(volume_mid[i]), period, period_err))
    return tuple(sorted(planes, key=lambda p: p.height_A))


def field_scale(periods, substrate_period_A, film_period_A, max_error=FIELD_SCALE_RANGE):
    """The common scale factor (measured / bulk) that best maps every period onto the two expected ones.

    Both periods are measured along the same axis, so one scale serves both:
    when both materials are in the field their *ratio* fixes which is which,
    whatever the calibration. With one material alone the nearer match
    (smallest scale error) wins.

    Parameters
    ----------
    periods : (K,) float array
        Measured periods of the planes, Å.
    substrate_period_A, film_period_A : float
    max_error : float
        Largest calibration error considered (0.2 = ±20 %).

    Returns
    -------
    float
        The scale (1 = the file's calibration is right).

    Examples
    --------
    >>> round(field_scale(np.array([2.596, 3.798]) * 1.12, 2.596, 3.798), 3)
    1.12
    """
    periods = np.asarray([p for p in periods if p and np.isfinite(p)], float)
    if not len(periods):
        return 1.0
    scales = np.exp(np.linspace(np.log(1 - max_error), np.log(1 + max_error), 801))
    logs = np.log(periods)[None, :] - np.log(scales)[:, None]
    miss = np.minimum(np.abs(logs - np.log(substrate_period_A)), np.abs(logs - np.log(film_period_A)))
    # robust: a misfit beyond 5 % counts as 5 %, and the smaller calibration error wins a tie
    cost = np.sum(np.minimum(miss, 0.05) ** 2, axis=1) + 1e-4 * np.log(scales) ** 2
    return float(scales[np.argmin(cost)])


def at_search_bound(scale, max_error=FIELD_SCALE_RANGE) -> bool:
    """Whether a :func:`field_scale` result is the bound of its search: the file is at least that far off."""
    return min(abs(scale - (1 + max_error)), abs(scale - (1 - max_error))) < 1e-3


def label_kinds(planes, substrate_period_A, film_period_A, max_scatter_A, scale=1.0):
    """Name each plane's kind by its period (scaled by `scale`) and its order.

    A plane is "substrate" or "film" when its period is within 10 % of the
    scaled expected one and its columns scatter less than `max_scatter_A`;
    otherwise "disordered".

    Returns
    -------
    tuple of Plane
    """
    expected = {"substrate": substrate_period_A * scale, "film": film_period_A * scale}
    out = []
    for p in planes:
        kind = "disordered"
        if p.period_A is not None and p.scatter_A < max_scatter_A:
            name, value = min(expected.items(), key=lambda kv: abs(np.log(p.period_A / kv[1])))
            if abs(np.log(p.period_A / value)) < 0.1:
                kind = name
        out.append(replace(p, kind=kind))
    return tuple(out)


def with_occupancy(planes, xy_of, growth_dir, shape, pixel_size_A, expected=None):
    """Each plane's occupancy: columns found over the columns that fit in its length inside the field; and
    how many of those that fit lie beyond its end columns (``end_missing``).

    Parameters
    ----------
    planes : tuple of Plane
    xy_of : (N, 2) float array
        Column positions in pixels.
    growth_dir : (2,) float array
    shape : (rows, cols) or None
        The field; without it the occupancy stays 1.
    pixel_size_A : float
    expected : dict, optional
        Period per kind, Å (bulk x the field's scale); a plane's own period by default.

    Returns
    -------
    tuple of Plane
    """
    if shape is None:
        return planes
    tangent = np.array([-growth_dir[1], growth_dir[0]])
    sides = (0.0, -EDGE_PLANE_REACH_A / pixel_size_A, EDGE_PLANE_REACH_A / pixel_size_A)
    try:  # where the specimen is: the hull of all columns (a padded or part-empty field has none outside)
        hull = ConvexHull(xy_of).equations if len(xy_of) >= 3 else None
    except QhullError:  # all columns on one line
        hull = None
    out = []
    for p in planes:
        period = (expected or {}).get(p.kind) or p.period_A
        if not period:
            out.append(p)
            continue
        centre = xy_of[p.members].mean(axis=0)
        # columns within half a column width of the image's edge are not fitted; the hull runs through
        # the outermost columns themselves
        fits = (line_length_in_field(centre, tangent, shape) * pixel_size_A - 2.0) / period + 1
        if hull is not None:
            # the first and last planes are the hull's own edge, a zigzag through their columns: the line
            # through their mean runs partly outside it, so it is measured also a little way to either side
            lengths = [line_length_in_field(centre + side * growth_dir, tangent, shape, hull) for side in sides]
            fits = min(fits, max(lengths) * pixel_size_A / period + 1)
        along = xy_of[p.members] @ tangent * pixel_size_A
        extent = float(np.ptp(along)) / period + 1 if len(along) else 0.0
        out.append(replace(p, occupancy=float(min(p.n_columns / max(fits, 1.0), 1.5)),
                           end_missing=float(max(fits - extent, 0.0))))
    return tuple(out)
