"""The interface along its length, from hand-built window verdicts with known answers."""

from dataclasses import replace

import numpy as np
import pytest

from stemlayers.structure.grouping import LayerSet
from stemlayers.structure.orient import Orientation
from stemlayers.verdict.segments import _along, _others_held_to_length, _uncrossed, follow_interface
from stemlayers.verdict.windows import Windows
from stemlayers.verdict.stretch import NOT_DECIDABLE as ND
from stemlayers.verdict.stretch import Segment

D111 = 2.448


def _layerset():
    """A field frame: growth up the image (-y), origin at (500, 200) px; u (Å) = x (px) x 0.1 Å/px."""
    return LayerSet((), np.zeros(0, int), Orientation(np.array([0.0, -1.0]), 90.0, 1.0), np.array([500.0, 200.0]),
                    0)


def _windows(labels, top=None, tin=None, width=16.0, step=8.0):
    n = len(labels)
    centres = -40.0 + width / 2 + step * np.arange(n)
    top = np.zeros(n) if top is None else np.asarray(top, float)
    tin = np.full(n, 2.998) if tin is None else np.asarray(tin, float)
    return Windows(centres, np.array(labels, object), np.where(np.array(labels) == ND, 0.0, 0.9),
                   np.where(np.array(labels) == "vdw", 2.9, 2.6), np.full(n, 0.01), top,
                   tuple(((f"window {k}",) for k in range(n))), width, step, np.full(n, 100),
                   tin, np.full(n, 0.004), np.full(n, 0.003), (-40.0, centres[-1] + width / 2))


def test_a_uniform_interface_is_one_segment_of_its_class():
    along = follow_interface(_windows(["vdw"] * 9), _layerset(), 0.1, D111)
    assert [s.interface_class for s in along.segments] == ["vdw"]
    assert along.coverage == {"vdw": 1.0} and along.whole_class == "vdw" and along.steps == ()
    assert along.segments[0].length_A == pytest.approx(along.length_A)
    assert along.tin_a[0] == pytest.approx(2.998)


def test_windows_straddling_a_boundary_are_split_between_their_neighbours():
    labels = ["bilayer"] * 4 + [ND, ND] + ["vdw"] * 5
    along = follow_interface(_windows(labels), _layerset(), 0.1, D111)
    assert [s.interface_class for s in along.segments] == ["bilayer", "vdw"]
    # the boundary sits between the two undecided windows' centres (u = 0 and 8 Å: x = 40 px)
    assert along.segments[0].end_px[0] == pytest.approx(40.0)
    assert along.segments[1].start_px == along.segments[0].end_px
    assert along.whole_class == "mixed"
    assert along.coverage["bilayer"] == pytest.approx((4.0 + 40.0) / along.length_A, abs=1e-3)
    assert along.coverage["vdw"] == pytest.approx(1 - along.coverage["bilayer"], abs=1e-3)


def test_one_odd_window_makes_no_segment():
    labels = ["bilayer"] * 5 + ["deteriorated"] + ["bilayer"] * 5
    along = follow_interface(_windows(labels), _layerset(), 0.1, D111)
    assert [s.interface_class for s in along.segments] == ["bilayer"] and along.whole_class == "bilayer"


def test_a_terrace_step_keeps_the_class_and_is_found_in_whole_planes():
    # the right terrace one TiN plane lower; the window across the step saw a deteriorated band
    top = [0.0] * 5 + [np.nan, -D111, -D111, -D111, -D111, -D111]
    labels = ["vdw"] * 5 + ["deteriorated"] + ["vdw"] * 5
    along = follow_interface(_windows(labels, top=top), _layerset(), 0.1, D111)
    assert [s.interface_class for s in along.segments] == ["vdw"]
    assert len(along.steps) == 1 and along.steps[0].height_planes == 1
    assert along.steps[0].height_A == pytest.approx(D111)
    assert along.steps[0].at_px[0] == pytest.approx(10 * (-32 + 8 * 5))  # the straddling window's centre


