"""stemlayers objects <-> napari layer data, as plain functions (no Qt, no viewer).

Layers keep pixel coordinates in their data and carry the image's `scale`
(Å per pixel), `translate` and `units`, so columns, planes and image line up
in calibrated coordinates and napari's scale bar and cursor read in Å.

A time series of frames is a 3D Image layer (frame, y, x), one step of its
first axis per frame; its registered image is a 2D layer on the same scale,
placed over the area every frame covers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from stemlayers import Image, InputError, Series, load, load_series
from stemlayers.report.export import columns_table
from stemlayers.report.figure import plane_colors, plane_segments
from stemlayers.io.units import unit_to_angstrom, units_unset

#: Where the reader keeps the facts of the file on ``layer.metadata``.
METADATA_KEY = "stemlayers"
_NO_PLANE_RGBA = (0.6, 0.6, 0.6, 1.0)
#: Axis labels of a series layer: the frame index, then the image's rows and columns.
SERIES_AXIS_LABELS = ("frame", "y", "x")
#: A Gaussian's full width at half maximum over its σ.
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def image_layer_data(image: Image) -> tuple:
    """A napari ``LayerData`` tuple of a loaded image: calibrated in Å, the file's facts in metadata."""
    name = image.name.rsplit(".", 1)[0] if not image.name.startswith("<") else "image"
    facts = {**image.metadata, "path": image.path, "pixel_size_A": image.pixel_size_A}
    return (image.data, {"name": name, "scale": (image.pixel_size_A,) * 2, "units": ("angstrom",) * 2,
                         "colormap": "gray", "metadata": {METADATA_KEY: facts}}, "image")


def series_layer_data(series: Series) -> tuple:
    """A napari ``LayerData`` tuple of a loaded time series: a 3D Image layer (frame, y, x), one step per frame
    along the first axis, the image axes calibrated in Å, the file's facts in metadata."""
    name = series.name.rsplit(".", 1)[0] if not series.name.startswith("<") else "series"
    facts = {**series.metadata, "path": series.path, "pixel_size_A": series.pixel_size_A}
    return (series.frames, {"name": name, "scale": (1.0,) + (series.pixel_size_A,) * 2,
                            "units": ("pixel",) + ("angstrom",) * 2, "axis_labels": SERIES_AXIS_LABELS,
                            "colormap": "gray", "metadata": {METADATA_KEY: facts}}, "image")


def is_series_layer(layer) -> bool:
    """Whether an Image layer holds a stack of grey frames (frame, y, x), which is registered before analysis."""
    data = layer.data[0] if layer.multiscale else layer.data
    return not layer.rgb and np.ndim(data) == 3


def _where(layer) -> tuple:
    """(the layer's file or its name, how messages name it, the reader's facts)."""
    facts = layer.metadata.get(METADATA_KEY, {})
    source = facts.get("path") or getattr(layer.source, "path", None)
    where = f"{source} (layer '{layer.name}')" if source else f"layer '{layer.name}'"
    return str(source or layer.name), where, facts


def _layer_pixel_size(layer, where) -> float:
    """Å per pixel from the layer's scale and units along its last two (image) axes."""
    scale_y, scale_x = (float(s) for s in layer.scale[-2:])
    units = [str(u) for u in layer.units[-2:]]
    per_unit = unit_to_angstrom(units[-1])
    if any(units_unset(u) for u in units) or per_unit is None or not np.isclose(scale_x, scale_y, rtol=1e-3):
        raise InputError(f"{where}: no spatial calibration (scale "
                         f"{scale_y:g} x {scale_x:g} {units[-1]}); enter the pixel size in Å")
    return scale_x * per_unit


def _through_library(layer, pixel_size_A, loader, ndim, what, hint=""):
    """`loader` (stemlayers.load or load_series) on the layer's data, named after the layer and its file.

    The pixel size is the given one or the layer's; the reader's facts about
    the file go over the array's metadata; errors name the layer, not ``<array>``.
    """
    source, where, facts = _where(layer)
    data = layer.data[0] if layer.multiscale else layer.data
    if layer.rgb or np.ndim(data) != ndim:
        raise InputError(f"{where}: not {what} (shape {'x'.join(map(str, np.shape(data)))}){hint}")
    if pixel_size_A is None:
        pixel_size_A = _layer_pixel_size(layer, where)
    try:
        result = loader(np.asarray(data), pixel_size=pixel_size_A)
    except InputError as exc:
        raise InputError(str(exc).replace("<array>", where, 1)) from None
    return dataclasses.replace(result, path=source, metadata={**result.metadata, **facts})


