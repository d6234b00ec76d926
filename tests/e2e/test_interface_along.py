"""The interface along its length on simulated fields with known segments and terrace steps."""

import json

import numpy as np
import pytest

from stemlayers import analyze, load
from stemlayers.report.analysis import Report
from stemlayers.report.figure import plot_report
from stemlayers.simulate import SimulationParams, simulate

WIDE = dict(shape=(420, 1000), pixel_size_A=0.1, dose=150)
FIELDS = {
    # the bilayer under every other 25 Å of a 100 Å field
    "alternating": SimulationParams(system="Bi2Te3/TiN", seed=3, **WIDE, segments=(
        (-1e3, "bilayer", 0), (-25.0, "vdw", 0), (0.0, "bilayer", 0), (25.0, "vdw", 0))),
    "vdw over a step": SimulationParams(system="Bi2Se3/TiN", seed=4, **WIDE, segments=(
        (-1e3, "vdw", 0), (2.0, "vdw", 1))),
    "bilayer over a step": SimulationParams(system="Bi2Te3/TiN", seed=5, rotation_deg=183.0, **WIDE, segments=(
        (-1e3, "bilayer", 0), (-5.0, "bilayer", 1))),
    "bilayer then deteriorated": SimulationParams(system="Bi2Se3/TiN", seed=9, **WIDE, segments=(
        (-1e3, "bilayer", 0), (10.0, "deteriorated", 0))),
    "flat": SimulationParams(system="Bi2Te3/TiN", interface="vdw", seed=6, **WIDE),
    # a field of the interface benchmark whose planes, taken as one field, show no system at all
    "three classes": SimulationParams(
        system="Bi2Te3/TiN", seed=197431314, shape=(504, 1092), pixel_size_A=0.08561881707947833,
        rotation_deg=3.5862642941602765, flip=True, dose=77.94282358542031, probe_sigma_A=0.36811683592523237,
        tail_fraction=0.05114164980476423, tail_width_A=2.166036622712919, tin_strain_pct=2.251288288851807,
        interface_offset_A=-2.8768025807282784, bilayer_spacing_A=3.55595688068052,
        bilayer_tin_gap_A=2.9755715614875853, vdw_gap_A=2.876234358741586, jitter_px=0.14413933393504036,
        drift_shear=-0.0006530656899965547, drift_stretch=0.0006247916015178309, background=0.22947572961199103,
        background_ramp=0.10591064174874508, read_noise=0.16086524760412835, weight_jitter=0.014133227328713565,
        thickness_gradient=0.05740551218583692, background_smooth=0.03076012213242579,
        amorphous=0.07517623229407967,
        segments=((-1e3, "deteriorated", 0), (-5.569700496426044, "vdw", 0), (15.158538977015027, "bilayer", 0))),
    # a middle terrace one plane low, 55 Å wide, at 0.137 Å/px and a low dose: the whole field's planes show a
    # system only under a wrong axis (film planes of the terraces merged at a slant, ~8° off the true one)
    "bilayer over two steps": SimulationParams(
        system="Bi2Se3/TiN", seed=588717295, shape=(316, 765), pixel_size_A=0.13742272017178148,
        rotation_deg=-5.885138534092869, flip=True, dose=72.22042416464521, probe_sigma_A=0.49041722424477663,
        tail_fraction=0.09760086443994752, tail_width_A=3.0162702266031562, tin_strain_pct=-2.7957265063333474,
        interface_offset_A=-0.9648306433189586, bilayer_spacing_A=3.2222443078798113,
        bilayer_tin_gap_A=2.3250773199228694, vdw_gap_A=2.8470920601917955, jitter_px=0.054958536367484226,
        drift_shear=-0.0014933057679657968, drift_stretch=0.0013574791917191158, background=0.1361020451195496,
        background_ramp=0.09264800725747598, read_noise=1.769043063236226, weight_jitter=0.025332675373921063,
        thickness_gradient=-0.1435608371168426, background_smooth=0.04131116733855826,
        segments=((-1e3, "bilayer", 0), (-28.642936266779834, "bilayer", 1), (26.32510970879308, "bilayer", 0))),
    # a bilayer over a step, then vdW, at a high dose under an amorphous film: its texture makes specks that
    # stand 6-27 sigma out at 2-10 % of a Se column's amplitude, which were linked into the bilayer's Se plane
    # and the QLs' centre planes and broke them up (20 % of the interface was called deteriorated)
    "under amorphous specks": SimulationParams(
        system="Bi2Se3/TiN", seed=229648129, shape=(435, 1038), pixel_size_A=0.10131147925835089,
        rotation_deg=-4.472563490610025, flip=True, dose=336.48450298843244, probe_sigma_A=0.4034289115375817,
        tail_fraction=0.057238220799229925, tail_width_A=2.138425935532929, tin_strain_pct=2.5735049626533613,
        interface_offset_A=-2.3781152141029036, bilayer_spacing_A=2.7610807959823256,
        bilayer_tin_gap_A=2.495536227017701, vdw_gap_A=2.8805257353581895, jitter_px=0.14513941853214607,
        drift_shear=0.001711698200418272, drift_stretch=-0.0014767107862540432, background=0.03204384505946601,
        background_ramp=0.1695841083757816, read_noise=1.698491350754804, weight_jitter=0.01752539490686697,
        thickness_gradient=0.14346179162748543, background_smooth=0.04380469158805367,
        amorphous=0.07780958480043047,
        segments=((-1000.0, "bilayer", 1), (9.168175747167986, "vdw", 0))),
    # a vdW stretch of 13 Å at the field's end beside a deteriorated band: every window of the grid that holds
    # it reaches into the band, and reads "deteriorated"
    "a short vdW end beside a band": SimulationParams(
        system="Bi2Te3/TiN", interface="vdw", seed=1275659521, shape=(397, 888), pixel_size_A=0.12342404167061882,
        rotation_deg=-2.1500891699008378, dose=239.32408043973797, probe_sigma_A=0.3599248983319232,
        tail_fraction=0.11702358885216885, tail_width_A=3.8807907592383, tin_strain_pct=0.7973971035064062,
        interface_offset_A=-1.5438824482622953, bilayer_spacing_A=2.835143657914255,
        bilayer_tin_gap_A=2.2795537211656143, vdw_gap_A=3.145749008640972, jitter_px=0.23719127523309724,
        drift_shear=-0.0009150995193599268, drift_stretch=-0.0006256957374070048, background=0.04996915753663895,
        background_ramp=0.16167876845950088, read_noise=0.44086952556395054, weight_jitter=0.009305661719356442,
        thickness_gradient=0.09322700306759255, background_smooth=0.025328708531957997,
        amorphous=0.07336682279776263,
        segments=((-1000.0, "vdw", 0), (-34.5992296791032, "deteriorated", 0), (-14.0746878429815, "vdw", 0),
                  (12.441960465521468, "bilayer", 0), (35.62006172412902, "deteriorated", 0))),
}


