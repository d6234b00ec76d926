"""Two scans of one field at 0° and 90° scan rotation: the slow-scan drift of each, removed.

A raster scan distorts an image along its slow axis: each row is displaced
by where the drift had taken the specimen when that row was scanned. In a
second scan rotated by 90° the slow axis is the first one's fast axis, so the
two distortions are functions of different coordinates: the first scan's
of the row, the second's (turned back to the first's frame) of the column.
Where the same column is seen in both, its two positions differ by
``A(row) - B(column)``, and a function of the row minus one of the column is
unique up to a constant: both distortions, linear drift included, follow
from the matched columns alone, with no assumption about the specimen. A
real strain of the specimen is the same in both scans and cancels; it is not
taken for a distortion.

Each distortion is a smooth polynomial (Legendre, degree chosen by BIC) of
its scan time, fitted to the matched column positions; each scan is then
resampled onto the specimen's frame and the two are averaged.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre
from scipy.spatial import cKDTree
from skimage.registration import phase_cross_correlation

from ..columns.find import find_columns, lattice_scale
from ..errors import InputError
from ..io.jsonable import to_jsonable
from ..io.read import Image, load
from ..numeric import robust_sd
from .register import warp_rows

__all__ = ["drift_from_pair", "match_columns", "orthogonal_pair"]

#: Highest polynomial degree tried for each scan's drift along its slow axis.
MAX_DEGREE = 8


def _check_orthogonal(a, b):
    """An error when both files record their scan rotation and the two are not 90° apart (either way)."""
    rotations = [image.metadata.get("scan_rotation_deg") for image in (a, b)]
    if None in rotations:
        return
    apart = (rotations[1] - rotations[0]) % 180.0
    if abs(apart - 90.0) > 10.0:
        raise InputError(f"{b.name}: scan rotation {rotations[1]:.1f}° against {rotations[0]:.1f}° in {a.name}: "
                         f"not a pair of orthogonal scans (90° apart)")


def _turned_back(first, second, quarter_turns):
    """`second` turned by the quarter turns (given, or 1 or 3: whichever matches `first` best) and its shift."""
    tries = [quarter_turns] if quarter_turns is not None else [1, 3]
    best = None
    for k in tries:
        turned = np.rot90(second, k)
        if turned.shape != first.shape:
            raise InputError(f"the two scans do not show the same field: {first.shape} against {turned.shape} "
                             f"after {k} quarter turn(s)")
        shift, error, _ = phase_cross_correlation(first, turned, upsample_factor=10, normalization=None)
        if best is None or error < best[2]:
            best = (k, turned, error, shift)
    k, turned, _, shift = best
    return k, turned, shift


def match_columns(xy_a, xy_b, offset_xy, max_distance):
    """Pairs (i, j) of columns of `xy_a` and `xy_b` + `offset_xy` that are each other's nearest, within reach.

    Examples
    --------
    >>> match_columns(np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([[1.0, 0.0], [20.0, 5.0]]), (0.0, 0.0), 3.0)
    (array([0]), array([0]))
    """
    xy_b = np.asarray(xy_b, float) + np.asarray(offset_xy, float)
    if len(xy_a) == 0 or len(xy_b) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    dist_ab, j = cKDTree(xy_b).query(xy_a)
    _, i_back = cKDTree(xy_a).query(xy_b)
    i = np.arange(len(xy_a))
    mutual = (i_back[j] == i) & (dist_ab <= max_distance)
    return i[mutual], j[mutual]


def _design(t_first, s_second, degree):
    """Legendre terms of the first scan's row (with the constant) minus those of the second's column."""
    return np.column_stack([legendre.legvander(t_first, degree), -legendre.legvander(s_second, degree)[:, 1:]])


def drift_from_pair(xy_first, xy_second, shape, max_degree=MAX_DEGREE):
    """The slow-scan displacement of each scan from the same columns' positions in both.

    Parameters
    ----------
    xy_first, xy_second : (M, 2) float arrays
        Matched columns (x, y) in px: in the first scan, and in the second
        turned back to the first's frame (its slow axis along x).
    shape : (rows, cols)
    max_degree : int

    Returns
    -------
    (coef, degree, residual_px)
        `coef` (2, n) holds, per coordinate (x, y), the Legendre
        coefficients of the first scan's displacement A(row) (degree + 1)
        followed by those of the second's B(column) from degree 1; ``p =
        P + A(row)`` in the first scan and ``P + B(column)`` in the second,
        P the specimen frame. `residual_px` is the rms misfit per coordinate.
    """
    t = 2 * xy_first[:, 1] / max(shape[0] - 1, 1) - 1
    s = 2 * xy_second[:, 0] / max(shape[1] - 1, 1) - 1
    difference = xy_first - xy_second
    keep = np.ones(len(t), bool)
    for _ in range(2):  # a mismatched pair (a column found in one scan only) out, then refit
        best = None
        for degree in range(1, max_degree + 1):
            design = _design(t[keep], s[keep], degree)
            coef, *_ = np.linalg.lstsq(design, difference[keep], rcond=None)
            rss = float(np.sum((difference[keep] - design @ coef) ** 2))
            count = 2 * int(keep.sum())
            bic = count * np.log(max(rss, 1e-30) / count) + 2 * design.shape[1] * np.log(count)
            if best is None or bic < best[0]:
                best = (bic, degree, coef)
        _, degree, coef = best
        residual = difference - _design(t, s, degree) @ coef
        keep = np.all(np.abs(residual) <= 4 * np.array([robust_sd(residual[keep, c]) for c in (0, 1)]) + 1e-6,
                      axis=1)
    return coef.T, degree, float(np.sqrt(np.mean(residual[keep] ** 2)))


def _displacements(coef, degree, shape):
    """A(row) over the rows (rows, 2) and B(column) over the columns (cols, 2), (x, y) in px."""
    first = legendre.legvander(np.linspace(-1, 1, shape[0]), degree) @ coef[:, :degree + 1].T
    second = legendre.legvander(np.linspace(-1, 1, shape[1]), degree)[:, 1:] @ coef[:, degree + 1:].T
    return first, second


def orthogonal_pair(first, second, pixel_size=None, *, quarter_turns=None) -> Image:
    """Two scans of one field, the second at 90° scan rotation, corrected for drift and averaged.

    Parameters
    ----------
    first, second : path, Image, hyperspy Signal2D or 2D array (with `pixel_size`)
        The scan at 0° and the one at 90°, each as the microscope saved it.
    pixel_size : float, optional
        Å/px, overriding the files' calibration.
    quarter_turns : int, optional
        Quarter turns (``numpy.rot90``) that bring the second scan back to
        the first's frame; by default 1 or 3, whichever matches better
        (microscopes differ in the sense of their scan rotation). When both
        files record their scan rotation (Velox), it must differ by 90°.

    Returns
    -------
    Image
        The mean of both scans in the specimen's frame, over the area both
        cover. ``metadata["series"]`` says what was done: two frames, the
        rigid offset of the second (Å), the drift removed (rms, px), the
        misfit of the matched columns (px), and the polynomial degree.

    Raises
    ------
    InputError
        When the scans differ in size or pixel size, their recorded scan
        rotations are not 90° apart, or too few columns match (not the same
        field).
    """
    a, b = load(first, pixel_size), load(second, pixel_size)
    if abs(a.pixel_size_A / b.pixel_size_A - 1) > 0.02:
        raise InputError(f"{b.name}: pixel size {b.pixel_size_A:.4f} Å differs from {a.name}'s "
                         f"{a.pixel_size_A:.4f} Å: not a pair of scans of one field")
    _check_orthogonal(a, b)
    data_a = np.asarray(a.data, np.float32)
    k, data_b, shift_yx = _turned_back(data_a, np.asarray(b.data, np.float32), quarter_turns)
    turned = Image(data=data_b, pixel_size_A=a.pixel_size_A, path=b.path, metadata=b.metadata)
    cols_a, cols_b = find_columns(a), find_columns(turned)
    separation = lattice_scale(data_a)[1] or 8.0
    # phase correlation gives the shift that moves the second scan's content onto the first's
    i, j = match_columns(cols_a.xy, cols_b.xy, shift_yx[::-1], 0.35 * separation)
    if len(i) < 30:
        raise InputError(f"{a.name} and {b.name}: only {len(i)} columns match after turning the second back "
                         f"by {k} quarter turn(s): not two scans of one field")
    coef, degree, residual = drift_from_pair(cols_a.xy[i], cols_b.xy[j], data_a.shape)
    drift_a, drift_b = _displacements(coef, degree, data_a.shape)
    # both in the specimen's frame: the first read at its row's drift (x, y); the second, whose drift is per
    # column, transposed so that its columns are rows (and its (x, y) drift the (row, column) one)
    mean = 0.5 * (warp_rows(data_a, drift_a[:, ::-1]) + warp_rows(data_b.T, drift_b).T)
    margin = int(np.ceil(max(np.abs(drift_a).max(), np.abs(drift_b).max()))) + 2
    crop = (slice(margin, data_a.shape[0] - margin), slice(margin, data_a.shape[1] - margin))
    offset = (drift_a.mean(axis=0) - drift_b.mean(axis=0)) * a.pixel_size_A
    block = {
        "n_frames": 2, "used": [0, 1], "rejected": [],
        "drift_A": [[0.0, 0.0], [round(float(offset[0]), 4), round(float(offset[1]), 4)]],
        "scan_distortion_rms_px": float(np.sqrt(np.mean(np.concatenate([drift_a - drift_a.mean(axis=0),
                                                                         drift_b - drift_b.mean(axis=0)]) ** 2))),
        "residual_px": residual, "matched_columns": int(len(i)), "quarter_turns": int(k), "degree": int(degree),
        "crop_px": [margin, margin], "registered": True,
        "method": f"orthogonal scan pair: the slow-scan drift of each (degree {degree}) from {len(i)} matched "
                  f"columns, both resampled to the specimen's frame and averaged",
    }
    metadata = {**a.metadata, "series": block, "second_scan": b.name}
    return Image(data=mean[crop].astype(np.float32), pixel_size_A=a.pixel_size_A, path=a.path,
                 metadata=to_jsonable(metadata))
