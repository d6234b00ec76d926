"""Verdicts and the spacing profile over a wide grid of simulated images.

    python benchmarks/bench_verdicts.py [SEED] [IMAGES_PER_CELL]

For each of both systems x three interface classes, IMAGES_PER_CELL images
(default 8) are drawn with ``sample_params`` (any rotation and flip, 0.07-0.16
Å/px, doses 60-400, TiN strain ±3 %, jitter, drift, probe tails, smooth
backgrounds, an amorphous film in half the draws), 384 x 384 pixels. Printed:
the confusion matrix of the interface class, system and strain-verdict
accuracy, the TiN in-plane error, the spacing errors of the profile against
the truth (with the z-scores of their stated uncertainties), and every image
that went wrong. A benchmark, not a test.
"""

from __future__ import annotations

import collections
import itertools
import sys

import numpy as np
from rich.console import Console
from rich.table import Table

from stemlayers import analyze, load
from stemlayers.simulate import sample_params, simulate

CLASSES = ("bilayer", "vdw", "deteriorated")


def spacing_errors(report, truth):
    """(error, z) of each spacing between consecutive true planes that were both found."""
    found = np.array([L.height_A for L in report.planes])
    rows, cols = truth.shape
    present = []
    for i in np.unique(truth.plane[truth.plane >= 0]):
        members = (truth.plane == i) & (truth.x_px > 5) & (truth.x_px < cols - 5) & (truth.y_px > 5) & (
            truth.y_px < rows - 5)
        if truth.plane_element[i] != "N" and members.sum() >= 3 and truth.plane_material[i] != "disordered":
            present.append(i)
    match = {}
    for i in present:
        if len(found):
            j = int(np.argmin(np.abs(found - truth.plane_height_A[i])))
            if abs(found[j] - truth.plane_height_A[i]) < 0.5:
                match[i] = j
    out = []
    for a, b in zip(present[:-1], present[1:]):
        if a in match and b in match and match[b] == match[a] + 1:
            layer = report.planes[match[a]]
            error = layer.spacing_to_next_A - (truth.plane_height_A[b] - truth.plane_height_A[a])
            out.append((error, error / layer.spacing_err_A))
    return out


def main(seed=1, per_cell=8) -> None:
    rng = np.random.default_rng(seed)
    confusion = collections.Counter()
    system_ok = strain_ok = 0
    a_err, spacings, bad = [], [], []
    for system, interface in itertools.product(["Bi2Te3/TiN", "Bi2Se3/TiN"], CLASSES):
        for _ in range(per_cell):
            p = sample_params(rng, system=system, interface=interface, shape=(384, 384),
                              interface_offset_A=float(rng.uniform(-4, 4)))
            sim = simulate(p)
            r = analyze(load(sim.data, pixel_size=sim.pixel_size_A))
            got = r.interface.interface_class
            confusion[(interface, got)] += 1
            system_ok += r.system == system
            truth_ok = abs(p.tin_strain_pct) < 1.0
            strain_ok += r.strain.strain_ok == truth_ok
            if r.strain.tin_inplane_A:
                a_err.append(100 * (r.strain.tin_inplane_A / sim.truth.tin_inplane_A - 1))
            if interface != "deteriorated":
                spacings += spacing_errors(r, sim.truth)
            if got != interface or r.system != system or r.strain.strain_ok != truth_ok:
                bad.append(f"seed {p.seed}: {system} {interface} -> {r.system} {got} "
                           f"(strain {p.tin_strain_pct:+.2f} %, measured {r.strain['deviation_pct']})")
    n = sum(confusion.values())
    console = Console(width=140)
    table = Table(title=f"interface class, seed {seed}: truth (rows) vs found (columns), {n} images",
                  title_justify="left")
    table.add_column("truth")
    for klass in CLASSES + (None,):
        table.add_column(str(klass or "not decidable"), justify="right")
    for truth in CLASSES:
        table.add_row(truth, *(str(confusion[(truth, k)]) for k in CLASSES + (None,)))
    console.print(table)
    err, z = np.abs([s[0] for s in spacings]), np.array([s[1] for s in spacings])
    console.print(f"class {sum(confusion[(k, k)] for k in CLASSES)}/{n}, system {system_ok}/{n}, "
                  f"strain verdict {strain_ok}/{n}; TiN a error median {np.median(np.abs(a_err)):.3f} %, "
                  f"p95 {np.percentile(np.abs(a_err), 95):.3f} %")
    console.print(f"spacings ({len(err)}, bilayer and vdW images): error median {np.median(err):.4f} Å, "
                  f"p95 {np.percentile(err, 95):.4f} Å; z std {np.std(z):.2f}, |z| < 3: {np.mean(np.abs(z) < 3):.2f}")
    for line in bad:
        console.print("  wrong:", line, highlight=False)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
