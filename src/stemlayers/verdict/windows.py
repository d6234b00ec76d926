"""Windows along the interface, each grouped and classified on its own columns.

The first arrow of following the interface along its length (:mod:`.segments` makes segments, steps and
coverage of them): the interface is cut into overlapping windows (16 Å wide, every 8 Å: a few film
columns per plane), each grouped and classified on its own columns with the field's orientation and
scale, so that each window measures its own top TiN plane and a terrace step moves the origin, not the
verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..materials import MaterialSystem
from ..structure.grouping import LayerSet, group_layers
from ..structure.orient import growth_axes
from .classify import classify
from .identify import detect_system, structure_cues
from .strain import check_strain
from .stretch import NOT_DECIDABLE

__all__ = ["MIN_WINDOWS", "Windows", "grow_window", "interface_extent", "lone_windows_undecided", "runs_of",
           "spacing_profile", "window_verdicts", "windows_of_the_system"]

#: Width of the windows flush with the interface's ends that measure the top plane of a short end terrace.
END_WIDTH_A = 10.0

#: Fewer windows (an interface shorter than ~50 Å) leave the whole field's verdict alone: too few to tell
#: a second class from one odd window at the field's edge.
MIN_WINDOWS = 5


@dataclass(frozen=True)
class Windows:
    """The verdicts of windows along the interface (arrays of one entry per window).

    Attributes
    ----------
    centre_A : (W,) float array
        Window centres along the interface, Å (u of the field's frame).
    label : (W,) object array
        The class of each window, or :data:`NOT_DECIDABLE`.
    confidence, gap_A, gap_err_A, top_A : (W,) float arrays
        The window's confidence, gap and its uncertainty (NaN: none) and the height of its own top TiN
        plane in the field's frame (NaN: none found).
    evidence : tuple of tuple of str
    width_A, step_A : float
    n_columns : (W,) int array
        Columns in each window.
    extent_A : (float, float)
        Where the interface begins and ends along u: its columns' extent.
    judge : callable or None
        ``judge(centre_A, width_A) -> (label, numbers, evidence, spacing profile)`` of any window of the
        field (:func:`spacing_profile`), to place boundaries more finely than the windows' spacing and to
        measure each segment's profile (None: boundaries at the middle between windows, no profiles).
    min_occupancy : float
        The share of a window's length its top plane must span to be the window's top (the system's
        ``classify.min_occupancy``): it places terrace steps where the columns cannot (no `columns_uhv`).
    columns_uhv : (N, 3) float array or None
        Every column of the field in the windows' frame: u (Å along the interface), height (Å over the
        field's top TiN plane) and integrated intensity; terrace steps are placed on them.
    end_looks : tuple of (centre_A, label, top_A)
        Narrower windows (END_WIDTH_A) flush with either end of the interface: the top plane of a terrace at
        an end too short for a window of its own.
    tin_a_A, tin_a_stat_A, tin_a_sys_A : (W,) float arrays
        The TiN in-plane a of each window on its own film standard, its statistical and systematic
        uncertainty (NaN: no ordered TiN plane).
    """

    centre_A: np.ndarray
    label: np.ndarray
    confidence: np.ndarray
    gap_A: np.ndarray
    gap_err_A: np.ndarray
    top_A: np.ndarray
    evidence: tuple
    width_A: float
    step_A: float
    n_columns: np.ndarray
    tin_a_A: np.ndarray
    tin_a_stat_A: np.ndarray
    tin_a_sys_A: np.ndarray
    extent_A: tuple = (np.nan, np.nan)
    judge: object = field(default=None, repr=False, compare=False)
    min_occupancy: float = 0.85
    columns_uhv: np.ndarray | None = field(default=None, repr=False, compare=False)
    end_looks: tuple = field(default=(), compare=False)


def spacing_profile(layers):
    """(height_A, spacing_A, spacing_err_A) of each plane with a next one, rounded to the mÅ."""
    return tuple((round(L.height_A, 3), round(L.spacing_to_next_A, 3), round(L.spacing_err_A, 3))
                 for L in layers if L.spacing_to_next_A is not None and L.spacing_err_A is not None)


def grow_window(judge, outer, inner, limit, holds, step_A=2.0):
    """The inner edge of the window [outer, inner] moved towards `limit`, `step_A` at a time, as far as the
    window's judged row (label, numbers, evidence) still `holds`."""
    way = 1.0 if limit > inner else -1.0
    while (limit - inner) * way >= step_A - 1e-9:
        trial = inner + way * step_A
        if not holds(judge(0.5 * (outer + trial), abs(trial - outer))):
            break
        inner = trial
    return inner


def runs_of(labels):
    """(start, stop, label) of runs of equal labels."""
    edges = [0] + [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]] + [len(labels)]
    return [(a, b, labels[a]) for a, b in zip(edges[:-1], edges[1:])]


