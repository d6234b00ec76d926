"""Column finding: stemlayers vs atomap on simulated images with known truth.

    .venv/bin/python benchmarks/bench_columns.py

For each simulated case (realistic artefacts: scan jitter, background ramp,
probe tail, fixed seeds) it runs

* stemlayers: ``find_columns`` (detection and Gaussian refinement in one call);
* atomap, the standard workflow on the same image: ``get_atom_positions``,
  ``Sublattice``, nearest neighbours, centre-of-mass refinement, then the
  2D-Gaussian refinement, which is timed on its own;

and scores both against the truth (recall of Ti-and-heavier columns, false
positives, RMS and median position error, honesty of stemlayers' error
bars). It also computes the Poisson Cramér–Rao bound (CRB) of the position
of every isolated visible column, from the noise-free expected counts, and
compares the RMS error of both methods on those columns with it.

A last case, 2048 x 2048 at 0.18 Å/px (~20k columns), times stemlayers
alone and measures its peak memory; atomap would take many minutes there.

A benchmark, not a test: it prints tables and a target line per case.
"""

from __future__ import annotations

import logging
import resource
import time
import tracemalloc
import warnings
from dataclasses import dataclass, replace

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.spatial import cKDTree

from stemlayers.columns.find import Columns, find_columns
from stemlayers.materials import load_system
from stemlayers.simulate import SimulatedImage, SimulationParams, simulate
from stemlayers.simulate.score import ColumnScore, match_points, score_columns

ARTEFACTS = dict(jitter_px=0.1, background_ramp=0.05, tail_fraction=0.06)

CASES = [
    ("Bi2Te3/TiN bilayer, dose 150, 0.10 Å/px",
     SimulationParams(system="Bi2Te3/TiN", dose=150, pixel_size_A=0.10, seed=11, **ARTEFACTS)),
    ("Bi2Se3/TiN bilayer, dose 60, 0.08 Å/px",
     SimulationParams(system="Bi2Se3/TiN", dose=60, pixel_size_A=0.08, seed=12, **ARTEFACTS)),
    ("Bi2Te3/TiN bilayer, dose 400, 0.14 Å/px",
     SimulationParams(system="Bi2Te3/TiN", dose=400, pixel_size_A=0.14, seed=13, **ARTEFACTS)),
]
LARGE_CASE = ("2048x2048 Bi2Te3/TiN, dose 150, 0.18 Å/px",
              SimulationParams(system="Bi2Te3/TiN", dose=150, pixel_size_A=0.18, shape=(2048, 2048),
                               seed=14, **ARTEFACTS))

# atomap's peak finder wants the smallest distance between two peaks in pixels; the closest real
# columns are ~2.0-2.2 Å apart (Bi-Se, Bi-Te) and the N beside Ti (1.5 Å) should not be found
ATOMAP_SEPARATION_A = 0.9
ISOLATION_A = 2.2  # a column is isolated if no other truth column (N included) is this close
BORDER_PX = 6
CRB_RADIUS_SIGMA = 3.0


@dataclass
class MethodResult:
    """Columns found by one method, its timings and its score against the truth."""

    columns: Columns
    seconds: float  # whole workflow
    refine_seconds: float  # the Gaussian refinement alone (= seconds for stemlayers)
    score: ColumnScore
    separation_px: int | None = None

    @property
    def ms_per_column(self) -> float:
        """Milliseconds of Gaussian refinement per column."""
        return 1e3 * self.refine_seconds / max(len(self.columns), 1)


# ---------------------------------------------------------------- running the two methods


def warm_up() -> None:
    """Run stemlayers once on a small image, so that imports and caches are not timed."""
    sim = simulate(SimulationParams(shape=(128, 128), seed=0))
    find_columns(sim.data, pixel_size=sim.pixel_size_A)


def run_stemlayers(sim: SimulatedImage) -> MethodResult:
    """Find and refine all columns with stemlayers, timed.

    Parameters
    ----------
    sim : SimulatedImage

    Returns
    -------
    MethodResult
    """
    start = time.perf_counter()
    columns = find_columns(sim.data, pixel_size=sim.pixel_size_A)
    seconds = time.perf_counter() - start
    return MethodResult(columns, seconds, seconds, score_columns(columns, sim.truth))


