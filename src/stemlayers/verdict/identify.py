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
(:func:`stemlayers.verdict.classify.structure_cues`); with none, the answer is None.
"""

from __future__ import annotations

import numpy as np

from ..materials import MaterialSystem
from ..structure.grouping import LayerSet
from .classify import structure_cues

__all__ = ["system_score"]

MISSING_PART = 50.0  # score added for each of substrate, film and period ratio that does not fit


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
    if not (cues["substrate_fits"] or cues["film_fits"]):
        return np.inf
    # a system whose substrate, film or period ratio does not fit explains less of the field than one whose
    # all three do, however well its other ratios happen to match
    score = -3.0 * cues["n_quintuples"] + MISSING_PART * (3 - cues["substrate_fits"] - cues["film_fits"]
                                                          - cues["ratio_fits"])
    if cues["period_ratio"] is not None:
        score += (np.log(cues["period_ratio"] / system.inplane_ratio) / 0.025) ** 2
    if cues["substrate_spacing_A"] is not None and layerset.calibration.growth_scale:
        # TiN d(111) on heights scaled by the film's QL thickness: a ratio along the growth axis
        score += (np.log(cues["substrate_spacing_A"] / system.substrate.plane_spacing_A) / 0.02) ** 2
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
