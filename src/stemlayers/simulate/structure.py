"""Atomic-plane model of a TI/TiN cross-section, in physical coordinates.

Columns are placed in a specimen frame: ``u`` runs along the interface (Å)
and ``v`` along the growth direction (Å), with ``v = 0`` on the top Ti plane
of the TiN film and negative values inside TiN. The model is built plane by
plane (a loop over a few dozen planes, vectorised over the columns of each
plane) from the numbers of one :class:`~stemlayers.materials.MaterialSystem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..materials import MaterialSystem

__all__ = ["FILM_BLOCKS", "INTERFACES", "Plane", "Structure", "build_structure", "film_block", "true_film_defects"]

INTERFACES = ("bilayer", "vdw", "deteriorated")


@dataclass(frozen=True)
class Plane:
    """One atomic plane of the model (seen edge-on).

    ``shift_A`` is the in-plane position of one column of the plane; the
    others follow at multiples of ``period_A``.
    """

    height_A: float
    element: str
    material: str  # "TiN" | "bilayer" | "TI"
    period_A: float
    shift_A: float


@dataclass(frozen=True)
class Structure:
    """Columns and planes of a cross-section model.

    Attributes
    ----------
    u_A, v_A : (N,) float arrays
        Column positions along the interface and along the growth direction.
    element : (N,) str array
    plane : (N,) int array
        Index into `planes` (ordered by height), or -1 for columns that
        belong to no plane (the disordered band).
    weight : (N,) float array
        Relative HAADF weight of the column (Ti column of full thickness = 1).
    planes : tuple of Plane, ordered from the substrate upwards
    top_tin_plane : int
        Index of the top Ti plane (height 0) in `planes`.
    tin_inplane_A, film_inplane_A : float
        True in-plane hexagonal lattice parameters after strain.
    """

    u_A: np.ndarray
    v_A: np.ndarray
    element: np.ndarray
    plane: np.ndarray
    weight: np.ndarray
    planes: tuple[Plane, ...]
    top_tin_plane: int
    tin_inplane_A: float
    film_inplane_A: float


def _tin_planes(system, n_planes, v_bottom, strain):
    """Ti and N planes from the top Ti plane (v = 0) downwards, ABC stacked."""
    sub = system.substrate
    period = sub.projected_period_A * (1.0 + strain)
    # biaxial in-plane strain: the (111) spacing answers with the Poisson ratio
    spacing = sub.plane_spacing_A * (1.0 - 2.0 * sub.poisson_ratio / (1.0 - sub.poisson_ratio) * strain)
    if n_planes is None:
        n_planes = int(np.ceil(-v_bottom / spacing)) + 1
    planes = []
    for k in range(n_planes):  # k = 0 is the top Ti plane
        frac = (-k * sub.stacking_step) % 1.0
        v_metal = -k * spacing
        planes.append(Plane(v_metal, sub.metal, "TiN", period, frac * period))
        if k < n_planes - 1 or n_planes == 1:
            # the anion plane below this metal plane sits half-way down
            frac_anion = (frac - sub.stacking_step + sub.anion_offset) % 1.0
            planes.append(Plane(v_metal - spacing / 2, sub.anion, "TiN", period, frac_anion * period))
    return planes[::-1]


def _stacked(heights, elements, material, period, first_frac, step):
    """Planes at `heights` each shifted by `step` periods from the one below."""
    return [
        Plane(h, el, material, period, ((first_frac + i * step) % 1.0) * period)
        for i, (h, el) in enumerate(zip(heights, elements))
    ]


#: Film blocks the model can stack: a quintuple layer, a septuple (Bi3X4-like) lamella, and a quintuple
#: layer whose stacking runs the other way (a twin: a stacking reversal).
FILM_BLOCKS = ("QL", "SL", "twin")


def film_block(film, kind):
    """(plane offsets from the block's first plane, elements, stacking direction) of one film block.

    Parameters
    ----------
    film : Film
        The material system's film (its spacings and elements).
    kind : {"QL", "SL", "twin"}
        A quintuple layer, a septuple (Bi3X4-like) lamella, or a quintuple layer stacked the other way.
    """
    d1, d2 = film.ql_spacings_A[0], film.ql_spacings_A[1]
    if kind == "SL":  # X-Bi-X-Bi-X-Bi-X: the quintuple layer's outer spacings, its inner one three times
        spacings, elements = (d1, d2, d2, d2, d2, d1), (film.chalcogen, film.metal) * 3 + (film.chalcogen,)
    else:
        spacings, elements = film.ql_spacings_A, film.ql_elements
    return np.concatenate([[0.0], np.cumsum(spacings)]), tuple(elements), -1.0 if kind == "twin" else 1.0


def true_film_defects(planes, blocks):
    """The truth's film defects: each block other than a quintuple layer, with the height of its first plane.

    Parameters
    ----------
    planes : sequence
        The model's planes from the substrate up (``material`` "TI" for the film's, ``height_A``).
    blocks : sequence of str
        The film's blocks from the first one up (:data:`FILM_BLOCKS`).
    """
    kinds = {"SL": "septuple layer", "twin": "stacking reversal"}
    film = [p for p in planes if p.material == "TI"]
    out, k = [], 0
    for block in blocks:
        if block in kinds:
            out.append({"kind": kinds[block], "height_A": float(film[k].height_A)})
        k += 7 if block == "SL" else 5
    return out


def _ql_planes(system, v_first, v_top, n_ql, first_frac, blocks=()):
    """Film blocks stacked from height `v_first` up to `v_top` (or `n_ql` of them): quintuple layers, or the
    kinds `blocks` names from the first one up (then quintuple layers)."""
    film = system.film
    heights, elements, fracs = [], [], []
    step, v, q = 0, v_first, 0  # each plane shifted `step` stacking steps from the first
    while (n_ql is None and v <= v_top) or (n_ql is not None and q < n_ql):
        offsets, names, way = film_block(film, blocks[q] if q < len(blocks) else "QL")
        heights.extend(v + offsets)
        elements.extend(names)
        for _ in names:
            fracs.append((first_frac + step * film.stacking_step) % 1.0)
            step += way
        step += 1 - way  # the next block's first plane: one step on from this block's last
        # stack by the spacings themselves, so that the vdW gap is exactly the file's value
        v += offsets[-1] + film.vdw_gap_A
        q += 1
    period = film.projected_period_A
    return [Plane(h, el, "TI", period, f * period) for h, el, f in zip(heights, elements, fracs)]


def _plane_columns(plane, u_half):
    """Column positions of one plane over u in [-u_half, u_half]."""
    j = np.arange(np.floor((-u_half - plane.shift_A) / plane.period_A),
                  np.ceil((u_half - plane.shift_A) / plane.period_A) + 1)
    return plane.shift_A + j * plane.period_A


def _disordered_band(system, v_low, v_high, u_half, rng, intensity):
    """Columns of an intermixed band: a jittered close-packed net of random elements."""
    det = system.deteriorated
    spacing = 0.8 * system.film.projected_period_A
    rows = np.arange(v_low, v_high, 0.85 * spacing * np.sqrt(3) / 2)
    u_list, v_list = [], []
    for i, v in enumerate(rows):
        u = np.arange(-u_half, u_half, spacing) + (i % 2) * spacing / 2 + rng.uniform(0, spacing)
        u_list.append(u)
        v_list.append(np.full(u.size, v))
    u = np.concatenate(u_list) if u_list else np.zeros(0)
    v = np.concatenate(v_list) if v_list else np.zeros(0)
    u = u + rng.normal(0, 0.35 * spacing / 2, u.size)
    v = v + rng.normal(0, 0.25 * spacing / 2, v.size)
    element = rng.choice(np.asarray(det.band_elements), u.size)
    occupancy = np.clip(rng.normal(det.band_occupancy, 0.2, u.size), 0.1, 1.0)
    weight = np.array([intensity(e) for e in element]) * occupancy
    return u, v, element, weight


def build_structure(
    system: MaterialSystem,
    interface: str,
    u_half_A: float,
    v_range_A: tuple[float, float],
    *,
    tin_strain: float = 0.0,
    n_tin_planes: int | None = None,
    n_ql: int | None = None,
    bilayer_spacing_A: float | None = None,
    bilayer_tin_gap_A: float | None = None,
    vdw_gap_A: float | None = None,
    bilayer_coverage: float = 1.0,
    film_blocks: tuple = (),
    rng: np.random.Generator | None = None,
    intensity: Mapping[str, float] | None = None,
) -> Structure:
    """Build the column model of a TI/TiN cross-section.

    Parameters
    ----------
    system : MaterialSystem
    interface : {"bilayer", "vdw", "deteriorated"}
    u_half_A : float
        Columns are made for u in [-u_half_A, u_half_A].
    v_range_A : (float, float)
        Heights to fill (the TiN film and the TI are cut at these heights
        unless `n_tin_planes` / `n_ql` end them earlier).
    tin_strain : float
        In-plane strain of TiN as a fraction (0.02 = +2 %).
    n_tin_planes, n_ql : int, optional
        Number of Ti planes and of quintuple layers; None fills the field.
    bilayer_spacing_A, bilayer_tin_gap_A, vdw_gap_A : float, optional
        Override the interface spacings of the system file.
    bilayer_coverage : float
        Fraction of the interface length covered by the bilayer (1 = all).
    film_blocks : tuple of str
        The film's blocks from the interface up (:data:`FILM_BLOCKS`); quintuple layers after them.
    rng : numpy Generator
    intensity : mapping element -> weight, optional
        Relative column weights (Ti column = 1); by default the system file's
        ``contrast.relative_intensity`` (see :func:`.contrast.column_weights`).

    Returns
    -------
    Structure
    """
    if interface not in INTERFACES:
        raise ValueError(f"interface must be one of {INTERFACES}, got {interface!r}")
    rng = np.random.default_rng() if rng is None else rng
    weight_of = system.intensity if intensity is None else intensity.__getitem__
    v_bottom, v_top = v_range_A
    film = system.film
    step = film.stacking_step
    planes = _tin_planes(system, n_tin_planes, v_bottom, tin_strain)
    top_tin = len(planes) - 1
    # the film's registry with TiN is not fixed: a random in-plane offset
    frac = rng.uniform(0, 1)
    if interface == "bilayer":
        bl = system.bilayer
        v_bi = bl.tin_gap_A if bilayer_tin_gap_A is None else bilayer_tin_gap_A
        v_x = v_bi + (bl.spacing_A if bilayer_spacing_A is None else bilayer_spacing_A)
        planes += _stacked([v_bi, v_x], bl.elements, "bilayer", bl.projected_period_A, frac, step)
        v_first_ql = v_x + bl.ql_gap_A
        frac += 2 * step
    elif interface == "vdw":
        v_first_ql = system.vdw.tin_gap_A if vdw_gap_A is None else vdw_gap_A
    else:
        det = system.deteriorated
        v_band = (1.5, 1.5 + det.band_thickness_A)
        v_first_ql = v_band[1] + film.vdw_gap_A
    planes += _ql_planes(system, v_first_ql, v_top, n_ql, frac, film_blocks)

    u_parts, v_parts, el_parts, pl_parts, w_parts = [], [], [], [], []
    for index, plane in enumerate(planes):
        u = _plane_columns(plane, u_half_A)
        if plane.material == "bilayer" and bilayer_coverage < 1:
            lo = -u_half_A + rng.uniform(0, 1 - bilayer_coverage) * 2 * u_half_A
            u = u[(u >= lo) & (u <= lo + bilayer_coverage * 2 * u_half_A)]
        u_parts.append(u)
        v_parts.append(np.full(u.size, plane.height_A))
        el_parts.append(np.full(u.size, plane.element, dtype=object))
        pl_parts.append(np.full(u.size, index))
        w_parts.append(np.full(u.size, weight_of(plane.element)))
    u, v = np.concatenate(u_parts), np.concatenate(v_parts)
    element, plane_idx = np.concatenate(el_parts), np.concatenate(pl_parts)
    weight = np.concatenate(w_parts)

    if interface == "deteriorated":
        det = system.deteriorated
        rough = np.isin(plane_idx, np.arange(top_tin - 2 * det.roughened_tin_planes + 1, top_tin + 1))
        rough &= element == system.substrate.metal
        u[rough] += rng.normal(0, det.roughness_A, rough.sum())
        v[rough] += rng.normal(0, det.roughness_A, rough.sum())
        keep = ~(rough & (rng.uniform(size=u.size) < det.missing_fraction))
        bu, bv, bel, bw = _disordered_band(system, *v_band, u_half_A, rng, weight_of)
        u = np.concatenate([u[keep], bu])
        v = np.concatenate([v[keep], bv])
        element = np.concatenate([element[keep], bel])
        plane_idx = np.concatenate([plane_idx[keep], np.full(bu.size, -1)])
        weight = np.concatenate([weight[keep], bw])

    inside = (v >= v_bottom) & (v <= v_top)
    tin_period = planes[top_tin].period_A
    return Structure(
        u_A=u[inside], v_A=v[inside], element=element[inside].astype(str),
        plane=plane_idx[inside].astype(int), weight=weight[inside],
        planes=tuple(planes), top_tin_plane=top_tin,
        tin_inplane_A=tin_period * 2 / np.sqrt(3),
        film_inplane_A=film.projected_period_A * 2 / np.sqrt(3),
    )
