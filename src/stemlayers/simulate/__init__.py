"""Physics simulator of HAADF-STEM cross-sections of TI/TiN heterostructures.

``simulate(SimulationParams(...))`` builds the atomic-plane model of a
cross-section from a material-system TOML (:mod:`.structure`), renders an
incoherent HAADF image of it (:mod:`.render`) and returns the image with its
ground truth: every column's position in pixels and Å, its element and plane,
every plane's height, the interface class, the system and the strain.

``sample_params(rng)`` draws parameters over wide ranges (rotation, flips,
pixel size, dose, probe, jitter, drift, background, strain, interface
spacings) so that tests and benchmarks do not tune to a single setting.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..materials import MaterialSystem, load_system
from ..gaussians import render_gaussians
from .render import add_tail, apply_noise, to_image_frame
from .structure import INTERFACES, Structure, build_structure

__all__ = [
    "INTERFACES",
    "SimulatedImage",
    "SimulationParams",
    "Truth",
    "load_truth",
    "sample_params",
    "simulate",
    "truth_path",
    "write_simulation",
]


@dataclass(frozen=True)
class SimulationParams:
    """Everything that defines one simulated image. Lengths in Å unless named otherwise.

    Attributes
    ----------
    system : str
        Material-system name or TOML path.
    interface : {"bilayer", "vdw", "deteriorated"}
    shape : (rows, cols)
    pixel_size_A : float
    rotation_deg : float
        Counter-clockwise rotation of the specimen on screen; 0 puts TiN at the bottom.
    flip : bool
        Mirror the specimen (u -> -u) before rotating.
    dose : float
        Expected counts at the centre of the brightest column type (before background).
    probe_sigma_A : float
        Standard deviation of the probe's Gaussian core.
    tail_fraction : float
        Share of the probe current in its long tail (0 = none).
    tail_width_A : float
        Width of the tail, ``(1 + r^2/w^2)^(-3/2)``.
    tin_strain_pct : float
        In-plane strain of TiN in % (the film relaxes by vdW epitaxy).
    interface_offset_A : float
        Height above the top TiN plane of the image centre.
    n_tin_planes, n_ql : int or None
        Film thicknesses; None fills the field.
    bilayer_spacing_A, bilayer_tin_gap_A, vdw_gap_A : float or None
        Override the system's interface spacings.
    bilayer_coverage : float
        Fraction of the interface covered by the bilayer.
    jitter_px : float
        rms horizontal shift of each scan line.
    drift_shear, drift_stretch : float
        Linear scan distortions (dimensionless, e.g. 0.005).
    background : float
        Constant background, as a fraction of `dose`.
    background_ramp : float
        Linear background ramp across the field, fraction of `dose`.
    read_noise : float
        rms Gaussian detector noise in counts.
    weight_jitter : float
        Relative rms scatter of column weights (local thickness, defocus).
    thickness_gradient : float
        Relative change of thickness across the field (a wedge).
    background_smooth : float
        A non-linear, smoothly varying background (random, on a ~30 Å scale),
        its rms as a fraction of `dose`.
    amorphous : float
        A thin amorphous surface layer: random atoms over the whole field,
        each this fraction of a Ti column's weight (0 = none).
    seed : int or None
    """

    system: str = "Bi2Te3/TiN"
    interface: str = "bilayer"
    shape: tuple[int, int] = (512, 512)
    pixel_size_A: float = 0.10
    rotation_deg: float = 0.0
    flip: bool = False
    dose: float = 150.0
    probe_sigma_A: float = 0.40
    tail_fraction: float = 0.06
    tail_width_A: float = 2.5
    tin_strain_pct: float = 0.0
    interface_offset_A: float = 0.0
    n_tin_planes: int | None = None
    n_ql: int | None = None
    bilayer_spacing_A: float | None = None
    bilayer_tin_gap_A: float | None = None
    vdw_gap_A: float | None = None
    bilayer_coverage: float = 1.0
    jitter_px: float = 0.0
    drift_shear: float = 0.0
    drift_stretch: float = 0.0
    background: float = 0.05
    background_ramp: float = 0.0
    read_noise: float = 0.0
    weight_jitter: float = 0.03
    thickness_gradient: float = 0.0
    background_smooth: float = 0.0
    amorphous: float = 0.0
    seed: int | None = 0


@dataclass(frozen=True)
class Truth:
    """Ground truth of a simulated image.

    Column arrays are in image order (x = column, y = row in pixels) and in
    specimen coordinates (u along the interface, v = height above the top Ti
    plane, Å). `plane` indexes `planes` (ordered from the substrate upwards),
    -1 for columns of the disordered band.
    """

    system: str
    interface: str
    pixel_size_A: float
    shape: tuple[int, int]
    tin_strain_pct: float
    tin_inplane_A: float
    film_inplane_A: float
    growth_dir: tuple[float, float]
    top_tin_plane: int
    x_px: np.ndarray
    y_px: np.ndarray
    u_A: np.ndarray
    v_A: np.ndarray
    element: np.ndarray
    plane: np.ndarray
    weight: np.ndarray
    plane_height_A: np.ndarray
    plane_element: np.ndarray
    plane_material: np.ndarray
    plane_period_A: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def xy(self) -> np.ndarray:
        """(N, 2) column positions (x, y) in pixels."""
        return np.column_stack([self.x_px, self.y_px])

    def visible(self, min_intensity: float = 0.5) -> np.ndarray:
        """Mask of columns at least `min_intensity` x a Ti column (Ti and heavier)."""
        return self.weight >= min_intensity

    def to_dict(self) -> dict:
        """JSON-serialisable dictionary (lists of plain numbers and strings)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
        out["shape"] = list(self.shape)
        out["growth_dir"] = list(self.growth_dir)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Truth:
        kwargs = {}
        for f in dataclasses.fields(cls):
            value = data[f.name] if f.name in data else None
            if isinstance(value, list) and f.name not in ("shape", "growth_dir"):
                value = np.asarray(value)
            kwargs[f.name] = value
        kwargs["shape"] = tuple(data["shape"])
        kwargs["growth_dir"] = tuple(data["growth_dir"])
        kwargs["params"] = data.get("params", {})
        return cls(**kwargs)


