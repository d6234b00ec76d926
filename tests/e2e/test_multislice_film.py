"""Film defects on multislice references: abTEM PRISM cells (whole-cell probe window) whose film holds a
septuple lamella or a stacking reversal, made by ``refgen/thick_multislice.py --film-blocks``."""

from pathlib import Path

import pytest
from multislice_refs import orientations, truth_of

from stemlayers import analyze, load

FOLDER = Path(__file__).resolve().parents[1] / "data" / "multislice_film"
CASES = sorted(FOLDER.glob("*.hspy"))


def test_the_references_are_there():
    assert CASES


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_the_defect_is_named_and_the_interface_keeps_its_class(path):
    t = truth_of(path)
    image = load(path)
    for name, data in orientations(image.data).items():
        report = analyze(load(data, pixel_size=image.pixel_size_A))
        said = f"{path.stem} {name}"
        assert report.system == t["system"] and report.interface.interface_class == t["interface"], said
        found = [(d.kind, d.height_A) for d in report.film_defects]
        assert [k for k, _ in found] == [d["kind"] for d in t["film_defects"]], said
        assert all(abs(h - d["height_A"]) < 0.3 for (_, h), d in zip(found, t["film_defects"])), said
        assert report.strain.tin_inplane_A == pytest.approx(t["tin_inplane_A"], rel=0.003), said
        assert report.strain.strain_verdict in (("ok", "inconclusive") if abs(t["tin_strain_pct"]) < 1
                                                else ("strained", "inconclusive")), said
