"""A one-page summary figure of an analysis report.

The figure has three panels: the image with the atomic columns coloured by
atomic plane, the interlayer-spacing profile across the interface with the
bulk reference spacings of the material system, and the TiN in-plane
lattice parameter plane by plane against the strain criterion.

Only matplotlib's object API is used (``matplotlib.figure.Figure``), so the
figure is made without pyplot, a GUI toolkit or a display.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure

__all__ = ["plot_report", "MATERIAL_COLORS"]

#: Colour of each plane material in the spacing profile.
MATERIAL_COLORS = {
    "TiN": "tab:blue",
    "bilayer": "tab:orange",
    "TI": "tab:green",
    "disordered": "tab:red",
}
_OTHER_COLOR = "tab:gray"
_PLANE_CMAP = "tab10"
_LABEL_SIZE = 6
_OUTLINE = [patheffects.withStroke(linewidth=1.5, foreground="black")]


# --------------------------------------------------------------------------- small helpers


def _num(value):
    """`value` as a float, NaN for None or anything that is not a number."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _finite(value):
    return math.isfinite(_num(value))


def _decimals(err, lo=2, hi=4):
    """Decimals that show the first significant digit of `err` (between lo and hi)."""
    err = abs(_num(err))
    if not math.isfinite(err) or err == 0:
        return lo + 1
    return int(np.clip(-math.floor(math.log10(err)), lo, hi))


def format_pm(value, err=None, unit="Å", decimals=None):
    """Format ``value ± err unit``, e.g. ``"2.61 ± 0.02 Å"``.

    Parameters
    ----------
    value, err : float or None
        The value and its 1-sigma uncertainty; None or NaN for unknown.
    unit : str
        Appended after a space (empty for none).
    decimals : int, optional
        Number of decimals; by default enough to show the first significant
        digit of `err` (2 to 4).

    Returns
    -------
    str
        ``"n/a"`` if the value is unknown; no ``±`` part if the error is.
    """
    suffix = f" {unit}" if unit else ""
    if not _finite(value):
        return "n/a"
    if decimals is None:
        decimals = _decimals(err)
    if not _finite(err):
        return f"{_num(value):.{decimals}f}{suffix}"
    return f"{_num(value):.{decimals}f} ± {abs(_num(err)):.{decimals}f}{suffix}"


def _get(mapping, key, default=None):
    if not isinstance(mapping, dict):
        return default
    return mapping.get(key, default)


def _load_system(name):
    """The material system called `name`, or None if it cannot be loaded."""
    if not name:
        return None
    try:
        from .materials import load_system

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


def title_lines(report, system=None):
    """The two title lines of the figure: interface verdict and strain verdict.

    Parameters
    ----------
    report : Report-like
        Uses ``file``, ``system``, ``interface`` and ``strain``.
    system : MaterialSystem, optional
        Gives the strain threshold (1 % if None).

    Returns
    -------
    list of str
    """
    interface = getattr(report, "interface", None) or {}
    strain = getattr(report, "strain", None) or {}
    name = Path(str(getattr(report, "file", "") or "")).name or "(no file)"
    system_name = getattr(report, "system", None) or "unknown system"

    klass = _get(interface, "class")
    if klass is None:
        verdict = "class: pending"
    else:
        verdict = f"class: {klass}"
        if _finite(_get(interface, "confidence")):
            verdict += f" (confidence {_num(_get(interface, 'confidence')):.2f})"
    gap = f"gap {format_pm(_get(interface, 'gap_A'), _get(interface, 'gap_err_A'))}"
    first = f"{name}  |  {system_name}  |  {verdict}  |  {gap}"

    a = format_pm(_get(strain, "tin_inplane_A"), _get(strain, "tin_inplane_err_A"))
    parts = []
    if _finite(_get(strain, "deviation_pct")):
        parts.append(f"{_num(_get(strain, 'deviation_pct')):+.1f} %")
    ci = _get(strain, "ci95_pct")
    if ci is not None and len(ci) == 2 and _finite(ci[0]) and _finite(ci[1]):
        parts.append(f"95 % CI [{_num(ci[0]):+.1f}, {_num(ci[1]):+.1f}] %")
    if parts:
        a += f" ({', '.join(parts)})"
    threshold = system.strain.threshold_pct if system is not None else 1.0
    ok = _get(strain, "strain_ok")
    ok_text = "n/a" if ok is None else ("yes" if ok else "no")
    second = f"TiN in-plane a = {a}  |  strain < {threshold:g} %: {ok_text}"
    return [first, second]