def _stepped_columns(step_u, film_offset_A, film_brightness, period=2.6, seed=0):
    """(u, h, intensity) of a TiN field whose top plane ends at `step_u` (the right terrace one plane lower),
    with the lower terrace's first film plane `film_offset_A` above the upper terrace's top level (None: no
    film there), `film_brightness` x a Ti column; intensities scattered by 25 %."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(0, 5):  # TiN planes, the top one only on the upper (left) terrace
        u = np.arange(-40.0, 60.0, period) + (k % 3) * period / 3
        u = u[u < step_u] if k == 0 else u
        rows.append(np.column_stack([u, np.full(u.size, -k * D111), np.ones(u.size)]))
    if film_offset_A is not None:
        u = np.arange(step_u + 1.0, 60.0, 2.1)
        rows.append(np.column_stack([u, np.full(u.size, film_offset_A), np.full(u.size, film_brightness)]))
    uhv = np.concatenate(rows)
    uhv[:, 2] *= 1000 * rng.lognormal(0.0, 0.25, len(uhv))
    return uhv


@pytest.mark.parametrize("film_offset_A, film_brightness", [(0.15, 8.0), (0.45, 2.2), (None, 0.0)],
                         ids=["bilayer Bi at the level", "vdW chalcogen near it", "nothing at the level"])
def test_a_terrace_step_is_placed_where_the_top_plane_s_tin_columns_end(film_offset_A, film_brightness):
    """The step lies past the upper terrace's last TiN column, whatever the lower terrace's film puts at
    that level: the window judge alone would grow the upper window across film columns at the same height."""
    step_u = 2.5
    top = [0.0] * 5 + [np.nan] + [-D111] * 5
    windows = replace(_windows(["vdw"] * 5 + [ND] + ["vdw"] * 5, top=top),
                      columns_uhv=_stepped_columns(step_u, film_offset_A, film_brightness))
    along = follow_interface(windows, _layerset(), 0.1, D111)
    assert len(along.steps) == 1 and along.steps[0].height_planes == 1
    assert along.steps[0].at_px[0] / 10 == pytest.approx(step_u, abs=1.5)  # within half a TiN column spacing


@pytest.mark.parametrize("end_top, steps", [(D111, 1), (0.0, 0)], ids=["a higher end terrace", "flat"])
def test_a_terrace_at_the_field_s_end_too_short_for_a_window_is_seen_by_a_narrower_one(end_top, steps):
    """The left end's 9 Å terrace, one plane higher, holds too little of any 16 Å window to be its top; a 10 Å
    window flush with the end sees it, and the step is placed where its TiN columns end."""
    step_u = -31.0
    uhv = _stepped_columns(step_u, None, 0.0)
    uhv[:, 1] += D111  # the field's frame: the long (lower) terrace's top at 0, the end terrace one plane up
    windows = replace(_windows(["vdw"] * 9), columns_uhv=uhv, end_looks=((-35.0, "vdw", end_top),))
    along = follow_interface(windows, _layerset(), 0.1, D111)
    assert len(along.steps) == steps
    if steps:
        assert along.steps[0].height_planes == 1
        assert along.steps[0].at_px[0] / 10 == pytest.approx(step_u, abs=1.5)
    assert [s.interface_class for s in along.segments] == ["vdw"]


def test_a_window_across_a_step_keeps_a_class_one_side_shows():
    """A short bilayer stretch right after a step: the window across the step that tells the bilayer, as the
    window beyond it does, keeps its verdict, so the stretch has two windows and stands as a segment."""
    top = [0.0] * 6 + [-D111] * 2
    along = follow_interface(_windows(["vdw"] * 6 + ["bilayer"] * 2, top=top), _layerset(), 0.1, D111)
    assert [s.interface_class for s in along.segments] == ["vdw", "bilayer"]
    assert len(along.steps) == 1


def _judged(windows, truth):
    """`windows` with a judge that tells the class of `truth(u)` where one class fills the window."""
    def judge(centre, width):
        labels = {truth(u) for u in np.linspace(centre - width / 2, centre + width / 2, 33)}
        label = labels.pop() if len(labels) == 1 else ND
        return label, [0.9] + [np.nan] * 7, ("judged",), ((0.0, 2.9 if label == "vdw" else 2.6, 0.01),)
    return replace(windows, judge=judge)


def test_a_short_stretch_at_the_end_stands_where_narrower_windows_confirm_it():
    def truth(u):
        return "bilayer" if u < 38.0 else "vdw"
    windows = _windows(["bilayer"] * 8 + [ND, ND, "vdw"])
    along = follow_interface(_judged(windows, truth), _layerset(), 0.1, D111)
    assert [s.interface_class for s in along.segments] == ["bilayer", "vdw"]
    assert along.segments[1].start_px[0] == pytest.approx(10 * 38.0, abs=40)  # x = 10 u: within 4 Å
    # each segment's spacing profile is its own class's
    assert [s.spacing_profile[0][1] for s in along.segments] == [2.6, 2.9]


def test_an_ordered_stretch_ends_where_its_window_stops_holding_the_band():
    """A window keeps its ordered class with up to 15 % of a deteriorated band in it (its top TiN plane still
    spans the minimum occupancy); the band decides any window with more. The boundary is placed on that
    share of the grown window, not at its edge, which lies ~3 Å into the band."""
    boundary = 17.0

    def judge(centre, width):
        lo, hi = centre - width / 2, centre + width / 2
        band = np.clip(hi - max(lo, boundary), 0.0, None) / width
        label = "vdw" if band <= 0.15 else "deteriorated"
        return label, [0.9] + [np.nan] * 7, ("judged",), ((0.0, 2.9, 0.01),)

    windows = replace(_windows(["vdw"] * 6 + ["deteriorated"] * 5), judge=judge)
    along = follow_interface(windows, _layerset(), 0.1, D111)
    assert [s.interface_class for s in along.segments] == ["vdw", "deteriorated"]
    assert along.segments[0].end_px[0] / 10 == pytest.approx(boundary, abs=1.0)


def test_an_odd_window_the_narrower_ones_deny_stays_undecided():
    windows = _windows(["bilayer"] * 5 + ["deteriorated"] + ["bilayer"] * 5)
    along = follow_interface(_judged(windows, lambda u: "bilayer"), _layerset(), 0.1, D111)
    assert [s.interface_class for s in along.segments] == ["bilayer"]


def test_a_band_seen_only_where_bilayer_meets_vdw_is_no_segment():
    """Two windows over both interfaces at once look deteriorated; a longer deteriorated run is a stretch."""
    along = follow_interface(_windows(["bilayer"] * 5 + ["deteriorated"] * 2 + ["vdw"] * 5), _layerset(), 0.1, D111)
    assert [s.interface_class for s in along.segments] == ["bilayer", "vdw"]
    along = follow_interface(_windows(["bilayer"] * 5 + ["deteriorated"] * 4 + ["vdw"] * 5), _layerset(), 0.1, D111)
    assert [s.interface_class for s in along.segments] == ["bilayer", "deteriorated", "vdw"]


def test_a_tilted_frame_is_no_step():
    """The field's growth axis a little off: the tops drift linearly, by less than a plane across the field."""
    top = np.linspace(0.0, 1.8, 11)
    along = follow_interface(_windows(["bilayer"] * 11, top=top), _layerset(), 0.1, D111)
    assert along.steps == ()


