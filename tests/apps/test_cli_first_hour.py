"""A new user's first hour on the command line: every wrong output is a one-line usage error before any
analysis, unit spellings of real files, an implausible pixel size named, and batch calibration sources."""

import csv
import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

import stemlayers.report.analysis
from stemlayers import load
from stemlayers.batch import default_workers, estimated_seconds
from stemlayers.cli import app
from stemlayers.simulate import SimulationParams, simulate
from stemlayers.io.write import save

runner = CliRunner()


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """A small calibrated Bi2Te3/TiN bilayer image (0.1 Å/px)."""
    path = tmp_path_factory.mktemp("first_hour") / "cell.hspy"
    sim = simulate(SimulationParams(system="Bi2Te3/TiN", interface="bilayer", shape=(320, 320), seed=3))
    save(sim.data, path, sim.pixel_size_A)
    return path


@pytest.fixture
def analyses(monkeypatch):
    """Counts the analyses the CLI starts (the real analysis still runs)."""
    calls = []
    real = stemlayers.report.analysis.analyze

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(stemlayers.report.analysis, "analyze", counted)
    return calls


def _one_line_usage_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("args, fragments", [
    (["--json", "/nonexistent/dir/r.json"], ("/nonexistent/dir", "does not exist")),
    (["--figure", "/nonexistent/r.png"], ("/nonexistent", "does not exist")),
    (["--figure", "r.txt"], ("'.txt'", ".png, .svg, .pdf")),
])
def test_analyze_checks_its_outputs_before_any_analysis(image, tmp_path, analyses, args, fragments):
    good_json = tmp_path / "kept.json"
    result = runner.invoke(app, ["analyze", str(image), "--json", str(good_json), *args])
    _one_line_usage_error(result, *fragments)
    assert analyses == [] and not good_json.exists()


def test_batch_checks_its_table_before_any_analysis(image, tmp_path, analyses):
    result = runner.invoke(app, ["batch", str(image), "--out", str(tmp_path / "results.txt")])
    _one_line_usage_error(result, "results table", ".csv")
    assert analyses == [] and not list(tmp_path.iterdir())
    result = runner.invoke(app, ["batch", str(image), "--out", str(tmp_path / "t.csv"),
                                 "--reports", str(image / "reports")])  # below a file: no folder there
    _one_line_usage_error(result, "is not a folder")
    assert analyses == []


def test_axis_units_written_n_m_are_read_as_nm_and_said(image, tmp_path):
    import h5py

    path = tmp_path / "ncem_style.emd"
    save(load(image).data, path, 0.1, units="nm")  # 0.01 nm/px
    with h5py.File(path, "a") as f:  # as NCEM/Berkeley files spell it: plain n_m, no brackets
        for dim in ("dim1", "dim2"):
            f["signals/__unnamed__"][dim].attrs["units"] = np.bytes_("n_m")
    loaded = load(path)
    assert loaded.pixel_size_A == pytest.approx(0.1, rel=1e-6)
    assert loaded.metadata["units_read_as"] == "axis units 'n_m' read as nm"
    report = stemlayers.report.analysis.analyze(path)
    assert "axis units 'n_m' read as nm" in report.messages
    assert report.interface.interface_class == "bilayer"


