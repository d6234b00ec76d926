"""Read and write calibrated 2D HAADF-STEM images.

Microscope formats (dm3, dm4, emd, ser/emi, hspy, zspy, mrc, bcf, calibrated
tif, ...) are read with RosettaSciIO, the I/O library behind HyperSpy;
``.npy``, ``.png``/``.jpg`` and uncalibrated tif need an explicit pixel size.
Whatever is wrong with an input becomes an :class:`InputError` whose one-line
message starts with the file name and says what to do.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import os
import re
import stat
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError, MissingCalibration, StackError, one_line
from .jsonable import to_jsonable
from .units import PIXEL_SIZE_RANGE_A, checked_pixel_size, unit_to_angstrom, units_unset

__all__ = ["Image", "Series", "load", "load_series", "max_mb_from_env", "save", "describe", "unit_to_angstrom", "PIXEL_SIZE_RANGE_A",
           "MICROSCOPE_SUFFIXES", "READABLE_SUFFIXES"]

#: Microscope and hyperspy formats, which carry their calibration (the napari plugin's reader takes these).
MICROSCOPE_SUFFIXES = (".dm3", ".dm4", ".emd", ".ser", ".hspy", ".zspy", ".mrc", ".tif", ".tiff", ".bcf")
#: Everything :func:`load` reads (plain arrays and pictures need a pixel size); a batch searches folders for these.
READABLE_SUFFIXES = MICROSCOPE_SUFFIXES + (".npy", ".png", ".jpg", ".jpeg")

#: Largest relative difference between the x and y pixel sizes of a "square" pixel.
SQUARE_TOLERANCE = 0.01

_FORMATS = ", ".join(suffix.lstrip(".") for suffix in READABLE_SUFFIXES)
_CALIBRATION_HINT = "give the pixel size in Å/px (--pixel-size on the command line, pixel_size= in Python)"
# Detector titles in order of preference when a file holds several images.
_TITLE_RANKS = [re.compile(p, re.I) for p in (r"haadf", r"(?<![a-z])adf", r"(?<![a-z])df")]


@dataclasses.dataclass(frozen=True, eq=False)
class Image:
    """A 2D image and its pixel size.

    Attributes
    ----------
    data : (M, N) ndarray of float32
        Pixel values; rows are y, columns are x.
    pixel_size_A : float
        Size of the (square) pixels in Å.
    path : str or None
        The file it came from, or ``"<array>"`` / ``"<signal>"``.
    metadata : dict
        JSON-serialisable facts: "format", "title", "instrument", "voltage_kV",
        "date", "time", "original_units", "original_scale", "calibration", ...
    """

    data: np.ndarray
    pixel_size_A: float
    path: str | None = None
    metadata: dict = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        """The file name without folders (or the ``<...>`` placeholder)."""
        path = self.path or "<array>"
        return path if path.startswith("<") else Path(path).name

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def field_of_view_A(self) -> tuple:
        """(width, height) in Å."""
        return (self.data.shape[1] * self.pixel_size_A, self.data.shape[0] * self.pixel_size_A)

    def __repr__(self) -> str:
        return f"Image(shape={self.data.shape}, pixel_size_A={self.pixel_size_A:.6g}, path={self.path!r})"


# ------------------------------------------------------------------ reading files
def _read_npy(name: str, path: Path) -> list:
    try:
        data = np.load(path, allow_pickle=False)  # never unpickle
    except ValueError as exc:
        what = "holds pickled Python objects, which are never loaded" if "pickle" in str(exc) \
            else "is not a valid .npy file (truncated or corrupt?)"
        raise InputError(f"{name}: {what}: {one_line(exc, 200)}") from exc
    except Exception as exc:  # noqa: BLE001 - any reader failure is an input problem
        raise InputError(f"{name}: cannot read the .npy file: {one_line(exc, 200)}") from exc
    if not isinstance(data, np.ndarray):
        data.close()
        raise InputError(f"{name}: is an .npz archive, not a single .npy array")
    return [{"data": data}]


#: Largest image file read by default, MB (a guard against opening a whole session's archive by mistake).
DEFAULT_MAX_MB = 4096.0


#: The environment variable that sets the largest image file read, MB (read by the applications only).
MAX_MB_VARIABLE = "STEMLAYERS_MAX_MB"


def max_mb_from_env(environ=None) -> float | None:
    """The largest image file to read, MB, from ``STEMLAYERS_MAX_MB``; None (the library's default) when unset.

    The command line and the napari reader call this once each; the library
    itself takes ``max_mb=`` and reads no environment.

    Raises
    ------
    InputError
        The variable is set to something that is not a positive number.
    """
    value = (os.environ if environ is None else environ).get(MAX_MB_VARIABLE)
    if not value:
        return None
    try:
        limit = float(value)
    except ValueError:
        limit = float("nan")
    if not limit > 0:
        raise InputError(f"{MAX_MB_VARIABLE}={value!r} is not a positive number of MB")
    return limit


def _read_path(source, max_mb=None) -> tuple:
    """(name, list of RosettaSciIO signal dicts, reader name) of the file `source`."""
    from rsciio import IO_PLUGINS

    name = os.fspath(source)
    path = Path(name)
    ext = path.suffix.lower().lstrip(".")
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise InputError(f"{name}: file not found") from exc
    except OSError as exc:  # e.g. a folder on the way that cannot be entered
        raise InputError(f"{name}: cannot access the file: {one_line(exc, 200)}") from exc
    is_dir = stat.S_ISDIR(info.st_mode)
    if is_dir and ext != "zspy":
        raise InputError(f"{name}: is a directory, not an image file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{name}: permission denied (the file cannot be read)")
    if not is_dir and info.st_size == 0:
        raise InputError(f"{name}: empty file (0 bytes)")
    limit_mb = DEFAULT_MAX_MB if max_mb is None else float(max_mb)
    if not is_dir and info.st_size > limit_mb * 1e6:
        raise InputError(f"{name}: {info.st_size / 1e6:.0f} MB is over the {limit_mb:.0f} MB limit for one image "
                         "(raise it with STEMLAYERS_MAX_MB on the command line, max_mb= in Python)")
    if ext == "npy":
        return name, _read_npy(name, path), "numpy"
    plugins = [p for p in IO_PLUGINS if ext in {e.lower() for e in p["file_extensions"]}]
    if not plugins:
        raise InputError(f"{name}: unknown file format '{path.suffix or '(no suffix)'}'; "
                         f"readable formats: {_FORMATS}")
    failures = []
    for plugin in sorted(plugins, key=lambda p: p["name"] != "HSPY"):  # .hdf5: HyperSpy first
        # Read only the images of files that also hold (large) spectrum images.
        options = {"Bruker": {"select_type": "image"}, "EMD": {"select_type": "images"}}
        options = options.get(plugin["name"], {})
        try:
            reader = importlib.import_module(plugin["api"]).file_reader
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = reader(str(path), lazy=False, **options)
                if not found and options:  # no image: read all to say what is there
                    found = reader(str(path), lazy=False)
        except MemoryError as exc:
            raise InputError(f"{name}: too large to fit in memory") from exc
        except PermissionError as exc:
            raise InputError(f"{name}: permission denied (the file cannot be read)") from exc
        except Exception as exc:  # noqa: BLE001 - wrapped below
            failures.append((plugin["name"], exc))
            continue
        found = [found] if isinstance(found, dict) else list(found or [])
        if plugin["name"] == "TIFF":
            found = [_tiff_full_precision(d) for d in found]
        return name, found, plugin["name"]
    # Report a reader that tried and failed over one whose optional package is missing.
    reader_name, exc = sorted(failures, key=lambda f: isinstance(f[1], ImportError))[0]
    if isinstance(exc, ImportError):
        raise InputError(f"{name}: reading this {reader_name} file needs a missing optional "
                         f"package: {one_line(exc, 200)}") from exc
    readers = "/".join(n for n, _ in failures)
    raise InputError(f"{name}: unreadable as {readers} (corrupt, truncated or not really a "
                     f"'{path.suffix}' file): {one_line(exc, 200)}") from exc


def _tiff_full_precision(d: dict) -> dict:
    """Prefer the float64 DigitalMicrograph scale tags of a tif.

    HyperSpy writes ImageJ (scale truncated to 1e-8 units) and DM calibration
    and reads the ImageJ one back; where both agree, the exact DM value is used.
    """
    tags, axes = d.get("original_metadata") or {}, d.get("axes")
    dm = [tags.get(k) for k in ("65009", "65010")]
    if not axes or not all(isinstance(v, (float, int)) and v > 0 for v in dm):
        return d
    new_axes = []
    for axis in axes:
        scale = axis.get("scale")
        if not axis.get("navigate") and isinstance(scale, (float, int)):
            best = min(dm, key=lambda v: abs(v - scale))
            if abs(best - scale) <= 2e-8 + 1e-6 * best:
                axis = {**axis, "scale": float(best)}
        new_axes.append(axis)
    return {**d, "axes": new_axes}


def _signal_dicts(signal) -> list:
    """A HyperSpy signal as the RosettaSciIO-style dicts that files give."""
    manager = signal.axes_manager
    axes = sorted([*manager.navigation_axes, *manager.signal_axes], key=lambda a: a.index_in_array)
    axes = [{"name": str(a.name), "scale": getattr(a, "scale", None), "units": a.units,
             "size": a.size, "navigate": bool(a.navigate)} for a in axes]
    return [{"data": np.asarray(signal.data), "axes": axes,
             "metadata": signal.metadata.as_dictionary()}]


# ------------------------------------------------------------------ choosing the image
def _layout(d: dict) -> tuple:
    """(data with the image axes last, their axes or None, number of signal axes, nav shape)."""
    data = np.asarray(d["data"])
    axes = d.get("axes")
    if axes is None and data.ndim == 3 and data.shape[-1] in (3, 4) and data.dtype.kind in "uif" \
            and min(data.shape[:2]) > 4:  # an RGB(A) array
        data = np.rec.fromarrays([data[..., i] for i in range(3)], names="R,G,B").view(np.ndarray)
    if axes is not None and len(axes) != data.ndim:
        axes = None
    flags = [a.get("navigate") for a in axes or []]
    if axes and None not in flags:
        sig = [i for i, f in enumerate(flags) if not f]
    else:  # unknown: the last two axes are the image
        sig = list(range(max(data.ndim - 2, 0), data.ndim))
    if len(sig) != 2:
        return data, axes, len(sig), ()
    order = [i for i in range(data.ndim) if i not in sig] + sig
    data = np.transpose(data, order)
    return data, [axes[i] for i in order] if axes else None, 2, data.shape[:-2]


def _title(d: dict) -> str:
    return str(((d.get("metadata") or {}).get("General") or {}).get("title") or "")


def _what_is(d: dict) -> str:
    data, _, n_signal, _ = _layout(d)
    label = f" '{_title(d)}'" if _title(d) else ""
    shape = "x".join(map(str, data.shape))
    if data.ndim < 2 and data.size <= 1:
        return f"a single number{label}"
    if data.ndim == 1:
        return f"1D data{label} of {data.size} points (a spectrum or profile)"
    if n_signal == 1:
        return f"a spectrum image{label} ({shape}: positions x channels)"
    if np.iscomplexobj(data):
        return f"a complex-valued image{label} ({shape})"
    return f"{data.ndim}D data{label} ({shape}) with {n_signal} signal axes"


def _image_candidates(found: list) -> list:
    """Indices of the 2D images in `found`, best first (detector title, single, calibrated)."""
    ranked = []
    for index, d in enumerate(found):
        data, axes, n_signal, nav_shape = _layout(d)
        if n_signal != 2 or min(data.shape[-2:]) < 2 or not (
                data.dtype.names or data.dtype.kind in "buif"):
            continue
        title = _title(d)
        rank = next((i for i, rx in enumerate(_TITLE_RANKS) if rx.search(title)), len(_TITLE_RANKS))
        uncalibrated = not axes or units_unset(axes[-1].get("units"))
        ranked.append((rank, int(np.prod(nav_shape)) > 1, uncalibrated, index))
    return [r[-1] for r in sorted(ranked)]


def _pick_frame(name: str, data: np.ndarray, nav_shape: tuple, frame) -> np.ndarray:
    n = int(np.prod(nav_shape))
    ny, nx = data.shape[-2:]
    if n == 1:
        if frame is not None and np.any(np.asarray(frame, dtype=object) != 0):
            raise InputError(f"{name}: holds a single image, so frame={frame!r} does not exist")
        return data.reshape(ny, nx)
    if frame is None:
        what = (f"is a stack of {n} frames of {ny}x{nx} images" if len(nav_shape) == 1 else
                f"is a {len(nav_shape) + 2}D dataset: {ny}x{nx} images at "
                f"{'x'.join(map(str, nav_shape))} = {n} navigation positions")
        raise StackError(f"{name}: {what}, not a single 2D image; register the frames with "
                         f"stemlayers.load_series and stemlayers.register (analyze does it), or pick one "
                         f"with frame=N, 0 <= N < {n}")
    try:
        if isinstance(frame, (tuple, list)):
            index = int(np.ravel_multi_index(tuple(int(f) for f in frame), nav_shape))
        elif isinstance(frame, (int, np.integer)) and 0 <= frame < n:
            index = int(frame)
        else:
            raise ValueError(frame)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: frame={frame!r} is not one of the {n} frames "
                         f"(0 <= frame < {n}, or one index per axis of {nav_shape})") from exc
    return data[np.unravel_index(index, nav_shape)]  # a view, even of a huge scan


# ------------------------------------------------------------------ calibration and checks
_UNIT_DISPLAY = {0.01: "pm", 1.0: "Å", 10.0: "nm", 1e4: "µm", 1e7: "mm", 1e10: "m"}


def units_note(units) -> str | None:
    """"axis units 'n_m' read as nm" when a file spells a length unit other than the usual way, else None."""
    factor = None if units is None else unit_to_angstrom(units)
    if factor is None:
        return None
    shown = _UNIT_DISPLAY.get(factor)
    if str(units).strip() in (shown, "A", "um", "μm", "Angstrom", "angstrom"):
        return None
    return f"axis units '{units}' read as {shown}"


def _calibration(name: str, axes, check_range: bool) -> tuple:
    """(pixel size in Å, units, scale) from the file's (y, x) image axes."""
    if not axes:
        raise MissingCalibration(f"{name}: has no spatial calibration; {_CALIBRATION_HINT}")
    sizes = []
    for axis in axes[-2:]:
        units, scale = axis.get("units"), axis.get("scale")
        scale = 1.0 if scale is None else abs(float(scale))
        if units_unset(units):
            extra = "" if scale == 1.0 else f", scale {scale:.6g}"
            raise MissingCalibration(f"{name}: has no spatial calibration (axis units unset{extra}); "
                             f"{_CALIBRATION_HINT}")
        factor = unit_to_angstrom(units)
        if factor is None:
            raise InputError(f"{name}: axis units '{units}' are not a length (pm, Å, nm, µm); "
                             f"{_CALIBRATION_HINT} to override")
        if not math.isfinite(scale) or scale == 0:
            raise InputError(f"{name}: invalid axis scale {scale!r} {units}/px; {_CALIBRATION_HINT}")
        sizes.append((scale * factor, str(units), scale))
    (y_size, _, _), (x_size, units, scale) = sizes
    if abs(x_size - y_size) > SQUARE_TOLERANCE * max(x_size, y_size):
        raise InputError(f"{name}: non-square pixels (x {x_size:.5g} Å/px, y {y_size:.5g} Å/px, "
                         f"{100 * abs(x_size - y_size) / max(x_size, y_size):.1f} % apart > 1 %); "
                         f"resample the image, or {_CALIBRATION_HINT} to override")
    size = 0.5 * (x_size + y_size)
    lo, hi = PIXEL_SIZE_RANGE_A
    if check_range and not lo <= size <= hi:
        raise InputError(f"{name}: pixel size {size:.5g} Å/px (read as {scale:.6g} {units}/px) is "
                         f"outside the plausible range {lo}-{hi} Å/px for atomic-resolution "
                         f"HAADF-STEM; check the calibration, or {_CALIBRATION_HINT}")
    return size, units, scale


def _grey_float32(name: str, data: np.ndarray) -> np.ndarray:
    if data.dtype.names:
        fields = {f.upper(): f for f in data.dtype.names}
        if not {"R", "G", "B"} <= set(fields):
            raise InputError(f"{name}: pixel type {data.dtype} is not an image")
        r, g, b = (data[fields[c]].astype(np.float32) for c in "RGB")
        return 0.2125 * r + 0.7154 * g + 0.0721 * b  # luminance, as skimage.color.rgb2gray
    return np.ascontiguousarray(data, dtype=np.float32)


def _metadata(d: dict) -> dict:
    """Plain metadata of a signal dict, with the reader's mapping from original metadata applied."""
    md = to_jsonable(d.get("metadata") or {})
    original = d.get("original_metadata") or {}
    for source, (target, function) in (d.get("mapping") or {}).items():
        node = original
        for key in source.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        try:
            value = node if function is None or node is None else function(node)
        except Exception:  # noqa: BLE001 - a mapping the file does not fit
            value = None
        if value is not None:
            *parents, leaf = target.split(".")
            branch = md
            for key in parents:
                branch = branch.setdefault(key, {}) if isinstance(branch.get(key, {}), dict) else {}
            branch[leaf] = to_jsonable(value)
    general = md.get("General") or {}
    instrument = md.get("Acquisition_instrument") or {}
    microscope = instrument.get("TEM") or instrument.get("SEM") or {}
    facts = {"title": general.get("title"), "date": general.get("date"),
             "time": general.get("time"), "authors": general.get("authors"),
             "original_filename": general.get("original_filename"),
             "instrument": microscope.get("microscope"), "voltage_kV": microscope.get("beam_energy"),
             "magnification": microscope.get("magnification"),
             "camera_length": microscope.get("camera_length"),
             "acquisition_mode": microscope.get("acquisition_mode"),
             "dwell_time_s": microscope.get("dwell_time"),
             "signal_type": (md.get("Signal") or {}).get("signal_type"),
             "scan_rotation_deg": _scan_rotation_deg(original)}
    return {k: v for k, v in facts.items() if v not in (None, "", {}, [])}


def _scan_rotation_deg(original: dict) -> float | None:
    """The scan rotation a Velox file records (``Scan.ScanRotation``, radians), in degrees."""
    scan = original.get("Scan") if isinstance(original, dict) else None
    try:
        return round(float(np.degrees(float(scan["ScanRotation"]))), 3)
    except (TypeError, KeyError, ValueError):
        return None


#: Least share of finite pixels an image needs: an aligned, rotated or cropped export leaves a border of NaN,
#: which is filled; an image mostly without numbers is not one.
MIN_FINITE_SHARE = 0.5


def _with_gaps_filled(name, grey):
    """(image, count): NaN and infinite pixels set to the median of the finite ones, and how many there were.

    A registered or rotated export marks the pixels outside the scan as NaN; the median makes them a flat
    background in which no column is found.
    """
    finite = np.isfinite(grey)
    if finite.all():
        return grey, 0
    n_nan = int(np.isnan(grey).sum())
    n_inf = grey.size - int(finite.sum()) - n_nan
    if finite.mean() < MIN_FINITE_SHARE:
        raise InputError(f"{name}: {n_nan} NaN and {n_inf} infinite pixel(s) of {grey.size}: fewer than "
                         f"{100 * MIN_FINITE_SHARE:.0f} % of the pixels are numbers")
    return np.where(finite, grey, np.median(grey[finite])).astype(np.float32), grey.size - int(finite.sum())


def _make_image(name, found, reader, pixel_size, frame, check_range) -> Image:
    candidates = _image_candidates(found)
    if not candidates:
        kinds = "; ".join(_what_is(d) for d in found[:4]) or "nothing readable"
        raise InputError(f"{name}: holds no 2D image, only {kinds}")
    chosen = candidates[0]
    data, axes, _, nav_shape = _layout(found[chosen])
    image = _pick_frame(name, data, nav_shape, frame)
    if pixel_size is not None:
        size = checked_pixel_size(name, pixel_size, check_range)
        units = scale = None
        if axes and not units_unset(axes[-1].get("units")):
            units, scale = str(axes[-1]["units"]), axes[-1].get("scale")
    else:
        size, units, scale = _calibration(name, axes, check_range)
    grey, filled = _with_gaps_filled(name, _grey_float32(name, image))
    if grey.min() == grey.max():
        raise InputError(f"{name}: constant image (every pixel is {float(grey.flat[0]):g}); "
                         "nothing to analyse")
    md = {"format": reader, "dtype": str(image.dtype), **_metadata(found[chosen]),
          "original_units": units, "original_scale": scale,
          "calibration": "file" if pixel_size is None else "pixel_size argument"}
    note = units_note(units)
    if note and pixel_size is None:
        md["units_read_as"] = note
    if filled:
        md.update(non_finite_pixels=filled, non_finite_share=filled / grey.size)
    if len(found) > 1:
        md.update(signal_index=chosen, n_signals_in_file=len(found))
    if int(np.prod(nav_shape)) > 1:
        md.update(frame=frame, n_frames=int(np.prod(nav_shape)))
    return Image(data=grey, pixel_size_A=float(size), path=name, metadata=to_jsonable(md))


@dataclasses.dataclass(frozen=True, eq=False)
class Series:
    """The frames of a time series of one field, as read (not yet registered).

    Attributes
    ----------
    frames : (n, rows, cols) float32 array
    pixel_size_A : float
    path : str or None
    metadata : dict
        JSON-safe; ``frame_time_s`` when the stack's axis is in time units,
        ``drift_corrected`` when the microscope registered the frames already
        (a DCFI series).
    """

    frames: np.ndarray
    pixel_size_A: float
    path: str | None = None
    metadata: dict = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else "<series>"


#: Units and names of a stack axis that is not time: a tilt or focal series is not a series of one view.
_NOT_TIME = re.compile(r"deg|rad|°|tilt|focus|defocus|angle|energy|ev\b", re.I)
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "min": 60.0}


