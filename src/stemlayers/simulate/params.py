"""The parameters of one simulated image, and random draws of them.

``sample_params(rng)`` draws over the ranges the analysis was built on;
``sample_params(rng, wide=True)`` (:func:`sample_wide_params`) draws over
much wider ones, where the analysis's own assumptions no longer hold: any
HAADF Z exponent from 1.3 to 2.0, per-element channelling, mistilted
(elliptical) columns, a drift that wanders during the scan, glitched scan
lines, steep thickness wedges, 0.06-0.2 Å/px and doses down to 40.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..materials import load_system
from .contrast import draw_channelling
from .structure import INTERFACES

__all__ = ["SimulationParams", "sample_harsh_params", "sample_params", "sample_wide_params"]


@dataclass(frozen=True)
class SimulationParams:
    """Everything that defines one simulated image. Lengths in Å unless named otherwise.

    The fields after `amorphous` make the images harsher; their defaults
    leave the images as they were before they existed.

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
    segments : tuple of (start_A, interface, terrace_planes)
        An interface that changes along its length (:mod:`.lateral`): from
        ``start_A`` (Å along the interface from the specimen's u = 0, near the
        field's centre) to the next start, the class ``interface`` over a TiN
        terrace ``terrace_planes`` (111) planes lower than the top one. Empty:
        one class, `interface`, all along.
    film_blocks : tuple of str
        The film's blocks from the interface up: "QL", "SL" (a septuple Bi3X4-like lamella, X-Bi-X-Bi-X-Bi-X)
        or "twin" (a quintuple layer stacked the other way); quintuple layers after them.
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
    tin_wedge : float
        A TiN film that thins along the interface: its columns fall from
        full weight on one side of the field to ``1 - tin_wedge`` of it on
        the other (0 = none; 0.8 leaves a fifth).
    background_smooth : float
        A non-linear, smoothly varying background (random, on a ~30 Å scale),
        its rms as a fraction of `dose`.
    amorphous : float
        A thin amorphous surface layer: random atoms over the whole field,
        each this fraction of a Ti column's weight (0 = none).
    contrast_exponent : float or None
        HAADF weight of a column ~ Z^n per atom / atom spacing along the
        beam, with this n (1.3-2.0 for real detectors); None keeps the
        system file's relative intensities.
    channelling : dict or None
        Element -> factor multiplying that element's column weight
        (e.g. ``{"Bi": 0.85, "Te": 1.0, "Ti": 1.1}``; missing elements 1).
    column_ellipticity : float
        Ratio of the major to the minor axis of every column (a mistilted
        specimen; 1 = round). The column's area is kept.
    column_ellipse_angle_deg : float
        Direction of the major axis on screen, from +x towards +y (rows).
    scan_drift_nonlinear_px : float
        Peak of a smooth random (x, y) displacement that wanders with the
        scan row (a drift that changes speed during the frame), px.
    drift_scale_gradient : float
        Change of the fast-scan (x) scale from the top row to the bottom one
        (0.02: the bottom rows 2 % wider than the top ones), about the centre
        column. Not what a drift does (a drift cannot change the scale along
        a line): a scan-generator gain that changes during the frame.
    drift_shear_gradient : float
        Change of the shear (x px per row) from the top row to the bottom one.
    drift_stretch_gradient : float
        Change of the slow-scan (y) scale from the top row to the bottom one
        (the row spacing: the drift along y changes speed).
    corrupted_lines : float
        Fraction of scan lines (0-1) glitched: shifted sideways by 2-8 px,
        blanked, or duplicated from the line above.
    field : str
        What is in the field of view: "interface" (the default), "tin_only",
        "ti_only", "perovskite", "honeycomb" or "amorphous" (see
        :mod:`stemlayers.simulate.fields`).
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
    segments: tuple = ()
    film_blocks: tuple = ()
    jitter_px: float = 0.0
    drift_shear: float = 0.0
    drift_stretch: float = 0.0
    background: float = 0.05
    background_ramp: float = 0.0
    read_noise: float = 0.0
    weight_jitter: float = 0.03
    thickness_gradient: float = 0.0
    tin_wedge: float = 0.0
    background_smooth: float = 0.0
    amorphous: float = 0.0
    contrast_exponent: float | None = None
    channelling: dict | None = None
    column_ellipticity: float = 1.0
    column_ellipse_angle_deg: float = 0.0
    scan_drift_nonlinear_px: float = 0.0
    drift_scale_gradient: float = 0.0
    drift_shear_gradient: float = 0.0
    drift_stretch_gradient: float = 0.0
    corrupted_lines: float = 0.0
    field: str = "interface"
    seed: int | None = 0


def sample_params(rng: np.random.Generator, wide: bool = False, **fixed) -> SimulationParams:
    """Draw simulation parameters over wide, realistic ranges.

    Anything given in `fixed` is kept as given. The ranges span what the
    analysis must handle: any rotation and either handedness, 0.07-0.16
    Å/px, doses 60-400, probes 0.32-0.55 Å, scan jitter up to 0.3 px, drift
    up to 0.4 %, background ramps and smooth non-linear backgrounds, an
    amorphous surface layer in half the draws, strains up to ±3 % and
    interface spacings well beyond the nominal ones. The contrast is the
    system file's and the columns are round.

    With ``wide=True``, draws with :func:`sample_wide_params` instead.
    """
    if wide:
        return sample_wide_params(rng, **fixed)
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


def sample_wide_params(rng: np.random.Generator, **fixed) -> SimulationParams:
    """Draw parameters where the analysis's assumptions are broken, not just stretched.

    On top of :func:`sample_params`: HAADF Z exponent 1.3-2.0, channelling
    factors 0.75-1.25 per element (keeping Bi > chalcogen > Ti, see
    :func:`~.contrast.draw_channelling`; Bi/Te then spans ~1.35-3.2 and Bi/Se
    ~2-7), elliptical columns up to 1.3:1 at any angle, a wandering scan
    drift up to 1 px, 0-2 % glitched scan lines, thickness wedges of ±30 %,
    0.06-0.2 Å/px and doses 40-400. The field is an interface unless `fixed`
    says otherwise. Anything in `fixed` is kept as given.
    """
    base = dataclasses.asdict(sample_params(rng))
    exponent = float(rng.uniform(1.3, 2.0))
    system = load_system(fixed.get("system", base["system"]))
    base.update(
        contrast_exponent=exponent,
        channelling=draw_channelling(rng, system, fixed.get("contrast_exponent", exponent)),
        column_ellipticity=float(rng.uniform(1.0, 1.3)),
        column_ellipse_angle_deg=float(rng.uniform(0, 180)),
        scan_drift_nonlinear_px=float(rng.uniform(0, 1.0)),
        corrupted_lines=float(rng.uniform(0, 0.02)),
        thickness_gradient=float(rng.uniform(-0.3, 0.3)),
        pixel_size_A=float(rng.uniform(0.06, 0.2)),
        dose=float(np.exp(rng.uniform(np.log(40), np.log(400)))),
    )
    base["shape"] = tuple(base["shape"])
    base.update(fixed)
    return SimulationParams(**base)


def sample_harsh_params(rng: np.random.Generator, **fixed) -> SimulationParams:
    """:func:`sample_wide_params` with what real lamellae add: a thin TiN film beside vacuum, a TiN wedge.

    In half the draws the TiN thins along the interface to 20-70 % of its
    thickness (``tin_wedge`` 0.3-0.8); in a third it is only 5-10 Ti planes
    (1.2-2.5 nm) thick, with vacuum below; doses reach down to 25. These
    are drawn from their own stream (seeded by the draw's seed), so the
    wide draws stay what they are.
    """
    params = sample_wide_params(rng, **fixed)
    extra = np.random.default_rng([int(params.seed or 0), 2])
    harsh = {}
    if extra.random() < 0.5:
        harsh["tin_wedge"] = float(extra.uniform(0.3, 0.8))
    if extra.random() < 1 / 3:
        harsh["n_tin_planes"] = int(extra.integers(5, 11))
    if extra.random() < 0.25:
        harsh["dose"] = float(extra.uniform(25, 40))
    harsh = {k: v for k, v in harsh.items() if k not in fixed}
    return dataclasses.replace(params, **harsh)
