"""Which known material system an image shows, from ratios that need no calibration.

Every cue is a ratio measured along one axis, so a pixel size off by 15 %
or a scan that stretches one axis does not move it:

- along the planes: the film/substrate period ratio (1.463 for Bi2Te3/TiN,
  1.382 for Bi2Se3/TiN; a strained TiN shifts it by its strain);
- along the growth axis: the quintuple layer's d(X1-Bi)/d(Bi-X2) ratio
  (0.858 vs 0.803), the vdW gap over the QL thickness (0.343 vs 0.370) and
  the TiN d(111) over the QL thickness (0.324 vs 0.351);
- the brightness of the chalcogen planes against Bi, as a soft cue only
  (detector angles and thickness move it by a factor of two).

A system is a candidate only if the field shows its structure at all
(:func:`structure_cues`); with none, the answer is None.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..materials import MaterialSystem
from ..structure.calibration import weighted_mean
from ..structure.grouping import LayerSet

__all__ = ["StructureCues", "detect_system", "stacking_fraction", "structure_cues", "system_score"]

MISSING_PART = 50.0  # score added for each of substrate, film and period ratio that does not fit


@dataclass(frozen=True)
class StructureCues:
    """How much of a system's structure the planes show (lengths in Å, ratios along one axis)."""

    n_substrate: int
    substrate_stacking: float | None  # share of neighbouring substrate planes shifted by a third
    substrate_spacing_A: float | None  # median spacing of neighbouring substrate planes
    n_film: int
    n_quintuples: int
    film_stacking: float | None
    period_ratio: float | None  # film / substrate in-plane period (one axis: no calibration)
    substrate_fits: bool
    film_fits: bool
    ratio_fits: bool


def stacking_fraction(registries, tolerance):
    """Share of neighbouring planes whose registries differ by one third of a period (ABC stacking).

    Examples
    --------
    >>> stacking_fraction([0.0, 0.33, 0.67, 0.0], 0.1)
    1.0
    >>> stacking_fraction([0.0, 0.5, 0.0, 0.5], 0.1)
    0.0
    """
    r = np.asarray([x for x in registries if x is not None], float)
    if len(r) < 2:
        return None
    shift = np.diff(r) % 1.0
    off = np.minimum(np.abs(shift - 1 / 3), np.abs(shift - 2 / 3))
    return float(np.mean(off < tolerance))


def structure_cues(layerset: LayerSet, system: MaterialSystem) -> StructureCues:
    """Whether the field shows the system: substrate stacking and spacing, film QLs, period ratio."""
    rules = system.classify
    layers, top = layerset.layers, layerset.top_tin
    substrate = [L for L in (layers[:top + 1] if top is not None else ()) if L.material == "TiN"]
    film = [L for L in layers if L.material in ("TI", "bilayer")]
    sub_stack = stacking_fraction([L.registry for L in substrate], rules.stacking_tolerance)
    # the film's own planes (the QLs): ordered fragments of an interface band need not follow its stacking
    film_stack = stacking_fraction([L.registry for L in film if L.material == "TI"], rules.stacking_tolerance)
    metal = [L for L in substrate if L.element == system.substrate.metal]
    if metal:  # complete planes only: fragments of faint anion planes (or chance chains) are no d(111)
        full = max(np.median([L.occupancy or 1.0 for L in metal]), rules.min_plane_occupancy / rules.min_occupancy)
        metal = [L for L in metal if (L.occupancy or 1.0) >= rules.min_occupancy * full]
    spacings = [b.height_A - a.height_A for a, b in zip(metal[:-1], metal[1:])]
    # TiN planes are d(111) apart (a missing plane makes 2 d), each of them, not only on average
    per_d = np.array([s / max(round(s / system.substrate.plane_spacing_A), 1) for s in spacings])
    d = float(np.median(per_d)) if len(per_d) else None
    calibrated = layerset.calibration is not None and layerset.calibration.growth_scale is not None
    tolerance = rules.plane_spacing_tolerance if calibrated else rules.calibration_tolerance
    regular = len(per_d) and np.mean(np.abs(per_d / d - 1) < rules.plane_spacing_tolerance) >= rules.min_stacking_fraction
    substrate_fits = (len(metal) >= rules.min_tin_planes and sub_stack is not None
                      and sub_stack >= rules.min_stacking_fraction and d is not None and bool(regular)
                      and abs(d / system.substrate.plane_spacing_A - 1) < tolerance)
    film_fits = (len(layerset.quintuple_layers) >= 1 and film_stack is not None
                 and film_stack >= rules.min_stacking_fraction)
    ti = [L for L in film if L.material == "TI" and L.inplane_period_A]
    ratio = None
    if substrate and ti and all(L.inplane_period_A for L in substrate):
        sub_p = weighted_mean([L.inplane_period_A for L in substrate], [L.inplane_period_err_A for L in substrate])
        film_p = weighted_mean([L.inplane_period_A for L in ti], [L.inplane_period_err_A for L in ti])
        ratio = film_p[0] / sub_p[0]
    ratio_fits = ratio is not None and abs(np.log(ratio / system.inplane_ratio)) < rules.period_ratio_tolerance
    return StructureCues(n_substrate=len(metal), substrate_stacking=sub_stack, substrate_spacing_A=d,
                         n_film=len(film), n_quintuples=len(layerset.quintuple_layers), film_stacking=film_stack,
                         period_ratio=ratio, substrate_fits=bool(substrate_fits), film_fits=bool(film_fits),
                         ratio_fits=bool(ratio_fits))


