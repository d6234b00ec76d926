"""The image panel: columns coloured by atomic plane, plane lines labelled with their spacing."""

from __future__ import annotations

import math

import numpy as np

from ..units import _num

from ._style import _LABEL_SIZE, _OUTLINE, _PLANE_CMAP, _unit_vector

__all__ = ["draw_image_panel", "plane_segments"]


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
                arrowprops={"arrowstyle": "-|>", "color": "gold", "lw": 1.5, "mutation_scale": 10},
                annotation_clip=False)
    ax.text(center[0], center[1] + 0.1 * size, "growth", color="gold", fontsize=7,
            ha="center", va="top", path_effects=_OUTLINE)


# --------------------------------------------------------------------------- panel 2: profile
