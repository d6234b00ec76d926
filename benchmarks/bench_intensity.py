"""Verdicts in any intensity units: the sample images and every committed multislice reference, analysed as
float32 and again x1e-4, normalised to 0..1, x1e4, +1000 and as float64.

    .venv/bin/python benchmarks/bench_intensity.py

Prints how many copies keep the system, class and strain verdict of the float32 original, the largest change
of the TiN a (%) and every copy that differs. Target (issue 21): all identical, TiN a within 0.05 %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.progress import track

from stemlayers import analyze, load

ROOT = Path(__file__).resolve().parents[1]
COPIES = {"x1e-4": lambda d: d * 1e-4, "0..1": lambda d: (d - d.min()) / np.ptp(d), "x1e4": lambda d: d * 1e4,
          "+1000": lambda d: d + 1000.0, "float64": lambda d: d}


def verdicts(report) -> tuple:
    return report.system, report.interface.interface_class, report.strain.strain_verdict


def main() -> None:
    files = sorted(p for p in (ROOT / "sample_images").iterdir() if p.suffix in (".hspy", ".tif"))
    files += sorted((ROOT / "tests" / "data").glob("multislice*/*.hspy"))
    same, worst, differ = 0, 0.0, []
    for path in track(files, description="images"):
        image = load(path)
        data = image.data.astype(np.float64)
        base = analyze(load(data.astype(np.float32), pixel_size=image.pixel_size_A))
        for name, copy in COPIES.items():
            report = analyze(load(copy(data), pixel_size=image.pixel_size_A))
            if verdicts(report) == verdicts(base):
                same += 1
            else:
                differ.append(f"{path.name} {name}: {verdicts(base)} -> {verdicts(report)}")
            if base.strain.tin_inplane_A and report.strain.tin_inplane_A:
                worst = max(worst, 100 * abs(report.strain.tin_inplane_A / base.strain.tin_inplane_A - 1))
    total = len(files) * len(COPIES)
    print(f"{len(files)} images x {len(COPIES)} copies: verdicts identical in {same}/{total}; "
          f"TiN a changes by at most {worst:.4f} %")
    for line in differ:
        print("  differs:", line)


if __name__ == "__main__":
    main()
