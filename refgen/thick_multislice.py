"""Thick-lamella physics references: PRISM with wide probe windows, images at several depths from one run.

``refgen/multislice_abtem.py`` makes the 30-80 Å references with PRISM
interpolation 4-6 (windows ~8-12 Å): at 10 nm and more the channelled probe
spreads wider than that and its periodic images leak in as ghost columns.
This script reuses that generator's model, frame, image and truth code
(imported from ``refgen/multislice_abtem.py``) and changes only the
multislice driver, so that thick specimens fit in memory and time:

* PRISM with a small interpolation factor (default 2: windows ~25 x 20-23 Å
  on the ~49 x 40-46 Å cells) at a coarser potential sampling (default
  0.07 Å: antialias cutoff ~94 mrad at 300 kV, so the default HAADF range is
  60-90 mrad);
* the plane waves of the scattering matrix are propagated in batches
  through the whole specimen, and each batch is cut down to the antialias
  cutoff and stored (as ``.npy`` memory maps in a scratch folder) at every
  requested exit thickness: the full-sampling scattering matrix is never
  held whole, and one propagation gives every thickness (default 100, 200,
  300 Å);
* each stored matrix is then reduced over the scan in small square blocks
  of probe positions (each block crops only a window-sized part of the
  matrix), and the scan (default step 0.33 Å) is Fourier-interpolated to
  the image pixel (default 0.18 Å); a 20 mrad HAADF image has almost no
  power above ~1.4 /Å.

Outputs per exit thickness and detector range: ``NAME.hspy`` (expected
counts at --dose e/px), ``NAME_noisy.hspy`` (seeded Poisson copy) and a
``NAME.truth.json`` beside each with the keys of the existing generator's
truth files; ``params`` also records ``probe_window_A`` (the PRISM window,
x, y) and ``propagated_thickness_A``; ``thickness_A`` is the exit thickness
of that image. Raw scans over the whole cell go to ``OUT/raw/STEM.npz``.

Run (abTEM in its own venv, see ``refgen/multislice_abtem.py``), e.g.::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 nice -n 10 \\
        ABTEM_VENV/bin/python refgen/thick_multislice.py --system Bi2Te3/TiN --interface vdw \\
        --out OUT_DIR --thicknesses 100 200 300

Memory: the stored scattering matrices (n_waves x cut-down grid, complex64,
one per exit thickness) are memory maps in ``--scratch`` (default
``OUT/scratch``, deleted at the end); one is loaded for its reduction.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import importlib.util
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

_GENERATOR = Path(__file__).resolve().parent / "multislice_abtem.py"
_spec = importlib.util.spec_from_file_location("multislice_abtem", _GENERATOR)
ms = importlib.util.module_from_spec(_spec)
sys.modules["multislice_abtem"] = ms
_spec.loader.exec_module(ms)


def peak_rss_gb():
    """Peak resident memory of this process so far, GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def grid_points(length, sampling, multiple):
    """Smallest FFT-friendly (2,3,5,7-smooth) number of points >= length/sampling that `multiple` divides."""
    n = ms.nice_gpts(length / sampling)
    while n % multiple:
        n = ms.nice_gpts(n + 1)
    return n


