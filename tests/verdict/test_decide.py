"""The interface decision on hand-built cues and planes."""

import pytest

from hand_built import TE
from stemlayers.structure.grouping import AtomicPlane
from stemlayers.verdict.classify import Cues, Interface, _substrate_continued, decide, planes_as_judged


def _cues(**changes):
    base = dict(n_substrate=6, substrate_stacking=1.0, substrate_spacing_A=2.448, n_film=10, n_quintuples=2,
                film_stacking=1.0, period_ratio=1.463, substrate_fits=True, film_fits=True, ratio_fits=True, top=5,
                first_ql=6, n_between=0, first_element="Te", first_probability=0.99, gap_A=2.9, gap_err_A=0.01,
                unassigned_fraction=0.0, band_thickness_A=2.9)
    base.update(changes)
    return Cues(**base)


@pytest.mark.parametrize("changes, rule, klass", [
    ({}, "vdw", "vdw"),
    (dict(n_between=2, first_ql=8, first_element="Bi", second_element="Te", second_probability=0.95,
          bright_ratio=2.0, bilayer_thickness_A=3.3), "bilayer", "bilayer"),
    (dict(n_between=3, n_disordered_between=2, first_ql=9), "deteriorated", "deteriorated"),
    (dict(unassigned_fraction=0.4, n_band_columns=30), "deteriorated", "deteriorated"),
    (dict(unassigned_fraction=1.0, n_band_columns=1), "vdw", "vdw"),  # one stray column is no band
    # a rough top TiN plane under planes that fit no ordered interface is a deteriorated one; under a vdW
    # contact or an ordered bilayer it is that interface (bright film columns' tails roughen it too)
    (dict(rough=True, gap_A=4.5), "deteriorated", "deteriorated"),
    (dict(rough=True), "vdw", "vdw"),
    (dict(rough=True, n_between=2, first_ql=8, first_element="Bi", second_element="Te", second_probability=0.95,
          bright_ratio=2.0, bilayer_thickness_A=3.3), "bilayer", "bilayer"),
    (dict(rough=True, unassigned_fraction=0.4, n_band_columns=30), "deteriorated", "deteriorated"),
    (dict(substrate_fits=False, film_fits=False), "foreign", None),
    (dict(film_fits=False), "no film", None),
    (dict(substrate_fits=False), "no substrate", None),
    (dict(ratio_fits=False), "period ratio", None),
    (dict(first_probability=0.6), "unmatched", None),      # an unsure element earns no verdict
    (dict(gap_A=4.5), "unmatched", None),                  # a gap far from any vdW contact
    (dict(n_between=1, first_ql=7, first_element="Bi"), "unmatched", None),
    # 19 ordered film planes below the first QL found by shape: unrecognised film, not a deteriorated band
    (dict(n_between=22, n_disordered_between=3, first_ql=28, unassigned_fraction=0.2, n_band_columns=333,
          band_thickness_A=49.0), "film unrecognised", None),
    # partial planes continuing the TiN lattice on TiN itself found only in part: TiN too faint to find?
    (dict(n_between=4, n_disordered_between=2, n_partial_substrate_between=2, substrate_seen=0.6, first_ql=10),
     "substrate seen in part", None),
    # ... on TiN found in full they are a rough interface; and a band of other planes is one anyway
    (dict(n_between=4, n_disordered_between=2, n_partial_substrate_between=2, substrate_seen=0.95, first_ql=10),
     "deteriorated", "deteriorated"),
    (dict(n_between=4, n_disordered_between=3, n_partial_substrate_between=2, substrate_seen=0.6, first_ql=10),
     "deteriorated", "deteriorated"),
    (dict(n_between=4, n_disordered_between=2, n_partial_substrate_between=2, substrate_seen=0.6, first_ql=10,
          rough=True), "deteriorated", "deteriorated"),
])
def test_decision_table(changes, rule, klass):
    assert decide(_cues(**changes), TE)[:2] == (rule, klass)


def test_partial_planes_that_continue_the_substrate_lattice_are_counted():
    def plane(material, height, period, scatter=0.1, element=None):
        return AtomicPlane(height, 0.005, None, None, material, element, period, 1e-3, 100.0, 20, scatter)

    tin = [plane("TiN", -2.448 * k, 2.596, element="Ti") for k in (2, 1, 0)]
    above = [plane("disordered", 2.45, 2.60), plane("disordered", 4.93, 2.59),  # TiN seen in part
             plane("disordered", 6.30, 2.60),                                    # off the TiN spacing
             plane("disordered", 7.40, 3.10),                                    # another period
             plane("disordered", 9.80, 2.60, scatter=0.4)]                       # rough
    layers = tin + above + [plane("TI", 12.0, 3.798, element="Te")]
    assert _substrate_continued(layers, 2, len(layers) - 1, tin, 2.448) == 2


def test_planes_are_named_as_the_verdict_has_it():
    def plane(material, element):
        return AtomicPlane(0.0, 0.005, None, None, material, element, 2.6, 1e-3, 100.0, 20, 0.02,
                           element_probability=0.9)

    planes = [plane("TiN", "Ti"), plane("bilayer", "Bi"), plane("bilayer", "Te"), plane("TI", "Te")]
    bilayer, vdw = Interface("bilayer", 0.9, []), Interface(None, 0.0, ["not decidable: ..."])
    assert [p.material for p in planes_as_judged(planes, bilayer, True)] == ["TiN", "bilayer", "bilayer", "TI"]
    assert [p.material for p in planes_as_judged(planes, vdw, True)] == ["TiN", "disordered", "disordered", "TI"]
    neutral = planes_as_judged(planes, vdw, False)
    assert [p.material for p in neutral] == ["plane"] * 4
    assert all(p.element is None and p.element_probability is None for p in neutral)