def image_from_layer(layer, pixel_size_A=None) -> Image:
    """The :class:`stemlayers.Image` an Image layer shows.

    Parameters
    ----------
    layer : napari.layers.Image
        A 2D (grey) image layer.
    pixel_size_A : float, optional
        Å per pixel; by default the layer's scale in its units.

    Raises
    ------
    InputError
        Named after the layer (and its file): not 2D, or no calibration and
        no `pixel_size_A`, or an implausible pixel size.
    """
    return _through_library(layer, pixel_size_A, load, 2, "a 2D grey image", "; pick one frame first")


def series_from_layer(layer, pixel_size_A=None) -> Series:
    """The :class:`stemlayers.Series` a 3D Image layer (frame, y, x) shows, for :func:`stemlayers.series.register`.

    Parameters
    ----------
    layer : napari.layers.Image
        A stack of grey frames of one field.
    pixel_size_A : float, optional
        Å per pixel; by default the layer's scale in its units along its
        last two axes.

    Raises
    ------
    InputError
        Named after the layer (and its file): not a stack of grey frames, no
        calibration and no `pixel_size_A`, an implausible pixel size, too
        few frames.
    """
    # the file's facts (a microscope's drift-corrected series is averaged as it is) go over the array's
    return _through_library(layer, pixel_size_A, load_series, 3, "a stack of grey frames")


def registered_layer_data(image: Image, like, name) -> tuple:
    """A 2D Image ``LayerData`` of a series' registered `image`, on the image axes of the series layer `like`.

    It sits over the area every frame covers (``series["crop_px"]``, the
    (x, y) offset of the crop), so it lines up with the frames. The mean of
    a pair of orthogonal scans (``stemlayers.orthogonal_pair``) is placed
    the same way on its first scan's layer.
    """
    frame = _frame(like)
    crop_x, crop_y = (image.metadata.get("series") or {}).get("crop_px", (0, 0))
    frame["translate"] = tuple(t + c * s for t, c, s in zip(frame["translate"], (crop_y, crop_x), frame["scale"]))
    facts = {**image.metadata, "path": image.path, "pixel_size_A": image.pixel_size_A}
    return (image.data, {"name": name, "colormap": "gray", "metadata": {METADATA_KEY: facts}, **frame}, "image")


def _frame(like) -> dict:
    """The scale, translate and units of the image layer results are drawn on."""
    return {"scale": tuple(like.scale[-2:]), "translate": tuple(like.translate[-2:]),
            "units": tuple(like.units[-2:])}


def column_ring_sizes(report, table) -> np.ndarray:
    """Marker diameters in image pixels: each column's fitted FWHM (2.355 σ).

    A hollow ring of this size sits where the fitted Gaussian falls to half its
    height, so the image shows through and a ring too small or too large for
    its column shows a poor fit. Columns without a finite width get the median.
    """
    sigma_px = table["sigma_A"].to_numpy(float) / float(report.pixel_size_A) if len(table) else np.zeros(0)
    finite = np.isfinite(sigma_px) & (sigma_px > 0)
    typical = float(np.median(sigma_px[finite])) if finite.any() else 2.0
    return np.maximum(FWHM_PER_SIGMA * np.where(finite, sigma_px, typical), 3.0)


def columns_layer_data(report, like, name) -> tuple:
    """A Points ``LayerData`` of the report's columns: hollow rings, the fitted FWHM across, edged in the plane's
    colour; features from the columns table."""
    table = columns_table(report)
    plane = table["plane"].to_numpy()
    colors = np.array(plane_colors(max(len(report.planes), 1)), float)
    edge = np.where((plane >= 0)[:, None], colors[np.clip(plane, 0, None) % len(colors)], _NO_PLANE_RGBA)
    size = column_ring_sizes(report, table)
    if not len(table):  # napari takes no empty colour array: one colour, one size for the points added later
        edge, size = np.array(_NO_PLANE_RGBA), FWHM_PER_SIGMA * 2.0
    return (table[["y_px", "x_px"]].to_numpy(), {
        "name": name, "features": table, "face_color": "transparent", "border_color": edge,
        "border_width": 0.14, "border_width_is_relative": True, "size": size, "opacity": 1.0, **_frame(like)},
        "points")


