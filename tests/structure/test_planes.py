"""Planes linked from columns, measured and labelled, and the origin of heights, on hand-built inputs."""

import dataclasses

import numpy as np
import pytest

from hand_built import plane
from stemlayers.structure.grouping import find_origin, substrate_down
from stemlayers.structure.orient import Orientation
from stemlayers.structure.planes import (field_scale, fit_period, label_kinds, line_length_in_field, link_planes,
                                        registry_split, with_occupancy)


def test_link_planes_follows_a_bent_plane_and_drops_short_chains():
    u = np.arange(10) * 3.8
    h = np.concatenate([0.02 * u, 2.6 + 0.02 * u])
    label = link_planes(np.concatenate([u, u]), h, 9.0)
    assert len(set(label[:10])) == 1 and len(set(label[10:])) == 1 and label[0] != label[10]
    short = link_planes(np.array([0.0, 3.8, 40.0]), np.array([0.0, 0.0, 5.0]), 9.0)
    assert np.all(short == -1)


def test_fit_period_skips_missing_columns():
    u = np.delete(np.arange(12) * 2.596, [3, 7])
    period, err = fit_period(u, 2.6)
    assert period == pytest.approx(2.596, abs=1e-9) and err < 1e-3


def test_fit_period_reads_a_whole_multiple_of_the_guess_as_the_period():
    # a pixel size 2x too large: the columns repeat at twice the expected period, none are missing
    u = np.arange(8) * 2 * 2.596
    assert fit_period(u, 2.596)[0] == pytest.approx(2 * 2.596, abs=1e-9)
    # three columns with two gaps of two are as likely a plane with columns missing
    assert fit_period(np.array([0.0, 2, 4]) * 2.596, 2.596)[0] == pytest.approx(2.596, abs=1e-9)


@pytest.mark.parametrize("scale", [0.85, 1.0, 1.15])
def test_field_scale_reads_the_calibration_from_the_period_ratio(scale):
    periods = np.array([2.596, 2.6, 2.59, 3.798, 3.8]) * scale
    assert field_scale(periods, 2.596, 3.798) == pytest.approx(scale, rel=0.01)


def test_label_kinds_by_scaled_period_and_scatter():
    planes = (plane(0, 0, "", 2.596 * 1.12), plane(1, 3, "", 3.798 * 1.12), plane(2, 6, "", 3.798 * 1.12, 0.4))
    kinds = [p.kind for p in label_kinds(planes, 2.596, 3.798, 0.25, scale=1.12)]
    assert kinds == ["substrate", "film", "disordered"]


def test_substrate_down_flips_heights_and_axis():
    planes = (plane(0, -5.0, "film"), plane(1, 0.0, "substrate"), plane(2, 2.4, "substrate"))
    flipped, orientation = substrate_down(planes, Orientation(np.array([0.0, -1.0]), 90.0, 1.0))
    assert [p.kind for p in flipped] == ["substrate", "substrate", "film"]
    assert [p.height_A for p in flipped] == [-2.4, 0.0, 5.0]
    assert np.allclose(orientation.growth_dir, [0.0, 1.0])


def test_origin_is_the_top_complete_orderedplane():
    d = 2.448
    planes = tuple(plane(i, i * d, "substrate") for i in range(5)) + (
        plane(5, 5 * d, "substrate", occupancy=0.4),                 # partial (20 of 50 columns)
        plane(6, 6 * d, "substrate", scatter=0.2),                   # roughened
        plane(7, 6 * d + 2.9, "film", 3.798), plane(8, 6 * d + 4.6, "film", 3.798))
    top, relabelled = find_origin(planes)
    assert top == 4
    assert [p.kind for p in relabelled[5:7]] == ["disordered", "disordered"]
    assert relabelled[7].kind == "film"


def test_line_length_in_a_rotated_field():
    length = line_length_in_field(np.array([50.0, 50.0]), np.array([1.0, 1.0]) / np.sqrt(2), (101, 101))
    assert length == pytest.approx(100 * np.sqrt(2))


def test_origin_moves_up_past_planes_a_tin_wedge_leaves_partly_seen():
    """Every TiN plane seen over part of the field (a wedge), each by a different share: the top one is TiN."""
    d = 2.448
    seen = [0.62, 0.7, 0.55, 0.68, 0.66, 0.49]
    planes = tuple(plane(i, i * d, "substrate", occupancy=o, scatter=0.06) for i, o in enumerate(seen)) + (
        plane(6, 5 * d + 2.9, "film", 3.798), plane(7, 5 * d + 4.6, "film", 3.798))
    top, relabelled = find_origin(planes)
    assert top == 5 and relabelled[5].kind == "substrate"
    # the same plane roughened (columns displaced) is the interface band
    rough = planes[:5] + (dataclasses.replace(planes[5], scatter_A=0.2),) + planes[6:]
    assert find_origin(rough)[0] == 4