def lone_windows_undecided(labels):
    """A class seen by one window alone, between windows of other verdicts, is no segment: one window
    straddles a boundary or sits at the field's edge as often as it sees an interface of its own."""
    labels = np.array(labels, object)
    for a, b, label in runs_of(list(labels)):
        if b - a == 1 and label != NOT_DECIDABLE:
            labels[a] = NOT_DECIDABLE
    return labels


def interface_extent(u_A, h_A, reach_A=6.0):
    """(lo, hi) along the interface: where columns lie within `reach_A` of the top TiN plane's height."""
    near = np.abs(h_A) < reach_A
    if near.sum() < 3:
        near = np.ones(u_A.size, bool)
    return float(u_A[near].min()), float(u_A[near].max())


def window_verdicts(columns, layerset: LayerSet, system: MaterialSystem, pixel_size_A: float, shape=None,
                    width_A=16.0, step_A=8.0, below_A=20.0, above_A=40.0) -> Windows | None:
    """Group and classify overlapping windows along the interface, each on its own columns.

    Parameters
    ----------
    columns : Columns
    layerset : LayerSet
        The whole field's planes: its orientation and origin set the frame.
    system : MaterialSystem
    pixel_size_A : float
        The working pixel size (the field's true scale).
    shape : (rows, cols), optional
    width_A, step_A : float
        Window width and spacing along the interface.
    below_A, above_A : float
        Each window holds the columns from this far below the top TiN plane to this far above it: enough
        TiN planes and quintuple layers for every cue, and a cost that does not grow with the field's height.

    Returns
    -------
    Windows or None
        None when the field has no origin or its interface is too short for MIN_WINDOWS windows.
    """
    if layerset.origin_xy is None:
        return None
    growth = layerset.orientation.growth_dir
    length_A = layerset.field_length_A(pixel_size_A)
    u = columns.xy @ layerset.orientation.tangent * length_A
    h = (columns.xy - layerset.origin_xy) @ growth * length_A
    lo, hi = interface_extent(u, h)
    centres = np.arange(lo + width_A / 2, hi - width_A / 2 + 1e-9, step_A)
    if centres.size < MIN_WINDOWS:
        return None
    if hi - width_A / 2 - centres[-1] > 1.0:  # one more flush with the far end: a short stretch there is seen whole
        centres = np.append(centres, hi - width_A / 2)
    band = (h > -below_A) & (h < above_A)
    uhv = np.column_stack([u, h, columns.amplitude * 2 * np.pi * columns.sigma**2])

    def judge(centre, width):
        inside = columns.select(band & (np.abs(u - centre) <= width / 2))
        local = group_layers(inside, layerset.orientation, system, pixel_size_A, shape, scale=layerset.field_scale,
                             undistort=False)
        verdict = classify(local, system, inside, pixel_size_A)
        strain = check_strain(local.layers, system, calibration=local.calibration)
        top = (np.nan if local.origin_xy is None
               else float((local.origin_xy - layerset.origin_xy) @ growth * length_A))
        numbers = [verdict.confidence, verdict.gap_A, verdict.gap_err_A, top, len(inside), strain.tin_inplane_A,
                   strain.tin_inplane_stat_err_A, strain.tin_inplane_sys_err_A]
        return (verdict.interface_class or NOT_DECIDABLE, [np.nan if v is None else v for v in numbers],
                tuple(verdict.evidence), spacing_profile(local.layers))

    # a terrace at either end shorter than a window's held share has no window of its own: narrower ones
    # flush with the ends measure its top plane
    end_looks = tuple((centre, row[0], row[1][3]) for centre, row in
                      ((c, judge(c, END_WIDTH_A)) for c in (lo + END_WIDTH_A / 2, hi - END_WIDTH_A / 2)))
    # a first look through windows twice as wide, end to end: where they all tell one ordered class on one
    # terrace the interface is uniform, and the fine windows would only say so again (a deteriorated band
    # anywhere in a wide window makes it deteriorated: short ordered stretches between bands need the fine ones)
    n_coarse = int(np.ceil((hi - lo) / (2 * width_A)))
    coarse = np.linspace(lo + width_A, hi - width_A, n_coarse) if n_coarse > 1 else np.array([0.5 * (lo + hi)])
    looks = [judge(centre, 2 * width_A) for centre in coarse]
    labels = {row[0] for row in looks}
    tops = np.array([row[1][3] for row in looks])
    end_tops = [top for _, label, top in end_looks if label != NOT_DECIDABLE and np.isfinite(top)]
    if (len(labels) == 1 and labels.isdisjoint({NOT_DECIDABLE, "deteriorated"}) and np.all(np.isfinite(tops))
            and np.ptp(np.concatenate([tops, end_tops])) < 0.4 * system.substrate.plane_spacing_A):
        return _as_windows(coarse, looks, 2 * width_A, float(np.diff(coarse).mean()) if n_coarse > 1 else 2 * width_A,
                           (lo, hi), judge, system, uhv, end_looks)
    rows = [judge(centre, width_A) for centre in centres]
    # where two neighbouring windows differ, one more half-way between them: a stretch of one class 20-25 Å
    # long then holds two windows of its own, enough to stand as a segment
    between = [0.5 * (centres[i] + centres[i + 1]) for i in range(len(rows) - 1) if rows[i][0] != rows[i + 1][0]]
    rows += [judge(centre, width_A) for centre in between]
    centres = np.concatenate([centres, between])
    order = np.argsort(centres, kind="stable")
    centres, rows = centres[order], [rows[i] for i in order]
    # a window that decides nothing is tried again wider (a thick or noisy field needs more columns per
    # plane); the wider verdict counts only where it agrees with the nearest decided windows on either side,
    # so that a window centred on a boundary, which sees more of both sides when wider, stays undecided
    seen = lone_windows_undecided([r[0] for r in rows])
    decided = np.flatnonzero(seen != NOT_DECIDABLE)
    for i in np.flatnonzero(seen == NOT_DECIDABLE):
        sides = {seen[j] for j in (decided[decided < i][-1:].tolist() + decided[decided > i][:1].tolist())}
        for width in (1.5 * width_A, 2.0 * width_A):
            if width > hi - lo:
                break
            wider = judge(centres[i], width)
            if wider[0] != NOT_DECIDABLE:
                if sides <= {wider[0]}:
                    rows[i] = wider
                break
    return _as_windows(centres, rows, width_A, step_A, (lo, hi), judge, system, uhv, end_looks)


