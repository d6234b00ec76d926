"""A one-page summary figure of an analysis report.

The figure has three panels: the image with the atomic columns coloured by
atomic plane, the interlayer-spacing profile across the interface with the
bulk reference spacings of the material system, and the TiN in-plane
lattice parameter plane by plane against the strain criterion.

Only matplotlib's object API is used (``matplotlib.figure.Figure``), so the
figure is made without pyplot, a GUI toolkit or a display.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from ..units import format_pm
from ._style import MATERIAL_COLORS, _load_system, title_lines
from .image_panel import _label_planes, _plane_colors as plane_colors, draw_image_panel, plane_segments
from .profile_panels import _declutter_references, draw_profile_panel, draw_strain_panel, reference_spacings

__all__ = ["MATERIAL_COLORS", "draw_profiles", "format_pm", "plane_colors", "plane_segments", "plot_report",
           "reference_spacings", "summary_lines", "title_lines"]


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


def draw_profiles(fig, report, vertical=True):
    """The spacing profile and the TiN in-plane panel of :func:`plot_report`, into `fig`.

    For a viewer's docked plot: `fig` is cleared, and gets the two panels
    stacked (``vertical``) or side by side.

    Returns
    -------
    (Axes, Axes)
        The profile axes and the TiN in-plane axes.
    """
    system = _load_system(getattr(report, "system", None))
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
    interface = getattr(report, "interface", None) or {}
    lines = title_lines(report, _load_system(getattr(report, "system", None)))
    warning = (getattr(report, "calibration", None) or {}).get("warning")
    lines += [f"warning: {warning}"] if warning else []
    lines += [f"evidence: {line}" for line in interface.get("evidence") or []]
    lines += [f"note: {line}" for line in getattr(report, "messages", None) or []]
    return lines
