"""What the command line prints for people: rich tables in which every number has its unit."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .errors import InputError
from .io.units import format_value, signed

__all__ = ["batch_summary_table", "dry_run_table", "info_table", "print_report"]

console = Console()
err_console = Console(stderr=True)


def _wide() -> Console:
    """A console at least 120 columns wide: tables stay readable when piped."""
    return Console(width=max(Console().width, 120))


def info_table(d: dict) -> Table:
    """A file's description for people: every length with its unit."""
    rows = [
        ("format", f"{d['format']} ({d['dtype']})"),
        ("size", f"{d['shape'][1]} x {d['shape'][0]} px"),
    ]
    if d["pixel_size_A"] is None:
        rows.append(("pixel size", "none in the file: give it with --pixel-size (Å/px) to analyse"))
    else:
        width, height = d["field_of_view_A"]
        rows += [
            ("pixel size", f"{d['pixel_size_A']:.5g} Å/px"
             + ("" if d["pixel_size_plausible"] else "  [implausible for atomic resolution]")),
            ("calibration in file", f"{d['original_scale']:.6g} {d['original_units']}/px"
             if d.get("original_units") else "none"),
            ("field of view", f"{width:.1f} x {height:.1f} Å ({width / 10:.2f} x {height / 10:.2f} nm)"),
        ]
    rows.append(("intensity", f"min {d['min']:.4g}, max {d['max']:.4g}, mean {d['mean']:.4g}, "
                 f"std {d['std']:.4g} (the file's units)"))
    skip = {"format", "dtype", "original_units", "original_scale", "calibration", "calibration_note"}
    rows += [(key.replace("_", " "), str(value)) for key, value in d["metadata"].items() if key not in skip]
    table = Table(show_header=False)
    for key, value in rows:
        table.add_row(key, value)
    return table


def _along_rows(interface) -> list:
    """(label, text) rows of the interface along its length, when it is more than one stretch."""
    from .report.figure._style import coverage_text

    text = coverage_text(interface)
    if text is None:
        return []
    rows = [("coverage", text)]
    rows += [("segment", f"{s.interface_class}, {s.length_A:.0f} Å from ({s.start_px[0]:.0f}, {s.start_px[1]:.0f}) "
              f"to ({s.end_px[0]:.0f}, {s.end_px[1]:.0f}) px"
              + (f"; gap {format_value(s.gap_A, s.gap_err_A)}" if s.gap_A is not None else "")
              + (f"; TiN a {format_value(s.tin_inplane_A, s.tin_inplane_err_A)}" if s.tin_inplane_A else ""))
             for s in interface.segments]
    rows += [("terrace step", f"{s.height_planes} TiN (111) plane(s), {format_value(s.height_A, decimals=2)}, at "
              f"({s.at_px[0]:.0f}, {s.at_px[1]:.0f}) px" + (f" ± {s.at_err_A:.0f} Å" if s.at_err_A else ""))
             for s in interface.steps]
    return rows


def _verdict_rows(report) -> list:
    """(label, text) rows of the interface and strain verdicts, with units and uncertainties."""
    i, s = report.interface, report.strain
    if i.interface_class == "deteriorated":
        where = f"band {format_value(i.band_thickness_A)} thick, no gap"
    else:
        where = f"gap {format_value(i.gap_A, i.gap_err_A)}"
    if i.interface_class == "mixed":
        where = "no single gap: see the segments"
    rows = [("interface", f"{i.interface_class or 'not decidable'}"
             + (f" (confidence {i.confidence:.2f}); {where}" if i.interface_class else ""))]
    rows += _along_rows(i)
    rows += [("film defect", d.sentence()) for d in report.film_defects]
    if s.tin_inplane_A is not None:
        lo, hi = s.ci95_pct
        parts = ""
        if s.tin_inplane_sys_err_A:  # the film standard's own uncertainty, beside the measurement's
            parts = (f"; 1σ {1000 * s.tin_inplane_stat_err_A:.1f} pm statistical, "
                     f"{1000 * s.tin_inplane_sys_err_A:.1f} pm systematic")
        a = format_value(s.tin_inplane_A, s.tin_inplane_err_A)
        rows.append(("TiN in-plane a", f"{a} ({signed(s.deviation_pct)} %, 95 % CI [{signed(lo)}, {signed(hi)}] %) "
                     f"vs {s.reference_A:.3f} Å" + parts))
    if s.threshold_pct is None:  # no known system: nothing in the field is taken for TiN
        rows.append(("strain", "not measured (no known material system in the field)"))
        lattice = report.lattice or {}
        if lattice.get("inplane_period_A"):
            rows.append(("lattice", f"period along the planes {lattice['inplane_period_A']:.3f} Å, plane spacing "
                         f"{format_value(lattice.get('plane_spacing_A'), decimals=3)} (on the pixel size in use)"))
        return rows
    verdict = {"ok": "ok (within the whole 95 % CI)", "strained": "strained (beyond, whole 95 % CI)",
               "inconclusive": "inconclusive (the 95 % CI straddles the threshold)"}.get(s.strain_verdict, "no verdict")
    rows.append((f"strain < {s.threshold_pct:g} %", verdict))
    if s.tin_over_ti_ratio is not None:
        rows.append(("TiN/TI in-plane ratio", format_value(s.tin_over_ti_ratio, s.tin_over_ti_ratio_err, "")))
    return rows


