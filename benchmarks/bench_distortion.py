"""A scan distortion that changes during the frame: the TiN a before and after the scan-wander and row-scale
corrections.

    python benchmarks/bench_distortion.py [--size 512] [--jobs 2] [--figure docs/distortion_correction.png]

Interface fields of `--size` px at 0.1 Å/px, the film in only part of the field (the interface within ±8 Å
of the centre), at eight rotations, Bi2Te3 and Bi2Se3, bilayer and vdW, TiN strains of -2 to 2 %, under:

- none: no distortion;
- stretch: the slow-scan (y) scale changes by 2 % from the top row to the bottom one;
- shear: the shear changes by 2° from the top row to the bottom one;
- stretch + shear: both (the drift's speed changes along y and x during the frame);
- x-scale: the fast-scan scale changes by 2 % from top to bottom (a scan-generator gain, not a drift).

For each: the TiN a error against the truth after the correction (what the report gives), before it (the
report's TiN a times its `tin_row_correction_pct` and `tin_wander_correction_pct`), and how often the 95 % CI covers the truth. A
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import multiprocessing

import numpy as np
from rich.console import Console
from rich.table import Table

from stemlayers import analyze
from stemlayers.simulate import SimulationParams, simulate

TWO_DEGREES = float(np.tan(np.radians(2)))
KINDS = {
    "none": {},
    "stretch": dict(drift_stretch_gradient=0.02),
    "shear": dict(drift_shear_gradient=TWO_DEGREES),
    "stretch + shear": dict(drift_stretch_gradient=0.02, drift_shear_gradient=TWO_DEGREES),
    "x-scale": dict(drift_scale_gradient=0.02),
}
ROTATIONS = (0, 180, 90, 30, -25, 60, 115, 200)


def tasks(size):
    rng = np.random.default_rng(7)
    out = []
    for kind in KINDS:
        for i, rotation in enumerate(ROTATIONS):
            out.append(dict(kind=kind, rotation=rotation, seed=100 + i, size=size,
                            strain=float(rng.uniform(-2, 2)), system=("Bi2Te3/TiN", "Bi2Se3/TiN")[i % 2],
                            interface=("bilayer", "vdw")[(i // 2) % 2]))
    return out


def run(task):
    rng = np.random.default_rng(task["seed"])
    sign = rng.choice([-1, 1])
    distortion = {k: sign * v for k, v in KINDS[task["kind"]].items()}
    sim = simulate(SimulationParams(shape=(task["size"],) * 2, pixel_size_A=0.1, rotation_deg=task["rotation"],
                                    seed=task["seed"], tin_strain_pct=task["strain"], system=task["system"],
                                    interface=task["interface"], interface_offset_A=float(rng.uniform(-8, 8)),
                                    **distortion))
    report = analyze(sim.data, pixel_size=sim.pixel_size_A)
    strain, calibration = report.strain, report.calibration
    true_a = sim.truth.tin_inplane_A
    if strain.tin_inplane_A is None:
        return dict(task, after=None)
    # both corrections undone: the scan wander's, then the row scale's
    correction = 100 * ((1 + (calibration.tin_row_correction_pct or 0.0) / 100)
                        * (1 + (calibration.tin_wander_correction_pct or 0.0) / 100) - 1)
    true_dev = 100 * (true_a / strain.reference_A - 1)
    return dict(task, after=100 * (strain.tin_inplane_A / true_a - 1),
                before=100 * (strain.tin_inplane_A * (1 + correction / 100) / true_a - 1),
                half_ci=0.5 * (strain.ci95_pct[1] - strain.ci95_pct[0]),
                covered=bool(strain.ci95_pct[0] <= true_dev <= strain.ci95_pct[1]), correction=correction,
                klass=report.interface.interface_class, truth_class=task["interface"])


def figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.8), constrained_layout=True)
    for k, kind in enumerate(KINDS):
        rows = [r for r in results if r["kind"] == kind and r["after"] is not None]
        x = k + np.linspace(-0.3, 0.3, len(rows))
        ax.scatter(x, [r["before"] for r in rows], marker="o", facecolors="none", edgecolors="0.5",
                   label="before (one film-to-TiN ratio)" if k == 0 else None)
        ax.errorbar(x, [r["after"] for r in rows], yerr=[r["half_ci"] for r in rows], fmt="o", ms=4,
                    color="tab:blue", elinewidth=0.8, label="after, with its 95 % CI" if k == 0 else None)
    ax.axhspan(-0.1, 0.1, color="tab:green", alpha=0.15, label="±0.1 % target")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(range(len(KINDS)), [f"{kind}" for kind in KINDS])
    ax.set_ylabel("TiN a error against the truth, %")
    ax.set_title("Scan distortion changing from the top row to the bottom one (2 % scale, 2° shear); "
                 "8 rotations each", fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--jobs", type=int, default=2, choices=(1, 2))
    parser.add_argument("--figure", default=None)
    args = parser.parse_args(argv)
    todo = tasks(args.size)
    if args.jobs > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(run, todo, chunksize=2)
    else:
        results = [run(t) for t in todo]
    table = Table(title=f"TiN a error against the truth, % ({len(ROTATIONS)} rotations each, {args.size}² px)")
    for col in ("distortion", "before: median |err|", "before: max |err|", "after: median |err|",
                "after: max |err|", "CI covers", "class right"):
        table.add_column(col, justify="right")
    for kind in KINDS:
        rows = [r for r in results if r["kind"] == kind and r["after"] is not None]
        before, after = np.abs([r["before"] for r in rows]), np.abs([r["after"] for r in rows])
        table.add_row(kind, f"{np.median(before):.3f}", f"{before.max():.3f}", f"{np.median(after):.3f}",
                      f"{after.max():.3f}", f"{sum(r['covered'] for r in rows)}/{len(rows)}",
                      f"{sum(r['klass'] == r['truth_class'] for r in rows)}/{len(rows)}")
    Console(width=140).print(table)
    if args.figure:
        figure(results, args.figure)


if __name__ == "__main__":
    main()
