"""Batch analysis of files and folders into one results table.

One image is one independent task (:func:`analyze_one`): it never raises, a
bad file becomes an error row with a one-line message, and it writes that
image's JSON report and figure itself, so the tasks run anywhere: in this
process, on a dask.distributed LocalCluster, or on an existing cluster. Rows
stream back as images finish and are appended to a journal (flushed and
synced), the final table (``CSV_COLUMNS``, input order) is written atomically
(a temporary file renamed into place), and ``resume`` skips the files the
journal or the table already hold. With a ``timeout`` an image that runs
too long becomes an error row and its worker process is restarted
(:mod:`stemlayers.runner`); Ctrl-C stops the batch with the journal intact
(:class:`BatchInterrupted`), ready for ``resume``. A markdown and an HTML
summary (:mod:`stemlayers.report.summary`) are written beside the table.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import InputError, MissingCalibration, one_line
from .io.read import READABLE_SUFFIXES
from .io.write import write_json, write_text_atomic
from .report.per_sample import write_sample_results
from .report.summary import write_html_summary, write_summary
from .runner import run_tasks

__all__ = ["BatchInterrupted", "BatchResult", "CSV_COLUMNS", "IMAGE_SUFFIXES", "analyze_one", "collect_inputs",
           "default_workers", "estimated_seconds", "with_pixel_size",
           "error_row", "journal_path", "run_batch", "summary_paths", "write_html_summary", "write_summary",
           "write_table"]

#: Files a folder is searched for (a file given by name is always tried).
IMAGE_SUFFIXES = frozenset(READABLE_SUFFIXES)

#: Columns of the results table, in order (the contract's first, then extras).
CSV_COLUMNS = ["file", "status", "error", "system", "interface_class", "confidence", "n_columns", "n_layers",
               "interface_gap_A", "tin_inplane_A", "tin_inplane_deviation_pct", "strain_ok", "tin_over_ti_ratio",
               "seconds", "interface_gap_err_A", "tin_inplane_err_A", "tin_inplane_ci95_lo_pct",
               "tin_inplane_ci95_hi_pct", "pixel_size_A", "n_unassigned", "report", "strain_verdict",
               "band_thickness_A", "length_standard", "file_calibration_error_pct", "calibration_warning",
               "pixel_size_source", "tin_row_correction_pct", "bilayer_coverage", "vdw_coverage",
               "deteriorated_coverage", "n_steps", "n_film_defects", "interface_length_A", "coverage_err"]


@dataclass(frozen=True)
class BatchResult:
    """The rows of a batch (in input order), how many failed, and the folder files that were not images."""

    rows: list
    n_ok: int
    n_failed: int
    table: Path
    skipped: tuple = ()
    samples: tuple = ()  # the per-sample table (CSV) and its coverage plot (PNG)


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch: the rows finished so far are in the journal, and ``resume`` carries on.

    Attributes
    ----------
    n_done, n_total : int
        Files with a row (from this run or an earlier one) and files in the batch.
    journal : Path
    """

    def __init__(self, n_done, n_total, journal):
        super().__init__(f"batch interrupted after {n_done} of {n_total} files; rows kept in {journal}")
        self.n_done, self.n_total, self.journal = n_done, n_total, Path(journal)


def error_row(file, message, seconds="") -> dict:
    """A table row for a file that could not be analysed (`message` is one line naming the file)."""
    row = dict.fromkeys(CSV_COLUMNS, "")
    row.update(file=str(file), status="error", error=message, seconds=seconds)
    return row


def summary_paths(table) -> tuple[Path, Path]:
    """The markdown and HTML summaries beside a table: ``<stem>_summary.md`` and ``<stem>_summary.html``."""
    table = Path(table)
    return table.with_name(table.stem + "_summary.md"), table.with_name(table.stem + "_summary.html")


def collect_inputs(inputs, skipped=None) -> list[str]:
    """Files as given, and the image files inside folders (recursed, sorted); each path once.

    Parameters
    ----------
    inputs : sequence of str
    skipped : list, optional
        Receives the files inside the folders that are not images (notes, truth JSON, ...).
    """
    found = []
    for item in inputs:
        path = Path(item)
        if path.is_dir() and path.suffix.lower() != ".zspy":
            for sub in sorted(path.rglob("*")):
                if any(part.endswith(".zspy") for part in sub.relative_to(path).parts[:-1]):
                    continue  # inside a zarr store
                if sub.suffix.lower() in IMAGE_SUFFIXES and (sub.is_file() or sub.suffix.lower() == ".zspy"):
                    found.append(str(sub))
                elif skipped is not None and sub.is_file() and not sub.name.startswith("."):
                    skipped.append(str(sub))
        else:
            found.append(str(item))
    return list(dict.fromkeys(found))


#: Serial seconds below which a batch runs in this process: starting worker processes (and importing the
#: analysis and matplotlib in each) costs more than the second core gives back.
CLUSTER_PAYS_AFTER_S = 60.0