def print_report(report) -> None:
    """Print the verdicts, the length standards and the spacing profile of one report."""
    console = _wide()
    cal = report.calibration
    summary = Table(show_header=False, title=f"{report.file}: {report.system or 'no known material system'}",
                    title_justify="left")
    source = {"file": "from the file"}.get(cal.pixel_size_source, cal.pixel_size_source)
    summary.add_row("pixel size", f"{report.pixel_size_A:.4f} Å/px ({source})"
                    + (f"; the film lattice implies {cal.film_pixel_size_A:.4f} Å/px: the pixel size in use is "
                       f"{cal.inplane_scale:.3f}x ({signed(cal.file_error_pct, 1)} %)" if cal.inplane_scale else ""))
    summary.add_row("length standard", f"{cal.standard} in-plane, {cal.height_standard} along the growth axis")
    summary.add_row("columns", f"{report.n_columns} ({report.n_unassigned} in no plane)")
    summary.add_row("atomic planes", str(len(report.planes)))
    for label, text in _verdict_rows(report):
        summary.add_row(label, text)
    from .report.figure import series_lines

    for line in series_lines(report.series):
        summary.add_row("series", line.removeprefix("series: "))
    for line in list(report.messages) + list(report.interface.evidence):
        summary.add_row("note", line)
    summary.add_row("time", f"{report.seconds:.2f} s")
    console.print(summary)
    if cal.warning():
        err_console.print(f"[bold yellow]warning:[/] {report.file}: {cal.warning()}", highlight=False, soft_wrap=True)
    if not report.planes:
        return
    profile = Table(title="spacing profile (from the substrate up; 0 = top TiN plane)" if report.system else
                    "spacing profile (planes in order along the growth axis; no known material system)",
                    title_justify="left")
    for name in ("height (Å)", "spacing to next (Å)", "material", "element", "in-plane period (Å)", "columns",
                 "scatter (pm)"):
        profile.add_column(name, justify="right")
    for p in report.planes:
        profile.add_row(format_value(p.height_A, p.height_err_A, ""), format_value(p.spacing_to_next_A, p.spacing_err_A, ""),
                        p.material, p.element or "-", format_value(p.inplane_period_A, p.inplane_period_err_A, ""),
                        str(p.n_columns), f"{100 * p.scatter_A:.1f}")
    console.print(profile)


def dry_run_table(files, skipped, pixel_size, fallback_pixel_size) -> int:
    """Print one line per file (size, pixel size and where it comes from) and the skipped files; the exit code."""
    from .batch import with_pixel_size
    from .errors import MissingCalibration
    from .io.read import describe

    def calibrated(file, px):
        d = describe(file, px)
        if d["pixel_size_A"] is None:  # as the batch will find it: the fallback, or the file's error
            raise MissingCalibration(d["metadata"]["calibration_note"])
        return d

    table = Table(title=f"{len(files)} image file(s) (dry run: nothing analysed)", title_justify="left")
    for name in ("file", "size (px)", "pixel size (Å/px)", "from", "field (nm)"):
        table.add_column(name, justify="left" if name in ("file", "from") else "right")
    unreadable = 0
    for f in files:
        try:
            d, source = with_pixel_size(calibrated, f, pixel_size, fallback_pixel_size)
        except InputError as exc:
            unreadable += 1
            table.add_row(f, "-", "-", f"[red]{exc}[/]", "-")
            continue
        width, height = d["field_of_view_nm"]
        calibration = (f"file ({d['original_scale']:.6g} {d['original_units']}/px)"
                       if source == "file" and d.get("original_units") else source)
        table.add_row(f, f"{d['shape'][1]} x {d['shape'][0]}", f"{d['pixel_size_A']:.4f}", calibration,
                      f"{width:.1f} x {height:.1f}")
    _wide().print(table)
    if skipped:
        from .report.summary import skipped_text

        console.print(skipped_text(skipped), highlight=False)
    return 1 if unreadable else 0


def batch_summary_table(result) -> None:
    """Print the batch's counts per system and class, strain verdicts, pixel-size sources, warnings, failures."""
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
    from .report.summary import pixel_size_sources, skipped_text

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
    if result.samples:
        table.add_row("per sample", f"{result.samples[0].name}, {result.samples[1].name}")
    _wide().print(table)
