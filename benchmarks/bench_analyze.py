"""End-to-end speed: one 2048 x 2048 image, and a batch on 1 vs 2 dask workers.

    python benchmarks/bench_analyze.py [N_IMAGES SIZE [REPEATS]]

1. ``stemlayers.analyze`` on a 2048 x 2048 Bi2Te3/TiN image at 0.18 Å/px
   (~20k columns): seconds (median of 3) as a library call in a plain Python
   process, then as the command line runs it (``runner.keep_freed_memory``),
   and peak memory (tracemalloc, which tracks NumPy's allocations, and the
   process's peak RSS).
2. ``stemlayers.batch.run_batch`` over N simulated SIZE x SIZE images (files
   on disk, JSON reports written, no figures; default 24 x 2048^2) with 1
   worker (in process; the fit may use every core for its threads), with 1
   worker held to one core (OMP_NUM_THREADS=1, which the fit's threads follow),
   and with a 2-process dask LocalCluster, run REPEATS times in turn (default 3):
   median wall times and the speed-ups. The 2-worker wall time includes starting
   and closing the cluster (measured on its own too), and the median seconds per
   image inside the workers show what running two at once costs each image
   (caches and memory bandwidth shared by the cores). On a machine shared with
   other work the times are noisy: compare medians, and the per-image seconds.

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
from stemlayers.runner import keep_freed_memory
from stemlayers.simulate import SimulationParams, sample_params, simulate, write_simulation


def _median_seconds(image, repeats=3):
    """Median wall seconds of analyze(`image`), the first run's, and the last report."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        report = analyze(image)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), times[0], report


def large_image() -> dict:
    """Time and memory of analyze() on a 2048 x 2048 image, as a library call and as the command line runs it."""
    sim = simulate(SimulationParams(shape=(2048, 2048), pixel_size_A=0.18, seed=3))
    image = load(sim.data, pixel_size=sim.pixel_size_A)
    analyze(load(sim.data[:512, :512], pixel_size=sim.pixel_size_A))  # warm up imports
    # the library's call in a process as Python starts it first: the allocator setting cannot be taken back
    library_seconds, _, _ = _median_seconds(image)
    keep_freed_memory()
    seconds, first, report = _median_seconds(image)
    tracemalloc.start()
    analyze(image)
    traced = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(seconds=seconds, first=first, library_seconds=library_seconds, columns=report.n_columns,
                layers=len(report.planes), traced_mb=traced, rss_mb=rss, klass=report.interface.interface_class)


def _timed_batch(folder, table, workers, one_core=False):
    """Wall seconds of one batch, its failures, and the median seconds per image inside the task."""
    import os

    saved = os.environ.get("OMP_NUM_THREADS")
    if one_core:
        os.environ["OMP_NUM_THREADS"] = "1"
    try:
        start = time.perf_counter()
        result = run_batch([str(folder)], table, figures=False, workers=workers)
        wall = time.perf_counter() - start
    finally:
        if one_core and saved is None:
            del os.environ["OMP_NUM_THREADS"]
        elif one_core:
            os.environ["OMP_NUM_THREADS"] = saved
    per_image = float(np.median([float(r["seconds"]) for r in result.rows if r["seconds"] != ""]))
    return wall, result.n_failed, per_image


def cluster_overhead() -> float:
    """Seconds to start (workers importing the analysis) and close a 2-process LocalCluster, as run_batch does."""
    from dask.distributed import Client

    from stemlayers.runner import _cluster

    start = time.perf_counter()
    with _cluster(2, None) as cluster, Client(cluster):
        pass
    return time.perf_counter() - start


def batch_speedup(n_images=24, size=2048, repeats=3) -> dict:
    """Median wall times of a batch on 1 worker (all cores / one core) and on 2, same files, in turn."""
    rng = np.random.default_rng(0)
    runs = {"1": [], "1core": [], "2": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for i in range(n_images):
            write_simulation(simulate(sample_params(rng, shape=(size, size), pixel_size_A=0.18)),
                             folder / f"image_{i:02d}.hspy")
        for _ in range(repeats):  # in turn, so that other load on the machine hits all alike
            runs["1"].append(_timed_batch(folder, Path(tmp) / "w1.csv", 1))
            runs["1core"].append(_timed_batch(folder, Path(tmp) / "w1c.csv", 1, one_core=True))
            runs["2"].append(_timed_batch(folder, Path(tmp) / "w2.csv", 2))
    out = {k: float(np.median([r[0] for r in v])) for k, v in runs.items()}
    out.update({f"per_image_{k}": float(np.median([r[2] for r in v])) for k, v in runs.items()})
    out.update({f"failed_{k}": max(r[1] for r in v) for k, v in runs.items()})
    out["all"] = {k: [round(r[0], 1) for r in v] for k, v in runs.items()}
    return out


def main() -> None:
    console = Console(width=140)
    big = large_image()
    table = Table(title="stemlayers end to end", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("2048 x 2048 analyze as the command line runs it, seconds (median of 3)", f"{big['seconds']:.2f}",
                  "<= 1 s (goal)")
    table.add_row("  first run", f"{big['first']:.2f}", "")
    table.add_row("  as a library call in a plain Python process (median of 3)", f"{big['library_seconds']:.2f}", "")
    table.add_row("  columns / planes / class", f"{big['columns']} / {big['layers']} / {big['klass']}", "")
    table.add_row("  peak memory, tracemalloc (MB)", f"{big['traced_mb']:.0f}", "< 2000")
    table.add_row("  process peak RSS (MB)", f"{big['rss_mb']:.0f}", "< 2000")
    args = [int(a) for a in sys.argv[1:4]]
    n_images, size, repeats = args + [24, 2048, 3][len(args):]
    speed = batch_speedup(n_images, size, repeats)
    overhead = cluster_overhead()
    table.add_row(f"batch of {n_images} x {size}^2, 1 worker (s, median of {repeats})", f"{speed['1']:.1f}", "")
    table.add_row("  1 worker held to one core (s)", f"{speed['1core']:.1f}", "")
    table.add_row(f"batch of {n_images} x {size}^2, 2 workers (s, median of {repeats})", f"{speed['2']:.1f}", "")
    table.add_row("  of which starting and closing the cluster (s)", f"{overhead:.1f}", "")
    table.add_row("speed-up, 2 workers vs 1", f"{speed['1'] / speed['2']:.2f}x", ">= 1.8x")
    table.add_row("speed-up, 2 workers vs 1 on one core", f"{speed['1core'] / speed['2']:.2f}x", "")
    table.add_row("seconds per image inside the task, 1 / 1 core / 2 workers (median)",
                  f"{speed['per_image_1']:.2f} / {speed['per_image_1core']:.2f} / {speed['per_image_2']:.2f}", "")
    table.add_row("failed files (1 / 1 core / 2 workers)",
                  f"{speed['failed_1']} / {speed['failed_1core']} / {speed['failed_2']}", "0 / 0 / 0")
    table.add_row("every run's wall time (s)", str(speed["all"]), "")
    console.print(table)


if __name__ == "__main__":
    main()
