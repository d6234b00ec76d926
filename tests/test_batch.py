"""stemlayers batch: one row per file, bad files as error rows, exit codes, resume, contract columns."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stemlayers.batch import CSV_COLUMNS, collect_inputs, run_batch
from stemlayers.cli import app
from stemlayers.simulate import SimulationParams, simulate, write_simulation

runner = CliRunner()
CONTRACT = ["file", "status", "error", "system", "interface_class", "confidence", "n_columns", "n_layers",
            "interface_gap_A", "tin_inplane_A", "tin_inplane_deviation_pct", "strain_ok", "tin_over_ti_ratio",
            "seconds"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    (root / "session" / "day2").mkdir(parents=True)
    write_simulation(simulate(SimulationParams(interface="bilayer", shape=(256, 256), seed=1)), root / "session" / "a.hspy")
    write_simulation(simulate(SimulationParams(interface="vdw", system="Bi2Se3/TiN", shape=(256, 256), seed=2)),
                     root / "session" / "day2" / "b.tif")
    (root / "session" / "corrupt.dm3").write_text("not a DigitalMicrograph file")
    (root / "session" / "notes.txt").write_text("ignored: not an image")
    return root


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_folders_are_searched_for_images(folder):
    files = collect_inputs([str(folder / "session")])
    assert [Path(f).name for f in files] == ["a.hspy", "corrupt.dm3", "b.tif"]


def test_batch_rows_exit_code_and_reports(folder, tmp_path):
    out = tmp_path / "results.csv"
    result = runner.invoke(app, ["batch", str(folder / "session"), "--out", str(out)])
    assert result.exit_code == 1  # one file failed
    assert "Traceback" not in result.output
    rows = _read(out)
    assert list(rows[0].keys())[:len(CONTRACT)] == CONTRACT
    by_name = {Path(r["file"]).name: r for r in rows}
    assert set(by_name) == {"a.hspy", "b.tif", "corrupt.dm3"}
    bad = by_name["corrupt.dm3"]
    assert bad["status"] == "error" and "corrupt.dm3" in bad["error"] and "\n" not in bad["error"]
    a, b = by_name["a.hspy"], by_name["b.tif"]
    assert a["status"] == b["status"] == "ok"
    assert (a["system"], a["interface_class"]) == ("Bi2Te3/TiN", "bilayer")
    assert (b["system"], b["interface_class"]) == ("Bi2Se3/TiN", "vdw")
    assert float(a["tin_inplane_A"]) == pytest.approx(2.998, rel=0.003) and a["strain_ok"] == "True"
    assert int(a["n_columns"]) > 50 and int(a["n_layers"]) > 8
    report = json.loads(Path(a["report"]).read_text())
    assert report["interface"]["class"] == "bilayer" and report["file"] == "a.hspy"
    assert Path(a["report"]).with_suffix(".png").stat().st_size > 10_000
    reports = sorted(p.name for p in (tmp_path / "results_reports").iterdir())
    assert reports == ["a.json", "a.png", "day2__b.json", "day2__b.png"]
    summary = (tmp_path / "results_summary.md").read_text()
    assert "3 files, 2 analysed, 1 failed" in summary and "corrupt.dm3" in summary
    assert "| Bi2Te3/TiN | bilayer | 1 |" in summary and "results_reports/a.png" in summary


def test_all_good_exits_zero_and_resume_adds_nothing(folder, tmp_path):
    good = tmp_path / "good"
    shutil.copytree(folder / "session", good, ignore=shutil.ignore_patterns("corrupt.dm3"))
    out = tmp_path / "t.csv"
    assert runner.invoke(app, ["batch", str(good), "--out", str(out), "--no-figures"]).exit_code == 0
    first = _read(out)
    calls = []
    result = run_batch([str(good)], out, figures=False, resume=True, progress=calls.append)
    assert result.n_failed == 0 and len(result.rows) == len(first) == 2
    assert [r["seconds"] for r in _read(out)] == [r["seconds"] for r in first]  # nothing was analysed again


def test_no_inputs_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["batch", str(tmp_path), "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "no image files" in result.output


def test_columns_extend_the_contract():
    assert CSV_COLUMNS[:len(CONTRACT)] == CONTRACT


# ----------------------------------------------------------------------------- on dask.distributed

STABLE = [c for c in CONTRACT if c != "seconds"]


def _stable(rows):
    return [{k: r[k] for k in STABLE} for r in rows]


def test_scheduler_and_workers_give_the_same_rows(folder, tmp_path):
    from dask.distributed import LocalCluster

    local = tmp_path / "local.csv"
    run_batch([str(folder / "session")], local, figures=False, workers=1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = tmp_path / "remote.csv"
        result = runner.invoke(app, ["batch", str(folder / "session"), "--out", str(remote), "--no-figures",
                                     "--scheduler", cluster.scheduler_address])
        assert result.exit_code == 1, result.output
    assert _stable(_read(remote)) == _stable(_read(local))
    two = tmp_path / "two.csv"
    assert runner.invoke(app, ["batch", str(folder / "session"), "--out", str(two), "--no-figures",
                               "--workers", "2"]).exit_code == 1
    assert _stable(_read(two)) == _stable(_read(local))


def test_a_batch_stopped_half_way_resumes_with_each_file_once(folder, tmp_path):
    from stemlayers.batch import analyze_one, journal_path

    out = tmp_path / "r.csv"
    files = collect_inputs([str(folder / "session")])
    # as if killed after the first file: its row is in the journal, no table was written yet
    first = analyze_one(files[0], figures=False)
    journal_path(out).write_text(json.dumps(first) + "\n" + '{"file": "torn', encoding="utf-8")
    seen = []
    result = run_batch([str(folder / "session")], out, figures=False, resume=True, progress=seen.append)
    rows = _read(out)
    assert [r["file"] for r in rows] == files
    assert rows[0]["seconds"] == str(first["seconds"])  # taken from the journal, not analysed again
    assert result.n_failed == 1 and len(seen) == len(files)
    journal = [json.loads(line) for line in journal_path(out).read_text().splitlines()]
    assert sorted(r["file"] for r in journal) == sorted(files)  # each file once, the torn line dropped


def test_hostile_inputs_are_error_rows_and_good_files_still_get_results(tmp_path, monkeypatch):
    import numpy as np

    from stemlayers.writers import save

    hostile = tmp_path / "hostile"
    hostile.mkdir()
    good = simulate(SimulationParams(shape=(256, 256), seed=3))
    write_simulation(good, hostile / "good.hspy")
    (hostile / "empty.dm3").write_bytes(b"")
    full = (hostile / "good.hspy").read_bytes()
    (hostile / "truncated.hspy").write_bytes(full[: len(full) // 2])
    (hostile / "text.dm3").write_text("this is not a DigitalMicrograph file")
    (hostile / "wrong_format.xyz").write_text("1 2 3")
    rng = np.random.default_rng(0)
    import hyperspy.api as hs

    stack = hs.signals.Signal2D(np.stack([good.data[:64, :64]] * 3))
    for axis in stack.axes_manager.signal_axes:
        axis.scale, axis.units = 0.1, "Å"
    stack.save(hostile / "stack.hspy")
    nan = good.data.copy()
    nan[10, 10] = np.nan
    save(nan, hostile / "nan.hspy", 0.1)
    save(np.full((128, 128), 5.0, np.float32), hostile / "constant.hspy", 0.1)
    save(rng.poisson(50, (256, 256)).astype(np.float32), hostile / "noise.hspy", 0.1)
    from PIL import Image as PILImage

    PILImage.fromarray((good.data / good.data.max() * 255).astype(np.uint8)).save(hostile / "uncalibrated.png")
    (hostile / "huge.hspy").write_bytes(full + bytes(4 * len(full)))
    monkeypatch.setenv("STEMLAYERS_MAX_MB", str(4 * len(full) / 1e6))  # only the padded file is over it
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "hostile.csv"
    result = runner.invoke(app, ["batch", "hostile", "hostile/wrong_format.xyz", "--out", str(out), "--no-figures"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    rows = {Path(r["file"]).name: r for r in _read(out)}
    expected_errors = {"empty.dm3": "empty", "truncated.hspy": "truncated.hspy", "text.dm3": "text.dm3",
                       "wrong_format.xyz": "unknown file format", "stack.hspy": "frame", "nan.hspy": "NaN",
                       "constant.hspy": "constant", "noise.hspy": "no atomic columns",
                       "uncalibrated.png": "calibration", "huge.hspy": "limit"}
    for name, phrase in expected_errors.items():
        assert rows[name]["status"] == "error", name
        assert phrase in rows[name]["error"] and "\n" not in rows[name]["error"], (name, rows[name]["error"])
    # the good file in the same batch gets its result
    assert rows["good.hspy"]["status"] == "ok" and rows["good.hspy"]["interface_class"] == "bilayer"
