"""Command-line interface: ``stemlayers analyze``, ``batch``, ``info``, ``simulate``.

A thin shell over the library: every command calls the same functions a
script would, and turns :class:`~stemlayers.InputError` into a one-line
message (exit 1) instead of a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import InputError
from .units import format_pm

app = typer.Typer(
    name="stemlayers",
    help="Atomic columns, atomic planes and interface verdicts from HAADF-STEM cross-sections "
         "of Bi2Te3/Bi2Se3 on TiN(111).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help: one line per option at any width, flags as "--figures / --no-figures" (the rich
    # panels print "<bool>" beside every flag and wrap the help to a few words per line at 80 columns)
    rich_markup_mode=None,
    context_settings={"max_content_width": 100, "help_option_names": ["-h", "--help"]},
)
console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        console.print(f"stemlayers {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")) -> None:
    """stemlayers command line."""


def _info_table(d: dict) -> Table:
    """A file's description for people: every length with its unit."""
    width, height = d["field_of_view_A"]
    rows = [
        ("format", f"{d['format']} ({d['dtype']})"),
        ("size", f"{d['shape'][1]} x {d['shape'][0]} px"),
        ("pixel size", f"{d['pixel_size_A']:.5g} Å/px"
         + ("" if d["pixel_size_plausible"] else "  [implausible for atomic resolution]")),
        ("calibration in file", f"{d['original_scale']:.6g} {d['original_units']}/px"
         if d.get("original_units") else "none"),
        ("field of view", f"{width:.1f} x {height:.1f} Å ({width / 10:.2f} x {height / 10:.2f} nm)"),
        ("intensity", f"min {d['min']:.4g}, max {d['max']:.4g}, mean {d['mean']:.4g}, std {d['std']:.4g} counts"),
    ]
    skip = {"format", "dtype", "original_units", "original_scale", "calibration"}
    rows += [(key.replace("_", " "), str(value)) for key, value in d["metadata"].items() if key not in skip]
    table = Table(show_header=False)
    for key, value in rows:
        table.add_row(key, value)
    return table


@app.command()
def info(
    files: List[Path] = typer.Argument(..., help="Image files (dm3, dm4, emd, ser, hspy, zspy, mrc, tif, ...)."),
    pixel_size: Optional[float] = typer.Option(None, "--pixel-size", help="Pixel size in Å, overrides the file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per file instead of a table."),
) -> None:
    """Shape, pixel size, units and metadata of image files (one line of error per bad file)."""
    from .io import describe

    failed = 0
    for path in files:
        try:
            d = describe(path, pixel_size=pixel_size)
        except InputError as exc:
            _fail(str(exc))
            failed += 1
            continue
        if as_json:
            console.print_json(json.dumps(d))
            continue
        console.print(f"[bold]{d['file']}[/]", soft_wrap=True, highlight=False)
        console.print(_info_table(d))
    raise typer.Exit(1 if failed else 0)


