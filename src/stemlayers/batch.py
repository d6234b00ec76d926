"""Batch analysis of files and folders into one results table.

One image is one independent task (:func:`analyze_one`): it never raises, a
bad file becomes an error row with a one-line message, and it writes that
image's JSON report and figure itself, so the tasks run anywhere: in this
process, on a dask.distributed LocalCluster, or on an existing cluster. Rows
stream back as images finish and are appended to a journal (flushed and
synced), the final table (``CSV_COLUMNS``, input order) is written atomically
(a temporary file renamed into place), and ``resume`` skips the files the
journal or the table already hold.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, one_line
from .writers import write_text_atomic

__all__ = ["BatchResult", "CSV_COLUMNS", "IMAGE_SUFFIXES", "analyze_one", "collect_inputs", "journal_path",
           "run_batch", "write_summary", "write_table"]

#: Files a folder is searched for (a file given by name is always tried).
IMAGE_SUFFIXES = {".dm3", ".dm4", ".emd", ".ser", ".hspy", ".zspy", ".mrc", ".tif", ".tiff", ".bcf", ".npy",
                  ".png", ".jpg", ".jpeg"}

#: Columns of the results table, in order (the contract's first, then extras).
CSV_COLUMNS = ["file", "status", "error", "system", "interface_class", "confidence", "n_columns", "n_layers",
               "interface_gap_A", "tin_inplane_A", "tin_inplane_deviation_pct", "strain_ok", "tin_over_ti_ratio",
               "seconds", "interface_gap_err_A", "tin_inplane_err_A", "tin_inplane_ci95_lo_pct",
               "tin_inplane_ci95_hi_pct", "pixel_size_A", "n_unassigned", "report"]


@dataclass(frozen=True)
class BatchResult:
    """The rows of a batch (in input order) and how many failed."""

    rows: list
    n_ok: int
    n_failed: int
    table: Path


def collect_inputs(inputs) -> list[str]:
    """Files as given, and the image files inside folders (recursed, sorted); each path once."""
    found = []
    for item in inputs:
        path = Path(item)
        if path.is_dir() and path.suffix.lower() != ".zspy":
            for sub in sorted(path.rglob("*")):
                if sub.suffix.lower() in IMAGE_SUFFIXES and (sub.is_file() or sub.suffix.lower() == ".zspy") \
                        and not any(part.endswith(".zspy") for part in sub.relative_to(path).parts[:-1]):
                    found.append(str(sub))
        else:
            found.append(str(item))
    return list(dict.fromkeys(found))


def _report_stem(file: str, root: str = "") -> str:
    """A file name for an input's report: its path below `root`, folders joined by '__' (unique)."""
    relative = os.path.relpath(file, root) if root else file
    return str(Path(relative).with_suffix("")).replace(os.sep, "__").replace(":", "_").lstrip("._") or "image"