def estimated_seconds(files, figures=True) -> float:
    """A rough serial time for a batch: ~0.6 s per megapixel of float32 data, plus ~1.5 s per figure."""
    total = 0.0
    for f in files:
        try:
            size = os.path.getsize(f) if os.path.isfile(f) else 4 * 512 * 512
        except OSError:
            size = 0
        total += 0.6 * size / 4e6 + (1.5 if figures else 0.2)
    return total


def default_workers(files, figures=True, cores=None) -> int:
    """Worker processes for a batch: 1 unless its serial time is long enough for a cluster to pay."""
    cores = cores or os.cpu_count() or 1
    if cores < 2 or len(files) < 2 or estimated_seconds(files, figures) < CLUSTER_PAYS_AFTER_S:
        return 1
    return min(cores, len(files))


def _report_stem(file: str, root: str = "") -> str:
    """A file name for an input's report: its path below `root`, folders joined by '__' (unique)."""
    relative = os.path.relpath(file, root) if root else file
    return str(Path(relative).with_suffix("")).replace(os.sep, "__").replace(":", "_").lstrip("._") or "image"


def with_pixel_size(read, file, pixel_size=None, fallback_pixel_size=None):
    """``read(file, pixel_size)`` with the batch's pixel-size rule, and where the pixel size came from.

    `pixel_size` overrides every file's calibration ("--pixel-size"); otherwise
    the file's own is used ("file"), and `fallback_pixel_size` only for a
    file that has none ("fallback").

    Returns
    -------
    (result, source)
    """
    try:
        return read(file, pixel_size), ("--pixel-size" if pixel_size is not None else "file")
    except MissingCalibration:
        if fallback_pixel_size is None:
            raise
        return read(file, fallback_pixel_size), "fallback"


