"""The TiN in-plane lattice parameter against the seed's < 1 % strain criterion.

The in-plane hexagonal parameter of TiN(111) is the projected column period
of its planes times 2/sqrt(3). Each ordered TiN plane gives one measurement
with its standard error; the film's planes give the film's parameter the same
way. Their ratio does not depend on the pixel size, so a calibration error
cancels in it.

When the film is in the field, it sets the length scale: it grows by van der
Waals epitaxy, unstrained, and its planes are measured along the same
direction as the TiN's, so TiN's a = (TiN period / film period) x the film's
bulk period x 2/sqrt(3) is free of pixel-size and scan-drift errors. The
value from the pixel size alone is kept (``tin_inplane_direct_A``), and the
film's deviation from bulk is reported as the scale check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from ..io.jsonable import from_saved
from ..materials import MaterialSystem
from ..numeric import between_scatter
from ..structure.calibration import Calibration, weighted_mean

__all__ = ["PlaneStrain", "Strain", "check_strain"]

HEX_PER_PROJECTED = 2.0 / np.sqrt(3.0)  # hexagonal a over the column period seen along a close-packed row


@dataclass(frozen=True)
class PlaneStrain:
    """The TiN in-plane a of one TiN plane (Å, on the length standard of the whole)."""

    height_A: float
    tin_inplane_A: float
    tin_inplane_err_A: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Strain:
    """The strain verdict (lengths in Å, deviations in %)."""

    tin_inplane_A: float | None
    tin_inplane_err_A: float | None
    reference_A: float | None
    deviation_pct: float | None
    ci95_pct: list | None
    strain_ok: bool | None
    threshold_pct: float | None
    ti_inplane_A: float | None
    ti_inplane_err_A: float | None
    tin_over_ti_ratio: float | None
    tin_over_ti_ratio_err: float | None
    per_plane: tuple = ()  # of PlaneStrain, from the substrate up
    tin_inplane_direct_A: float | None = None  # from the pixel size alone
    scale_check_pct: float | None = None  # film period vs bulk: calibration + drift along the planes
    calibrated_on: str | None = "pixel size"  # "film" when the film's period sets the length scale
    strain_verdict: str | None = None  # "ok" | "strained" | "inconclusive" (the 95 % CI straddles the threshold)
    tin_inplane_stat_err_A: float | None = None  # from the planes' scatter and the columns' position errors
    tin_inplane_sys_err_A: float | None = None  # the film standard's own deviation and its transfer to the TiN
    verdict_note: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def not_measured(cls, reason: str) -> Strain:
        """No TiN number: the field shows no known system, so nothing in it is taken for TiN."""
        return cls(None, None, None, None, None, None, None, None, None, None, None, (), calibrated_on=None,
                   verdict_note=reason)

    @classmethod
    def from_dict(cls, d: dict) -> Strain:
        """The strain check of a saved report's ``strain``."""
        saved = from_saved(cls, d)
        return replace(saved, per_plane=tuple(PlaneStrain(**p) for p in saved.per_plane or ()))


def _excess_spread(planes):
    """Relative spread of per-plane periods beyond what their own errors explain (None for < 3 planes).

    A real variation of the scale across the field (:func:`stemlayers.numeric.between_scatter`): a few planes
    whose errors understate how far they stray (faint N planes, a plane cut by the field's edge) do not
    move it.
    """
    periods = np.array([L.inplane_period_A for L in planes], float)
    errors = np.array([L.inplane_period_err_A for L in planes], float)
    if len(periods) < 3:
        return None
    return between_scatter(periods, errors) / float(np.median(periods))


def _standard_systematic(tin, film, film_standard_pct, scan_correction_err_pct=None):
    """Relative systematic error of a TiN a measured against the film standard.

    Three parts: the film's own possible deviation from bulk (a number of
    the material file); the transfer of the scale from the film's part of
    the field to the TiN's: a scan that drifts non-linearly changes the scale
    from place to place, and how much it varies between planes of one
    material (:func:`_excess_spread`) says how far the two regions may
    differ; and the error of the scan-distortion corrections, the wander's
    (:mod:`stemlayers.structure.wander`) and the row scale's
    (:mod:`stemlayers.structure.distortion`), when one was made or a change was
    seen but not pinned down (`scan_correction_err_pct`, 1σ in %).
    """
    spreads = [x for x in (_excess_spread(film), _excess_spread(tin)) if x is not None]
    transfer = max(spreads) if spreads else 0.0
    scan = (scan_correction_err_pct or 0.0) / 100.0
    return float(np.sqrt((film_standard_pct / 100.0) ** 2 + transfer**2 + scan**2))


def _deviation(a, a_err, reference, threshold, decidable):
    """(deviation %, 95 % CI %, strain_ok, verdict) of a TiN a against the reference; no verdict unless decidable."""
    dev = 100.0 * (a / reference - 1.0)
    half = 100.0 * 1.96 * a_err / reference
    ci = [dev - half, dev + half]
    if not decidable:
        return dev, ci, None, None
    return dev, ci, bool(abs(dev) < threshold), strain_verdict(ci, threshold)


