"""What the analysis says on real micrographs of other materials.

    python benchmarks/bench_foreign.py

The real STEM images that PyPI wheels ship (``stemlayers.datasets``,
the tests' ``foreign_micrographs`` fixture: SrTiO3 [110] ADF and ABF from atomap, monolayer
MoS2 and Au nanoparticles from temul-toolkit, a precipitate from hyperspy's
test files), plus the atomic-resolution files tests/io/test_io.py reads in place
from installed packages, exactly as it reads them. None of them shows a
Bi2Te3/Bi2Se3-on-TiN interface: the right answer on every one is no
interface class (None), no strain verdict (None), and evidence that says why.

Printed for each: the system chosen, the interface class, its confidence,
strain_ok, the first evidence sentence and the seconds ``analyze`` took.
Files are fetched with pip into $STEMLAYERS_TEST_DATA or
~/.cache/stemlayers-test-data, like the tests' own. A benchmark, not a test:
it prints a table and a count of wrong verdicts (exit status 0 either way).
"""

from __future__ import annotations

import os
import sys
import time
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.table import Table

from stemlayers import analyze
from stemlayers.datasets import CACHE_VARIABLE, DataMismatch, DataUnavailable, data_cache, fetch_foreign_micrographs

# real atomic-resolution files tests/io/test_io.py reads from installed packages: (label, distribution,
# path inside it, pixel_size for analyze or None for the file's own)
INSTALLED = [
    ("test_io: temul MoS2 dm3", "temul-toolkit", "temul/example_data/experimental/example_Se_implanted_MoS2.dm3",
     None),
    ("test_io: temul Au emd", "temul-toolkit", "temul/example_data/experimental/example_Au_nanoparticle.emd",
     None),
    ("test_io: atomap ADF hdf5 @0.0933", "atomap", "atomap/tests/datasets/test_ADF_cropped.hdf5", 0.0933),
]


def cases() -> list[tuple[str, Path, float | None]]:
    out = []
    try:
        out += [(name, path, None) for name, path in fetch_foreign_micrographs(data_cache(os.environ.get(CACHE_VARIABLE)))]
    except (DataUnavailable, DataMismatch) as exc:
        print(f"foreign micrographs unavailable: {exc}", file=sys.stderr)
    for label, distribution, relative, pixel_size in INSTALLED:
        try:
            path = Path(metadata.distribution(distribution).locate_file(relative))
        except metadata.PackageNotFoundError:
            print(f"{label}: {distribution} is not installed", file=sys.stderr)
            continue
        if path.is_file():
            out.append((label, path, pixel_size))
    return out


def main() -> int:
    console = Console(width=200)
    table = Table(title="stemlayers.analyze on real micrographs of other materials (right answer: None / None)")
    for column in ("micrograph", "Å/px", "columns", "system", "class", "confidence", "strain_ok",
                   "first evidence sentence", "s"):
        table.add_column(column, overflow="fold")
    wrong = 0
    found = cases()
    for name, path, pixel_size in found:
        start = time.perf_counter()
        try:
            report = analyze(path, pixel_size=pixel_size)
        except Exception as exc:  # an error is a refusal, not a verdict, but show it
            table.add_row(name, "", "", "", "error", "", "", f"{type(exc).__name__}: {exc}",
                          f"{time.perf_counter() - start:.1f}")
            continue
        d = report.to_dict()
        interface, strain = d["interface"], d["strain"]
        evidence = interface["evidence"][0] if interface["evidence"] else ""
        if interface["class"] is not None or strain["strain_ok"] is not None:
            wrong += 1
        table.add_row(name, f"{d['pixel_size_A']:.4g}", str(d["n_columns"]), d["system"], str(interface["class"]),
                      f"{interface['confidence']:.2f}", str(strain["strain_ok"]), evidence, f"{d['seconds']:.1f}")
    console.print(table)
    console.print(f"{wrong} of {len(found)} micrographs got an interface or strain verdict (right: 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