def test_a_deteriorated_stretch_lowers_the_origin_without_a_step():
    """A deteriorated interface's top complete TiN plane lies below its roughened ones: that is no terrace."""
    top = [0.0] * 6 + [-2 * D111] * 5
    labels = ["bilayer"] * 6 + ["deteriorated"] * 5
    along = follow_interface(_windows(labels, top=top), _layerset(), 0.1, D111)
    assert along.steps == () and along.whole_class == "mixed"
    assert along.coverage["deteriorated"] == pytest.approx(1 - along.coverage["bilayer"])


def test_mostly_undecided_gives_no_whole_class():
    labels = ["vdw"] * 3 + [ND] * 8
    along = follow_interface(_windows(labels), _layerset(), 0.1, D111)
    assert along.whole_class is None and along.coverage[ND] > 0.5


def test_the_class_covering_four_fifths_is_the_whole_class():
    labels = ["vdw"] * 16 + [ND] + ["bilayer"] * 2
    along = follow_interface(_windows(labels), _layerset(), 0.1, D111)
    assert along.coverage["vdw"] >= 0.8 * (along.coverage["vdw"] + along.coverage["bilayer"])
    assert along.whole_class == "vdw"


def test_segment_tin_a_from_windows_that_do_not_overlap():
    tin = [2.998, 5.0, 2.998, 5.0, 2.998, 5.0, 2.998]  # every other window overlaps its neighbours
    along = follow_interface(_windows(["vdw"] * 7, tin=tin), _layerset(), 0.1, D111)
    assert along.segments[0].tin_inplane_A == pytest.approx(2.998)
    assert along.segments[0].tin_inplane_err_A == pytest.approx(np.hypot(0.004 / 2, 0.003), abs=1e-4)


