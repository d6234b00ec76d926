"""The interface along its length: the windows' verdicts merged into segments, terrace steps, coverage.

The windows (:mod:`.windows`) each judge a short stretch of the interface. :func:`follow_interface`
merges them into :class:`Segment` runs (a window that straddles a boundary or a step sees two
interfaces at once and decides nothing: its length goes to its neighbours), places the boundaries and
the terrace :class:`Step` s, and gives the coverage of each class and the class of the whole interface;
:func:`judge_along` and :func:`strain_along` bring them into the whole field's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..materials import MaterialSystem
from ..numeric import inverse_variance_mean
from ..structure.grouping import LayerSet
from .classify import Interface
from .strain import Strain, with_tin_inplane
from .stretch import NOT_DECIDABLE, Segment, Step
from .steps import end_steps, longest_between, terrace_heights, terrace_steps
from .windows import Windows, grow_window, interface_extent, lone_windows_undecided, runs_of

__all__ = ["Along", "class_changes", "follow_interface", "judge_along", "single_stretch", "strain_along"]

#: A class covering at least this share of the decided interface length is the whole interface's class.
MAJORITY = 0.8

@dataclass(frozen=True)
class Along:
    """The interface along its length.

    Attributes
    ----------
    segments : tuple of Segment
        Ordered along the interface.
    steps : tuple of Step
    coverage, coverage_err : dict
        Fraction of the interface length per class (and "not decidable"), with its 1-sigma
        uncertainty from where the boundaries lie.
    whole_class : str or None
        The class covering >= 80 % of the decided length, "mixed" when none does, None when less
        than half the length is decided.
    length_A : float
    tin_a : (float, float, float) or None
        The TiN in-plane a over the decided windows, each on its own film standard, with its
        statistical and systematic uncertainty (Å).
    step_A : float
        The windows' spacing: the boundaries' uncertainty.
    """

    segments: tuple
    steps: tuple
    coverage: dict
    coverage_err: dict
    whole_class: str | None
    length_A: float
    tin_a: tuple | None = None
    step_A: float = 8.0


def class_changes(segments) -> list:
    """The pixel points (x, y) where two decided segments of different classes meet, along the interface.

    Undecided stretches between them are passed over: a bilayer, a stretch not decided and a band is one
    change, half-way between the decided ends.
    """
    decided = [s for s in segments if s.interface_class != NOT_DECIDABLE]
    return [tuple(0.5 * (np.asarray(a.end_px, float) + np.asarray(b.start_px, float)))
            for a, b in zip(decided[:-1], decided[1:]) if a.interface_class != b.interface_class]


def _tin_of(windows: Windows, index):
    """(a, stat, sys) of the TiN a over the windows `index`: a weighted mean of windows that do not overlap
    (the first, then each next one a window's width further on), the statistical error inflated by their
    excess scatter; None without two such windows."""
    index = [i for i in index if np.isfinite(windows.tin_a_A[i]) and windows.tin_a_stat_A[i] > 0]
    apart = []
    for i in index:
        if not apart or windows.centre_A[i] - windows.centre_A[apart[-1]] >= windows.width_A - 1e-9:
            apart.append(i)
    if len(apart) < 2:
        return None
    mean, stat = inverse_variance_mean(windows.tin_a_A[apart], windows.tin_a_stat_A[apart])
    return mean, stat, float(np.nanmedian(windows.tin_a_sys_A[apart]))


def single_stretch(interface: Interface, columns, layerset: LayerSet, pixel_size_A: float) -> Along | None:
    """An interface too short to follow window by window: one segment of the whole field's verdict, from one
    end of the top TiN plane's line in the field to the other (None without an origin)."""
    if layerset.origin_xy is None or len(columns) < 3:
        return None
    growth, tangent = layerset.orientation.growth_dir, layerset.orientation.tangent
    length_A = layerset.field_length_A(pixel_size_A)
    u = (columns.xy - layerset.origin_xy) @ tangent * length_A
    h = (columns.xy - layerset.origin_xy) @ growth * length_A
    lo, hi = interface_extent(u, h)
    label = interface.interface_class or NOT_DECIDABLE
    ends = [tuple(float(v) for v in layerset.origin_xy + x * tangent / length_A) for x in (lo, hi)]
    segment = Segment(ends[0], ends[1], round(hi - lo, 2), label, interface.confidence,
                      tuple(interface.evidence[:3]), interface.gap_A, interface.gap_err_A)
    return Along((segment,), (), {label: 1.0}, {label: 0.0}, interface.interface_class, round(hi - lo, 2))


def _across_steps_undecided(windows: Windows, steps_u_A):
    """The windows' labels, with those of windows across a terrace step "not decidable" unless they agree
    with the nearest window beyond the step on either side.

    A window across a step sees two origins at once; where that makes it see a band that is not there, its
    verdict differs from both sides', and it decides nothing. One that tells what a side tells is right.
    """
    labels = np.array(windows.label, object)
    across = np.zeros(len(labels), bool)
    for u_step in steps_u_A:
        across |= np.abs(windows.centre_A - u_step) < windows.width_A / 2
    clear = np.flatnonzero(~across)
    for i in np.flatnonzero(across):
        sides = {labels[j] for j in clear[clear < i][-1:].tolist() + clear[clear > i][:1].tolist()}
        if labels[i] not in sides - {NOT_DECIDABLE}:
            labels[i] = NOT_DECIDABLE
    return labels


def _lone_confirmed(windows: Windows, labels, kept, width_A=12.0):
    """`kept` (the labels with lone windows undecided) with each lone window's verdict back where two
    narrower windows, one at either side of it, both tell the same.

    A lone window straddling a boundary has its class from one side only, and a narrower window at its
    other side tells the other class or nothing; a short stretch of its own (at the field's end, between a
    boundary and a step) shows in both.
    """
    if windows.judge is None:
        return kept
    out = np.array(kept, object)
    for i in np.flatnonzero((np.asarray(labels, object) != NOT_DECIDABLE) & (out == NOT_DECIDABLE)):
        centre, shift = windows.centre_A[i], (windows.width_A - width_A) / 2
        if all(windows.judge(centre + way * shift, width_A)[0] == labels[i] for way in (-1.0, 1.0)):
            out[i] = labels[i]
    return out


#: The widest window a segment's spacing profile is measured in: more columns per plane, and a cost that does
#: not grow with the segment.
PROFILE_WIDTH_A = 32.0


def _profile(windows: Windows, start_A, end_A, label, steps_u_A):
    """The spacing profile of a decided segment: of one window over its longest stretch between terrace
    steps, as wide as that stretch less half a window step (up to PROFILE_WIDTH_A); () where there is no
    judge or that window tells another class."""
    if windows.judge is None or label == NOT_DECIDABLE:
        return ()
    a, b = longest_between(*sorted((start_A, end_A)), steps_u_A)
    width = min(b - a - windows.step_A / 2, PROFILE_WIDTH_A)  # clear of boundaries placed to ± a quarter step
    if width < windows.width_A / 2:
        return ()
    row = windows.judge(0.5 * (a + b), width)
    return row[3] if row[0] == label else ()


def _one_straddle(centres_A, a, b, width_A):
    """Whether windows `a`..`b`-1 can all straddle one boundary: their centres within half a width of it."""
    return centres_A[b - 1] - centres_A[a] <= width_A + 1e-9


def _straddling_band_undecided(labels, centres_A, width_A):
    """The labels with a deteriorated run that only straddles the meeting of two ordered classes made undecided.

    A window over a bilayer on one side and a direct contact on the other sees two interface structures at
    once, which look like a disordered band. A deteriorated run whose windows' centres lie within one window
    width, between a bilayer and a vdW stretch, is that; it goes to its neighbours (:func:`_bridged`).
    """
    labels = np.array(labels, object)
    runs = runs_of(list(labels))
    for k in range(1, len(runs) - 1):
        (_, _, left), (a, b, label), (_, _, right) = runs[k - 1], runs[k], runs[k + 1]
        if label == "deteriorated" and {left, right} == {"bilayer", "vdw"} and _one_straddle(centres_A, a, b, width_A):
            labels[a:b] = NOT_DECIDABLE
    return labels


def _bridged(labels, centres_A, width_A):
    """The labels with the undecided windows that only straddle a boundary or a step given to their neighbours.

    A window straddling two interfaces (or two terraces) sees both and decides nothing. A run of such
    windows whose centres lie within a window's width, between decided windows, is split at its middle
    between the classes on either side (all of it to one class when both sides agree).
    """
    labels = list(labels)
    runs = runs_of(labels)
    for k, (a, b, label) in enumerate(runs):
        if label != NOT_DECIDABLE or k == 0 or k == len(runs) - 1 or not _one_straddle(centres_A, a, b, width_A):
            continue
        left, right = runs[k - 1][2], runs[k + 1][2]
        middle = a + (b - a) / 2
        for i in range(a, b):
            labels[i] = left if i + 0.5 < middle else right
    return labels


def _meeting(judge, window_a, window_b, label_a, label_b, step_A=2.0, min_occupancy=None):
    """Where class A gives way to class B, Å along u, from two windows (outer edge, inner edge) facing each other.

    A window keeps its verdict with a little of the other side in it. So each window's inner edge is moved
    towards the other window's centre, a step at a time, while its verdict holds: the A window's inner edge
    then lies a little past the boundary, the B window's a little before it, and the boundary is taken
    half-way. At a deteriorated stretch the band decides any window it is in, so only the ordered side's
    window is grown: it keeps its class while its top TiN plane spans `min_occupancy` of it (the roughened
    planes past the boundary count for less), so the boundary lies that share of the grown window from its
    outer edge (without `min_occupancy`, at the grown edge).
    """
    def grow(outer, inner, limit, label):
        return grow_window(judge, outer, inner, limit, lambda row: row[0] == label, step_A)

    def held(outer, inner):
        return inner if min_occupancy is None else outer + min_occupancy * (inner - outer)

    centre_a, centre_b = 0.5 * sum(window_a), 0.5 * sum(window_b)
    if "deteriorated" in (label_a, label_b) and label_a != label_b:
        # grown as far as the band's window reaches: a window that holds the band is deteriorated
        if label_a != "deteriorated":
            return held(window_a[0], grow(*window_a, window_b[0], label_a))
        return held(window_b[0], grow(*window_b, window_a[0], label_b))
    return float(np.mean([grow(*window_a, centre_b, label_a), grow(*window_b, centre_a, label_b)]))


def _boundary(windows: Windows, last_a, first_b):
    """Where the class of window `last_a` gives way to that of window `first_b` (:func:`_meeting`; without a
    judge, the middle between the two windows), Å along u."""
    c_a, c_b = windows.centre_A[last_a], windows.centre_A[first_b]
    if windows.judge is None:
        return 0.5 * (c_a + c_b)
    half = windows.width_A / 2 * (1.0 if c_b > c_a else -1.0)
    return _meeting(windows.judge, (c_a - half, c_a + half), (c_b + half, c_b - half),
                    windows.label[last_a], windows.label[first_b], min_occupancy=windows.min_occupancy)


def _end_stretch(windows: Windows, end_A, inward, next_window, widths_A=(12.0, 10.0)):
    """(label, cut, row) of a stretch at one end of the interface, judged by narrower windows set against the
    field's end (`row`: the judge's); (NOT_DECIDABLE, None, None) when they decide nothing either.

    A stretch of another class shorter than a window at the field's end has no window of its own: one
    that reaches from the end only as far as it does may judge it.
    """
    if windows.judge is None:
        return NOT_DECIDABLE, None, None
    for width in widths_A:
        row = windows.judge(end_A + inward * width / 2, width)
        label = row[0]
        if label == NOT_DECIDABLE:
            continue
        if label == windows.label[next_window]:
            return label, None, row
        c_b = windows.centre_A[next_window]
        half = inward * windows.width_A / 2
        return label, _meeting(windows.judge, (end_A, end_A + inward * width), (c_b + half, c_b - half),
                               label, windows.label[next_window], min_occupancy=windows.min_occupancy), row
    return NOT_DECIDABLE, None, None


def _end_segment(row, start_px, end_px, length_A, varies) -> Segment:
    """The Segment of an end stretch judged by one narrow window (its judge's `row`): its class, confidence,
    evidence, gap and profile; its TiN a is left to the windows of the grid (one narrow window is no mean)."""
    label, numbers, evidence, profile = row
    confidence, gap, gap_err = numbers[:3]
    return Segment(start_px, end_px, round(float(length_A), 2), label, round(float(confidence), 3), evidence,
                   round(float(gap), 3) if np.isfinite(gap) else None,
                   round(float(gap_err), 3) if np.isfinite(gap) else None, None, None, profile if varies else ())


def _seen(windows: Windows, labels, sparse=0.6):
    """(first, stop) of the windows that see the interface: undecided windows at either end holding fewer
    than `sparse` x the median window's columns lie at the field's edge (a corner of a rotated field),
    where too little of the interface is in the field to judge it."""
    thin = windows.n_columns < sparse * np.median(windows.n_columns)
    first, stop = 0, len(labels)
    while first < stop - 1 and labels[first] == NOT_DECIDABLE and thin[first]:
        first += 1
    while stop - 1 > first and labels[stop - 1] == NOT_DECIDABLE and thin[stop - 1]:
        stop -= 1
    return first, stop


def _uncrossed(runs, cuts, lo, hi):
    """(runs, cuts) without the runs whose placed boundaries cross or pass the field's end.

    Each boundary is placed from the windows on its own two sides, so the two boundaries of a run shorter
    than their error may cross: that run is no stretch of its own. Its windows go to the run before it (at
    the first run, the one after), and its neighbours meet half-way between its two boundaries.

    Examples
    --------
    >>> _uncrossed([(0, 2, "vdw"), (2, 3, "deteriorated"), (3, 5, "bilayer")], [30.0, 28.0], 0.0, 90.0)
    ([(0, 3, 'vdw'), (3, 5, 'bilayer')], [29.0])
    """
    runs, bounds = list(runs), [lo, *cuts, hi]
    k = 0
    while len(runs) > 1 and k < len(runs):
        if bounds[k + 1] > bounds[k]:
            k += 1
            continue
        a, b, _ = runs.pop(k)
        if k == 0:
            runs[0] = (a, runs[0][1], runs[0][2])
            del bounds[1]
        elif k == len(runs):
            runs[-1] = (runs[-1][0], b, runs[-1][2])
            del bounds[-2]
        else:
            runs[k - 1] = (runs[k - 1][0], b, runs[k - 1][2])
            bounds[k:k + 2] = [0.5 * (bounds[k] + bounds[k + 1])]
        k = max(k - 1, 0)
    return runs, bounds[1:-1]


def follow_interface(windows: Windows, layerset: LayerSet, pixel_size_A: float, d111_A: float,
                     extent_A=None) -> Along:
    """Segments, steps, coverage and the whole interface's class from the windows' verdicts.

    Parameters
    ----------
    windows : Windows
    layerset : LayerSet
        The whole field's planes (frame: orientation and origin).
    pixel_size_A : float
    d111_A : float
        The TiN (111) plane spacing: terrace steps come in whole multiples of it.
    extent_A : (float, float), optional
        The interface's ends along u; by default the windows' extent, less thin windows at either end.

    Returns
    -------
    Along
    """
    growth, tangent = layerset.orientation.growth_dir, layerset.orientation.tangent
    length_A = layerset.field_length_A(pixel_size_A)  # the windows' Å
    u_origin = float(layerset.origin_xy @ tangent * length_A)
    heights, slope = terrace_heights(windows, d111_A)
    known = np.isfinite(heights)
    found_steps = terrace_steps(windows, heights, d111_A, slope)
    found_steps = sorted(found_steps + end_steps(windows, heights, d111_A, slope, [u for u, *_ in found_steps]))
    labels = _across_steps_undecided(windows, [u for u, *_ in found_steps])
    labels = _lone_confirmed(windows, labels, lone_windows_undecided(labels))
    labels = _straddling_band_undecided(labels, windows.centre_A, windows.width_A)
    first, stop = _seen(windows, labels)
    centres = windows.centre_A[first:stop]
    lo, hi = extent_A or windows.extent_A
    if first > 0 or not np.isfinite(lo):
        lo = centres[0] - windows.width_A / 2
    if stop < len(windows.label) or not np.isfinite(hi):
        hi = centres[-1] + windows.width_A / 2
    labels = _bridged(labels[first:stop], centres, windows.width_A)

    def height_at(u, among=None):
        # a segment's ends lie on its own windows' top plane: at a boundary the nearest window may be the
        # next segment's, on another terrace or under a band
        usable = known.copy()
        if among is not None and known[among].any():
            usable[:] = False
            usable[among] = known[among]
        if not usable.any():
            return 0.0
        nearest = np.flatnonzero(usable)[np.argmin(np.abs(windows.centre_A[usable] - u))]
        return float(heights[nearest] + slope * (u - windows.centre_A[0]))

    def pixel(u, among=None):
        xy = layerset.origin_xy + ((u - u_origin) * tangent + height_at(u, among) * growth) / length_A
        return (float(xy[0]), float(xy[1]))

    def own_windows(run):
        # the windows of a run (a, b: among the seen ones) that read its class themselves, not bridged into it
        a, b, label = run
        return [i + first for i in range(a, b) if windows.label[i + first] == label]

    segments = []
    runs = runs_of(labels)
    cuts = []  # Å along u between consecutive runs
    for (a0, b0, label0), (a1, b1, label1) in zip(runs[:-1], runs[1:]):
        own0, own1 = own_windows((a0, b0, label0)), own_windows((a1, b1, label1))
        if NOT_DECIDABLE in (label0, label1) or not own0 or not own1:
            cuts.append(0.5 * (centres[b0 - 1] + centres[a1]))
        else:
            cuts.append(_boundary(windows, own0[-1], own1[0]))
    # an undecided stretch at either end, next to a decided one: narrower windows against the end
    inward = 1.0 if centres[-1] > centres[0] else -1.0
    for k, end, way, neighbour in ((0, lo, inward, 1), (len(runs) - 1, hi, -inward, len(runs) - 2)):
        if len(runs) < 2 or runs[k][2] != NOT_DECIDABLE or runs[neighbour][2] == NOT_DECIDABLE:
            continue
        own = own_windows(runs[neighbour])
        if not own:
            continue
        label, cut, _ = _end_stretch(windows, end, way, own[0] if k == 0 else own[-1])
        if label == NOT_DECIDABLE:
            continue
        runs[k] = (runs[k][0], runs[k][1], label)
        if cut is not None:
            cuts[0 if k == 0 else -1] = cut
    # an ordered stretch at either end shorter than a window, beside a deteriorated band: every window that
    # holds it reaches into the band, and a band anywhere makes a window deteriorated; narrower windows set
    # against the end judge it, and it becomes a stretch of its own, with no window of the grid
    end_rows = {}  # (first window, stop) of such a stretch -> the end judge's row
    for k, end, way in ((len(runs) - 1, hi, -inward), (0, lo, inward)):  # the far end first: no index moves
        a, b, label_k = runs[k]
        own = own_windows(runs[k])
        if label_k != "deteriorated" or not own:
            continue
        label, cut, row = _end_stretch(windows, end, way, own[0] if k == 0 else own[-1])
        if label in (NOT_DECIDABLE, "deteriorated") or cut is None or not lo < cut < hi:
            continue
        at = a if k == 0 else b
        runs.insert(0 if k == 0 else len(runs), (at, at, label))
        cuts.insert(0 if k == 0 else len(cuts), cut)
        end_rows[(at, at)] = row
    runs, cuts = _uncrossed(runs, cuts, lo, hi)
    # stretches of one class next to each other (an end judged as its neighbour) are one
    merged_runs, merged_cuts = [runs[0]], []
    for run, cut in zip(runs[1:], cuts):
        if run[2] == merged_runs[-1][2]:
            merged_runs[-1] = (merged_runs[-1][0], run[1], run[2])
        else:
            merged_runs.append(run)
            merged_cuts.append(cut)
    runs, cuts = merged_runs, merged_cuts
    varies = len(runs) > 1 or bool(found_steps)  # else the whole field's planes are the one profile
    for k, (a, b, label) in enumerate(runs):
        start = lo if k == 0 else cuts[k - 1]
        end = hi if k == len(runs) - 1 else cuts[k]
        members = np.arange(a, b) + first
        if (a, b) in end_rows:  # an end stretch with no window of the grid: its end judge's numbers
            segments.append(_end_segment(end_rows[(a, b)], pixel(start), pixel(end), end - start, varies))
            continue
        own = members[windows.label[members] == label]
        confidence = float(np.mean(windows.confidence[own])) if own.size else 0.0
        measured = own[np.isfinite(windows.gap_A[own])]
        gaps = windows.gap_A[measured]
        best = own[np.argmax(windows.confidence[own])] if own.size else a + first
        tin = _tin_of(windows, own) if label != NOT_DECIDABLE else None
        segments.append(Segment(pixel(start, members), pixel(end, members), round(float(end - start), 2), label,
                                round(confidence, 3), windows.evidence[best],
                                round(float(np.median(gaps)), 3) if gaps.size else None,
                                round(float(np.nanmedian(windows.gap_err_A[measured])), 3) if gaps.size else None,
                                None if tin is None else round(tin[0], 4),
                                None if tin is None else round(float(np.hypot(tin[1], tin[2])), 4),
                                _profile(windows, start, end, label, [u for u, *_ in found_steps])
                                if varies else ()))
    length = float(hi - lo)
    steps = tuple(Step(pixel(u), planes, round(height, 3), round(spread, 1))
                  for u, planes, height, spread in found_steps)
    decided_windows = [i for i in range(first, stop) if windows.label[i] != NOT_DECIDABLE]
    return _along(tuple(segments), steps, length, windows.step_A, _tin_of(windows, decided_windows))


def _along(segments, steps, length_A, step_A, tin_a=None) -> Along:
    """Along from its segments: each class's coverage and its uncertainty, and the whole interface's class."""
    coverage, err = {}, {}
    for s in segments:
        coverage[s.interface_class] = coverage.get(s.interface_class, 0.0) + s.length_A / length_A
    # each boundary of a class's stretches lies within half a window step of where it is placed
    for label in coverage:
        n_edges = sum(1 for k in range(1, len(segments))
                      if label in (segments[k].interface_class, segments[k - 1].interface_class))
        err[label] = round(float(np.sqrt(n_edges) * step_A / 2 / np.sqrt(3) / length_A), 3)
    coverage = {k: round(v, 3) for k, v in coverage.items()}
    decided = {k: v for k, v in coverage.items() if k != NOT_DECIDABLE}
    total = sum(decided.values())
    whole = None
    if total >= 0.5:
        best = max(decided, key=decided.get)
        whole = best if decided[best] >= MAJORITY * total else "mixed"
    return Along(tuple(segments), steps, coverage, err, whole, round(length_A, 2), tin_a, step_A)


#: Where the whole field's planes decide a class, another class must cover at least this length of the
#: interface (two and a half windows, as the stretch is placed: less than the window it takes to see one
#: from its neighbour) to make it mixed or to stand in its place: a shorter stretch is as likely noise in a
#: few windows (a low dose) as an interface of its own.
MIN_OTHER_A = 20.0


def _others_held_to_length(along: Along, whole_class: str) -> Along:
    """`along` with the stretches of classes other than `whole_class` that cover less than MIN_OTHER_A in all
    made "not decidable"."""
    total = {}
    for s in along.segments:
        total[s.interface_class] = total.get(s.interface_class, 0.0) + s.length_A
    short = {k for k, v in total.items() if k not in (whole_class, NOT_DECIDABLE) and v < MIN_OTHER_A}
    if not short:
        return along
    segments = [replace(s, interface_class=NOT_DECIDABLE, confidence=0.0, gap_A=None, gap_err_A=None,
                        tin_inplane_A=None, tin_inplane_err_A=None, spacing_profile=())
                if s.interface_class in short else s for s in along.segments]
    joined = segments[:1]
    for s in segments[1:]:  # undecided stretches side by side are one
        last = joined[-1]
        if s.interface_class == last.interface_class == NOT_DECIDABLE:
            joined[-1] = replace(last, end_px=s.end_px, length_A=round(last.length_A + s.length_A, 2))
        else:
            joined.append(s)
    return _along(tuple(joined), along.steps, along.length_A, along.step_A, along.tin_a)


def _sentence(along: Along) -> str:
    """The coverage in words: "bilayer 54 ± 4 %, vdw 46 ± 4 % of 96 Å of interface (4 segments)"."""
    parts = [f"{k} {100 * v:.0f} ± {100 * along.coverage_err[k]:.0f} %"
             for k, v in sorted(along.coverage.items(), key=lambda kv: -kv[1])]
    steps = f", {len(along.steps)} terrace step(s)" if along.steps else ""
    return (f"along the interface: {', '.join(parts)} of {along.length_A:.0f} Å "
            f"({len(along.segments)} segment(s) of 16 Å windows{steps})")


def judge_along(interface: Interface, along: Along | None) -> Interface:
    """The whole field's verdict with the interface along its length: segments, steps, coverage.

    Where the windows decide at least half the interface and their class differs from the whole field's
    planes' (which mix the parts of a partly covered or stepped interface), the whole interface's class is
    theirs: the class covering >= 80 % of the decided length, else "mixed".
    """
    if along is None:
        return interface
    if interface.interface_class is not None:
        along = _others_held_to_length(along, interface.interface_class)
    fields = dict(segments=along.segments, steps=along.steps, coverage=along.coverage,
                  coverage_err=along.coverage_err)
    summary = _sentence(along)
    if along.whole_class is None or along.whole_class == interface.interface_class:
        told = len(along.segments) > 1 or along.steps
        return replace(interface, evidence=list(interface.evidence) + ([summary] if told else []), **fields)
    decided = [s for s in along.segments if s.interface_class != NOT_DECIDABLE]
    chosen = decided if along.whole_class == "mixed" else [s for s in decided
                                                           if s.interface_class == along.whole_class]
    weights = np.array([s.length_A for s in chosen])
    confidence = float(np.average([s.confidence for s in chosen], weights=weights))
    measured = [s for s in chosen if s.gap_A is not None]
    gaps = [s.gap_A for s in measured]
    single = along.whole_class not in ("mixed", "deteriorated") and bool(gaps)
    gap_err = None
    if single:  # the segments' own uncertainty, or their scatter where it is larger
        own = [s.gap_err_A for s in measured if s.gap_err_A is not None]
        gap_err = max(float(np.median(own)) if own else 0.0,
                      float(np.std(gaps) / np.sqrt(len(gaps))) if len(gaps) > 1 else 0.0) or None
    best = max(chosen, key=lambda s: s.confidence * s.length_A)
    whole = interface.evidence[0] if interface.evidence else "-"
    evidence = [summary, f"the whole field's planes, taken as one: {whole}",
                f"a {best.interface_class} segment of {best.length_A:.0f} Å: " + "; ".join(best.evidence[:3])]
    return replace(interface, interface_class=along.whole_class, confidence=round(confidence, 3),
                   evidence=evidence, gap_A=float(np.median(gaps)) if single else None, gap_err_A=gap_err,
                   gap_note=None if single else "no single gap: see the segments", decided_by="segments",
                   **fields)


def strain_along(strain: Strain, interface: Interface, along: Along | None, system: MaterialSystem) -> Strain:
    """The whole field's strain check, or, where the whole field's planes mix the parts of a stepped or partly
    covered interface (its class came from the segments, or it has terrace steps), the TiN a of its windows,
    each measured on its own film standard."""
    if along is None or along.tin_a is None or not (interface.decided_by == "segments" or along.steps):
        return strain
    a, stat, sys = along.tin_a
    return with_tin_inplane(strain, a, stat, sys, system)