def load_series(source, pixel_size=None, *, max_mb=None) -> Series:
    """The frames of a time series (a stack of images of one field), calibrated.

    Parameters
    ----------
    source : path, hyperspy Signal2D or (n, rows, cols) ndarray (with `pixel_size`)
    pixel_size : float, optional
        Å/px, overriding the file's calibration.
    max_mb : float, optional
        Largest file read (see :func:`load`).

    Returns
    -------
    Series

    Raises
    ------
    InputError
        One line naming the file: a single image, a spectrum image, a 4D
        scan, a tilt or focal series, too few frames, NaN pixels.
    """
    if isinstance(source, np.ndarray):
        if pixel_size is None:
            raise MissingCalibration(f"<array>: a bare array has no spatial calibration; {_CALIBRATION_HINT}")
        name, found, reader = "<array>", [{"data": source}], "array"
    elif hasattr(source, "axes_manager") and hasattr(source, "data"):
        name, found, reader = "<signal>", _signal_dicts(source), "hyperspy"
    else:
        name, found, reader = _read_path(source, max_mb)
    for i in _image_candidates(found):  # the best image that is a stack (a single image's nav shape is ())
        d = found[i]
        data, axes, _, nav_shape = _layout(d)
        if int(np.prod(nav_shape)) > 1:
            break
    else:
        raise InputError(f"{name}: holds no stack of frames (a single image: use stemlayers.load)")
    if len(nav_shape) != 1:
        raise InputError(f"{name}: is a {len(nav_shape) + 2}D dataset ({'x'.join(map(str, nav_shape))} positions), "
                         "not a time series of frames")
    nav = (axes or [{}])[0]
    if _NOT_TIME.search(f"{nav.get('name') or ''} {nav.get('units') or ''}"):
        raise InputError(f"{name}: its stack axis is '{nav.get('name')}' in {nav.get('units')!r}: a tilt, focal or "
                         "energy series, not frames of one view in time")
    if nav_shape[0] < 2:
        raise InputError(f"{name}: a series needs at least 2 frames")
    if pixel_size is not None:
        size = checked_pixel_size(name, pixel_size, True)
    else:
        size, _, _ = _calibration(name, axes, True)
    frames = np.ascontiguousarray(data, dtype=np.float32)
    filled = 0
    if not np.isfinite(frames).all():  # frame by frame: each one's border gets its own median
        pairs = [_with_gaps_filled(f"{name} (frame {i})", frame) for i, frame in enumerate(frames)]
        frames = np.stack([frame for frame, _ in pairs])
        filled = sum(count for _, count in pairs)
    md = {"format": reader, **_metadata(d), "n_frames": int(nav_shape[0])}
    if filled:
        md.update(non_finite_pixels=filled, non_finite_share=filled / frames.size)
    unit = str(nav.get("units") or "").strip()
    if unit in _TIME_UNITS and nav.get("scale"):
        md["frame_time_s"] = float(nav["scale"]) * _TIME_UNITS[unit]
    md["drift_corrected"] = bool(re.search(r"dcfi|drift.?correct", _title(d), re.I))
    return Series(frames, float(size), None if name.startswith("<") else name, to_jsonable(md))


