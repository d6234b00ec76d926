"""No verdict on real micrographs of other materials.

Each image comes from the ``foreign_micrographs`` fixture (real STEM images shipped in the wheels of
atomap, temul-toolkit and hyperspy: SrTiO3 [110] ADF and ABF, monolayer MoS2, Au nanoparticles, a
precipitate). None shows a Bi2Te3/Bi2Se3-on-TiN interface, so the report must say the interface is
not decidable, give no strain verdict, and say why.
"""

from __future__ import annotations

import pytest
from stemlayers.datasets import FOREIGN_MICROGRAPHS

from stemlayers import analyze


@pytest.mark.parametrize("name", tuple(FOREIGN_MICROGRAPHS))
def test_no_verdict_on_foreign_micrograph(foreign_micrographs, name):
    path = dict(foreign_micrographs)[name]
    report = analyze(path).to_dict()
    interface, strain = report["interface"], report["strain"]
    said = f"{name}: system {report['system']}, interface {interface}, strain_ok {strain['strain_ok']}"

    assert interface["class"] is None, said
    assert strain["strain_ok"] is None and strain["strain_verdict"] is None, said
    assert report["system"] is None, said  # no known system fits a foreign lattice
    # the evidence says why: "not decidable: <reason>"
    evidence = interface["evidence"]
    assert evidence and all(isinstance(sentence, str) for sentence in evidence), said
    head, _, reason = evidence[0].partition(":")
    assert head.strip().lower() == "not decidable", said
    assert len(reason.strip()) >= 10, said
    # nothing names TiN or a film: no TiN number, no TiN/TI planes, no message about a film that is not there
    assert all(value in (None, []) for key, value in strain.items() if key != "verdict_note"), said
    assert not {L["material"] for L in report["layers"]} & {"TiN", "TI", "bilayer"}, said
    assert all(L["element"] is None for L in report["layers"]), said
    assert report["calibration"]["warning"] is None and report["calibration"]["file_error_pct"] is None, said
    assert not any("film" in m or "TiN" in m.replace("Bi2Se3/TiN", "").replace("Bi2Te3/TiN", "")
                   for m in report["messages"]), said