def run_atomap(sim: SimulatedImage, separation_px: int) -> MethodResult:
    """The standard atomap workflow on the same image, with the Gaussian refinement timed apart.

    Parameters
    ----------
    sim : SimulatedImage
    separation_px : int
        ``separation`` of ``atomap.api.get_atom_positions`` in pixels.

    Returns
    -------
    MethodResult
    """
    import atomap.api as am
    import hyperspy.api as hs

    start = time.perf_counter()
    positions = am.get_atom_positions(hs.signals.Signal2D(sim.data), separation=separation_px)
    sublattice = am.Sublattice(positions, image=sim.data)
    sublattice.find_nearest_neighbors()
    sublattice.refine_atom_positions_using_center_of_mass(show_progressbar=False)
    gauss_start = time.perf_counter()
    sublattice.refine_atom_positions_using_2d_gaussian(show_progressbar=False)
    end = time.perf_counter()
    columns = Columns.from_atomap(sublattice)
    return MethodResult(columns, end - start, end - gauss_start, score_columns(columns, sim.truth),
                        separation_px)


# ---------------------------------------------------------------- Cramér–Rao bound


def isolated_columns(truth, min_distance_A=ISOLATION_A, border_px=BORDER_PX) -> np.ndarray:
    """Indices of visible truth columns with no other column closer than `min_distance_A`.

    Parameters
    ----------
    truth : Truth
    min_distance_A : float
        Any other truth column (faint N included) must be farther than this.
    border_px : float
        The column must be at least this far inside the field.

    Returns
    -------
    (K,) int array
    """
    xy = truth.xy
    nearest = cKDTree(xy).query(xy, k=2)[0][:, 1] * truth.pixel_size_A
    rows, cols = truth.shape
    inside = ((xy[:, 0] >= border_px) & (xy[:, 0] <= cols - 1 - border_px)
              & (xy[:, 1] >= border_px) & (xy[:, 1] <= rows - 1 - border_px))
    return np.flatnonzero(truth.visible() & inside & (nearest > min_distance_A))


def expected_counts(params: SimulationParams, sim: SimulatedImage) -> np.ndarray:
    """Noise-free expected counts of `sim`, with the background ramp of the noisy image.

    ``simulate(..., noise=False)`` draws no scan jitter, so its random ramp
    direction differs from the noisy image's; the ramp is therefore left out
    of the noise-free render and fitted (a plane, three numbers from the
    whole image) to the noisy image minus that render.
    """
    flat = simulate(replace(params, background_ramp=0.0), noise=False).data.astype(float)
    rows, cols = np.mgrid[0:flat.shape[0], 0:flat.shape[1]]
    design = np.column_stack([np.ones(flat.size), cols.ravel(), rows.ravel()])
    plane, *_ = np.linalg.lstsq(design, (sim.data - flat).ravel(), rcond=None)
    return flat + (design @ plane).reshape(flat.shape)


def column_amplitudes(params: SimulationParams, truth) -> np.ndarray:
    """Peak height of each truth column's Gaussian core (counts), as the simulator renders it."""
    system = load_system(params.system)
    brightest = max(system.intensity(e) for e in system.film.ql_elements + (system.substrate.metal,))
    return truth.weight * params.dose / brightest


def position_crb(mu, xy, amplitude, sigma_px, read_noise=0.0, radius_sigma=CRB_RADIUS_SIGMA):
    """Poisson Cramér–Rao bound of the x and y position of Gaussian columns.

    Fisher information over a disc of `radius_sigma` x `sigma_px` around each
    column: ``I_xx = sum (d mu / d x0)^2 / var`` with the analytical
    derivative ``A g (x - x0) / sigma^2`` and ``var = mu + read_noise^2``.

    Parameters
    ----------
    mu : (M, N) array
        Expected counts (noise-free image, background and neighbours included).
    xy : (K, 2) array
        Column positions (x, y) in pixels.
    amplitude : (K,) array
        Peak heights of the columns' Gaussians.
    sigma_px : float
    read_noise : float

    Returns
    -------
    (K, 2) array
        1-sigma bounds of x and y in pixels.
    """
    half = int(np.ceil(radius_sigma * sigma_px))
    offsets = np.arange(-half, half + 1)
    crb = np.empty((len(xy), 2))
    for k, ((x0, y0), a) in enumerate(zip(xy, amplitude)):
        c = np.round(x0).astype(int) + offsets
        r = np.round(y0).astype(int) + offsets
        dx, dy = c[None, :] - x0, r[:, None] - y0
        r2 = dx**2 + dy**2
        in_field = (c[None, :] >= 0) & (c[None, :] < mu.shape[1]) & (r[:, None] >= 0) & (r[:, None] < mu.shape[0])
        disc = in_field & (r2 <= (radius_sigma * sigma_px) ** 2)  # clipped by the field's edge
        g = a * np.exp(-0.5 * r2 / sigma_px**2)
        var = mu[np.ix_(np.clip(r, 0, mu.shape[0] - 1), np.clip(c, 0, mu.shape[1] - 1))] + read_noise**2
        fisher_x = np.sum(((g * dx / sigma_px**2) ** 2 / var)[disc])
        fisher_y = np.sum(((g * dy / sigma_px**2) ** 2 / var)[disc])
        crb[k] = 1 / np.sqrt(fisher_x), 1 / np.sqrt(fisher_y)
    return crb


