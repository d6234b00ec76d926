"""Which planes are Bi (or N), read from the image's own brightness, and where the quintuple layers are.

HAADF contrast depends on the detector angles, the thickness and channelling:
a Bi/Te column ratio anywhere from ~1.4 to ~3 and Bi/Se from ~2 to ~6. So the
film planes' integrated intensities (the fitted Gaussians' volumes) are split
into two groups by a two-component Gaussian mixture on log intensity
(:func:`brightness_clusters`); the material file's ratio enters only as a
weak prior on the separation of the two groups. Each plane gets a posterior
probability of being Bi.

A quintuple layer is then found by its shape, not by absolute numbers
(:func:`find_quintuple_layers`): five ordered film planes whose spacings run
d1 d2 d2 d1 (d1/d2 near the file's ratio), whose second and fourth planes are
the brightest, with a van der Waals gap (wider than d2) to the next QL.
Everything there is a ratio along one axis, so a calibration error cancels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..materials import MaterialSystem
from ..numeric import robust_sd

__all__ = ["Clusters", "QuintupleLayer", "assign_elements", "brightness_clusters", "find_quintuple_layers",
           "flat_brightness", "label_anions", "with_brightness"]


def flat_brightness(u, volume, groups, min_columns=4):
    """Each plane's median column intensity with a smooth trend along the planes taken out.

    A wedge-shaped lamella (thickness changing along the interface) makes
    every column brighter towards one side; planes that cover different
    stretches of the field (a rotated field, planes cut by the frame) then
    differ in median brightness for no chemical reason. The trend (linear and
    quadratic in `u`, on log intensity) is measured *within* planes, each
    column against its own plane's median, so the contrast between planes
    (Bi against the chalcogen) does not enter it. Outlying columns (glitches,
    vacancies) are down-weighted.

    Parameters
    ----------
    u : (N,) float array
        Column positions along the planes, Å.
    volume : (N,) float array
        Integrated column intensities (positive).
    groups : sequence of int arrays
        Member indices of each plane.
    min_columns : int
        Planes with fewer columns do not enter the trend (they are still corrected).

    Returns
    -------
    (K,) float array
        Per plane, the median trend-corrected intensity (same units as `volume`,
        the trend being 1 at the planes' median `u`).

    Examples
    --------
    >>> u = np.tile(np.arange(10.0), 2)
    >>> v = np.r_[np.ones(10), 2 * np.ones(10)] * (1 + 0.05 * u)
    >>> groups = [np.arange(5), np.arange(15, 20)]   # the dim plane seen on the left, the bright one on the right
    >>> [np.median(v[g]) for g in groups]      # raw: a ratio of 2.45
    [np.float64(1.1), np.float64(2.7)]
    >>> b = flat_brightness(u, v, groups)
    >>> round(float(b[1] / b[0]), 2)
    2.0
    """
    u = np.asarray(u, float)
    log_v = np.log(np.clip(np.asarray(volume, float), 1e-12, None))
    used = [np.asarray(g, int) for g in groups if len(g) >= min_columns]
    corrected = log_v
    if used:
        idx = np.concatenate(used)
        scale = max(float(np.ptp(u[idx])), 1e-9)
        t = (u - np.median(u[idx])) / scale
        basis = np.column_stack([t, t**2])
        # within-plane (fixed-effects) regression: every plane's own mean taken out of both sides
        y = np.concatenate([log_v[g] - log_v[g].mean() for g in used])
        x = np.concatenate([basis[g] - basis[g].mean(axis=0) for g in used])
        weight = np.ones(len(y))
        coef = np.zeros(2)
        for _ in range(4):
            w = np.sqrt(weight)[:, None]
            coef = np.linalg.lstsq(x * w, y * w[:, 0], rcond=None)[0]
            resid = y - x @ coef
            sd = max(robust_sd(resid), 1e-6)
            weight = np.clip(2.5 * sd / np.maximum(np.abs(resid), 1e-12), None, 1.0)  # Huber weights
        corrected = log_v - basis @ coef
    return np.array([np.exp(np.median(corrected[np.asarray(g, int)])) for g in groups])


@dataclass(frozen=True)
class Clusters:
    """Two brightness groups on log intensity.

    Attributes
    ----------
    p_bright : (K,) float array
        Posterior probability that each value belongs to the bright group.
    log_ratio : float
        Separation of the two groups' means (log of the bright/dim ratio).
    sd : float
        The groups' common standard deviation on log intensity.
    separated : bool
        Whether the two groups stand apart (separation above 3 sd and the
        minimum separation): otherwise the probabilities say little.
    """

    p_bright: np.ndarray
    log_ratio: float
    sd: float
    separated: bool


def brightness_clusters(intensity, prior_log_ratio, prior_sd=0.5, bright_fraction=0.4,
                        min_log_ratio=0.15, iterations=60, fit_mask=None):
    """Split plane intensities into a bright and a dim group (MAP two-component mixture).

    Parameters
    ----------
    intensity : (K,) float array
        One positive value per plane (its columns' median integrated intensity).
    prior_log_ratio : float
        The material file's log(bright/dim): a weak prior on the separation.
    prior_sd : float
        Its standard deviation on the log scale (0.5: a factor 1.65 either way).
    bright_fraction : float
        Prior share of bright planes (2 of 5 in a quintuple layer), as two pseudo-counts.
    min_log_ratio : float
        Smallest separation that counts as two groups.
    iterations : int
    fit_mask : (K,) bool array, optional
        The values the two groups are fitted on (e.g. planes with enough
        columns); the others are only assigned. A value below the bright
        group by more than 4 sd from both groups (and a factor 1.4) belongs
        to neither (probability 0.5); one above it is bright.

    Returns
    -------
    Clusters

    Examples
    --------
    >>> c = brightness_clusters(np.array([1.0, 1.9, 1.05, 2.0, 0.97]), np.log(2.2))
    >>> [bool(p > 0.5) for p in c.p_bright], c.separated
    ([False, True, False, True, False], True)
    """
    everything = np.log(np.clip(np.asarray(intensity, float), 1e-12, None))
    x = everything if fit_mask is None else everything[np.asarray(fit_mask, bool)]
    if len(x) < 2:
        return Clusters(np.full(len(everything), 0.5), 0.0, 0.0, False)
    mu_b, mu_d = np.percentile(x, 85), np.percentile(x, 15)
    if mu_b - mu_d < 1e-3:
        mu_b, mu_d = x.mean() + 0.5 * prior_log_ratio, x.mean() - 0.5 * prior_log_ratio
    var = max(np.var(x) / 4, 0.03**2)
    weight = bright_fraction
    k = 1.0 / prior_sd**2
    state = None
    for _ in range(iterations):
        if state == (mu_b, mu_d, var, weight):
            break  # a fixed point to the last bit: every further iteration would give it again
        state = (mu_b, mu_d, var, weight)
        lb = np.log(weight) - 0.5 * (x - mu_b) ** 2 / var
        ld = np.log(1 - weight) - 0.5 * (x - mu_d) ** 2 / var
        p = 1.0 / (1.0 + np.exp(np.clip(ld - lb, -50, 50)))
        # means with a Gaussian prior on their difference: a 2x2 linear system
        a_b, a_d = p.sum() / var, (1 - p).sum() / var
        b_b, b_d = (p * x).sum() / var, ((1 - p) * x).sum() / var
        matrix = np.array([[a_b + k, -k], [-k, a_d + k]])
        mu_b, mu_d = np.linalg.solve(matrix, [b_b + k * prior_log_ratio, b_d - k * prior_log_ratio])
        var = max(float(np.sum(p * (x - mu_b) ** 2 + (1 - p) * (x - mu_d) ** 2) / len(x)), 0.03**2)
        weight = float(np.clip((p.sum() + 2 * bright_fraction) / (len(x) + 2), 0.05, 0.95))
    sd = float(np.sqrt(var))
    separation = float(mu_b - mu_d)
    separated = separation > max(3 * sd, min_log_ratio) and 0 < p.sum() < len(x)
    lb = np.log(weight) - 0.5 * (everything - mu_b) ** 2 / var
    ld = np.log(1 - weight) - 0.5 * (everything - mu_d) ** 2 / var
    p_all = 1.0 / (1.0 + np.exp(np.clip(ld - lb, -50, 50)))
    # far below the dim group or between the groups: a third population (a band's partial planes);
    # brighter than the bright group is still the heavy element (a wider, channelling column)
    neither = ((np.minimum(np.abs(everything - mu_b), np.abs(everything - mu_d)) > max(4 * sd, 0.35))
               & (everything < mu_b))
    return Clusters(np.where(neither, 0.5, p_all), separation, sd, bool(separated))


@dataclass(frozen=True)
class QuintupleLayer:
    """One quintuple layer found in the plane sequence.

    Attributes
    ----------
    start : int
        Index of its first (X1) plane in the plane sequence.
    n_planes : int
        5, or 3-4 when the field cuts it.
    d_ratio : float or None
        Mean (X1-Bi) / (Bi-X2) spacing ratio.
    thickness : float or None
        X1-to-X1 thickness (complete QLs), in the units of the heights given.
    """

    start: int
    n_planes: int
    d_ratio: float | None
    thickness: float | None


def _is_quintuple(spacings, p_bi, d_ratio, ratio_tolerance, min_probability):
    """Whether five (or, cut by the field, three or four) planes follow X Bi X Bi X."""
    n = len(p_bi)
    want_bi = np.array([False, True, False, True, False])[:n]
    # strictly: planes whose brightness says nothing (p = 0.5) make no QL
    if np.any(p_bi[want_bi] <= min_probability) or np.any(p_bi[~want_bi] >= 1 - min_probability):
        return False, None
    s = np.asarray(spacings, float)
    if n == 5:
        d1, d2 = 0.5 * (s[0] + s[3]), 0.5 * (s[1] + s[2])
        symmetric = abs(s[0] - s[3]) < ratio_tolerance * d1 and abs(s[1] - s[2]) < ratio_tolerance * d2
        ratio = d1 / d2
        return symmetric and abs(ratio / d_ratio - 1) < ratio_tolerance, ratio
    if n == 4:
        ratio = s[0] / s[1]
        return abs(s[2] / s[1] - 1) < ratio_tolerance and abs(ratio / d_ratio - 1) < ratio_tolerance, ratio
    ratio = s[0] / s[1]
    return abs(ratio / d_ratio - 1) < ratio_tolerance, ratio


def find_quintuple_layers(heights, is_film, p_bi, ql_spacings, vdw_gap, ratio_tolerance=0.12,
                          min_probability=0.5):
    """Quintuple layers in a sequence of planes, by spacing pattern and brightness rank.

    Parameters
    ----------
    heights : (K,) float array
        Plane heights in order (any consistent length unit: only ratios are used).
    is_film : (K,) bool array
        Ordered planes with the film's period.
    p_bi : (K,) float array
        Probability that each plane is Bi (from :func:`brightness_clusters`).
    ql_spacings : sequence of 4 floats
        The file's X1-Bi, Bi-X2, X2-Bi, Bi-X1 spacings.
    vdw_gap : float
        The file's gap between QLs (only its ratio to the QL spacings is used).
    ratio_tolerance : float
        Relative tolerance on the d1/d2 ratio and on the symmetry of the QL.
    min_probability : float
        Bi planes need more than this probability of Bi, the others less than 1 - it.

    Returns
    -------
    list of QuintupleLayer
        Non-overlapping, from the bottom up. A QL cut by the field (three or
        four planes) counts only at the top end of the sequence.

    Examples
    --------
    >>> h = np.cumsum([0, 1.75, 2.04, 2.04, 1.75, 2.6, 1.75, 2.04, 2.04, 1.75])
    >>> p = np.array([0, 1, 0, 1, 0, 0, 1, 0, 1, 0.0])
    >>> [q.start for q in find_quintuple_layers(h, np.ones(10, bool), p, [1.75, 2.04, 2.04, 1.75], 2.6)]
    [0, 5]
    """
    heights, is_film, p_bi = np.asarray(heights, float), np.asarray(is_film, bool), np.asarray(p_bi, float)
    d_ratio = ql_spacings[0] / ql_spacings[1]
    gap_over_d2 = vdw_gap / ql_spacings[1]
    n = len(heights)
    found, i = [], 0
    while i <= n - 3:
        length = min(5, n - i)
        if length < 5 and i + length != n:  # a cut QL only where the field ends
            i += 1
            continue
        window = slice(i, i + length)
        ok, ratio = (_is_quintuple(np.diff(heights[window]), p_bi[window], d_ratio, ratio_tolerance,
                                   min_probability) if is_film[window].all() else (False, None))
        if ok and found and i < found[-1].start + found[-1].n_planes:
            ok = False
        if ok and i > 0 and is_film[i - 1] and found and found[-1].start + 5 == i:
            # the gap below this QL must be a vdW gap, wider than the QL's inner spacings
            d2 = heights[i + 2] - heights[i + 1]
            gap = heights[i] - heights[i - 1]
            ok = abs(gap / d2 / gap_over_d2 - 1) < 2 * ratio_tolerance
        if ok:
            thickness = float(heights[i + 4] - heights[i]) if length == 5 else None
            found.append(QuintupleLayer(i, length, float(ratio), thickness))
            i += length
        else:
            i += 1
    return found


def label_anions(planes, system: MaterialSystem, prior_sd=0.7, min_log_ratio=np.log(1.6)):
    """Substrate planes much dimmer than the others are its anion (N) planes, which low detector angles show.

    The substrate planes' integrated intensities are split into two
    brightness groups (:func:`~stemlayers.structure.elements.brightness_clusters`, the
    file's metal/anion ratio as a weak prior); when they stand apart by at
    least `min_log_ratio`, hold about half of the planes each and alternate
    (neighbouring planes about half a metal-metal spacing apart, as in rock
    salt), the dim group is labelled "anion".

    Returns
    -------
    tuple of Plane
    """
    substrate = [i for i, p in enumerate(planes) if p.kind == "substrate"]
    if len(substrate) < 3:
        return planes
    metal, anion = system.substrate.metal, system.substrate.anion
    prior = np.log(system.intensity(metal) / system.intensity(anion))
    clusters = brightness_clusters([_brightness(planes[i]) for i in substrate], prior, prior_sd, bright_fraction=0.5,
                                   min_log_ratio=min_log_ratio)
    # in rock salt, metal and anion planes alternate: about as many of each, or it is not that
    share = float(np.mean(clusters.p_bright > 0.5))
    if not clusters.separated or not 0.35 <= share <= 0.65:
        return planes
    if not _alternate([planes[i].height_A for i in substrate], clusters.p_bright >= 0.5):
        return planes
    dim = {i: 1.0 - p for i, p in zip(substrate, clusters.p_bright) if p < 0.5}
    return tuple(replace(p, kind="anion", element=anion, element_probability=round(float(dim[i]), 4))
                 if i in dim else p for i, p in enumerate(planes))


def _alternate(heights, bright, min_share=0.8, midway_tolerance=0.15):
    """Whether bright and dim planes alternate as metal and anion planes do in rock salt.

    Neighbours (by height) must differ in brightness for at least `min_share`
    of the pairs, and a dim plane between two bright ones must sit about
    halfway between them.

    Examples
    --------
    >>> _alternate([0, 1.2, 2.45, 3.7, 4.9], np.array([1, 0, 1, 0, 1], bool))
    True
    >>> _alternate([0, 2.45, 4.9, 7.35, 9.8], np.array([1, 0, 0, 1, 1], bool))
    False
    """
    order = np.argsort(heights)
    h, b = np.asarray(heights, float)[order], np.asarray(bright, bool)[order]
    if len(h) < 3 or np.mean(b[1:] != b[:-1]) < min_share:
        return False
    inner = np.flatnonzero(~b[1:-1] & b[:-2] & b[2:]) + 1
    if not len(inner):
        return False
    where = (h[inner] - h[inner - 1]) / (h[inner + 1] - h[inner - 1])
    return bool(np.mean(np.abs(where - 0.5) < midway_tolerance) >= min_share)


def _brightness(plane):
    """What elements are told apart by: the trend-corrected brightness when measured, else the raw volume."""
    return plane.brightness if plane.brightness is not None else plane.volume


def with_brightness(planes, u, volume):
    """Planes with their brightness corrected for a thickness wedge along the planes."""
    flat = flat_brightness(u, volume, [p.members for p in planes])
    return tuple(replace(p, brightness=float(b)) for p, b in zip(planes, flat))


def assign_elements(planes, system: MaterialSystem, prior_sd=0.5, min_log_ratio=0.15, min_occupancy=0.85):
    """Elements from the image's own brightness: the substrate metal, or Bi / the chalcogen by clusters.

    The two groups are fitted on the complete film planes only (at least
    three columns, what a 12 Å window holds of a plane, and `min_occupancy`
    x the film's median occupancy): partial
    planes of an intermixed band are a third, dimmer population that would
    otherwise pull one group onto itself. Every film plane is then assigned.

    Returns
    -------
    (tuple of Plane, Clusters or None)
    """
    chalcogen = system.film.ql_elements[0]
    film = [i for i, p in enumerate(planes) if p.kind == "film"]
    clusters = None
    p_bi = {}
    if film:
        prior = np.log(system.intensity(system.film.metal) / system.intensity(chalcogen))
        # fitted on planes with enough columns: a fragment of a few columns (a band's remnant) is no group
        n = np.array([planes[i].n_columns for i in film])
        occupancy = np.array([planes[i].occupancy for i in film])
        complete = (n >= max(3, 0.3 * np.median(n))) & (occupancy >= min_occupancy * np.median(occupancy))
        brightness = [_brightness(planes[i]) for i in film]
        clusters = brightness_clusters(brightness, prior, prior_sd, min_log_ratio=min_log_ratio, fit_mask=complete)
        if not clusters.separated and complete.sum() >= 5:
            # the film plane nearest the interface may be an intermixed band's, a third level between the
            # two: the groups are then fitted on the planes above it
            above = complete.copy()
            above[np.flatnonzero(complete)[0]] = False
            retry = brightness_clusters(brightness, prior, prior_sd, min_log_ratio=min_log_ratio, fit_mask=above)
            clusters = retry if retry.separated else clusters
        p_bi = dict(zip(film, clusters.p_bright if clusters.separated else np.full(len(film), 0.5)))
    out = []
    for i, p in enumerate(planes):
        if p.kind == "substrate":
            out.append(replace(p, element=system.substrate.metal, element_probability=1.0))
        elif p.kind == "anion":
            out.append(p)
        elif i in p_bi:
            bi = p_bi[i] > 0.5
            out.append(replace(p, element=system.film.metal if bi else chalcogen,
                               element_probability=round(float(p_bi[i] if bi else 1 - p_bi[i]), 4)))
        else:
            out.append(replace(p, element=None, element_probability=None))
    return tuple(out), clusters
