"""Group columns into atomic planes and build the interlayer-spacing profile.

Columns are linked along each plane: every column is joined to its nearest
neighbour on one side whose height (along the growth direction) differs by
less than a fraction of the closest plane spacing. Linked chains are planes,
so a plane may bend or drift slowly across the field, and a plane interrupted
by a missing column is merged back by height. Each plane then gets its height
(at the field's centre, under the common tilt of all planes), its in-plane
period (a line fitted to the column positions against their index), its
brightness and scatter, and from those the physics decides what it is: a TiN
plane has the substrate's period, a film plane the film's (the two differ by
40 %, far more than any calibration error), and a film plane is Bi or the
chalcogen by its brightness. The substrate side is where the TiN planes are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .materials import MaterialSystem
from .orient import Orientation

__all__ = ["Layer", "LayerSet", "first_complete_ql", "group_layers"]

HEIGHT_TOLERANCE_A = 0.55  # a third of the closest plane spacing (Bi2Se3 X1-Bi, 1.55 Å)
MIN_COLUMNS = 3


@dataclass(frozen=True)
class Layer:
    """One atomic plane, as in the Report's ``layers`` list (lengths in Å)."""

    height_A: float
    height_err_A: float
    spacing_to_next_A: float | None
    spacing_err_A: float | None
    material: str  # "TiN" | "bilayer" | "TI" | "disordered"
    element: str | None
    inplane_period_A: float | None
    inplane_period_err_A: float | None
    intensity: float
    n_columns: int
    scatter_A: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class LayerSet:
    """Planes ordered from the substrate up, and which column belongs to which.

    Attributes
    ----------
    layers : tuple of Layer
    plane_of_column : (N,) int array
        Index into `layers`, -1 for columns in no plane.
    orientation : Orientation
        `growth_dir` now points from the substrate into the film (when both are seen).
    origin_xy : (2,) float array or None
        A pixel position on the top TiN plane (height 0).
    top_tin : int or None
        Index of the top TiN plane in `layers`.
    messages : tuple of str
    """

    layers: tuple
    plane_of_column: np.ndarray
    orientation: Orientation
    origin_xy: np.ndarray | None
    top_tin: int | None
    messages: tuple = ()

    @property
    def n_unassigned(self) -> int:
        return int(np.sum(self.plane_of_column < 0))