# --------------------------------------------------------------------------- panel 1: image


def _image_frame(report):
    """Image array, pixel size (Å, 1 if unknown) and unit of the image panel."""
    image = getattr(report, "image", None)
    data = None if image is None else getattr(image, "data", None)
    px = _num(None if image is None else getattr(image, "pixel_size_A", None))
    if not (math.isfinite(px) and px > 0):
        px = _num(getattr(report, "pixel_size_A", None))
    if math.isfinite(px) and px > 0:
        return data, px, "Å"
    return data, 1.0, "px"


def _columns(report):
    """Column positions (N, 2) in px and their plane index (N,), -1 for none."""
    xy = getattr(report, "columns_xy", None)
    if xy is None:
        return np.empty((0, 2)), np.empty(0, dtype=int)
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    plane = getattr(report, "plane_of_column", None)
    if plane is None or len(plane) != len(xy):
        plane = np.full(len(xy), -1, dtype=int)
    return xy, np.asarray(plane, dtype=int)


def plane_segments(xy, plane, growth_dir, origin=None):
    """A line segment along each atomic plane across the range of its columns.

    Parameters
    ----------
    xy : (N, 2) array
        Column positions (x, y) in pixels.
    plane : (N,) int array
        Plane index of each column, -1 for none.
    growth_dir : (2,) array
        Unit growth direction in pixel (x, y) coordinates.
    origin : (2,) array, optional
        A point on the top TiN plane; the centroid of the columns if None.

    Returns
    -------
    dict
        Plane index -> ((x0, y0), (x1, y1)) end points in pixels. Planes with
        fewer than two columns have no segment.
    """
    g = _unit_vector(growth_dir)
    if g is None or len(xy) == 0:
        return {}
    along = np.array([-g[1], g[0]])
    ref = np.asarray(origin, dtype=float) if origin is not None else xy.mean(axis=0)
    rel = xy - ref
    s_along, s_across = rel @ along, rel @ g
    segments = {}
    for k in np.unique(plane[plane >= 0]):
        members = plane == k
        if members.sum() < 2:
            continue
        height = np.median(s_across[members])
        lo, hi = s_along[members].min(), s_along[members].max()
        segments[int(k)] = (ref + lo * along + height * g, ref + hi * along + height * g)
    return segments


def _text_geometry(ax, p0, p1, growth_dir):
    """Anchor, rotation and vertical alignment of a label at a segment's right end.

    The label reads along the plane, is kept upright, ends at the end of the
    segment that is on its reading side, and sits on the side of the line
    facing the next plane up (the growth direction).
    """
    d0, d1 = ax.transData.transform([p0, p1])
    vec = d1 - d0
    angle = math.degrees(math.atan2(vec[1], vec[0]))
    if angle > 90:
        angle -= 180
    elif angle <= -90:
        angle += 180
    rad = math.radians(angle)
    reading = np.array([math.cos(rad), math.sin(rad)])
    end_display = d1 if vec @ reading >= 0 else d0
    end = p1 if vec @ reading >= 0 else p0
    # screen direction of growth: data y grows downwards on screen (origin="upper")
    g_screen = ax.transData.transform(np.asarray(p0) + growth_dir) - d0
    normal = np.array([-math.sin(rad), math.cos(rad)])
    va = "bottom" if g_screen @ normal >= 0 else "top"
    return end, end_display, angle, va, reading, normal


