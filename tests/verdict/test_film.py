"""Film defects named from hand-built planes: septuple lamellae, stacking reversals, irregular blocks."""

import numpy as np
import pytest

from hand_built import SE, TE
from stemlayers.structure.grouping import AtomicPlane
from stemlayers.verdict.film import film_blocks, film_defects


def _film(system, blocks, step=1):
    """Planes of TiN (two) and then the film's `blocks` ("QL", "SL", "twin"), with heights and registries."""
    film = system.film
    d1, d2 = film.ql_spacings_A[0], film.ql_spacings_A[1]
    planes = [AtomicPlane(-2.448, 0.005, 2.448, 0.005, "TiN", "Ti", 2.596, 1e-3, 100.0, 20, 0.02, registry=0.0),
              AtomicPlane(0.0, 0.005, 2.9, 0.005, "TiN", "Ti", 2.596, 1e-3, 100.0, 20, 0.02, registry=1 / 3)]
    h, k = 2.9, 0
    for block in blocks:
        spacings = (d1, d2, d2, d2, d2, d1) if block == "SL" else film.ql_spacings_A
        elements = (([film.chalcogen, film.metal] * 3 + [film.chalcogen]) if block == "SL"
                    else list(film.ql_elements))
        way = -step if block == "twin" else step
        for j, element in enumerate(elements):
            planes.append(AtomicPlane(h, 0.005, None, None, "TI", element, 3.798, 1e-3, 100.0, 20, 0.02,
                                      registry=(k / 3) % 1.0))
            h += spacings[j] if j < len(spacings) else film.vdw_gap_A
            k += way if j < len(elements) - 1 else 1
    return planes


@pytest.mark.parametrize("system", [TE, SE], ids=["Bi2Te3", "Bi2Se3"])
def test_a_septuple_lamella_is_named_with_its_height(system):
    planes = _film(system, ["QL", "SL", "QL", "QL"])
    (defect,) = film_defects(planes, system)
    assert defect.kind == "septuple layer" and defect.n_planes == 7
    assert defect.height_A == pytest.approx(planes[2 + 5].height_A, abs=1e-3)


def test_a_block_stacked_the_other_way_is_a_stacking_reversal():
    planes = _film(TE, ["QL", "QL", "twin", "QL", "QL"])
    (defect,) = film_defects(planes, TE)
    assert defect.kind == "stacking reversal" and defect.height_A == pytest.approx(planes[2 + 10].height_A)


def test_with_two_closed_blocks_the_one_on_the_interface_sets_the_stacking():
    """QL then twin, the field cutting the third block: the directions tie, and the reversal is the second's."""
    planes = _film(SE, ["QL", "twin", "QL"])[:-2]
    assert [b - a for a, b in film_blocks(planes, SE)] == [5, 5]
    (defect,) = film_defects(planes, SE)
    assert defect.kind == "stacking reversal" and defect.height_A == pytest.approx(planes[2 + 5].height_A)


def test_a_missing_plane_is_named_and_a_clean_film_has_none():
    assert film_defects(_film(TE, ["QL"] * 4), TE) == ()
    planes = _film(TE, ["QL"] * 4)
    del planes[2 + 5 + 2]  # the middle plane of the second QL
    kinds = [d.kind for d in film_defects(planes, TE)]
    assert kinds == ["missing or extra planes"]


def test_the_block_the_field_cuts_is_left_out():
    planes = _film(TE, ["QL", "QL", "SL"])[:-3]  # the lamella cut by the top of the field
    assert [b - a for a, b in film_blocks(planes, TE)] == [5, 5]
    assert film_defects(planes, TE) == ()


def test_ends_of_the_defect_plane_in_pixels():
    planes = _film(TE, ["QL", "SL", "QL"])
    index = 2 + 5
    xy = np.array([[10.0 + 30 * k, 200.0] for k in range(8)])
    plane_of_column = np.full(8, index)
    (defect,) = film_defects(planes, TE, plane_of_column, xy, np.array([0.0, -1.0]))
    assert {defect.start_px[0], defect.end_px[0]} == {10.0, 220.0}