def _as_windows(centres, rows, width_A, step_A, extent_A, judge, system, columns_uhv=None, end_looks=()) -> Windows:
    """Windows from the (label, numbers, evidence) rows of their judge."""
    labels = np.array([r[0] for r in rows], object)
    numbers = np.array([r[1] for r in rows], float).reshape(-1, 8)
    confidence, gap, gap_err, top, counts, tin_a, tin_stat, tin_sys = numbers.T
    return Windows(np.asarray(centres, float), labels, confidence, gap, gap_err, top, tuple(r[2] for r in rows),
                   width_A, step_A, counts.astype(int), tin_a, tin_stat, tin_sys, extent_A, judge,
                   system.classify.min_occupancy, columns_uhv, end_looks)


def _decided_share(windows: Windows | None) -> float:
    """The share of windows with a verdict (0 without windows)."""
    return 0.0 if windows is None else float(np.mean(windows.label != NOT_DECIDABLE))


def windows_of_the_system(columns, layersets: dict, chosen: MaterialSystem | None, candidates, pixel_size_A: float,
                          shape=None) -> tuple:
    """(system, Windows, LayerSets per system name) along the interface: the chosen system's windows, or
    another candidate's, or those under the field's sharpest growth axis.

    The whole field's planes, mixing the parts of a partly covered or stepped interface, can fit the wrong
    film's quintuple-layer shape better than the right one's, or no system at all; each window, one
    interface alone, shows its film's shape plainly. So:

    - where the chosen system's windows decide less than half the interface and another's decide half or
      more, and a quarter more than the chosen's, the field is the other's;
    - where they decide half or more but show terrace steps, the longest stretch of one terrace is
      identified on its own (:func:`_system_of_one_terrace`): a system it shows in full, whose windows
      decide half the interface, is the field's;
    - with no system `chosen` (the whole field showed none), the candidate whose windows decide the most
      is named where that is at least IDENTIFY_SHARE of the interface and SHARE_LEAD more than any other's,
      or less more but its longest stretch of one class shows it in full on its own (:func:`_best_by_windows`);
      (None, None, layersets) otherwise;
    - where no system's windows decide half the interface under the axis the whole field was grouped on,
      and the field's sharpest axis is another one, the windows under that axis are judged as with no
      system chosen: planes grouped across terrace steps can show a system's part under a wrong axis
      (film planes of two terraces merged at a slant) and none under the true one.
    """
    if chosen is None:
        return (*_best_by_windows(columns, layersets, candidates, pixel_size_A, shape), layersets)
    windows = window_verdicts(columns, layersets[chosen.name], chosen, pixel_size_A, shape)
    if windows is None:
        return chosen, windows, layersets
    share = _decided_share(windows)
    if share >= 0.5:
        other = _system_of_one_terrace(columns, windows, layersets[chosen.name], chosen, candidates, pixel_size_A,
                                       shape)
        if other is None or other.name == chosen.name or layersets.get(other.name) is None:
            return chosen, windows, layersets
        theirs = window_verdicts(columns, layersets[other.name], other, pixel_size_A, shape)
        return (other, theirs, layersets) if _decided_share(theirs) >= 0.5 else (chosen, windows, layersets)
    best = (share, chosen, windows)
    for other in candidates:
        if other.name == chosen.name or layersets.get(other.name) is None:
            continue
        theirs = window_verdicts(columns, layersets[other.name], other, pixel_size_A, shape)
        share = _decided_share(theirs)
        if share >= 0.5 and share > best[0] + 0.25:
            best = (share, other, theirs)
    if best[0] < 0.5:
        sharpest = _sharpest_other_axis(columns, layersets[chosen.name].orientation, candidates, pixel_size_A)
        if sharpest is not None:
            theirs = {s.name: group_layers(columns, sharpest, s, pixel_size_A, shape) for s in candidates}
            system, along = _best_by_windows(columns, theirs, candidates, pixel_size_A, shape)
            if system is not None:
                return system, along, theirs
    return best[1], best[2], layersets


