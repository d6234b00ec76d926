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

from dataclasses import asdict, dataclass, field

import numpy as np

from .materials import MaterialSystem

__all__ = ["Strain", "check_strain"]

HEX_PER_PROJECTED = 2.0 / np.sqrt(3.0)  # hexagonal a over the column period seen along a close-packed row


@dataclass(frozen=True)
class Strain:
    """The strain verdict (lengths in Å, deviations in %)."""

    tin_inplane_A: float | None
    tin_inplane_err_A: float | None
    reference_A: float
    deviation_pct: float | None
    ci95_pct: list | None
    strain_ok: bool | None
    threshold_pct: float
    ti_inplane_A: float | None
    ti_inplane_err_A: float | None
    tin_over_ti_ratio: float | None
    tin_over_ti_ratio_err: float | None
    per_plane: list = field(default_factory=list)
    tin_inplane_direct_A: float | None = None  # from the pixel size alone
    scale_check_pct: float | None = None  # film period vs bulk: calibration + drift along the planes
    calibrated_on: str = "pixel size"  # "film" when the film's period sets the length scale

    def to_dict(self) -> dict:
        return asdict(self)


def _weighted_mean(values, errors):
    """Inverse-variance mean and its error, inflated by the scatter between planes when that is larger.

    Planes far from the median (beyond 3 robust standard deviations and 3
    of their own errors) are left out first: one wrong plane with a small
    error must not carry the mean.
    """
    values, errors = np.asarray(values, float), np.asarray(errors, float)
    if len(values) >= 3:
        centre = np.median(values)
        spread = 1.4826 * np.median(np.abs(values - centre))
        keep = np.abs(values - centre) <= np.maximum(3 * spread, 3 * errors)
        values, errors = values[keep], errors[keep]
    w = 1.0 / errors**2
    mean = float(np.sum(w * values) / np.sum(w))
    err = float(np.sqrt(1.0 / np.sum(w)))
    if len(values) > 1:
        chi2 = np.sum(w * (values - mean) ** 2) / (len(values) - 1)
        err *= float(np.sqrt(max(chi2, 1.0)))
    return mean, err


def check_strain(layers, system: MaterialSystem, reference_A: float | None = None) -> Strain:
    """TiN in-plane parameter from all ordered TiN planes, its 95 % CI and the verdict.

    Parameters
    ----------
    layers : sequence of Layer
    system : MaterialSystem
        Gives the bare-TiN reference and the threshold (1 %).
    reference_A : float, optional
        Reference in-plane parameter (e.g. of a bare TiN film measured the
        same way); the system file's value by default.

    Returns
    -------
    Strain
        With None values when the field holds no ordered TiN plane.
    """
    reference = float(reference_A or system.strain.reference_inplane_A)
    threshold = system.strain.threshold_pct
    tin = [L for L in layers if L.material == "TiN" and L.inplane_period_A]
    # the length standard: the film's own quintuple layers (not the interface planes)
    film = [L for L in layers if L.material == "TI" and L.inplane_period_A]
    tin_p = _weighted_mean([L.inplane_period_A for L in tin], [L.inplane_period_err_A for L in tin]) if tin else None
    film_p = (_weighted_mean([L.inplane_period_A for L in film], [L.inplane_period_err_A for L in film])
              if film else None)
    # the film grows by vdW epitaxy, unstrained: its period, measured along the same direction as the
    # TiN's, is an internal length standard that cancels calibration and scan-drift errors
    scale = film_p[0] / system.film.projected_period_A if film_p else None
    if scale is not None and abs(scale - 1.0) > 0.05:
        scale = None  # more than 5 % off bulk: not a trustworthy standard (wrong system, few planes)
    a = a_err = dev = ci = ok = direct = None
    if tin_p:
        direct = tin_p[0] * HEX_PER_PROJECTED
        if scale:
            a = direct / scale
            a_err = a * float(np.hypot(tin_p[1] / tin_p[0], film_p[1] / film_p[0]))
        else:
            a, a_err = direct, tin_p[1] * HEX_PER_PROJECTED
        dev = 100.0 * (a / reference - 1.0)
        half = 100.0 * 1.96 * a_err / reference
        ci = [dev - half, dev + half]
        ok = bool(abs(dev) < threshold)
    per_plane = [dict(height_A=L.height_A, tin_inplane_A=L.inplane_period_A * HEX_PER_PROJECTED / (scale or 1.0),
                      tin_inplane_err_A=L.inplane_period_err_A * HEX_PER_PROJECTED / (scale or 1.0)) for L in tin]
    ti = ti_err = ratio = ratio_err = None
    if film_p:
        ti, ti_err = film_p[0] * HEX_PER_PROJECTED, film_p[1] * HEX_PER_PROJECTED
    if tin_p and film_p:
        ratio = tin_p[0] / film_p[0]
        ratio_err = ratio * float(np.hypot(tin_p[1] / tin_p[0], film_p[1] / film_p[0]))
    return Strain(a, a_err, reference, dev, ci, ok, threshold, ti, ti_err, ratio, ratio_err, per_plane,
                  tin_inplane_direct_A=direct, scale_check_pct=None if scale is None else 100.0 * (scale - 1.0),
                  calibrated_on="film" if scale else "pixel size")