def test_a_pixel_size_given_in_nm_is_named_implausible(image, tmp_path):
    result = runner.invoke(app, ["analyze", str(image), "--pixel-size", "0.01", "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    squashed = "".join(result.output.replace("│", " ").split())  # the table wraps long notes in its cells
    assert "0.0100Å/px(--pixel-size)" in squashed and "thepixelsizelookswrong" in squashed
    assert "notdecidable" in squashed and "pending" not in squashed
    messages = json.loads((tmp_path / "r.json").read_text())["messages"]
    hint = next(m for m in messages if "Å apart at 0.0100 Å/px" in m)
    suggested = float(re.search(r"at about ([0-9.]+) Å/px", hint).group(1))
    assert 0.05 < suggested < 0.2  # the true 0.1 Å/px within the spread of real column spacings
    report = stemlayers.report.analysis.analyze(image)
    assert not any("looks wrong" in m for m in report.messages)  # the file's own 0.1 Å/px is fine


def test_help_shows_flags_plainly_on_80_columns():
    result = runner.invoke(app, ["batch", "--help"], terminal_width=80)
    assert result.exit_code == 0
    assert "--figures / --no-figures" in result.output and "<bool>" not in result.output
    assert "--fallback-pixel-size" in result.output and "--dry-run" in result.output
    flag_line = next(line for line in result.output.splitlines() if "--figures / --no-figures" in line)
    assert "Write a figure per image." in flag_line  # the help sits beside the flag, not a word per line


@pytest.fixture
def mixed_folder(image, tmp_path):
    """A calibrated image, the same pixels as a bare .npy (no calibration) and a note that is no image."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    save(load(image).data, folder / "calibrated.hspy", 0.1)
    np.save(folder / "bare.npy", load(image).data)
    (folder / "notes.txt").write_text("session notes\n")
    return folder


def test_batch_fallback_pixel_size_only_for_files_without_calibration(mixed_folder, tmp_path):
    out = tmp_path / "t.csv"
    result = runner.invoke(app, ["batch", str(mixed_folder), "--out", str(out), "--no-figures",
                                 "--fallback-pixel-size", "0.1"])
    assert result.exit_code == 0, result.output
    rows = {r["file"].split("/")[-1]: r for r in csv.DictReader(open(out))}
    assert rows["calibrated.hspy"]["pixel_size_source"] == "file"
    assert rows["bare.npy"]["pixel_size_source"] == "fallback"
    assert {r["interface_class"] for r in rows.values()} == {"bilayer"}
    summary = (tmp_path / "t_summary.md").read_text()
    assert "pixel size: from the file 1, --fallback-pixel-size 1" in summary
    assert "1 file(s) in the folders skipped (not images): .txt 1" in summary
    # the analysis time, not the figure nor the queue: the JSON report's own seconds
    report = json.loads(open(rows["calibrated.hspy"]["report"]).read())
    assert float(rows["calibrated.hspy"]["seconds"]) == pytest.approx(report["seconds"], abs=2e-3)
    # the report says where its pixel size came from too
    assert report["calibration"]["pixel_size_source"] == "file"
    assert json.loads(open(rows["bare.npy"]["report"]).read())["calibration"]["pixel_size_source"] == "fallback"


def test_batch_without_fallback_makes_the_bare_file_an_error_row_naming_the_flag(mixed_folder, tmp_path):
    out = tmp_path / "t.csv"
    result = runner.invoke(app, ["batch", str(mixed_folder), "--out", str(out), "--no-figures"])
    assert result.exit_code == 1
    rows = {r["file"].split("/")[-1]: r for r in csv.DictReader(open(out))}
    assert rows["bare.npy"]["status"] == "error" and "--pixel-size" in rows["bare.npy"]["error"]
    assert "pixel_size=" not in rows["bare.npy"]["error"].split("--pixel-size")[0]
    assert rows["calibrated.hspy"]["status"] == "ok"


def test_batch_dry_run_lists_sizes_and_calibrations_and_analyses_nothing(mixed_folder, tmp_path, analyses):
    out = tmp_path / "t.csv"
    result = runner.invoke(app, ["batch", str(mixed_folder), "--out", str(out), "--dry-run",
                                 "--fallback-pixel-size", "0.1"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "320 x 320" in result.output and "fallback" in result.output and "file (0.1 Å/px)" in result.output
    assert "skipped (not images): .txt 1" in result.output
    assert analyses == [] and not out.exists()


def test_small_batches_run_in_one_process():
    assert default_workers(["a.hspy"] * 8, figures=True, cores=2) == 1  # ~12 s serial: a cluster costs more
    assert default_workers(["a.hspy"] * 200, figures=True, cores=2) == 2
    assert estimated_seconds(["missing.hspy"], figures=False) > 0


def test_info_describes_a_file_without_calibration(mixed_folder):
    result = runner.invoke(app, ["info", str(mixed_folder / "bare.npy")], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "320 x 320 px" in result.output and "float32" in result.output
    assert "none in the file: give it with --pixel-size" in result.output
    described = runner.invoke(app, ["info", str(mixed_folder / "bare.npy"), "--json"])
    d = json.loads(described.output)
    assert d["pixel_size_A"] is None and d["shape"] == [320, 320] and "no spatial calibration" in (
        d["metadata"]["calibration_note"])


def test_analyze_and_batch_agree_on_an_image_without_columns(tmp_path):
    """Noise has no columns: the same sentence (with the measured signal-to-noise ratio) and exit 1 in both."""
    noise = tmp_path / "noise.hspy"
    save(np.random.default_rng(0).normal(100.0, 10.0, size=(128, 128)), noise, 0.1)
    single = runner.invoke(app, ["analyze", str(noise)], terminal_width=200)
    assert single.exit_code == 1
    said = "fewer than three atomic columns found: nothing to analyse (the image's signal-to-noise ratio is"
    assert said in single.output
    out = tmp_path / "t.csv"
    many = runner.invoke(app, ["batch", str(noise), "--out", str(out), "--no-figures"])
    assert many.exit_code == 1
    row = next(csv.DictReader(open(out)))
    assert row["status"] == "error" and said in row["error"] and "too weak" in row["error"]


def test_batch_creates_a_missing_output_folder(image, tmp_path):
    out = tmp_path / "new" / "deeper" / "t.csv"
    result = runner.invoke(app, ["batch", str(image), "--out", str(out), "--no-figures"])
    assert result.exit_code == 0, result.output
    assert next(csv.DictReader(open(out)))["status"] == "ok"


def test_to_atomap_raises_no_deprecation_warnings(image):
    import warnings

    from stemlayers import find_columns

    img = load(image)
    columns = find_columns(img)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sublattice = columns.to_atomap(img)
    assert len(sublattice.atom_list) == len(columns)
    assert not [w for w in caught if "deprecat" in str(w.message).lower()]
