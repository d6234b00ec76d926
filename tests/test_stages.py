"""Each step of the plane grouping and of the verdict, on hand-built inputs with known answers."""

import dataclasses
import json

import numpy as np
import pytest

from stemlayers.structure.calibration import Calibration, measure_calibration
from stemlayers.verdict.classify import Cues, Interface, _substrate_continued, decide, planes_as_judged
from stemlayers.verdict.identify import stacking_fraction
from stemlayers.structure.elements import brightness_clusters, find_quintuple_layers
from stemlayers.structure.grouping import AtomicPlane, find_origin, substrate_down
from stemlayers.materials import load_system
from stemlayers.structure.orient import Orientation
from stemlayers.structure.planes import Plane, field_scale, fit_period, label_kinds, line_length_in_field, link_planes
from stemlayers.verdict.strain import Strain, check_strain, strain_verdict

TE = load_system("Bi2Te3/TiN")
SE = load_system("Bi2Se3/TiN")


def _qls(system, n_ql=2, scale=1.0):
    """Heights and true Bi flags of n_ql quintuple layers, lengths multiplied by `scale`."""
    steps = []
    for k in range(n_ql):
        steps += ([system.film.vdw_gap_A] if k else []) + list(system.film.ql_spacings_A)
    heights = np.concatenate([[0.0], np.cumsum(steps)]) * scale
    is_bi = np.tile([False, True, False, True, False], n_ql)
    return heights, is_bi


# ------------------------------------------------------------------ brightness clusters


@pytest.mark.parametrize("ratio", [1.4, 1.9, 3.0, 6.0])
def test_bright_planes_are_found_for_any_contrast_ratio(ratio):
    rng = np.random.default_rng(int(ratio * 10))
    _, is_bi = _qls(TE, 3)
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
    heights, is_bi = _qls(system, 3, scale)
    found = find_quintuple_layers(heights, np.ones(15, bool), is_bi.astype(float), system.film.ql_spacings_A,
                                  system.film.vdw_gap_A)
    assert [q.start for q in found] == [0, 5, 10]
    assert found[0].d_ratio == pytest.approx(system.film.ql_spacings_A[0] / system.film.ql_spacings_A[1])
    assert found[0].thickness == pytest.approx(system.ql_thickness_A * scale)


def test_quintuple_layer_needs_its_brightness_rank_and_its_spacing_pattern():
    heights, is_bi = _qls(TE, 1)
    spacings = TE.film.ql_spacings_A, TE.film.vdw_gap_A
    assert find_quintuple_layers(heights, np.ones(5, bool), (~is_bi).astype(float), *spacings) == []
    unsure = np.full(5, 0.5)  # brightness that says nothing (no two groups) makes no QL
    assert find_quintuple_layers(heights, np.ones(5, bool), unsure, *spacings) == []
    even = np.arange(5) * 2.0  # equal spacings: no d1 d2 d2 d1
    assert find_quintuple_layers(even, np.ones(5, bool), is_bi.astype(float), *spacings) == []
    cut = find_quintuple_layers(heights[:3], np.ones(3, bool), is_bi[:3].astype(float), *spacings)
    assert [(q.start, q.n_planes) for q in cut] == [(0, 3)]  # a QL cut by the field's edge


# ------------------------------------------------------------------ planes


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


@pytest.mark.parametrize("scale", [0.85, 1.0, 1.15])
def test_field_scale_reads_the_calibration_from_the_period_ratio(scale):
    periods = np.array([2.596, 2.6, 2.59, 3.798, 3.8]) * scale
    assert field_scale(periods, 2.596, 3.798) == pytest.approx(scale, rel=0.01)


def _plane(label, height, kind, period=2.596, scatter=0.02, occupancy=1.0, n=20):
    return Plane(label, np.arange(n), height, 0.005, scatter, 100.0, 1000.0, period, 1e-3, None, occupancy, kind)


def test_label_kinds_by_scaled_period_and_scatter():
    planes = (_plane(0, 0, "", 2.596 * 1.12), _plane(1, 3, "", 3.798 * 1.12), _plane(2, 6, "", 3.798 * 1.12, 0.4))
    kinds = [p.kind for p in label_kinds(planes, 2.596, 3.798, 0.25, scale=1.12)]
    assert kinds == ["substrate", "film", "disordered"]


