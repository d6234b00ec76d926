"""Can the verdicts be trusted on images the analysis was not built around?

    python benchmarks/bench_trust.py [--seed 1] [--count 30] [--negatives 10] [--calibration N]
                                     [--size 448] [--min-field 42] [--jobs 1]

(a) Wide grid: `--count` interface images (both systems x three classes in
    turn) drawn with ``sample_params(rng, wide=True)``: HAADF Z exponent
    1.3-2.0, channelling 0.75-1.25 per element, elliptical columns up to 1.3:1,
    a wandering scan drift up to 1 px, 0-2 % glitched lines, thickness wedges
    of ±30 %, 0.06-0.2 Å/px, doses 40-400, TiN strain ±3 %. Printed: confusion
    matrices of the interface class, the system and the strain verdict;
    accuracy ("not decidable" and errors count as wrong) beside coverage (the
    share decided); recall of the ordered planes (the disordered band left
    out), strictly (height within 0.5 Å of the truth, 0 = top TiN plane) and
    up to a shift of the origin; the element of each recalled plane; the
    spacing and TiN a errors; and the same accuracies split by the harsh
    parameters (which condition breaks what). Images are `--size` pixels
    square, or more where that would show less than `--min-field` Å (at
    0.06 Å/px 448 px show 27 Å: TiN, the band and not one whole QL, a field
    no reader can classify).
(b) Calibration sweep: the first `--calibration` grid images (default all)
    analysed again with ``pixel_size`` = the file's x 0.5 ... 2.0: is the
    system and the strain verdict unchanged, and how far is TiN a from the
    truth (%)?
(c) Negative fields: `--negatives` images with no TI/TiN interface (TiN only,
    TI only, a SrTiO3-like perovskite, a MoS2-like honeycomb, random atoms):
    the share with no class and no strain verdict (and no system for the
    foreign lattices).
With ``--harsh`` the grid is drawn with ``sample_harsh_params`` instead: on top
of the wide ranges, a TiN that thins along the interface to 20-70 % (half the
draws), a TiN film of only 5-10 Ti planes beside vacuum (a third), doses down
to 25 (a quarter).
(d) Reliability: the stated confidence of every decided class, binned, against
    how often it was right (negative fields included: any class there is wrong).

Truth of the strain verdict: |true TiN strain| < 1 % is "ok", else
"strained". Its accuracy is also given outside a margin of the threshold
(where the truth is at least `--margin` % from it), with the verdicts split
by that distance: "inconclusive" belongs where the measurement's 95 % CI
cannot separate the truth from 1 %. Up to 2 processes (`--jobs`). A
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import multiprocessing
import shlex
import sys
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from stemlayers import analyze, load
from stemlayers.materials import load_system
from stemlayers.simulate import sample_harsh_params, sample_params, sample_wide_params, simulate
from stemlayers.simulate.contrast import column_weights
from stemlayers.simulate.fields import FOREIGN_FIELDS

CLASSES = ("bilayer", "vdw", "deteriorated")
SYSTEMS = ("Bi2Te3/TiN", "Bi2Se3/TiN")
NEGATIVE_FIELDS = ("tin_only", "ti_only", "perovskite", "honeycomb", "amorphous")
FACTORS = (0.5, 0.67, 0.85, 0.93, 1.07, 1.15, 1.5, 2.0)
CONFIDENCE_BINS = (0.0, 0.5, 0.7, 0.9, 1.0001)
MATCH_A = 0.5


def strain_verdict(strain: dict) -> str | None:
    """The analysis's strain verdict: its "strain_verdict" key, else from strain_ok."""
    if strain.get("strain_verdict"):
        return strain["strain_verdict"]
    ok = strain.get("strain_ok")
    return None if ok is None else ("ok" if ok else "strained")


def ordered_planes(truth, margin_px=5):
    """True planes a reader should find: ordered, not N, with at least 3 columns inside the frame."""
    rows, cols = truth.shape
    inside = ((truth.x_px > margin_px) & (truth.x_px < cols - margin_px)
              & (truth.y_px > margin_px) & (truth.y_px < rows - margin_px))
    out = []
    for i in np.unique(truth.plane[truth.plane >= 0]):
        if truth.plane_element[i] != "N" and ((truth.plane == i) & inside).sum() >= 3:
            out.append(int(i))
    return out


