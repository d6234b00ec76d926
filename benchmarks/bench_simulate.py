"""Render time and peak memory of the simulator, small to 2048 x 2048.

    python benchmarks/bench_simulate.py

Prints a table; a benchmark, not a test.
"""

from __future__ import annotations

import time
import tracemalloc

from rich.console import Console
from rich.table import Table

from stemlayers.simulate import SimulationParams, simulate

CASES = [
    ("512x512 Bi2Te3 0.10 Å/px", dict(shape=(512, 512), pixel_size_A=0.10)),
    ("2048x2048 Bi2Te3 0.10 Å/px", dict(shape=(2048, 2048), pixel_size_A=0.10)),
    ("2048x2048 Bi2Te3 0.18 Å/px (~20k columns)", dict(shape=(2048, 2048), pixel_size_A=0.18)),
    ("2048x2048 Bi2Se3 0.07 Å/px, jitter, tail", dict(shape=(2048, 2048), pixel_size_A=0.07,
                                                        system="Bi2Se3/TiN", jitter_px=0.2, tail_fraction=0.1)),
]


def main() -> None:
    table = Table(title="stemlayers.simulate: render time and peak memory")
    for name in ("case", "columns (Ti and heavier)", "all columns", "seconds", "peak memory (MB)"):
        table.add_column(name)
    simulate(SimulationParams(shape=(64, 64)))  # warm up imports
    for name, kwargs in CASES:
        tracemalloc.start()
        start = time.perf_counter()
        sim = simulate(SimulationParams(**kwargs))
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        table.add_row(name, str(int(sim.truth.visible().sum())), str(len(sim.truth.x_px)),
                      f"{seconds:.2f}", f"{peak:.0f}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
