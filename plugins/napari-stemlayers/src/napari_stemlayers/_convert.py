"""stemlayers objects <-> napari layer data, as plain functions (no Qt, no viewer).

Layers keep pixel coordinates in their data and carry the image's `scale`
(Å per pixel), `translate` and `units`, so columns, planes and image line up
in calibrated coordinates and napari's scale bar and cursor read in Å.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from stemlayers import Image, InputError, load
from stemlayers.export import columns_table
from stemlayers.figure import plane_colors, plane_segments
from stemlayers.units import unit_to_angstrom, units_unset

#: Where the reader keeps the facts of the file on ``layer.metadata``.
METADATA_KEY = "stemlayers"
_NO_PLANE_RGBA = (0.6, 0.6, 0.6, 1.0)
#: A Gaussian's full width at half maximum over its σ.
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def image_layer_data(image: Image) -> tuple:
    """A napari ``LayerData`` tuple of a loaded image: calibrated in Å, the file's facts in metadata."""
    name = image.name.rsplit(".", 1)[0] if not image.name.startswith("<") else "image"
    facts = {**image.metadata, "path": image.path, "pixel_size_A": image.pixel_size_A}
    return (image.data, {"name": name, "scale": (image.pixel_size_A,) * 2, "units": ("angstrom",) * 2,
                         "colormap": "gray", "metadata": {METADATA_KEY: facts}}, "image")


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
    facts = layer.metadata.get(METADATA_KEY, {})
    source = facts.get("path") or getattr(layer.source, "path", None)
    where = f"{source} (layer '{layer.name}')" if source else f"layer '{layer.name}'"
    source = source or layer.name
    data = layer.data[0] if layer.multiscale else layer.data
    if layer.rgb or np.ndim(data) != 2:
        raise InputError(f"{where}: not a 2D grey image (shape "
                         f"{'x'.join(map(str, np.shape(data)))}); pick one frame first")
    if pixel_size_A is None:
        scale_y, scale_x = (float(s) for s in layer.scale[-2:])
        units = [str(u) for u in layer.units[-2:]]
        per_unit = unit_to_angstrom(units[-1])
        if any(units_unset(u) for u in units) or per_unit is None or not np.isclose(scale_x, scale_y, rtol=1e-3):
            raise InputError(f"{where}: no spatial calibration (scale "
                             f"{scale_y:g} x {scale_x:g} {units[-1]}); enter the pixel size in Å")
        pixel_size_A = scale_x * per_unit
    try:
        image = load(np.asarray(data), pixel_size=pixel_size_A)
    except InputError as exc:
        raise InputError(str(exc).replace("<array>", where, 1)) from None
    return dataclasses.replace(image, path=str(source), metadata={**image.metadata, **facts})


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

    from stemlayers.units import format_value

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
