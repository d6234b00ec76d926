"""Physics simulator of HAADF-STEM cross-sections of TI/TiN heterostructures.

``simulate(SimulationParams(...))`` builds the atomic-plane model of a
cross-section from a material-system TOML (:mod:`.structure`), renders an
incoherent HAADF image of it (:mod:`.render`) and returns the image with its
ground truth: every column's position in pixels and Å, its element and plane,
every plane's height, the interface class, the system and the strain.

``sample_params(rng)`` draws parameters over wide ranges (rotation, flips,
pixel size, dose, probe, jitter, drift, background, strain, interface
spacings) so that tests and benchmarks do not tune to a single setting;
``sample_params(rng, wide=True)`` also breaks the analysis's assumptions
(any Z exponent and channelling, mistilted columns, wandering drift,
glitched lines: :mod:`.params`, :mod:`.contrast`, :mod:`.scan`). Fields
without an interface (:mod:`.fields`) are the negative controls.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from scipy import ndimage

from ..columns.render import render_gaussians
from ..materials import MaterialSystem, load_system
from .contrast import column_weights
from .fields import FIELDS, FOREIGN_FIELDS, foreign_structure, prune_planes
from .lateral import interface_line, lateral_structure
from .params import SimulationParams, sample_harsh_params, sample_params, sample_wide_params
from .render import add_tail, apply_noise, to_image_frame
from .scan import LINE_FAULTS, corrupt_lines, nonlinear_drift_px
from .structure import INTERFACES, Structure, build_structure, true_film_defects
from .truth import SimulatedImage, Truth, load_truth, truth_path, whole_class, write_simulation

__all__ = [
    "FIELDS",
    "INTERFACES",
    "SimulatedImage",
    "SimulationParams",
    "Truth",
    "load_truth",
    "sample_params",
    "sample_harsh_params",
    "sample_wide_params",
    "simulate",
    "truth_path",
    "write_simulation",
]


def _field_extent(params):
    """Half-extent of the specimen region that covers the rotated field, Å."""
    rows, cols = params.shape
    radius = 0.5 * np.hypot(rows, cols) * params.pixel_size_A * (1 + abs(params.drift_shear)
                                                                 + abs(params.drift_stretch))
    radius += params.scan_drift_nonlinear_px * params.pixel_size_A
    return radius + 6 * params.probe_sigma_A * np.sqrt(params.column_ellipticity) + 2 * params.tail_width_A


def _build_field(params, system, weights, radius, rng):
    """The column model of the field of view and the height of the field's centre (Å)."""
    if params.field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, got {params.field!r}")
    if params.field in FOREIGN_FIELDS:
        v_center = params.interface_offset_A
        structure = foreign_structure(params.field, system, (-radius, radius + 10.0),
                                      (v_center - radius, v_center + radius), rng,
                                      params.contrast_exponent, params.channelling)
        return structure, v_center
    interface, n_tin, n_ql = params.interface, params.n_tin_planes, params.n_ql
    v_center = params.interface_offset_A
    if params.field == "tin_only":   # the top TiN plane just above the field
        interface, n_ql, v_center = "vdw", 0, -radius - 2.0
    elif params.field == "ti_only":  # the film's first QL just below the field
        gap = system.vdw.tin_gap_A if params.vdw_gap_A is None else params.vdw_gap_A
        interface, n_tin, v_center = "vdw", 1, gap + system.ql_thickness_A + radius + 2.0
    options = dict(tin_strain=params.tin_strain_pct / 100.0, n_tin_planes=n_tin, n_ql=n_ql,
                   bilayer_spacing_A=params.bilayer_spacing_A, bilayer_tin_gap_A=params.bilayer_tin_gap_A,
                   vdw_gap_A=params.vdw_gap_A, film_blocks=tuple(params.film_blocks), rng=rng, intensity=weights)
    v_range = (v_center - radius, v_center + radius)
    if params.segments and params.field == "interface":
        structure = lateral_structure(system, params.segments, radius, v_range, **options)
    else:
        structure = build_structure(system, interface, radius, v_range, bilayer_coverage=params.bilayer_coverage,
                                    **options)
    if params.field != "interface":
        structure = prune_planes(structure)
    return structure, v_center


def _d111(structure):
    """The TiN (111) spacing of a model: from its top Ti plane to the next Ti plane down."""
    top = structure.top_tin_plane
    return structure.planes[top].height_A - structure.planes[top - 2].height_A