def _link_planes(u, h, max_step):
    """Label chains of columns linked to their nearest right-hand neighbour at nearly the same height."""
    n = len(u)
    if n < 2:
        return np.arange(n)
    tree = cKDTree(np.column_stack([u, h]))
    pairs = tree.query_pairs(max_step, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    du, dh = u[j] - u[i], h[j] - h[i]
    # orient every pair left to right; keep near-horizontal ones
    flip = du < 0
    i, j, du, dh = np.where(flip, j, i), np.where(flip, i, j), np.abs(du), np.where(flip, -dh, dh)
    ok = (np.abs(dh) < HEIGHT_TOLERANCE_A) & (du > 1.0)
    i, j, du = i[ok], j[ok], du[ok]
    # each column's nearest right-hand neighbour (smallest du)
    order = np.lexsort((du, i))
    first = np.ones(len(order), bool)
    first[1:] = i[order][1:] != i[order][:-1]
    i, j = i[order][first], j[order][first]
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _merge_by_height(label, u, h, tolerance):
    """Join chains of one plane split by a gap: similar height, hardly overlapping along the plane."""
    ids = np.unique(label)
    height = np.array([np.median(h[label == k]) for k in ids])
    span = np.array([(u[label == k].min(), u[label == k].max()) for k in ids])
    order = np.argsort(height)
    parent = {k: k for k in ids}
    for a, b in zip(order[:-1], order[1:]):
        if abs(height[b] - height[a]) < tolerance:
            overlap = min(span[a, 1], span[b, 1]) - max(span[a, 0], span[b, 0])
            if overlap < 1.0:
                parent[ids[b]] = parent[ids[a]]
                span[b] = (min(span[a, 0], span[b, 0]), max(span[a, 1], span[b, 1]))
    return np.array([parent[k] for k in label])


def _period(u, guess, u_err=0.0):
    """Projected period and its standard error from positions u (each +-`u_err`) along a plane.

    The error is the larger of the fit's scatter-based error and what the
    columns' own position errors allow: with three or four columns the
    scatter alone can be deceptively small.
    """
    u = np.sort(u)
    steps = np.diff(u)
    if len(u) < MIN_COLUMNS or guess <= 0:
        return None, None
    k = np.concatenate([[0], np.cumsum(np.maximum(np.round(steps / guess), 1))])
    if np.ptp(k) < 2:
        return None, None
    slope, intercept = np.polyfit(k, u, 1)
    residual = u - (slope * k + intercept)
    dof = max(len(u) - 2, 1)
    spread = np.sum((k - k.mean()) ** 2)
    err = max(np.sqrt(np.sum(residual**2) / dof / spread), u_err / np.sqrt(spread))
    return float(slope), float(max(err, 1e-6))


def _typical_step(u):
    """The usual distance between neighbouring columns of a plane (a quarter of steps may span gaps)."""
    steps = np.diff(np.sort(u))
    return float(np.percentile(steps, 40)) if len(steps) else np.nan


def _nearest(value, candidates):
    """The candidate closest to `value` on a log scale (ratios, not differences, matter)."""
    if not np.isfinite(value) or value <= 0:
        return candidates[0]
    return min(candidates, key=lambda c: abs(np.log(value / c)))


def _planes(u, h, h_err, u_err, amplitude, plane_id, tilt, u_centre):
    """Per plane: height at the centre under the common tilt, error, scatter, period guess inputs."""
    ids = np.unique(plane_id[plane_id >= 0])
    rows = []
    for k in ids:  # a loop over planes (tens), vectorised over their columns
        m = plane_id == k
        level = h[m] - tilt * (u[m] - u_centre)
        n = int(m.sum())
        scatter = float(np.std(level)) if n > 1 else 0.0
        err = np.sqrt(max(scatter**2 / n, np.mean(h_err[m] ** 2) / n))
        rows.append(dict(id=k, height=float(np.mean(level)), err=float(err), scatter=scatter, n=n,
                         intensity=float(np.median(amplitude[m])), u=u[m], u_err=float(np.median(u_err[m]))))
    return rows


def _ti_level(rows, p_sub, p_film, system):
    """Brightness of a Ti column: the TiN-period planes' median, else the film's Bi planes scaled down."""
    sizable = [r for r in rows if r["n"] >= MIN_COLUMNS]
    tin = [r["intensity"] for r in sizable if _nearest(_typical_step(r["u"]), (p_sub, p_film)) == p_sub]
    if tin:
        return float(np.median(tin))
    film = sorted((r["intensity"] for r in sizable), reverse=True)
    return float(np.median(film[:max(1, len(film) // 3)]) / system.intensity("Bi")) if film else 0.0


def _common_tilt(u, h, plane_id):
    """Median slope dh/du of the planes (orientation error, drift shear), weighted by size."""
    slopes, weights = [], []
    for k in np.unique(plane_id[plane_id >= 0]):
        m = plane_id == k
        if m.sum() >= 4 and np.ptp(u[m]) > 5.0:
            slopes.append(np.polyfit(u[m], h[m], 1)[0])
            weights.append(m.sum())
    if not slopes:
        return 0.0
    order = np.argsort(slopes)
    cumulative = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(slopes)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def first_complete_ql(elements, spacings, system, start):
    """Index of the first plane (from `start`) that opens a QL: motif X Bi X Bi X at the file's spacings.

    A QL cut by the edge of the field counts when the planes that remain (at
    least three, X Bi X) run to the last plane and follow the motif.
    """
    motif = list(system.film.ql_elements)
    expected = np.asarray(system.film.ql_spacings_A)
    n = len(elements)
    for i in range(start, n - 2):
        length = min(len(motif), n - i)
        if elements[i:i + length] != motif[:length] or (length < len(motif) and i + length != n):
            continue
        found = np.asarray(spacings[i:i + length - 1], float)
        if np.all(np.abs(found - expected[:length - 1]) < 0.35):
            return i
    return None


def group_layers(columns, orientation: Orientation, system: MaterialSystem, pixel_size_A: float) -> LayerSet:
    """Group columns into atomic planes, label them, and order them from the substrate up.

    Parameters
    ----------
    columns : Columns
    orientation : Orientation
        From :func:`stemlayers.orient.growth_axis` (sign arbitrary).
    system : MaterialSystem
        Expected periods and element contrast.
    pixel_size_A : float

    Returns
    -------
    LayerSet
    """
    g = orientation.growth_dir
    tangent = np.array([-g[1], g[0]])
    xy_A = columns.xy * pixel_size_A
    h, u = xy_A @ g, xy_A @ tangent
    h_err = np.sqrt((columns.xy_err * pixel_size_A) ** 2 @ g**2)
    u_err = np.sqrt((columns.xy_err * pixel_size_A) ** 2 @ tangent**2)
    p_sub, p_film = system.substrate.projected_period_A, system.film.projected_period_A
    label = _link_planes(u, h, 2.3 * max(p_sub, p_film))
    label = _merge_by_height(label, u, h, 0.5 * HEIGHT_TOLERANCE_A)
    sizes = np.bincount(np.unique(label, return_inverse=True)[1])
    plane_id = np.where(sizes[np.unique(label, return_inverse=True)[1]] >= MIN_COLUMNS, label, -1)
    u_centre = float(np.median(u)) if len(u) else 0.0
    tilt = _common_tilt(u, h, plane_id)
    rows = _planes(u, h, h_err, u_err, columns.amplitude, plane_id, tilt, u_centre)
    # no plane of the structure is much fainter than a Ti column: such chains are linked specks
    # (an amorphous surface film, stray N), not planes
    unit = _ti_level(rows, p_sub, p_film, system)
    faint = {r["id"] for r in rows if r["intensity"] < system.classify.faint_fraction * unit}
    if faint:
        rows = [r for r in rows if r["id"] not in faint]
        plane_id = np.where(np.isin(plane_id, list(faint)), -1, plane_id)

    # what each plane is: the period says substrate or film (log-distance), the scatter says ordered
    threshold = system.classify.max_interface_scatter_A
    for r in rows:
        r["period"], r["period_err"] = _period(r["u"], _nearest(_typical_step(r["u"]), (p_sub, p_film)), r["u_err"])
        ordered = r["period"] is not None and r["scatter"] < threshold
        if not ordered:
            r["kind"] = "disordered"
        else:
            r["kind"] = "TiN" if _nearest(r["period"], (p_sub, p_film)) == p_sub else "film"

    messages = []
    tin = [r for r in rows if r["kind"] == "TiN"]
    film = [r for r in rows if r["kind"] == "film"]
    if tin and film and np.mean([r["height"] for r in tin]) > np.mean([r["height"] for r in film]):
        orientation = orientation.flipped()
        for r in rows:
            r["height"] = -r["height"]
    rows.sort(key=lambda r: r["height"])
    if not tin or not film:
        messages.append("no interface in the field: only "
                        + ("TiN planes" if tin else f"{system.film.name} planes" if film else "disordered columns")
                        + " were found")

    # top TiN plane: the highest TiN plane with (almost) all of the film above it; a stray short
    # film-period plane among the TiN planes must not pull it down
    top = None
    if tin:
        film_h = np.array([r["height"] for r in film])
        film_n = np.array([r["n"] for r in film], float)
        below = [i for i, r in enumerate(rows) if r["kind"] == "TiN"
                 and film_n[film_h < r["height"]].sum() <= 0.1 * film_n.sum()]
        top = below[-1] if below else None
        if top is not None:
            for r in rows[:top]:
                if r["kind"] == "film":  # a film-period plane inside the TiN is not physical
                    r["kind"] = "disordered"
    origin_h = rows[top]["height"] if top is not None else (rows[0]["height"] if rows else 0.0)

    # film elements by brightness: Bi above the geometric mean of Bi and chalcogen intensities
    chalcogen = system.film.ql_elements[0]
    ti_level = np.median([r["intensity"] for r in tin]) if tin else None
    bright = sorted((r["intensity"] for r in film), reverse=True)
    unit = ti_level if ti_level else (np.median(bright[:max(1, len(bright) // 3)]) / system.intensity("Bi")
                                      if bright else 1.0)
    cut = np.sqrt(system.intensity("Bi") * system.intensity(chalcogen)) * unit
    for r in rows:
        r["element"] = {"TiN": system.substrate.metal, "film": "Bi" if r["intensity"] > cut else chalcogen}.get(
            r["kind"])
    spacings = [b["height"] - a["height"] for a, b in zip(rows[:-1], rows[1:])] + [None]
    elements = [r["element"] for r in rows]
    first_ql = first_complete_ql(elements, spacings, system, (top or -1) + 1) if film else None
    layers = []
    for i, r in enumerate(rows):
        material = {"TiN": "TiN", "film": "TI", "disordered": "disordered"}[r["kind"]]
        if material == "TI" and top is not None and first_ql is not None and top < i < first_ql:
            material = "bilayer"
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        layers.append(Layer(
            height_A=r["height"] - origin_h, height_err_A=r["err"],
            spacing_to_next_A=None if nxt is None else nxt["height"] - r["height"],
            spacing_err_A=None if nxt is None else float(np.hypot(r["err"], nxt["err"])),
            material=material, element=r["element"], inplane_period_A=r["period"],
            inplane_period_err_A=r["period_err"], intensity=r["intensity"], n_columns=r["n"],
            scatter_A=r["scatter"]))
    index_of = {r["id"]: i for i, r in enumerate(rows)}
    plane_of_column = np.array([index_of.get(k, -1) for k in plane_id], int)
    origin_xy = columns.xy[plane_of_column == top].mean(axis=0) if top is not None else None
    return LayerSet(tuple(layers), plane_of_column, orientation, origin_xy, top, tuple(messages))
