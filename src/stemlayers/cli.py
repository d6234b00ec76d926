"""Command-line interface: ``stemlayers analyze``, ``batch``, ``info``, ``simulate``.

A thin shell over the library: every command calls the same functions a
script would, and turns :class:`~stemlayers.InputError` into a one-line
message instead of a traceback: exit 2 for a usage error found before any
work (an output that cannot be written, no input files), exit 1 for an
input that could not be analysed. Environment settings are read here, at
the entry point, and passed down (``STEMLAYERS_MAX_MB``: the largest image
file read, in MB).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .cli_tables import batch_summary_table, console, dry_run_table, err_console, info_table, print_report
from .errors import InputError
from .io.read import max_mb_from_env as read_max_mb
from .io.units import format_value
from .io.write import write_json

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

# the options analyze, batch and info share, declared once
System = Annotated[str, typer.Option("--system", help="auto, or a material system name / TOML path.")]
PixelSize = Annotated[Optional[float], typer.Option("--pixel-size", help="Pixel size in Å, overriding the file's.")]
ReferenceA = Annotated[Optional[float], typer.Option(
    "--reference-a", "--reference-A", help="Reference TiN in-plane a in Å (default: bare TiN, 2.998 Å).")]
ReferenceImage = Annotated[Optional[Path], typer.Option(
    "--reference-image", help="A bare TiN film image: its measured a is the reference.")]


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def _usage_error(message: str) -> typer.Exit:
    """Print one line and return the exit (code 2) for a usage error found before any work."""
    _fail(message)
    return typer.Exit(2)


def max_mb_from_env() -> float | None:
    """``STEMLAYERS_MAX_MB`` (:func:`stemlayers.io.read.max_mb_from_env`); a bad value is a usage error."""
    try:
        return read_max_mb()
    except InputError as exc:
        raise _usage_error(str(exc)) from None


def _version(value: bool) -> None:
    if value:
        from . import __version__

        console.print(f"stemlayers {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    """stemlayers command line."""
    from .runner import keep_freed_memory

    keep_freed_memory()


@app.command()
def info(
    files: Annotated[List[Path], typer.Argument(help="Image files (dm3, dm4, emd, ser, hspy, zspy, mrc, tif, ...).")],
    pixel_size: PixelSize = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per file instead of a table.")] = False,
) -> None:
    """Shape, pixel size, units and metadata of image files (one line of error per bad file)."""
    from .io.read import describe

    max_mb = max_mb_from_env()
    failed = 0
    for path in files:
        try:
            d = describe(path, pixel_size=pixel_size, max_mb=max_mb)
        except InputError as exc:
            _fail(str(exc))
            failed += 1
            continue
        if as_json:
            console.print_json(json.dumps(d))
            continue
        console.print(f"[bold]{d['file']}[/]", soft_wrap=True, highlight=False)
        console.print(info_table(d))
    raise typer.Exit(1 if failed else 0)


@app.command()
def analyze(
    image: Annotated[Path, typer.Argument(help="Image file (dm3, dm4, emd, ser, hspy, zspy, mrc, tif, ...).")],
    system: System = "auto",
    pixel_size: PixelSize = None,
    reference_a: ReferenceA = None,
    reference_image: ReferenceImage = None,
    json_out: Annotated[Optional[str], typer.Option(
        "--json", help="Write the report as JSON to this path (- for stdout).")] = None,
    figure: Annotated[Optional[Path], typer.Option("--figure", help="Write a figure (PNG, SVG or PDF).")] = None,
    orthogonal: Annotated[Optional[Path], typer.Option(
        "--orthogonal", help="A second scan of the same field at 90° scan rotation: the slow-scan drift of "
                             "both is removed and they are averaged first.")] = None,
) -> None:
    """Columns, atomic planes, the spacing profile and the strain check of one image."""
    from .io.write import FIGURE_SUFFIXES, check_output
    from .report.analysis import analyze as run, input_stages, run_to_end

    try:  # outputs first: a wrong path is a usage error, found before minutes of analysis
        if json_out and json_out != "-":
            check_output(json_out, what="JSON report")
        if figure:
            check_output(figure, FIGURE_SUFFIXES, what="figure")
    except InputError as exc:
        raise _usage_error(str(exc)) from None
    max_mb = max_mb_from_env()
    try:
        given = run_to_end(input_stages(image, second=orthogonal, reference=reference_image, system=system,
                                        pixel_size=pixel_size, max_mb=max_mb))
        if reference_image:
            _say_reference(given, reference_image)
        report = run(given.image, system=system, reference_A=given.reference_A if reference_image else reference_a)
    except InputError as exc:
        _fail(str(exc))
        raise typer.Exit(1) from None
    if json_out:
        write_json(report.to_dict(), json_out)
    if figure:
        from .report.figure import plot_report

        plot_report(report, figure)
    if json_out != "-":
        print_report(report)
    if report.unanalysable:  # as a batch's error row: the file could not be analysed
        _fail(f"{report.image.path or report.file}: {report.unanalysable}")
        raise typer.Exit(1)


def _say_reference(given, reference_image):
    """Print the reference TiN a a bare TiN film gave (the seed's strain reference)."""
    console.print(f"reference: TiN in-plane a = {format_value(given.reference_A, given.reference_err_A)} from "
                  f"{reference_image}", highlight=False)


@app.command()
def batch(
    inputs: Annotated[List[str], typer.Argument(metavar="FILES_OR_FOLDERS...",
                                                help="Image files and folders (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", help="The results table (CSV), one row per file.")],
    reports: Annotated[Optional[Path], typer.Option(
        "--reports", help="Folder for per-image JSON and figures (default: OUT_reports).")] = None,
    system: System = "auto",
    pixel_size: Annotated[Optional[float], typer.Option(
        "--pixel-size", help="Pixel size in Å, overriding every file's calibration.")] = None,
    fallback_pixel_size: Annotated[Optional[float], typer.Option(
        "--fallback-pixel-size", help="Pixel size in Å for the files that have no calibration "
                                      "(png, npy, uncalibrated tif); the others keep their own.")] = None,
    reference_a: ReferenceA = None,
    reference_image: ReferenceImage = None,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Write a figure per image.")] = True,
    resume: Annotated[bool, typer.Option("--resume", help="Skip files the table already holds as done.")] = False,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", min=1, help="Worker processes (dask LocalCluster); default: 1 for a batch of under about "
                                 "a minute, else the cores (at most one per file).")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Run on an existing dask scheduler.")] = None,
    timeout: Annotated[Optional[float], typer.Option(
        "--timeout", min=0.001, help="Seconds one image may take; a longer one is an error row (its worker "
                                     "process is restarted) and the batch goes on.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List each file with its size and calibration (and the "
                                                            "files skipped), then stop: no analysis.")] = False,
    sample_pattern: Annotated[Optional[str], typer.Option(
        "--sample-pattern", help="Regular expression naming each file's sample in its name (its first group, "
                                 "else the match); by default a file's sample is its folder.")] = None,
) -> None:
    """Analyse many images into one table, a JSON report and a figure per image. Exit 1 if any failed.

    Ctrl-C stops the batch (exit 130) with the finished rows kept; rerun with --resume to do the rest.
    """
    from .batch import BatchInterrupted, collect_inputs, default_workers, run_batch
    from .io.write import check_output

    try:  # outputs first: a wrong path is a usage error, found before any image is analysed
        check_output(out, (".csv",), what="results table", make_folders=True)
        if reports:
            check_output(reports / "report.json", what="reports folder", make_folders=True)
        if sample_pattern:
            re.compile(sample_pattern)
    except InputError as exc:
        raise _usage_error(str(exc)) from None
    except re.error as exc:
        raise _usage_error(f"--sample-pattern {sample_pattern!r} is not a regular expression: {exc}") from None
    skipped = []
    files = collect_inputs(inputs, skipped)
    if not files:
        raise _usage_error("no image files found in " + ", ".join(inputs))
    if dry_run:
        raise typer.Exit(dry_run_table(files, skipped, pixel_size, fallback_pixel_size))
    max_mb = max_mb_from_env()
    try:
        if reference_image:
            from .report.analysis import input_stages, run_to_end

            # the reference alone: each file of the batch is made into an image on its own
            given = run_to_end(input_stages(reference=reference_image, system=system, pixel_size=pixel_size,
                                            max_mb=max_mb))
            _say_reference(given, reference_image)
            reference_a = given.reference_A
    except InputError as exc:
        raise _usage_error(str(exc)) from None
    try:
        with _progress(len(files)) as advance:
            result = run_batch(inputs, out, system=system, pixel_size=pixel_size, reference_A=reference_a,
                               reports_dir=reports, figures=figures, resume=resume, progress=advance,
                               workers=workers or default_workers(files, figures), scheduler=scheduler,
                               timeout=timeout, fallback_pixel_size=fallback_pixel_size, max_mb=max_mb,
                               sample_pattern=sample_pattern)
    except KeyboardInterrupt as stop:  # Ctrl-C: one line, not a traceback, and the way to carry on
        kept = (f" after {stop.n_done} of {stop.n_total} files (kept in {stop.journal})"
                if isinstance(stop, BatchInterrupted) else "")
        _fail(f"interrupted{kept}; rerun the same command with --resume to analyse the rest")
        raise typer.Exit(130) from None
    batch_summary_table(result)
    raise typer.Exit(1 if result.n_failed else 0)


