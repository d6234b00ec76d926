"""Group columns into atomic planes and build the interlayer-spacing profile.

:func:`group_layers` is a chain of small pure steps over frozen
:class:`~stemlayers.structure.planes.Plane` records:

1. link columns into planes and measure them (:mod:`stemlayers.structure.planes`);
2. find the field's in-plane scale from the two periods' *ratio* and name
   each plane substrate, film or disordered (:func:`~stemlayers.structure.planes.label_kinds`);
3. turn the axis so that it points from the substrate into the film
   (:func:`substrate_down`);
4. put height 0 on the top *complete, ordered* substrate plane: partial or
   roughened planes above it belong to the interface band (:func:`find_origin`);
5. name the film planes' elements from the image's own brightness clusters
   and find the quintuple layers by their shape (:mod:`stemlayers.structure.elements`);
6. measure the film as a length standard (:mod:`stemlayers.structure.calibration`)
   and write the planes out as :class:`AtomicPlane` records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy.special import betainc

from ..io.jsonable import from_saved
from ..materials import MaterialSystem
from .calibration import Calibration, measure_calibration
from .distortion import fit_row_scale
from .wander import WANDER_PX, fit_row_wander
from .elements import Clusters, assign_elements, find_quintuple_layers, label_anions, with_brightness
from .orient import Orientation
from .planes import (HEIGHT_TOLERANCE_A, field_scale, label_kinds, link_planes, measure_planes, registry,
                     with_occupancy)

__all__ = ["AtomicPlane", "LayerSet", "find_origin", "group_layers", "substrate_down"]


@dataclass(frozen=True)
class AtomicPlane:
    """One atomic plane of the result, as in the Report's ``planes`` (JSON: ``layers``; lengths in Å).

    ``material`` and ``element`` are the contract's role names ("TiN" for the
    substrate, "TI" for the film); ``element_probability`` is the posterior
    probability of ``element`` from the image's own brightness clusters,
    ``integrated_intensity`` the median fitted column volume, ``occupancy``
    the columns found over those that fit in the plane inside the field, and
    ``registry`` where the plane's columns sit within one period (0-1).
    """

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
    element_probability: float | None = None
    integrated_intensity: float | None = None
    occupancy: float | None = None
    registry: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> AtomicPlane:
        """The record of a saved report's ``layers`` entry.

        Examples
        --------
        >>> saved = {"height_A": 0.0, "height_err_A": 0.004, "spacing_to_next_A": 2.602, "spacing_err_A": 0.004,
        ...          "material": "TiN", "element": "Ti", "inplane_period_A": 2.596, "inplane_period_err_A": 0.001,
        ...          "intensity": 61.0, "n_columns": 21, "scatter_A": 0.014, "a_later_key": 1}
        >>> plane = AtomicPlane.from_dict(saved)
        >>> plane.material, plane.spacing_to_next_A, plane.occupancy   # an older report: no occupancy
        ('TiN', 2.602, None)
        """
        return from_saved(cls, d)


@dataclass(frozen=True, eq=False)
class LayerSet:
    """Planes ordered from the substrate up, and which column belongs to which.

    Attributes
    ----------
    layers : tuple of AtomicPlane
    plane_of_column : (N,) int array
        Index into `layers`, -1 for columns in no plane.
    orientation : Orientation
        `growth_dir` points from the substrate into the film (when both are seen).
    origin_xy : (2,) float array or None
        A pixel position on the top complete TiN plane (height 0).
    top_tin : int or None
        Index of the top complete, ordered TiN plane in `layers`.
    quintuple_layers : tuple of QuintupleLayer
        Found by shape; `start` indexes `layers`.
    clusters : Clusters or None
        The film planes' brightness groups.
    calibration : Calibration
        The film as length standard, and which standard the heights rest on.
    messages : tuple of str
    field_scale : float
        The scale that maps the planes' periods on the file's calibration onto the system's.
    film_start : int or None
        Index of the film's first plane in `layers`: the first quintuple layer's, or a septuple lamella's
        right below it (None without a quintuple layer).
    """

    layers: tuple
    plane_of_column: np.ndarray
    orientation: Orientation
    origin_xy: np.ndarray | None
    top_tin: int | None
    quintuple_layers: tuple = ()
    clusters: Clusters | None = None
    calibration: Calibration | None = None
    messages: tuple = ()
    field_scale: float = 1.0
    film_start: int | None = None

    @property
    def n_unassigned(self) -> int:
        return int(np.sum(self.plane_of_column < 0))

    def field_length_A(self, pixel_size_A: float) -> float:
        """The length of one pixel along the planes on the field's own scale, for a grouping at `pixel_size_A`:
        windows, segments and steps along the interface are laid out in it, whatever the file's calibration.

        The film's in-plane period where it is the length standard; else the scale that maps the planes'
        periods onto the system's (which the TiN's own strain moves by up to a few tenths).
        """
        scale = self.calibration.inplane_scale if self.calibration is not None else None
        return pixel_size_A / (scale or self.field_scale)


#: Specks making up this share of a plane's columns are linked out of it: fewer, the plane's robust measures bear
#: them (its median peak; its period and height leave stray columns out), and its occupancy moves by less than
#: the origin's tolerance on it (``min_occupancy``, 0.85 of the planes below).
SPECK_SHARE = 0.1


def _structure_level(planes):
    """The peak of a Ti column, read off the substrate planes; without them, off the dimmer film planes (no
    column of the structure is much fainter than those). None without either."""
    substrate = [p.peak for p in planes if p.kind == "substrate"]
    film = [p.peak for p in planes if p.kind == "film"]
    if substrate:
        return float(np.percentile(substrate, 75))  # the metal planes, not any anion planes among them
    if film:
        return 0.5 * float(np.percentile(film, 25))
    return None


def _drop_faint(planes, faint_fraction):
    """Planes much fainter than a Ti column are linked specks (amorphous film, N), not structure."""
    level = _structure_level(planes)
    if level is None:
        return planes
    return tuple(p for p in planes if p.peak >= faint_fraction * level)


def substrate_down(planes, orientation):
    """Flip heights (and the axis) so that the substrate planes lie below the film's.

    Returns
    -------
    (tuple of Plane, Orientation)
        Planes re-ordered by the new heights.
    """
    sub = [p.height_A for p in planes if p.kind in ("substrate", "anion")]
    film = [p.height_A for p in planes if p.kind == "film"]
    if not (sub and film and np.mean(sub) > np.mean(film)):
        return planes, orientation
    flipped = [replace(p, height_A=-p.height_A) for p in planes]
    return tuple(sorted(flipped, key=lambda p: p.height_A)), orientation.flipped()




#: A plane missing more than this many columns beyond its first and last found one ends inside the field.
TERRACE_EDGE_COLUMNS = 1.5


def _surely_less_seen(plane, occupancy, alpha=0.05):
    """Whether `plane` is seen less fully than `occupancy` beyond the chance of its count (one-sided, `alpha`).

    Its columns found are a binomial draw from the columns that fit in it:
    the chance of finding as few at a share `occupancy` is the regularised
    incomplete beta function, which takes the columns that fit unrounded.
    A plane whose missing columns lie at an end is not such a draw (a
    terrace edge): it is held to `occupancy` itself.
    """
    if plane.end_missing > TERRACE_EDGE_COLUMNS or plane.occupancy >= 1.0 or occupancy >= 1.0:
        # missing columns at an end are a terrace edge or partial cover, not a detection's chance
        return plane.occupancy < occupancy
    fit = plane.n_columns / plane.occupancy
    return bool(betainc(fit - plane.n_columns, plane.n_columns + 1, 1.0 - occupancy) < alpha)


def _partly_seen_above(planes, top, candidates, max_scatter_ratio=1.5, spacing_tolerance=0.05,
                       min_seen_ratio=0.7):
    """The top substrate plane, moved up past planes that are ordered substrate seen as partly as those below.

    A TiN that thins along the interface (a wedge) shows every plane over part
    of the field only, each by a different share, so the strict occupancy
    test of :func:`find_origin` can stop below the true top. A plane above
    it is substrate, not the interface band, when it is as ordered as those
    below (its scatter at most `max_scatter_ratio` x theirs, where a
    roughened plane's is many times larger), one substrate spacing above the
    last (within `spacing_tolerance`), and not surely seen less than
    `min_seen_ratio` x the last (:func:`_surely_less_seen`: a window holds
    a plane's 5-10 columns, whose count alone moves its occupancy by
    ~0.15): a partial plane on complete ones stays in the band.
    """
    below = [p for p in planes[:top + 1] if p.kind == "substrate"]
    if len(below) < 3:
        return top
    heights = np.array([p.height_A for p in below])
    spacing = float(np.median(np.diff(heights)))
    scatter = float(np.median([p.scatter_A for p in below]))
    for i in (c for c in candidates if c > top):
        step = planes[i].height_A - planes[top].height_A
        if (abs(step / spacing - 1.0) > spacing_tolerance or planes[i].scatter_A > max_scatter_ratio * scatter
                or _surely_less_seen(planes[i], min_seen_ratio * planes[top].occupancy)
                or any(p.kind == "film" for p in planes[top + 1:i])):
            break
        top = i
    return top


def find_origin(planes, min_occupancy=0.85, scatter_ratio=3.0, min_scatter_A=0.12, max_film_below=0.1):
    """The top complete, ordered substrate plane (height 0), and the planes relabelled around it.

    Candidates are substrate planes with (almost) all of the film above them.
    From the top down, a candidate is taken when its occupancy is at least
    `min_occupancy` x that of the substrate planes below it and its scatter
    at most `scatter_ratio` x theirs (or `min_scatter_A`). Partial or
    roughened substrate planes above it are the interface band ("disordered"),
    and so is any film-period plane below it.

    Parameters
    ----------
    planes : tuple of Plane
        Ordered by height, kinds labelled.
    min_occupancy, scatter_ratio, min_scatter_A : float
        From the system's ``[classify]`` table.
    max_film_below : float
        Share of the film's columns allowed below the origin (stray planes).

    Returns
    -------
    (int or None, tuple of Plane)
    """
    kinds = np.array([p.kind for p in planes])
    heights = np.array([p.height_A for p in planes])
    n = np.array([p.n_columns for p in planes], float)
    film_n = np.where(kinds == "film", n, 0.0)
    candidates = [i for i in np.flatnonzero(kinds == "substrate")
                  if film_n[heights < heights[i]].sum() <= max_film_below * film_n.sum()]
    top = None
    for i in reversed(candidates):
        below = [p for p in planes[:i] if p.kind == "substrate"]
        if not below:
            top = i if planes[i].occupancy >= min_occupancy else None
            break
        occupancy = np.median([p.occupancy for p in below])
        scatter = np.median([p.scatter_A for p in below])
        if (planes[i].occupancy >= min_occupancy * occupancy
                and planes[i].scatter_A <= max(scatter_ratio * scatter, min_scatter_A)):
            top = i
            break
    if top is None:
        return None, planes
    top = _partly_seen_above(planes, top, candidates)
    relabelled = tuple(
        replace(p, kind="disordered") if (i > top and p.kind in ("substrate", "anion"))
        or (i < top and p.kind == "film") else p for i, p in enumerate(planes))
    return int(top), relabelled





def _registry(planes, u, periods):
    """Each ordered plane's registry within its kind's common period (0-1)."""
    out = []
    for p in planes:
        period = periods.get(p.kind)
        ordered = period and p.kind in ("substrate", "anion", "film")
        out.append(replace(p, phase=registry(u[p.members], period) if ordered else None))
    return tuple(out)


def _film_start(planes, top, quintuples, system: MaterialSystem):
    """Index of the film's first plane: the first quintuple layer's, or that of a septuple lamella
    (X-Bi-X-Bi-X-Bi-X, no vdW gap inside, one above it) lying right below it; None without a QL.

    A Bi3X4 lamella can be the film's first block, on the TiN itself: its seven planes are film, not
    interface planes.
    """
    if not quintuples:
        return None
    film = system.film
    first = quintuples[0].start
    start = first - 7
    if start <= (top if top is not None else -1):
        return first
    block = planes[start:first]
    spacings = np.diff([p.height_A for p in planes[start:first + 1]])
    gap = 0.5 * (max(film.ql_spacings_A) + film.vdw_gap_A)  # nearer the vdW gap than the blocks' inner spacings
    pattern = [film.chalcogen, film.metal] * 3 + [film.chalcogen]
    if (any(p.kind != "film" for p in block) or np.any(spacings[:-1] >= gap) or spacings[-1] < gap
            or sum(p.element == e for p, e in zip(block, pattern)) < len(pattern) - 1):
        return first
    return start


def _materials(planes, top, film_start):
    """The contract's material per plane: TiN, the bilayer between TiN and the film, TI, disordered."""
    names = []
    for i, p in enumerate(planes):
        name = {"substrate": "TiN", "anion": "TiN", "film": "TI"}.get(p.kind, "disordered")
        if name == "TI" and top is not None and film_start is not None and top < i < film_start:
            name = "bilayer"
        names.append(name)
    return names


def _to_layers(planes, materials, origin_h, height_scale, inplane_scale):
    """AtomicPlane records in Å on the film's standard: heights from the origin over the growth-axis scale,
    periods over the in-plane scale (each axis by its own ruler)."""
    heights = np.array([(p.height_A - origin_h) / height_scale for p in planes])
    errors = np.array([p.height_err_A / height_scale for p in planes])
    layers = []
    for i, (p, material) in enumerate(zip(planes, materials)):
        last = i + 1 == len(planes)
        layers.append(AtomicPlane(
            height_A=float(heights[i]), height_err_A=float(errors[i]),
            spacing_to_next_A=None if last else float(heights[i + 1] - heights[i]),
            spacing_err_A=None if last else float(np.hypot(errors[i], errors[i + 1])),
            material=material, element=p.element,
            inplane_period_A=None if p.period_A is None else p.period_A / inplane_scale,
            inplane_period_err_A=None if p.period_err_A is None else p.period_err_A / inplane_scale, intensity=p.peak, n_columns=p.n_columns, scatter_A=p.scatter_A,
            element_probability=p.element_probability, integrated_intensity=p.volume,
            occupancy=round(p.occupancy, 4), registry=p.phase))
    return tuple(layers)


def _planes_on_field_scale(columns, growth_dir, system: MaterialSystem, pixel_size_A, scale=None, linked=None):
    """Planes linked and measured on the field's own scale: (scale, column labels, planes).

    A first pass on the file's calibration finds the scale that maps the
    planes' periods onto the system's two (:func:`~stemlayers.structure.planes.field_scale`);
    the planes are then linked and measured again with lengths divided by it,
    so that every tolerance in Å (linking, scatter, origin) means the same
    whatever the file's calibration. The second measurement indexes planes
    with missing columns right across their gaps (the expected periods), and
    carries each plane's thickness-corrected brightness. With `scale` given (a part of a field whose
    scale is known), the first pass is skipped. With `linked` (a mask), only those columns are linked into
    planes: the others are in none.
    """
    rules = system.classify
    g = np.asarray(growth_dir, float)
    tangent = np.array([-g[1], g[0]])
    xy_A, err_A = columns.xy * pixel_size_A, columns.xy_err * pixel_size_A
    h, u = xy_A @ g, xy_A @ tangent
    h_err, u_err = np.sqrt(err_A**2 @ g**2), np.sqrt(err_A**2 @ tangent**2)
    volume = columns.amplitude * 2 * np.pi * columns.sigma**2
    p_sub, p_film = system.substrate.projected_period_A, system.film.projected_period_A
    max_step = 2.3 * max(p_sub, p_film) * 1.2
    if scale is None:
        label = link_planes(u, h, max_step, HEIGHT_TOLERANCE_A)
        planes = measure_planes(u, h, h_err, u_err, columns.amplitude, volume, label)
        sizable = [p.period_A for p in planes if p.period_A and p.scatter_A < rules.max_interface_scatter_A]
        scale = field_scale(sizable, p_sub, p_film)
    h, u, h_err, u_err = h / scale, u / scale, h_err / scale, u_err / scale
    if linked is None:
        label = link_planes(u, h, max_step, HEIGHT_TOLERANCE_A)
    else:
        label = np.full(len(u), -1)
        label[linked] = link_planes(u[linked], h[linked], max_step, HEIGHT_TOLERANCE_A)
    planes = measure_planes(u, h, h_err, u_err, columns.amplitude, volume, label, (p_sub, p_film))
    return scale, label, with_brightness(planes, u, volume)


def _undistorted(planes, materials, u, xy, label, shape, px_field):
    """The planes with their periods freed of the scan's wander and on the film's mean scale along the rows
    (:mod:`stemlayers.structure.wander`, :mod:`stemlayers.structure.distortion`): (planes, row scale, wander)."""
    index_of = {p.label: i for i, p in enumerate(planes)}
    plane = np.array([index_of.get(k, -1) for k in label], int)
    periods = np.array([p.period_A or np.nan for p in planes], float)
    is_film = np.array([m == "TI" for m in materials], bool)
    is_substrate = np.array([m == "TiN" for m in materials], bool)
    if shape is None:
        shape = np.ceil(xy.max(axis=0)[::-1] + 1) if len(xy) else (1, 1)
    # the rulers: planes of the two lattices, whose columns are equally spaced (the band's are not)
    wander = fit_row_wander(u, xy, plane, np.where(is_film | is_substrate, periods, np.nan), is_film, shape,
                            WANDER_PX * px_field, px_field)
    if wander is not None and wander.applied:
        u, periods = u - wander.shift, periods / wander.factor
        planes = _rescaled(planes, wander.factor)
    row_scale = fit_row_scale(xy, u, plane, periods, is_film, is_substrate, shape)
    if row_scale is not None and row_scale.applied:
        planes = _rescaled(planes, row_scale.factor)
    return planes, row_scale, wander


def _rescaled(planes, factor):
    """The planes with their periods (and errors) divided by `factor`, one per plane."""
    return tuple(p if p.period_A is None else replace(p, period_A=p.period_A / f, period_err_A=p.period_err_A / f)
                 for p, f in zip(planes, factor))


def _quintuples_above(planes, top, system: MaterialSystem):
    """The quintuple layers above the origin plane, indexed into `planes`."""
    start = (top + 1) if top is not None else 0
    heights = np.array([p.height_A for p in planes])
    p_bi = np.array([(p.element_probability if p.element == system.film.metal else 1 - p.element_probability)
                     if p.element_probability is not None else 0.5 for p in planes])
    is_film = np.array([p.kind == "film" for p in planes])
    found = find_quintuple_layers(heights[start:], is_film[start:], p_bi[start:], system.film.ql_spacings_A,
                                  system.film.vdw_gap_A, system.classify.motif_tolerance)
    return tuple(replace(q, start=q.start + start) for q in found)


def _field_messages(planes, system: MaterialSystem) -> tuple:
    """A note when the field holds only one material (no interface)."""
    kinds = {p.kind for p in planes}
    has_sub, has_film = "substrate" in kinds, "film" in kinds
    if has_sub and has_film:
        return ()
    only = (f"{system.substrate.name} planes" if has_sub else f"{system.film.name} planes" if has_film
            else "disordered columns")
    return (f"no interface in the field: only {only} were found",)


def group_layers(columns, orientation: Orientation, system: MaterialSystem, pixel_size_A: float,
                 shape=None, scale=None, undistort=True) -> LayerSet:
    """Group columns into atomic planes, name them, and order them from the substrate up.

    Parameters
    ----------
    columns : Columns
    orientation : Orientation
        From :func:`stemlayers.structure.orient.growth_axes` (sign arbitrary).
    system : MaterialSystem
        Expected periods, QL shape and the brightness prior.
    pixel_size_A : float
        The file's calibration.
    shape : (rows, cols), optional
        The image's shape: lets each plane's occupancy count the columns that
        fit inside the field.
    scale : float, optional
        The field's scale (its LayerSet's ``field_scale``), for a part of a
        field: its periods are then not measured twice.
    undistort : bool
        Fit the scan's row scale to the film; a narrow part of a field has too
        few rows of film for it.

    Returns
    -------
    LayerSet
    """
    rules = system.classify
    p_sub, p_film = system.substrate.projected_period_A, system.film.projected_period_A
    scale, label, planes = _planes_on_field_scale(columns, orientation.growth_dir, system, pixel_size_A, scale)
    px_field = pixel_size_A / scale
    planes = label_kinds(planes, p_sub, p_film, rules.max_interface_scatter_A)
    level = _structure_level(planes)
    if level is not None:
        # specks far fainter than any column of the structure (an amorphous film's texture, which a high dose
        # makes significant) linked into a plane of it break up its lattice: the planes again without them
        specks = columns.amplitude < rules.faint_fraction * level
        if any(np.mean(specks[p.members]) >= SPECK_SHARE for p in planes if p.peak >= rules.faint_fraction * level):
            scale, label, planes = _planes_on_field_scale(columns, orientation.growth_dir, system, pixel_size_A,
                                                          scale, linked=~specks)
            planes = label_kinds(planes, p_sub, p_film, rules.max_interface_scatter_A)
    planes = _drop_faint(planes, rules.faint_fraction)
    planes = label_anions(planes, system)
    planes, orientation = substrate_down(planes, orientation)
    tangent = np.array([-orientation.growth_dir[1], orientation.growth_dir[0]])
    u = columns.xy * px_field @ tangent
    planes = with_occupancy(planes, columns.xy, orientation.growth_dir, shape, px_field,
                            expected={"substrate": p_sub, "film": p_film})
    top, planes = find_origin(planes, rules.min_occupancy, rules.origin_scatter_ratio, rules.origin_min_scatter_A)
    periods = {kind: float(np.median([p.period_A for p in planes if p.kind == kind]))
               for kind in ("substrate", "film") if any(p.kind == kind for p in planes)}
    periods["anion"] = periods.get("substrate")
    planes = _registry(planes, u, periods)
    planes, clusters = assign_elements(planes, system, rules.contrast_prior_sd, rules.min_contrast_log_ratio,
                                       rules.min_occupancy)

    quintuples = _quintuples_above(planes, top, system)
    film_start = _film_start(planes, top, quintuples, system)
    materials = _materials(planes, top, film_start)
    planes, row_scale, wander = (_undistorted(planes, materials, u, columns.xy, label, shape, px_field) if undistort
                                 else (planes, None, None))
    calibration = measure_calibration(planes, materials, quintuples, system, pixel_size_A, scale, row_scale, wander)
    messages = _field_messages(planes, system)
    origin_h = planes[top].height_A if top is not None else (planes[0].height_A if planes else 0.0)
    layers = _to_layers(planes, materials, origin_h, calibration.height_scale / scale,
                        (calibration.inplane_scale or 1.0) / scale)
    index_of = {p.label: i for i, p in enumerate(planes)}
    plane_of_column = np.array([index_of.get(k, -1) for k in label], int)
    origin_xy = columns.xy[plane_of_column == top].mean(axis=0) if top is not None else None
    return LayerSet(layers, plane_of_column, orientation, origin_xy, top, quintuples, clusters, calibration,
                    messages, scale, film_start)
