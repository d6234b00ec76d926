"""The interface along its length on multislice references: abTEM PRISM cells (whole-cell probe window) whose
interface changes along the cell, made by ``refgen/thick_multislice.py --lateral``."""

import json
from pathlib import Path

import numpy as np
import pytest

from stemlayers import analyze

FOLDER = Path(__file__).resolve().parents[1] / "data" / "multislice_lateral"
CASES = sorted(FOLDER.glob("*.hspy"))

#: References the analysis refuses, with the reason it gives: in the bilayer|vdW cell at 10 nm the second Bi
#: plane of each quintuple layer comes out ~25 % dimmer than the first, and a 16 Å window's four columns per
#: plane then take it for Te: no window recognises a quintuple layer (README, "The interface along its length").
REFUSED = {"Bi2Te3_bilayer0-vdw0_s0_t100_d55-80_noisy": "no ordered Bi2Te3 quintuple layer"}


def _truth(path):
    return json.loads(path.with_name(path.name.split(".")[0] + ".truth.json").read_text())


def test_the_references_are_there():
    assert len(CASES) == 2


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_no_wrong_verdict_on_a_lateral_cell(path):
    t = _truth(path)
    report = analyze(path)
    i = report.interface
    assert report.system == t["system"]
    if path.stem in REFUSED:
        assert i.interface_class is None and REFUSED[path.stem] in i.evidence[0]
        assert report.strain.strain_verdict is None
        return
    assert i.interface_class == t["interface"]
    classes = [s["class"] for s in t["segments"]]
    lengths = {c: sum(s["length_A"] for s in t["segments"] if s["class"] == c) for c in classes}
    for klass, length in lengths.items():
        assert i.coverage.get(klass, 0.0) == pytest.approx(length / sum(lengths.values()), abs=0.1)
    assert len(i.steps) == len(t["steps"])
    for step, true in zip(i.steps, t["steps"]):  # each step within 1 nm, in whole planes
        assert step.height_planes == true["height_planes"]
        assert np.hypot(*(np.asarray(step.at_px) - true["at_px"])) * t["pixel_size_A"] <= 10.0
    # the windows' TiN a, each on its own film standard: right within its CI, never a wrong verdict
    lo, hi = report.strain.ci95_pct
    assert lo <= t["tin_strain_pct"] <= hi
    assert report.strain.strain_verdict in (("ok", "inconclusive") if abs(t["tin_strain_pct"]) < 1 else
                                            ("strained", "inconclusive"))