@dataclass(frozen=True)
class SimulatedImage:
    """A simulated image (counts, float32), its pixel size and its ground truth."""

    data: np.ndarray
    pixel_size_A: float
    truth: Truth
    seconds: float = 0.0


def _field_extent(params):
    """Half-extents (u, v) of the specimen region that covers the rotated field, Å."""
    rows, cols = params.shape
    radius = 0.5 * np.hypot(rows, cols) * params.pixel_size_A * (1 + abs(params.drift_shear)
                                                                 + abs(params.drift_stretch))
    return radius + 6 * params.probe_sigma_A + 2 * params.tail_width_A


def simulate(params: SimulationParams | None = None, material: MaterialSystem | None = None,
             noise: bool = True, **overrides) -> SimulatedImage:
    """Simulate a HAADF-STEM cross-section and its ground truth.

    Parameters
    ----------
    params : SimulationParams, optional
        Defaults to ``SimulationParams()``.
    material : MaterialSystem, optional
        Use this system object instead of loading ``params.system``.
    noise : bool
        False gives the expected counts without Poisson or detector noise
        and without scan jitter (for checking positions).
    **overrides
        Fields of SimulationParams to replace, e.g. ``interface="vdw"``.

    Returns
    -------
    SimulatedImage
    """
    start = time.perf_counter()
    params = dataclasses.replace(params or SimulationParams(), **overrides)
    if isinstance(params.shape, int):
        params = dataclasses.replace(params, shape=(params.shape, params.shape))
    system = material or load_system(params.system)
    rng = np.random.default_rng(params.seed)
    shape = tuple(int(s) for s in params.shape)
    px = params.pixel_size_A

    radius = _field_extent(params)
    v_center = params.interface_offset_A
    structure: Structure = build_structure(
        system, params.interface, radius, (v_center - radius, v_center + radius),
        tin_strain=params.tin_strain_pct / 100.0, n_tin_planes=params.n_tin_planes, n_ql=params.n_ql,
        bilayer_spacing_A=params.bilayer_spacing_A, bilayer_tin_gap_A=params.bilayer_tin_gap_A,
        vdw_gap_A=params.vdw_gap_A, bilayer_coverage=params.bilayer_coverage, rng=rng)

    u_center = rng.uniform(0, 10.0)  # random lateral registry of the field
    xy, growth_dir = to_image_frame(
        structure.u_A, structure.v_A, shape, px, params.rotation_deg, params.flip,
        center_A=(u_center, v_center), drift_shear=params.drift_shear, drift_stretch=params.drift_stretch)

    weight = structure.weight * (1 + params.weight_jitter * rng.standard_normal(structure.weight.size))
    weight *= 1 + params.thickness_gradient * (structure.u_A - u_center) / radius
    weight = np.clip(weight, 0, None)
    # dose is the expected count at the core of the brightest column type
    brightest = max(system.intensity(e) for e in system.film.ql_elements + (system.substrate.metal,))
    peak_scale = params.dose / brightest

    sigma_px = params.probe_sigma_A / px
    # drawn whether used or not, so that noise=False gives the same background ramp as noise=True
    jitter = rng.normal(0.0, params.jitter_px, shape[0]) if params.jitter_px > 0 else None
    if not noise:
        jitter = None
    counts = render_gaussians(xy, weight * peak_scale, sigma_px, shape, line_shift_px=jitter)
    counts += add_tail(xy, weight * peak_scale, shape, sigma_px, params.tail_fraction,
                       params.tail_width_A / px)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    ramp_dir = rng.uniform(0, 2 * np.pi)
    ramp = ((cols / max(shape[1] - 1, 1) - 0.5) * np.cos(ramp_dir)
            + (rows / max(shape[0] - 1, 1) - 0.5) * np.sin(ramp_dir))
    counts += params.dose * (params.background + params.background_ramp * ramp)
    if params.background_smooth > 0:
        # thickness and contamination vary slowly: smoothed white noise, scaled to the wanted rms
        # smooth on a 30 Å scale: made on a coarse grid (7.5 Å cells) several times that scale, so a
        # small field sees a gentle part of it, then interpolated to the pixels
        cell = 7.5 / px
        coarse = tuple(max(int(np.ceil(s / cell)) + 2, 24) for s in shape)
        field = ndimage.gaussian_filter(rng.standard_normal(coarse), 4.0, mode="wrap")
        field = (field - field.mean()) / max(field.std(), 1e-12)
        rows_c, cols_c = np.mgrid[0:shape[0], 0:shape[1]] / cell
        smooth = ndimage.map_coordinates(field, [rows_c, cols_c], order=1, mode="wrap")
        counts += params.dose * params.background_smooth * smooth
    if params.amorphous > 0:
        # an amorphous surface film: atoms at random, about one per 2 Å^2, slightly larger than the probe
        n_atoms = int(shape[0] * shape[1] * px**2 / 2.0)
        atoms = rng.uniform(0, 1, (n_atoms, 2)) * np.array([shape[1], shape[0]])
        counts += render_gaussians(atoms, np.full(n_atoms, params.amorphous * peak_scale)
                                   * rng.uniform(0.5, 1.5, n_atoms), 1.3 * sigma_px, shape)
    if noise:
        counts = apply_noise(counts, rng, params.read_noise)

    in_field = ((xy[:, 0] >= 0) & (xy[:, 0] <= shape[1] - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= shape[0] - 1))
    planes = structure.planes
    truth = Truth(
        system=system.name, interface=params.interface, pixel_size_A=px, shape=shape,
        tin_strain_pct=params.tin_strain_pct, tin_inplane_A=float(structure.tin_inplane_A),
        film_inplane_A=float(structure.film_inplane_A),
        growth_dir=(float(growth_dir[0]), float(growth_dir[1])),
        top_tin_plane=structure.top_tin_plane,
        x_px=xy[in_field, 0], y_px=xy[in_field, 1],
        u_A=structure.u_A[in_field] - u_center, v_A=structure.v_A[in_field],
        element=structure.element[in_field], plane=structure.plane[in_field],
        weight=weight[in_field],
        plane_height_A=np.array([p.height_A for p in planes]),
        plane_element=np.array([p.element for p in planes]),
        plane_material=np.array([p.material for p in planes]),
        plane_period_A=np.array([p.period_A for p in planes]),
        params={k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(params).items()},
    )
    return SimulatedImage(counts.astype(np.float32), px, truth, time.perf_counter() - start)