def match_heights(found, true, shift=0.0):
    """Nearest found plane (index or -1) for each true height, within MATCH_A after `shift`."""
    if len(found) == 0:
        return np.full(len(true), -1)
    d = np.abs(found[None, :] + shift - true[:, None])
    j = d.argmin(1)
    return np.where(d[np.arange(len(true)), j] < MATCH_A, j, -1)


def plane_scores(layers, truth):
    """Strict and origin-shifted recall, element agreement and spacing errors of the found planes."""
    planes = ordered_planes(truth)
    # heights from the top complete, ordered TiN plane (below a deteriorated interface's roughened ones)
    zero = truth.plane_height_A[truth.origin_plane] if truth.origin_plane >= 0 else 0.0
    true_h = truth.plane_height_A[planes] - zero if planes else np.zeros(0)
    found = np.array([L["height_A"] for L in layers], float)
    strict = match_heights(found, true_h)
    shifts = (true_h[:, None] - found[None, :]).ravel() if len(found) and len(true_h) else np.zeros(1)
    best = max(shifts, key=lambda s: (match_heights(found, true_h, s) >= 0).sum()) if len(shifts) else 0.0
    shifted = match_heights(found, true_h, best)
    elements = [(str(truth.plane_element[p]), layers[j].get("element")) for p, j in zip(planes, shifted) if j >= 0]
    spacings, z_scores = [], []
    for k in range(len(planes) - 1):
        a, b = strict[k], strict[k + 1]
        if a >= 0 and b == a + 1 and layers[a].get("spacing_to_next_A") is not None:
            error = layers[a]["spacing_to_next_A"] - (truth.plane_height_A[planes[k + 1]]
                                                     - truth.plane_height_A[planes[k]])
            spacings.append(error)
            if layers[a].get("spacing_err_A"):
                z_scores.append(error / layers[a]["spacing_err_A"])
    return dict(n_true=len(planes), strict=int((strict >= 0).sum()), shifted=int((shifted >= 0).sum()),
                origin_shift_A=float(best), elements=elements, spacing_err_A=spacings, spacing_z=z_scores)


def summarise(report, truth) -> dict:
    d = report.to_dict()
    strain = d.get("strain") or {}
    interface = d.get("interface") or {}
    tin = strain.get("tin_inplane_A")
    out = dict(system_found=d.get("system"), klass=interface.get("class"), confidence=interface.get("confidence"),
               verdict=strain_verdict(strain), strain_ok=strain.get("strain_ok"),
               tin_err_pct=(100 * (tin / truth.tin_inplane_A - 1) if tin and truth.tin_inplane_A else None),
               ci_half_pct=(None if not strain.get("ci95_pct") else
                            0.5 * (strain["ci95_pct"][1] - strain["ci95_pct"][0])),
               ci_covers=(None if not (tin and truth.tin_inplane_A and strain.get("ci95_pct")) else bool(
                   strain["ci95_pct"][0] <= 100 * (truth.tin_inplane_A / strain["reference_A"] - 1)
                   <= strain["ci95_pct"][1])),
               evidence=(interface.get("evidence") or [""])[0])
    return out


