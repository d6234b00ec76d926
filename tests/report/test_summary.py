"""The batch summary (markdown and HTML) from real table rows of simulated images."""

import pytest

from stemlayers.batch import analyze_one, error_row
from stemlayers.report.summary import pixel_size_sources, skipped_text, write_html_summary, write_summary
from stemlayers.simulate import SimulationParams, simulate, write_simulation


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("summary")
    out = []
    for k, (interface, strain) in enumerate([("bilayer", 0.0), ("vdw", 2.0)]):
        sim = simulate(SimulationParams(interface=interface, tin_strain_pct=strain, shape=(256, 256), seed=k))
        path = write_simulation(sim, folder / f"{interface}.hspy")
        out.append(analyze_one(str(path), reports_dir=folder / "reports", figures=False))
    out.append(error_row("broken.tif", "broken.tif: not an image file"))
    return out


def test_markdown_counts_classes_strain_and_failures(rows, tmp_path):
    assert [r["interface_class"] for r in rows[:2]] == ["bilayer", "vdw"]
    text = write_summary(rows, tmp_path / "summary.md", skipped=["notes.txt"]).read_text()
    assert text.startswith("# Batch summary: 3 files, 2 analysed, 1 failed")
    assert "| Bi2Te3/TiN | bilayer | 1 |" in text and "| Bi2Te3/TiN | vdw | 1 |" in text
    assert "TiN strain below 1 %: yes 1, no 1, not measured 0" in text
    assert "- `broken.tif`: broken.tif: not an image file" in text
    assert "1 file(s) in the folders skipped (not images): .txt 1" in text
    for r in rows[:2]:
        assert f"{float(r['tin_inplane_A']):.4f} ± {float(r['tin_inplane_err_A']):.4f}" in text


def test_html_lists_every_file(rows, tmp_path):
    html = write_html_summary(rows, tmp_path / "summary.html").read_text()
    assert all(r["file"] in html for r in rows) and html.lstrip().lower().startswith("<!doctype html")


def test_pixel_size_sources_name_the_overridden_files():
    rows = [dict(status="ok", file="a.tif", pixel_size_source="file", pixel_size_A=0.1),
            dict(status="ok", file="b.tif", pixel_size_source="fallback", pixel_size_A=0.12),
            dict(status="error", file="c.tif", pixel_size_source="", pixel_size_A="")]
    text, others = pixel_size_sources(rows)
    assert text == "from the file 1, --fallback-pixel-size 1"
    assert others == ["b.tif (fallback, 0.1200 Å/px)"]
    assert skipped_text([]) == ""
