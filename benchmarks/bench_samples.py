"""Results per sample against the truth: do the coverage CIs cover each simulated sample's true coverage?

    .venv/bin/python benchmarks/bench_samples.py [--samples 20] [--seed 5]

Each simulated sample has its own bilayer share of the interface (drawn 0-100 %) and 5-20 images; each
image is a ~100 Å field (``sample_lateral_params``) whose interface is cut into 1-4 stretches that are
bilayer or vdW so that the share varies from image to image around the sample's. The images are
analysed, their rows aggregated per sample (``stemlayers.report.per_sample.sample_table``), and the
sample's true coverage (length-weighted over its images) is compared with the 95 % CI. Target: the CI
covers the truth in >= 90 % of samples.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from stemlayers import analyze, load
from stemlayers.report.per_sample import sample_table
from stemlayers.simulate import simulate
from stemlayers.simulate.lateral import sample_lateral_params


def _image(rng, share):
    """Simulation parameters of one image of a sample whose bilayer share is `share`."""
    k = int(rng.integers(1, 4))
    params = sample_lateral_params(rng, n_boundaries=k)
    # each stretch bilayer with the sample's probability: the image's share scatters about the sample's
    classes = ["bilayer" if rng.uniform() < share else "vdw" for _ in params.segments]
    segments = tuple((start, klass, terrace) for (start, _, terrace), klass in zip(params.segments, classes))
    return dataclasses.replace(params, segments=segments, interface=classes[0])


def _row(file, report):
    """The batch row of a report, as far as the per-sample table reads it."""
    d = report.to_dict()
    i, s = d["interface"], d["strain"] or {}
    coverage = i.get("coverage") or {}
    return {"file": file, "status": "ok", "interface_length_A": sum(x["length_A"] for x in i.get("segments") or ()),
            "coverage_err": max((i.get("coverage_err") or {}).values(), default=0.0),
            **{f"{c}_coverage": coverage.get(c, 0.0) for c in ("bilayer", "vdw", "deteriorated")},
            "tin_inplane_A": s.get("tin_inplane_A"), "tin_inplane_err_A": s.get("tin_inplane_err_A"),
            "tin_inplane_deviation_pct": s.get("deviation_pct")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    results = []
    for k in track(range(args.samples), description="samples"):
        share, n = float(rng.uniform(0, 1)), int(rng.integers(5, 21))
        rows, true_len, true_bilayer = [], 0.0, 0.0
        for j in range(n):
            sim = simulate(_image(rng, share))
            report = analyze(load(sim.data, pixel_size=sim.pixel_size_A))
            rows.append(_row(f"S{k}/{j}.tif", report))
            length = sum(s["length_A"] for s in sim.truth.segments)
            true_len += length
            true_bilayer += length * sim.truth.coverage.get("bilayer", 0.0)
        table = sample_table(rows, seed=k)
        lo, hi = table.loc[0, "bilayer_coverage_ci95"]
        truth = true_bilayer / true_len
        results.append((n, truth, table.loc[0, "bilayer_coverage"], lo, hi))
    covered = sum(lo <= truth <= hi for _, truth, _, lo, hi in results)
    out = Table(title=f"per-sample bilayer coverage: {len(results)} samples of 5-20 images (seed {args.seed})")
    for column in ("images", "true %", "found %", "95 % CI", "covers"):
        out.add_column(column, justify="right")
    for n, truth, found, lo, hi in results:
        out.add_row(str(n), f"{100 * truth:.1f}", f"{100 * found:.1f}", f"[{100 * lo:.1f}, {100 * hi:.1f}]",
                    "yes" if lo <= truth <= hi else "NO")
    console = Console()
    console.print(out)
    console.print(f"CI covers the truth in {covered}/{len(results)} samples (target >= 90 %); "
                  f"|found - true| median {100 * np.median([abs(f - t) for _, t, f, _, _ in results]):.1f} points")


if __name__ == "__main__":
    main()
