"""stemlayers batch: one row per file, bad files as error rows, exit codes, resume, contract columns."""

import csv
import html
import json
import os
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
    page = (tmp_path / "results_summary.html").read_text(encoding="utf-8")
    assert page.count("<img") == 2 and page.count("data:image/png;base64,") == 2  # one per analysed image
    assert html.escape(bad["error"]) in page and "3 files, 2 analysed, 1 failed" in page
    assert f"{float(a['tin_inplane_A']):.4f} ± {float(a['tin_inplane_err_A']):.4f}" in page and "(Å)" in page


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
    # without figures each task writes a thumbnail of its image, and the page embeds those
    import base64

    thumbnails = sorted((tmp_path / "t_reports").glob("*.thumb.png"))
    assert len(thumbnails) == 2
    page = (tmp_path / "t_summary.html").read_text(encoding="utf-8")
    assert page.count("<img") == 2 and "Failed" not in page
    assert all(base64.b64encode(t.read_bytes()).decode() in page for t in thumbnails)


def test_no_inputs_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["batch", str(tmp_path), "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "no image files" in result.output


def test_columns_extend_the_contract():
    assert CSV_COLUMNS[:len(CONTRACT)] == CONTRACT
    appended = ["pixel_size_source", "bilayer_coverage", "vdw_coverage", "deteriorated_coverage", "n_steps",
                "n_film_defects"]
    assert all(CSV_COLUMNS.index(a) < CSV_COLUMNS.index(b) for a, b in zip(appended[:-1], appended[1:]))


def test_results_per_sample_by_folder_and_by_pattern(folder, tmp_path):
    out = tmp_path / "results.csv"
    result = runner.invoke(app, ["batch", str(folder / "session"), "--out", str(out), "--no-figures"])
    assert result.exit_code == 1 and "results_samples.csv" in result.output
    by_folder = _read(tmp_path / "results_samples.csv")
    assert {Path(r["sample"]).name for r in by_folder} == {"session", "day2"}
    a_row = next(r for r in _read(out) if r["file"].endswith("a.hspy"))
    assert float(a_row["bilayer_coverage"]) == 1.0 and float(a_row["interface_length_A"]) > 0
    session = next(r for r in by_folder if r["sample"].endswith("session"))
    assert (session["n_images"], session["n_analysed"], session["strain_verdict"]) == ("2", "1", "ok")
    assert (tmp_path / "results_samples.png").stat().st_size > 0
    named = tmp_path / "named.csv"
    again = runner.invoke(app, ["batch", str(folder / "session"), "--out", str(named), "--no-figures",
                        "--sample-pattern", r"^(\w)"])
    assert again.exit_code == 1 and again.exception is None or isinstance(again.exception, SystemExit)
    assert {r["sample"] for r in _read(tmp_path / "named_samples.csv")} == {"a", "b", "c"}
    bad = runner.invoke(app, ["batch", str(folder / "session"), "--out", str(named), "--sample-pattern", "(["])
    assert bad.exit_code == 2 and "--sample-pattern" in bad.output


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

    from stemlayers.io.write import save

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
    nan[: nan.shape[0] * 3 // 4] = np.nan  # a NaN border is filled; an image mostly NaN is not one
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
                       "wrong_format.xyz": "unknown file format", "nan.hspy": "NaN",
                       "constant.hspy": "constant", "noise.hspy": "fewer than three atomic columns found",
                       "uncalibrated.png": "calibration", "huge.hspy": "limit"}
    for name, phrase in expected_errors.items():
        assert rows[name]["status"] == "error", name
        assert phrase in rows[name]["error"] and "\n" not in rows[name]["error"], (name, rows[name]["error"])
    # the good file in the same batch gets its result; a stack of frames is registered and analysed
    assert rows["good.hspy"]["status"] == "ok" and rows["good.hspy"]["interface_class"] == "bilayer"
    assert rows["stack.hspy"]["status"] == "ok"


# ----------------------------------------------------------------------------- faults: hangs, Ctrl-C, permissions

@pytest.fixture
def hanging_task():
    """The task of tests/_slow_task.py, pickled by value so that dask worker processes need not import it."""
    import cloudpickle

    import _slow_task

    cloudpickle.register_pickle_by_value(_slow_task)
    yield _slow_task.hang_on
    cloudpickle.unregister_pickle_by_value(_slow_task)


def _with_a_hanging_file(folder, tmp_path):
    """[hang.hspy, a.hspy, b.tif]: the hanging file first, so the others need the restarted worker."""
    target = tmp_path / "in"
    target.mkdir()
    shutil.copy(folder / "session" / "a.hspy", target / "hang.hspy")
    shutil.copy(folder / "session" / "a.hspy", target / "a.hspy")
    shutil.copy(folder / "session" / "day2" / "b.tif", target / "b.tif")
    return [str(target / name) for name in ("hang.hspy", "a.hspy", "b.tif")]


def test_a_hung_image_times_out_and_the_rest_run_on_the_restarted_worker(folder, tmp_path, hanging_task):
    import time

    from _slow_task import HANG_SECONDS

    files = _with_a_hanging_file(folder, tmp_path)
    start = time.monotonic()
    result = run_batch(files, tmp_path / "t.csv", figures=False, workers=1, timeout=10, task=hanging_task)
    assert time.monotonic() - start < HANG_SECONDS / 3  # did not wait for the hang
    rows = {Path(r["file"]).name: r for r in _read(tmp_path / "t.csv")}
    assert rows["hang.hspy"]["status"] == "error"
    assert rows["hang.hspy"]["error"] == f"{files[0]}: analysis took longer than the 10 s timeout; skipped"
    # one worker process: a.hspy and b.tif ran after it was restarted, with their normal results
    assert (rows["a.hspy"]["status"], rows["a.hspy"]["interface_class"]) == ("ok", "bilayer")
    assert (rows["b.tif"]["status"], rows["b.tif"]["system"]) == ("ok", "Bi2Se3/TiN")
    assert float(rows["a.hspy"]["tin_inplane_A"]) == pytest.approx(2.998, rel=0.003)
    assert result.n_failed == 1


def test_timeout_through_the_cli_exits_one(folder, tmp_path, hanging_task, monkeypatch):
    import functools
    import time

    import stemlayers.batch
    from _slow_task import HANG_SECONDS

    files = _with_a_hanging_file(folder, tmp_path)
    # the CLI's own run_batch, handed the hanging task (the CLI has no option for it)
    monkeypatch.setattr(stemlayers.batch, "run_batch", functools.partial(run_batch, task=hanging_task))
    start = time.monotonic()
    result = runner.invoke(app, ["batch", *files, "--out", str(tmp_path / "c.csv"), "--no-figures",
                                 "--workers", "2", "--timeout", "10"])
    assert time.monotonic() - start < HANG_SECONDS / 3
    assert result.exit_code == 1, result.output
    rows = {Path(r["file"]).name: r for r in _read(tmp_path / "c.csv")}
    assert "took longer than the 10 s timeout" in rows["hang.hspy"]["error"]
    assert rows["a.hspy"]["status"] == rows["b.tif"]["status"] == "ok"
    # the message may wrap inside a table cell: the cell's borders out, its words joined
    assert "took longer than the 10 s timeout" in " ".join(result.output.replace("│", " ").split())


def _alive_in_group(pgid):
    """Processes of group `pgid` that are not zombies (Linux /proc; [] elsewhere)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(stat.parent.name)
    return alive


def test_ctrl_c_keeps_the_journal_and_resume_finishes_each_file_once(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    # the samples twice over: two workers can finish eight small images between the journal's second line and
    # the signal, and then there is nothing left to interrupt
    samples = tmp_path / "in"
    samples.mkdir()
    for image in (Path(__file__).resolve().parents[2] / "sample_images").iterdir():
        if image.suffix in (".tif", ".hspy", ".emd"):
            for copy in ("a", "b"):
                shutil.copy(image, samples / f"{copy}_{image.name}")
    out = tmp_path / "r.csv"
    command = [sys.executable, "-m", "stemlayers", "batch", str(samples), "--out", str(out), "--no-figures",
               "--workers", "2"]
    # a session of its own: Ctrl-C in a terminal reaches the whole process group, workers included
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    journal = Path(str(out) + ".journal")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the batch ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr + stdout
    message = " ".join(stderr.split())
    assert "interrupted after" in message and "rerun the same command with --resume" in message
    # the cluster was closed: no worker process is left behind (dead ones wait a moment to be reaped)
    deadline = time.monotonic() + 30
    while _alive_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive_in_group(proc.pid) == []
    kept = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len(kept) >= 2 and not out.exists()
    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    rows = _read(out)
    files = collect_inputs([str(samples)])
    assert [r["file"] for r in rows] == files  # each file once, in input order
    by_file = {r["file"]: r for r in rows}
    for row in kept:  # rows finished before Ctrl-C were kept, not analysed again
        assert by_file[row["file"]]["seconds"] == str(row["seconds"])
    journal_files = [json.loads(line)["file"] for line in journal.read_text().splitlines()]
    assert sorted(journal_files) == sorted(files)


def _one_good_and(tmp_path, name):
    folder = tmp_path / "in"
    folder.mkdir()
    write_simulation(simulate(SimulationParams(shape=(192, 192), seed=4)), folder / "good.hspy")
    return folder, folder / name


def _error_of(rows, name):
    row = {Path(r["file"]).name: r for r in rows}[name]
    assert row["status"] == "error" and "\n" not in row["error"]
    return row["error"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 file; see the test below")
def test_a_file_without_read_permission_is_an_error_row(tmp_path):
    folder, locked = _one_good_and(tmp_path, "locked.hspy")
    shutil.copy(folder / "good.hspy", locked)
    locked.chmod(0)
    result = run_batch([str(folder)], tmp_path / "p.csv", figures=False)
    assert _error_of(result.rows, "locked.hspy") == f"{locked}: permission denied (the file cannot be read)"
    assert {Path(r["file"]).name: r for r in result.rows}["good.hspy"]["status"] == "ok"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_a_file_without_read_permission_is_an_error_row_for_root_without_its_override(tmp_path):
    import subprocess
    import sys

    folder, locked = _one_good_and(tmp_path, "locked.hspy")
    shutil.copy(folder / "good.hspy", locked)
    locked.chmod(0)
    # root ignores file modes through two capabilities; without them (as a user) the mode holds
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    out = tmp_path / "p.csv"
    run = subprocess.run(drop + [sys.executable, "-m", "stemlayers", "batch", str(folder), "--out", str(out),
                                 "--no-figures", "--workers", "1"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    rows = _read(out)
    assert _error_of(rows, "locked.hspy") == f"{locked}: permission denied (the file cannot be read)"
    assert {Path(r["file"]).name: r for r in rows}["good.hspy"]["status"] == "ok"


def test_a_folder_named_like_an_image_is_an_error_row_not_an_exception(tmp_path):
    from stemlayers.batch import analyze_one

    # what root cannot read either: a folder where a file was expected (a batch given a folder searches it,
    # so the task is called directly, as a worker would with a path that changed under it)
    fake = tmp_path / "x.dm3"
    fake.mkdir()
    assert _error_of([analyze_one(str(fake))], "x.dm3") == f"{fake}: is a directory, not an image file"
