"""Shared style and small helpers of the report figure."""

from __future__ import annotations

from pathlib import Path


import numpy as np
from matplotlib import patheffects

from ...io.units import as_number, decimals_for, format_value, is_number, signed

__all__ = ["CLASS_COLORS", "MATERIAL_COLORS", "coverage_text", "format_inplane", "format_value", "series_lines"]

#: Colour of each plane material in the spacing profile.
MATERIAL_COLORS = {
    "TiN": "tab:blue",
    "bilayer": "tab:orange",
    "TI": "tab:green",
    "disordered": "tab:red",
}
#: Colour of each interface class along the interface (segments, coverage).
CLASS_COLORS = {
    "bilayer": "#d95f02",
    "vdw": "#1b9e77",
    "deteriorated": "#7570b3",
    "not decidable": "#9a9a9a",
}
_OTHER_COLOR = "tab:gray"
_PLANE_CMAP = "tab10"
_LABEL_SIZE = 6
_OUTLINE = [patheffects.withStroke(linewidth=1.5, foreground="black")]


def calibration_warning(report) -> str | None:
    """The report's calibration warning, or None."""
    return report.calibration.warning() if report.calibration is not None else None


def system_of(report):
    """The material system the report used: its own record, else the one of its name (None if unknown)."""
    if report.material_system is not None:
        return report.material_system
    name = report.system
    if not name:
        return None
    try:
        from ...materials import load_system

        return load_system(name)
    except Exception:  # noqa: BLE001 - a figure never fails for want of reference lines
        return None


def _unit_vector(vec):
    """`vec` as a (2,) unit vector, or None if it is missing or degenerate."""
    if vec is None:
        return None
    vec = np.asarray(vec, dtype=float).ravel()
    if vec.size != 2 or not np.all(np.isfinite(vec)):
        return None
    norm = np.hypot(*vec)
    return vec / norm if norm > 0 else None


# --------------------------------------------------------------------------- title


def format_inplane(strain):
    """The TiN in-plane a of a :class:`~stemlayers.verdict.strain.Strain` with its statistical and systematic parts.

    Parameters
    ----------
    strain : Strain or None
        Uses ``tin_inplane_A`` and, when both are finite,
        ``tin_inplane_stat_err_A`` and ``tin_inplane_sys_err_A`` (the latter
        from the film length standard); otherwise ``tin_inplane_err_A``.

    Returns
    -------
    str
        E.g. ``"2.9975 ± 0.0004 (stat) ± 0.0031 (sys) Å"``, enough decimals
        to show the smaller part; ``"2.998 ± 0.004 Å"`` without the parts;
        ``"n/a"`` without a value.
    """
    if strain is None:
        return format_value(None, None)
    value = strain.tin_inplane_A
    stat, sys_ = strain.tin_inplane_stat_err_A, strain.tin_inplane_sys_err_A
    if not (is_number(value) and is_number(stat) and is_number(sys_)):
        return format_value(value, strain.tin_inplane_err_A)
    stat, sys_ = abs(as_number(stat)), abs(as_number(sys_))
    positive = [e for e in (stat, sys_) if e > 0]
    d = decimals_for(min(positive)) if positive else 3
    return f"{as_number(value):.{d}f} ± {stat:.{d}f} (stat) ± {sys_:.{d}f} (sys) Å"


def title_lines(report, system=None):
    """The two title lines of the figure: interface verdict and strain verdict.

    Parameters
    ----------
    report : Report
        Uses ``file``, ``system``, ``interface``, ``strain`` and ``lattice``.
    system : MaterialSystem, optional
        Gives the strain threshold (1 % if None).

    Returns
    -------
    list of str
    """
    interface, strain = report.interface, report.strain
    name = Path(str(report.file or "")).name or "(no file)"
    system_name = report.system or "no known system"

    klass = interface.interface_class
    if klass is None:
        verdict = "class: not decidable"
    else:
        verdict = f"class: {klass}"
        if is_number(interface.confidence):
            verdict += f" (confidence {as_number(interface.confidence):.2f})"
    if klass == "deteriorated":
        gap = f"band {format_value(interface.band_thickness_A, interface.band_thickness_err_A)}, no gap"
    else:
        gap = f"gap {format_value(interface.gap_A, interface.gap_err_A)}"
    first = f"{name}  |  {system_name}  |  {verdict}  |  {gap}"

    tin_a = None if strain is None else strain.tin_inplane_A
    if system is None and not is_number(tin_a):  # no known system: nothing is TiN
        period = (report.lattice or {}).get("inplane_period_A")
        return [first, "no strain check: the field matches no known material system"
                + (f"  |  period along the planes {period:.3f} Å (pixel size in use)" if period else "")]
    a = format_inplane(strain)
    parts = []
    if strain is not None and is_number(strain.deviation_pct):
        parts.append(f"{signed(strain.deviation_pct)} %")
    ci = None if strain is None else strain.ci95_pct
    if ci is not None and len(ci) == 2 and is_number(ci[0]) and is_number(ci[1]):
        parts.append(f"95 % CI [{signed(ci[0])}, {signed(ci[1])}] %")
    if parts:
        a += f" ({', '.join(parts)})"
    threshold = system.strain.threshold_pct if system is not None else 1.0
    ok = None if strain is None else strain.strain_ok
    ok_text = (None if strain is None else strain.strain_verdict) or (
        "no verdict" if ok is None else ("yes" if ok else "no"))
    sub = system.substrate.name if system is not None else "TiN"
    second = f"{sub} in-plane a = {a}  |  strain < {threshold:g} %: {ok_text}"
    return [first, second]


def series_lines(series) -> list:
    """The registration of a series as text lines: frames used, drift, corrections, and each rejected frame
    with its reason (a Report's :class:`~stemlayers.series.SeriesInfo`)."""
    if not series:
        return []
    n = int(series.n_frames)
    used = series.used or []
    first = f"series: {n} frames, {len(used)} used"
    drift = np.asarray(series.drift_A or [], float).reshape(-1, 2)
    if len(drift):
        span_x, span_y = np.ptp(drift, axis=0)
        first += f"; drift {span_x:.2f} Å in x, {span_y:.2f} Å in y over the series"
    lines = [first]
    details = [series.method] if series.method else []
    if series.scan_distortion_rms_px is not None:
        details.append(f"scan distortion {series.scan_distortion_rms_px:.2f} px rms corrected")
    if series.residual is not None:
        details.append(f"residual {series.residual:.2f} of the image contrast (rms)")
    if details:
        lines.append("series: " + "; ".join(details))
    lines += [f"series: frame {r['frame']} rejected: {r['reason']}" for r in series.rejected or []]
    return lines


def coverage_text(interface) -> str | None:
    """The interface along its length in a line: "bilayer 54 ± 4 %, vdw 46 ± 4 % of 96 Å; 1 terrace step
    (1 plane)", or None for an interface of one stretch without steps."""
    if not interface.coverage or not interface.varies_along:
        return None
    err = interface.coverage_err or {}
    length = sum(s.length_A for s in interface.segments)
    text = ", ".join(f"{k} {100 * v:.0f} ± {100 * err.get(k, 0):.0f} %"
                     for k, v in sorted(interface.coverage.items(), key=lambda kv: -kv[1])) + f" of {length:.0f} Å"
    if interface.steps:
        text += f"; {len(interface.steps)} terrace step(s) (" + ", ".join(
            f"{s.height_planes} plane(s), {s.height_A:.2f} Å" for s in interface.steps) + ")"
    return text