def sample_params(rng: np.random.Generator, **fixed) -> SimulationParams:
    """Draw simulation parameters over wide, realistic ranges.

    Anything given in `fixed` is kept as given. The ranges span what the
    analysis must handle: any rotation and either handedness, 0.07-0.16
    Å/px, doses 60-400, probes 0.32-0.55 Å, scan jitter up to 0.3 px, drift
    up to 0.4 %, background ramps and smooth non-linear backgrounds, an
    amorphous surface layer in half the draws, strains up to ±3 % and
    interface spacings well beyond the nominal ones.
    """
    draw = dict(
        system=str(rng.choice(["Bi2Te3/TiN", "Bi2Se3/TiN"])),
        interface=str(rng.choice(INTERFACES)),
        pixel_size_A=float(rng.uniform(0.07, 0.16)),
        rotation_deg=float(rng.uniform(0, 360)),
        flip=bool(rng.integers(2)),
        dose=float(np.exp(rng.uniform(np.log(60), np.log(400)))),
        probe_sigma_A=float(rng.uniform(0.32, 0.55)),
        tail_fraction=float(rng.uniform(0.0, 0.15)),
        tail_width_A=float(rng.uniform(1.5, 4.0)),
        tin_strain_pct=float(rng.uniform(-3, 3)),
        interface_offset_A=float(rng.uniform(-6, 6)),
        bilayer_spacing_A=float(rng.uniform(2.4, 3.6)),
        bilayer_tin_gap_A=float(rng.uniform(2.2, 3.0)),
        vdw_gap_A=float(rng.uniform(2.5, 3.4)),
        jitter_px=float(rng.uniform(0.05, 0.3)),
        drift_shear=float(rng.normal(0, 0.002)),
        drift_stretch=float(rng.normal(0, 0.002)),
        background=float(rng.uniform(0.02, 0.3)),
        background_ramp=float(rng.uniform(0, 0.2)),
        read_noise=float(rng.uniform(0, 2)),
        weight_jitter=float(rng.uniform(0.0, 0.08)),
        thickness_gradient=float(rng.uniform(-0.15, 0.15)),
        background_smooth=float(rng.uniform(0, 0.05)),
        amorphous=float(rng.choice([0.0, rng.uniform(0.02, 0.1)])),
        seed=int(rng.integers(2**31)),
    )
    draw.update(fixed)
    return SimulationParams(**draw)


def truth_path(image_path: str | Path) -> Path:
    """Where the truth of a simulated image file lives: ``NAME.truth.json`` beside it."""
    image_path = Path(image_path)
    return image_path.with_name(image_path.name.split(".")[0] + ".truth.json")


def write_simulation(sim: SimulatedImage, path: str | Path, units: str = "Å") -> Path:
    """Write a simulated image as a calibrated file (format from the suffix) and its truth JSON."""
    from ..writers import save, write_text_atomic

    path = Path(path)
    # no "/" in the title: NCEM EMD uses it as an HDF5 group name
    meta = {"title": f"simulated {sim.truth.system.replace('/', ' on ')} {sim.truth.interface} interface",
            "instrument": "stemlayers simulator", "voltage_kV": 300.0}
    save(sim.data, path, sim.pixel_size_A, metadata=meta, units=units)
    write_text_atomic(truth_path(path), json.dumps(sim.truth.to_dict(), indent=1))
    return path


def load_truth(path: str | Path) -> Truth:
    """Read the truth JSON of a simulated image (give the image or the JSON path)."""
    path = Path(path)
    if not path.name.endswith(".truth.json"):
        path = truth_path(path)
    return Truth.from_dict(json.loads(path.read_text()))