def test_a_top_plane_seen_in_part_by_the_chance_of_a_few_columns_is_substrate():
    """A 16-24 Å window holds 5-10 columns of a plane: one column fewer moves its occupancy by 0.1-0.2. The top
    TiN plane under a bright film, found a little less often (0.71 against 0.85 over a whole harsh field), then
    reads 6 of 10 under planes read at 0.95, below 0.7 of them, though that count is as likely at 0.7 x 0.95."""
    d = 2.448
    below = tuple(plane(i, i * d, "substrate", occupancy=o, scatter=0.12, n=9)
                  for i, o in enumerate([0.73, 0.89, 0.87, 0.86, 0.95]))
    film = (plane(6, 5 * d + 2.8, "film", 3.59, n=7), plane(7, 5 * d + 5.5, "film", 3.59, n=6))
    top_plane = plane(5, 5 * d, "substrate", occupancy=0.62, scatter=0.11, n=6)
    assert find_origin(below + (top_plane,) + film)[0] == 5
    # a plane read at under half over a whole field's 30 columns is surely partial: the band
    partial = dataclasses.replace(top_plane, members=np.arange(30), occupancy=0.45)
    assert find_origin(below + (partial,) + film)[0] == 4
    # and so is one whose missing columns lie at its end (a terrace edge in the window), however few
    assert find_origin(below + (dataclasses.replace(top_plane, end_missing=3.0),) + film)[0] == 4


def test_fit_period_of_a_plane_joined_across_a_domain_boundary():
    """Two runs of a film plane (over a bilayer, over a band) shifted by half a period: one line through both
    tilts (3.59 Å for 3.807 Å on the multislice cell); each run keeps the lattice's period."""
    rng = np.random.default_rng(4)
    period = 3.807
    u = np.concatenate([np.arange(7) * period, 7 * period + 1.9 + np.arange(7) * period])
    u = u + rng.normal(0.0, 0.01, u.size)
    found, err = fit_period(u, 3.8)
    assert found == pytest.approx(period, abs=0.005) and err < 0.003
    assert registry_split(np.arange(u.size, dtype=float), u)[0] == pytest.approx(period, abs=0.005)


@pytest.mark.parametrize("seed", range(5))
def test_a_plane_of_one_registry_is_not_split(seed):
    rng = np.random.default_rng(seed)
    k = np.arange(16, dtype=float)
    u = 2.596 * k + rng.normal(0.0, 0.03, k.size)
    assert registry_split(k, u) is None
    assert fit_period(u, 2.6)[0] == pytest.approx(np.polyfit(k, u, 1)[0], abs=1e-9)


def test_occupancy_of_the_planes_at_the_hulls_edge():
    """The first and last planes of a window are its columns' hull's own edge: each is whole, not 1.5x, though
    the planes tilt by half a degree from the frame's tangent (a line through their mean leaves the hull)."""
    rng = np.random.default_rng(1)
    px, period, spacing = 0.18, 2.596, 2.448
    rows = [(np.arange(6) + (i % 3) / 3) * period / px for i in range(5)]
    xy = np.concatenate([np.column_stack([20.0 + u, 200.0 - i * spacing / px - np.tan(np.radians(0.5)) * u])
                         for i, u in enumerate(rows)]) + rng.normal(0.0, 0.05, (30, 2))
    planes = tuple(dataclasses.replace(plane(i, i * spacing, "substrate", n=6), members=np.arange(6 * i, 6 * i + 6))
                   for i in range(5))
    measured = with_occupancy(planes, xy, np.array([0.0, -1.0]), (300, 200), px)
    assert [p.occupancy for p in measured] == pytest.approx([1.0] * 5, abs=0.2)
    assert max(p.end_missing for p in measured) < 1.0  # the hull's estimate of what fits is good to ~0.7 column
    # the middle plane's last three columns gone (a terrace edge): they are missing at its end
    edge = dataclasses.replace(planes[2], members=np.arange(12, 15))
    assert with_occupancy(planes[:2] + (edge,) + planes[3:], xy, np.array([0.0, -1.0]), (300, 200),
                          px)[2].end_missing == pytest.approx(3.0, abs=0.8)
