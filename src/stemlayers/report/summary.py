"""Summaries of a batch for people: markdown and a self-contained HTML page.

Both are written next to the results table from its rows: counts per system
and interface class, the strain verdicts, the failures with their messages,
and one line per analysed image with units and uncertainties. The HTML page
embeds a small thumbnail of every analysed image (base64 PNG), so it can be
mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections import Counter
from pathlib import Path

import numpy as np

from ..io.write import write_text_atomic
from ..numeric import binned

__all__ = ["image_thumbnail_png", "pixel_size_sources", "skipped_text", "thumbnail_path", "thumbnail_png",
           "write_html_summary", "write_summary"]

#: Longest side of a thumbnail in pixels.
THUMBNAIL_PX = 160


def _number(value, digits) -> str:
    """`value` with `digits` decimals, or '-' when it is empty or not a number."""
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "-"


def _counts(rows):
    """Images per (system, class) and the strain verdicts (yes, no, not measured) of the analysed rows."""
    ok = [r for r in rows if r["status"] == "ok"]
    classes = sorted(Counter((r["system"], r["interface_class"]) for r in ok).items())
    verdicts = Counter(str(r["strain_ok"]) for r in ok)
    unmeasured = sum(n for k, n in verdicts.items() if k not in ("True", "False"))
    return classes, (verdicts.get("True", 0), verdicts.get("False", 0), unmeasured)


def _strain_text(row) -> str:
    """The strain verdict as a reader wants it: ok, strained, inconclusive (CI across 1 %) or no verdict."""
    return row.get("strain_verdict") or ("no verdict" if row.get("strain_ok") in (None, "") else str(row["strain_ok"]))


def _calibration_warnings(rows):
    """(file, warning) of every analysed image whose file calibration is off from what its film implies."""
    return [(r["file"], r["calibration_warning"]) for r in rows if r.get("calibration_warning")]


def pixel_size_sources(rows):
    """One sentence on where the analysed images' pixel sizes came from, naming the files not from their own."""
    ok = [r for r in rows if r["status"] == "ok"]
    counts = Counter(r.get("pixel_size_source") or "file" for r in ok)
    names = {"file": "from the file", "--pixel-size": "--pixel-size override", "fallback": "--fallback-pixel-size"}
    text = ", ".join(f"{names[k]} {counts[k]}" for k in names if counts.get(k))
    others = [f"{r['file']} ({r['pixel_size_source']}, {_number(r['pixel_size_A'], 4)} Å/px)" for r in ok
              if r.get("pixel_size_source") in ("--pixel-size", "fallback")]
    return text, others


def skipped_text(skipped) -> str:
    """'3 files skipped (not images): .json 2, .md 1', or '' when none were."""
    if not skipped:
        return ""
    kinds = Counter(Path(f).suffix.lower() or "(no suffix)" for f in skipped)
    return (f"{len(skipped)} file(s) in the folders skipped (not images): "
            + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))


def _figure_of(row):
    """The figure written for a row (beside its JSON report), or None."""
    if not row.get("report"):
        return None
    figure = Path(row["report"]).with_suffix(".png")
    return figure if figure.exists() else None


