"""The docked plot: spacing profile and TiN in-plane parameter per plane (matplotlib inside Qt).

The panels are the report figure's (``stemlayers.report.figure.draw_profiles``), fitted to a narrow dock:
smaller type, axis labels broken onto more lines when longer than their axes, and the bulk reference
spacings labelled one by one in the right margin, spread apart and joined to their lines, instead of
inside the panel where close references (vdW gap, TiN d(111), the bilayer gaps) overlap; the legends
go above and below the panels, where they cover no points. All of it is refitted whenever the dock is
resized.

For a registered time series a small drift panel sits below them: the drift of each frame in x and y
(Å) against the frame index, the frames the registration left out marked.
"""

from __future__ import annotations

import re

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from qtpy.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from stemlayers.report.figure import draw_profiles, reference_spacings, system_of

#: Type sizes (points) of the docked plot.
TITLE_SIZE, LABEL_SIZE, TICK_SIZE, REFERENCE_SIZE = 8.0, 7.5, 7.0, 6.5
#: Gap between the right edge of the panel and a reference label (points).
_MARGIN_PT = 9.0
#: Colours of the drift panel: x, y and the rejected frames.
DRIFT_COLORS = {"x": "tab:blue", "y": "tab:orange", "rejected": "tab:red"}


class ProfilePlot(QWidget):
    """The two profile panels of the report figure, redrawn for each new report.

    Attributes
    ----------
    axes : tuple of Axes
        (spacing profile, TiN in-plane a), empty before the first report.
    reference_labels : list of matplotlib.text.Annotation
        The bulk reference spacings, in the right margin of the profile.
    legends : list of matplotlib.legend.Legend
        The panels' legends, out of the panels: the plane materials above, the TiN panel's below.
    drift_axes : Axes or None
        The drift over a registered series (its own canvas, below the profiles); None for a single image.
    drift_lines : dict
        ``{"x": Line2D, "y": Line2D}``: the drift of every frame (Å) against its index; ``"rejected"``:
        the markers on the frames left out (when any).
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        # constrained layout: the panels, their labels and the margin labels refit whenever the dock is resized
        self.figure = Figure(figsize=(4.2, 5.6), dpi=90, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumSize(300, 360)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        # the drift of a registered series: a canvas of its own, shown only for a series
        self.drift_figure = Figure(figsize=(4.2, 1.9), dpi=90, layout="constrained")
        self.drift_canvas = FigureCanvasQTAgg(self.drift_figure)
        self.drift_canvas.setMinimumSize(300, 150)
        self.drift_canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.drift_canvas.setVisible(False)
        layout.addWidget(self.drift_canvas)
        self.drift_axes = None
        self.drift_lines = {}
        self.axes = ()
        self.reference_labels = []
        self.legends = []
        self._legend_specs = []
        self.canvas.mpl_connect("resize_event", lambda _event: self._relayout())

    def show_report(self, report) -> None:
        """Draw `report`'s spacing profile (top) and TiN in-plane a with the ±1 % band (bottom)."""
        self.axes = draw_profiles(self.figure, report, vertical=True)
        for ax in self.axes:
            ax.title.set_fontsize(TITLE_SIZE)
            ax.xaxis.label.set_fontsize(LABEL_SIZE)
            ax.yaxis.label.set_fontsize(LABEL_SIZE)
            ax.tick_params(labelsize=TICK_SIZE)
        self.reference_labels = _move_references_to_margin(self.axes[0], report)
        specs = [_take_legend(self.axes[0], "upper"), _take_legend(self.axes[1], "lower")]
        self._legend_specs = [spec for spec in specs if spec is not None]
        self.legends = []
        self._relayout()
        self.show_series(report.series)

    def show_series(self, series) -> None:
        """Draw the drift of a registered series (``Report.series``), or hide the drift panel (None)."""
        self.drift_figure.clear()
        self.drift_axes, self.drift_lines = None, {}
        if series and series.drift_A:
            self.drift_axes = self.drift_figure.add_subplot()
            self.drift_lines = draw_drift(self.drift_axes, series)
            self.drift_canvas.draw_idle()
        self.drift_canvas.setVisible(self.drift_axes is not None)

    def _relayout(self) -> None:
        """Fit the labels to the current size of the panels, then redraw."""
        if not self.axes or min(self.figure.bbox.width, self.figure.bbox.height) < 50:  # none yet, or hidden
            return
        old = self.legends or [None] * len(self._legend_specs)
        self.legends = [_place_legend(self.figure, spec, legend) for spec, legend in zip(self._legend_specs, old)]
        self.figure.draw_without_rendering()  # lays the panels out at the canvas's size
        for ax in self.axes:
            _fit_label(ax.yaxis.label, ax.bbox.height)
            _fit_label(ax.xaxis.label, ax.bbox.width)
        self.figure.draw_without_rendering()
        _spread(self.axes[0], self.reference_labels)
        self.canvas.draw_idle()