def _smooth_background(shape, px, rng):
    """Unit-rms random field, smooth on a ~30 Å scale."""
    # made on a coarse grid (7.5 Å cells) several times that scale, so a small field sees a gentle part
    # of it, then interpolated to the pixels
    cell = 7.5 / px
    coarse = tuple(max(int(np.ceil(s / cell)) + 2, 24) for s in shape)
    grid = ndimage.gaussian_filter(rng.standard_normal(coarse), 4.0, mode="wrap")
    grid = (grid - grid.mean()) / max(grid.std(), 1e-12)
    rows_c, cols_c = np.mgrid[0:shape[0], 0:shape[1]] / cell
    return ndimage.map_coordinates(grid, [rows_c, cols_c], order=1, mode="wrap")


def _truth(params, system, structure, xy, growth_dir, weight, u_center, shape, bad_rows, bad_kind):
    """The Truth of a rendered field: columns inside the frame, planes, and what the field holds."""
    in_field = ((xy[:, 0] >= 0) & (xy[:, 0] <= shape[1] - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= shape[0] - 1))
    planes = structure.planes
    has_tin = params.field in ("interface", "tin_only")
    has_film = params.field in ("interface", "ti_only")
    return Truth(
        system=None if params.field in FOREIGN_FIELDS else system.name,
        interface=params.interface if params.field == "interface" else None,
        pixel_size_A=params.pixel_size_A, shape=shape,
        tin_strain_pct=params.tin_strain_pct if has_tin else None,
        tin_inplane_A=float(structure.tin_inplane_A) if has_tin else None,
        film_inplane_A=float(structure.film_inplane_A) if has_film else None,
        growth_dir=(float(growth_dir[0]), float(growth_dir[1])),
        top_tin_plane=structure.top_tin_plane,
        x_px=xy[in_field, 0], y_px=xy[in_field, 1],
        u_A=structure.u_A[in_field] - u_center, v_A=structure.v_A[in_field],
        element=structure.element[in_field], plane=structure.plane[in_field],
        weight=weight[in_field],
        plane_height_A=np.array([p.height_A for p in planes], float),
        plane_element=np.array([p.element for p in planes], str),
        plane_material=np.array([p.material for p in planes], str),
        plane_period_A=np.array([p.period_A for p in planes], float),
        params={k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(params).items()},
        field=params.field, corrupted_rows=bad_rows,
        corrupted_kind=np.array([LINE_FAULTS[k] for k in bad_kind], str),
    )


def _changing_drift(xy, shape, scale_change, shear_change, stretch_change):
    """Positions under a drift that changes during the slow scan (row = time).

    At the fractional row t (-0.5 at the top, 0.5 at the bottom) the local x
    scale is 1 + scale_change t, the shear (x px per row) shear_change t and
    the y scale 1 + stretch_change t: each changes by its value from the top
    row to the bottom one. The centre of the field does not move.
    """
    cx, cy = 0.5 * (shape[1] - 1), 0.5 * (shape[0] - 1)
    rows = xy[:, 1] - cy
    t = rows / shape[0]
    x = cx + (xy[:, 0] - cx) * (1 + scale_change * t) + shear_change * rows * t / 2
    y = cy + rows + stretch_change * rows * t / 2
    return np.column_stack([x, y])