def write_summary(rows, path, skipped=()) -> Path:
    """A markdown summary of a batch: counts per system and class, strain verdicts, failures, each file.

    Written atomically next to the table; figures are linked where they exist.
    `skipped` lists the files of the input folders that were not images.
    """
    path = Path(path)
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    classes, (yes, no, unmeasured) = _counts(rows)
    lines = [f"# Batch summary: {len(rows)} files, {len(ok)} analysed, {len(failed)} failed", "",
             "| system | interface class | images |", "|---|---|---|"]
    lines += [f"| {system} | {klass} | {n} |" for (system, klass), n in classes]
    lines += ["", f"TiN strain below 1 %: yes {yes}, no {no}, not measured {unmeasured}", ""]
    sources, others = pixel_size_sources(rows)
    lines += [x for x in (sources and f"pixel size: {sources}", skipped_text(skipped)) if x] + [""]
    if others:
        lines += ["## Pixel size not from the file", ""] + [f"- `{x}`" for x in others] + [""]
    if failed:
        lines += ["## Failed", ""] + [f"- `{r['file']}`: {r['error']}" for r in failed] + [""]
    warned = _calibration_warnings(ok)
    if warned:
        lines += ["## Calibration warnings", ""] + [f"- `{f}`: {w}" for f, w in warned] + [""]
    lines += ["## Images", "", "| file | class (confidence) | gap (Å) | TiN a (Å) | deviation (%) | strain < 1 % | figure |",
              "|---|---|---|---|---|---|---|"]
    for r in ok:
        figure = _figure_of(r)
        link = f"![]({os.path.relpath(figure, path.parent)})" if figure else "-"
        lines.append(f"| `{r['file']}` | {r['interface_class']} ({_number(r['confidence'], 2)}) | "
                     f"{_number(r['interface_gap_A'], 3)} ± {_number(r['interface_gap_err_A'], 3)} | "
                     f"{_number(r['tin_inplane_A'], 4)} ± {_number(r['tin_inplane_err_A'], 4)} | "
                     f"{_number(r['tin_inplane_deviation_pct'], 2)} | {_strain_text(r)} | {link} |")
    return write_text_atomic(path, "\n".join(lines) + "\n")


def _downsample(data, size=THUMBNAIL_PX) -> np.ndarray:
    """`data` shrunk by block means to at most `size` pixels a side, as uint8 (1-99 % percentile stretch)."""
    data = np.asarray(data, dtype=np.float32)
    block = max(1, int(np.ceil(max(data.shape) / size)))
    small = binned(data, block)
    lo, hi = np.nanpercentile(small, [1, 99])
    scaled = np.clip((small - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    return np.nan_to_num(scaled * 255).astype(np.uint8)


def image_thumbnail_png(data, size=THUMBNAIL_PX) -> bytes:
    """PNG bytes of a 2D image shrunk to `size` pixels on its longest side (block means, 1-99 % stretch)."""
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(_downsample(data, size)).save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail_path(report_path) -> Path:
    """Where the batch task keeps the thumbnail of an image it analysed without a figure."""
    return Path(report_path).with_suffix(".thumb.png")


def thumbnail_png(row, size=THUMBNAIL_PX) -> bytes | None:
    """A small PNG of a row's image: its figure if one was written, else its thumbnail, else the image.

    The batch task writes the thumbnail while it holds the image, so the
    summary of a large batch does not read every image again.

    The image is `size` pixels on its longest side, a figure `size` high and at most twice as wide.

    Parameters
    ----------
    row : dict
        A batch row (``file``, ``report``, ``pixel_size_A``).
    size : int
        Thumbnail size in pixels.

    Returns
    -------
    bytes or None
        PNG bytes, or None if neither the figure nor the image can be read.
    """
    from PIL import Image as PILImage

    figure = _figure_of(row)
    thumbnail = thumbnail_path(row["report"]) if row.get("report") else None
    try:
        if not figure and thumbnail is not None and thumbnail.exists():
            return thumbnail.read_bytes()
        if figure:
            # a figure is a row of panels: as high as a thumbnail, up to two wide, to stay legible
            picture = PILImage.open(figure)
            picture.thumbnail((2 * size, size))
        else:
            from ..io.read import load

            # the pixel size is only needed to load uncalibrated formats; the row has it
            pixel_size = float(row["pixel_size_A"]) if row.get("pixel_size_A") not in (None, "") else None
            return image_thumbnail_png(load(row["file"], pixel_size=pixel_size).data, size)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        return buffer.getvalue()
    except Exception:  # noqa: BLE001 - a missing picture must not stop the summary
        return None


_STYLE = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0}"
          "td,th{border:1px solid #bbb;padding:.25em .5em;text-align:right}td.l,th.l{text-align:left}"
          ".err{color:#a00}img{display:block}")