def run_task(task: dict) -> dict:
    """Simulate one image and analyse it (and, for the sweep, again at each wrong pixel size)."""
    params = task["params"]
    sim = simulate(params)
    truth = sim.truth
    image = load(sim.data, pixel_size=sim.pixel_size_A)
    system = load_system(params.system)
    w = column_weights(system, params.contrast_exponent, params.channelling)
    x = system.film.ql_elements[0]
    out = dict(kind=task["kind"], field=truth.field, system=truth.system, interface=truth.interface, seed=params.seed,
               strain_pct=params.tin_strain_pct, exponent=params.contrast_exponent, bi_over_x=w["Bi"] / w[x],
               x_over_ti=w[x] / w["Ti"], ellipticity=params.column_ellipticity,
               drift_px=params.scan_drift_nonlinear_px, corrupted=params.corrupted_lines,
               pixel_size_A=params.pixel_size_A, dose=params.dose, thickness=params.thickness_gradient)
    start = time.perf_counter()
    try:
        report = analyze(image)
        out.update(summarise(report, truth), error=None)
        if truth.field == "interface":
            out["planes"] = plane_scores(report.to_dict()["layers"], truth)
    except Exception as exc:  # noqa: BLE001 - a crash is a result here
        out.update(error=f"{type(exc).__name__}: {exc}"[:160], klass=None, verdict=None, system_found=None,
                   confidence=None, strain_ok=None, tin_err_pct=None, evidence="")
    out["seconds"] = time.perf_counter() - start
    out["sweep"] = {}
    for factor in FACTORS if task.get("sweep") else ():
        try:
            out["sweep"][factor] = summarise(analyze(image, pixel_size=sim.pixel_size_A * factor), truth)
        except Exception as exc:  # noqa: BLE001
            out["sweep"][factor] = dict(error=f"{type(exc).__name__}: {exc}"[:120])
    return out


def field_shape(params, size, min_field_A):
    """`size` px square, or larger (a multiple of 32 px) to show `min_field_A`."""
    side = max(size, 32 * int(np.ceil(min_field_A / params.pixel_size_A / 32)))
    return dataclasses.replace(params, shape=(side, side))


