"""The interface along its length on multislice references: abTEM PRISM cells (whole-cell probe window) whose
interface changes along the cell, made by ``refgen/thick_multislice.py --lateral``."""

from pathlib import Path

import numpy as np
import pytest
from multislice_refs import orientations, tin_deviation_on_film_standard_pct, truth_of

from stemlayers import analyze, load

FOLDER = Path(__file__).resolve().parents[1] / "data" / "multislice_lateral"
CASES = sorted(FOLDER.glob("*.hspy"))

def _class_changes(segments):
    """Pixel points where two decided segments of different classes meet."""
    decided = [s for s in segments if s.interface_class != "not decidable"]
    return [0.5 * (np.asarray(a.end_px) + np.asarray(b.start_px))
            for a, b in zip(decided[:-1], decided[1:]) if a.interface_class != b.interface_class]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_no_wrong_verdict_rotated_or_mirrored(path):
    t = truth_of(path)
    image = load(path)
    for name, data in list(orientations(image.data).items())[1:]:  # as made: the test above
        d = analyze(load(data, pixel_size=image.pixel_size_A)).to_dict()
        said = f"{path.stem} {name}: {d['system']} {d['interface']['class']}"
        assert d["system"] in (t["system"], None) and d["interface"]["class"] in (t["interface"], None), said


def test_the_references_are_there():
    assert len(CASES) == 5


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_no_wrong_verdict_on_a_lateral_cell(path):
    t = truth_of(path)
    report = analyze(path)
    i = report.interface
    assert report.system == t["system"]
    assert i.interface_class == t["interface"]
    assert report.film_defects == ()  # the films are clean: a step must not make their blocks look irregular
    classes = [s["class"] for s in t["segments"]]
    lengths = {c: sum(s["length_A"] for s in t["segments"] if s["class"] == c) for c in classes}
    for klass, length in lengths.items():
        assert i.coverage.get(klass, 0.0) == pytest.approx(length / sum(lengths.values()), abs=0.1)
    found = _class_changes(i.segments)
    true = [np.asarray(s["start_px"]) for s in t["segments"][1:] if s["class"] != t["segments"][0]["class"]]
    assert len(found) == len(true)
    for point in true:  # every boundary within 1 nm
        assert min(np.hypot(*(f - point)) for f in found) * t["pixel_size_A"] <= 10.0
    assert len(i.steps) == len(t["steps"])
    for step, true in zip(i.steps, t["steps"]):  # each step within 1 nm, in whole planes
        assert step.height_planes == true["height_planes"]
        assert np.hypot(*(np.asarray(step.at_px) - true["at_px"])) * t["pixel_size_A"] <= 10.0
    # the windows' TiN a, each on its own film standard (the periodic cell strains the model's film a little):
    # right within its CI, never a wrong verdict
    lo, hi = report.strain.ci95_pct
    assert lo <= tin_deviation_on_film_standard_pct(t) <= hi
    assert report.strain.strain_verdict in (("ok", "inconclusive") if abs(t["tin_strain_pct"]) < 1 else
                                            ("strained", "inconclusive"))
