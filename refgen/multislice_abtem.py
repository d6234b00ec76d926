"""Physics reference images: abTEM PRISM multislice of TI/TiN(111) cross-sections, with ground truth.

The project's own simulator (``stemlayers.simulate``) draws Gaussians on a 2D
column model. This script makes independent reference images from a full 3D
atomic model instead: PRISM multislice (abTEM) with frozen phonons, so column
intensities come from channelling and thermal diffuse scattering, not from a
Z-power formula. Each run writes, per exit thickness and HAADF detector
range, a noise-free image and a seeded Poisson-noise copy (``.hspy``, Å
calibrated, read by ``stemlayers.load``) and a ``NAME.truth.json`` beside
each (same keys as ``stemlayers.simulate.Truth`` plus the multislice
settings), so the project's verdicts can be checked against what was built.

Set-up (abTEM lives in its own venv, outside the repository)::

    python3 -m venv ABTEM_VENV
    ABTEM_VENV/bin/pip install abtem ase   # abTEM 1.0.11, ASE 3.29 when written
    ABTEM_VENV/bin/pip install -e .        # stemlayers (from the repository root): the TOML numbers, the hspy writer

Runs (one thread, niced; the script sets the thread variables itself too)::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice -n 10 \\
        ABTEM_VENV/bin/python refgen/multislice_abtem.py one \\
        --system Bi2Te3/TiN --interface bilayer --strain 0 --out OUT
    nohup nice -n 10 ABTEM_VENV/bin/python refgen/multislice_abtem.py batch --out OUT > OUT/batch.log 2>&1 &

Geometry. x runs along the interface (periodic cell), y up the growth
direction ([111] TiN || [0001] film), z along the beam (TiN <1-10>, film
<2-1-10>). Every close-packed plane is a triangular net seen edge-on: its
columns are ``P = a_hex*sqrt(3)/2`` apart in x, the atoms of one column are
``a_hex`` apart in z and neighbouring columns are offset by ``a_hex/2`` in z.
Each plane up is shifted by the stacking vector ``(P/3 in x, a_hex/2 in z)``:
ABC stacking of the Ti planes (N in the octahedral sites between them) and
of every plane of the film, across the vdW gaps too. Plane heights come from
the system's TOML (``stemlayers.materials.load_system``). The cell width
holds whole numbers of TiN and film periods (e.g. 19 x 2.596 = 49.32 Å and
13 x 3.798 = 49.37 Å): TiN gets exactly the requested strain and the film
takes the small residual; both in-plane parameters, as built, go into the
truth. With an odd number of columns the a/2 beam offset of neighbouring
columns cannot close over the periodic seam: one column pair at the seam is
out of registry along the beam (invisible in projection).

Cost and the defaults. On one shared thread one model (both thicknesses,
both detectors) took 15.4 min for Bi2Se3 vdw (46.7 x 39.2 x 70 Å, 409 plane
waves, 191 x 160 probe positions) and 19.1 min for Bi2Te3 bilayer at f = 5
(49.3 x 46.1 x 100 Å); expect 12-20 min at the defaults. Defaults: 60 Å
thick with images at 30 and 60 Å (one run: the scattering matrix is reduced
at 30 Å, then propagated on), 300 kV, 20 mrad, no aberrations, focus on the
entrance surface, potential sampling 0.045 Å (antialias cutoff ~146 mrad,
so the detectors are 65-145 and 90-145 mrad from one
FlexibleAnnularDetector), 2 Å slices, PRISM interpolation 4 (windows
~12 x 10 Å), ONE frozen-phonon configuration (0.08 Å rms), a scan at
0.245 Å (the probe's Nyquist step) Fourier-interpolated to 0.18 Å pixels
(exact: a HAADF image holds no frequency above twice the aperture), 7 Ti
planes and 2 quintuple layers (a field ~49 Å wide and 39-47 Å tall).

PRISM's interpolation factor f repeats the probe every cell/f: once the
channelled probe spreads wider than that window its periodic images leak in
as ghost columns. With f = 5 (~10 Å windows) 50 Å images are clean and
100 Å images visibly corrupted; with f = 4 (~12 x 10 Å) 35 Å is clean and
70 Å shows side blobs beside the Bi columns. The default 60 Å with f = 4
keeps thickness / window as in the clean 50 Å, f = 5 case; 100 Å needs
f <= 3 (windows >= 15 Å), about 3-4x the time. Peak memory is ~15 GB for a
49 x 47 Å cell at f = 4 (full and continued scattering matrices).
``--phonons``, ``--sampling``, ``--interpolation``, ``--thickness``, ``--n-ql`` and ``--detectors`` buy
accuracy with time (the reduction grows as the cube of the field area and
as f^-4).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SQRT3 = np.sqrt(3.0)
STEP = 1.0 / 3.0  # stacking shift of each plane, in projected periods


# --------------------------------------------------------------------------- model


class _Table:
    """Attribute access to one TOML table (the fallback reader's stand-in for the dataclasses)."""

    def __init__(self, table):
        for key, value in table.items():
            setattr(self, key, tuple(value) if isinstance(value, list) else value)


class _System:
    """A material system read straight from its TOML (same attribute names as MaterialSystem)."""

    def __init__(self, data):
        self.name = data["name"]
        for key in ("substrate", "film", "bilayer", "vdw", "deteriorated", "contrast"):
            setattr(self, key, _Table(data[key]))

    def intensity(self, element):
        """Relative HAADF weight of a column of `element` (Ti = 1), from the [contrast] table."""
        return float(self.contrast.relative_intensity[element])


def load_material(name, log=print):
    """The system's numbers: ``stemlayers.materials.load_system``, or its TOML read directly.

    The direct read is the fallback for a working tree whose TOML and loader
    are momentarily out of step (a key added to one but not yet the other);
    the geometry keys this script uses are the same either way.
    """
    try:
        from stemlayers.materials import load_system

        return load_system(name)
    except Exception as exc:  # noqa: BLE001 - any failure of the live loader: read the file itself
        import tomllib

        folder = Path(__file__).resolve().parents[1] / "src" / "stemlayers" / "materials"
        path = folder / (name.replace("/", "-") + ".toml")
        log(f"  load_system({name!r}) failed ({type(exc).__name__}: {str(exc)[:120]}); reading {path} directly")
        return _System(tomllib.loads(path.read_text()))


@dataclass
class Plane:
    """One atomic plane seen edge-on: height (Å), element, material, period (Å), stacking index."""

    height_A: float
    element: str
    material: str  # "TiN" | "bilayer" | "TI"
    period_A: float
    beam_spacing_A: float
    stack: int
    offset_A: float = 0.0  # lateral registry of the material (x of the stack-0 column)


@dataclass
class Model:
    """Columns of a cross-section model with the 3D information needed to make atoms.

    Column arrays have one entry per projected column. `plane` indexes
    `planes` (substrate upwards) or is -1 in the disordered band.
    """

    system: str
    interface: str
    width_A: float
    tin_strain_pct: float
    tin_inplane_A: float
    film_inplane_A: float
    planes: list
    top_tin_plane: int
    u_A: np.ndarray
    v_A: np.ndarray
    element: np.ndarray
    plane: np.ndarray
    occupancy: np.ndarray
    beam_spacing_A: np.ndarray
    beam_offset_A: np.ndarray
    jitter_A: np.ndarray  # rms lateral scatter of the atoms of a column about its mean (disorder)
    info: dict = field(default_factory=dict)


def lateral_cell(p_tin, p_film, width_range=(40.0, 56.0)):
    """Whole numbers of TiN and film periods that fit one periodic width.

    Parameters
    ----------
    p_tin, p_film : float
        Projected periods (Å) of TiN (as strained) and of the bulk film.
    width_range : (float, float)
        Allowed cell widths, Å.

    Returns
    -------
    n_tin, n_film : int
    width_A : float
        ``n_tin * p_tin``: TiN keeps its period exactly.
    film_strain : float
        Residual strain the film takes to fit (fraction).
    """
    best = None
    for n_tin in range(int(width_range[0] // p_tin), int(width_range[1] // p_tin) + 1):
        width = n_tin * p_tin
        if not width_range[0] <= width <= width_range[1]:
            continue
        n_film = int(round(width / p_film))
        strain = width / (n_film * p_film) - 1.0
        if best is None or abs(strain) < abs(best[3]) - 1e-9:
            best = (n_tin, n_film, width, strain)
    return best


def poisson_spacing(spacing, strain, poisson):
    """Out-of-plane spacing of a biaxially strained layer."""
    return spacing * (1.0 - 2.0 * poisson / (1.0 - poisson) * strain)


def tin_planes(sub, n_ti, strain):
    """Ti planes k = -(n_ti-1)..0 (0 = top) and the N planes between them, substrate upwards."""
    period = sub.projected_period_A * (1.0 + strain)
    beam = sub.inplane_a_A * (1.0 + strain)
    d = poisson_spacing(sub.plane_spacing_A, strain, sub.poisson_ratio)
    planes = []
    for i in range(n_ti):  # i = 0 is the lowest Ti plane
        k = i - (n_ti - 1)
        if i > 0:  # N in the octahedral sites: the stacking position neither Ti neighbour has
            planes.append(Plane((k - 0.5) * d, sub.anion, "TiN", period, beam, i + 1))
        planes.append(Plane(k * d, sub.metal, "TiN", period, beam, i))
    return planes


def _film_defects_truth(planes, blocks):
    """The truth's film defects (the simulator's own definition); none for a film of quintuple layers."""
    if not blocks:
        return []
    from stemlayers.simulate.structure import true_film_defects

    return true_film_defects(planes, blocks)


def _film_block(film, kind):
    """(offsets, elements, stacking direction) of a film block; a quintuple layer without the package's
    simulator, so that the TOML fallback of :func:`load_material` still builds plain films."""
    if kind == "QL":
        return np.concatenate([[0.0], np.cumsum(film.ql_spacings_A)]), tuple(film.ql_elements), 1.0
    from stemlayers.simulate.structure import film_block  # the lamella and the twin as the simulator builds them

    return film_block(film, kind)


def film_planes(system, v_first, n_ql, period, stack0, material="TI", blocks=()):
    """`n_ql` film blocks from height `v_first` (first X1 plane) upwards: quintuple layers, or the kinds
    `blocks` names from the first one up (:func:`stemlayers.simulate.structure.film_block`: "SL", "twin")."""
    film = system.film
    beam = period * 2.0 / SQRT3
    planes, v, stack = [], v_first, stack0
    for q in range(n_ql):
        offsets, elements, way = _film_block(film, blocks[q] if q < len(blocks) else "QL")
        way = int(way)
        for off, el in zip(offsets, elements):
            planes.append(Plane(v + off, el, material, period, beam, stack))
            stack += way
        stack += 1 - way  # the next block's first plane: one stacking step on from this block's last
        v += offsets[-1] + film.vdw_gap_A
    return planes


def plane_columns(plane, width):
    """Lateral column positions of one plane in [0, width) and their beam offsets."""
    n = np.arange(int(round(width / plane.period_A)))
    u = (plane.offset_A + (n + plane.stack * STEP) * plane.period_A) % width
    # lattice point n of the net sits a/2 back along the beam per column; the stacking vector adds a/2
    z0 = ((-n + plane.stack) * 0.5 * plane.beam_spacing_A) % plane.beam_spacing_A
    return u, z0


def disordered_band(system, v_low, v_high, width, tin_beam, film_beam, rng):
    """Columns of an intermixed band: a jittered close-packed net of random, partly occupied elements."""
    det = system.deteriorated
    spacing = 0.8 * system.film.projected_period_A
    n_per_row = max(int(round(width / spacing)), 1)
    spacing = width / n_per_row
    rows = np.arange(v_low, v_high + 1e-9, 0.85 * spacing * SQRT3 / 2)
    u = np.concatenate([(np.arange(n_per_row) * spacing + (i % 2) * spacing / 2 + rng.uniform(0, spacing))
                        for i in range(rows.size)])
    v = np.repeat(rows, n_per_row)
    u = (u + rng.normal(0, 0.35 * spacing / 2, u.size)) % width
    v = v + rng.normal(0, 0.25 * spacing / 2, v.size)
    element = rng.choice(np.asarray(det.band_elements), u.size)
    occupancy = np.clip(rng.normal(det.band_occupancy, 0.2, u.size), 0.1, 1.0)
    beam = np.where(element == system.substrate.metal, tin_beam, film_beam)
    return u, v, element, occupancy, beam


def build_model(system, interface, tin_strain_pct=0.0, n_ti=7, n_ql=3, seed=0,
                width_range=(40.0, 56.0), film_blocks=()):
    """Build the column model of a cross-section from a stemlayers MaterialSystem.

    Parameters
    ----------
    system : stemlayers.materials.MaterialSystem
    interface : {"bilayer", "vdw", "deteriorated"}
    tin_strain_pct : float
        In-plane (biaxial) strain of TiN, %; its (111) spacing follows with the Poisson ratio.
    n_ti : int
        Ti planes, the top one at height 0.
    n_ql : int
        Ordered quintuple layers above the interface.
    seed : int
        Seed of the film's lateral registry and of the disorder.
    width_range : (float, float)
        Allowed periodic widths, Å.
    film_blocks : tuple of str
        The film's blocks from the first one up ("QL", "SL", "twin"); quintuple layers after them.

    Returns
    -------
    Model
    """
    rng = np.random.default_rng(seed)
    sub, film = system.substrate, system.film
    strain = tin_strain_pct / 100.0
    p_tin = sub.projected_period_A * (1.0 + strain)
    n_tin, n_film, width, film_strain = lateral_cell(p_tin, film.projected_period_A, width_range)
    p_film = width / n_film
    planes = tin_planes(sub, n_ti, strain)
    top_tin = len(planes) - 1
    film_offset = rng.uniform(0, p_film)  # the film's registry with TiN is not fixed
    stack = 0
    if interface == "bilayer":
        bl = system.bilayer
        v_bi, v_x = bl.tin_gap_A, bl.tin_gap_A + bl.spacing_A
        for j, (h, el) in enumerate(zip((v_bi, v_x), bl.elements)):
            planes.append(Plane(h, el, "bilayer", p_film, p_film * 2 / SQRT3, j, film_offset))
        v_first, stack = v_x + bl.ql_gap_A, 2
    elif interface == "vdw":
        v_first = system.vdw.tin_gap_A
    elif interface == "deteriorated":
        det = system.deteriorated
        v_band = (1.5, 1.5 + det.band_thickness_A)
        v_first = v_band[1] + film.vdw_gap_A
    else:
        raise ValueError(f"interface must be bilayer, vdw or deteriorated, not {interface!r}")
    for p in film_planes(system, v_first, n_ql, p_film, stack, blocks=film_blocks):
        p.offset_A = film_offset
        planes.append(p)

    parts = {k: [] for k in ("u", "v", "el", "pl", "occ", "beam", "z0", "jit")}
    for index, plane in enumerate(planes):
        u, z0 = plane_columns(plane, width)
        parts["u"].append(u)
        parts["v"].append(np.full(u.size, plane.height_A))
        parts["el"].append(np.full(u.size, plane.element, dtype=object))
        parts["pl"].append(np.full(u.size, index))
        parts["occ"].append(np.ones(u.size))
        parts["beam"].append(np.full(u.size, plane.beam_spacing_A))
        parts["z0"].append(z0)
        parts["jit"].append(np.zeros(u.size))
    cat = {k: np.concatenate(v) for k, v in parts.items()}

    if interface == "deteriorated":
        det = system.deteriorated
        # the top `roughened_tin_planes` Ti planes and the N planes between them
        rough = np.zeros(cat["u"].size, bool)
        for index, plane in enumerate(planes):
            if plane.material == "TiN" and plane.height_A > -(det.roughened_tin_planes - 0.75) * sub.plane_spacing_A:
                rough |= cat["pl"] == index
        cat["u"][rough] = (cat["u"][rough] + rng.normal(0, det.roughness_A, rough.sum())) % width
        cat["v"][rough] += rng.normal(0, det.roughness_A, rough.sum())
        keep = ~(rough & (rng.uniform(size=rough.size) < det.missing_fraction))
        cat = {k: v[keep] for k, v in cat.items()}
        bu, bv, bel, bocc, bbeam = disordered_band(system, *v_band, width, sub.inplane_a_A,
                                                   p_film * 2 / SQRT3, rng)
        extra = {"u": bu, "v": bv, "el": bel.astype(object), "pl": np.full(bu.size, -1), "occ": bocc,
                 "beam": bbeam, "z0": rng.uniform(0, bbeam), "jit": np.full(bu.size, 0.2)}
        cat = {k: np.concatenate([cat[k], extra[k]]) for k in cat}

    return Model(
        system=system.name, interface=interface, width_A=width, tin_strain_pct=tin_strain_pct,
        tin_inplane_A=p_tin * 2 / SQRT3, film_inplane_A=p_film * 2 / SQRT3,
        planes=planes, top_tin_plane=top_tin,
        u_A=cat["u"], v_A=cat["v"], element=cat["el"].astype(str), plane=cat["pl"].astype(int),
        occupancy=cat["occ"], beam_spacing_A=cat["beam"], beam_offset_A=cat["z0"], jitter_A=cat["jit"],
        info={"n_tin_periods": n_tin, "n_film_periods": n_film, "film_residual_strain_pct": 100 * film_strain,
              "tin_plane_spacing_A": poisson_spacing(sub.plane_spacing_A, strain, sub.poisson_ratio),
              "film_registry_A": film_offset, "seed": seed, "film_blocks": list(film_blocks),
              "film_defects": _film_defects_truth(planes, film_blocks)},
    )


def lateral_model(system, parts, tin_strain_pct=0.0, n_ti=7, n_ql=3, seed=0, width_range=(52.0, 62.0)):
    """A cross-section whose interface changes along the cell: equal parts, each (interface, terrace).

    Each part is :func:`build_model` of its class (the same cell, its film's own registry, as separate
    nuclei grow), keeping its columns in its share of the width; a part on a lower terrace lacks the top
    `terrace` TiN planes, its film that much lower. Heights are those of the highest terrace.
    """
    models = [build_model(system, interface, tin_strain_pct, n_ti=n_ti + max(t for _, t in parts), n_ql=n_ql,
                          seed=seed + k, width_range=width_range) for k, (interface, _) in enumerate(parts)]
    width = models[0].width_A
    d111 = models[0].info["tin_plane_spacing_A"]
    n_tin = models[0].top_tin_plane + 1
    fields = ("u_A", "v_A", "element", "plane", "occupancy", "beam_spacing_A", "beam_offset_A", "jitter_A")
    chunks, planes, segments = {f: [] for f in fields}, list(models[0].planes[:n_tin]), []
    for k, (model, (interface, terrace)) in enumerate(zip(models, parts)):
        lo, hi = k * width / len(parts), (k + 1) * width / len(parts)
        drop = terrace * d111
        tin = (model.plane >= 0) & (model.plane < n_tin)
        keep = (model.u_A >= lo) & (model.u_A < hi) & ~(tin & (model.v_A > -drop + 0.1))
        offset = len(planes) - n_tin
        planes += [Plane(p.height_A - drop, p.element, p.material, p.period_A, p.beam_spacing_A, p.stack,
                         p.offset_A) for p in model.planes[n_tin:]]
        for f in fields:
            values = getattr(model, f)[keep]
            if f == "v_A":
                values = np.where(tin[keep], values, values - drop)
            elif f == "plane":
                values = np.where(values >= n_tin, values + offset, values)
            chunks[f].append(values)
        segments.append([lo, hi, interface, int(terrace)])
    classes = {interface for interface, _ in parts}
    first = models[0]
    info = dict(first.info, segments=segments, tin_plane_spacing_A=d111, seed=seed)
    return Model(system=first.system, interface=classes.pop() if len(classes) == 1 else "mixed", width_A=width,
                 tin_strain_pct=first.tin_strain_pct, tin_inplane_A=first.tin_inplane_A,
                 film_inplane_A=first.film_inplane_A, planes=planes, top_tin_plane=n_tin - 1,
                 **{f: np.concatenate(chunks[f]) for f in fields}, info=info)


def model_atoms(model, thickness_A, v_bottom, height_A, seed=0):
    """ASE Atoms of the model: x along the interface, y up (v - v_bottom), z along the beam.

    Columns of partial occupancy keep each site with that probability;
    disordered columns scatter their atoms laterally by `jitter_A` rms.
    """
    from ase import Atoms

    rng = np.random.default_rng(seed + 7919)
    symbols, positions = [], []
    for i in range(model.u_A.size):
        z = np.arange(model.beam_offset_A[i], thickness_A, model.beam_spacing_A[i])
        if model.occupancy[i] < 1:
            z = z[rng.uniform(size=z.size) < model.occupancy[i]]
        xy = np.tile([model.u_A[i], model.v_A[i] - v_bottom], (z.size, 1))
        if model.jitter_A[i] > 0:
            xy += rng.normal(0, model.jitter_A[i], xy.shape)
        positions.append(np.column_stack([xy, z]))
        symbols += [model.element[i]] * z.size
    atoms = Atoms(symbols, positions=np.concatenate(positions),
                  cell=[model.width_A, height_A, thickness_A], pbc=True)
    atoms.wrap()
    return atoms


# --------------------------------------------------------------------------- multislice


@dataclass
class Optics:
    """Microscope and multislice settings (lengths Å, angles mrad)."""

    energy_eV: float = 300e3
    semiangle_mrad: float = 20.0
    defocus_A: float = 0.0
    potential_sampling_A: float = 0.045
    slice_A: float = 2.0
    thickness_A: float = 60.0
    exit_thicknesses_A: tuple = (30.0, 60.0)
    detectors_mrad: tuple = ((65.0, 145.0), (90.0, 145.0))
    interpolation: tuple = (4, 4)
    n_phonons: int = 1
    phonon_sigma_A: float = 0.08
    scan_sampling_A: float = 0.245
    downsample: bool = True
    max_batch: int = 32
    image_pixel_A: float = 0.18
    pad_A: float = 2.5
    crop_margin_A: float = 1.6


def nice_gpts(n):
    """Smallest integer >= n with prime factors 2, 3, 5 and 7 only (fast FFTs)."""
    n = int(np.ceil(n))
    while True:
        m = n
        for p in (2, 3, 5, 7):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def slab(atoms, z_low, z_high):
    """The atoms with z in [z_low, z_high), moved down by z_low, in a cell that thick."""
    keep = (atoms.positions[:, 2] >= z_low) & (atoms.positions[:, 2] < z_high)
    part = atoms[keep]
    part.positions[:, 2] -= z_low
    cell = atoms.cell.lengths()
    part.set_cell([cell[0], cell[1], z_high - z_low])
    return part


def for_reduction(s_array, reference):
    """A copy of a full-grid scattering matrix cut down to its antialias cutoff, for a cheaper reduction.

    Mirrors what ``SMatrix.build`` does with ``downsample="cutoff"``, but
    leaves `s_array` at full sampling so it can be propagated further.
    `reference` is an ``SMatrix`` of the same potential made with
    ``downsample="cutoff"``: it gives the target grid and window sizes.
    """
    from abtem.prism.s_matrix import SMatrixArray, _antialias_cutoff_gpts

    waves = s_array.waves.downsample(gpts=reference.downsampled_gpts, normalization="intensity")
    waves.metadata["adjusted_antialias_cutoff_gpts"] = _antialias_cutoff_gpts(reference.window_gpts,
                                                                              reference.sampling)
    return SMatrixArray._from_waves(waves, wave_vectors=s_array.wave_vectors, interpolation=s_array.interpolation,
                                    semiangle_cutoff=s_array.semiangle_cutoff, window_gpts=reference.window_gpts,
                                    device="cpu")


def run_prism(atoms, optics, scan_gpts, seed=0, log=print):
    """PRISM HAADF images of `atoms`, averaged over frozen-phonon configurations.

    The scattering matrix is built through the slab up to the first exit
    thickness, reduced to images there, then propagated on through the next
    slab (abTEM 1.0.11's PRISM cannot hold several exit planes at once), so
    one multislice run gives every thickness.

    Parameters
    ----------
    atoms : ase.Atoms
        Orthogonal periodic cell; z is the beam direction, 0 the entrance surface.
    optics : Optics
    scan_gpts : (int, int)
        Probe positions along x and y over the whole periodic cell.
    seed : int
        Seed of the thermal displacements.

    Returns
    -------
    dict
        ``images[(exit_index, detector_index)]`` = (nx, ny) float array indexed [x, y].
    """
    import abtem
    import dask

    dask.config.set(scheduler="synchronous")
    abtem.config.set({"device": "cpu", "fft": "fftw", "fftw.threads": 1, "dask.lazy": False,
                      "diagnostics.progress_bar": False})
    cell = atoms.cell.lengths()
    gpts = (nice_gpts(cell[0] / optics.potential_sampling_A), nice_gpts(cell[1] / optics.potential_sampling_A))
    edges = [0.0] + list(optics.exit_thicknesses_A)
    rng = np.random.default_rng(seed + 104729)
    outer = max(d[1] for d in optics.detectors_mrad)
    scan = abtem.GridScan(start=(0, 0), end=tuple(cell[:2]), gpts=tuple(scan_gpts), endpoint=False)
    detector = abtem.FlexibleAnnularDetector(step_size=1.0, inner=0.0, outer=outer)
    ctf = abtem.CTF(defocus=optics.defocus_A, semiangle_cutoff=optics.semiangle_mrad, energy=optics.energy_eV)
    total = {}
    for config in range(optics.n_phonons):
        start = time.perf_counter()
        shaken = atoms.copy()
        shaken.positions += rng.normal(0.0, optics.phonon_sigma_A, shaken.positions.shape)
        shaken.positions[:, :2] %= cell[:2]  # keep z: atoms that leave the slab are simply gone
        s_matrix, timing = None, []
        for e, (z_low, z_high) in enumerate(zip(edges[:-1], edges[1:])):
            t0 = time.perf_counter()
            # built once here: an unbuilt potential would be recomputed for every batch of plane waves
            potential = abtem.Potential(slab(shaken, z_low, z_high), gpts=gpts, slice_thickness=optics.slice_A,
                                        projection="infinite", parametrization="lobato").build(lazy=False)
            if s_matrix is None:
                s_matrix = abtem.SMatrix(potential=potential, energy=optics.energy_eV,
                                         semiangle_cutoff=optics.semiangle_mrad,
                                         interpolation=optics.interpolation, downsample=False)
                reference = abtem.SMatrix(potential=potential, energy=optics.energy_eV,
                                          semiangle_cutoff=optics.semiangle_mrad,
                                          interpolation=optics.interpolation, downsample="cutoff")
                n_waves = len(s_matrix)
                s_matrix = s_matrix.build(lazy=False, max_batch=optics.max_batch)
            else:
                s_matrix = s_matrix.multislice(potential)
            t1 = time.perf_counter()
            reducible = for_reduction(s_matrix, reference) if optics.downsample else s_matrix
            measurement = reducible.reduce(scan=scan, detectors=detector, ctf=ctf)
            if getattr(measurement, "is_lazy", False):
                measurement = measurement.compute(scheduler="synchronous")
            for d, (inner, outer_d) in enumerate(optics.detectors_mrad):
                image = np.asarray(measurement.integrate_radial(inner, outer_d).array).reshape(tuple(scan_gpts))
                total[(e, d)] = total.get((e, d), 0.0) + image / optics.n_phonons
            timing.append(f"{z_high:.0f} A: multislice {t1 - t0:.0f} s, reduction {time.perf_counter() - t1:.0f} s")
            del reducible, measurement  # free the cut-down copy before the next slab doubles the big one
        log(f"  phonon configuration {config + 1}/{optics.n_phonons}: {time.perf_counter() - start:.0f} s "
            f"(potential {gpts[0]}x{gpts[1]}, {n_waves} plane waves, interpolation {optics.interpolation}, "
            f"scan {scan_gpts[0]}x{scan_gpts[1]}; " + "; ".join(timing) + ")")
    return total


# --------------------------------------------------------------------------- images and truth


def fourier_interpolate(image, shape):
    """Band-limited (zero-padded FFT) interpolation of a periodic image to `shape`.

    A HAADF scan has no spatial frequency above twice the probe aperture, so
    a scan at or finer than that Nyquist step interpolates exactly.
    """
    spectrum = np.fft.fftshift(np.fft.fft2(image))
    out = np.zeros(shape, complex)
    lo = [n // 2 - m // 2 for n, m in zip(shape, image.shape)]  # the zero frequency stays at n // 2
    out[lo[0]:lo[0] + image.shape[0], lo[1]:lo[1] + image.shape[1]] = spectrum
    result = np.fft.ifft2(np.fft.ifftshift(out)).real
    return result * (shape[0] * shape[1]) / (image.shape[0] * image.shape[1])


@dataclass
class Frame:
    """The periodic simulation cell and the image cut out of it."""

    width_A: float
    height_A: float
    v_bottom: float  # height (above the top Ti plane) of the cell's y = 0
    pixel_A: float
    nx: int
    ny: int
    row0: int  # first kept row of the full-cell image (rows counted from the top)
    rows: int
    scan_gpts: tuple


def make_frame(model, optics):
    """Cell height, square image pixels and the crop that drops most of the vacuum padding."""
    nx = int(round(model.width_A / optics.image_pixel_A))
    pixel = model.width_A / nx
    v_low, v_high = model.v_A.min(), model.v_A.max()
    ny = int(np.ceil((v_high - v_low + 2 * optics.pad_A) / pixel))
    height = ny * pixel
    v_bottom = v_low - (height - (v_high - v_low)) / 2
    scan = (int(np.ceil(model.width_A / optics.scan_sampling_A)), int(np.ceil(height / optics.scan_sampling_A)))
    # rows from the top: row r is at height v_bottom + (ny - 1 - r) * pixel
    row_top = int(np.floor((v_bottom + (ny - 1) * pixel - (v_high + optics.crop_margin_A)) / pixel))
    row_bottom = int(np.ceil((v_bottom + (ny - 1) * pixel - (v_low - optics.crop_margin_A)) / pixel))
    row_top, row_bottom = max(row_top, 0), min(row_bottom, ny - 1)
    return Frame(model.width_A, height, v_bottom, pixel, nx, ny, row_top, row_bottom - row_top + 1, scan)


def to_image(scan_image, frame):
    """A scan indexed [x, y] over the whole cell -> the cropped image, growth pointing up."""
    full = fourier_interpolate(scan_image, (frame.nx, frame.ny))
    return np.ascontiguousarray(full.T[::-1][frame.row0:frame.row0 + frame.rows]).astype(np.float32)


def truth_dict(model, system, frame, optics, thickness_A, detector, dose, noisy, seed):
    """Ground truth in the keys of ``stemlayers.simulate.Truth``, plus the multislice settings."""
    import abtem

    x_px = model.u_A / frame.pixel_A
    y_px = (frame.ny - 1) - (model.v_A - frame.v_bottom) / frame.pixel_A - frame.row0
    weight = np.array([system.intensity(e) for e in model.element]) * model.occupancy
    det = system.deteriorated
    rough = [i for i, p in enumerate(model.planes) if model.interface == "deteriorated" and p.material == "TiN"
             and p.height_A > -(det.roughened_tin_planes - 0.75) * system.substrate.plane_spacing_A]
    band = None
    if model.interface == "deteriorated":
        in_band = model.plane < 0
        band = {"material": "disordered", "v_low_A": float(model.v_A[in_band].min()),
                "v_high_A": float(model.v_A[in_band].max()), "elements": list(det.band_elements),
                "mean_occupancy": float(model.occupancy[in_band].mean())}
    return {
        "system": system.name, "interface": model.interface, "pixel_size_A": frame.pixel_A,
        "shape": [frame.rows, frame.nx], "tin_strain_pct": model.tin_strain_pct,
        "tin_inplane_A": model.tin_inplane_A, "film_inplane_A": model.film_inplane_A,
        "tin_projected_period_A": model.tin_inplane_A * SQRT3 / 2,
        "film_projected_period_A": model.film_inplane_A * SQRT3 / 2,
        "growth_dir": [0.0, -1.0], "top_tin_plane": model.top_tin_plane, "field": "interface",
        # heights are from the top Ti plane as built (roughened at a deteriorated interface); the analysis's
        # height 0 is the top *complete* Ti plane: the same one except at a deteriorated interface
        "origin_plane": (model.top_tin_plane - 2 * det.roughened_tin_planes if model.interface == "deteriorated"
                         else model.top_tin_plane),
        "x_px": x_px.tolist(), "y_px": y_px.tolist(), "u_A": model.u_A.tolist(), "v_A": model.v_A.tolist(),
        "element": model.element.tolist(), "plane": model.plane.tolist(), "weight": weight.tolist(),
        "occupancy": model.occupancy.tolist(),
        "plane_height_A": [p.height_A for p in model.planes],
        "plane_element": [p.element for p in model.planes],
        "plane_material": [p.material for p in model.planes],
        "plane_period_A": [p.period_A for p in model.planes],
        "roughened_planes": rough, "band": band, **_segments_truth(model, frame),
        "film_defects": model.info.get("film_defects", []),
        "thickness_A": thickness_A, "detector_mrad": list(detector),
        "params": {
            "simulator": f"abTEM {abtem.__version__} PRISM multislice (refgen/multislice_abtem.py)",
            "energy_keV": optics.energy_eV / 1e3, "semiangle_mrad": optics.semiangle_mrad,
            "defocus_A": optics.defocus_A, "Cs_A": 0.0, "potential_sampling_A": optics.potential_sampling_A,
            "slice_A": optics.slice_A, "interpolation": list(optics.interpolation),
            "frozen_phonons": optics.n_phonons, "phonon_sigma_A": optics.phonon_sigma_A,
            "scan_step_A": [frame.width_A / frame.scan_gpts[0], frame.height_A / frame.scan_gpts[1]],
            "parametrization": "lobato", "projection": "infinite",
            "dose_e_per_px": dose if noisy else None, "noise": "poisson" if noisy else "none",
            "noise_seed": seed if noisy else None, "units": "expected counts" if not noisy else "counts",
            "cell_A": [frame.width_A, frame.height_A, optics.thickness_A],
            "seam": "periodic in x; an odd number of columns leaves one column pair at x = 0 out of "
                    "beam registry by a/2 (invisible in projection)",
            **model.info,
        },
    }


def _segments_truth(model, frame):
    """The truth's segments and terrace steps of a lateral model, in image pixels (empty otherwise)."""
    parts = model.info.get("segments")
    if not parts:
        return {}
    d111 = model.info["tin_plane_spacing_A"]

    def px(u, terrace):
        return [u / frame.pixel_A, (frame.ny - 1) - (-terrace * d111 - frame.v_bottom) / frame.pixel_A - frame.row0]

    segments = [{"start_px": px(lo, t), "end_px": px(hi, t), "length_A": hi - lo, "class": c}
                for lo, hi, c, t in parts]
    steps = [{"at_px": px(b[0], b[3]), "height_planes": abs(b[3] - a[3]), "height_A": abs(b[3] - a[3]) * d111}
             for a, b in zip(parts[:-1], parts[1:]) if a[3] != b[3]]
    return {"segments": segments, "steps": steps}


def add_noise(expected_counts, seed):
    """Poisson counts for an image of expected counts (a separate, seeded step)."""
    rng = np.random.default_rng(seed)
    return rng.poisson(np.clip(expected_counts, 0, None)).astype(np.float32)


def image_name(model, thickness_A, detector):
    """File stem without dots, e.g. Bi2Te3_bilayer_s0_t50_d65-160."""
    film = model.system.split("/")[0]
    strain = f"s{model.tin_strain_pct:+.0f}".replace("+", "p").replace("-", "m").replace("p0", "0").replace("m0", "0")
    kind = model.interface
    if model.info.get("segments"):  # a lateral model: each part's class and terrace, e.g. bilayer0-vdw1
        kind = "-".join(f"{c}{t}" for _, _, c, t in model.info["segments"])
    if model.info.get("film_blocks"):  # a film of named blocks, e.g. bilayer-QL-SL
        kind = "-".join([kind, *model.info["film_blocks"]])
    return f"{film}_{kind}_{strain}_t{thickness_A:.0f}_d{detector[0]:.0f}-{detector[1]:.0f}"


def write_image(out_dir, stem, image, pixel_A, truth, title):
    """Write `image` as calibrated .hspy and its ``STEM.truth.json``."""
    from stemlayers.io.write import save, write_text_atomic

    path = Path(out_dir) / f"{stem}.hspy"
    meta = {"title": title, "instrument": truth["params"]["simulator"], "voltage_kV": 300.0}
    save(image, path, pixel_A, metadata=meta)
    write_text_atomic(Path(out_dir) / f"{stem}.truth.json", json.dumps(truth, indent=1))
    return path


def run_model(system_name, interface, strain_pct, out_dir, optics, dose=5000.0, seed=0, n_ti=7, n_ql=3,
              log=print):
    """Build one model, run PRISM once, write every thickness x detector image (clean and noisy).

    Returns
    -------
    list of Path
        The written images.
    """
    start = time.perf_counter()
    system = load_material(system_name, log=log)
    model = build_model(system, interface, strain_pct, n_ti=n_ti, n_ql=n_ql, seed=seed)
    frame = make_frame(model, optics)
    atoms = model_atoms(model, optics.thickness_A, frame.v_bottom, frame.height_A, seed=seed)
    log(f"{system.name} {interface} TiN strain {strain_pct:+.1f} %: cell {frame.width_A:.2f} x "
        f"{frame.height_A:.2f} x {optics.thickness_A:.0f} A, {len(atoms)} atoms, "
        f"{model.info['n_tin_periods']} TiN / {model.info['n_film_periods']} film periods "
        f"(film residual strain {model.info['film_residual_strain_pct']:+.2f} %)")
    scans = run_prism(atoms, optics, frame.scan_gpts, seed=seed, log=log)
    out_dir = Path(out_dir)
    (out_dir / "raw").mkdir(parents=True, exist_ok=True)
    # the raw scans over the whole cell (intensity / incident), to re-make the images without rerunning
    np.savez(out_dir / "raw" / (image_name(model, 0, (0, 0)).split("_t")[0] + ".npz"),
             **{f"t{optics.exit_thicknesses_A[e]:.0f}_d{optics.detectors_mrad[d][0]:.0f}-"
                f"{optics.detectors_mrad[d][1]:.0f}": v for (e, d), v in scans.items()})
    written = []
    for (e, d), scan_image in sorted(scans.items()):
        thickness, detector = optics.exit_thicknesses_A[e], optics.detectors_mrad[d]
        stem = image_name(model, thickness, detector)
        clean = to_image(scan_image, frame) * dose
        title = f"abTEM {system.name.replace('/', ' on ')} {interface} {thickness:.0f} A {detector[0]:.0f}-{detector[1]:.0f} mrad"
        written.append(write_image(out_dir, stem, clean, frame.pixel_A,
                                   truth_dict(model, system, frame, optics, thickness, detector, dose, False, seed),
                                   title))
        noise_seed = seed * 1000 + 10 * e + d
        written.append(write_image(out_dir, stem + "_noisy", add_noise(clean, noise_seed), frame.pixel_A,
                                   truth_dict(model, system, frame, optics, thickness, detector, dose, True,
                                              noise_seed), title + " Poisson"))
    log(f"  wrote {len(written)} images in {time.perf_counter() - start:.0f} s total")
    return written


# every class and both systems unstrained first (Bi2Te3 bilayer and Bi2Se3 vdw have 50 / 35 Å images from earlier runs)
BATCH = [(s, i, 0.0) for s, i in (("Bi2Te3/TiN", "deteriorated"), ("Bi2Se3/TiN", "bilayer"), ("Bi2Te3/TiN", "bilayer"),
                                  ("Bi2Te3/TiN", "vdw"), ("Bi2Se3/TiN", "deteriorated"), ("Bi2Se3/TiN", "vdw"))]
BATCH += [(s, i, 2.0) for s, i, _ in BATCH]


def optics_from_args(args):
    """Optics from the command-line options."""
    half = args.thickness / 2
    return Optics(semiangle_mrad=args.semiangle, potential_sampling_A=args.sampling, slice_A=args.slice,
                  thickness_A=args.thickness, exit_thicknesses_A=(half, args.thickness),
                  detectors_mrad=tuple(tuple(float(v) for v in d.split("-")) for d in args.detectors),
                  interpolation=(args.interpolation, args.interpolation), n_phonons=args.phonons,
                  phonon_sigma_A=args.sigma, scan_sampling_A=args.scan_step, image_pixel_A=args.pixel)


def add_model_arguments(parser, *, detectors, sampling, interpolation, scan_step):
    """The model, optics and output options both generators share (their defaults differ)."""
    parser.add_argument("--system", default="Bi2Te3/TiN")
    parser.add_argument("--interface", default="bilayer", choices=["bilayer", "vdw", "deteriorated"])
    parser.add_argument("--strain", type=float, default=0.0, help="TiN in-plane strain, %%")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--detectors", nargs="+", default=detectors, help="inner-outer mrad")
    parser.add_argument("--semiangle", type=float, default=20.0)
    parser.add_argument("--sampling", type=float, default=sampling, help="potential sampling, Å")
    parser.add_argument("--slice", type=float, default=2.0)
    parser.add_argument("--interpolation", type=int, default=interpolation, help="PRISM interpolation factor")
    parser.add_argument("--phonons", type=int, default=1)
    parser.add_argument("--sigma", type=float, default=0.08, help="thermal rms displacement, Å")
    parser.add_argument("--scan-step", type=float, default=scan_step, help="Å; Fourier-interpolated to --pixel")
    parser.add_argument("--pixel", type=float, default=0.18, help="image pixel size, Å")
    parser.add_argument("--dose", type=float, default=5000.0, help="electrons per pixel for the noisy copy")
    parser.add_argument("--n-ti", type=int, default=7)
    parser.add_argument("--n-ql", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)


def main(argv=None):
    """Command line: ``one`` model or the whole ``batch`` (12 models, most useful first)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["one", "batch"])
    add_model_arguments(parser, detectors=["65-145", "90-145"], sampling=0.045, interpolation=4, scan_step=0.245)
    parser.add_argument("--thickness", type=float, default=60.0, help="Å; images at half and at full thickness")
    parser.add_argument("--skip-done", action="store_true", help="batch: skip models whose images exist")
    args = parser.parse_args(argv)
    optics = optics_from_args(args)

    def log(message):
        print(time.strftime("%H:%M:%S"), message, flush=True)

    runs = [(args.system, args.interface, args.strain)] if args.mode == "one" else BATCH
    failed = []
    for attempt in range(2):  # a model that failed (e.g. a half-edited working tree) gets one more try at the end
        todo, failed = (list(enumerate(runs)) if attempt == 0 else failed), []
        for k, (system, interface, strain) in todo:
            stem_system = system.split("/")[0]
            if args.skip_done and list(Path(args.out).glob(f"{stem_system}_{interface}_s{'p2' if strain else '0'}_t*")):
                log(f"skip {system} {interface} {strain:+.1f} %: done")
                continue
            start = time.perf_counter()
            try:
                run_model(system, interface, strain, args.out, optics, dose=args.dose, seed=args.seed + k,
                          n_ti=args.n_ti, n_ql=args.n_ql, log=log)
            except Exception as exc:  # noqa: BLE001 - log it, go on with the next model
                log(f"model {k + 1}/{len(runs)} FAILED: {type(exc).__name__}: {exc}")
                failed.append((k, (system, interface, strain)))
                continue
            log(f"model {k + 1}/{len(runs)} done in {(time.perf_counter() - start) / 60:.1f} min")
        if not failed:
            break
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
