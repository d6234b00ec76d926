"""The image panel: columns coloured by atomic plane, plane lines labelled with their spacing."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...io.units import as_number

from ._style import _OUTLINE, _PLANE_CMAP, CLASS_COLORS, _unit_vector
from .scalebar import add_scale_bar

__all__ = ["ImagePanel", "draw_image_panel", "plane_colors", "plane_segments"]


def _image_frame(report):
    """Image array, pixel size (Å, 1 if unknown) and unit of the image panel.

    Where the film measured the true pixel size, the axes and the scale bar
    use it, not a file calibration the film contradicts.
    """
    image, calibration = report.image, report.calibration
    data = None if image is None else image.data
    px = as_number(None if calibration is None else calibration.film_pixel_size_A)
    if not (math.isfinite(px) and px > 0):
        px = as_number(None if image is None else image.pixel_size_A)
    if not (math.isfinite(px) and px > 0):
        px = as_number(report.pixel_size_A)
    if math.isfinite(px) and px > 0:
        return data, px, "Å"
    return data, 1.0, "px"


def _columns(report):
    """Column positions (N, 2) in px and their plane index (N,), -1 for none."""
    xy = report.columns_xy
    if xy is None:
        return np.empty((0, 2)), np.empty(0, dtype=int)
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    plane = report.plane_of_column
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


def plane_colors(n):
    from matplotlib import colormaps

    cmap = colormaps[_PLANE_CMAP]
    return [cmap(k % cmap.N) for k in range(n)]


def _origin(report):
    """The report's point on the top TiN plane as a (2,) array, or None."""
    origin = report.origin_xy
    if origin is None:
        return None
    origin = np.asarray(origin, dtype=float).ravel()
    return origin if origin.size == 2 and np.all(np.isfinite(origin)) else None


def _show_image(ax, data, px):
    """The micrograph in grey, 0.5-99.8 percentile contrast, axes in data units."""
    data = np.asarray(data, dtype=float)
    rows, cols = data.shape[:2]
    finite = data[np.isfinite(data)]
    vmin, vmax = (np.percentile(finite, [0.5, 99.8]) if finite.size else (0.0, 1.0))
    extent = (-0.5 * px, (cols - 0.5) * px, (rows - 0.5) * px, -0.5 * px)
    ax.imshow(data, cmap="gray", origin="upper", vmin=vmin, vmax=vmax, interpolation="nearest",
              extent=extent)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])


def _draw_columns(ax, xy, plane, px, colors):
    """Columns: coloured dots by plane, grey crosses (with a legend entry) for unassigned ones."""
    if not len(xy):
        return None
    none = plane < 0
    if (~none).any():
        ax.scatter(xy[~none, 0] * px, xy[~none, 1] * px, s=5, c=[colors[k] for k in plane[~none]],
                   linewidths=0, zorder=3)
    if not none.any():
        return None
    ax.plot(xy[none, 0] * px, xy[none, 1] * px, "x", color="0.75", ms=3, mew=0.7, ls="none",
            label=f"unassigned column ({int(none.sum())})", zorder=3)
    legend = ax.legend(loc="lower right", fontsize=6.5, framealpha=0.6, facecolor="black",
                       edgecolor="0.5", labelcolor="white", markerscale=1.6, borderpad=0.4,
                       handletextpad=0.3)
    legend.set_zorder(6)
    return legend


@dataclass(frozen=True)
class ImagePanel:
    """What the image panel drew, for labelling its planes after the layout is fixed.

    Attributes
    ----------
    segments : dict
        Plane index -> its two end points in px.
    scale : float
        Å (or the image's unit) per px.
    growth_dir : (2,) array or None
    colors : tuple
        One colour per plane.
    layers : tuple
        The planes drawn.
    obstacles : tuple
        Artists no spacing label may cover (columns, scale bar, growth arrow).
    """

    segments: dict
    scale: float
    growth_dir: np.ndarray | None
    colors: tuple
    layers: tuple
    obstacles: tuple