def _label_planes(ax, segments, layers, growth_dir, scale, colors):
    """Write the spacing to the next plane at the right end of each plane's line.

    A label is left out when it would overlap one already written.
    """
    fig = ax.get_figure()
    pts = fig.dpi / 72.0
    placed = []  # (display anchor, reading dir, normal, length)
    for k in sorted(segments):
        if k >= len(layers):
            continue
        spacing = _num(layers[k].get("spacing_to_next_A"))
        if not math.isfinite(spacing):
            continue
        p0, p1 = (np.asarray(p) * scale for p in segments[k])
        end, end_display, angle, va, reading, normal = _text_geometry(ax, p0, p1, growth_dir)
        text = f"{spacing:.2f} Å"
        length = 0.62 * _LABEL_SIZE * len(text) * pts
        height = 1.15 * _LABEL_SIZE * pts
        clash = False
        for other, o_reading, o_normal, o_length in placed:
            delta = end_display - other
            if abs(delta @ normal) < height and abs(delta @ reading) < max(length, o_length):
                clash = True
                break
        if clash:
            continue
        placed.append((end_display, reading, normal, length))
        offset = -2.0 * reading + (1.0 if va == "bottom" else -1.0) * normal
        label = ax.annotate(
            text, xy=end, xytext=tuple(offset), textcoords="offset points",
            rotation=angle, rotation_mode="anchor", ha="right", va=va,
            fontsize=_LABEL_SIZE, color=_lighten(colors[k]), path_effects=_OUTLINE, clip_on=True,
            annotation_clip=True)
        label.set_in_layout(False)


def _lighten(color, amount=0.45):
    """`color` mixed with white (readable on a dark image)."""
    from matplotlib.colors import to_rgb

    return tuple(c + (1 - c) * amount for c in to_rgb(color))


def _plane_colors(n):
    from matplotlib import colormaps

    cmap = colormaps[_PLANE_CMAP]
    return [cmap(k % cmap.N) for k in range(n)]


def draw_image_panel(ax, report):
    """Panel 1: the image, the columns coloured by plane, plane lines and growth arrow.

    Parameters
    ----------
    ax : matplotlib Axes
    report : Report-like

    Returns
    -------
    dict
        ``segments`` (plane -> end points in px), ``scale`` (Å per px),
        ``growth_dir`` and ``colors``, for labelling after the layout is fixed.
    """
    data, px, unit = _image_frame(report)
    xy, plane = _columns(report)
    layers = list(getattr(report, "layers", None) or [])
    growth_dir = _unit_vector(getattr(report, "growth_dir", None))
    origin = getattr(report, "origin_xy", None)
    if origin is not None:
        origin = np.asarray(origin, dtype=float).ravel()
        if origin.size != 2 or not np.all(np.isfinite(origin)):
            origin = None

    if data is not None:
        data = np.asarray(data, dtype=float)
        rows, cols = data.shape[:2]
        finite = data[np.isfinite(data)]
        vmin, vmax = (np.percentile(finite, [0.5, 99.8]) if finite.size else (0.0, 1.0))
        ax.imshow(data, cmap="gray", origin="upper", vmin=vmin, vmax=vmax, interpolation="nearest",
                  extent=(-0.5 * px, (cols - 0.5) * px, (rows - 0.5) * px, -0.5 * px))
    elif len(xy):
        ax.invert_yaxis()
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"y ({unit})")
    ax.set_aspect("equal")

    n_planes = max(len(layers), int(plane.max()) + 1 if plane.size else 0)
    colors = _plane_colors(n_planes)
    if len(xy):
        none = plane < 0
        if none.any():
            ax.plot(xy[none, 0] * px, xy[none, 1] * px, "x", color="0.6", ms=3, mew=0.7,
                    ls="none", label="no plane")
        if (~none).any():
            ax.scatter(xy[~none, 0] * px, xy[~none, 1] * px, s=5,
                       c=[colors[k] for k in plane[~none]], linewidths=0, zorder=3)

    segments = plane_segments(xy, plane, growth_dir, origin)
    for k, (p0, p1) in segments.items():
        ax.plot([p0[0] * px, p1[0] * px], [p0[1] * px, p1[1] * px], "-", color=colors[k],
                lw=0.6, alpha=0.8, zorder=2)

    if data is None and not len(xy):
        ax.text(0.5, 0.5, "no image", transform=ax.transAxes, ha="center", va="center", color="0.4")
        ax.set_xticks([])
        ax.set_yticks([])
    elif data is not None:
        ax.set_xlim(-0.5 * px, (cols - 0.5) * px)
        ax.set_ylim((rows - 0.5) * px, -0.5 * px)
    if growth_dir is not None and (data is not None or len(xy)):
        _growth_arrow(ax, growth_dir)
    ax.set_title("columns and atomic planes", fontsize=9)
    return {"segments": segments, "scale": px, "growth_dir": growth_dir, "colors": colors,
            "layers": layers}