def rms_error_on(columns: Columns, truth, indices, match_A=0.6) -> tuple[float, int]:
    """RMS position error (pm) of `columns` on the truth columns `indices`, and how many matched."""
    f, t = match_points(columns.xy, truth.xy[indices], match_A / truth.pixel_size_A)
    if len(f) == 0:
        return float("nan"), 0
    error = np.hypot(*(columns.xy[f] - truth.xy[indices][t]).T) * truth.pixel_size_A * 100
    return float(np.sqrt(np.mean(error**2))), len(f)


def crb_summary(params, sim, results) -> dict:
    """RMS CRB (pm) of the isolated columns and each method's RMS error on them.

    Returns
    -------
    dict
        ``n``, ``crb_pm`` and, per method name, ``(rms_pm, n_matched)``.
    """
    truth = sim.truth
    idx = isolated_columns(truth)
    mu = expected_counts(params, sim)
    crb = position_crb(mu, truth.xy[idx], column_amplitudes(params, truth)[idx],
                       params.probe_sigma_A / params.pixel_size_A, params.read_noise)
    crb_pm = float(np.sqrt(np.mean(np.sum(crb**2, axis=1)))) * truth.pixel_size_A * 100
    out = {"n": len(idx), "crb_pm": crb_pm}
    for name, result in results.items():
        out[name] = rms_error_on(result.columns, truth, idx)
    return out


# ---------------------------------------------------------------- printing


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def num(x: float, fmt: str = ".2f") -> str:
    return "n/a" if x is None or not np.isfinite(x) else format(x, fmt)


def yes_no(ok: bool) -> str:
    return "[green]yes[/]" if ok else "[red]no[/]"


