"""Atomic planes and the spacing profile against simulator truth, at any orientation."""

import itertools
import json

import numpy as np
import pytest

from stemlayers import analyze, load
from stemlayers.simulate import SimulationParams, sample_params, simulate


def _profile(sim):
    return analyze(load(sim.data, pixel_size=sim.pixel_size_A))


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
    """16 images over the whole range: both systems, bilayer and vdW, any rotation, flips, 0.07-0.16 Å/px,
    doses 60-400, jitter, drift, strain, probe tails."""
    rng = np.random.default_rng(31)
    out = []
    for system, interface in itertools.product(["Bi2Te3/TiN", "Bi2Se3/TiN"], ["bilayer", "vdw"]):
        for _ in range(4):
            params = sample_params(rng, system=system, interface=interface, shape=(320, 320),
                                   interface_offset_A=float(rng.uniform(-4, 4)))
            sim = simulate(params)
            out.append((sim, _profile(sim)))
    return out


def test_every_plane_of_ti_or_heavier_is_found(grid):
    n_present = n_found = 0
    for sim, report in grid:
        present, pairs = _match(report, sim.truth)
        n_present += len(present)
        n_found += len(pairs)
        assert len(pairs) >= 0.9 * len(present)
    assert n_found >= 0.98 * n_present


def test_the_top_tin_plane_is_height_zero_in_every_image(grid):
    for sim, report in grid:
        _, pairs = _match(report, sim.truth)
        top = dict(pairs).get(sim.truth.top_tin_plane)
        assert top is not None and report.planes[top].height_A == 0.0
        assert report.planes[top].material == "TiN" and report.planes[top].element == "Ti"


def test_spacing_errors_and_their_uncertainties(grid):
    errors, z = [], []
    for sim, report in grid:
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


def test_tin_inplane_parameter_and_its_uncertainty(grid):
    err_pct, z = [], []
    for sim, report in grid:
        s = report.strain
        err_pct.append(100 * (s.tin_inplane_A / sim.truth.tin_inplane_A - 1))
        # the statistical part: the simulated film is exactly at bulk, so the standard has no systematic here
        z.append((s.tin_inplane_A - sim.truth.tin_inplane_A) / s.tin_inplane_stat_err_A)
    assert np.median(np.abs(err_pct)) <= 0.3
    assert 0.5 <= np.std(z) <= 2.0


def test_system_is_detected(grid):
    assert all(report.system == sim.truth.system for sim, report in grid)


def test_film_planes_follow_the_ql_motif_and_bilayer_is_labelled():
    sim = simulate(SimulationParams(system="Bi2Te3/TiN", interface="bilayer", shape=(384, 384), seed=3))
    report = _profile(sim)
    materials = [L.material for L in report.planes]
    top = materials.index("bilayer") - 1
    assert report.planes[top].height_A == 0.0
    assert materials[top + 1:top + 3] == ["bilayer", "bilayer"]
    assert [L.element for L in report.planes[top + 1:top + 8]] == ["Bi", "Te", "Te", "Bi", "Te", "Bi", "Te"]
    vdw = _profile(simulate(SimulationParams(system="Bi2Te3/TiN", interface="vdw", shape=(384, 384), seed=3)))
    assert "bilayer" not in [L.material for L in vdw.planes]


def test_rotated_and_mirrored_copies_give_the_same_profile():
    base = simulate(SimulationParams(shape=(320, 320), seed=12))
    reference = _profile(base)
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
    report = _profile(sim)
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
    report = _profile(sim)
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