def draw_image_panel(ax, report):
    """Panel 1: the image, the columns coloured by plane, plane lines, growth arrow and scale bar.

    Parameters
    ----------
    ax : matplotlib Axes
    report : Report

    Returns
    -------
    ImagePanel
        What the plane labels need once the layout is fixed.
    """
    data, px, unit = _image_frame(report)
    xy, plane = _columns(report)
    layers = list(report.planes)
    growth_dir = _unit_vector(report.growth_dir)
    if data is not None:
        _show_image(ax, data, px)
    elif len(xy):
        ax.invert_yaxis()
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"y ({unit})")
    ax.set_aspect("equal")

    colors = plane_colors(max(len(layers), int(plane.max()) + 1 if plane.size else 0))
    obstacles = [_draw_columns(ax, xy, plane, px, colors)]
    segments = plane_segments(xy, plane, growth_dir, _origin(report))
    for k, (p0, p1) in segments.items():
        ax.plot([p0[0] * px, p1[0] * px], [p0[1] * px, p1[1] * px], "-", color=colors[k],
                lw=0.6, alpha=0.8, zorder=2)

    obstacles += _draw_interface(ax, report.interface, px)

    if data is None and not len(xy):
        ax.text(0.5, 0.5, "no image", transform=ax.transAxes, ha="center", va="center", color="0.4")
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        if unit == "Å":
            x0, x1 = ax.get_xlim()
            obstacles.append(add_scale_bar(ax, abs(x1 - x0)))
        if growth_dir is not None:
            obstacles += _growth_arrow(ax, growth_dir)
    ax.set_title("columns and atomic planes", fontsize=9)
    return ImagePanel(segments, px, growth_dir, tuple(colors), tuple(layers),
                      tuple(o for o in obstacles if o is not None))


def _draw_interface(ax, interface, px) -> list:
    """The interface as a strip along the top TiN plane, coloured by each segment's class, and its terrace
    steps as triangles; nothing for an interface of one stretch without steps (the title says its class)."""
    if not interface.varies_along:
        return []
    drawn = []
    for s in interface.segments:
        (x0, y0), (x1, y1) = s.start_px, s.end_px
        drawn += ax.plot([x0 * px, x1 * px], [y0 * px, y1 * px], "-", color=CLASS_COLORS.get(s.interface_class, "k"),
                         lw=3.0, alpha=0.85, solid_capstyle="butt", zorder=4, label=s.interface_class)
    for s in interface.steps:
        drawn += ax.plot([s.at_px[0] * px], [s.at_px[1] * px], "v", color="white", mec="black", ms=6, zorder=5)
    handles = {line.get_label(): line for line in drawn if not line.get_label().startswith("_")}
    if handles:
        ax.legend(list(handles.values()), list(handles), fontsize=6, loc="lower right", framealpha=0.7,
                  title="interface", title_fontsize=6)
    return drawn


def _growth_arrow(ax, growth_dir):
    """An arrow along the growth direction (pixel (x, y)) in the lower left, above the scale bar.

    Returns
    -------
    list of Artist
        The arrow and its "growth" label.
    """
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    size = min(x1 - x0, y1 - y0)
    length = 0.14 * size
    center = np.array([x0 + 0.11 * size, y1 - 0.27 * size])  # y1 is the bottom: y points down
    tail, head = center - 0.5 * length * growth_dir, center + 0.5 * length * growth_dir
    arrow = ax.annotate("", xy=tuple(head), xytext=tuple(tail),
                        arrowprops={"arrowstyle": "-|>", "color": "gold", "lw": 1.5,
                                    "mutation_scale": 10},
                        annotation_clip=False)
    text = ax.text(center[0], center[1] + 0.1 * size, "growth", color="gold", fontsize=7,
                   ha="center", va="top", path_effects=_OUTLINE)
    return [arrow, text]
