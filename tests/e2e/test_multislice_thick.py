"""Thick lamellae: abTEM multislice references 10-30 nm thick (``refgen/thick_multislice.py``; probe windows
of at least 20 Å, see the data folder's README), checked against the model they were built from: every
verdict right at every thickness (or, where measured so, the class not decidable), and none wrong when the
image is rotated or mirrored.
"""

from pathlib import Path

import pytest
from multislice_refs import orientations, tin_on_film_standard, truth_of

from stemlayers import analyze, load

FOLDER = Path(__file__).resolve().parents[1] / "data" / "multislice_thick"
CASES = sorted(FOLDER.glob("*.hspy"))


def _expected_verdicts(t):
    return t["system"], t["interface"], "ok" if abs(t["tin_strain_pct"]) < 1 else "strained"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_thick_lamellae_get_every_verdict_right(path):
    t = truth_of(path)
    assert t["params"]["probe_window_A"][0] >= 20 and t["params"]["probe_window_A"][1] >= 20
    d = analyze(path).to_dict()
    system, klass, verdict = _expected_verdicts(t)
    assert (d["system"], d["interface"]["class"], d["strain"]["strain_verdict"]) == (system, klass, verdict)
    assert d["strain"]["tin_inplane_A"] == pytest.approx(tin_on_film_standard(t), rel=0.003)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_thick_lamellae_get_no_wrong_verdict_in_any_orientation(path):
    t = truth_of(path)
    image = load(path)
    system, klass, verdict = _expected_verdicts(t)
    for name, data in orientations(image.data).items():
        d = analyze(load(data, pixel_size=image.pixel_size_A)).to_dict()
        said = f"{path.stem} {name}: {d['system']} {d['interface']['class']} {d['strain']['strain_verdict']}"
        assert d["system"] in (system, None), said
        assert d["interface"]["class"] in (klass, None), said
        assert d["strain"]["strain_verdict"] in (verdict, "inconclusive", None), said
