"""The verdicts: interface class, material system and TiN strain, against simulator truth."""

import collections
import itertools

import numpy as np
import pytest

from stemlayers import analyze, load
from stemlayers.simulate import SimulationParams, sample_params, simulate

CLASSES = ("bilayer", "vdw", "deteriorated")


def _analyze(sim, **kwargs):
    return analyze(load(sim.data, pixel_size=sim.pixel_size_A), **kwargs)


@pytest.fixture(scope="module")
def grid():
    """24 images: 3 classes x 2 systems x 4 draws over rotation, flips, 0.07-0.16 Å/px, doses 60-400,
    strain ±3 %, jitter, drift, probe tails, background ramps."""
    rng = np.random.default_rng(77)
    out = []
    for system, interface in itertools.product(["Bi2Te3/TiN", "Bi2Se3/TiN"], CLASSES):
        for _ in range(4):
            params = sample_params(rng, system=system, interface=interface, shape=(384, 384),
                                   interface_offset_A=float(rng.uniform(-3, 3)))
            out.append((params, _analyze(simulate(params))))
    return out


def test_confusion_matrix_per_class_accuracy(grid):
    confusion = collections.Counter((p.interface, r.interface.interface_class) for p, r in grid)
    print("confusion (truth, found):", dict(confusion))
    for klass in CLASSES:
        total = sum(n for (t, _), n in confusion.items() if t == klass)
        assert confusion[(klass, klass)] >= 0.875 * total, klass
    assert sum(confusion[(k, k)] for k in CLASSES) >= 0.95 * len(grid)


def test_system_is_detected_and_strain_verdict(grid):
    # the target is >= 97 % over large grids (98.6 % over 72 images with the artefacts): allow one miss in 24
    assert sum(r.system == p.system for p, r in grid) >= len(grid) - 1
    # the verdict is decidable only away from the threshold by more than the measurement error
    clear = [(p, r) for p, r in grid if abs(abs(p.tin_strain_pct) - 1.0) > 0.15]
    assert all(r.strain.strain_ok == (abs(p.tin_strain_pct) < 1.0) for p, r in clear)


def test_tin_inplane_parameter_over_the_grid(grid):
    errors = [100 * (r.strain.tin_inplane_A / (2.998 * (1 + p.tin_strain_pct / 100)) - 1) for p, r in grid]
    assert np.median(np.abs(errors)) <= 0.3


def test_confidence_ranks_the_verdicts(grid):
    """Decided verdicts carry more confidence than "not decidable" (which carries none) and are right."""
    decided = [(p, r) for p, r in grid if r.interface.interface_class is not None]
    undecided = [r for _, r in grid if r.interface.interface_class is None]
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