def planes_layer_data(report, like, name) -> tuple:
    """A Shapes ``LayerData``: one line along each atomic plane, labelled with its spacing to the next."""
    import pandas as pd

    from stemlayers.io.units import format_value

    xy = np.zeros((0, 2)) if report.columns is None else report.columns.xy
    plane = np.asarray(report.plane_of_column if report.plane_of_column is not None else [], int)
    segments = plane_segments(xy, plane, report.growth_dir, report.origin_xy)
    keys = sorted(segments)
    lines = [np.array([[p0[1], p0[0]], [p1[1], p1[0]]]) for p0, p1 in (segments[k] for k in keys)]
    planes = [report.planes[k] for k in keys]
    colors = np.array(plane_colors(max(len(report.planes), 1)), float)
    features = pd.DataFrame({
        "plane": np.array(keys, int),
        "height_A": [p.height_A for p in planes],
        "spacing_to_next_A": [np.nan if p.spacing_to_next_A is None else p.spacing_to_next_A for p in planes],
        "material": [p.material for p in planes],
        "element": [p.element or "" for p in planes],
        # the label: spacing to the next plane up, with its 1σ uncertainty
        "label": [format_value(p.spacing_to_next_A, p.spacing_err_A) if p.spacing_to_next_A is not None
                  else "" for p in planes],
    })
    return (lines, {
        "name": name, "shape_type": "line", "features": features,
        "edge_color": colors[np.array(keys, int) % len(colors)] if keys else "white", "edge_width": 0.6,
        # at the bounding box's upper right: the right-hand end of a level or rising plane
        "text": {"string": "{label}", "size": 7, "color": "white", "anchor": "upper_right"},
        **_frame(like)}, "shapes")


def interface_layer_data(report, like, name) -> tuple:
    """A Shapes ``LayerData``: the interface along its length, one line per segment coloured by its class, with
    the segment's class, length, confidence, gap and TiN a as features."""
    import pandas as pd
    from matplotlib.colors import to_rgba

    from stemlayers.report.figure._style import CLASS_COLORS

    segments = report.interface.segments
    lines = [np.array([[s.start_px[1], s.start_px[0]], [s.end_px[1], s.end_px[0]]]) for s in segments]
    features = pd.DataFrame({
        "class": [s.interface_class for s in segments],
        "length_A": [s.length_A for s in segments],
        "confidence": [s.confidence for s in segments],
        "gap_A": [np.nan if s.gap_A is None else s.gap_A for s in segments],
        "tin_inplane_A": [np.nan if s.tin_inplane_A is None else s.tin_inplane_A for s in segments],
    })
    colors = np.array([to_rgba(CLASS_COLORS.get(s.interface_class, "white")) for s in segments]).reshape(-1, 4)
    return (lines, {
        "name": name, "shape_type": "line", "features": features,
        "edge_color": colors if len(segments) else "white", "edge_width": 3.0,
        "text": {"string": "{class}", "size": 8, "color": "white", "anchor": "lower_left"}, **_frame(like)},
        "shapes")


def steps_layer_data(report, like, name) -> tuple:
    """A Points ``LayerData`` of the TiN terrace steps, with their height (planes and Å) as features."""
    import pandas as pd

    steps = report.interface.steps
    features = pd.DataFrame({"height_planes": [s.height_planes for s in steps],
                             "height_A": [s.height_A for s in steps],
                             "at_err_A": [np.nan if s.at_err_A is None else s.at_err_A for s in steps]})
    data = np.array([[s.at_px[1], s.at_px[0]] for s in steps], float).reshape(-1, 2)
    return (data, {"name": name, "features": features, "symbol": "triangle_down", "face_color": "white",
                   "border_color": "black", "size": 12, **_frame(like)}, "points")
