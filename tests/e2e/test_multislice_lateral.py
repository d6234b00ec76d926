"""The interface along its length on multislice references: abTEM PRISM cells (whole-cell probe window) whose
interface changes along the cell, made by ``refgen/thick_multislice.py --lateral``."""

import json
from pathlib import Path

import numpy as np
import pytest

from stemlayers import analyze

FOLDER = Path(__file__).resolve().parents[1] / "data" / "multislice_lateral"
CASES = sorted(FOLDER.glob("*.hspy"))


def _truth(path):
    return json.loads(path.with_name(path.name.split(".")[0] + ".truth.json").read_text())


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_segments_steps_and_strain_of_a_lateral_cell(path):
    t = _truth(path)
    report = analyze(path)
    i = report.interface
    assert report.system == t["system"] and i.interface_class == t["interface"]
    classes = [s["class"] for s in t["segments"]]
    lengths = {c: sum(s["length_A"] for s in t["segments"] if s["class"] == c) for c in classes}
    total = sum(lengths.values())
    for klass, length in lengths.items():
        assert i.coverage.get(klass, 0.0) == pytest.approx(length / total, abs=0.1)
    if len(set(classes)) > 1:  # the boundary inside the cell within 1 nm
        (true,) = [s["end_px"] for s in t["segments"][:-1]]
        found = [s.end_px for s in i.segments[:-1] if s.interface_class != "not decidable"]
        assert min(abs(f[0] - true[0]) for f in found) * t["pixel_size_A"] <= 10.0
    assert len(i.steps) == len(t["steps"])
    for step, true in zip(i.steps, t["steps"]):
        assert step.height_planes == true["height_planes"]
        assert abs(step.at_px[0] - true["at_px"][0]) * t["pixel_size_A"] <= 10.0
    assert report.strain.strain_verdict == ("ok" if abs(t["tin_strain_pct"]) < 1 else "strained")