def _print_report(report) -> None:
    console = Console(width=max(Console().width, 120))  # tables stay readable when piped
    d = report.to_dict()
    s, i = d["strain"], d["interface"]
    cal = d["calibration"]
    summary = Table(show_header=False, title=f"{d['file']}: {d['system'] or 'no known material system'}",
                    title_justify="left")
    source = (report.image.metadata.get("calibration", "file") if report.image is not None else "file")
    summary.add_row("pixel size", f"{d['pixel_size_A']:.4f} Å/px ("
                    + ("from the file" if source == "file" else "--pixel-size") + ")")
    summary.add_row("length standard", f"{cal['standard']} in-plane, {cal['height_standard']} along the growth axis"
                    + (f"; file pixel size {cal['file_error_pct']:+.2f} % from the film lattice's"
                       if cal["file_error_pct"] is not None else ""))
    summary.add_row("columns", f"{d['n_columns']} ({d['n_unassigned']} in no plane)")
    summary.add_row("atomic planes", str(len(d["layers"])))
    if i["class"] == "deteriorated":
        where = f"band {format_pm(i['band_thickness_A'])} thick, no gap"
    else:
        where = f"gap {format_pm(i['gap_A'], i['gap_err_A'])}"
    summary.add_row("interface", f"{i['class'] or 'not decidable'}"
                    + (f" (confidence {i['confidence']:.2f}); {where}" if i["class"] else ""))
    if s["tin_inplane_A"] is not None:
        lo, hi = s["ci95_pct"]
        parts = ""
        if s.get("tin_inplane_sys_err_A"):  # the film standard's own uncertainty, beside the measurement's
            parts = (f"; 1σ {1000 * s['tin_inplane_stat_err_A']:.1f} pm statistical, "
                     f"{1000 * s['tin_inplane_sys_err_A']:.1f} pm systematic")
        summary.add_row("TiN in-plane a", f"{format_pm(s['tin_inplane_A'], s['tin_inplane_err_A'])} "
                        f"({s['deviation_pct']:+.2f} %, 95 % CI [{lo:+.2f}, {hi:+.2f}] %) vs {s['reference_A']:.3f} Å"
                        + parts)
    verdict = {"ok": "ok (within the whole 95 % CI)", "strained": "strained (beyond, whole 95 % CI)",
               "inconclusive": "inconclusive (the 95 % CI straddles the threshold)"}.get(s.get("strain_verdict"),
                                                                                      "no verdict")
    summary.add_row(f"strain < {s['threshold_pct']:g} %", verdict)
    if s["tin_over_ti_ratio"] is not None:
        summary.add_row("TiN/TI in-plane ratio", format_pm(s["tin_over_ti_ratio"], s["tin_over_ti_ratio_err"], ""))
    for line in d["messages"] + i["evidence"]:
        summary.add_row("note", line)
    summary.add_row("time", f"{d['seconds']:.2f} s")
    console.print(summary)
    if cal.get("warning"):
        err_console.print(f"[bold yellow]warning:[/] {d['file']}: {cal['warning']}", highlight=False, soft_wrap=True)
    profile = Table(title="spacing profile (from the substrate up; 0 = top TiN plane)", title_justify="left")
    for name in ("height (Å)", "spacing to next (Å)", "material", "element", "in-plane period (Å)", "columns",
                 "scatter (pm)"):
        profile.add_column(name, justify="right")
    for L in d["layers"]:
        profile.add_row(format_pm(L["height_A"], L["height_err_A"], ""), format_pm(L["spacing_to_next_A"], L["spacing_err_A"], ""),
                        L["material"], L["element"] or "-", format_pm(L["inplane_period_A"], L["inplane_period_err_A"], ""),
                        str(L["n_columns"]), f"{100 * L['scatter_A']:.1f}")
    console.print(profile)


def _write_json(data: dict, target: str) -> None:
    text = json.dumps(data, indent=1)
    if target == "-":
        sys.stdout.write(text + "\n")
        return
    from .writers import write_text_atomic

    write_text_atomic(target, text)


