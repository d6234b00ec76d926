"""Spacing labels along the plane lines of the image panel, kept inside the axes and apart."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

from ...io.units import as_number

from ._style import _LABEL_SIZE, _OUTLINE

__all__ = ["label_planes"]

_MARGIN_PX = 2.0  # a label keeps this far from the axes' edge and from obstacles
_TEXT_PATHS = TextToPath()


@dataclass(frozen=True)
class _Box:
    """A label's rectangle in display pixels: centre, reading and normal unit vectors, half sizes."""

    center: np.ndarray
    reading: np.ndarray
    normal: np.ndarray
    half_length: float
    half_height: float

    def corners(self):
        """The four corners, (4, 2) display pixels."""
        r, n = self.half_length * self.reading, self.half_height * self.normal
        return np.array([self.center + r + n, self.center + r - n, self.center - r - n,
                         self.center - r + n])

    def overlaps(self, other):
        """Whether two boxes of the same orientation overlap."""
        delta = self.center - other.center
        return (abs(delta @ self.normal) < self.half_height + other.half_height
                and abs(delta @ self.reading) < self.half_length + other.half_length)

    def inside(self, bbox, margin=_MARGIN_PX):
        """Whether the box lies within the display Bbox `bbox`, `margin` pixels in."""
        c = self.corners()
        return bool(np.all(c[:, 0] >= bbox.x0 + margin) and np.all(c[:, 0] <= bbox.x1 - margin)
                    and np.all(c[:, 1] >= bbox.y0 + margin) and np.all(c[:, 1] <= bbox.y1 - margin))

    def hits(self, bbox, margin=_MARGIN_PX):
        """Whether the box's bounding rectangle meets the display Bbox `bbox` (an obstacle)."""
        c = self.corners()
        return not (c[:, 0].max() < bbox.x0 - margin or c[:, 0].min() > bbox.x1 + margin
                    or c[:, 1].max() < bbox.y0 - margin or c[:, 1].min() > bbox.y1 + margin)


def _text_size_px(text, fontsize, dpi):
    """Width and height (pixels) of `text` set at `fontsize` points."""
    prop = FontProperties(size=fontsize)
    width, height, _ = _TEXT_PATHS.get_text_width_height_descent(text, prop, ismath=False)
    return width * dpi / 72.0, max(height, 1.15 * fontsize) * dpi / 72.0


def _orientation(ax, p0, p1, growth_dir):
    """Upright text angle (deg), reading and normal unit vectors and the side towards growth.

    Returns
    -------
    angle, reading, normal, side
        `side` is +1 when the next plane up (the growth direction) is on the
        normal's side of the line on screen, else -1.
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
    normal = np.array([-math.sin(rad), math.cos(rad)])
    g_screen = ax.transData.transform(np.asarray(p0) + growth_dir) - d0
    return angle, reading, normal, (1.0 if g_screen @ normal >= 0 else -1.0)


def _candidates(ax, p0, p1, reading, normal, side, size_px, pts):
    """The two placements of a label: at the line's reading-side end, then at its other end.

    Each is (data anchor, ha, offset in points, _Box); the text runs from the
    end back along the line, on the growth side of it.
    """
    d0, d1 = ax.transData.transform([p0, p1])
    ends = [(p1, d1), (p0, d0)] if (d1 - d0) @ reading >= 0 else [(p0, d0), (p1, d1)]
    length, height = size_px
    out = []
    for (end, end_display), ha, along in zip(ends, ("right", "left"), (-1.0, 1.0)):
        offset = 2.0 * along * reading + 1.0 * side * normal  # points
        anchor = end_display + offset * pts
        center = anchor + along * 0.5 * length * reading + side * 0.5 * height * normal
        out.append((end, ha, offset, _Box(center, reading, normal, 0.5 * length, 0.5 * height)))
    return out


def label_planes(ax, segments, layers, growth_dir, scale, colors, obstacles=()):
    """Write the spacing to the next plane along each plane's line, inside the axes.

    A label goes at the line's right (reading-side) end, or at its other end
    when it would leave the axes there; it is left out when neither placement
    fits inside the axes clear of the labels already written and of the
    obstacles.

    Parameters
    ----------
    ax : matplotlib Axes
        The image panel, after the layout is fixed.
    segments : dict
        Plane index -> ((x0, y0), (x1, y1)) in pixels (see ``plane_segments``).
    layers : list of AtomicPlane (or their saved dicts)
        The report's planes (``spacing_to_next_A``).
    growth_dir : (2,) array
        Unit growth direction in pixel (x, y).
    scale : float
        Data units (Å, or 1 for pixels) per pixel.
    colors : list
        The colour of each plane.
    obstacles : iterable of Bbox
        Display boxes no label may touch (scale bar, growth arrow, legend).

    Returns
    -------
    list of matplotlib.text.Annotation
        The labels written.
    """
    fig = ax.get_figure()
    pts = fig.dpi / 72.0
    bounds = ax.get_window_extent()
    obstacles = list(obstacles)
    placed, written = [], []
    for k in sorted(segments):
        spacing = as_number(layers[k].spacing_to_next_A) if k < len(layers) else math.nan
        if not math.isfinite(spacing):
            continue
        text = f"{spacing:.2f} Å"
        p0, p1 = (np.asarray(p) * scale for p in segments[k])
        angle, reading, normal, side = _orientation(ax, p0, p1, growth_dir)
        size = _text_size_px(text, _LABEL_SIZE, fig.dpi)
        for end, ha, offset, box in _candidates(ax, p0, p1, reading, normal, side, size, pts):
            if (box.inside(bounds) and not any(box.overlaps(b) for b in placed)
                    and not any(box.hits(o) for o in obstacles)):
                placed.append(box)
                written.append(_write(ax, text, end, offset, angle, ha, side, colors[k]))
                break
    return written


def _write(ax, text, end, offset, angle, ha, side, color):
    """One spacing label as an annotation anchored at a line's end."""
    label = ax.annotate(
        text, xy=tuple(end), xytext=tuple(offset), textcoords="offset points", rotation=angle,
        rotation_mode="anchor", ha=ha, va="bottom" if side > 0 else "top", fontsize=_LABEL_SIZE,
        color=_lighten(color), path_effects=_OUTLINE, clip_on=True, annotation_clip=True)
    label.set_in_layout(False)
    return label


def _lighten(color, amount=0.45):
    """`color` mixed with white (readable on a dark image)."""
    from matplotlib.colors import to_rgb

    return tuple(c + (1 - c) * amount for c in to_rgb(color))
