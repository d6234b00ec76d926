"""A one-page summary figure of an analysis report.

The figure has three panels: the image with the atomic columns coloured by
atomic plane, the interlayer-spacing profile across the interface with the
bulk reference spacings of the material system, and the TiN in-plane
lattice parameter plane by plane against the strain criterion.

Only matplotlib's object API is used (``matplotlib.figure.Figure``), so the
figure is made without pyplot, a GUI toolkit or a display.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.figure import Figure

from ...io.units import format_value
from ._style import (MATERIAL_COLORS, calibration_warning, coverage_text, format_inplane, series_lines, system_of,
                     title_lines)
from .image_panel import draw_image_panel, plane_colors, plane_segments
from .plane_labels import label_planes
from .profile_panels import _declutter_references, draw_profile_panel, draw_strain_panel, reference_spacings

__all__ = ["MATERIAL_COLORS", "draw_profiles", "format_inplane", "format_value", "plane_colors",
           "plane_segments", "plot_report", "reference_spacings", "series_lines", "summary_lines", "system_of",
           "title_lines"]

# page geometry of the summary figure, inches
_IMAGE_W = 6.6  # width of the image panel: about half the page
_PLOTS_W = 5.2  # width of the two stacked plots
_LEFT, _GAP, _RIGHT = 0.65, 0.95, 0.15
_TOP, _BOTTOM, _MIN_H = 1.1, 0.6, 7.2


def _image_aspect(report):
    """Width / height of the image (or of the columns' extent), clipped to 0.6-2.5; 1 if unknown."""
    data = None if report.image is None else report.image.data
    if data is not None and np.ndim(data) >= 2:
        rows, cols = np.shape(data)[:2]
        aspect = cols / rows if rows else 1.0
    else:
        xy = report.columns_xy
        xy = np.empty((0, 2)) if xy is None else np.asarray(xy, dtype=float).reshape(-1, 2)
        span = np.ptp(xy, axis=0) if len(xy) > 1 else np.zeros(2)
        aspect = span[0] / span[1] if span[1] > 0 and span[0] > 0 else 1.0
    return float(np.clip(aspect, 0.6, 2.5))


def _layout(fig_dpi, aspect):
    """The figure and its three axes: the image on the left, the two plots stacked on the right.

    The image panel is `_IMAGE_W` wide (about half the page) and tall enough
    for the image's `aspect`; the page grows in height for tall images.
    """
    height = max(_MIN_H, _IMAGE_W / aspect + _TOP + _BOTTOM)
    width = _LEFT + _IMAGE_W + _GAP + _PLOTS_W + _RIGHT
    fig = Figure(figsize=(width, height), dpi=fig_dpi)
    bottom, top = _BOTTOM / height, 1 - _TOP / height
    image_right = (_LEFT + _IMAGE_W) / width
    ax_image = fig.add_axes((_LEFT / width, bottom, _IMAGE_W / width, top - bottom))
    grid = fig.add_gridspec(2, 1, left=image_right + _GAP / width, right=1 - _RIGHT / width,
                            bottom=bottom, top=top, hspace=0.38)
    return fig, ax_image, fig.add_subplot(grid[0]), fig.add_subplot(grid[1])


def _write_titles(fig, report, system):
    """The two verdict lines and any notes of the report, above the panels."""
    height = fig.get_figheight()
    lines = title_lines(report, system)
    fig.text(0.5, 1 - 0.12 / height, lines[0], ha="center", va="top", fontsize=11, weight="bold")
    fig.text(0.5, 1 - 0.42 / height, lines[1], ha="center", va="top", fontsize=10)
    messages = [str(m) for m in report.messages]
    if messages:
        # two lines at most, each as wide as the figure holds at this size: the note is never cut at the edge
        width = int(fig.get_figwidth() * 72 / (0.5 * 7.5))
        lines = textwrap.wrap("; ".join(messages), width)
        text = "\n".join(lines[:2]) + (" ..." if len(lines) > 2 else "")
        fig.text(0.5, 1 - 0.62 / height, text, ha="center", va="top", fontsize=7.5, linespacing=1.1,
                 color="firebrick", style="italic")


def plot_report(report, path=None, dpi=150):
    """Summary figure of an analysis report.

    Parameters
    ----------
    report : Report
        From :func:`stemlayers.analyze`, or read back with
        :meth:`~stemlayers.Report.from_dict` (no image, columns or growth
        direction: those panels are drawn empty).
    path : str or path-like, optional
        Save the figure here; the suffix chooses the format (PNG, SVG, PDF).
    dpi : float
        Resolution of the figure and of the saved raster file.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels: on the left (about half the width) the image with
        columns coloured by atomic plane, unassigned columns as crosses (in
        the legend), plane lines labelled with the spacing to the next plane,
        the growth direction and a scale bar; on the right the
        interlayer-spacing profile (spacing to the next plane against plane
        height, coloured by material) with the reference spacings that apply
        to the interface class, and below it the TiN in-plane parameter per
        plane against the strain criterion. The title gives the interface
        verdict and the strain verdict with their uncertainties.
    """
    system = system_of(report)
    fig, ax_image, ax_profile, ax_strain = _layout(dpi, _image_aspect(report))
    panel = draw_image_panel(ax_image, report)
    ref_labels = draw_profile_panel(ax_profile, report, system)
    draw_strain_panel(ax_strain, report, system)
    _write_titles(fig, report, system)

    # labels whose placement depends on the final axes geometry
    fig.draw_without_rendering()
    if panel.growth_dir is not None:
        obstacles = [artist.get_window_extent() for artist in panel.obstacles]
        label_planes(ax_image, panel.segments, panel.layers, panel.growth_dir, panel.scale, panel.colors,
                     obstacles)
    _declutter_references(ax_profile, ref_labels)

    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def draw_profiles(fig, report, vertical=True):
    """The spacing profile and the TiN in-plane panel of :func:`plot_report`, into `fig`.

    For a viewer's docked plot: `fig` is cleared, and gets the two panels
    stacked (``vertical``) or side by side.

    Returns
    -------
    (Axes, Axes)
        The profile axes and the TiN in-plane axes.
    """
    system = system_of(report)
    fig.clear()
    ax_profile, ax_strain = fig.subplots(2, 1) if vertical else fig.subplots(1, 2)
    ref_labels = draw_profile_panel(ax_profile, report, system)
    draw_strain_panel(ax_strain, report, system)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.draw_without_rendering()
    _declutter_references(ax_profile, ref_labels)
    return ax_profile, ax_strain


def summary_lines(report):
    """The verdicts as text: the figure's two title lines, then the evidence and any notes.

    Returns
    -------
    list of str
        Class with confidence and gap (Å, with its uncertainty); TiN
        in-plane a with its deviation, 95 % CI and the strain verdict; one
        line per piece of evidence; one per message.
    """
    lines = title_lines(report, system_of(report)) + series_lines(report.series)
    along = coverage_text(report.interface)
    lines += [f"along the interface: {along}"] if along else []
    lines += [f"film defect: {d.sentence()}" for d in report.film_defects]
    warning = calibration_warning(report)
    lines += [f"warning: {warning}"] if warning else []
    lines += [f"evidence: {line}" for line in report.interface.evidence]
    lines += [f"note: {line}" for line in report.messages]
    return lines