def analyze_one(file, system="auto", pixel_size=None, reference_A=None, reports_dir=None, figures=True,
                root="", fallback_pixel_size=None, max_mb=None) -> dict:
    """Analyse one file into a table row; never raises.

    Parameters
    ----------
    file : str
        The input as given (it is the row's ``file``).
    system, pixel_size, reference_A
        As for :func:`stemlayers.analyze` (`pixel_size` overrides every file's calibration).
    fallback_pixel_size : float, optional
        Å/px for a file that has no calibration of its own (the row's
        ``pixel_size_source`` says "fallback").
    max_mb : float, optional
        Largest image file read (see :func:`stemlayers.load`).
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
    from .report.analysis import analyze, input_stages, run_to_end

    start = time.perf_counter()

    def took():
        return round(time.perf_counter() - start, 3)

    try:
        def read(f, px):
            return run_to_end(input_stages(f, pixel_size=px, max_mb=max_mb)).image

        image, source = with_pixel_size(read, file, pixel_size, fallback_pixel_size)
        if source == "fallback":  # the report says the pixel size was the batch's, not the file's
            image = replace(image, metadata={**image.metadata, "calibration": "fallback"})
        report = analyze(image, system=system, reference_A=reference_A)
    except InputError as exc:
        return error_row(file, one_line(exc), took())
    except PermissionError as exc:  # the readers check access first; this is a file changed under us
        return error_row(file, f"{file}: permission denied (the file cannot be read): {one_line(exc)}", took())
    except Exception as exc:  # noqa: BLE001 - one image's failure must not stop the batch
        return error_row(file, f"{file}: analysis failed ({type(exc).__name__}: {one_line(exc)})", took())
    d = report.to_dict()
    if report.unanalysable:  # the same sentence and exit code as `stemlayers analyze`
        return error_row(file, f"{file}: {report.unanalysable}", took())
    row = dict.fromkeys(CSV_COLUMNS, "")
    row["file"] = str(file)
    s, i = d["strain"], d["interface"]
    ci = s["ci95_pct"] or ["", ""]
    row.update(status="ok", system=d["system"], interface_class=i["class"] or "not decidable",
               confidence=i["confidence"], n_columns=d["n_columns"], n_layers=len(d["layers"]),
               interface_gap_A=i["gap_A"], interface_gap_err_A=i["gap_err_A"], tin_inplane_A=s["tin_inplane_A"],
               tin_inplane_err_A=s["tin_inplane_err_A"], tin_inplane_deviation_pct=s["deviation_pct"],
               tin_inplane_ci95_lo_pct=ci[0], tin_inplane_ci95_hi_pct=ci[1], strain_ok=s["strain_ok"],
               tin_over_ti_ratio=s["tin_over_ti_ratio"], pixel_size_A=d["pixel_size_A"],
               n_unassigned=d["n_unassigned"], strain_verdict=s.get("strain_verdict"),
               band_thickness_A=i.get("band_thickness_A") if i["class"] == "deteriorated" else None,
               length_standard=d["calibration"].get("standard"),
               file_calibration_error_pct=d["calibration"].get("file_error_pct"),
               calibration_warning=d["calibration"].get("warning"), pixel_size_source=source,
               tin_row_correction_pct=d["calibration"].get("tin_row_correction_pct"),
               seconds=round(d["seconds"], 3))
    row["n_film_defects"] = len(d.get("film_defects") or ()) if d["system"] else ""
    coverage = i.get("coverage")
    if coverage is not None:  # an interface followed along its length: every class's share, zero included
        row.update({f"{k}_coverage": coverage.get(k, 0.0) for k in ("bilayer", "vdw", "deteriorated")},
                   n_steps=len(i.get("steps") or ()),
                   interface_length_A=round(sum(s["length_A"] for s in i.get("segments") or ()), 2),
                   coverage_err=max((i.get("coverage_err") or {}).values(), default=0.0))
    # "seconds" is the analysis (as `analyze` reports it), not the figure drawing nor the queue
    if reports_dir is not None:
        _write_report(report, d, row, Path(reports_dir), _report_stem(str(file), root), figures)
    return {k: ("" if v is None else v) for k, v in row.items()}


def _write_report(report, d, row, reports_dir, stem, figures) -> None:
    """The JSON report and figure of an analysed image; a failure to write them is noted in the row.

    The analysis itself succeeded, so the row stays ``ok`` with the reason in ``error``.
    """
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
        target = write_json(d, reports_dir / f"{stem}.json")
    except OSError as exc:  # e.g. a read-only or full reports folder
        row["error"] = f"report not written: {one_line(exc)}"
        return
    row["report"] = str(target)
    if figures:
        from .report.figure import plot_report

        try:
            plot_report(report, reports_dir / f"{stem}.png")
        except Exception as exc:  # noqa: BLE001 - a figure problem must not lose the result
            row["error"] = f"figure not written: {one_line(exc)}"
    else:
        # the summary's thumbnail, made here while the image is in memory (and in parallel across workers)
        from .report.summary import image_thumbnail_png, thumbnail_path

        try:
            thumbnail_path(target).write_bytes(image_thumbnail_png(report.image.data))
        except OSError:
            pass  # the summary falls back to reading the image


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


def run_batch(inputs, table, system="auto", pixel_size=None, reference_A=None, reports_dir=None, figures=True,
              resume=False, progress=None, workers=1, scheduler=None, timeout=None, task=None,
              fallback_pixel_size=None, max_mb=None, sample_pattern=None) -> BatchResult:
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
    timeout : float, optional
        Seconds one image may take; a longer one becomes an error row and the
        worker process running it is restarted. Needs worker processes, so with
        a timeout even ``workers=1`` runs on a one-process LocalCluster.
    task : callable, optional
        Called as ``task(file, system, pixel_size, reference_A, reports_dir,
        figures, root, fallback_pixel_size, max_mb)`` for each file and
        returning its row without raising (default :func:`analyze_one`); it
        must pickle to reach dask workers.
    fallback_pixel_size : float, optional
        Å/px for files without a calibration of their own (`pixel_size`
        overrides every file's).
    max_mb : float, optional
        Largest image file read (see :func:`stemlayers.load`).
    sample_pattern : str, optional
        Regular expression naming each file's sample in its name (its first group, else the match); by
        default a file's sample is its folder. The per-sample table and plot are written beside `table`.

    Returns
    -------
    BatchResult

    Raises
    ------
    BatchInterrupted
        On Ctrl-C (a KeyboardInterrupt): the cluster is closed, the journal
        holds every finished row, and ``resume=True`` carries on from there.
    """
    table = Path(table)
    reports_dir = Path(reports_dir) if reports_dir else table.with_name(table.stem + "_reports")
    skipped = []
    files = collect_inputs(inputs, skipped)
    journal = journal_path(table)
    table.parent.mkdir(parents=True, exist_ok=True)  # the journal is written there before the table
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
    task_args = (system, pixel_size, reference_A, reports_dir, figures, os.path.relpath(root) if root else "",
                 fallback_pixel_size, max_mb)
    finished = dict(done)

    def on_row(row):
        finished[row["file"]] = row
        _append(journal, row)
        if progress:
            progress(row)

    def on_failure(file, message):
        on_row(error_row(file, message))

    for file in files:
        if file in done and progress:
            progress(done[file])
    try:
        run_tasks([f for f in files if f not in done], task or analyze_one, task_args, on_row, on_failure,
                  workers=workers, scheduler=scheduler, timeout=timeout)
    except KeyboardInterrupt:
        # the runner has closed its cluster on the way out; every finished row is already in the journal
        raise BatchInterrupted(len(finished), len(files), journal) from None
    rows = [finished[f] for f in files]
    write_table(rows, table)
    markdown, page = summary_paths(table)
    write_summary(rows, markdown, skipped)
    write_html_summary(rows, page, skipped)
    samples = write_sample_results(rows, table, sample_pattern)
    n_failed = sum(r["status"] != "ok" for r in rows)
    return BatchResult(rows, len(rows) - n_failed, n_failed, table, tuple(skipped), samples)