@pytest.fixture(scope="module")
def analysed():
    out = {}
    for name, params in FIELDS.items():
        sim = simulate(params)
        out[name] = (sim, analyze(load(sim.data, pixel_size=sim.pixel_size_A)))
    return out


def _class_changes(segments, key="class"):
    decided = [s for s in segments if s[key] != "not decidable"]
    return [0.5 * (np.asarray(a["end_px"]) + np.asarray(b["start_px"]))
            for a, b in zip(decided[:-1], decided[1:]) if a[key] != b[key]]


@pytest.mark.parametrize("name", list(FIELDS))
def test_class_coverage_and_boundaries(analysed, name):
    sim, report = analysed[name]
    d = report.to_dict()["interface"]
    assert d["class"] == sim.truth.interface
    truth = sim.truth.coverage or {sim.truth.interface: 1.0}
    for klass in ("bilayer", "vdw", "deteriorated"):
        assert d["coverage"].get(klass, 0.0) == pytest.approx(truth.get(klass, 0.0), abs=0.1), klass
    found = _class_changes(d["segments"])
    true = _class_changes(sim.truth.segments)
    assert len(found) == len(true)
    for point in true:  # every true boundary within 1 nm
        assert min(np.hypot(*(f - point)) for f in found) * sim.pixel_size_A <= 10.0


@pytest.mark.parametrize("name", ["vdw over a step", "bilayer over a step"])
def test_a_stepped_contact_keeps_its_class_and_its_strain_verdict(analysed, name):
    sim, report = analysed[name]
    assert report.interface.interface_class == sim.truth.interface != "deteriorated"
    assert report.interface.gap_A is not None and 0 < report.interface.gap_err_A < 0.05  # a gap with its error
    (step,), (true_step,) = report.interface.steps, sim.truth.steps
    assert step.height_planes == 1 and step.height_A == pytest.approx(2.448, abs=0.25)
    assert np.hypot(*(np.asarray(step.at_px) - true_step["at_px"])) * sim.pixel_size_A <= 10.0
    assert report.strain.strain_verdict == "ok"
    assert report.strain.tin_inplane_A == pytest.approx(sim.truth.tin_inplane_A, rel=0.003)