def _sharpest_other_axis(columns, orientation, candidates, pixel_size_A: float, apart_deg=1.0):
    """The growth axis along which the columns line up most sharply, where it is more than `apart_deg` from
    `orientation`'s (None otherwise)."""
    periods = sorted({p for s in candidates for p in (s.substrate.projected_period_A, s.film.projected_period_A)})
    axes = growth_axes(columns.xy, columns.amplitude, pixel_size_A, periods)
    if not axes:
        return None
    sharpest = max(axes, key=lambda axis: axis.sharpness)
    apart = abs((sharpest.angle_deg - orientation.angle_deg + 90.0) % 180.0 - 90.0)
    return sharpest if apart > apart_deg else None


def _best_by_windows(columns, layersets: dict, candidates, pixel_size_A: float, shape=None) -> tuple:
    """(system, Windows) of the candidate whose windows decide the most of the interface, where that is at least
    IDENTIFY_SHARE and SHARE_LEAD more than any other candidate's; (None, None) otherwise.

    A lead short of SHARE_LEAD is made good by the longest run of the leader's windows that tell one class:
    where that stretch's columns, grouped on their own, show the leader in full (substrate, film and their
    period ratio, all free of the calibration), the field is the leader's. A film whose planes are offset
    from one part of the interface to the next (over a band on one side and a bilayer on the other) is
    one system on either side, though the planes merged across the offset fit none, and the wrong film's
    windows decide some of its stretches too.
    """
    tried = [(_decided_share(w), s, w) for s, w in
             ((s, window_verdicts(columns, layersets[s.name], s, pixel_size_A, shape))
              for s in candidates if layersets.get(s.name) is not None)]
    tried.sort(key=lambda t: -t[0])
    if not tried or tried[0][0] < IDENTIFY_SHARE:
        return None, None
    share, leader, windows = tried[0]
    if len(tried) > 1 and share - tried[1][0] < SHARE_LEAD:
        runs = [(a, b) for a, b, label in runs_of(list(windows.label)) if label != NOT_DECIDABLE]
        first, last = max(runs, key=lambda run: run[1] - run[0])
        shown = _system_of_stretch(columns, windows, layersets[leader.name], (first, last - 1), candidates,
                                   pixel_size_A, shape)
        if shown is None or shown.name != leader.name:
            return None, None
    return leader, windows


