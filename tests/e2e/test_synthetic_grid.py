"""End to end on simulated fields with their truth: planes, spacings, class, system and TiN strain.

One grid serves every test here: 3 classes x 2 systems x 4 draws over rotation, flips, 0.07-0.16 Å/px,
doses 60-400, strain ±3 %, jitter, drift, probe tails and background ramps. The plane tests read its
bilayer and vdW fields (a deteriorated band has no true planes to match).
"""

import collections
import itertools
import json

import numpy as np
import pytest

from stemlayers import analyze, load
from stemlayers.simulate import SimulationParams, sample_params, simulate

CLASSES = ("bilayer", "vdw", "deteriorated")


def _analyze(sim, **kwargs):
    return analyze(load(sim.data, pixel_size=sim.pixel_size_A), **kwargs)


def _match(report, truth):
    """Pairs (true plane index, found layer index) of Ti-or-heavier planes within 0.5 Å in height."""
    rows, cols = truth.shape
    found = np.array([L.height_A for L in report.planes])
    pairs, present = [], []
    for i in np.unique(truth.plane[truth.plane >= 0]):
        members = (truth.plane == i) & (truth.x_px > 5) & (truth.x_px < cols - 5) & (truth.y_px > 5) & (
            truth.y_px < rows - 5)
        if truth.plane_element[i] == "N" or members.sum() < 3:
            continue
        present.append(i)
        if len(found):
            j = int(np.argmin(np.abs(found - truth.plane_height_A[i])))
            if abs(found[j] - truth.plane_height_A[i]) < 0.5:
                pairs.append((i, j))
    return present, pairs


@pytest.fixture(scope="module")
def grid():
    """(params, simulation, report) of 24 fields."""
    rng = np.random.default_rng(77)
    out = []
    for system, interface in itertools.product(["Bi2Te3/TiN", "Bi2Se3/TiN"], CLASSES):
        for _ in range(4):
            params = sample_params(rng, system=system, interface=interface, shape=(384, 384),
                                   interface_offset_A=float(rng.uniform(-3, 3)))
            sim = simulate(params)
            out.append((params, sim, _analyze(sim)))
    return out


@pytest.fixture(scope="module")
def ordered(grid):
    """(simulation, report) of the grid's bilayer and vdW fields."""
    return [(sim, report) for params, sim, report in grid if params.interface != "deteriorated"]


# ------------------------------------------------------------------ planes and spacings


def test_every_plane_of_ti_or_heavier_is_found(ordered):
    n_present = n_found = 0
    for sim, report in ordered:
        present, pairs = _match(report, sim.truth)
        n_present += len(present)
        n_found += len(pairs)
        assert len(pairs) >= 0.9 * len(present)
    assert n_found >= 0.98 * n_present


def test_the_top_tin_plane_is_height_zero_in_every_image(ordered):
    for sim, report in ordered:
        _, pairs = _match(report, sim.truth)
        top = dict(pairs).get(sim.truth.top_tin_plane)
        assert top is not None and report.planes[top].height_A == 0.0
        assert report.planes[top].material == "TiN" and report.planes[top].element == "Ti"


def test_spacing_errors_and_their_uncertainties(ordered):
    errors, z = [], []
    for sim, report in ordered:
        t = sim.truth
        present, pairs = _match(report, t)
        found = dict(pairs)
        for a, b in zip(present[:-1], present[1:]):
            if a in found and b in found and found[b] == found[a] + 1:
                layer = report.planes[found[a]]
                errors.append(layer.spacing_to_next_A - (t.plane_height_A[b] - t.plane_height_A[a]))
                z.append(errors[-1] / layer.spacing_err_A)
    errors = np.abs(errors)
    assert np.median(errors) <= 0.02
    assert np.percentile(errors, 95) <= 0.06
    assert np.mean(np.abs(z) < 3) >= 0.9  # the stated uncertainties cover the real errors


def test_tin_inplane_parameter_and_its_uncertainty(ordered):
    err_pct, z = [], []
    for sim, report in ordered:
        s = report.strain
        err_pct.append(100 * (s.tin_inplane_A / sim.truth.tin_inplane_A - 1))
        # the statistical part: the simulated film is exactly at bulk, so the standard has no systematic here
        z.append((s.tin_inplane_A - sim.truth.tin_inplane_A) / s.tin_inplane_stat_err_A)
    assert np.median(np.abs(err_pct)) <= 0.3
    assert 0.5 <= np.std(z) <= 2.0