def test_steps_on_either_side_of_a_low_terrace_are_placed_on_its_columns(analysed):
    sim, report = analysed["bilayer over two steps"]
    assert report.interface.interface_class == "bilayer"
    found = sorted((np.asarray(s.at_px) for s in report.interface.steps), key=lambda p: p[0])
    true = sorted((np.asarray(s["at_px"]) for s in sim.truth.steps), key=lambda p: p[0])
    assert len(found) == len(true) == 2 and all(s.height_planes == 1 for s in report.interface.steps)
    for f, t in zip(found, true):  # well within the 1 nm asked: the step sits past its terrace's last TiN column
        assert np.hypot(*(f - t)) * sim.pixel_size_A <= 5.0


def test_no_step_on_a_flat_terrace(analysed):
    _, report = analysed["flat"]
    assert report.interface.steps == () and len(report.interface.segments) == 1


def test_segments_survive_the_json_report(analysed):
    _, report = analysed["alternating"]
    again = Report.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.interface == report.interface
    assert [s.interface_class for s in again.interface.segments] == ["bilayer", "vdw", "bilayer", "vdw"]


def test_each_segment_has_its_own_spacing_profile(analysed):
    """The bilayer segments show the bilayer's 2.60 / 3.30 Å above their top TiN plane, the vdW ones the 2.90 Å
    gap (the system file's spacings, which the simulator builds), and the figure draws each class's line."""
    _, report = analysed["alternating"]
    expected = {"bilayer": (2.60, 3.30), "vdw": (2.90,)}
    for segment in report.interface.segments:
        profile = {round(h / 0.5): spacing for h, spacing, _ in segment.spacing_profile}
        first = profile[0]
        assert first == pytest.approx(expected[segment.interface_class][0], abs=0.08)
        if segment.interface_class == "bilayer":
            second = next(spacing for h, spacing, _ in segment.spacing_profile if abs(h - first) < 0.3)
            assert second == pytest.approx(3.30, abs=0.08)
    ax = plot_report(report, dpi=50).axes[1]
    assert {"bilayer segment", "vdw segment"} <= {line.get_label() for line in ax.lines}


@pytest.mark.parametrize("system, interface, blocks", [
    ("Bi2Te3/TiN", "bilayer", ("QL", "SL")),          # a septuple lamella as the film's second block
    ("Bi2Se3/TiN", "vdw", ("QL", "SL", "QL", "QL")),
    ("Bi2Te3/TiN", "bilayer", ("QL", "twin")),        # a stacking reversal
    ("Bi2Te3/TiN", "vdw", ("SL", "QL", "QL")),        # a septuple lamella right on the TiN
    ("Bi2Se3/TiN", "bilayer", ("SL", "QL", "QL")),    # ... and on the bilayer
])
def test_film_defects_are_named_and_leave_the_interface_class(system, interface, blocks):
    sim = simulate(SimulationParams(system=system, interface=interface, shape=(640, 512), pixel_size_A=0.1, seed=4,
                                    interface_offset_A=12.0, film_blocks=blocks))
    report = analyze(load(sim.data, pixel_size=sim.pixel_size_A))
    assert report.interface.interface_class == interface
    found = [(d.kind, d.height_A) for d in report.film_defects]
    truth = [(d["kind"], d["height_A"]) for d in sim.truth.film_defects]
    assert [k for k, _ in found] == [k for k, _ in truth]
    assert all(abs(a - b) < 0.3 for (_, a), (_, b) in zip(found, truth))
    assert report.strain.tin_inplane_A == pytest.approx(sim.truth.tin_inplane_A, rel=0.003)


def test_a_lamella_over_a_terrace_step_is_named_and_a_clean_stepped_film_has_none():
    """Planes grouped across a step join planes of two heights; the film's defects are read on one terrace."""
    stepped = dict(system="Bi2Te3/TiN", shape=(640, 1000), pixel_size_A=0.1, seed=4, interface_offset_A=12.0,
                   segments=((-1e3, "vdw", 0), (5.0, "vdw", 1)))
    sim = simulate(SimulationParams(**stepped, film_blocks=("QL", "SL")))
    report = analyze(load(sim.data, pixel_size=sim.pixel_size_A))
    assert report.interface.interface_class == "vdw" and len(report.interface.steps) == 1
    (defect,) = report.film_defects
    (truth,) = sim.truth.film_defects
    assert defect.kind == truth["kind"] == "septuple layer"
    assert defect.height_A == pytest.approx(truth["height_A"], abs=0.3)
    clean = simulate(SimulationParams(**stepped))
    assert analyze(load(clean.data, pixel_size=clean.pixel_size_A)).film_defects == ()