def test_a_run_whose_boundaries_cross_is_no_segment():
    # a band window placed between a vdW and a bilayer stretch whose boundaries, each placed from its own
    # side, cross: no stretch of negative length; the neighbours meet half-way
    runs = [(0, 2, "vdw"), (2, 3, "deteriorated"), (3, 5, "bilayer"), (5, 7, "vdw")]
    assert _uncrossed(runs, [30.0, 28.0, 60.0], 0.0, 90.0) == (
        [(0, 3, "vdw"), (3, 5, "bilayer"), (5, 7, "vdw")], [29.0, 60.0])
    # a first run whose boundary lies past the field's start: its windows go to the next run
    assert _uncrossed(runs[:2], [-1.0], 0.0, 90.0) == ([(0, 3, "deteriorated")], [])
    # and the last run's beyond the field's end
    assert _uncrossed(runs[2:], [91.0], 0.0, 90.0) == ([(3, 7, "bilayer")], [])
    # boundaries in order are kept as they are
    assert _uncrossed(runs, [20.0, 28.0, 60.0], 0.0, 90.0) == (runs, [20.0, 28.0, 60.0])


def test_a_short_stretch_held_undecided_joins_the_undecided_one_beside_it():
    def seg(x0, x1, klass):
        return Segment((x0, 0.0), (x1, 0.0), round(x1 - x0, 2), klass, 0.0 if klass == ND else 0.9, ("-",),
                       None, tin_inplane_A=None if klass == ND else 3.0)

    along = _along((seg(0, 47.3, "vdw"), seg(47.3, 49.7, "deteriorated"), seg(49.7, 59.4, ND)), (), 59.4, 8.0)
    held = _others_held_to_length(along, "vdw")
    assert [(s.interface_class, s.length_A) for s in held.segments] == [("vdw", 47.3), (ND, 12.1)]
    assert held.segments[1].end_px == (59.4, 0.0) and held.segments[1].tin_inplane_A is None
    assert held.coverage == {"vdw": 0.796, ND: 0.204}


def test_each_segment_ends_on_its_own_windows_top_plane():
    """Over a band the top complete TiN plane lies two planes lower (the roughened ones are the band's): the
    deteriorated segment's ends sit there, the bilayer's at its own top, also where they meet."""
    labels = ["bilayer"] * 5 + ["deteriorated"] * 6
    top = np.where(np.array(labels) == "bilayer", 0.0, -2 * D111)
    along = follow_interface(_windows(labels, top=top), _layerset(), 0.1, D111)
    bilayer, band = along.segments[0], along.segments[-1]
    assert (bilayer.interface_class, band.interface_class) == ("bilayer", "deteriorated")
    assert bilayer.start_px[1] == pytest.approx(200.0) and bilayer.end_px[1] == pytest.approx(200.0)
    assert band.start_px[1] == pytest.approx(200.0 + 2 * D111 / 0.1) and band.end_px[1] == band.start_px[1]
