"""Column precision on real micrographs, without a truth: stemlayers against atomap in the same run.

    python benchmarks/bench_precision.py [--crop 768] [--extra FILE ...]

For every real micrograph the tests fetch (stemlayers.datasets.FOREIGN_MICROGRAPHS: atomap's SrTiO3 [110]
ADF, temul's MoS2 plan view and Au nanoparticles; the precipitate image has no lattice and is left out)
the columns are found by ``stemlayers.find_columns`` and by atomap's standard workflow
(``get_atom_positions`` with separation = 0.8 x stemlayers' median nearest-neighbour distance, then
``refine_atom_positions_using_center_of_mass`` and ``refine_atom_positions_using_2d_gaussian``). The
position noise of each is estimated from the lattice itself (:func:`stemlayers.structure.precision.lattice_noise`:
second differences along the two shortest translations of the crystal's lattice, those that join columns of
the same brightness, found on stemlayers' columns and used for both), with a bootstrap 95 % CI, in pm;
then the same on the columns both found (matched within a quarter of the shortest translation), so that
a finder that keeps only the bright columns is compared on those; beside it the number of columns and the
time per column. Images larger than `--crop` px are cropped to their centre (atomap takes minutes on
2048²). `--extra` adds micrographs no package ships (e.g. the SrTiO3 [001] TIA image 16_STOimage_1.ser
of the openNCEM repository, or TEMUL's Cropped_PTO-SRO_Aligned.hspy; see the README).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from scipy.spatial import cKDTree
from rich.table import Table

from stemlayers import find_columns, load
from stemlayers.datasets import CACHE_VARIABLE, data_cache, fetch_foreign_micrographs
from stemlayers.structure.precision import bravais_vectors, lattice_noise  # noqa: E402

LEFT_OUT = {"hyperspy_precipitate_HAADF",  # no lattice resolved in it
            "atomap_SrTiO3_110_ABF"}  # annular bright field: dark columns, not what either finder is for


def run_atomap(data, separation_px):
    import atomap.api as am
    import hyperspy.api as hs

    start = time.perf_counter()
    positions = am.get_atom_positions(hs.signals.Signal2D(data), separation=separation_px)
    sublattice = am.Sublattice(positions, image=data)
    sublattice.find_nearest_neighbors()
    sublattice.refine_atom_positions_using_center_of_mass(show_progressbar=False)
    sublattice.refine_atom_positions_using_2d_gaussian(show_progressbar=False)
    return np.column_stack([sublattice.x_position, sublattice.y_position]), time.perf_counter() - start


def _pm(noise, px_pm):
    """Noise and its 95 % CI in pm."""
    return f"{noise.sigma_px * px_pm:.2f} [{noise.ci95_px[0] * px_pm:.2f}, {noise.ci95_px[1] * px_pm:.2f}]"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crop", type=int, default=768)
    parser.add_argument("--extra", nargs="*", default=[], help="more micrograph files")
    args = parser.parse_args(argv)
    console = Console(width=200)
    table = Table(title="position noise per coordinate from the lattice (pm, 95 % CI), columns, time per column",
                  title_justify="left")
    for col in ("image", "px (Å)", "stemlayers pm", "atomap pm", "columns sl / am", "common: stemlayers pm",
                "common: atomap pm", "common", "ms/column sl / am", "speed-up"):
        table.add_column(col, justify="left" if col == "image" else "right")
    files = [(n, p) for n, p in fetch_foreign_micrographs(data_cache(os.environ.get(CACHE_VARIABLE))) if n not in LEFT_OUT]
    files += [(Path(p).stem, Path(p)) for p in args.extra]
    for name, path in files:
        image = load(path)
        data = image.data
        if max(data.shape) > args.crop:
            r0, c0 = (data.shape[0] - args.crop) // 2, (data.shape[1] - args.crop) // 2
            data = np.ascontiguousarray(data[max(r0, 0):max(r0, 0) + args.crop, max(c0, 0):max(c0, 0) + args.crop])
        px_pm = 100 * image.pixel_size_A
        start = time.perf_counter()
        columns = find_columns(data, pixel_size=image.pixel_size_A)
        sl_time = time.perf_counter() - start
        if len(columns) < 10:
            table.add_row(name, f"{image.pixel_size_A:.4f}", "no columns", "-", f"{len(columns)} / -",
                          "-", "-", "-", "-", "-")
            continue
        nn = float(np.median(cKDTree(columns.xy).query(columns.xy, k=2)[0][:, 1]))
        am_xy, am_time = run_atomap(data, max(2, int(0.8 * nn)))
        vectors = bravais_vectors(columns.xy, columns.amplitude)
        sl, am = lattice_noise(columns.xy, vectors), lattice_noise(am_xy, vectors)
        reach = 0.25 * float(np.linalg.norm(vectors, axis=1).min())
        dist, nearest = cKDTree(columns.xy).query(am_xy)
        both = dist < reach
        sl_common = lattice_noise(columns.xy[nearest[both]], vectors)
        am_common = lattice_noise(am_xy[both], vectors)
        table.add_row(name, f"{image.pixel_size_A:.4f}", _pm(sl, px_pm), _pm(am, px_pm),
                      f"{len(columns)} / {len(am_xy)}", _pm(sl_common, px_pm), _pm(am_common, px_pm),
                      str(int(both.sum())),
                      f"{1000 * sl_time / max(len(columns), 1):.2f} / {1000 * am_time / max(len(am_xy), 1):.2f}",
                      f"{(am_time / max(len(am_xy), 1)) / (sl_time / max(len(columns), 1)):.0f}x")
    console.print(table)


if __name__ == "__main__":
    main()