def _growth_arrow(ax, growth_dir):
    """An arrow in the lower-left corner along the growth direction (pixel (x, y))."""
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    size = min(x1 - x0, y1 - y0)
    length = 0.16 * size
    center = np.array([x0 + 0.13 * size, y1 - 0.13 * size])  # y1 is the bottom: y points down
    tail, head = center - 0.5 * length * growth_dir, center + 0.5 * length * growth_dir
    ax.annotate("", xy=tuple(head), xytext=tuple(tail),
                arrowprops=dict(arrowstyle="-|>", color="gold", lw=1.5, mutation_scale=10),
                annotation_clip=False)
    ax.text(center[0], center[1] + 0.1 * size, "growth", color="gold", fontsize=7,
            ha="center", va="top", path_effects=_OUTLINE)


# --------------------------------------------------------------------------- panel 2: profile


def reference_spacings(system):
    """Bulk reference spacings of a material system as (label, value in Å).

    Parameters
    ----------
    system : MaterialSystem or None

    Returns
    -------
    list of (str, float)
        TiN d(111), the distinct QL spacings (named after the QL elements)
        and the vdW gap; empty if `system` is None.
    """
    if system is None:
        return []
    refs = [(f"{system.substrate.name} d(111) {system.substrate.plane_spacing_A:.3f} Å",
             system.substrate.plane_spacing_A)]
    elements = system.film.ql_elements
    half = (len(system.film.ql_spacings_A) + 1) // 2
    seen = set()
    for i, spacing in enumerate(system.film.ql_spacings_A[:half]):
        if round(spacing, 4) in seen:
            continue
        seen.add(round(spacing, 4))
        a, b = elements[i], elements[i + 1]
        a = f"{a}1" if i == 0 else (f"{a}2" if a != elements[1] else a)
        b = f"{b}2" if b != elements[1] else b
        refs.append((f"QL {a}–{b} {spacing:.3f} Å", spacing))
    refs.append((f"vdW gap {system.film.vdw_gap_A:.3f} Å", system.film.vdw_gap_A))
    return refs


def _layer_table(layers):
    """Arrays (height, height err, spacing, spacing err, material) of the layers."""
    h = np.array([_num(L.get("height_A")) for L in layers], dtype=float)
    he = np.array([_num(L.get("height_err_A")) for L in layers], dtype=float)
    s = np.array([_num(L.get("spacing_to_next_A")) for L in layers], dtype=float)
    se = np.array([_num(L.get("spacing_err_A")) for L in layers], dtype=float)
    mat = [str(L.get("material")) for L in layers]
    return h, he, s, se, mat


def draw_profile_panel(ax, report, system):
    """Panel 2: spacing to the next plane against plane height, with bulk references.

    Parameters
    ----------
    ax : matplotlib Axes
    report : Report-like
    system : MaterialSystem or None

    Returns
    -------
    list of (Text, float)
        Reference labels and their y values, for de-cluttering after layout.
    """
    layers = list(getattr(report, "layers", None) or [])
    h, he, s, se, mat = _layer_table(layers)
    has_point = np.isfinite(h) & np.isfinite(s)
    materials = list(MATERIAL_COLORS) + sorted(set(mat) - set(MATERIAL_COLORS))
    for name in materials:
        sel = has_point & np.array([m == name for m in mat], dtype=bool)
        if not sel.any():
            continue
        ax.errorbar(h[sel], s[sel], yerr=np.abs(se[sel]), xerr=np.abs(he[sel]), fmt="o", ms=4,
                    color=MATERIAL_COLORS.get(name, _OTHER_COLOR), ecolor="0.3", elinewidth=0.8,
                    capsize=1.5, label=name, zorder=3)

    refs = reference_spacings(system)
    labels = []
    for text, value in refs:
        ax.axhline(value, ls="--", lw=0.8, color="0.45", zorder=1)
        label = ax.text(0.99, value, text, transform=ax.get_yaxis_transform(), ha="right",
                        va="bottom", fontsize=6.5, color="0.25", clip_on=True)
        label.set_in_layout(False)
        labels.append((label, value))
    ax.axvline(0.0, color="0.2", lw=0.8, zorder=1)
    top = ax.annotate("top TiN plane", xy=(0.0, 0.98), xycoords=ax.get_xaxis_transform(),
                      xytext=(-4, 0), textcoords="offset points", rotation=90, ha="right",
                      va="top", fontsize=_LABEL_SIZE, color="0.2")
    top.set_in_layout(False)

    values = [v for v in s[has_point]] + [v for _, v in refs]
    if values:
        lo, hi = min(values), max(values)
        pad = max(0.25, 0.08 * (hi - lo))
        ax.set_ylim(lo - pad, hi + pad)
    if has_point.any():
        lo, hi = min(h[has_point].min(), 0.0), max(h[has_point].max(), 0.0)
        pad = max(1.0, 0.05 * (hi - lo))
        room = 0.45 * (hi - lo + 2 * pad) if refs else 0.0  # keeps the reference labels clear of points
        ax.set_xlim(lo - pad, hi + pad + room)
        ax.legend(loc="best", fontsize=7, title="plane material", title_fontsize=7,
                  framealpha=0.85)
    else:
        ax.set_xlim(-5, 5)
        ax.text(0.5, 0.5, "no atomic planes", transform=ax.transAxes, ha="center", va="center",
                color="0.4", bbox=dict(fc="white", ec="none"), zorder=4)
    ax.set_xlabel("plane height above the top TiN plane (Å)")
    ax.set_ylabel("spacing to the next plane (Å)")
    ax.set_title("interlayer spacing profile (error bars 1σ)", fontsize=9)
    return labels