def _table(header, body_rows) -> str:
    """An HTML table; cells are (text, left-aligned) pairs, already escaped."""
    head = "".join(f"<th class='l'>{h}</th>" if left else f"<th>{h}</th>" for h, left in header)
    body = "".join("<tr>" + "".join(f"<td class='l'>{c}</td>" if left else f"<td>{c}</td>" for c, left in cells)
                   + "</tr>\n" for cells in body_rows)
    return f"<table><tr>{head}</tr>\n{body}</table>"


def _image_cells(row) -> list:
    """One analysed image's cells: values with units and their uncertainties, and the thumbnail."""
    e = html.escape
    png = thumbnail_png(row)
    picture = (f"<img alt='{e(Path(row['file']).name)}' src='data:image/png;base64,"
               f"{base64.b64encode(png).decode('ascii')}'>" if png else "-")
    ci = (f"[{_number(row['tin_inplane_ci95_lo_pct'], 2)}, {_number(row['tin_inplane_ci95_hi_pct'], 2)}]"
          if row.get("tin_inplane_ci95_lo_pct") not in (None, "") else "-")
    return [(picture, True), (e(row["file"]), True), (e(row["system"]), True),
            (f"{e(str(row['interface_class']))} ({_number(row['confidence'], 2)})", True),
            (f"{_number(row['interface_gap_A'], 3)} ± {_number(row['interface_gap_err_A'], 3)}", False),
            (f"{_number(row['tin_inplane_A'], 4)} ± {_number(row['tin_inplane_err_A'], 4)}", False),
            (f"{_number(row['tin_inplane_deviation_pct'], 2)} {ci}", False), (e(_strain_text(row)), True),
            (e(str(row["n_columns"])), False), (e(str(row["n_layers"])), False), (_number(row["seconds"], 2), False)]


def write_html_summary(rows, path, skipped=()) -> Path:
    """A self-contained HTML summary of a batch, with a thumbnail of every analysed image.

    Counts per system and class, strain verdicts, the failures with their
    messages, and a table of the analysed images (Å, %, ± 1 sigma, 95 % CI).
    Thumbnails are embedded as base64 PNGs of at most :data:`THUMBNAIL_PX`
    pixels, made from each image's figure if it was written, else from the
    image file. Written atomically.
    """
    e = html.escape
    path = Path(path)
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    classes, (yes, no, unmeasured) = _counts(rows)
    title = f"Batch summary: {len(rows)} files, {len(ok)} analysed, {len(failed)} failed"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
             f"<style>{_STYLE}</style></head><body>", f"<h1>{e(title)}</h1>",
             _table([("system", True), ("interface class", True), ("images", False)],
                    [[(e(s), True), (e(str(k)), True), (str(n), False)] for (s, k), n in classes]),
             f"<p>TiN in-plane strain below 1 %: yes {yes}, no {no}, not measured {unmeasured}</p>"]
    sources, others = pixel_size_sources(rows)
    parts += [f"<p>{e(x)}</p>" for x in (sources and f"pixel size: {sources}", skipped_text(skipped)) if x]
    if others:
        parts.append("<h2>Pixel size not from the file</h2><ul>"
                     + "".join(f"<li><code>{e(x)}</code></li>" for x in others) + "</ul>")
    if failed:
        parts.append("<h2>Failed</h2><ul>" + "".join(
            f"<li><code>{e(r['file'])}</code>: <span class='err'>{e(r['error'])}</span></li>" for r in failed)
            + "</ul>")
    warned = _calibration_warnings(ok)
    if warned:
        parts.append("<h2>Calibration warnings</h2><ul>" + "".join(
            f"<li><code>{e(f)}</code>: {e(w)}</li>" for f, w in warned) + "</ul>")
    header = [("image", True), ("file", True), ("system", True), ("class (confidence)", True),
              ("interface gap (Å)", False), ("TiN in-plane a (Å)", False), ("deviation (%) [95 % CI]", False),
              ("strain &lt; 1 %", True), ("columns", False), ("planes", False), ("time (s)", False)]
    parts += ["<h2>Images</h2>", _table(header, [_image_cells(r) for r in ok]),
              "<p>± values are 1-sigma uncertainties; the deviation is from the reference TiN in-plane a.</p>",
              "</body></html>"]
    return write_text_atomic(path, "\n".join(parts) + "\n")