def test_film_planes_follow_the_ql_motif_and_bilayer_is_labelled():
    sim = simulate(SimulationParams(system="Bi2Te3/TiN", interface="bilayer", shape=(384, 384), seed=3))
    report = _analyze(sim)
    materials = [L.material for L in report.planes]
    top = materials.index("bilayer") - 1
    assert report.planes[top].height_A == 0.0
    assert materials[top + 1:top + 3] == ["bilayer", "bilayer"]
    assert [L.element for L in report.planes[top + 1:top + 8]] == ["Bi", "Te", "Te", "Bi", "Te", "Bi", "Te"]
    vdw = _analyze(simulate(SimulationParams(system="Bi2Te3/TiN", interface="vdw", shape=(384, 384), seed=3)))
    assert "bilayer" not in [L.material for L in vdw.planes]


def test_rotated_and_mirrored_copies_give_the_same_analyze():
    base = simulate(SimulationParams(shape=(320, 320), seed=12))
    reference = _analyze(base)
    for image in (np.rot90(base.data, 2), base.data[:, ::-1]):
        other = analyze(load(np.ascontiguousarray(image), pixel_size=base.pixel_size_A))
        assert len(other.planes) == len(reference.planes)
        for a, b in zip(reference.planes, other.planes):
            assert a.material == b.material and a.element == b.element
            if a.spacing_to_next_A is not None:
                assert abs(a.spacing_to_next_A - b.spacing_to_next_A) < 4 * np.hypot(
                    a.spacing_err_A, b.spacing_err_A) + 1e-3


@pytest.mark.parametrize("offset, only", [(-15.0, "TiN"), (22.0, "Bi2Te3")])
def test_single_material_field_says_no_interface(offset, only):
    sim = simulate(SimulationParams(interface_offset_A=offset, shape=(192, 192), dose=200))
    report = _analyze(sim)
    assert any("no interface in the field" in m and only in m for m in report.messages)
    assert report.interface.gap_A is None
    kinds = {L.material for L in report.planes} - {"disordered"}
    assert kinds == ({"TiN"} if only == "TiN" else {"TI"})
    spacings = [L.spacing_to_next_A for L in report.planes if L.spacing_to_next_A]
    if only == "TiN":
        assert np.median(spacings) == pytest.approx(2.448, abs=0.02)
        assert report.strain.tin_inplane_A == pytest.approx(2.998, rel=0.005)


def test_report_follows_the_contract(tmp_path):
    sim = simulate(SimulationParams(shape=(256, 256)))
    report = _analyze(sim)
    d = json.loads(json.dumps(report.to_dict()))
    for key in ("file", "system", "pixel_size_A", "n_columns", "seconds", "interface", "layers", "strain"):
        assert key in d
    for key in ("class", "confidence", "evidence", "gap_A", "gap_err_A"):
        assert key in d["interface"]
    for key in ("tin_inplane_A", "tin_inplane_err_A", "reference_A", "deviation_pct", "ci95_pct", "strain_ok",
                "ti_inplane_A", "tin_over_ti_ratio"):
        assert key in d["strain"]
    layer_keys = {"height_A", "height_err_A", "spacing_to_next_A", "spacing_err_A", "material", "element",
                  "inplane_period_A", "inplane_period_err_A", "intensity", "n_columns", "scatter_A"}
    assert all(layer_keys <= set(L) for L in d["layers"])
    assert d["layers"][-1]["spacing_to_next_A"] is None
    heights = [L["height_A"] for L in d["layers"]]
    assert heights == sorted(heights) and 0.0 in heights
    assert all(L["material"] in ("TiN", "bilayer", "TI", "disordered") for L in d["layers"])


# ------------------------------------------------------------------ verdicts