def _declutter_references(ax, labels, min_gap_pt=8.0):
    """Keep the reference labels apart.

    Labels sit above their line on the right. When one would overlap the
    label below it, that lower label moves below its own line; when that is
    not possible either, the label moves to the left end of its line.
    """
    gap = min_gap_pt * ax.get_figure().dpi / 72.0
    floor = -np.inf  # top of the label below the previous one on the right
    prev = None  # (label, display y, top of its extent)
    for label, value in sorted(labels, key=lambda lv: lv[1]):
        y = ax.transData.transform((0.0, value))[1]
        if prev is not None and y < prev[2]:
            p_label, p_y, _ = prev
            if p_label.get_va() == "bottom" and p_y - gap >= floor:
                p_label.set_va("top")
                floor = p_y
            else:
                label.set_x(0.01)
                label.set_ha("left")
                continue
        elif prev is not None:
            floor = prev[2]
        prev = (label, y, y + gap)


# --------------------------------------------------------------------------- panel 3: strain


def draw_strain_panel(ax, report, system):
    """Panel 3: TiN in-plane lattice parameter per ordered TiN plane.

    Points with 95 % error bars (1.96 sigma) against plane height, the
    reference value as a line and the ± threshold band shaded, and the
    overall value of the report as a thin line with its uncertainty.

    Parameters
    ----------
    ax : matplotlib Axes
    report : Report-like
    system : MaterialSystem or None
    """
    strain = getattr(report, "strain", None) or {}
    per_plane = list(_get(strain, "per_plane") or [])
    ref = _num(_get(strain, "reference_A"))
    if not math.isfinite(ref) and system is not None:
        ref = system.strain.reference_inplane_A
    threshold = system.strain.threshold_pct if system is not None else 1.0

    h = np.array([_num(p.get("height_A")) for p in per_plane], dtype=float)
    a = np.array([_num(p.get("tin_inplane_A")) for p in per_plane], dtype=float)
    e = np.array([_num(p.get("tin_inplane_err_A")) for p in per_plane], dtype=float)
    ok = np.isfinite(h) & np.isfinite(a)
    values = []
    if math.isfinite(ref):
        band = ref * threshold / 100.0
        ax.axhspan(ref - band, ref + band, color="tab:green", alpha=0.12, lw=0,
                   label=f"reference ± {threshold:g} %")
        ax.axhline(ref, color="tab:green", lw=1.0, ls="--", label=f"reference {ref:.3f} Å")
        values += [ref - 1.3 * band, ref + 1.3 * band]
    mean, mean_err = _num(_get(strain, "tin_inplane_A")), _num(_get(strain, "tin_inplane_err_A"))
    if math.isfinite(mean):
        ax.axhline(mean, color="tab:blue", lw=0.8, label=f"all planes {format_pm(mean, mean_err)}")
        if math.isfinite(mean_err):
            ax.axhspan(mean - 1.96 * mean_err, mean + 1.96 * mean_err, color="tab:blue",
                       alpha=0.15, lw=0)
        values.append(mean)
    if ok.any():
        ax.errorbar(h[ok], a[ok], yerr=1.96 * np.abs(e[ok]), fmt="s", ms=4, color="tab:blue",
                    ecolor="0.3", elinewidth=0.8, capsize=2, label="per plane (95 % CI)", zorder=3)
        lo, hi = a[ok] - 1.96 * np.nan_to_num(np.abs(e[ok])), a[ok] + 1.96 * np.nan_to_num(np.abs(e[ok]))
        values += list(lo) + list(hi)
        pad = max(1.0, 0.08 * np.ptp(h[ok]))
        ax.set_xlim(h[ok].min() - pad, h[ok].max() + pad)
    else:
        ax.text(0.5, 0.5, "no ordered TiN planes", transform=ax.transAxes, ha="center",
                va="center", color="0.4", bbox=dict(fc="white", ec="none"), zorder=4)
        ax.set_xlim(-10, 1)
    if values:
        lo, hi = min(values), max(values)
        pad = 0.1 * (hi - lo) if hi > lo else 0.02
        ax.set_ylim(lo - pad, hi + 3 * pad)  # room for the legend
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=6.5, framealpha=0.85, ncols=2)
    ax.set_xlabel("plane height (Å)")
    ax.set_ylabel("TiN in-plane a (Å)")
    ax.set_title("TiN in-plane lattice parameter (error bars 95 %)", fontsize=9)
    ax.ticklabel_format(axis="y", useOffset=False)