def analyze_one(file, system="auto", pixel_size=None, reference_A=None, reports_dir=None, figures=True,
                root="") -> dict:
    """Analyse one file into a table row; never raises.

    Parameters
    ----------
    file : str
        The input as given (it is the row's ``file``).
    system, pixel_size, reference_A
        As for :func:`stemlayers.analyze`.
    reports_dir : path, optional
        Where the JSON report (and the figure) of this image go.
    figures : bool
        Also write the PNG figure.
    root : str
        Report files are named by the input's path below this folder.

    Returns
    -------
    dict
        A row with the ``CSV_COLUMNS`` keys.
    """
    from .analysis import analyze

    start = time.perf_counter()
    row = dict.fromkeys(CSV_COLUMNS, "")
    row["file"] = str(file)
    try:
        report = analyze(file, system=system, pixel_size=pixel_size, reference_A=reference_A)
    except InputError as exc:
        row.update(status="error", error=one_line(exc), seconds=round(time.perf_counter() - start, 3))
        return row
    except Exception as exc:  # noqa: BLE001 - one image's failure must not stop the batch
        row.update(status="error", error=f"{file}: analysis failed ({type(exc).__name__}: {one_line(exc)})",
                   seconds=round(time.perf_counter() - start, 3))
        return row
    d = report.to_dict()
    if d["n_columns"] < 3:
        row.update(status="error", error=f"{file}: no atomic columns found (no lattice in the image: noise, "
                                          "a blank frame or the wrong detector?)",
                   seconds=round(time.perf_counter() - start, 3))
        return row
    s, i = d["strain"], d["interface"]
    ci = s["ci95_pct"] or ["", ""]
    row.update(status="ok", system=d["system"], interface_class=i["class"] or "not decidable",
               confidence=i["confidence"], n_columns=d["n_columns"], n_layers=len(d["layers"]),
               interface_gap_A=i["gap_A"], interface_gap_err_A=i["gap_err_A"], tin_inplane_A=s["tin_inplane_A"],
               tin_inplane_err_A=s["tin_inplane_err_A"], tin_inplane_deviation_pct=s["deviation_pct"],
               tin_inplane_ci95_lo_pct=ci[0], tin_inplane_ci95_hi_pct=ci[1], strain_ok=s["strain_ok"],
               tin_over_ti_ratio=s["tin_over_ti_ratio"], pixel_size_A=d["pixel_size_A"],
               n_unassigned=d["n_unassigned"])
    if reports_dir is not None:
        import json

        reports_dir = Path(reports_dir)
        reports_dir.mkdir(parents=True, exist_ok=True)
        stem = _report_stem(str(file), root)
        target = write_text_atomic(reports_dir / f"{stem}.json", json.dumps(d, indent=1))
        row["report"] = str(target)
        if figures:
            from .figure import plot_report

            try:
                plot_report(report, reports_dir / f"{stem}.png")
            except Exception as exc:  # noqa: BLE001 - a figure problem must not lose the result
                row["error"] = f"figure not written: {one_line(exc)}"
    row["seconds"] = round(time.perf_counter() - start, 3)
    return {k: ("" if v is None else v) for k, v in row.items()}


def read_table(path) -> list[dict]:
    """Rows of an existing results table ([] if there is none)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_table(rows, path) -> Path:
    """Write rows as CSV atomically: a temporary file in the same folder, then renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return path


def journal_path(table) -> Path:
    """The journal beside a table: one JSON line per finished file, appended as files finish."""
    table = Path(table)
    return table.with_name(table.name + ".journal")


def _read_journal(path) -> dict:
    """Finished rows by file (a torn last line from a killed run is skipped)."""
    import json

    rows = {}
    if Path(path).exists():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            rows[row["file"]] = row
    return rows


def _append(journal, row) -> None:
    import json

    with open(journal, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _run_tasks(todo, task_args, workers, scheduler, on_row):
    """Run analyze_one over `todo`: in this process, on a LocalCluster of `workers`, or on `scheduler`."""
    if scheduler is None and (workers or 1) <= 1:
        for file in todo:
            on_row(analyze_one(file, *task_args))
        return
    import dask
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if not scheduler:
        # dask's nanny sets MALLOC_TRIM_THRESHOLD_, which turns glibc's adaptive mmap threshold off: every
        # array over 128 kB is then mmap'ed and page-faulted afresh, and the fit's many temporaries run up
        # to 20x slower. A fixed, large mmap threshold gives the workers the speed of a plain process.
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 1 << 27}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with Client(scheduler or cluster) as client:
            futures = {client.submit(analyze_one, file, *task_args, pure=False): file for file in todo}
            for future in as_completed(futures):
                file = futures[future]
                try:
                    row = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died takes only its image
                    row = dict.fromkeys(CSV_COLUMNS, "")
                    row.update(file=file, status="error",
                               error=f"{file}: the worker analysing it failed ({type(exc).__name__}: "
                                     f"{one_line(exc)})")
                on_row(row)
    finally:
        if cluster is not None:
            cluster.close()


