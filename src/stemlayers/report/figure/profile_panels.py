"""The spacing-profile and TiN in-plane panels, with the material system's reference values."""

from __future__ import annotations

import math

import numpy as np

from ...io.units import as_number

from ._style import CLASS_COLORS, MATERIAL_COLORS, _LABEL_SIZE, _OTHER_COLOR, format_inplane

__all__ = ["draw_profile_panel", "draw_strain_panel", "reference_spacings"]


def _ref_value(value):
    """A reference spacing in Å, always to the pm."""
    return f"{value:.3f} Å"


def _joined_references(refs, within_A=0.01):
    r"""References whose lines nearly coincide joined into one label: names of equal values share the value.

    Examples
    --------
    >>> _joined_references([("a", 2.6), ("b", 2.598), ("c", 2.6), ("d", 2.448)])
    [('b 2.598 Å\na, c 2.600 Å', 2.598), ('d 2.448 Å', 2.448)]
    """
    groups = []
    for name, value in sorted(refs, key=lambda r: r[1]):
        if groups and value - groups[-1][-1][1] < within_A:
            groups[-1].append((name, value))
        else:
            groups.append([(name, value)])
    joined = []
    for group in groups:
        values = sorted({round(v, 3) for _, v in group})
        text = "\n".join(", ".join(n for n, v in group if round(v, 3) == value) + f" {_ref_value(value)}"
                          for value in values)
        joined.append((text, group[0][1]))
    return sorted(joined, key=lambda r: -r[1])


def _film_references(system):
    """The film's bulk spacings: the distinct QL spacings and the vdW gap between QLs."""
    film = system.film
    elements = film.ql_elements
    half = (len(film.ql_spacings_A) + 1) // 2
    refs, seen = [], set()
    for i, spacing in enumerate(film.ql_spacings_A[:half]):
        if round(spacing, 4) in seen:
            continue
        seen.add(round(spacing, 4))
        a, b = elements[i], elements[i + 1]
        a = f"{a}1" if i == 0 else (f"{a}2" if a != elements[1] else a)
        b = f"{b}2" if b != elements[1] else b
        refs.append((f"QL {a}–{b}", spacing))
    refs.append(("vdW gap between QLs", film.vdw_gap_A))
    return refs


def _interface_references(system, interface_class):
    """The spacings at the TiN/film contact that the interface class implies."""
    sub = system.substrate.name
    if interface_class == "bilayer":
        b = system.bilayer
        pair = "–".join(b.elements)
        return [(f"{sub}–bilayer gap", b.tin_gap_A), (f"bilayer {pair}", b.spacing_A),
                ("bilayer–QL gap", b.ql_gap_A)]
    if interface_class == "vdw":
        return [(f"{sub}–QL vdW contact", system.vdw.tin_gap_A)]
    return []  # deteriorated: a disordered band, no gap; no class: nothing to compare with


def reference_spacings(system, interface_class=None):
    """Bulk reference spacings of a material system as (label, value in Å).

    Parameters
    ----------
    system : MaterialSystem or None
    interface_class : {"bilayer", "vdw", "deteriorated"} or None
        The verdict: only its interface spacings are drawn ("bilayer": the
        TiN–bilayer gap, the bilayer thickness and the bilayer–QL gap;
        "vdw": the TiN–QL contact; otherwise none).

    Returns
    -------
    list of (str, float)
        The substrate's d(111), the distinct QL spacings (named after the QL
        elements), the vdW gap between QLs and the interface spacings of the
        class; empty if `system` is None. Labels carry the value in Å, to
        the pm.
    """
    if system is None:
        return []
    sub = system.substrate
    refs = [(f"{sub.name} d(111)", sub.plane_spacing_A)] + _film_references(system)
    return [(f"{name} {_ref_value(value)}", value)
            for name, value in refs + _interface_references(system, interface_class)]


def _layer_table(layers):
    """Arrays (height, height err, spacing, spacing err, material) of the layers."""
    h = np.array([as_number(L.height_A) for L in layers], dtype=float)
    he = np.array([as_number(L.height_err_A) for L in layers], dtype=float)
    s = np.array([as_number(L.spacing_to_next_A) for L in layers], dtype=float)
    se = np.array([as_number(L.spacing_err_A) for L in layers], dtype=float)
    mat = [str(L.material) for L in layers]
    return h, he, s, se, mat