def _load(source, pixel_size, frame, check_range: bool, max_mb=None) -> Image:
    if isinstance(source, Image):
        if pixel_size is None:
            return source
        size = checked_pixel_size(source.path or "<array>", pixel_size, check_range)
        return dataclasses.replace(source, pixel_size_A=size, metadata={
            **source.metadata, "calibration": "pixel_size argument"})
    if isinstance(source, (str, os.PathLike)):
        name, found, reader = _read_path(source, max_mb)
        return _make_image(name, found, reader, pixel_size, frame, check_range)
    if hasattr(source, "axes_manager") and hasattr(source, "data"):
        return _make_image("<signal>", _signal_dicts(source), "hyperspy", pixel_size, frame,
                           check_range)
    if isinstance(source, np.ndarray):
        if source.ndim >= 2 and pixel_size is None:
            raise MissingCalibration(f"<array>: a bare array has no spatial calibration; {_CALIBRATION_HINT}")
        return _make_image("<array>", [{"data": source}], "array", pixel_size, frame, check_range)
    raise InputError(f"<{type(source).__name__}>: cannot load this; give a file path, an Image, "
                     "a HyperSpy Signal2D or a 2D NumPy array")


def load(source, pixel_size=None, *, frame=None, max_mb=None) -> Image:
    """Load a 2D image with its pixel size in Å.

    Parameters
    ----------
    source : str, Path, Image, hyperspy Signal2D or (M, N) ndarray
        A file in any 2D image format RosettaSciIO reads (or ``.npy``), an
        :class:`Image`, a HyperSpy signal (its axes calibration is used) or an
        array (then `pixel_size` is required). When a file holds several
        signals, the HAADF/ADF/DF image is taken, else the first 2D image.
    pixel_size : float, optional
        Pixel size in Å/px; overrides the file's calibration and is required
        for files without one (npy, png, jpg, plain tif).
    frame : int or tuple of int, optional
        Which image of a stack or scan: a flat index into the navigation
        axes, or one index per axis. A stack without `frame` is an error.
    max_mb : float, optional
        Largest file read, MB (default :data:`DEFAULT_MAX_MB`; the command
        line takes it from ``STEMLAYERS_MAX_MB``).

    Returns
    -------
    Image
        float32 data (RGB converted to grey), pixel size in Å, JSON-safe metadata.

    Raises
    ------
    InputError
        If the input is unreadable or not a finite, non-constant 2D image with
        square pixels of 0.005-1.0 Å; the message starts with the file name.
    """
    return _load(source, pixel_size, frame, check_range=True, max_mb=max_mb)