# --------------------------------------------------------------------------- the figure


def plot_report(report, path=None, dpi=150):
    """Summary figure of an analysis report.

    Parameters
    ----------
    report : Report-like
        An object with the attributes ``image`` (``.data``, ``.pixel_size_A``
        or None), ``columns_xy``, ``plane_of_column``, ``layers``,
        ``growth_dir``, ``origin_xy``, ``system``, ``file``, ``interface``,
        ``strain`` and ``messages``; missing or None attributes are drawn as
        empty panels.
    path : str or path-like, optional
        Save the figure here; the suffix chooses the format (PNG, SVG, PDF).
    dpi : float
        Resolution of the figure and of the saved raster file.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels: the image with columns coloured by atomic plane, plane
        lines labelled with the spacing to the next plane and the growth
        direction; the interlayer-spacing profile (spacing to the next plane
        against plane height, coloured by material) with the bulk reference
        spacings; the TiN in-plane parameter per plane against the strain
        criterion. The title gives the interface verdict and the strain
        verdict with their uncertainties.
    """
    system = _load_system(getattr(report, "system", None))
    fig = Figure(figsize=(14, 6), dpi=dpi)
    grid = fig.add_gridspec(1, 3, width_ratios=(1.15, 1.0, 1.0), left=0.045, right=0.985,
                            bottom=0.1, top=0.82, wspace=0.27)
    ax_image = fig.add_subplot(grid[0])
    ax_profile = fig.add_subplot(grid[1])
    ax_strain = fig.add_subplot(grid[2])

    image_info = draw_image_panel(ax_image, report)
    ref_labels = draw_profile_panel(ax_profile, report, system)
    draw_strain_panel(ax_strain, report, system)

    lines = title_lines(report, system)
    fig.text(0.5, 0.985, lines[0], ha="center", va="top", fontsize=11, weight="bold")
    fig.text(0.5, 0.935, lines[1], ha="center", va="top", fontsize=10)
    messages = [str(m) for m in (getattr(report, "messages", None) or [])]
    if messages:
        text = "; ".join(messages)
        if len(text) > 220:
            text = text[:217] + "..."
        fig.text(0.5, 0.892, text, ha="center", va="top", fontsize=7.5, color="firebrick",
                 style="italic")

    # labels whose placement depends on the final axes geometry
    fig.draw_without_rendering()
    if image_info["growth_dir"] is not None:
        _label_planes(ax_image, image_info["segments"], image_info["layers"],
                      image_info["growth_dir"], image_info["scale"], image_info["colors"])
    _declutter_references(ax_profile, ref_labels)

    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig
