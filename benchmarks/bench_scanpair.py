"""Two scans at 0° and 90° scan rotation against one scan: column positions and TiN a against the truth.

    python benchmarks/bench_scanpair.py [--seeds 6] [--size 512]

Each seed: one simulated field (0.1 Å/px, random rotation, TiN strain -2 to 2 %, 100 counts per column)
scanned twice (``stemlayers.simulate.series.simulate_scan_pair``): each scan with a steady drift of 0.2-0.8 %
of a pixel per row in x and y and its own wandering drift (peak 1.5 px), line jitter 0.3 px. The columns
found in one scan and in ``stemlayers.orthogonal_pair`` of both are compared with the truth after the best
translation alone (a linear drift is an error too), and after the best affine map (what is left once a
linear drift is forgiven); the TiN a of each against the truth. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from stemlayers import analyze, find_columns, load, orthogonal_pair
from stemlayers.simulate.series import affine_residual, simulate_scan_pair


def one(seed, size):
    rng = np.random.default_rng(seed)
    drift = rng.uniform(0.002, 0.008, 2) * rng.choice([-1, 1], 2)
    first, second, sim = simulate_scan_pair(seed=seed, shape=(size, size), dose=100, pixel_size_A=0.1,
                                            rotation_deg=float(rng.uniform(0, 360)),
                                            tin_strain_pct=float(rng.uniform(-2, 2)), drift_per_row=tuple(drift))
    t = sim.truth
    truth = np.column_stack([t.x_px, t.y_px])
    truth = truth[(t.weight > 0.3 * np.median(t.weight)) & np.all((truth > 15) & (truth < size - 15), axis=1)]
    single = load(first, pixel_size=0.1)
    start = time.perf_counter()
    pair = orthogonal_pair(first, second, pixel_size=0.1)
    seconds = time.perf_counter() - start
    crop = np.array(pair.metadata["series"]["crop_px"], float)
    found_one, found_pair = find_columns(single).xy, find_columns(pair).xy + crop
    a_true = t.tin_inplane_A
    return dict(seed=seed, drift=drift, one_t=affine_residual(found_one, truth, affine=False)[0],
                pair_t=affine_residual(found_pair, truth, affine=False)[0], one_a=affine_residual(found_one, truth, (0, 0))[0],
                pair_a=affine_residual(found_pair, truth, (0, 0))[0], seconds=seconds,
                tin_one=100 * (analyze(single).strain.tin_inplane_A / a_true - 1),
                tin_pair=100 * (analyze(pair).strain.tin_inplane_A / a_true - 1),
                degree=pair.metadata["series"]["degree"], matched=pair.metadata["series"]["matched_columns"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args(argv)
    table = Table(title=f"one scan against the orthogonal pair ({args.size}² px; errors against the truth)")
    for col in ("seed", "drift x, y (% px/row)", "one: px after shift", "pair: px after shift",
                "one: px after affine", "pair: px after affine", "TiN a one %", "TiN a pair %", "degree",
                "matched", "pair s"):
        table.add_column(col, justify="right")
    rows = [one(seed, args.size) for seed in range(args.seeds)]
    for r in rows:
        table.add_row(str(r["seed"]), f"{100 * r['drift'][0]:+.2f}, {100 * r['drift'][1]:+.2f}", f"{r['one_t']:.3f}",
                      f"{r['pair_t']:.3f}", f"{r['one_a']:.3f}", f"{r['pair_a']:.3f}", f"{r['tin_one']:+.3f}",
                      f"{r['tin_pair']:+.3f}", str(r["degree"]), str(r["matched"]), f"{r['seconds']:.2f}")
    console = Console(width=160)
    console.print(table)
    med = {k: np.median([abs(r[k]) for r in rows]) for k in ("one_t", "pair_t", "one_a", "pair_a", "tin_one",
                                                                "tin_pair")}
    console.print(f"median: column error after shift {med['one_t']:.3f} -> {med['pair_t']:.3f} px, after affine "
                  f"{med['one_a']:.3f} -> {med['pair_a']:.3f} px; |TiN a error| {med['tin_one']:.3f} -> "
                  f"{med['tin_pair']:.3f} %", highlight=False)


if __name__ == "__main__":
    main()