def simulate(params: SimulationParams | None = None, material: MaterialSystem | None = None,
             noise: bool = True, **overrides) -> SimulatedImage:
    """Simulate a HAADF-STEM cross-section (or a field without one) and its ground truth.

    Parameters
    ----------
    params : SimulationParams, optional
        Defaults to ``SimulationParams()``.
    material : MaterialSystem, optional
        Use this system object instead of loading ``params.system``.
    noise : bool
        False gives the expected counts without Poisson or detector noise
        and without scan jitter (for checking positions). The wandering
        drift (it moves the truth too) and glitched lines (they move no
        column) are kept.
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
    # the harsher artefacts draw from their own stream: switching one on changes nothing else
    aux = np.random.default_rng(None if params.seed is None else [int(params.seed), 1])
    shape = tuple(int(s) for s in params.shape)
    px = params.pixel_size_A
    weights = column_weights(system, params.contrast_exponent, params.channelling)

    radius = _field_extent(params)
    structure, v_center = _build_field(params, system, weights, radius, rng)

    u_center = rng.uniform(0, 10.0)  # random lateral registry of the field
    xy, growth_dir = to_image_frame(
        structure.u_A, structure.v_A, shape, px, params.rotation_deg, params.flip,
        center_A=(u_center, v_center), drift_shear=params.drift_shear, drift_stretch=params.drift_stretch)
    if params.scan_drift_nonlinear_px > 0:
        xy = xy + nonlinear_drift_px(xy[:, 1], shape[0], params.scan_drift_nonlinear_px, aux)
    if params.drift_scale_gradient or params.drift_shear_gradient or params.drift_stretch_gradient:
        xy = _changing_drift(xy, shape, params.drift_scale_gradient, params.drift_shear_gradient,
                             params.drift_stretch_gradient)

    weight = structure.weight * (1 + params.weight_jitter * rng.standard_normal(structure.weight.size))
    weight *= 1 + params.thickness_gradient * (structure.u_A - u_center) / radius
    if params.tin_wedge:
        tin = np.array([p.material == "TiN" for p in structure.planes])[structure.plane]
        side = np.clip((structure.u_A - u_center) / (2 * radius) + 0.5, 0, 1)
        weight = np.where(tin, weight * (1 - params.tin_wedge * side), weight)
    weight = np.clip(weight, 0, None)
    # dose is the expected count at the core of the brightest column type
    if params.field == "interface":
        brightest = max(weights[e] for e in system.film.ql_elements + (system.substrate.metal,))
    else:
        brightest = float(structure.weight.max()) if structure.weight.size else 1.0
    peak_scale = params.dose / brightest

    sigma_px = params.probe_sigma_A / px
    # drawn whether used or not, so that noise=False gives the same background ramp as noise=True
    jitter = rng.normal(0.0, params.jitter_px, shape[0]) if params.jitter_px > 0 else None
    if not noise:
        jitter = None
    counts = render_gaussians(xy, weight * peak_scale, sigma_px, shape, line_shift_px=jitter,
                              ellipticity=params.column_ellipticity, angle_deg=params.column_ellipse_angle_deg)
    counts += add_tail(xy, weight * peak_scale, shape, sigma_px, params.tail_fraction,
                       params.tail_width_A / px)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    ramp_dir = rng.uniform(0, 2 * np.pi)
    ramp = ((cols / max(shape[1] - 1, 1) - 0.5) * np.cos(ramp_dir)
            + (rows / max(shape[0] - 1, 1) - 0.5) * np.sin(ramp_dir))
    counts += params.dose * (params.background + params.background_ramp * ramp)
    if params.background_smooth > 0:
        # thickness and contamination vary slowly: smoothed white noise, scaled to the wanted rms
        counts += params.dose * params.background_smooth * _smooth_background(shape, px, rng)
    if params.amorphous > 0:
        # an amorphous surface film: atoms at random, about one per 2 Å^2, slightly larger than the probe
        n_atoms = int(shape[0] * shape[1] * px**2 / 2.0)
        atoms = rng.uniform(0, 1, (n_atoms, 2)) * np.array([shape[1], shape[0]])
        counts += render_gaussians(atoms, np.full(n_atoms, params.amorphous * peak_scale)
                                   * rng.uniform(0.5, 1.5, n_atoms), 1.3 * sigma_px, shape)
    bad_rows, bad_kind = np.zeros(0, int), np.zeros(0, int)
    if params.corrupted_lines > 0:
        counts, bad_rows, bad_kind = corrupt_lines(counts, params.corrupted_lines, aux)
    if noise:
        counts = apply_noise(counts, rng, params.read_noise)

    truth = _truth(params, system, structure, xy, growth_dir, weight, u_center, shape, bad_rows, bad_kind)
    if params.film_blocks:
        truth = dataclasses.replace(truth, film_defects=true_film_defects(structure.planes, params.film_blocks))
    if params.segments and params.field == "interface":
        def to_pixels(u, v):
            return to_image_frame(u, v, shape, px, params.rotation_deg, params.flip, center_A=(u_center, v_center),
                                  drift_shear=params.drift_shear, drift_stretch=params.drift_stretch)[0]

        segments, steps = interface_line(params.segments, radius, _d111(structure), to_pixels, shape)
        truth = dataclasses.replace(truth, interface=whole_class(segments), segments=segments, steps=steps)
    return SimulatedImage(counts.astype(np.float32), px, truth, time.perf_counter() - start)