class _progress:
    """A rich progress bar over the files; entering gives the callback that advances it by one row."""

    def __init__(self, total):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[failed]} failed"), TimeRemainingColumn(),
                            console=err_console, transient=False)
        self.total = total

    def __enter__(self):
        self.bar.__enter__()
        task = self.bar.add_task("analysing", total=self.total, failed=0)

        def advance(row):
            failed = self.bar.tasks[0].fields["failed"] + (row["status"] != "ok")
            self.bar.update(task, advance=1, failed=failed, description=Path(row["file"]).name[:40])

        return advance

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


@app.command()
def simulate(
    out: Annotated[Path, typer.Argument(help="Output image: .hspy, .zspy, .tif or .emd (calibrated); "
                                             "the truth goes to NAME.truth.json beside it.")],
    system: Annotated[str, typer.Option("--system", help="Material system name or TOML path.")] = "Bi2Te3/TiN",
    interface: Annotated[str, typer.Option("--interface", help="bilayer | vdw | deteriorated")] = "bilayer",
    strain: Annotated[float, typer.Option("--strain", help="TiN in-plane strain in %.")] = 0.0,
    pixel_size: Annotated[float, typer.Option("--pixel-size", help="Pixel size in Å.")] = 0.10,
    size: Annotated[int, typer.Option("--size", help="Image size in pixels (square).")] = 512,
    rotation: Annotated[float, typer.Option("--rotation", help="Rotation in degrees (180: TiN on top).")] = 0.0,
    flip: Annotated[bool, typer.Option("--flip", help="Mirror the specimen.")] = False,
    dose: Annotated[float, typer.Option("--dose", help="Counts at the brightest column's centre.")] = 150.0,
    jitter: Annotated[float, typer.Option("--jitter", help="Scan-line jitter, rms px.")] = 0.0,
    drift: Annotated[float, typer.Option("--drift", help="Drift shear (dimensionless, e.g. 0.003).")] = 0.0,
    probe: Annotated[float, typer.Option("--probe", help="Probe core sigma in Å.")] = 0.40,
    units: Annotated[str, typer.Option("--units", help="Units written into the file: pm, Å, nm or µm.")] = "Å",
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Simulate a calibrated HAADF-STEM cross-section with its ground truth."""
    from .simulate import INTERFACES, SimulationParams, simulate as run, write_simulation

    if interface not in INTERFACES:
        raise _usage_error(f"--interface must be one of {', '.join(INTERFACES)} (got {interface!r})")
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