def test_confusion_matrix_per_class_accuracy(grid):
    confusion = collections.Counter((p.interface, r.interface.interface_class) for p, _, r in grid)
    print("confusion (truth, found):", dict(confusion))
    for klass in CLASSES:
        total = sum(n for (t, _), n in confusion.items() if t == klass)
        assert confusion[(klass, klass)] >= 0.875 * total, klass
    assert sum(confusion[(k, k)] for k in CLASSES) >= 0.95 * len(grid)


def test_system_is_detected_and_strain_verdict(grid):
    # the target is >= 97 % over large grids (98.6 % over 72 images with the artefacts): allow one miss in 24
    assert sum(r.system == p.system for p, _, r in grid) >= len(grid) - 1
    # the verdict is decidable only away from the threshold by more than the measurement error
    clear = [(p, r) for p, _, r in grid if abs(abs(p.tin_strain_pct) - 1.0) > 0.15]
    assert all(r.strain.strain_ok == (abs(p.tin_strain_pct) < 1.0) for p, r in clear)


def test_tin_inplane_parameter_over_the_grid(grid):
    errors = [100 * (r.strain.tin_inplane_A / (2.998 * (1 + p.tin_strain_pct / 100)) - 1) for p, _, r in grid]
    assert np.median(np.abs(errors)) <= 0.3


def test_confidence_ranks_the_verdicts(grid):
    """Decided verdicts carry more confidence than "not decidable" (which carries none) and are right."""
    decided = [(p, r) for p, _, r in grid if r.interface.interface_class is not None]
    undecided = [r for _, _, r in grid if r.interface.interface_class is None]
    assert decided and all(r.interface.confidence >= 0.5 for _, r in decided)
    assert all(r.interface.confidence == 0.0 for r in undecided)
    assert all(r.interface.interface_class == p.interface for p, r in decided)


@pytest.mark.parametrize("strain", [-1.3, -0.7, 0.7, 1.3])
def test_strain_verdict_flips_at_one_percent_with_its_ci(strain):
    sim = simulate(SimulationParams(tin_strain_pct=strain, shape=(320, 320), dose=200, seed=5))
    s = _analyze(sim).strain
    assert s.strain_ok == (abs(strain) < 1.0)
    assert s.deviation_pct == pytest.approx(strain, abs=0.15)
    lo, hi = s.ci95_pct
    assert lo < hi and lo - 0.1 <= strain <= hi + 0.1
    assert s.calibrated_on == "film"


def test_reference_changes_the_deviation():
    sim = simulate(SimulationParams(tin_strain_pct=1.5, shape=(320, 320), seed=2))
    image = load(sim.data, pixel_size=sim.pixel_size_A)
    bare = analyze(image).strain
    against_strained = analyze(image, reference_A=2.998 * 1.015).strain
    assert bare.strain_ok is False and against_strained.strain_ok is True
    assert against_strained.deviation_pct == pytest.approx(0.0, abs=0.1)


def test_evidence_names_the_real_numbers():
    report = _analyze(simulate(SimulationParams(interface="bilayer", shape=(320, 320), seed=6)))
    i = report.interface
    assert i.interface_class == "bilayer" and i.confidence > 0.8
    text = " ".join(i.evidence)
    assert f"{i.gap_A:.3f}" in text or f"{i.gap_A:.2f}" in text
    assert "Bi-bright" in text and "bilayer thickness" in text
    thickness = report.planes[[L.material for L in report.planes].index("bilayer")].spacing_to_next_A
    assert f"{thickness:.2f}" in text or f"{thickness:.3f}" in text
    vdw = _analyze(simulate(SimulationParams(interface="vdw", shape=(320, 320), seed=6))).interface
    assert vdw.interface_class == "vdw" and "vdW contact" in " ".join(vdw.evidence)
    bad = _analyze(simulate(SimulationParams(interface="deteriorated", shape=(320, 320), seed=6))).interface
    assert bad.interface_class == "deteriorated" and any("no ordered plane" in e or "disordered" in e
                                                  for e in bad.evidence)


@pytest.mark.parametrize("offset", [-15.0, 22.0])
def test_no_interface_is_not_decidable(offset):
    report = _analyze(simulate(SimulationParams(interface_offset_A=offset, shape=(192, 192), dose=200)))
    assert report.interface.interface_class is None
    assert report.interface.evidence[0].startswith("not decidable")
