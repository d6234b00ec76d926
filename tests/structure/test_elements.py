"""Brightness groups, quintuple layers by shape and elements from contrast, on hand-built planes."""

from dataclasses import replace

import numpy as np
import pytest

from hand_built import SE, TE, qls
from stemlayers.structure.elements import assign_elements, brightness_clusters, find_quintuple_layers, label_anions
from stemlayers.structure.planes import Plane


@pytest.mark.parametrize("ratio", [1.4, 1.9, 3.0, 6.0])
def test_bright_planes_are_found_for_any_contrast_ratio(ratio):
    rng = np.random.default_rng(int(ratio * 10))
    _, is_bi = qls(TE, 3)
    intensity = np.where(is_bi, ratio, 1.0) * rng.normal(1, 0.03, is_bi.size)
    prior = np.log(TE.intensity("Bi") / TE.intensity("Te"))  # 2.2: wrong for every ratio but one
    clusters = brightness_clusters(intensity, prior)
    assert clusters.separated
    assert np.array_equal(clusters.p_bright > 0.5, is_bi)
    assert np.all(np.abs(clusters.p_bright - is_bi) < 0.05)
    assert clusters.log_ratio == pytest.approx(np.log(ratio), abs=0.05)


def test_one_brightness_group_is_not_split():
    intensity = np.random.default_rng(1).normal(100, 3, 12)
    assert not brightness_clusters(intensity, np.log(2.2)).separated


# ------------------------------------------------------------------ quintuple layers by shape


@pytest.mark.parametrize("scale", [0.85, 1.0, 1.15])
@pytest.mark.parametrize("system", [TE, SE], ids=["Bi2Te3", "Bi2Se3"])
def test_quintuple_layers_are_found_at_any_calibration(system, scale):
    heights, is_bi = qls(system, 3, scale)
    found = find_quintuple_layers(heights, np.ones(15, bool), is_bi.astype(float), system.film.ql_spacings_A,
                                  system.film.vdw_gap_A)
    assert [q.start for q in found] == [0, 5, 10]
    assert found[0].d_ratio == pytest.approx(system.film.ql_spacings_A[0] / system.film.ql_spacings_A[1])
    assert found[0].thickness == pytest.approx(system.ql_thickness_A * scale)


def test_quintuple_layer_needs_its_brightness_rank_and_its_spacing_pattern():
    heights, is_bi = qls(TE, 1)
    spacings = TE.film.ql_spacings_A, TE.film.vdw_gap_A
    assert find_quintuple_layers(heights, np.ones(5, bool), (~is_bi).astype(float), *spacings) == []
    unsure = np.full(5, 0.5)  # brightness that says nothing (no two groups) makes no QL
    assert find_quintuple_layers(heights, np.ones(5, bool), unsure, *spacings) == []
    even = np.arange(5) * 2.0  # equal spacings: no d1 d2 d2 d1
    assert find_quintuple_layers(even, np.ones(5, bool), is_bi.astype(float), *spacings) == []
    cut = find_quintuple_layers(heights[:3], np.ones(3, bool), is_bi[:3].astype(float), *spacings)
    assert [(q.start, q.n_planes) for q in cut] == [(0, 3)]  # a QL cut by the field's edge


def _sub_plane(label, height, volume, n=20):
    return Plane(label, np.arange(n), height, 0.005, 0.02, volume, volume, 2.596, 1e-3, kind="substrate")


def test_anion_planes_only_when_bright_and_dim_planes_alternate():
    # rock salt at a low detector angle: dim N planes halfway between the Ti planes
    alternating = tuple(_sub_plane(k, 1.224 * k, 100.0 if k % 2 == 0 else 14.0) for k in range(8))
    kinds = [p.kind for p in label_anions(alternating, TE)]
    assert kinds == ["substrate", "anion"] * 4
    # Ti planes whose brightness varies (a wedge, a patchy fit) but does not alternate stay Ti
    uneven = tuple(_sub_plane(k, 2.448 * k, v) for k, v in enumerate([190, 100, 90, 95, 150, 115, 70, 140.0]))
    assert {p.kind for p in label_anions(uneven, TE)} == {"substrate"}


def test_film_elements_from_the_planes_own_brightness():
    heights, is_bi = qls(TE)
    film = tuple(Plane(k, np.arange(12), h, 0.005, 0.01, 1.0, 1.8 if bi else 1.0, 3.798, 1e-3, kind="film")
                 for k, (h, bi) in enumerate(zip(heights, is_bi)))
    named, clusters = assign_elements(film, TE)
    assert [p.element for p in named] == ["Bi" if bi else "Te" for bi in is_bi]
    assert clusters.separated and min(p.element_probability for p in named) > 0.9
    assert clusters.log_ratio == pytest.approx(np.log(1.8), abs=0.05)  # read from the image, not the file's 2.2


def test_film_elements_in_a_narrow_window_of_three_columns_per_plane():
    # a 12 Å window holds 3 columns of each film plane (period 4.39 Å): still whole planes, and their
    # brightness still tells Bi from Te
    heights, is_bi = qls(TE, 2)
    film = tuple(Plane(k, np.arange(3), h, 0.005, 0.01, 1.0, 2.4 if bi else 1.0, 4.386, 1e-3, kind="film",
                       occupancy=0.72)
                 for k, (h, bi) in enumerate(zip(heights, is_bi)))
    named, clusters = assign_elements(film, TE)
    assert clusters.separated
    assert [p.element for p in named] == ["Bi" if bi else "Te" for bi in is_bi]
    # two-column fragments are no group to fit: nothing is named from them
    fragments = tuple(replace(p, members=np.arange(2)) for p in film)
    assert not assign_elements(fragments, TE)[1].separated


def test_an_intermixed_plane_at_the_interface_does_not_hide_the_film_s_two_groups():
    # a 16 Å window over a deteriorated stretch (a simulated field at dose 99): the first film plane is the
    # band's, at a third level below the chalcogen's; above it a QL and the start of the next
    heights = [3.73, 12.46, 14.16, 16.21, 18.25, 19.99, 22.58, 24.33, 26.35]
    brightness = [2330, 6147, 12901, 6415, 13418, 7094, 6247, 12899, 6518.0]
    film = tuple(Plane(k, np.arange(5 if k == 2 else 4), h, 0.005, 0.01, 1.0, b, 4.386, 1e-3, brightness=b,
                       kind="film", occupancy=0.8)
                 for k, (h, b) in enumerate(zip(heights, brightness)))
    named, clusters = assign_elements(film, TE)
    assert clusters.separated
    assert [p.element for p in named[1:]] == ["Te", "Bi", "Te", "Bi", "Te", "Te", "Bi", "Te"]