class _FFTWMultislice:
    """abTEM's Fourier multislice step (transmit, then propagate) with in-place FFTW plans, one wave at a time.

    Uses abTEM's own band-limited transmission functions and antialiased
    Fresnel propagator, so it matches ``Waves.multislice`` to rounding.
    """

    def __init__(self, potentials, energy, gpts):
        import pyfftw
        from abtem.antialias import AntialiasAperture, antialias_aperture
        from abtem.multislice import _fresnel_propagator_array

        aperture = AntialiasAperture()
        self.slabs, self.propagators = [], {}
        for potential in potentials:
            slices = []
            for potential_slice in potential.generate_slices():
                t = aperture.bandlimit(potential_slice.transmission_function(energy), in_place=False)
                dz = round(float(t.slice_thickness[0]), 6)
                slices.append((np.ascontiguousarray(t.array[0], dtype=np.complex64), dz))
                if dz not in self.propagators:
                    sampling = potential.sampling
                    kernel = (_fresnel_propagator_array(dz, tuple(gpts), sampling, energy, "cpu")
                              * antialias_aperture(tuple(gpts), sampling, np))
                    self.propagators[dz] = np.ascontiguousarray(kernel, dtype=np.complex64)
            self.slabs.append(slices)
        self.buffer = pyfftw.empty_aligned(tuple(gpts), dtype="complex64")
        self.forward = pyfftw.FFTW(self.buffer, self.buffer, axes=(0, 1), direction="FFTW_FORWARD",
                                   flags=("FFTW_MEASURE",), threads=1)
        self.backward = pyfftw.FFTW(self.buffer, self.buffer, axes=(0, 1), direction="FFTW_BACKWARD",
                                    flags=("FFTW_MEASURE",), threads=1)

    def propagate(self, array):
        """Waves (n, nx, ny) at the entrance -> one array (n, nx, ny) per slab exit."""
        buffer = self.buffer
        exits = [np.empty_like(array) for _ in self.slabs]
        for i in range(array.shape[0]):
            buffer[:] = array[i]
            for e, slices in enumerate(self.slabs):
                for transmission, dz in slices:
                    np.multiply(buffer, transmission, out=buffer)
                    self.forward()
                    np.multiply(buffer, self.propagators[dz], out=buffer)
                    self.backward()  # pyFFTW normalises the inverse transform (1/N), as numpy
                exits[e][i] = buffer
        return exits


def _detector_pixels(gpts, sampling, optics):
    """Flat indices (numpy FFT order) and scattering angles (mrad) of the Fourier pixels inside any detector."""
    from abtem.core.energy import energy2wavelength

    wavelength = energy2wavelength(optics.energy_eV)
    kx = np.fft.fftfreq(gpts[0], d=sampling[0])
    ky = np.fft.fftfreq(gpts[1], d=sampling[1])
    angle = np.sqrt(kx[:, None] ** 2 + ky[None, :] ** 2) * wavelength * 1e3
    low = min(d[0] for d in optics.detectors_mrad)
    high = max(d[1] for d in optics.detectors_mrad)
    index = np.flatnonzero((angle >= low) & (angle < high))
    return index, angle.ravel()[index]


def _fourier_reduce(spectra, wave_vectors, cell, scan_gpts, q_angle, optics, ctf, reference, chunk=512):
    """Full-cell PRISM (f = 1) HAADF images from the plane waves' exit spectra on the detector pixels.

    With f = 1 the wave vectors are k = (m / Lx, n / Ly) and the scan is
    r = (i Lx / nx, j Ly / ny), so the probe's amplitude at one detector
    pixel q for every probe position, sum_k a_k exp(-2 pi i k.r) S_k(q), is
    one 2D DFT over (m, n) of size (nx, ny): no windows, no cropping.
    """
    import types

    import scipy.fft
    from abtem.prism.s_matrix import SMatrixArray

    m = wave_vectors[:, 0].astype(np.float64) * cell[0]
    n = wave_vectors[:, 1].astype(np.float64) * cell[1]
    mi, ni = np.rint(m).astype(int), np.rint(n).astype(int)
    if np.abs(m - mi).max() > 1e-3 or np.abs(n - ni).max() > 1e-3:
        raise RuntimeError("wave vectors are not on the cell's reciprocal grid (interpolation must be 1)")
    nx, ny = scan_gpts
    if np.ptp(mi) >= nx or np.ptp(ni) >= ny:
        raise RuntimeError("scan too coarse for the plane-wave grid (the DFT would alias)")
    ctf = ctf.copy()
    ctf.grid.match(reference.dummy_probes())
    coefficients = SMatrixArray._calculate_ctf_coefficients(types.SimpleNamespace(wave_vectors=wave_vectors), ctf)
    coefficients = np.asarray(coefficients, dtype=np.complex64).reshape(-1)
    masks = [(q_angle >= a) & (q_angle < b) for a, b in optics.detectors_mrad]
    images = [np.zeros((nx, ny)) for _ in masks]
    mi, ni = mi % nx, ni % ny
    for q0 in range(0, spectra.shape[1], chunk):
        q1 = min(q0 + chunk, spectra.shape[1])
        block = np.zeros((q1 - q0, nx, ny), np.complex64)
        block[:, mi, ni] = (coefficients[:, None] * spectra[:, q0:q1]).T
        amplitude = scipy.fft.fft2(block, axes=(1, 2), overwrite_x=True, workers=1)
        intensity = amplitude.real ** 2 + amplitude.imag ** 2
        for image, mask in zip(images, masks):
            image += intensity[mask[q0:q1]].sum(axis=0)
    return images