def _system_of_one_terrace(columns, windows: Windows, layerset: LayerSet, system: MaterialSystem, candidates,
                           pixel_size_A: float, shape=None) -> MaterialSystem | None:
    """The system the longest stretch of one terrace shows on its own, where the windows' tops (grouped with
    `system`) show more than one terrace; None where they do not, or where that stretch shows no system in
    full.

    Planes grouped across terrace steps join planes of different heights: their film can fit the wrong
    system's quintuple layer better than the right one's. One terrace's columns, from the TiN to the field's
    edge, hold whole planes.
    """
    d111 = system.substrate.plane_spacing_A
    index = np.flatnonzero(np.isfinite(windows.top_A))
    top = windows.top_A[index]
    if index.size < 2 or np.ptp(top) < 0.6 * d111:
        return None
    runs, start = [], 0  # runs of windows whose tops agree with the run's first
    for k in range(1, index.size + 1):
        if k == index.size or abs(top[k] - top[start]) >= 0.4 * d111:
            runs.append((index[start], index[k - 1]))
            start = k
    return _system_of_stretch(columns, windows, layerset, max(runs, key=lambda run: run[1] - run[0]), candidates,
                              pixel_size_A, shape)


def _system_of_stretch(columns, windows: Windows, layerset: LayerSet, run, candidates, pixel_size_A: float,
                       shape=None) -> MaterialSystem | None:
    """The system the columns under windows ``run = (first, last)`` (inclusive) show on their own, from the
    TiN to the field's edge, where they show it in full (substrate, film and period ratio); None otherwise."""
    ends = windows.centre_A[list(run)]
    u = columns.xy @ layerset.orientation.tangent * layerset.field_length_A(pixel_size_A)
    part = columns.select((u >= ends.min() - windows.width_A / 2) & (u <= ends.max() + windows.width_A / 2))
    if len(part) < 3:
        return None
    parts = {s.name: group_layers(part, layerset.orientation, s, pixel_size_A, shape) for s in candidates}
    found = detect_system(parts, candidates)
    if found is None:
        return None
    cues = structure_cues(parts[found.name], found)
    return found if cues.substrate_fits and cues.film_fits and cues.ratio_fits else None


#: Where the whole field shows no system, the share of the interface one system's windows must decide to
#: name it (each window with its own TiN, gap and quintuple layer), and by how much more than any other
#: system's: a wrong film's windows decide some of a field too (its quintuple layers are alike).
IDENTIFY_SHARE = 0.5
SHARE_LEAD = 0.2