def _qls_ratios(layerset: LayerSet):
    """Measured d1/d2 of each complete QL, and gap/QL-thickness between neighbouring complete QLs."""
    heights = np.array([L.height_A for L in layerset.layers])
    complete = [q for q in layerset.quintuple_layers if q.n_planes == 5]
    d_ratios = [q.d_ratio for q in layerset.quintuple_layers if q.d_ratio]
    gaps = [(heights[b.start] - heights[a.start + 4]) / (heights[a.start + 4] - heights[a.start])
            for a, b in zip(complete[:-1], complete[1:]) if b.start == a.start + 5]
    return d_ratios, gaps


def system_score(layerset: LayerSet, system: MaterialSystem) -> float:
    """How badly the planes fit `system`: a sum of squared, scaled misfits of calibration-free ratios.

    Returns
    -------
    float
        ``inf`` when the field does not show the system's substrate or film at all.
    """
    cues = structure_cues(layerset, system)
    if not (cues.substrate_fits or cues.film_fits):
        return np.inf
    # a system whose substrate, film or period ratio does not fit explains less of the field than one whose
    # all three do, however well its other ratios happen to match
    score = -3.0 * cues.n_quintuples + MISSING_PART * (3 - cues.substrate_fits - cues.film_fits
                                                          - cues.ratio_fits)
    if cues.period_ratio is not None:
        score += (np.log(cues.period_ratio / system.inplane_ratio) / 0.025) ** 2
    if cues.substrate_spacing_A is not None and layerset.calibration.growth_scale:
        # TiN d(111) on heights scaled by the film's QL thickness: a ratio along the growth axis
        score += (np.log(cues.substrate_spacing_A / system.substrate.plane_spacing_A) / 0.02) ** 2
    d_ratios, gaps = _qls_ratios(layerset)
    expected_d = system.film.ql_spacings_A[0] / system.film.ql_spacings_A[1]
    score += sum((np.log(d / expected_d) / 0.03) ** 2 for d in d_ratios)
    expected_gap = system.film.vdw_gap_A / system.ql_thickness_A
    score += sum((np.log(g / expected_gap) / 0.04) ** 2 for g in gaps)
    clusters = layerset.clusters
    if clusters is not None and clusters.separated:
        expected = np.log(system.intensity(system.film.metal) / system.intensity(system.film.chalcogen))
        score += ((clusters.log_ratio - expected) / 0.5) ** 2
    return float(score)


# Scores (sums of squared misfits over their tolerances) closer than this are no ground for naming one
# film rather than another: two standard deviations.
AMBIGUOUS_SCORE_GAP = 4.0


def detect_system(layersets: dict, candidates: list[MaterialSystem]) -> MaterialSystem | None:
    """The candidate system whose structure fits the planes best, or None if the field shows none.

    Parameters
    ----------
    layersets : dict
        System name -> the LayerSet grouped with that system's numbers.
    candidates : list of MaterialSystem

    Returns
    -------
    MaterialSystem or None
        Scored by :func:`stemlayers.verdict.identify.system_score` (calibration-free ratios). None also
        when film planes are seen but no quintuple layer of any candidate, and another candidate on the
        same substrate scores within AMBIGUOUS_SCORE_GAP: which film it is, the field does not say; and
        when the film/substrate period ratio of the best one's planes does not fit it but fits another
        candidate, or when its film planes are dimmer than its substrate planes.
    """
    scores = np.array([system_score(layersets[s.name], s) for s in candidates])
    best = int(np.argmin(scores))
    if not np.isfinite(scores[best]):
        return None
    chosen = candidates[best]
    cues = structure_cues(layersets[chosen.name], chosen)
    if _film_dimmer_than_substrate(layersets[chosen.name]):
        return None
    ratio = cues.period_ratio
    if ratio is not None and not cues.ratio_fits and any(
            abs(np.log(ratio / s.inplane_ratio)) < s.classify.period_ratio_tolerance
            for k, s in enumerate(candidates) if k != best):
        # the film/TiN period ratio needs no calibration; a film that fits only on a scale the ratio
        # contradicts (Bi2Se3's film at 1.25x the pixel size reads as Bi2Te3's) names no system
        return None
    if cues.n_film and not cues.film_fits:
        rivals = [k for k, s in enumerate(candidates) if k != best and s.substrate.name == chosen.substrate.name
                  and scores[k] - scores[best] < AMBIGUOUS_SCORE_GAP]
        if rivals:
            return None
    return chosen


def _film_dimmer_than_substrate(layerset) -> bool:
    """Whether the planes called film are dimmer, by their median peak, than those called substrate.

    Every film column holds Bi or a chalcogen, far heavier than Ti or N: under any HAADF exponent and
    channelling the film is the brighter. A grouping that finds it the other way round took one lattice for
    the other (a pixel size 1.5x off turns the TiN's period into the film's, and the film's half into the TiN's).
    """
    film = [L.intensity for L in layerset.layers if L.material == "TI"]
    substrate = [L.intensity for L in layerset.layers if L.material == "TiN"]
    return bool(film and substrate and np.median(film) < np.median(substrate))