def run_prism_thick(atoms, optics, scan_gpts, scratch, wave_batch=16, block=12, seed=0, engine="fftw",
                    log=print):
    """PRISM HAADF scans of `atoms` at every exit thickness of `optics`, from one propagation.

    Parameters
    ----------
    atoms : ase.Atoms
        Orthogonal periodic cell, z along the beam, 0 the entrance surface.
    optics : multislice_abtem.Optics
        ``exit_thicknesses_A`` ascending, the last one the specimen thickness.
    scan_gpts : (int, int)
        Probe positions along x and y over the whole periodic cell.
    scratch : Path
        Folder for the memory-mapped scattering matrices.
    wave_batch : int
        Plane waves propagated together.
    block : int
        Side of the square blocks of probe positions reduced together.
    seed : int
        Seed of the thermal displacements.
    engine : {"fftw", "abtem"}
        "fftw": this script's loop (abTEM's transmission functions, band limit and Fresnel propagator,
        in-place single-wave FFTW plans; ~2x faster); "abtem": ``Waves.multislice``.

    Returns
    -------
    images : dict
        ``images[(exit_index, detector_index)]`` = (nx, ny) float array indexed [x, y].
    info : dict
        Grid, window and timing numbers.
    """
    import abtem
    import dask
    from abtem.core.axes import OrdinalAxis
    from abtem.prism.s_matrix import SMatrixArray
    from abtem.prism.utils import plane_waves
    from abtem.waves import Waves, _antialias_cutoff_gpts

    dask.config.set(scheduler="synchronous")
    abtem.config.set({"device": "cpu", "fft": "fftw", "fftw.threads": 1, "dask.lazy": False,
                      "diagnostics.progress_bar": False})
    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    cell = atoms.cell.lengths()
    f = optics.interpolation
    gpts = (grid_points(cell[0], optics.potential_sampling_A, max(4, 2 * f[0])),
            grid_points(cell[1], optics.potential_sampling_A, max(4, 2 * f[1])))
    edges = [0.0] + list(optics.exit_thicknesses_A)
    rng = np.random.default_rng(seed + 104729)
    outer = max(d[1] for d in optics.detectors_mrad)
    detector = abtem.FlexibleAnnularDetector(step_size=1.0, inner=0.0, outer=outer)
    ctf = abtem.CTF(defocus=optics.defocus_A, semiangle_cutoff=optics.semiangle_mrad, energy=optics.energy_eV)
    total, info = {}, {}
    for config in range(optics.n_phonons):
        start = time.perf_counter()
        shaken = atoms.copy()
        shaken.positions += rng.normal(0.0, optics.phonon_sigma_A, shaken.positions.shape)
        shaken.positions[:, :2] %= cell[:2]  # keep z: atoms that leave the slab are simply gone
        potentials = [abtem.Potential(ms.slab(shaken, z_low, z_high), gpts=gpts, slice_thickness=optics.slice_A,
                                      projection="infinite", parametrization="lobato").build(lazy=False)
                      for z_low, z_high in zip(edges[:-1], edges[1:])]
        reference = abtem.SMatrix(potential=potentials[0], energy=optics.energy_eV,
                                  semiangle_cutoff=optics.semiangle_mrad, interpolation=f, downsample="cutoff")
        wave_vectors = np.asarray(reference.wave_vectors, dtype=np.float32)
        n_waves, small = len(reference), tuple(reference.downsampled_gpts)
        window_gpts = tuple(reference.window_gpts)
        window_A = tuple(float(w) for w in reference.window_extent)
        info = {"potential_gpts": list(gpts), "n_plane_waves": n_waves, "reduced_gpts": list(small),
                "window_gpts": list(window_gpts), "probe_window_A": list(window_A),
                "antialias_cutoff_mrad": float(min(reference.cutoff_angles))
                if hasattr(reference, "cutoff_angles") else None}
        log(f"  phonon configuration {config + 1}/{optics.n_phonons}: potential {gpts[0]}x{gpts[1]} "
            f"({len(potentials)} slabs, {sum(len(p) for p in potentials)} slices), {n_waves} plane waves, "
            f"interpolation {f}, windows {window_A[0]:.1f} x {window_A[1]:.1f} A, reduced grid {small}, "
            f"scan {scan_gpts[0]}x{scan_gpts[1]}; potential built in {time.perf_counter() - start:.0f} s")
        fourier = tuple(f) == (1, 1) and engine == "fftw"
        if fourier:  # no windows: keep each plane wave's diffraction pattern on the detector annulus only
            q_index, q_angle = _detector_pixels(gpts, (cell[0] / gpts[0], cell[1] / gpts[1]), optics)
            row = (q_index.size,)
            info["detector_pixels"] = int(q_index.size)
            log(f"    full-cell PRISM (f = 1): {q_index.size} Fourier pixels on the detector(s) per plane wave")
        else:
            row = small
        paths = [scratch / f"smatrix_{e}.npy" for e in range(len(potentials))]
        # a run cut short (a session ends, a machine reboots) resumes at the last plane-wave batch written
        progress = scratch / f"progress_{config}.json"
        resume_from = _resume_point(progress, paths, n_waves, row)
        offsets = []
        for path in paths:  # .npy headers; the waves are then written with plain file I/O (no mapped pages)
            store = np.lib.format.open_memmap(path, mode="r+" if resume_from else "w+", dtype=np.complex64,
                                              shape=(n_waves,) + row)
            offsets.append(store.offset)
            del store
        if resume_from:
            log(f"    resuming after plane wave {resume_from}/{n_waves} ({progress.name})")
        files = [open(path, "r+b") for path in paths]
        wave_bytes = int(np.prod(row)) * np.dtype(np.complex64).itemsize
        t0 = time.perf_counter()
        if engine == "fftw":
            step = _FFTWMultislice(potentials, optics.energy_eV, gpts)
            log(f"    transmission functions and FFTW plans ready in {time.perf_counter() - t0:.0f} s")
        for first in range(resume_from, n_waves, wave_batch):
            last = min(first + wave_batch, n_waves)
            array = plane_waves(wave_vectors[first:last], tuple(cell[:2]), gpts)
            array *= np.prod(f) / np.prod(array.shape[-2:])
            if engine == "fftw":
                exits = step.propagate(array)
            else:
                waves = Waves(array, energy=optics.energy_eV, extent=tuple(cell[:2]),
                              ensemble_axes_metadata=[OrdinalAxis(values=wave_vectors[first:last])])
                exits = []
                for potential in potentials:
                    waves = waves.multislice(potential)
                    exits.append(waves.array.copy())
            for e, exit_array in enumerate(exits):
                if fourier:
                    import scipy.fft

                    spectrum = scipy.fft.fft2(exit_array, axes=(-2, -1), overwrite_x=True, workers=1)
                    reduced = spectrum.reshape(spectrum.shape[0], -1)[:, q_index]
                    files[e].seek(offsets[e] + first * wave_bytes)
                    files[e].write(np.ascontiguousarray(reduced, dtype=np.complex64).tobytes())
                    continue
                reduced = Waves(exit_array, energy=optics.energy_eV, extent=tuple(cell[:2]),
                                ensemble_axes_metadata=[OrdinalAxis(values=wave_vectors[first:last])]).downsample(
                    gpts=small, normalization="intensity").array
                files[e].seek(offsets[e] + first * wave_bytes)
                files[e].write(np.ascontiguousarray(reduced, dtype=np.complex64).tobytes())
            for handle in files:
                handle.flush()
            progress.write_text(json.dumps({"waves_done": last, "n_waves": n_waves, "row": list(row)}))
            done = time.perf_counter() - t0
            if first == 0 or last == n_waves or (first // wave_batch) % 8 == 0:
                log(f"    plane waves {last}/{n_waves}: {done:.0f} s, expected total "
                    f"{done * n_waves / last / 60:.1f} min, peak RSS {peak_rss_gb():.1f} GB")
        for handle in files:
            handle.close()
        exits = array = None
        t_multislice = time.perf_counter() - t0
        t_reduce = []
        for e in range(len(potentials)):
            t1 = time.perf_counter()
            if fourier:
                images = _fourier_reduce(np.load(paths[e]), wave_vectors, cell, scan_gpts, q_angle, optics,
                                         ctf, reference)
                for d, image in enumerate(images):
                    total[(e, d)] = total.get((e, d), 0.0) + image / optics.n_phonons
                t_reduce.append(time.perf_counter() - t1)
                log(f"    reduced at {edges[e + 1]:.0f} A in {t_reduce[-1]:.0f} s, peak RSS {peak_rss_gb():.1f} GB")
                continue
            array = np.load(paths[e])
            waves = Waves(array, energy=optics.energy_eV, extent=tuple(cell[:2]),
                          ensemble_axes_metadata=[OrdinalAxis(values=wave_vectors)])
            waves.metadata["adjusted_antialias_cutoff_gpts"] = _antialias_cutoff_gpts(window_gpts,
                                                                                      reference.sampling)
            s_array = SMatrixArray._from_waves(waves, wave_vectors=reference.wave_vectors, interpolation=f,
                                               semiangle_cutoff=optics.semiangle_mrad, window_gpts=window_gpts,
                                               device="cpu")
            step = (cell[0] / scan_gpts[0], cell[1] / scan_gpts[1])
            images = [np.zeros(tuple(scan_gpts)) for _ in optics.detectors_mrad]
            for i0 in range(0, scan_gpts[0], block):
                i1 = min(i0 + block, scan_gpts[0])
                for j0 in range(0, scan_gpts[1], block):
                    j1 = min(j0 + block, scan_gpts[1])
                    scan = abtem.GridScan(start=(i0 * step[0], j0 * step[1]), end=(i1 * step[0], j1 * step[1]),
                                          gpts=(i1 - i0, j1 - j0), endpoint=False)
                    measurement = s_array.reduce(scan=scan, detectors=detector, ctf=ctf,
                                                 max_batch_reduction=(i1 - i0) * (j1 - j0))
                    if getattr(measurement, "is_lazy", False):
                        measurement = measurement.compute(scheduler="synchronous")
                    for d, (inner, outer_d) in enumerate(optics.detectors_mrad):
                        part = np.asarray(measurement.integrate_radial(inner, outer_d).array)
                        images[d][i0:i1, j0:j1] = part.reshape(i1 - i0, j1 - j0)
            for d, image in enumerate(images):
                total[(e, d)] = total.get((e, d), 0.0) + image / optics.n_phonons
            del array, waves, s_array
            t_reduce.append(time.perf_counter() - t1)
            log(f"    reduced at {edges[e + 1]:.0f} A in {t_reduce[-1]:.0f} s, peak RSS {peak_rss_gb():.1f} GB")
        info.update({"multislice_s": t_multislice, "reduction_s": t_reduce,
                     "configuration_s": time.perf_counter() - start})
        log(f"  configuration {config + 1} done in {(time.perf_counter() - start) / 60:.1f} min "
            f"(multislice {t_multislice / 60:.1f} min, reductions {sum(t_reduce) / 60:.1f} min)")
    shutil.rmtree(scratch, ignore_errors=True)
    return total, info


def _resume_point(progress, paths, n_waves, row):
    """Plane waves already propagated by an earlier, interrupted run (0 when starting afresh)."""
    if not progress.exists() or not all(path.exists() for path in paths):
        return 0
    state = json.loads(progress.read_text())
    if state.get("n_waves") != n_waves or tuple(state.get("row", ())) != tuple(row):
        return 0
    return int(state["waves_done"])


def raw_key(optics, e, d):
    """Name of the scan at exit thickness `e` and detector `d` in the raw ``.npz``."""
    inner, outer = optics.detectors_mrad[d]
    return f"t{optics.exit_thicknesses_A[e]:.0f}_d{inner:.0f}-{outer:.0f}"


def load_raw(raw_npz, optics):
    """(scans, info) saved by an earlier run: the propagation is not repeated, only the images written."""
    saved = np.load(raw_npz)
    scans = {(e, d): saved[raw_key(optics, e, d)] for e in range(len(optics.exit_thicknesses_A))
             for d in range(len(optics.detectors_mrad))}
    return scans, json.loads(Path(raw_npz).with_suffix(".json").read_text())


def run_model(system_name, interface, strain_pct, out_dir, optics, dose=5000.0, seed=1, n_ti=7, n_ql=2,
              wave_batch=16, block=12, scratch=None, engine="fftw", from_raw=False, log=print, lateral=None,
              film_blocks=()):
    """Build one model, propagate once, write every exit thickness x detector image (clean and noisy).

    With `from_raw`, the scans and settings an earlier run saved under ``OUT/raw/`` are used instead of
    propagating again (to rewrite the images, e.g. after a failure while writing them).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    system = ms.load_material(system_name, log=log)
    if lateral:  # equal parts of the cell, each its own (class, terrace)
        model = ms.lateral_model(system, lateral, strain_pct, n_ti=n_ti, n_ql=n_ql, seed=seed)
    else:
        model = ms.build_model(system, interface, strain_pct, n_ti=n_ti, n_ql=n_ql, seed=seed,
                               film_blocks=tuple(film_blocks))
    frame = ms.make_frame(model, optics)
    atoms = ms.model_atoms(model, optics.thickness_A, frame.v_bottom, frame.height_A, seed=seed)
    log(f"{system.name} {interface} TiN strain {strain_pct:+.1f} %: cell {frame.width_A:.2f} x "
        f"{frame.height_A:.2f} x {optics.thickness_A:.0f} A, {len(atoms)} atoms, "
        f"{model.info['n_tin_periods']} TiN / {model.info['n_film_periods']} film periods "
        f"(film residual strain {model.info['film_residual_strain_pct']:+.2f} %), exits {optics.exit_thicknesses_A}")
    stem0 = ms.image_name(model, 0, (0, 0)).split("_t")[0]
    raw = out_dir / "raw" / f"{stem0}.npz"
    if from_raw:
        scans, info = load_raw(raw, optics)
        log(f"  scans read from {raw}")
    else:
        scratch = Path(scratch) if scratch else out_dir / "scratch" / stem0
        scans, info = run_prism_thick(atoms, optics, frame.scan_gpts, scratch, wave_batch=wave_batch, block=block,
                                      seed=seed, engine=engine, log=log)
        raw.parent.mkdir(parents=True, exist_ok=True)
        np.savez(raw, **{raw_key(optics, e, d): v for (e, d), v in scans.items()})
        raw.with_suffix(".json").write_text(json.dumps(info, indent=1, default=float) + "\n")
    extra = {"simulator_script": "refgen/thick_multislice.py (model, frame and truth from "
                                 "refgen/multislice_abtem.py)",
             "probe_window_A": info["probe_window_A"], "propagated_thickness_A": optics.thickness_A,
             "exit_thicknesses_A": list(optics.exit_thicknesses_A), "potential_gpts": info["potential_gpts"],
             "n_plane_waves": info["n_plane_waves"], "window_gpts": info["window_gpts"],
             "image_pixel_A": frame.pixel_A}
    written = []
    for (e, d), scan_image in sorted(scans.items()):
        thickness, detector = optics.exit_thicknesses_A[e], optics.detectors_mrad[d]
        stem = ms.image_name(model, thickness, detector)
        clean = ms.to_image(scan_image, frame) * dose
        title = (f"abTEM {system.name.replace('/', ' on ')} {interface} {thickness:.0f} A "
                 f"{detector[0]:.0f}-{detector[1]:.0f} mrad")
        for noisy in (False, True):
            noise_seed = seed * 1000 + 10 * e + d if noisy else seed
            truth = ms.truth_dict(model, system, frame, optics, thickness, detector, dose, noisy, noise_seed)
            truth["params"]["simulator"] = truth["params"]["simulator"].replace(
                "refgen/multislice_abtem.py", "refgen/thick_multislice.py")
            truth["params"].update(extra)
            image = ms.add_noise(clean, noise_seed) if noisy else clean
            written.append(ms.write_image(out_dir, stem + ("_noisy" if noisy else ""), image, frame.pixel_A,
                                          truth, title + (" Poisson" if noisy else "")))
    log(f"  wrote {len(written)} images; model done in {(time.perf_counter() - start) / 60:.1f} min, "
        f"peak RSS {peak_rss_gb():.1f} GB")
    return written


def main(argv=None):
    """Command line: one model per call."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ms.add_model_arguments(parser, detectors=["60-90"], sampling=0.07, interpolation=2, scan_step=0.33)
    parser.add_argument("--scratch", default=None, help="folder for the memory-mapped matrices (default OUT/scratch)")
    parser.add_argument("--thicknesses", type=float, nargs="+", default=[100.0, 200.0, 300.0],
                        help="exit thicknesses, Å; the last is the specimen thickness")
    parser.add_argument("--wave-batch", type=int, default=16, help="plane waves per batch")
    parser.add_argument("--block", type=int, default=12, help="side of the blocks of probe positions reduced together")
    parser.add_argument("--engine", default="fftw", choices=["fftw", "abtem"], help="multislice loop")
    parser.add_argument("--lateral", nargs="+", default=None, metavar="CLASS[:TERRACE]",
                        help="an interface that changes along the cell: equal parts, e.g. bilayer vdw, or "
                             "vdw:0 vdw:1 (the second part one TiN plane lower)")
    parser.add_argument("--film-blocks", nargs="+", default=(), choices=["QL", "SL", "twin"],
                        help="the film's blocks from the first one up (quintuple layers after them): "
                             "a septuple lamella (SL) or a stacking reversal (twin)")
    parser.add_argument("--from-raw", action="store_true",
                        help="write the images from the scans an earlier run saved in OUT/raw (no propagation)")
    args = parser.parse_args(argv)
    exits = tuple(sorted(args.thicknesses))
    optics = ms.Optics(semiangle_mrad=args.semiangle, potential_sampling_A=args.sampling, slice_A=args.slice,
                       thickness_A=exits[-1], exit_thicknesses_A=exits,
                       detectors_mrad=tuple(tuple(float(v) for v in d.split("-")) for d in args.detectors),
                       interpolation=(args.interpolation, args.interpolation), n_phonons=args.phonons,
                       phonon_sigma_A=args.sigma, scan_sampling_A=args.scan_step, image_pixel_A=args.pixel)

    def log(message):
        print(time.strftime("%H:%M:%S"), message, flush=True)

    run_model(args.system, args.interface, args.strain, args.out, optics, dose=args.dose, seed=args.seed,
              n_ti=args.n_ti, n_ql=args.n_ql, wave_batch=args.wave_batch, block=args.block,
              scratch=args.scratch, engine=args.engine, from_raw=args.from_raw, log=log,
              lateral=[(s.split(":")[0], int(s.split(":")[1]) if ":" in s else 0) for s in args.lateral or ()],
              film_blocks=args.film_blocks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