def case_table(name, sim, sl: MethodResult, am: MethodResult, crb: dict) -> Table:
    """Side-by-side table of one case: stemlayers, atomap and their ratios."""
    table = Table(title=f"{name} — {sim.data.shape[1]}x{sim.data.shape[0]}, "
                        f"{int(sim.truth.visible().sum())} visible columns in the field")
    for header in ("metric", "stemlayers", "atomap", "ratio / bound"):
        table.add_column(header, justify="right" if header != "metric" else "left")
    speed = am.ms_per_column / sl.ms_per_column
    precision = sl.score.rms_error_pm / am.score.rms_error_pm
    sl_iso, sl_n = crb["stemlayers"]
    am_iso, am_n = crb["atomap"]
    rows = [
        ("true visible columns (Ti and heavier, >= 2 px inside)", str(sl.score.n_true), str(am.score.n_true), ""),
        ("columns found (>= 2 px inside)", f"{len(sl.columns)} ({sl.score.n_found})",
         f"{len(am.columns)} ({am.score.n_found})", ""),
        ("separation (px)", "auto",
         f"{am.separation_px} (= int({ATOMAP_SEPARATION_A} Å / px))", ""),
        ("seconds, whole workflow", num(sl.seconds), num(am.seconds), ""),
        ("seconds, Gaussian refinement", "(in find_columns)", num(am.refine_seconds), ""),
        ("ms / column (stemlayers: find + refine; atomap: Gaussian only)",
         num(sl.ms_per_column, ".3f"), num(am.ms_per_column, ".2f"), f"speed {speed:.0f}x"),
        ("recall", pct(sl.score.recall), pct(am.score.recall), ""),
        ("false-positive rate", pct(sl.score.false_positive_rate), pct(am.score.false_positive_rate), ""),
        ("RMS error (pm)", num(sl.score.rms_error_pm), num(am.score.rms_error_pm),
         f"stemlayers / atomap {precision:.2f}"),
        ("median error (pm)", num(sl.score.median_error_pm), num(am.score.median_error_pm), ""),
        ("error-bar honesty: std(error / xy_err)", num(sl.score.error_ratio_std), "n/a", "(1 = honest)"),
        (f"RMS error on {crb['n']} isolated columns (pm)", f"{num(sl_iso)} (n={sl_n})",
         f"{num(am_iso)} (n={am_n})", f"CRB {crb['crb_pm']:.2f} pm"),
        ("error / CRB on isolated columns", num(sl_iso / crb["crb_pm"]), num(am_iso / crb["crb_pm"]),
         "(target <= 1.5)"),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def targets_line(sl: MethodResult, am: MethodResult, crb: dict) -> str:
    """The one-line verdict of a case against the targets."""
    speed = am.ms_per_column / sl.ms_per_column
    honesty = sl.score.error_ratio_std
    checks = [
        ("speed >= 50x", speed >= 50),
        ("RMS <= atomap", sl.score.rms_error_pm <= am.score.rms_error_pm),
        ("recall >= 99%", sl.score.recall >= 0.99),
        ("FP <= 1%", sl.score.false_positive_rate <= 0.01),
        ("within 1.5x CRB", crb["stemlayers"][0] <= 1.5 * crb["crb_pm"]),
        ("error bars 0.7-1.5", 0.7 <= honesty <= 1.5),
    ]
    return "targets: " + "; ".join(f"{label}: {yes_no(ok)}" for label, ok in checks)


# ---------------------------------------------------------------- the large case


def max_rss_mb() -> float:
    """Peak resident memory of this process so far (MB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_large(params: SimulationParams) -> Table:
    """Time and peak memory of stemlayers alone on a 2048 x 2048 image (~20k columns)."""
    sim = simulate(params)
    # timed without tracemalloc, which slows allocation down; the peak RSS is read before scoring
    # (score_columns' matching can fall back to a dense assignment that needs far more memory)
    rss_before = max_rss_mb()
    # the first call on a large image also pays for first-touch allocation; a batch runs warm
    times = []
    for _ in range(3):
        start = time.perf_counter()
        columns = find_columns(sim.data, pixel_size=sim.pixel_size_A)
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    first_call = times[0]
    rss_after = max_rss_mb()
    result = MethodResult(columns, seconds, seconds, score_columns(columns, sim.truth))
    tracemalloc.start()
    find_columns(sim.data, pixel_size=sim.pixel_size_A)
    traced_peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()

    s = result.score
    table = Table(title=f"{LARGE_CASE[0]} — stemlayers only (atomap skipped: minutes per image)")
    for header in ("metric", "stemlayers", "atomap"):
        table.add_column(header, justify="right" if header != "metric" else "left")
    rows = [
        ("true visible columns", str(s.n_true)),
        ("columns found (>= 2 px inside)", f"{len(result.columns)} ({s.n_found})"),
        ("seconds (find + refine), median of 3 runs", f"{result.seconds:.2f}"),
        ("seconds, first run (with first-touch allocation)", f"{first_call:.2f}"),
        ("ms / column", f"{result.ms_per_column:.3f}"),
        ("recall", pct(s.recall)),
        ("false-positive rate", pct(s.false_positive_rate)),
        ("RMS error (pm)", num(s.rms_error_pm)),
        ("median error (pm)", num(s.median_error_pm)),
        ("error-bar honesty: std(error / xy_err)", num(s.error_ratio_std)),
        ("peak memory, tracemalloc (MB)", f"{traced_peak:.0f}"),
        ("process peak RSS so far (MB; rise of that peak in find_columns)",
         f"{rss_after:.0f} (+{max(rss_after - rss_before, 0):.0f})"),
        ("< 3 s", yes_no(result.seconds < 3)),
    ]
    for label, value in rows:
        table.add_row(label, value, "skipped (n/a)")
    return table


def quiet() -> None:
    """Silence atomap's and hyperspy's warnings and log messages."""
    warnings.filterwarnings("ignore")
    for name in ("hyperspy", "atomap", "rsciio"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main() -> None:
    quiet()
    console = Console(width=200)
    warm_up()
    for name, params in CASES:
        sim = simulate(params)
        separation = int(ATOMAP_SEPARATION_A / params.pixel_size_A)
        results = {"stemlayers": run_stemlayers(sim), "atomap": run_atomap(sim, separation)}
        crb = crb_summary(params, sim, results)
        console.print(case_table(name, sim, results["stemlayers"], results["atomap"], crb))
        console.print(targets_line(results["stemlayers"], results["atomap"], crb))
        console.print()
    console.print(run_large(LARGE_CASE[1]))


if __name__ == "__main__":
    main()