def _draw_segment_profiles(ax, interface):
    """Each decided segment's own spacing profile, as a line in its class's colour (heights above its own top
    TiN plane), where the interface changes along its length; returns the spacings drawn."""
    if interface is None or not interface.varies_along:
        return []
    drawn, values = set(), []
    for segment in interface.segments:
        if not segment.spacing_profile:
            continue
        h, spacing, _ = np.array(segment.spacing_profile, float).T
        klass = segment.interface_class
        ax.plot(h, spacing, "-", marker=".", ms=3, lw=1.0, alpha=0.8, color=CLASS_COLORS.get(klass, _OTHER_COLOR),
                label=f"{klass} segment" if klass not in drawn else None, zorder=2)
        drawn.add(klass)
        values.extend(spacing.tolist())
    return values


def draw_profile_panel(ax, report, system):
    """Panel 2: spacing to the next plane against plane height, with bulk references (and, where the
    interface changes along its length, each segment's own profile in its class's colour).

    Parameters
    ----------
    ax : matplotlib Axes
    report : Report
    system : MaterialSystem or None

    Returns
    -------
    list of (Text, float)
        Reference labels and their y values, for de-cluttering after layout.
    """
    layers = list(report.planes)
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

    segment_values = _draw_segment_profiles(ax, report.interface)
    refs = reference_spacings(system, report.interface.interface_class)
    for _, value in refs:
        ax.axhline(value, ls="--", lw=0.8, color="0.45", zorder=1)
    # lines within 0.01 Å of each other are one line on the plot: one label names them all
    labels = []
    for text, value in _joined_references([(t.removesuffix(f" {_ref_value(v)}"), v) for t, v in refs]):
        label = ax.text(0.99, value, text, transform=ax.get_yaxis_transform(), ha="right",
                        va="bottom", fontsize=6.5, color="0.25", clip_on=True)
        label.set_in_layout(False)
        labels.append((label, value))
    sub = system.substrate.name if system is not None else None
    if sub is not None:  # without a known system no plane is the substrate's
        ax.axvline(0.0, color="0.2", lw=0.8, zorder=1)
        top = ax.annotate(f"top {sub} plane", xy=(0.0, 0.98), xycoords=ax.get_xaxis_transform(),
                          xytext=(-4, 0), textcoords="offset points", rotation=90, ha="right",
                          va="top", fontsize=_LABEL_SIZE, color="0.2")
        top.set_in_layout(False)

    values = [v for v in s[has_point]] + [v for _, v in refs] + segment_values
    if values:
        lo, hi = min(values), max(values)
        pad = max(0.25, 0.08 * (hi - lo))
        ax.set_ylim(lo - pad, hi + pad)
    if has_point.any():
        lo, hi = min(h[has_point].min(), 0.0), max(h[has_point].max(), 0.0)
        pad = max(1.0, 0.05 * (hi - lo))
        room = 0.45 * (hi - lo + 2 * pad) if refs else 0.0  # keeps the reference labels clear of points
        ax.set_xlim(lo - pad, hi + pad + room)
        ax.legend(loc="best", fontsize=7, title="plane material (lines: segments)" if segment_values
                  else "plane material", title_fontsize=7, framealpha=0.85)
    else:
        ax.set_xlim(-5, 5)
        ax.text(0.5, 0.5, "no atomic planes", transform=ax.transAxes, ha="center", va="center",
                color="0.4", bbox={"fc": "white", "ec": "none"}, zorder=4)
    ax.set_xlabel(f"plane height above the top {sub} plane (Å)" if sub else "plane height (Å)")
    ax.set_ylabel("spacing to the next plane (Å)")
    ax.set_title("interlayer spacing profile (error bars 1σ)", fontsize=9)
    return labels


def _merge_close_references(ax, labels, line_px):
    """Merge the labels of lines closer than `line_px` into one block.

    The block is the label of the highest line of the group; it lists the
    group's labels from the highest value down. The other labels are removed.

    Returns
    -------
    list of (Text, display y of its line, number of text lines)
        Ascending in value.
    """
    rows = sorted(((lab, ax.transData.transform((0.0, v))[1]) for lab, v in labels),
                  key=lambda row: row[1])
    groups = []
    for label, y in rows:
        if groups and y - groups[-1][-1][1] < line_px:
            groups[-1].append((label, y))
        else:
            groups.append([(label, y)])
    merged = []
    for group in groups:
        keep, y = group[-1]
        if len(group) > 1:
            keep.set_text("\n".join(lab.get_text() for lab, _ in reversed(group)))
            for lab, _ in group[:-1]:
                lab.remove()
        merged.append((keep, y, len(group)))
    return merged