def draw_drift(ax, series) -> dict:
    """The drift of each frame of a registered series, x and y in Å against the frame index, on `ax`.

    The frames the registration left out are ringed in red (their reasons are in the result text).

    Returns
    -------
    dict
        ``{"x": Line2D, "y": Line2D}``, and ``"rejected"`` (the rings) when frames were left out.
    """
    from matplotlib.ticker import MaxNLocator

    drift = np.asarray(series.drift_A, float).reshape(-1, 2)
    frame = np.arange(len(drift))
    lines = {}
    for i, axis in enumerate(("x", "y")):
        (lines[axis],) = ax.plot(frame, drift[:, i], marker="o", markersize=3, lw=1.0, color=DRIFT_COLORS[axis],
                                 label=f"drift {axis}")
    rejected = sorted({int(r["frame"]) for r in series.rejected or [] if 0 <= int(r["frame"]) < len(drift)})
    if rejected:
        (lines["rejected"],) = ax.plot(np.repeat(rejected, 2), drift[rejected].ravel(), ls="none", marker="o",
                                       markersize=8, markerfacecolor="none", markeredgewidth=1.2,
                                       color=DRIFT_COLORS["rejected"], label="rejected")
        for k in rejected:
            ax.axvline(k, color=DRIFT_COLORS["rejected"], lw=0.6, ls=":", zorder=0)
    ax.axhline(0.0, color="0.7", lw=0.5, zorder=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("frame", fontsize=LABEL_SIZE)
    ax.set_ylabel("drift (Å)", fontsize=LABEL_SIZE)
    n, used = len(drift), len(series.used or [])
    ax.set_title(f"drift: {n} frames, {used} used", fontsize=TITLE_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.legend(fontsize=REFERENCE_SIZE, ncols=len(lines), frameon=False, loc="best", handlelength=1.4,
              columnspacing=1.0)
    return lines


def text_extent(label, renderer=None):
    """The display box of a label's text alone (an Annotation's own extent includes its leader line)."""
    return Text.get_window_extent(label, renderer)


def _move_references_to_margin(ax, report) -> list:
    """Replace the reference labels inside `ax` (text on its y-axis transform, one per line or one per group
    of close lines) by one label per reference line in its right margin.

    Returns the new labels (``Annotation``, xy on the reference line at the panel's right edge).
    """
    inside = [t for t in ax.texts if t.get_transform() is ax.get_yaxis_transform()]
    if not inside:
        return []
    for text in inside:
        text.remove()
    moved = []
    for label, value in reference_spacings(system_of(report), report.interface.interface_class):
        moved.append(ax.annotate(
            re.sub(r"\s*Å$", "", label),  # the axis is in Å
            xy=(1.0, value), xycoords=ax.get_yaxis_transform(), xytext=(_MARGIN_PT, 0.0),
            textcoords="offset points", ha="left", va="center", fontsize=REFERENCE_SIZE, color="0.25",
            annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.6, "shrinkA": 1, "shrinkB": 0,
                        "relpos": (0.0, 0.5)}))
    # the panel kept room on its right for the labels inside it: give it back to the points
    ax.relim(visible_only=True)
    ax.autoscale(axis="x")
    return moved


def _take_legend(ax, where):
    """Remove `ax`'s legend, for the figure's top or bottom (``where``); what to remake it from, or None.

    The panels of a dock are too small to hold a legend without covering points.
    """
    legend = ax.get_legend()
    if legend is None:
        return None
    title = legend.get_title().get_text()
    legend.remove()
    handles, labels = ax.get_legend_handles_labels()
    # the panel kept room for the legend inside it: give it back to the points
    ax.relim(visible_only=True)
    ax.autoscale(axis="y")
    return {"handles": handles, "labels": labels, "title": title or None, "where": where}


def _place_legend(fig, spec, old=None):
    """(Re)make a legend from :func:`_take_legend` outside the panels: in one row if it fits the figure's
    width, else in two columns, else in one."""
    n = len(spec["labels"])
    for ncols in sorted({n, min(2, n), 1}, reverse=True):
        if old is not None:
            old.remove()
        old = fig.legend(spec["handles"], spec["labels"], loc=f"outside {spec['where']} center", ncols=ncols,
                         fontsize=REFERENCE_SIZE, title=spec["title"], title_fontsize=REFERENCE_SIZE,
                         frameon=False, handlelength=1.6, columnspacing=1.2, borderaxespad=0.2)
        if ncols == 1 or old.get_window_extent(fig.canvas.get_renderer()).width <= 0.98 * fig.bbox.width:
            break
    return old


def _spread(ax, labels, gap_pt=1.0) -> None:
    """Move the margin labels up or down just enough that none overlaps the next, within the panel's height.

    When the panel is too short for all of them they are squeezed evenly over its height (and may touch):
    a label below or above the panel would make the layout shrink the panel further.
    """
    if not labels:
        return
    points_per_px = 72.0 / ax.get_figure().dpi
    renderer = ax.get_figure().canvas.get_renderer()
    order = sorted(labels, key=lambda a: a.xy[1])
    at = np.array([ax.transData.transform((0.0, a.xy[1]))[1] for a in order])
    height = max(text_extent(a, renderer).height for a in order) + gap_pt / points_per_px
    low, high = ax.bbox.y0 + height / 2, ax.bbox.y1 - height / 2
    if len(order) > 1 and (len(order) - 1) * height > high - low:
        y = np.linspace(ax.bbox.y0, ax.bbox.y1, len(order))
    else:
        y = np.clip(at, low, high)
        for i in range(1, len(y)):  # upwards: each clear of the one below
            y[i] = max(y[i], y[i - 1] + height)
        if y[-1] > high:  # too high: push down from the top
            y[-1] = high
            for i in range(len(y) - 2, -1, -1):
                y[i] = min(y[i], y[i + 1] - height)
    for label, target, line in zip(order, y, at):
        label.xyann = (_MARGIN_PT, (target - line) * points_per_px)


def _fit_label(text, length_px, max_lines=3) -> None:
    """Break an axis label onto as few lines (up to `max_lines`) as keep it within its axis's length."""
    words = text.get_text().split()
    for n_lines in range(1, min(max_lines, len(words)) + 1):
        text.set_text("\n".join(_balanced_lines(words, n_lines)))
        if _long_side(text, text.get_window_extent()) <= 0.95 * length_px:
            return


def _long_side(text, extent):
    """The extent of a label along its axis: its width, or its height when rotated (a y label)."""
    return extent.height if abs(text.get_rotation() - 90) < 1 else extent.width


def _balanced_lines(words, n_lines):
    """`words` in `n_lines` lines of about equal length (in characters), in order."""
    total = sum(len(w) + 1 for w in words)
    lines, line, done = [], [], 0
    for word in words:
        if line and len(lines) < n_lines - 1 and done + len(word) / 2 > total * (len(lines) + 1) / n_lines:
            lines.append(" ".join(line))
            line = []
        line.append(word)
        done += len(word) + 1
    return lines + [" ".join(line)]