def test_substrate_down_flips_heights_and_axis():
    planes = (_plane(0, -5.0, "film"), _plane(1, 0.0, "substrate"), _plane(2, 2.4, "substrate"))
    flipped, orientation = substrate_down(planes, Orientation(np.array([0.0, -1.0]), 90.0, 1.0))
    assert [p.kind for p in flipped] == ["substrate", "substrate", "film"]
    assert [p.height_A for p in flipped] == [-2.4, 0.0, 5.0]
    assert np.allclose(orientation.growth_dir, [0.0, 1.0])


def test_origin_is_the_top_complete_ordered_plane():
    d = 2.448
    planes = tuple(_plane(i, i * d, "substrate") for i in range(5)) + (
        _plane(5, 5 * d, "substrate", occupancy=0.6),                 # partial
        _plane(6, 6 * d, "substrate", scatter=0.2),                   # roughened
        _plane(7, 6 * d + 2.9, "film", 3.798), _plane(8, 6 * d + 4.6, "film", 3.798))
    top, relabelled = find_origin(planes)
    assert top == 4
    assert [p.kind for p in relabelled[5:7]] == ["disordered", "disordered"]
    assert relabelled[7].kind == "film"


def test_line_length_in_a_rotated_field():
    length = line_length_in_field(np.array([50.0, 50.0]), np.array([1.0, 1.0]) / np.sqrt(2), (101, 101))
    assert length == pytest.approx(100 * np.sqrt(2))


# ------------------------------------------------------------------ the verdict


def test_stacking_of_thirds():
    assert stacking_fraction([0.1, 0.433, 0.767, 0.1, 0.433], 0.1) == 1.0
    assert stacking_fraction([0.0, 0.5, 0.0, 0.5], 0.1) == 0.0  # a perovskite's half shift
    assert stacking_fraction([0.2, 0.2, 0.2], 0.1) == 0.0      # planes on top of each other
    assert stacking_fraction([0.3], 0.1) is None


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
    (dict(rough=True), "deteriorated", "deteriorated"),
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


def test_strain_verdict_has_three_outcomes():
    assert strain_verdict([-0.4, 0.3], 1.0) == "ok"
    assert strain_verdict([1.1, 1.6], 1.0) == "strained"
    assert strain_verdict([-1.6, -1.2], 1.0) == "strained"
    assert strain_verdict([0.7, 1.3], 1.0) == "inconclusive"


def _layer(material, height, period, err=1e-3):
    return AtomicPlane(height, 0.005, None, None, material, None, period, err, 100.0, 20, 0.02)


@pytest.mark.parametrize("file_error", [0.85, 1.0, 1.15])
def test_check_strain_on_the_film_standard(file_error):
    tin_true = 2.998 * 1.015  # 1.5 % strained TiN; layers' periods are on the film's standard already
    layers = [_layer("TiN", -2.4, tin_true * np.sqrt(3) / 2), _layer("TiN", 0, tin_true * np.sqrt(3) / 2),
              _layer("TI", 3.0, 3.798), _layer("TI", 5.0, 3.798)]
    calibration = Calibration(0.1, inplane_scale=file_error, inplane_scale_err=1e-4)
    s = check_strain(layers, TE, calibration=calibration)
    assert s.tin_inplane_A == pytest.approx(tin_true, rel=1e-9)
    assert s.tin_inplane_direct_A == pytest.approx(tin_true * file_error, rel=1e-9)  # on the file's calibration
    assert s.deviation_pct == pytest.approx(1.5, abs=1e-6)
    assert s.strain_ok is False and s.strain_verdict == "strained" and s.calibrated_on == "film"
    assert [p.height_A for p in s.per_plane] == [-2.4, 0.0]
    assert s.per_plane[0].tin_inplane_A == pytest.approx(tin_true, rel=1e-9)
    assert Strain.from_dict(json.loads(json.dumps(s.to_dict()))) == s  # typed per-plane records survive JSON
    quiet = check_strain(layers, TE, calibration=calibration, decidable=False)
    assert quiet.tin_inplane_A == s.tin_inplane_A and quiet.strain_ok is None and quiet.strain_verdict is None


def test_calibration_says_how_far_the_file_is_off():
    heights, is_bi = _qls(TE, 2, 1.052)
    planes = [dataclasses.replace(_plane(i, h, "film", 3.798 * 1.052), period_err_A=1e-4)
              for i, h in enumerate(heights)]
    quintuples = find_quintuple_layers(heights, np.ones(10, bool), is_bi.astype(float), TE.film.ql_spacings_A,
                                       TE.film.vdw_gap_A)
    c = measure_calibration(planes, ["TI"] * 10, quintuples, TE, 0.1)
    assert c.inplane_scale == pytest.approx(1.052) and c.growth_scale == pytest.approx(1.052)
    assert c.standard == "film" and c.height_standard == "film QL thickness"
    assert c.warning().startswith("the pixel size 0.1000 Å/px (file) is 1.052x (+5.2 ± 0.0 %) what the film lattice implies")
    bare = measure_calibration([], [], [], TE, 0.1)
    assert bare.standard == "file calibration" and bare.warning() is None
    assert "file's calibration" in bare.to_dict()["note"]


