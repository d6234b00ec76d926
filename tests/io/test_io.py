"""Tests of stemlayers.io.read: loading, calibration, errors, saving, real microscope files."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from stemlayers import Image, InputError, load
from stemlayers.io.read import describe, save, unit_to_angstrom

hs = pytest.importorskip("hyperspy.api")

ROUND_TRIP_FORMATS = ["hspy", "zspy", "tif", "emd"]
UNIT_SPELLINGS = {"pm": 0.01, "Å": 1.0, "A": 1.0, "angstrom": 1.0, "nm": 10.0, "µm": 1e4,
                  "um": 1e4}


def assert_input_error(excinfo, path, *fragments):
    """The message is one line, starts with the file path and contains every fragment."""
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    assert Path(path).name in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def assert_plain(obj):
    """Only built-in JSON types all the way down (no numpy scalars, enums, dates)."""
    assert type(obj) in (dict, list, str, int, float, bool, type(None)), (type(obj), obj)
    for value in obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ():
        assert_plain(value)


def assert_json_metadata(image: Image):
    text = json.dumps(image.metadata, allow_nan=False)
    assert json.loads(text) == image.metadata
    assert_plain(image.metadata)


def signal2d(data, scale=0.01, units="nm", title=""):
    """A HyperSpy Signal2D with the given calibration on both image axes."""
    signal = hs.signals.Signal2D(np.asarray(data))
    for axis in signal.axes_manager.signal_axes:
        axis.scale, axis.units = scale, units
    signal.metadata.General.title = title
    return signal


def write_hspy(signal, path: Path) -> Path:
    signal.save(str(path), overwrite=True, show_progressbar=False)
    return path


# ----------------------------------------------------------------- units
@pytest.mark.parametrize("units, factor", [
    ("pm", 0.01), ("A", 1.0), ("Å", 1.0), ("\u212b", 1.0), ("A\u030a", 1.0), ("ang", 1.0),
    ("angstrom", 1.0), ("Angstrom", 1.0), ("nm", 10.0), ("\u00b5m", 1e4), ("\u03bcm", 1e4),
    ("um", 1e4), ("micron", 1e4), ("m", 1e10), (" nm ", 10.0),
])
def test_unit_spellings(units, factor):
    assert unit_to_angstrom(units) == pytest.approx(factor)


@pytest.mark.parametrize("units", [None, "", "<undefined>", "px", "pixels", "1 / nm", "s", "eV"])
def test_not_length_units(units):
    assert unit_to_angstrom(units) is None


# ----------------------------------------------------------------- round trips
@pytest.mark.parametrize("units", list(UNIT_SPELLINGS))
@pytest.mark.parametrize("fmt", ROUND_TRIP_FORMATS)
def test_round_trip(tmp_path, lattice_image, fmt, units):
    path = tmp_path / f"image_{fmt}.{fmt}"
    written = save(lattice_image, path, 0.1234567, units=units,
                   metadata={"title": "Bi2Te3 on TiN", "voltage_kV": 300, "instrument": "Titan"})
    assert written == path and path.exists()
    image = load(path)
    assert image.pixel_size_A == pytest.approx(0.1234567, rel=1e-6)
    assert image.data.dtype == np.float32 and image.data.shape == lattice_image.shape
    np.testing.assert_array_equal(image.data, lattice_image)
    assert unit_to_angstrom(image.metadata["original_units"]) == UNIT_SPELLINGS[units]
    assert image.metadata["original_scale"] == pytest.approx(0.1234567 / UNIT_SPELLINGS[units],
                                                             rel=1e-6)
    if fmt != "tif":  # tif has no title field
        assert image.metadata["title"] == "Bi2Te3 on TiN"
    if fmt in ("hspy", "zspy"):
        assert image.metadata["voltage_kV"] == 300 and image.metadata["instrument"] == "Titan"
    assert image.path == str(path) and image.name == path.name
    assert_json_metadata(image)
    # atomic write: nothing but the file itself is left in the folder
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_save_overwrites_atomically(tmp_path, lattice_image):
    for fmt in ("zspy", "hspy", "tif"):
        path = tmp_path / f"again.{fmt}"
        save(lattice_image, path, 0.1)
        save(lattice_image[::-1], path, 0.2, units="pm")
        image = load(path)
        assert image.pixel_size_A == pytest.approx(0.2)
        np.testing.assert_array_equal(image.data, lattice_image[::-1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.hspy", "again.tif", "again.zspy"]


def test_save_npy_is_plain_array(tmp_path, lattice_image):
    path = save(lattice_image.astype(np.uint16), tmp_path / "plain.npy", 0.1)
    np.testing.assert_array_equal(np.load(path), lattice_image.astype(np.uint16))
    with pytest.raises(InputError) as excinfo:
        load(path)
    assert_input_error(excinfo, path, "no spatial calibration", "pixel_size")
    image = load(path, pixel_size=0.1)
    assert image.data.dtype == np.float32 and image.pixel_size_A == 0.1


@pytest.mark.parametrize("bad", [
    dict(data=np.zeros((3, 4, 5)), pixel_size_A=0.1, path="x.hspy"),
    dict(data=np.zeros((4, 5)), pixel_size_A=0.1, path="x.png"),
    dict(data=np.zeros((4, 5)), pixel_size_A=0.1, path="x.hspy", units="parsec"),
    dict(data=np.zeros((4, 5)), pixel_size_A=-1, path="x.hspy"),
])
def test_save_rejects_bad_arguments(tmp_path, bad):
    bad["path"] = tmp_path / bad["path"]
    with pytest.raises(InputError):
        save(**bad)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------- uncalibrated inputs
def _write_uncalibrated(kind: str, folder: Path, image: np.ndarray) -> Path:
    grey8 = np.round(255 * (image - image.min()) / np.ptp(image)).astype(np.uint8)
    if kind == "npy":
        path = folder / "plain.npy"
        np.save(path, image)
    elif kind == "png":
        import imageio.v3 as iio

        path = folder / "plain.png"
        iio.imwrite(path, grey8)
    elif kind == "rgb.png":
        import imageio.v3 as iio

        path = folder / "colour.png"
        iio.imwrite(path, np.stack([grey8] * 3, axis=-1))
    elif kind == "jpg":
        import imageio.v3 as iio

        path = folder / "plain.jpg"
        iio.imwrite(path, grey8)
    else:
        import tifffile

        path = folder / "plain.tif"
        tifffile.imwrite(path, image)
    return path


@pytest.mark.parametrize("kind", ["npy", "png", "rgb.png", "jpg", "tif"])
def test_uncalibrated_file_needs_pixel_size(tmp_path, lattice_image, kind):
    path = _write_uncalibrated(kind, tmp_path, lattice_image)
    with pytest.raises(InputError) as excinfo:
        load(path)
    assert_input_error(excinfo, path, "no spatial calibration", "pixel_size=", "--pixel-size")
    image = load(path, pixel_size=0.25)
    assert image.pixel_size_A == 0.25
    assert image.data.shape == lattice_image.shape and image.data.dtype == np.float32
    assert image.metadata["calibration"] == "pixel_size argument"
    if kind in ("npy", "tif"):
        np.testing.assert_array_equal(image.data, lattice_image)
    else:  # 8-bit versions (RGB converted to grey) still follow the lattice
        assert np.corrcoef(image.data.ravel(), lattice_image.ravel())[0, 1] > 0.95
    assert_json_metadata(image)


def test_pixel_size_argument_overrides_file(tmp_path, lattice_image):
    path = save(lattice_image, tmp_path / "calibrated.hspy", 0.15, units="nm")
    image = load(path, pixel_size=0.0933)
    assert image.pixel_size_A == 0.0933
    assert image.metadata["calibration"] == "pixel_size argument"
    assert image.metadata["original_units"] == "nm"


# ----------------------------------------------------------------- bad inputs
def _bad_file(case: str, folder: Path, image: np.ndarray):
    """Make the bad input `case` in `folder`: (path, fragments the message must contain)."""
    if case == "missing":
        return folder / "nowhere.dm3", ["not found"]
    if case == "directory":
        path = folder / "a_folder.dm3"
        path.mkdir()
        return path, ["directory"]
    if case == "empty":
        path = folder / "empty.dm3"
        path.write_bytes(b"")
        return path, ["empty"]
    if case == "truncated":
        whole = save(image, folder / "whole.hspy", 0.1)
        blob = whole.read_bytes()
        path = folder / "truncated.hspy"
        path.write_bytes(blob[: len(blob) // 2])
        return path, ["unreadable", "truncated"]
    if case == "text_as_dm3":
        path = folder / "notes.dm3"
        path.write_text("This is a lab notebook entry, not a DigitalMicrograph file.\n" * 20)
        return path, ["unreadable", "DigitalMicrograph"]
    if case == "unknown_suffix":
        path = folder / "image.xyz123"
        path.write_text("1 2 3\n")
        return path, ["unknown file format", ".xyz123"]
    if case == "pickled_npy":
        path = folder / "objects.npy"
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
        return path, ["pickled"]
    if case == "stack":
        path = write_hspy(signal2d(np.stack([image] * 5)), folder / "stack.hspy")
        return path, ["5 frames", "frame=", "load_series"]
    if case == "4d":
        data = np.broadcast_to(image, (3, 4) + image.shape).copy()
        path = write_hspy(signal2d(data), folder / "scan4d.hspy")
        return path, ["12 navigation positions", "3x4", "frame="]
    if case == "1d":
        signal = hs.signals.Signal1D(np.arange(100.0))
        return write_hspy(signal, folder / "spectrum.hspy"), ["1D", "100 points", "no 2D image"]
    if case in ("nan", "inf"):  # more than half the pixels without a number
        bad = image.copy()
        bad[: bad.shape[0] * 3 // 4] = np.nan if case == "nan" else np.inf
        bad[-1, -1] = -np.inf if case == "inf" else np.nan
        path = save(bad, folder / f"{case}.hspy", 0.1)
        n = bad.shape[1] * (bad.shape[0] * 3 // 4)
        return path, ([f"{n + 1} NaN and 0 infinite", "fewer than 50 %"] if case == "nan"
                      else [f"0 NaN and {n + 1} infinite", "fewer than 50 %"])
    if case == "constant":
        return save(np.full((32, 32), 7.0), folder / "flat.hspy", 0.1), ["constant", "7"]
    if case == "too_coarse":
        return save(image, folder / "coarse.hspy", 5.0, units="nm"), ["5 Å/px", "0.5 nm/px"]
    if case == "too_fine":
        return save(image, folder / "fine.hspy", 0.001, units="pm"), ["0.001 Å/px", "0.1 pm/px"]
    if case == "non_square":
        signal = signal2d(image, 0.01, "nm")
        signal.axes_manager.signal_axes[1].scale = 0.012
        return write_hspy(signal, folder / "stretched.hspy"), ["non-square", "0.1 Å/px", "0.12 Å/px"]
    if case == "no_calibration":
        return write_hspy(hs.signals.Signal2D(image), folder / "bare.hspy"), [
            "no spatial calibration", "pixel_size=", "Å"]
    if case == "reciprocal_units":
        return write_hspy(signal2d(image, 0.05, "1 / nm"), folder / "diffraction.hspy"), [
            "1 / nm", "not a length"]
    if case == "complex":
        signal = hs.signals.ComplexSignal2D(image + 1j * image)
        return write_hspy(signal, folder / "fft.hspy"), ["complex"]
    if case == "permission":
        path = save(image, folder / "locked.hspy", 0.1)
        path.chmod(0)
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that read a chmod-000 file (root)")
        return path, ["permission denied"]
    raise AssertionError(case)


BAD_CASES = ["missing", "directory", "empty", "truncated", "text_as_dm3", "unknown_suffix",
             "pickled_npy", "stack", "4d", "1d", "nan", "inf", "constant", "too_coarse",
             "too_fine", "non_square", "no_calibration", "reciprocal_units", "complex",
             "permission"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_file_raises_input_error(tmp_path, lattice_image, case):
    path, fragments = _bad_file(case, tmp_path, lattice_image)
    with pytest.raises(InputError) as excinfo:
        load(path)
    assert_input_error(excinfo, path, *fragments)
    assert isinstance(excinfo.value, ValueError)
    if case not in ("too_coarse", "too_fine", "no_calibration"):  # describe() reports these, not raises
        with pytest.raises(InputError):
            describe(path)


def test_a_border_without_numbers_is_filled_and_counted(tmp_path, lattice_image):
    """An aligned or rotated export marks the pixels outside the scan NaN: they become the median."""
    image = lattice_image.astype(np.float32)
    bordered = image.copy()
    bordered[:, :5] = np.nan
    bordered[0, 10] = np.inf
    loaded = load(save(bordered, tmp_path / "aligned.hspy", 0.1))
    assert np.isfinite(loaded.data).all()
    assert loaded.metadata["non_finite_pixels"] == 5 * image.shape[0] + 1
    assert np.all(loaded.data[:, :5] == np.median(image[:, 5:][np.isfinite(bordered[:, 5:])]))
    assert np.array_equal(loaded.data[1:, 5:], image[1:, 5:])


@pytest.mark.skipif(not hasattr(os, "fork") or os.geteuid() != 0,
                    reason="needs root to switch user; other users run the 'permission' case above")
def test_permission_denied_for_unprivileged_user(lattice_image):
    """Root reads a chmod-000 file anyway, so a forked child reads it as user 'nobody'."""
    folder = Path(tempfile.mkdtemp(prefix="stemlayers-permission-"))
    try:
        folder.chmod(0o755)
        path = save(lattice_image, folder / "locked.hspy", 0.1)
        load(path)  # readable by root; also imports every module the child needs
        path.chmod(0)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: drop privileges, try to load, report through the pipe
            try:
                os.setgid(65534)
                os.setuid(65534)
                try:
                    load(path)
                    message = "loaded"
                except InputError as exc:
                    message = f"InputError: {exc}"
                except BaseException as exc:  # noqa: BLE001 - reported to the parent
                    message = f"{type(exc).__name__}: {exc}"
                os.write(write_end, message.encode())
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            message = pipe.read().decode()
        os.waitpid(pid, 0)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert message == f"InputError: {path}: permission denied (the file cannot be read)"


def test_implausible_pixel_size_argument(lattice_image):
    with pytest.raises(InputError, match=r"^<array>: pixel size 12 Å/px .* not nm"):
        load(lattice_image, pixel_size=12)
    with pytest.raises(InputError, match="positive"):
        load(lattice_image, pixel_size=-0.1)
    with pytest.raises(InputError, match="not a number"):
        load(lattice_image, pixel_size="fast")


def test_describe_reports_implausible_pixel_size(tmp_path, lattice_image):
    path = save(lattice_image, tmp_path / "coarse.tif", 5.0, units="nm")
    info = describe(path)
    assert info["pixel_size_A"] == pytest.approx(5.0, rel=1e-6)
    assert info["pixel_size_plausible"] is False


# ----------------------------------------------------------------- frames
def test_frame_picks_one_image_of_a_stack(tmp_path, lattice_image):
    stack = np.stack([lattice_image + 10 * k for k in range(5)])
    path = write_hspy(signal2d(stack, 12.5, "pm"), tmp_path / "series.hspy")
    image = load(path, frame=3)
    np.testing.assert_array_equal(image.data, stack[3])
    assert image.pixel_size_A == pytest.approx(0.125)
    assert image.metadata["frame"] == 3 and image.metadata["n_frames"] == 5
    for bad in (5, -1, 1.5, "x"):
        with pytest.raises(InputError) as excinfo:
            load(path, frame=bad)
        assert_input_error(excinfo, path, "frame")


def test_frame_in_a_4d_scan(tmp_path, lattice_image):
    data = np.stack([np.stack([lattice_image * (1 + i) + j for j in range(4)]) for i in range(3)])
    path = write_hspy(signal2d(data, 0.1, "Å"), tmp_path / "scan.hspy")
    np.testing.assert_array_equal(load(path, frame=(2, 1)).data, data[2, 1])
    np.testing.assert_array_equal(load(path, frame=9).data, data[2, 1])


def test_frame_on_a_single_image(tmp_path, lattice_image):
    path = save(lattice_image, tmp_path / "single.hspy", 0.1)
    np.testing.assert_array_equal(load(path, frame=0).data, lattice_image)
    with pytest.raises(InputError, match="single image"):
        load(path, frame=2)


# ----------------------------------------------------------------- in-memory inputs
def test_signal2d_input(lattice_image):
    image = load(signal2d(lattice_image.astype(np.uint16), 0.0127, "nm", title="HAADF"))
    assert image.pixel_size_A == pytest.approx(0.127)
    assert image.data.dtype == np.float32 and image.path == "<signal>"
    assert image.metadata["title"] == "HAADF"
    np.testing.assert_array_equal(image.data, lattice_image.astype(np.uint16))
    assert load(hs.signals.Signal2D(lattice_image), pixel_size=0.2).pixel_size_A == 0.2
    with pytest.raises(InputError, match=r"^<signal>: has no spatial calibration"):
        load(hs.signals.Signal2D(lattice_image))
    stack = signal2d(np.stack([lattice_image] * 2), 0.01, "nm")
    with pytest.raises(InputError, match=r"^<signal>: is a stack of 2 frames"):
        load(stack)
    assert load(stack, frame=1).shape == lattice_image.shape
    lazy = signal2d(lattice_image, 0.01, "nm").as_lazy()
    np.testing.assert_array_equal(load(lazy).data, lattice_image)


def test_array_and_image_inputs(lattice_image):
    image = load(lattice_image.astype(np.int32), pixel_size=0.1)
    assert image.path == "<array>" and image.data.dtype == np.float32
    assert image.field_of_view_A == pytest.approx((64 * 0.1, 48 * 0.1))
    with pytest.raises(InputError, match=r"^<array>: .*pixel_size="):
        load(lattice_image)
    with pytest.raises(InputError, match=r"^<array>: holds no 2D image, only 1D data of 10"):
        load(np.arange(10.0), pixel_size=0.1)
    assert load(image) is image
    other = load(image, pixel_size=0.2)
    assert other.pixel_size_A == 0.2 and other.data is image.data and image.pixel_size_A == 0.1
    rgb = np.stack([lattice_image] * 3, axis=-1).astype(np.uint8)
    assert load(rgb, pixel_size=0.1).shape == lattice_image.shape
    with pytest.raises(InputError, match=r"^<dict>"):
        load({"data": lattice_image}, pixel_size=0.1)


def test_mrc_header_calibration(tmp_path, lattice_image):
    """A minimal MRC2014 file: cell length Xlen (Å) over MX samples gives the pixel size."""
    ny, nx = lattice_image.shape
    header = np.zeros(256, dtype="<i4")
    header[[0, 1, 2, 3, 7, 8, 9]] = [nx, ny, 1, 2, nx, ny, 1]  # NX NY NZ MODE=float32 MX MY MZ
    header[10:13] = np.array([nx * 0.21, ny * 0.21, 1.0], dtype="<f4").view("<i4")
    path = tmp_path / "volta.mrc"
    path.write_bytes(header.tobytes() + lattice_image.astype("<f4").tobytes())
    image = load(path)
    assert image.pixel_size_A == pytest.approx(0.21, rel=1e-6)
    np.testing.assert_array_equal(image.data, lattice_image)
    assert image.metadata["format"] == "MRC"
    path.write_bytes(header.tobytes() + lattice_image.astype("<f4").tobytes()[:1000])
    with pytest.raises(InputError) as excinfo:
        load(path)
    assert_input_error(excinfo, path, "unreadable")


def test_describe_is_json(tmp_path, lattice_image):
    path = save(lattice_image, tmp_path / "info.emd", 5.0, units="nm")
    info = describe(path)
    json.dumps(info, allow_nan=False)
    assert_plain(info)
    assert info["file"] == str(path) and info["format"] == "EMD"
    assert info["shape"] == [48, 64] and info["pixel_size_A"] == pytest.approx(5.0)
    assert info["field_of_view_nm"] == pytest.approx([32.0, 24.0])
    assert info["min"] == pytest.approx(float(lattice_image.min()))
    assert info["max"] == pytest.approx(float(lattice_image.max()))


# ----------------------------------------------------------------- real files from packages
def _foreign(micrographs, name):
    """A real micrograph from the pinned package wheels (tests/conftest.py FOREIGN_MICROGRAPHS)."""
    return dict(micrographs)[name]


def test_real_digiscan_dm3(foreign_micrographs):
    path = _foreign(foreign_micrographs, "temul_MoS2_Se_implanted_ADF")
    image = load(str(path))
    assert image.shape == (1024, 1024)
    assert image.pixel_size_A == pytest.approx(0.126953125, rel=1e-9)  # 0.0127 nm/px
    assert image.metadata["format"] == "DigitalMicrograph"
    assert image.metadata["voltage_kV"] == 60
    assert_json_metadata(image)


def test_real_velox_emd(foreign_micrographs):
    path = _foreign(foreign_micrographs, "temul_Au_nanoparticles_HAADF")
    image = load(path)
    assert image.shape == (2048, 2048)
    assert image.pixel_size_A == pytest.approx(0.074984014901, rel=1e-9)  # 0.0075 nm/px
    assert image.metadata["title"] == "HAADF" and image.metadata["voltage_kV"] == 300
    assert image.metadata["date"] == "2019-08-13"
    assert_json_metadata(image)


def test_real_uncalibrated_hdf5(package_file):
    path = package_file("atomap", "atomap/tests/datasets/test_ADF_cropped.hdf5")
    with pytest.raises(InputError) as excinfo:
        load(path)
    assert_input_error(excinfo, path, "no spatial calibration", "pixel_size=")
    image = load(path, pixel_size=0.0933)
    assert image.pixel_size_A == 0.0933 and image.data.ndim == 2 and min(image.shape) > 100
    assert image.metadata["format"] == "HSPY"
    assert_json_metadata(image)


# ----------------------------------------------------------------- hyperspy 1.7.6 test files
# (relative path, expected Å/px or None, message fragments if load() must fail, load kwargs)
HYPERSPY_CASES = [
    # TIA: 21.510044 nm/px STEM BF/DF (as hyperspy's test_fei asserts): too coarse
    ("FEI_old/16x16_STEM_BF_DF_acquire.emi", 215.10044070327744, ["215.1 Å/px", "nm/px"], {}),
    ("FEI_old/16x16_STEM_BF_DF_acquire_1.ser", 215.10044070327744, ["215.1 Å/px"], {}),
    ("FEI_old/64x64_TEM_images_acquire_1.ser", 62.81833616298531, ["62.818 Å/px"], {}),
    ("FEI_old/03_Scanning Preview_1.ser", None, ["5 frames", "frame="], {}),
    ("FEI_old/03_Scanning Preview_1.ser", 3.843524875139251, ["3.8435 Å/px"], {"frame": 4}),
    ("FEI_old/64x64_diffraction_acquire.emi", None, ["1 / nm", "not a length"], {}),
    ("FEI_old/no_AcquireDate.emi", None, ["no 2D image", "3993 points"], {}),
    # Bruker: the 64x64 HAADF image next to an EDS cube, 0.000771 µm/px
    ("bruker_data/test_TEM.bcf", 7.71004754204027, ["7.71 Å/px", "µm/px"], {}),
    ("bruker_data/bcf_v2_50x50px.bcf", None, ["non-square", "127.31 Å/px", "118.08 Å/px"], {}),
    # tif calibrated by DigitalMicrograph and by ImageJ: 0.16867 µm/px (optical scale)
    ("tiff_files/test_loading_image_saved_with_DM.tif", 1686.7469251155853, ["1686.7 Å/px"], {}),
    ("tiff_files/test_loading_image_saved_with_imageJ.tif", 1686.7471098853332,
     ["1686.7 Å/px"], {}),
    ("tiff_files/test_loading_image_saved_with_imageJ_no_scale.tif", None,
     ["no spatial calibration"], {}),
    ("tiff_files/test_loading_image_saved_with_DM_stack.tif", None, ["2 frames"], {}),
    ("tiff_files/test_loading_image_saved_with_DM_stack.tif", None, ["non-square"], {"frame": 0}),
    # Olympus SIS tif: RGB preview + calibrated raw image at 2.3928e-11 m/px
    ("tiff_files/olympus_SIS.tif", 0.23928, None, {}),
    # DM3 with a HAADF image and a 1D plot: the image, 0.0177516 nm/px
    ("dm3_2D_data/multi_signal.dm3", 0.17751578241586685, None, {}),
    ("dm3_2D_data/test_STEM_image.dm3", 2.4853801727294922, ["2.4854 Å/px"], {}),
    ("dm4_2D_data/test-MonarcCL_mono-image.dm4", 183253.49807739258, ["1.8325e+05 Å/px"], {}),
    ("dm4_2D_data/test-1.dm4", None, ["no spatial calibration"], {}),
    # Velox: nine 2x2 DPC/DF images at 99.62 pm/px, the first DF one is taken
    ("emd_files/fei_example_dpc_titles.emd", 0.9961991555830654, None, {}),
    ("emd_files/fei_example_tem_stack.emd", None, ["2 frames"], {}),
    ("emd_files/fei_example_tem_stack.emd", 0.08172883192297851, None, {"frame": 1}),
    ("emd_files/fei/fei_emd_image.emd", 53.024148379916015, ["53.024 Å/px"], {}),
    ("emd_files/fei/fei_emd_spectrum.emd", None, ["no 2D image", "4096 points"], {}),
    # NCEM EMD (prismatic simulation): 37 virtual-detector images at 0.25 nm/px
    ("emd_files/Si100_3D.emd", None, ["37 frames"], {}),
    ("emd_files/Si100_3D.emd", 2.5, ["2.5 Å/px"], {"frame": 0}),
]


@pytest.mark.parametrize("relative, pixel_size, fragments, kwargs", HYPERSPY_CASES,
                         ids=[f"{c[0].split('/')[-1]}{'-' + str(c[3]) if c[3] else ''}"
                              for c in HYPERSPY_CASES])
def test_hyperspy_real_files(hyperspy_io_files, relative, pixel_size, fragments, kwargs):
    path = hyperspy_io_files / relative
    if fragments is None:
        image = load(path, **kwargs)
        assert image.pixel_size_A == pytest.approx(pixel_size, rel=1e-6)
        assert image.data.dtype == np.float32 and image.data.ndim == 2
        assert_json_metadata(image)
    else:
        with pytest.raises(InputError) as excinfo:
            load(path, **kwargs)
        assert_input_error(excinfo, path, *fragments)
    if pixel_size is not None:  # the calibration itself is read right, plausible or not
        info = describe(path, **kwargs)
        assert info["pixel_size_A"] == pytest.approx(pixel_size, rel=1e-6)
        json.dumps(info, allow_nan=False)
        assert_plain(info)
        forced = load(path, pixel_size=0.1, **kwargs)
        assert forced.pixel_size_A == 0.1
        assert_json_metadata(forced)


def test_hyperspy_signal_choice(hyperspy_io_files):
    dpc = load(hyperspy_io_files / "emd_files/fei_example_dpc_titles.emd")
    assert dpc.metadata["title"] == "DF4-C" and dpc.metadata["n_signals_in_file"] == 9
    multi = load(hyperspy_io_files / "dm3_2D_data/multi_signal.dm3")
    assert multi.metadata["title"] == "HAADF" and multi.shape == (512, 512)
    assert multi.metadata["voltage_kV"] == 300 and multi.metadata["date"] == "2019-12-10"
    bcf = load(hyperspy_io_files / "bruker_data/test_TEM.bcf", pixel_size=0.5)
    assert bcf.metadata["title"] == "HAADF" and bcf.shape == (64, 64)
    olympus = load(hyperspy_io_files / "tiff_files/olympus_SIS.tif")
    assert olympus.metadata["dtype"] == "uint16" and olympus.metadata["signal_index"] == 1


def test_hyperspy_velox_spectrum_image(hyperspy_io_files):
    path = hyperspy_io_files / "emd_files/fei/fei_SI_SuperX-HAADF_10frames_10x50.emd"
    if importlib.util.find_spec("sparse") is None:
        with pytest.raises(InputError) as excinfo:
            load(path)
        assert_input_error(excinfo, path, "sparse")
    else:
        info = describe(path)
        assert info["pixel_size_A"] == pytest.approx(12.340096287454219, rel=1e-6)
        assert info["metadata"]["title"] == "HAADF" and info["shape"] == [50, 10]


def test_velox_scan_rotation_is_read_in_degrees(hyperspy_io_files):
    # Velox records Scan.ScanRotation in radians: 1.6580628 rad in this file
    image = load(hyperspy_io_files / "emd_files/fei/fei_emd_image.emd", pixel_size=0.1)
    assert image.metadata["scan_rotation_deg"] == pytest.approx(95.0, abs=1e-3)


def test_the_file_size_limit_is_read_from_the_environment_by_one_function():
    from stemlayers.io.read import max_mb_from_env

    assert max_mb_from_env({}) is None
    assert max_mb_from_env({"STEMLAYERS_MAX_MB": "250"}) == 250.0
    for bad in ("lots", "-5", "0", "nan"):
        with pytest.raises(InputError, match="STEMLAYERS_MAX_MB=.* is not a positive number of MB"):
            max_mb_from_env({"STEMLAYERS_MAX_MB": bad})