def write_summary(rows, path) -> Path:
    """A markdown summary of a batch: counts per system and class, strain verdicts, failures, each file.

    Written atomically next to the table; figures are linked where they exist.
    """
    from collections import Counter

    path = Path(path)
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    lines = [f"# Batch summary: {len(rows)} files, {len(ok)} analysed, {len(failed)} failed", "",
             "| system | interface class | images |", "|---|---|---|"]
    for (system, klass), n in sorted(Counter((r["system"], r["interface_class"]) for r in ok).items()):
        lines.append(f"| {system} | {klass} | {n} |")
    verdicts = Counter(str(r["strain_ok"]) for r in ok)
    lines += ["", f"TiN strain below 1 %: yes {verdicts.get('True', 0)}, no {verdicts.get('False', 0)}, "
                  f"not measured {sum(n for k, n in verdicts.items() if k not in ('True', 'False'))}", ""]
    if failed:
        lines += ["## Failed", ""] + [f"- `{r['file']}`: {r['error']}" for r in failed] + [""]
    lines += ["## Images", "", "| file | class (confidence) | gap (Å) | TiN a (Å) | deviation (%) | strain < 1 % | figure |",
              "|---|---|---|---|---|---|---|"]

    def number(value, digits):
        try:
            return f"{float(value):.{digits}f}"
        except (TypeError, ValueError):
            return "-"

    for r in ok:
        figure = Path(r["report"]).with_suffix(".png") if r.get("report") else None
        link = f"![]({os.path.relpath(figure, path.parent)})" if figure and figure.exists() else "-"
        lines.append(f"| `{r['file']}` | {r['interface_class']} ({number(r['confidence'], 2)}) | "
                     f"{number(r['interface_gap_A'], 3)} ± {number(r['interface_gap_err_A'], 3)} | "
                     f"{number(r['tin_inplane_A'], 4)} ± {number(r['tin_inplane_err_A'], 4)} | "
                     f"{number(r['tin_inplane_deviation_pct'], 2)} | {r['strain_ok']} | {link} |")
    return write_text_atomic(path, "\n".join(lines) + "\n")


def run_batch(inputs, table, system="auto", pixel_size=None, reference_A=None, reports_dir=None, figures=True,
              resume=False, progress=None, workers=1, scheduler=None) -> BatchResult:
    """Analyse every input into `table` (CSV), one row per file in input order.

    Parameters
    ----------
    inputs : sequence of str
        Files and folders (folders are searched recursively for images).
    table : path
        The CSV to write. Rows are also appended to ``table.journal`` as files
        finish, so a killed batch loses nothing and can resume.
    reports_dir : path, optional
        Per-image JSON and figures; by default ``<table stem>_reports`` beside the table.
    resume : bool
        Keep the files already done (status ok in the journal or the table)
        and analyse only the others; no file gets two rows.
    progress : callable, optional
        Called as ``progress(row)`` after each file (e.g. to advance a bar).
    workers : int
        Worker processes of a dask.distributed LocalCluster (1: in this process).
    scheduler : str, optional
        Address of an existing dask scheduler to run on instead.
    """
    table = Path(table)
    reports_dir = Path(reports_dir) if reports_dir else table.with_name(table.stem + "_reports")
    files = collect_inputs(inputs)
    journal = journal_path(table)
    done = {}
    if resume:
        done.update({r["file"]: r for r in read_table(table)})
        done.update(_read_journal(journal))
        done = {f: r for f, r in done.items() if r.get("status") == "ok"}
    # the journal starts over with what is done, in one atomic write (a torn line of a killed run goes);
    # rows follow, appended and synced, as they finish
    import json

    write_text_atomic(journal, "".join(json.dumps(row) + "\n" for row in done.values()))
    root = os.path.commonpath([os.path.dirname(os.path.abspath(f)) for f in files]) if files else ""
    task_args = (system, pixel_size, reference_A, reports_dir, figures, os.path.relpath(root) if root else "")
    finished = dict(done)

    def on_row(row):
        finished[row["file"]] = row
        _append(journal, row)
        if progress:
            progress(row)

    for file in files:
        if file in done and progress:
            progress(done[file])
    _run_tasks([f for f in files if f not in done], task_args, workers, scheduler, on_row)
    rows = [finished[f] for f in files]
    write_table(rows, table)
    write_summary(rows, table.with_name(table.stem + "_summary.md"))
    n_failed = sum(r["status"] != "ok" for r in rows)
    return BatchResult(rows, len(rows) - n_failed, n_failed, table)
