"""Write calibrated 2D images (hspy, zspy, tif, emd, npy), atomically."""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from .jsonable import to_jsonable
from .units import checked_pixel_size, unit_to_angstrom

__all__ = ["FIGURE_SUFFIXES", "check_output", "save", "write_json", "write_text_atomic"]

#: Figure formats the report figure is written in.
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def check_output(path, suffixes=None, what="file", make_folders=False) -> Path:
    """Check before any work that `path` can be written; raise InputError (one line naming it) if not.

    Parameters
    ----------
    path : str or Path
    suffixes : sequence of str, optional
        The formats the writer knows (lower case, with the dot).
    what : str
        What is written, for the message ("figure", "results table", ...).
    make_folders : bool
        The writer creates missing folders: then the nearest existing one must be writable.

    Returns
    -------
    Path

    Examples
    --------
    >>> check_output("/nonexistent/dir/r.json", what="JSON report")
    Traceback (most recent call last):
    ...
    stemlayers.errors.InputError: /nonexistent/dir/r.json: cannot write the JSON report: folder /nonexistent/dir does not exist
    """
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"{path}: cannot write the {what} as '{path.suffix or 'no suffix'}'; use "
                         + ", ".join(suffixes))
    if path.is_dir():
        raise InputError(f"{path}: cannot write the {what}: it is a folder")
    folder = path.parent
    if make_folders:
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
    if not folder.is_dir():
        problem = "does not exist" if not folder.exists() else "is not a folder"
        raise InputError(f"{path}: cannot write the {what}: folder {folder} {problem}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write the {what}: folder {folder} is not writable")
    return path


def write_bytes_atomic(path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder, then rename it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_atomic(path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` through a temporary file in the same folder, then rename it."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json(data, target) -> Path | None:
    """`data` as indented JSON with a final newline: to `target` atomically, or to standard output for "-".

    The one JSON writer of the project (reports from the CLI, the batch and
    the plugin, simulation truths), so every JSON file reads the same.
    Returns the path written (None for standard output).
    """
    import json
    import sys

    text = json.dumps(data, indent=1) + "\n"
    if str(target) == "-":
        sys.stdout.write(text)
        return None
    return write_text_atomic(target, text)


def save(data, path, pixel_size_A: float, metadata: dict | None = None, units: str = "Å") -> Path:
    """Write a calibrated 2D image, in the format the suffix of `path` names.

    Parameters
    ----------
    data : (M, N) array_like or Image
        The image.
    path : str or Path
        ``.hspy``, ``.zspy``, ``.tif``/``.tiff`` (DM and ImageJ calibration
        tags), ``.emd`` (NCEM EMD) or ``.npy`` (plain array, no calibration).
    pixel_size_A : float
        Pixel size in Å.
    metadata : dict, optional
        "title", "date", "time", "instrument" and "voltage_kV" go into the
        signal metadata, all of it into ``original_metadata.stemlayers``.
    units : str, optional
        Length unit of the written axes ("pm", "Å", "A", "nm", "µm", ...);
        the scale is converted to it.

    Returns
    -------
    Path
        `path`; written to a temporary name in the same folder, then renamed.
    """
    path = Path(path)
    array = np.asarray(getattr(data, "data", data))  # an Image or a hyperspy signal holds its pixels in .data
    if array.ndim != 2:
        raise InputError(f"{path}: save needs a 2D image, not shape {array.shape}")
    size = checked_pixel_size(str(path), pixel_size_A, check_range=False)
    factor = unit_to_angstrom(units)
    if factor is None:
        raise InputError(f"{path}: unknown length unit {units!r} (use pm, Å, nm or µm)")
    if path.suffix.lower() not in {".hspy", ".zspy", ".tif", ".tiff", ".emd", ".npy"}:
        raise InputError(f"{path}: cannot write '{path.suffix}' files; use .hspy, .zspy, .tif, "
                         ".emd or .npy")
    token = uuid.uuid4().hex[:8]
    tmp = path.with_name(f".{path.stem}.{token}.tmp{path.suffix}")
    try:
        if path.suffix.lower() == ".npy":
            np.save(tmp, array, allow_pickle=False)
        else:
            _write_signal(array, tmp, size / factor, units, to_jsonable(metadata or {}))
        if path.is_dir():  # an existing .zspy store: swap it out
            old = path.with_name(f".{path.stem}.{token}.old{path.suffix}")
            os.replace(path, old)
            os.replace(tmp, path)
            _remove(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return path


def _write_signal(array, tmp: Path, scale: float, units: str, md: dict) -> None:
    import hyperspy.api as hs

    signal = hs.signals.Signal2D(array)
    for axis, axis_name in zip(signal.axes_manager.signal_axes, ("x", "y")):
        axis.name, axis.scale, axis.units, axis.offset = axis_name, scale, units, 0.0
    signal.metadata.General.add_dictionary(
        {k: str(md[k]) for k in ("title", "date", "time") if md.get(k) not in (None, "")})
    tem = {"microscope": str(md["instrument"])} if md.get("instrument") else {}
    if isinstance(md.get("voltage_kV"), (int, float)):
        tem["beam_energy"] = md["voltage_kV"]
    if tem:
        signal.metadata.add_dictionary({"Acquisition_instrument": {"TEM": tem}})
    if md:
        signal.original_metadata.add_dictionary({"stemlayers": md})
    options = {"show_progressbar": False} if tmp.suffix.lower() in (".hspy", ".zspy") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signal.save(str(tmp), overwrite=True, **options)
