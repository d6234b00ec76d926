"""Every report the project can make from its own data, written to a folder, and two such folders compared.

    .venv/bin/python benchmarks/report_snapshot.py write BEFORE_DIR     # on the old commit
    .venv/bin/python benchmarks/report_snapshot.py write AFTER_DIR      # on the new one
    .venv/bin/python benchmarks/report_snapshot.py compare BEFORE_DIR AFTER_DIR

``write`` analyses the bundled sample images, every committed multislice
reference (thin and thick) and a 60-image trust grid (``bench_trust``'s
wide grid: seed 7, 48 interface images, 12 without an interface, 448 px),
and writes each JSON report, without its ``seconds``, as ``NAME.json``.

``compare`` counts the reports that differ and lists those whose verdicts
(system, class, strain verdict) changed, with the largest change of any
number (``--all``: every report that differs). A
restructuring that is behaviour-neutral shows "identical" for all of them; a
change that may move positions slightly (a faster finder) must keep every
verdict, and the table shows by how much the numbers moved.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

GRID_SEED, GRID_COUNT, GRID_NEGATIVES, GRID_SIZE = 7, 48, 12, 448


def inputs():
    """(name, thing to analyse, pixel size or None) for every snapshot case."""
    from stemlayers.simulate import simulate

    import bench_trust

    files = sorted((ROOT / "sample_images").glob("*.*")) + sorted((ROOT / "tests" / "data").glob("multislice*/*.hspy"))
    for path in files:
        if path.suffix in (".hspy", ".tif", ".tiff", ".emd", ".dm3", ".dm4", ".npy"):
            yield f"{path.parent.name}__{path.name}", path, None
    for i, task in enumerate(bench_trust.tasks(GRID_SEED, GRID_COUNT, GRID_NEGATIVES, 0, GRID_SIZE, 42.0)):
        params = task["params"]
        yield f"grid__{i:03d}_{task['kind']}", simulate(params).data, params.pixel_size_A


def write(folder: Path) -> None:
    import stemlayers
    from stemlayers.io.read import load

    folder.mkdir(parents=True, exist_ok=True)
    cases = list(inputs())
    for name, source, pixel_size in track(cases, description="reports"):
        image = load(source, pixel_size) if pixel_size else source
        report = stemlayers.analyze(image).to_dict()
        report.pop("seconds", None)
        (folder / f"{name}.json").write_text(json.dumps(report, sort_keys=True, default=str) + "\n")


def verdicts(report: dict) -> tuple:
    strain = report.get("strain") or {}
    return report.get("system"), (report.get("interface") or {}).get("class"), strain.get("strain_verdict")


def numbers(value, path=""):
    """Every number in a JSON value, by its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from numbers(item, f"{path}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, float(value)


def largest_change(before: dict, after: dict) -> str:
    old, new = dict(numbers(before)), dict(numbers(after))
    common = [k for k in old if k in new and np.isfinite(old[k]) and np.isfinite(new[k])]
    if not common:
        return "-"
    key = max(common, key=lambda k: abs(new[k] - old[k]) / max(abs(old[k]), 1e-12))
    return f"{key}: {old[key]:.6g} -> {new[key]:.6g}"


def compare(before: Path, after: Path, show_all: bool = False) -> int:
    console = Console()
    names = sorted(p.name for p in before.glob("*.json"))
    missing = [n for n in names if not (after / n).exists()]
    table = Table(title="reports that differ" + ("" if show_all else " in a verdict"), title_justify="left")
    for column in ("report", "verdicts before", "verdicts after", "largest relative change"):
        table.add_column(column)
    changed_verdicts = differ = 0
    for name in names:
        if name in missing:
            continue
        old_text, new_text = (before / name).read_text(), (after / name).read_text()
        if old_text == new_text:
            continue
        differ += 1
        old, new = json.loads(old_text), json.loads(new_text)
        if verdicts(old) != verdicts(new) or show_all:
            changed_verdicts += verdicts(old) != verdicts(new)
            table.add_row(name, str(verdicts(old)), str(verdicts(new)), largest_change(old, new))
    if table.row_count:
        console.print(table)
    console.print(f"{len(names)} reports: {len(names) - differ - len(missing)} identical, {differ} differ "
                  f"({changed_verdicts} in a verdict), {len(missing)} missing after")
    return 1 if changed_verdicts or missing else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("write").add_argument("folder", type=Path)
    pair = sub.add_parser("compare")
    pair.add_argument("before", type=Path)
    pair.add_argument("after", type=Path)
    pair.add_argument("--all", action="store_true", help="list every report that differs, not only verdicts")
    args = parser.parse_args(argv)
    if args.command == "write":
        write(args.folder)
        return 0
    return compare(args.before, args.after, args.all)


if __name__ == "__main__":
    sys.exit(main())
