"""A scale bar for the image panel: a white bar with a dark outline and its length in Å or nm."""

from __future__ import annotations

import math

from matplotlib.offsetbox import AnchoredOffsetbox, AuxTransformBox, TextArea, VPacker
from matplotlib.patches import Rectangle

from ._style import _OUTLINE

__all__ = ["add_scale_bar", "scale_bar_label", "scale_bar_length"]

#: Gid of the scale bar artist (an AnchoredOffsetbox in ``ax.artists``).
SCALE_BAR_GID = "scale_bar"
_NICE = (1.0, 2.0, 5.0)


def scale_bar_length(width_A, fraction=0.25):
    """A round bar length (1, 2 or 5 x 10^n Å) of at most `fraction` of the field.

    Parameters
    ----------
    width_A : float
        Width of the field of view in Å.
    fraction : float
        Largest share of the width the bar may take.

    Returns
    -------
    float or None
        The length in Å, None if `width_A` is not a positive number.
    """
    if not (math.isfinite(width_A) and width_A > 0):
        return None
    limit = fraction * width_A
    exponent = math.floor(math.log10(limit))
    candidates = [m * 10.0 ** e for e in (exponent - 1, exponent) for m in _NICE]
    fitting = [c for c in candidates if c <= limit * (1 + 1e-9)]
    return max(fitting) if fitting else min(candidates)


def scale_bar_label(length_A):
    """The bar's length as text: Å below 1 nm, nm from 1 nm up (``"5 Å"``, ``"2 nm"``)."""
    if length_A >= 10.0:
        return f"{length_A / 10.0:g} nm"
    return f"{length_A:g} Å"


def add_scale_bar(ax, width_A, fontsize=8):
    """Draw a scale bar in the lower-left corner of an image panel in Å.

    Parameters
    ----------
    ax : matplotlib Axes
        Data coordinates in Å.
    width_A : float
        Width of the shown field in Å (chooses the bar length).
    fontsize : float
        Size of the label in points.

    Returns
    -------
    matplotlib.offsetbox.AnchoredOffsetbox or None
        The bar (gid ``"scale_bar"``), None if no length fits.
    """
    length = scale_bar_length(width_A)
    if length is None:
        return None
    bar = AuxTransformBox(ax.transData)
    bar.add_artist(Rectangle((0.0, 0.0), length, 0.012 * width_A, facecolor="white",
                             edgecolor="black", linewidth=0.8))
    label = TextArea(scale_bar_label(length),
                     textprops={"color": "white", "fontsize": fontsize, "weight": "bold",
                                "path_effects": _OUTLINE})
    packed = VPacker(children=[label, bar], align="center", pad=0, sep=2)
    box = AnchoredOffsetbox(loc="lower left", child=packed, pad=0.2, borderpad=0.6, frameon=False)
    box.set_gid(SCALE_BAR_GID)
    box.set_zorder(5)
    ax.add_artist(box)
    return box