def tasks(seed, count, negatives, calibration, size, min_field_A=0.0, harsh=False):
    rng = np.random.default_rng(seed)
    out = []
    draw = sample_harsh_params if harsh else sample_wide_params
    for i in range(count):
        system, klass = SYSTEMS[i % 2], CLASSES[(i // 2) % 3]
        p = draw(rng, system=system, interface=klass, shape=(size, size),
                 interface_offset_A=float(rng.uniform(-4, 4)))
        out.append(dict(kind="grid", params=field_shape(p, size, min_field_A), sweep=i < calibration))
    for i in range(negatives):
        p = sample_params(rng, wide=True, system=SYSTEMS[(i // len(NEGATIVE_FIELDS)) % 2],
                          field=NEGATIVE_FIELDS[i % len(NEGATIVE_FIELDS)], shape=(size, size))
        out.append(dict(kind="negative", params=p))
    return out


def pct(k, n):
    return f"{k}/{n} ({100 * k / n:.0f} %)" if n else "-"


def confusion_table(title, rows, cols, pairs):
    counts = collections.Counter(pairs)
    table = Table(title=title, title_justify="left")
    table.add_column("truth \\ found")
    for c in cols:
        table.add_column(str(c), justify="right")
    for r in rows:
        table.add_row(str(r), *(str(counts[(r, c)]) for c in cols))
    return table


def found_label(value, error):
    return "error" if error else ("not decidable" if value is None else value)


def report_grid(console, grid):
    n = len(grid)
    console.print(confusion_table(f"(a) interface class, {n} wide-grid images", CLASSES,
                                  CLASSES + ("not decidable", "error"),
                                  [(r["interface"], found_label(r["klass"], r["error"])) for r in grid]))
    console.print(confusion_table("system", SYSTEMS, SYSTEMS + ("not decidable", "error"),
                                  [(r["system"], found_label(r["system_found"], r["error"]))
                                   for r in grid]))
    console.print(confusion_table("strain verdict (truth: |strain| < 1 % is ok)", ("ok", "strained"),
                                  ("ok", "strained", "inconclusive", "not decidable", "error"),
                                  [("ok" if abs(r["strain_pct"]) < 1 else "strained",
                                    found_label(r["verdict"], r["error"])) for r in grid]))
    table = Table(title="accuracy (undecided = wrong) and coverage", title_justify="left")
    for col in ("verdict", "accuracy", "coverage", "accuracy of decided"):
        table.add_column(col, justify="right" if col != "verdict" else "left")
    for name, right, decided in verdict_rows(grid):
        table.add_row(name, pct(right, n), pct(decided, n), pct(right, decided))
    console.print(table)
    planes = [r["planes"] for r in grid if r.get("planes")]
    n_true = sum(p["n_true"] for p in planes)
    off = collections.Counter(r["interface"] for r in grid
                              if r.get("planes") and abs(r["planes"]["origin_shift_A"]) > MATCH_A)
    elements = [e for p in planes for e in p["elements"]]
    spacing = np.abs([s for p in planes for s in p["spacing_err_A"]])
    z_scores = np.array([z for p in planes for z in p["spacing_z"]])
    tin = np.abs([r["tin_err_pct"] for r in grid if r.get("tin_err_pct") is not None])
    console.print(f"planes (ordered, N and disordered band left out): {n_true} true; recall strict "
                  f"{pct(sum(p['strict'] for p in planes), n_true)}, up to an origin shift "
                  f"{pct(sum(p['shifted'] for p in planes), n_true)}; origin off by > {MATCH_A} Å in "
                  f"{sum(off.values())}/{len(planes)} images ({', '.join(f'{k} {off[k]}' for k in CLASSES)})")
    wrong_el = collections.Counter((t, f) for t, f in elements if t != f)
    console.print(f"element of recalled planes right: {pct(sum(t == f for t, f in elements), len(elements))}; "
                  f"most common mistakes (truth -> found): {wrong_el.most_common(5)}")
    if len(spacing):
        console.print(f"spacing error (consecutive planes both found): median {np.median(spacing):.3f} Å, "
                      f"p95 {np.percentile(spacing, 95):.3f} Å ({len(spacing)} spacings); error / stated "
                      f"uncertainty: std {np.std(z_scores):.2f}, within 3: {np.mean(np.abs(z_scores) < 3):.0%} "
                      "(1 and 99.7 % when the error bars are honest)")
    if len(tin):
        covers = [r["ci_covers"] for r in grid if r.get("ci_covers") is not None]
        console.print(f"TiN a error: median {np.median(tin):.2f} %, p95 {np.percentile(tin, 95):.2f} % "
                      f"({len(tin)} images with a TiN a); its 95 % CI covers the truth in {pct(sum(covers), len(covers))}")


def verdict_rows(rows):
    yield ("class", sum(r["klass"] == r["interface"] for r in rows), sum(r["klass"] is not None for r in rows))
    yield ("system", sum(r.get("system_found") == r["system"] for r in rows),
           sum(r.get("system_found") is not None for r in rows))
    yield ("strain verdict", sum(r["verdict"] == ("ok" if abs(r["strain_pct"]) < 1 else "strained") for r in rows),
           sum(r["verdict"] in ("ok", "strained") for r in rows))


def report_strain_margin(console, grid, margin):
    """Strain verdicts by how far the true strain is from the threshold, and the accuracy outside the margin."""
    table = Table(title="strain verdict by |true strain| - 1 % (the CI's half-width beside it)", title_justify="left")
    for col in ("distance %", "n", "right", "inconclusive", "wrong", "not decidable", "CI half-width median %"):
        table.add_column(col, justify="right")
    distance = np.array([abs(abs(r["strain_pct"]) - 1.0) for r in grid])
    truth = ["ok" if abs(r["strain_pct"]) < 1 else "strained" for r in grid]
    for lo, hi in ((0, 0.1), (0.1, 0.2), (0.2, 0.4), (0.4, 0.7), (0.7, 1.0), (1.0, 2.1)):
        sel = [k for k in range(len(grid)) if lo <= distance[k] < hi]
        verdicts = [grid[k]["verdict"] for k in sel]
        half = [grid[k]["ci_half_pct"] for k in sel if grid[k].get("ci_half_pct") is not None]
        table.add_row(f"{lo:.1f}-{hi:.1f}", str(len(sel)), str(sum(grid[k]["verdict"] == truth[k] for k in sel)),
                      str(verdicts.count("inconclusive")),
                      str(sum(v in ("ok", "strained") and v != truth[k] for k, v in zip(sel, verdicts))),
                      str(sum(v is None for v in verdicts)), f"{np.median(half):.2f}" if half else "-")
    console.print(table)
    clear = [k for k in range(len(grid)) if distance[k] >= margin]
    right = sum(grid[k]["verdict"] == truth[k] for k in clear)
    console.print(f"strain verdict where the truth is >= {margin} % from the threshold: {pct(right, len(clear))} "
                  f"right (inconclusive and not decidable count as wrong)")
    for k in clear:
        r = grid[k]
        if r["verdict"] != truth[k]:
            console.print(f"  strain {r['verdict']}: seed {r['seed']} {r['system']} {r['interface']} true "
                          f"{r['strain_pct']:+.2f} %, TiN a error {r.get('tin_err_pct') or float('nan'):+.2f} %, CI "
                          f"±{r.get('ci_half_pct') or float('nan'):.2f} %, {r['pixel_size_A']:.3f} Å/px, "
                          f"drift {r['drift_px']:.2f} px, dose {r['dose']:.0f}", highlight=False)


def report_conditions(console, grid):
    table = Table(title="accuracy by condition (class / system / strain verdict; n)", title_justify="left")
    for col in ("parameter", "range", "n", "class", "system", "strain", "plane recall"):
        table.add_column(col, justify="left" if col in ("parameter", "range") else "right")
    for name, key in (("Z exponent", "exponent"), ("Bi / chalcogen", "bi_over_x"), ("chalcogen / Ti", "x_over_ti"),
                      ("ellipticity", "ellipticity"), ("wandering drift px", "drift_px"),
                      ("glitched lines", "corrupted"), ("Å/px", "pixel_size_A"), ("dose", "dose")):
        values = np.array([r[key] for r in grid], float)
        edges = np.quantile(values, [0, 1 / 3, 2 / 3, 1])
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = [r for r, v in zip(grid, values) if lo <= v <= hi]
            if not sel:
                continue
            acc = [right for _, right, _ in verdict_rows(sel)]
            planes = [r["planes"] for r in sel if r.get("planes")]
            recall = sum(p["shifted"] for p in planes) / max(sum(p["n_true"] for p in planes), 1)
            table.add_row(name, f"{lo:.3g}-{hi:.3g}", str(len(sel)), *(f"{a / len(sel):.2f}" for a in acc),
                          f"{recall:.2f}")
    console.print(table)


def report_sweep(console, grid):
    swept = [r for r in grid if r["sweep"]]
    if not swept:
        return
    table = Table(title=f"(b) calibration sweep, {len(swept)} images: pixel size = file's x factor",
                  title_justify="left")
    for col in ("factor", "system unchanged", "verdict unchanged", "class unchanged", "TiN a error median %",
                "|error| median %", "|error| p95 %", "errors"):
        table.add_column(col, justify="right")
    base = {id(r): dict(system_found=r["system_found"], verdict=r["verdict"], klass=r["klass"],
                        tin_err_pct=r.get("tin_err_pct")) for r in swept}
    for factor in (1.0,) + FACTORS:
        got = [(base[id(r)], base[id(r)] if factor == 1.0 else r["sweep"][factor]) for r in swept]
        err = np.array([g["tin_err_pct"] for _, g in got if g.get("tin_err_pct") is not None])
        table.add_row(f"{factor:.2f}", *(pct(sum(g.get(k) == b[k] for b, g in got), len(got))
                                         for k in ("system_found", "verdict", "klass")),
                      f"{np.median(err):+.2f}" if len(err) else "-",
                      f"{np.median(np.abs(err)):.2f}" if len(err) else "-",
                      f"{np.percentile(np.abs(err), 95):.2f}" if len(err) else "-",
                      str(sum("error" in g for _, g in got)))
    console.print(table)


def report_negatives(console, negatives):
    table = Table(title=f"(c) negative fields, {len(negatives)} images: no class and no strain verdict",
                  title_justify="left")
    for col in ("field", "n", "no class & no strain_ok", "no system", "errors", "what it said (first)"):
        table.add_column(col, justify="left" if col in ("field", "what it said (first)") else "right")
    for field in NEGATIVE_FIELDS:
        rows = [r for r in negatives if r["field"] == field]
        if not rows:
            continue
        quiet = sum(not r["error"] and r["klass"] is None and r.get("strain_ok") is None for r in rows)
        no_system = sum(r.get("system_found") is None and not r["error"] for r in rows)
        first = rows[0]
        said = first["error"] or (f"{first.get('system_found')} {first['klass']} ({first.get('confidence')}), "
                                  f"strain_ok {first.get('strain_ok')}: {first.get('evidence', '')[:60]}")
        table.add_row(field, str(len(rows)), pct(quiet, len(rows)),
                      pct(no_system, len(rows)) if field in FOREIGN_FIELDS else "(system expected)",
                      str(sum(bool(r["error"]) for r in rows)), said)
    console.print(table)


def report_reliability(console, results):
    table = Table(title="(d) reliability of the class: stated confidence vs how often it was right",
                  title_justify="left")
    for col in ("confidence", "decided", "right", "accuracy", "of which negative fields"):
        table.add_column(col, justify="right")
    decided = [r for r in results if r["klass"] is not None and r.get("confidence") is not None]
    for lo, hi in zip(CONFIDENCE_BINS[:-1], CONFIDENCE_BINS[1:]):
        sel = [r for r in decided if lo <= r["confidence"] < hi]
        right = sum(r["klass"] == r["interface"] for r in sel)
        table.add_row(f"{lo:.1f}-{min(hi, 1):.1f}", str(len(sel)), str(right),
                      f"{right / len(sel):.2f}" if sel else "-", str(sum(r["kind"] == "negative" for r in sel)))
    console.print(table)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=30, help="wide-grid interface images")
    parser.add_argument("--negatives", type=int, default=10, help="images without a TI/TiN interface")
    parser.add_argument("--calibration", type=int, default=None, help="grid images swept (default all)")
    parser.add_argument("--size", type=int, default=448, help="image side, px")
    parser.add_argument("--min-field", type=float, default=42.0, help="smallest field side, Å")
    parser.add_argument("--margin", type=float, default=0.4, help="strain accuracy outside ±margin %% of 1 %%")
    parser.add_argument("--jobs", type=int, default=1, choices=(1, 2))
    parser.add_argument("--harsh", action="store_true",
                        help="grid drawn with sample_harsh_params: TiN wedges, thin TiN beside vacuum, doses from 25")
    args = parser.parse_args(argv)
    console = Console(width=160)
    console.print("$ python benchmarks/bench_trust.py " + shlex.join(sys.argv[1:] if argv is None else argv),
                  highlight=False)
    todo = tasks(args.seed, args.count, args.negatives,
                 args.count if args.calibration is None else args.calibration, args.size, args.min_field,
                 harsh=args.harsh)
    start = time.perf_counter()
    if args.jobs > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = list(pool.imap(run_task, todo, chunksize=1))
    else:
        results = [run_task(t) for t in todo]
    console.print(f"{len(todo)} images ({sum(len(r['sweep']) for r in results)} more analyses in the sweep) in "
                  f"{time.perf_counter() - start:.0f} s on {args.jobs} process(es); analyze median "
                  f"{np.median([r['seconds'] for r in results]):.2f} s per image", highlight=False)
    grid = [r for r in results if r["kind"] == "grid"]
    if grid:
        report_grid(console, grid)
        report_strain_margin(console, grid, args.margin)
        report_conditions(console, grid)
        report_sweep(console, grid)
    negatives = [r for r in results if r["kind"] == "negative"]
    if negatives:
        report_negatives(console, negatives)
    report_reliability(console, results)
    wrong = [r for r in grid if r["error"] or r["klass"] != r["interface"] or r.get("system_found") != r["system"]]
    for r in wrong[:25]:
        console.print(f"  wrong: seed {r['seed']} {r['system']} {r['interface']} -> {r.get('system_found')} "
                      f"{r['klass']} ({r.get('confidence')}); n={r['exponent']:.2f} Bi/X={r['bi_over_x']:.2f} "
                      f"X/Ti={r['x_over_ti']:.2f} {r['pixel_size_A']:.3f} Å/px dose {r['dose']:.0f}: "
                      f"{r['error'] or r.get('evidence', '')[:70]}", highlight=False)


if __name__ == "__main__":
    main()