@app.command()
def analyze(
    image: Path = typer.Argument(..., help="Image file (dm3, dm4, emd, ser, hspy, zspy, mrc, tif, ...)."),
    system: str = typer.Option("auto", "--system", help="auto, or a material system name / TOML path."),
    pixel_size: Optional[float] = typer.Option(None, "--pixel-size", help="Pixel size in Å, overrides the file."),
    reference_a: Optional[float] = typer.Option(None, "--reference-A",
                                                help="Reference TiN in-plane a in Å (default: bare TiN, 2.998 Å)."),
    reference_image: Optional[Path] = typer.Option(None, "--reference-image",
                                                   help="A bare TiN film image: its a is the reference."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Write the report as JSON to this path (- for stdout)."),
    figure: Optional[Path] = typer.Option(None, "--figure", help="Write a figure (PNG, SVG or PDF)."),
) -> None:
    """Columns, atomic planes, the spacing profile and the strain check of one image."""
    from .analysis import analyze as run
    from .writers import FIGURE_SUFFIXES, check_output

    try:  # outputs first: a wrong path is a usage error, found before minutes of analysis
        if json_out and json_out != "-":
            check_output(json_out, what="JSON report")
        if figure:
            check_output(figure, FIGURE_SUFFIXES, what="figure")
    except InputError as exc:
        _fail(str(exc))
        raise typer.Exit(2)
    try:
        if reference_image:
            reference_a = _reference_from_image(reference_image, system, pixel_size)
        report = run(image, system=system, pixel_size=pixel_size, reference_A=reference_a)
    except InputError as exc:
        _fail(str(exc))
        raise typer.Exit(1)
    if json_out:
        _write_json(report.to_dict(), json_out)
    if figure:
        from .figure import plot_report

        plot_report(report, figure)
    if json_out != "-":
        _print_report(report)


def _reference_from_image(reference_image, system, pixel_size):
    """The TiN in-plane a of a bare TiN film analysed the same way (the seed's reference)."""
    from .analysis import reference_from_image

    value, err = reference_from_image(reference_image, system=system, pixel_size=pixel_size)
    console.print(f"reference: TiN in-plane a = {format_pm(value, err)} from {reference_image}", highlight=False)
    return value


@app.command()
def batch(
    inputs: List[str] = typer.Argument(..., metavar="FILES_OR_FOLDERS...",
                                       help="Image files and folders (searched recursively)."),
    out: Path = typer.Option(..., "--out", help="The results table (CSV), one row per file."),
    reports: Optional[Path] = typer.Option(None, "--reports",
                                           help="Folder for per-image JSON and figures (default: OUT_reports)."),
    system: str = typer.Option("auto", "--system", help="auto, or a material system name / TOML path."),
    pixel_size: Optional[float] = typer.Option(None, "--pixel-size",
                                               help="Pixel size in Å, overriding every file's calibration."),
    fallback_pixel_size: Optional[float] = typer.Option(
        None, "--fallback-pixel-size", help="Pixel size in Å for the files that have no calibration "
                                            "(png, npy, uncalibrated tif); the others keep their own."),
    reference_a: Optional[float] = typer.Option(None, "--reference-A", help="Reference TiN in-plane a in Å."),
    reference_image: Optional[Path] = typer.Option(None, "--reference-image",
                                                   help="A bare TiN film image: its a is the reference."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Write a figure per image."),
    resume: bool = typer.Option(False, "--resume", help="Skip files the table already holds as done."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1,
                                          help="Worker processes (dask LocalCluster); default: 1 for a batch "
                                               "of under about a minute, else the cores (at most one per file)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run on an existing dask scheduler."),
    timeout: Optional[float] = typer.Option(None, "--timeout", min=0.001,
                                            help="Seconds one image may take; a longer one is an error row "
                                                 "(its worker process is restarted) and the batch goes on."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List each file with its size and calibration "
                                                          "(and the files skipped), then stop: no analysis."),
) -> None:
    """Analyse many images into one table, a JSON report and a figure per image. Exit 1 if any failed.

    Ctrl-C stops the batch (exit 130) with the finished rows kept; rerun with --resume to do the rest.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .batch import BatchInterrupted, collect_inputs, default_workers, run_batch

    from .writers import check_output

    try:  # outputs first: a wrong path is a usage error, found before any image is analysed
        check_output(out, (".csv",), what="results table", make_folders=True)
        if reports:
            check_output(reports / "report.json", what="reports folder", make_folders=True)
    except InputError as exc:
        _fail(str(exc))
        raise typer.Exit(2)
    skipped = []
    files = collect_inputs(inputs, skipped)
    if not files:
        _fail("no image files found in " + ", ".join(inputs))
        raise typer.Exit(2)
    if dry_run:
        raise typer.Exit(_print_dry_run(files, skipped, pixel_size, fallback_pixel_size))
    try:
        if reference_image:
            reference_a = _reference_from_image(reference_image, system, pixel_size)
    except InputError as exc:
        _fail(str(exc))
        raise typer.Exit(2)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[failed]} failed"), TimeRemainingColumn())
    try:
        with Progress(*columns, console=err_console, transient=False) as bar:
            task = bar.add_task("analysing", total=len(files), failed=0)

            def advance(row):
                failed = bar.tasks[0].fields["failed"] + (row["status"] != "ok")
                bar.update(task, advance=1, failed=failed, description=Path(row["file"]).name[:40])

            n_workers = workers or default_workers(files, figures)
            result = run_batch(inputs, out, system=system, pixel_size=pixel_size, reference_A=reference_a,
                               reports_dir=reports, figures=figures, resume=resume, progress=advance,
                               workers=n_workers, scheduler=scheduler, timeout=timeout,
                               fallback_pixel_size=fallback_pixel_size)
    except KeyboardInterrupt as stop:  # Ctrl-C: one line, not a traceback, and the way to carry on
        kept = (f" after {stop.n_done} of {stop.n_total} files (kept in {stop.journal})"
                if isinstance(stop, BatchInterrupted) else "")
        _fail(f"interrupted{kept}; rerun the same command with --resume to analyse the rest")
        raise typer.Exit(130)
    _print_batch_summary(result)
    raise typer.Exit(1 if result.n_failed else 0)


def _print_dry_run(files, skipped, pixel_size, fallback_pixel_size) -> int:
    """One line per file (size, pixel size and where it comes from), the skipped files; the exit code."""
    from .errors import MissingCalibration
    from .io import describe

    table = Table(title=f"{len(files)} image file(s) (dry run: nothing analysed)", title_justify="left")
    for name in ("file", "size (px)", "pixel size (Å/px)", "from", "field (nm)"):
        table.add_column(name, justify="left" if name in ("file", "from") else "right")
    unreadable = 0
    for f in files:
        source = "override" if pixel_size is not None else "file"
        try:
            try:
                d = describe(f, pixel_size=pixel_size)
            except MissingCalibration:
                if fallback_pixel_size is None:
                    raise
                source, d = "fallback", describe(f, pixel_size=fallback_pixel_size)
        except InputError as exc:
            unreadable += 1
            table.add_row(f, "-", "-", f"[red]{exc}[/]", "-")
            continue
        width, height = d["field_of_view_nm"]
        calibration = (f"file ({d['original_scale']:.6g} {d['original_units']}/px)"
                       if source == "file" and d.get("original_units") else source)
        table.add_row(f, f"{d['shape'][1]} x {d['shape'][0]}", f"{d['pixel_size_A']:.4f}", calibration,
                      f"{width:.1f} x {height:.1f}")
    Console(width=max(Console().width, 120)).print(table)
    if skipped:
        from .summary import skipped_text

        console.print(skipped_text(skipped), highlight=False)
    return 1 if unreadable else 0


def _print_batch_summary(result) -> None:
    from collections import Counter

    ok = [r for r in result.rows if r["status"] == "ok"]
    from .batch import summary_paths

    markdown, page = summary_paths(result.table)
    table = Table(title=f"{len(result.rows)} files: {result.n_ok} analysed, {result.n_failed} failed "
                        f"-> {result.table}, {markdown.name}, {page.name}", title_justify="left", show_header=False)
    for (system, klass), n in sorted(Counter((r["system"], r["interface_class"]) for r in ok).items()):
        table.add_row(f"{system}", f"{klass}: {n}")
    verdicts = Counter(r.get("strain_verdict") or "no verdict" for r in ok)
    table.add_row("TiN strain < 1 %", ", ".join(f"{name} {verdicts.get(name, 0)}" for name in
                                                ("ok", "strained", "inconclusive", "no verdict")))
    from .summary import pixel_size_sources, skipped_text

    sources, others = pixel_size_sources(result.rows)
    if sources:
        table.add_row("pixel size", sources)
    for line in others:
        table.add_row("", line)
    if result.skipped:
        table.add_row("skipped", skipped_text(result.skipped))
    for r in ok:
        if r.get("calibration_warning"):
            table.add_row("warning", f"{r['file']}: {r['calibration_warning']}")
    for r in result.rows:
        if r["status"] != "ok":
            table.add_row("failed", r["error"])
    Console(width=max(Console().width, 120)).print(table)


@app.command()
def simulate(
    out: Path = typer.Argument(..., help="Output image: .hspy, .zspy, .tif or .emd (calibrated); "
                                         "the truth goes to NAME.truth.json beside it."),
    system: str = typer.Option("Bi2Te3/TiN", "--system", help="Material system name or TOML path."),
    interface: str = typer.Option("bilayer", "--interface", help="bilayer | vdw | deteriorated"),
    strain: float = typer.Option(0.0, "--strain", help="TiN in-plane strain in %."),
    pixel_size: float = typer.Option(0.10, "--pixel-size", help="Pixel size in Å."),
    size: int = typer.Option(512, "--size", help="Image size in pixels (square)."),
    rotation: float = typer.Option(0.0, "--rotation", help="Rotation in degrees (180: TiN on top)."),
    flip: bool = typer.Option(False, "--flip", help="Mirror the specimen."),
    dose: float = typer.Option(150.0, "--dose", help="Counts at the brightest column's centre."),
    jitter: float = typer.Option(0.0, "--jitter", help="Scan-line jitter, rms px."),
    drift: float = typer.Option(0.0, "--drift", help="Drift shear (dimensionless, e.g. 0.003)."),
    probe: float = typer.Option(0.40, "--probe", help="Probe core sigma in Å."),
    units: str = typer.Option("Å", "--units", help="Units written into the file: pm, Å, nm or µm."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Simulate a calibrated HAADF-STEM cross-section with its ground truth."""
    from .simulate import INTERFACES, SimulationParams, simulate as run, write_simulation

    if interface not in INTERFACES:
        _fail(f"--interface must be one of {', '.join(INTERFACES)} (got {interface!r})")
        raise typer.Exit(2)
    params = SimulationParams(
        system=system, interface=interface, tin_strain_pct=strain, pixel_size_A=pixel_size,
        shape=(size, size), rotation_deg=rotation, flip=flip, dose=dose, jitter_px=jitter,
        drift_shear=drift, probe_sigma_A=probe, seed=seed)
    try:
        sim = run(params)
        write_simulation(sim, out, units=units)
    except InputError as exc:
        _fail(str(exc))
        raise typer.Exit(1)
    console.print(f"wrote {out} ({size}x{size} px at {pixel_size:.4f} Å/px, "
                  f"{len(sim.truth.x_px)} columns, {sim.seconds:.2f} s) and its truth JSON")


def run() -> None:  # pragma: no cover - console entry point helper
    sys.exit(app())
