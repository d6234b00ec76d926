"""Fields of view without a TI/TiN interface: negative controls for the analysis.

An analysis that always answers is not to be trusted: it must say "no
interface" when there is none. :data:`FIELDS` names what the simulator can
put in the field of view:

- ``"interface"``: the TI/TiN cross-section (the default);
- ``"tin_only"``: only TiN (111) planes, the top TiN plane above the field;
- ``"ti_only"``: only the TI film, the substrate below the field;
- ``"perovskite"``: a SrTiO3-like [001] projection, a square lattice of
  a = 3.905 Å (within 3 % of Bi2Te3's projected 3.798 Å period) with bright
  Sr and dimmer Ti-O columns and faint O columns;
- ``"honeycomb"``: a MoS2-like plan view, a honeycomb of bright Mo and
  dimmer S2 columns, a = 3.16 Å;
- ``"amorphous"``: atoms at random, no lattice.

The foreign lattices are built here in the specimen frame (u, v in Å) as a
:class:`~.structure.Structure` without planes; the TiN-only and TI-only
fields are the ordinary structure with the field moved and the planes that
have no column in it dropped (:func:`prune_planes`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..materials import MaterialSystem
from .contrast import column_weights, foreign_weight
from .structure import Structure

__all__ = ["FIELDS", "FOREIGN_FIELDS", "PEROVSKITE_A", "HONEYCOMB_A", "foreign_structure", "prune_planes"]

FIELDS = ("interface", "tin_only", "ti_only", "perovskite", "honeycomb", "amorphous")
#: Fields in which no known material system should be found.
FOREIGN_FIELDS = ("perovskite", "honeycomb", "amorphous")

PEROVSKITE_A = 3.905   # SrTiO3, cubic
HONEYCOMB_A = 3.16     # MoS2, hexagonal in-plane a
AMORPHOUS_DENSITY_PER_A2 = 0.2   # projected atoms per Å^2 (about a TI's column density x 1.5)


def _lattice(basis_uv, cell, u_range, v_range):
    """Points ``i * cell[0] + j * cell[1] + basis`` inside the (u, v) box.

    Returns
    -------
    uv : (N, 2) float array
    site : (N,) int array
        Index of the basis point of each site.
    """
    cell = np.asarray(cell, float)
    corners = np.array([[u, v] for u in u_range for v in v_range])
    ij = corners @ np.linalg.inv(cell)
    lo, hi = np.floor(ij.min(0)) - 1, np.ceil(ij.max(0)) + 1
    i, j = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1), indexing="ij")
    origins = np.column_stack([i.ravel(), j.ravel()]) @ cell
    basis_uv = np.asarray(basis_uv, float)
    uv = (origins[:, None, :] + basis_uv[None, :, :]).reshape(-1, 2)
    site = np.broadcast_to(np.arange(len(basis_uv)), (len(origins), len(basis_uv))).ravel()
    keep = ((uv[:, 0] >= u_range[0]) & (uv[:, 0] <= u_range[1])
            & (uv[:, 1] >= v_range[0]) & (uv[:, 1] <= v_range[1]))
    return uv[keep], site[keep]


def _empty_planes_structure(u, v, element, weight):
    n = len(u)
    return Structure(u_A=np.asarray(u, float), v_A=np.asarray(v, float), element=np.asarray(element).astype(str),
                     plane=np.full(n, -1, int), weight=np.asarray(weight, float), planes=(), top_tin_plane=-1,
                     tin_inplane_A=float("nan"), film_inplane_A=float("nan"))


def foreign_structure(kind: str, system: MaterialSystem, u_range, v_range, rng: np.random.Generator,
                      exponent: float | None = None, channelling=None) -> Structure:
    """Columns of a foreign lattice (or of random atoms) over a (u, v) box in Å.

    Parameters
    ----------
    kind : {"perovskite", "honeycomb", "amorphous"}
    system : MaterialSystem
        Sets the unit of the weights (its Ti column = 1) and, for
        ``"amorphous"``, the elements of the random atoms.
    u_range, v_range : (float, float)
    rng : numpy Generator
    exponent, channelling : as for :func:`~.contrast.column_weights`

    Returns
    -------
    Structure
        No planes; every column's plane is -1.
    """
    if kind == "perovskite":
        a = PEROVSKITE_A
        columns = (("Sr", {"Sr": 1}, (0, 0)), ("Ti", {"Ti": 1, "O": 1}, (0.5, 0.5)),
                   ("O", {"O": 1}, (0.5, 0.0)), ("O", {"O": 1}, (0.0, 0.5)))
        cell, spacing = a * np.eye(2), a
    elif kind == "honeycomb":
        a = HONEYCOMB_A
        # plan view of one layer: Mo on the A sites, an S2 pair (one above the other) on the B sites
        columns = (("Mo", {"Mo": 1}, (0.0, 0.0)), ("S", {"S": 2}, (0.5, np.sqrt(3) / 6)))
        cell, spacing = a * np.array([[1.0, 0.0], [0.5, np.sqrt(3) / 2]]), a
    elif kind == "amorphous":
        area = (u_range[1] - u_range[0]) * (v_range[1] - v_range[0])
        n = rng.poisson(AMORPHOUS_DENSITY_PER_A2 * area)
        u = rng.uniform(*u_range, n)
        v = rng.uniform(*v_range, n)
        weights = column_weights(system, exponent, channelling)
        elements = np.array(sorted(set(system.film.ql_elements) | {system.substrate.metal}))
        element = rng.choice(elements, n)
        # partial columns: a random number of atoms along the beam
        weight = np.array([weights[e] for e in element]) * rng.uniform(0.2, 1.0, n)
        return _empty_planes_structure(u, v, element, weight)
    else:
        raise ValueError(f"foreign field must be one of perovskite, honeycomb, amorphous; got {kind!r}")
    basis = np.array([b for _, _, b in columns]) * a  # Cartesian, in units of a
    uv, site = _lattice(basis, cell, u_range, v_range)
    element = np.array([columns[s][0] for s in range(len(columns))])[site]
    per_site = np.array([foreign_weight(system, atoms, spacing, exponent, channelling) for _, atoms, _ in columns])
    return _empty_planes_structure(uv[:, 0], uv[:, 1], element, per_site[site])


def prune_planes(structure: Structure) -> Structure:
    """Drop the planes with no column, renumbering the columns' planes.

    ``top_tin_plane`` becomes -1 if the top TiN plane (height 0) is dropped.
    """
    used = np.unique(structure.plane[structure.plane >= 0])
    new_index = np.full(len(structure.planes), -1, int)
    new_index[used] = np.arange(used.size)
    plane = np.where(structure.plane >= 0, new_index[np.maximum(structure.plane, 0)], -1)
    top = structure.top_tin_plane
    return dataclasses.replace(
        structure, plane=plane, planes=tuple(structure.planes[i] for i in used),
        top_tin_plane=int(new_index[top]) if 0 <= top < len(new_index) else -1)