# ------------------------------------------------------------------ orientation and elements


def _abc_lattice(angle_deg, n_planes=8, n_columns=14, spacing_A=2.448, period_A=2.596, pixel_size_A=0.1):
    """Column positions (px) of ABC-stacked planes whose normal points along `angle_deg` (x towards y)."""
    k, j = np.meshgrid(np.arange(n_planes), np.arange(n_columns), indexing="ij")
    u = (j + k / 3.0) * period_A
    h = k * spacing_A
    theta = np.deg2rad(angle_deg)
    normal, along = np.array([np.cos(theta), np.sin(theta)]), np.array([-np.sin(theta), np.cos(theta)])
    xy_A = h.ravel()[:, None] * normal + u.ravel()[:, None] * along
    return xy_A / pixel_size_A + 200.0


@pytest.mark.parametrize("angle", [90.0, 17.0, 143.5])
def test_growth_axis_of_a_point_lattice(angle):
    from stemlayers.structure.orient import growth_axes

    xy = _abc_lattice(angle)
    best = growth_axes(xy, np.ones(len(xy)), 0.1, periods_A=[2.596, 3.798])[0]
    found = np.degrees(np.arctan2(best.growth_dir[1], best.growth_dir[0])) % 180.0
    assert min(abs(found - angle % 180.0), 180.0 - abs(found - angle % 180.0)) < 0.3


def _sub_plane(label, height, volume, n=20):
    return Plane(label, np.arange(n), height, 0.005, 0.02, volume, volume, 2.596, 1e-3, kind="substrate")


def test_anion_planes_only_when_bright_and_dim_planes_alternate():
    from stemlayers.structure.elements import label_anions

    # rock salt at a low detector angle: dim N planes halfway between the Ti planes
    alternating = tuple(_sub_plane(k, 1.224 * k, 100.0 if k % 2 == 0 else 14.0) for k in range(8))
    kinds = [p.kind for p in label_anions(alternating, TE)]
    assert kinds == ["substrate", "anion"] * 4
    # Ti planes whose brightness varies (a wedge, a patchy fit) but does not alternate stay Ti
    uneven = tuple(_sub_plane(k, 2.448 * k, v) for k, v in enumerate([190, 100, 90, 95, 150, 115, 70, 140.0]))
    assert {p.kind for p in label_anions(uneven, TE)} == {"substrate"}


def test_film_elements_from_the_planes_own_brightness():
    from stemlayers.structure.elements import assign_elements

    heights, is_bi = _qls(TE)
    film = tuple(Plane(k, np.arange(12), h, 0.005, 0.01, 1.0, 1.8 if bi else 1.0, 3.798, 1e-3, kind="film")
                 for k, (h, bi) in enumerate(zip(heights, is_bi)))
    named, clusters = assign_elements(film, TE)
    assert [p.element for p in named] == ["Bi" if bi else "Te" for bi in is_bi]
    assert clusters.separated and min(p.element_probability for p in named) > 0.9
    assert clusters.log_ratio == pytest.approx(np.log(1.8), abs=0.05)  # read from the image, not the file's 2.2


def test_origin_moves_up_past_planes_a_tin_wedge_leaves_partly_seen():
    """Every TiN plane seen over part of the field (a wedge), each by a different share: the top one is TiN."""
    d = 2.448
    seen = [0.62, 0.7, 0.55, 0.68, 0.66, 0.49]
    planes = tuple(_plane(i, i * d, "substrate", occupancy=o, scatter=0.06) for i, o in enumerate(seen)) + (
        _plane(6, 5 * d + 2.9, "film", 3.798), _plane(7, 5 * d + 4.6, "film", 3.798))
    top, relabelled = find_origin(planes)
    assert top == 5 and relabelled[5].kind == "substrate"
    # the same plane roughened (columns displaced) is the interface band
    rough = planes[:5] + (dataclasses.replace(planes[5], scatter_A=0.2),) + planes[6:]
    assert find_origin(rough)[0] == 4


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