def describe(source, pixel_size=None, *, frame=None, max_mb=None) -> dict:
    """What ``stemlayers info FILE`` prints, as a JSON-serialisable dict.

    Keys: file, format, shape, dtype, pixel_size_A, pixel_size_plausible,
    original_units, original_scale, field_of_view_A and _nm ([width, height]),
    min, max, mean, std, metadata. Unlike :func:`load`, an implausible pixel
    size is reported rather than raised, and a file without calibration is
    described all the same (pixel size and field of view None, the reason in
    ``metadata["calibration_note"]``).
    """
    try:
        image = _load(source, pixel_size, frame, check_range=False, max_mb=max_mb)
        uncalibrated = None
    except MissingCalibration as exc:  # what the file holds is still worth showing
        image = _load(source, 1.0, frame, check_range=False, max_mb=max_mb)
        uncalibrated = str(exc)
    data, md = image.data, image.metadata
    size = None if uncalibrated else image.pixel_size_A
    width, height = (None, None) if uncalibrated else image.field_of_view_A
    lo, hi = PIXEL_SIZE_RANGE_A
    if uncalibrated:
        md = {**md, "calibration": "none", "calibration_note": uncalibrated}
    return to_jsonable({
        "file": image.path, "format": md.get("format"), "shape": list(data.shape),
        "dtype": md.get("dtype", str(data.dtype)), "pixel_size_A": size,
        "pixel_size_plausible": None if size is None else lo <= size <= hi,
        "original_units": md.get("original_units"), "original_scale": md.get("original_scale"),
        "field_of_view_A": None if size is None else [width, height],
        "field_of_view_nm": None if size is None else [width / 10, height / 10], "min": float(data.min()),
        "max": float(data.max()), "mean": float(data.mean()), "std": float(data.std()),
        "metadata": md,
    })


def save(data, path, pixel_size_A: float, metadata: dict | None = None, units: str = "Å"):
    """Write a calibrated 2D image; see :func:`stemlayers.io.write.save`."""
    from .write import save as _save

    return _save(data, path, pixel_size_A, metadata=metadata, units=units)
