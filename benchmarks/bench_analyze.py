"""End-to-end speed: one 2048 x 2048 image, and a batch on 1 vs 2 dask workers.

    python benchmarks/bench_analyze.py

1. ``stemlayers.analyze`` on a 2048 x 2048 Bi2Te3/TiN image at 0.18 Å/px
   (~20k columns): seconds (median of 3) and peak memory (tracemalloc, which
   tracks NumPy's allocations, and the process's peak RSS).
2. ``stemlayers.batch.run_batch`` over 24 simulated 2048 x 2048 images (files
   on disk, JSON reports written, no figures) with 1 worker (in process) and
   with a 2-process dask LocalCluster: wall time and the speed-up. Starting the
   cluster and importing the analysis in each worker costs a few seconds once,
   so the speed-up is only meaningful for batches with real work in them
   (``python benchmarks/bench_analyze.py 24 1024`` for a quicker, smaller run).

A benchmark, not a test: it prints a table.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from stemlayers import analyze, load
from stemlayers.batch import run_batch
from stemlayers.simulate import SimulationParams, sample_params, simulate, write_simulation


def large_image() -> dict:
    """Time and memory of analyze() on a 2048 x 2048 image."""
    sim = simulate(SimulationParams(shape=(2048, 2048), pixel_size_A=0.18, seed=3))
    image = load(sim.data, pixel_size=sim.pixel_size_A)
    analyze(load(sim.data[:512, :512], pixel_size=sim.pixel_size_A))  # warm up imports
    times = []
    for _ in range(3):
        start = time.perf_counter()
        report = analyze(image)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    analyze(image)
    traced = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(seconds=float(np.median(times)), first=times[0], columns=report.n_columns,
                layers=len(report.layers), traced_mb=traced, rss_mb=rss, klass=report.interface["class"])


def batch_speedup(n_images=24, size=2048) -> dict:
    """Wall time of a batch on 1 worker and on 2, same files."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for i in range(n_images):
            write_simulation(simulate(sample_params(rng, shape=(size, size), pixel_size_A=0.18)),
                             folder / f"image_{i:02d}.hspy")
        out = {}
        for workers in (1, 2):
            start = time.perf_counter()
            result = run_batch([str(folder)], Path(tmp) / f"w{workers}.csv", figures=False, workers=workers)
            out[workers] = time.perf_counter() - start
            out[f"failed_{workers}"] = result.n_failed
        return out


def main() -> None:
    console = Console(width=140)
    big = large_image()
    table = Table(title="stemlayers end to end", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("2048 x 2048 analyze, seconds (median of 3)", f"{big['seconds']:.2f}", "< 10 s")
    table.add_row("  first run", f"{big['first']:.2f}", "")
    table.add_row("  columns / planes / class", f"{big['columns']} / {big['layers']} / {big['klass']}", "")
    table.add_row("  peak memory, tracemalloc (MB)", f"{big['traced_mb']:.0f}", "< 2000")
    table.add_row("  process peak RSS (MB)", f"{big['rss_mb']:.0f}", "< 2000")
    n_images, size = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (24, 2048)
    speed = batch_speedup(n_images, size)
    table.add_row(f"batch of {n_images} x {size}^2, 1 worker (s)", f"{speed[1]:.1f}", "")
    table.add_row(f"batch of {n_images} x {size}^2, 2 workers (s)", f"{speed[2]:.1f}", "")
    table.add_row("speed-up, 2 workers vs 1", f"{speed[1] / speed[2]:.2f}x", ">= 1.8x")
    table.add_row("failed files (1 / 2 workers)", f"{speed['failed_1']} / {speed['failed_2']}", "0 / 0")
    console.print(table)


if __name__ == "__main__":
    main()