def with_tin_inplane(strain: Strain, a: float, stat: float, sys: float, system: MaterialSystem) -> Strain:
    """`strain` with the TiN a measured another way (Å, its statistical and systematic errors), and the
    deviation, CI and verdict that follow from it (a verdict only where `strain` was decidable)."""
    reference = strain.reference_A or system.strain.reference_inplane_A
    threshold = strain.threshold_pct or system.strain.threshold_pct
    decidable = strain.strain_verdict is not None or strain.verdict_note is None
    a_err = float(np.hypot(stat, sys))
    dev, ci, ok, verdict = _deviation(a, a_err, reference, threshold, decidable)
    return replace(strain, tin_inplane_A=a, tin_inplane_err_A=a_err, deviation_pct=dev, ci95_pct=ci, strain_ok=ok,
                   strain_verdict=verdict, tin_inplane_stat_err_A=stat, tin_inplane_sys_err_A=sys,
                   verdict_note=strain.verdict_note if verdict is None else None, calibrated_on="film")


def strain_verdict(ci95_pct, threshold_pct):
    """"ok" when the whole 95 % CI lies within ±threshold, "strained" when wholly outside, else "inconclusive".

    Examples
    --------
    >>> strain_verdict([0.2, 0.5], 1.0), strain_verdict([1.2, 1.9], 1.0), strain_verdict([0.8, 1.1], 1.0)
    ('ok', 'strained', 'inconclusive')
    """
    lo, hi = ci95_pct
    if -threshold_pct < lo and hi < threshold_pct:
        return "ok"
    if lo >= threshold_pct or hi <= -threshold_pct:
        return "strained"
    return "inconclusive"


def check_strain(layers, system: MaterialSystem, reference_A: float | None = None,
                 calibration: Calibration | None = None, decidable: bool = True,
                 reason: str | None = None) -> Strain:
    """TiN in-plane parameter from all ordered TiN planes, its 95 % CI and the verdict.

    Parameters
    ----------
    layers : sequence of AtomicPlane
    system : MaterialSystem
        Gives the bare-TiN reference and the threshold (1 %).
    reference_A : float, optional
        Reference in-plane parameter (e.g. of a bare TiN film measured the
        same way); the system file's value by default.
    calibration : Calibration, optional
        The film as in-plane length standard (see :mod:`stemlayers.structure.calibration`),
        on which the layers' periods already are; it gives the value on the
        file's calibration and adds the standard's own uncertainty.
    decidable : bool
        False when the field does not show the system's interface: the TiN a
        is still measured, but there is no verdict (`strain_ok` None).
    reason : str, optional
        Why there is no verdict, for the report.

    Returns
    -------
    Strain
        With None values when the field holds no ordered TiN plane.
    """
    reference = float(reference_A or system.strain.reference_inplane_A)
    threshold = system.strain.threshold_pct
    tin = [L for L in layers if L.material == "TiN" and L.inplane_period_A]
    film = [L for L in layers if L.material == "TI" and L.inplane_period_A]
    tin_p = weighted_mean([L.inplane_period_A for L in tin], [L.inplane_period_err_A for L in tin]) if tin else None
    film_p = weighted_mean([L.inplane_period_A for L in film], [L.inplane_period_err_A for L in film]) if film else None
    # the film grows by vdW epitaxy, unstrained: its period, measured along the same axis as the TiN's, is an
    # internal length standard that cancels calibration and scan-drift errors along the planes. The layers'
    # periods are already on it (stemlayers.structure.grouping); its own uncertainty enters here.
    scale = calibration.inplane_scale if calibration is not None else None
    scale_err = calibration.inplane_scale_err if calibration is not None else None
    a = a_err = dev = ci = ok = direct = verdict = stat = sys = None
    if tin_p:
        a = tin_p[0] * HEX_PER_PROJECTED
        if scale:
            direct = a * scale  # on the file's calibration
            stat = a * float(np.hypot(tin_p[1] / tin_p[0], scale_err / scale))
            sys = a * _standard_systematic(tin, film, system.strain.film_standard_pct,
                                           calibration.tin_scan_correction_err_pct)
        else:
            direct, stat, sys = a, tin_p[1] * HEX_PER_PROJECTED, 0.0
        a_err = float(np.hypot(stat, sys))
        dev, ci, ok, verdict = _deviation(a, a_err, reference, threshold, decidable)
    note = None if verdict else (reason or "no strain verdict: the field does not show the system's interface")
    per_plane = tuple(PlaneStrain(L.height_A, L.inplane_period_A * HEX_PER_PROJECTED,
                                  L.inplane_period_err_A * HEX_PER_PROJECTED) for L in tin)
    ti = ti_err = ratio = ratio_err = None
    if film_p:
        ti, ti_err = film_p[0] * HEX_PER_PROJECTED, film_p[1] * HEX_PER_PROJECTED
    if tin_p and film_p:
        ratio = tin_p[0] / film_p[0]
        ratio_err = ratio * float(np.hypot(tin_p[1] / tin_p[0], film_p[1] / film_p[0]))
    return Strain(a, a_err, reference, dev, ci, ok, threshold, ti, ti_err, ratio, ratio_err, per_plane,
                  tin_inplane_direct_A=direct, scale_check_pct=None if scale is None else 100.0 * (scale - 1.0),
                  calibrated_on="film" if scale else "pixel size", strain_verdict=verdict, verdict_note=note,
                  tin_inplane_stat_err_A=stat, tin_inplane_sys_err_A=sys)