def _declutter_references(ax, labels, min_gap_pt=8.0):
    """Keep the reference labels apart.

    Labels sit above their line on the right. Lines closer than half a text
    line share one label block. When a block would overlap the one below
    it, that lower block moves below its own line; when that is not possible
    either, the block moves to the left end of its line.

    Parameters
    ----------
    ax : matplotlib Axes
        The profile panel, after the layout is fixed.
    labels : list of (Text, float)
        The reference labels and the values (Å) of their lines.
    min_gap_pt : float
        Height of one text line in points.
    """
    gap = min_gap_pt * ax.get_figure().dpi / 72.0
    floor = -np.inf  # top of the block below the previous one on the right
    prev = None  # (label, display y, height, top of its extent)
    for label, y, n_lines in _merge_close_references(ax, labels, 0.5 * gap):
        height = n_lines * gap
        if prev is not None and y < prev[3]:
            p_label, p_y, p_height, _ = prev
            if p_label.get_va() == "bottom" and p_y - p_height >= floor:
                p_label.set_va("top")
                floor = p_y
            else:
                label.set_x(0.01)
                label.set_ha("left")
                continue
        elif prev is not None:
            floor = prev[3]
        prev = (label, y, height, y + height)


# --------------------------------------------------------------------------- panel 3: strain


def draw_strain_panel(ax, report, system):
    """Panel 3: TiN in-plane lattice parameter per ordered TiN plane.

    Points with 95 % error bars (1.96 sigma) against plane height, the
    reference value as a line and the ± threshold band shaded, and the
    overall value of the report as a thin line with its uncertainty.

    Parameters
    ----------
    ax : matplotlib Axes
    report : Report
    system : MaterialSystem or None
    """
    strain = report.strain
    if system is None and not math.isfinite(as_number(None if strain is None else strain.tin_inplane_A)):  # no system: no TiN
        ax.text(0.5, 0.5, "no known material system:\nno substrate lattice parameter", transform=ax.transAxes,
                ha="center", va="center", color="0.4")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("substrate in-plane lattice parameter", fontsize=9)
        return
    per_plane = [] if strain is None else list(strain.per_plane)
    ref = as_number(None if strain is None else strain.reference_A)
    if not math.isfinite(ref) and system is not None:
        ref = system.strain.reference_inplane_A
    threshold = system.strain.threshold_pct if system is not None else 1.0
    sub = system.substrate.name if system is not None else "TiN"

    h = np.array([as_number(p.height_A) for p in per_plane], dtype=float)
    a = np.array([as_number(p.tin_inplane_A) for p in per_plane], dtype=float)
    e = np.array([as_number(p.tin_inplane_err_A) for p in per_plane], dtype=float)
    ok = np.isfinite(h) & np.isfinite(a)
    values = []
    if math.isfinite(ref):
        band = ref * threshold / 100.0
        ax.axhspan(ref - band, ref + band, color="tab:green", alpha=0.12, lw=0,
                   label=f"reference ± {threshold:g} %")
        ax.axhline(ref, color="tab:green", lw=1.0, ls="--", label=f"reference {ref:.3f} Å")
        values += [ref - 1.3 * band, ref + 1.3 * band]
    mean = as_number(None if strain is None else strain.tin_inplane_A)
    mean_err = as_number(None if strain is None else strain.tin_inplane_err_A)
    if math.isfinite(mean):
        ax.axhline(mean, color="tab:blue", lw=0.8, label=f"all planes {format_inplane(strain)}")
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
        ax.text(0.5, 0.5, f"no ordered {sub} planes", transform=ax.transAxes, ha="center",
                va="center", color="0.4", bbox={"fc": "white", "ec": "none"}, zorder=4)
        ax.set_xlim(-10, 1)
    if values:
        lo, hi = min(values), max(values)
        pad = 0.1 * (hi - lo) if hi > lo else 0.02
        ax.set_ylim(lo - pad, hi + 3 * pad)  # room for the legend
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=6.5, framealpha=0.85, ncols=2)
    ax.set_xlabel("plane height (Å)")
    ax.set_ylabel(f"{sub} in-plane a (Å)")
    ax.set_title(f"{sub} in-plane lattice parameter (error bars 95 %)", fontsize=9)
    ax.ticklabel_format(axis="y", useOffset=False)


# --------------------------------------------------------------------------- the figure
