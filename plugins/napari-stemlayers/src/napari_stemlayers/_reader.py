"""Open calibrated EM images (dm3, dm4, emd, ser, hspy, zspy, mrc, tif, bcf) with ``stemlayers.load``;
a time series of frames (a stack) with ``stemlayers.load_series``, as a 3D layer (frame, y, x).

The reader is an entry point: it reads ``STEMLAYERS_MAX_MB`` (the largest file
opened, MB) here and passes it to the library.
"""

from __future__ import annotations

import os

from stemlayers import InputError, load, load_series
from stemlayers.errors import StackError
from stemlayers.io.read import MICROSCOPE_SUFFIXES, max_mb_from_env

from ._convert import image_layer_data, series_layer_data

#: The suffixes this reader offers to open: the calibrated formats (the manifest lists the same patterns;
#: napari's own readers open plain pictures and arrays, which need a pixel size anyway).
SUFFIXES = MICROSCOPE_SUFFIXES


def get_reader(path):
    """The reader function when every path has a suffix ``stemlayers.load`` reads, else None."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if paths and all(str(p).lower().rstrip("/\\").endswith(SUFFIXES) for p in paths):
        return read
    return None


def read(path, **_):
    """One calibrated Image layer per readable file.

    A time series of frames (``stemlayers.load`` raises StackError) opens
    as a 3D layer (frame, y, x), which the analysis widget registers before
    it analyses. A file that cannot be analysed (unreadable, no calibration,
    a tilt or focal series, a 4D scan, not an image, ...) gives a one-line
    napari error notification naming the file, instead of a traceback; the
    other files still open.
    """
    from napari.utils.notifications import show_error

    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    try:
        max_mb = max_mb_from_env()
    except InputError as exc:
        show_error(str(exc))
        return [(None,)]
    found = []
    for p in paths:
        try:
            try:
                found.append(image_layer_data(load(p, max_mb=max_mb)))
            except StackError:
                found.append(series_layer_data(load_series(p, max_mb=max_mb)))
        except InputError as exc:
            show_error(str(exc))
    # [(None,)] is napari's "read, but nothing to show": no second, generic error on top of ours
    return found or [(None,)]
