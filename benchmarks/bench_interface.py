"""The interface along its length: segments, coverage, terrace steps and the whole class, against the truth.

    .venv/bin/python benchmarks/bench_interface.py [--count 40] [--seed 3] [--harsh] [--ordered-steps]

Draws ~100 Å wide fields whose interface changes class and terrace along its length
(``stemlayers.simulate.lateral.sample_lateral_params``: 0-4 boundaries at least 20 Å apart, a third of
them terrace steps of one TiN (111) plane, either system, doses 60-400, 0.07-0.14 Å/px, within 8° of
level either way up), analyses each, and scores (``--ordered-steps``: every field ordered along its whole
length, bilayer and vdW stretches only, over 1-3 terrace steps, each with or without a change of class):

* the whole interface's class (the class covering >= 80 % of the length, else "mixed");
* every true class boundary against the nearest found one (a found boundary is where two decided
  segments of different classes meet), in nm, and the boundaries missed or invented;
* the coverage of each class against the truth (percentage points);
* terrace steps: found within 1 nm, their height in planes, and steps reported on flat terraces;
* the strain verdict where one is given.

Targets (issue "the interface along its length"): boundaries within 1 nm, coverage within ±10 %,
stepped vdW / bilayer contacts never "deteriorated", steps within 1 nm and none on flat terraces.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from stemlayers import analyze, load
from stemlayers.simulate import simulate
from stemlayers.simulate.lateral import sample_lateral_params

CLASSES = ("bilayer", "vdw", "deteriorated")


def true_boundaries(truth):
    """Pixel points where the true class changes along the interface."""
    s = truth.segments
    return [0.5 * (np.asarray(a["end_px"]) + np.asarray(b["start_px"]))
            for a, b in zip(s[:-1], s[1:]) if a["class"] != b["class"]]


def found_boundaries(segments):
    """Pixel points where two decided segments of different classes meet (across undecided ones)."""
    decided = [s for s in segments if s["class"] != "not decidable"]
    return [0.5 * (np.asarray(a["end_px"]) + np.asarray(b["start_px"]))
            for a, b in zip(decided[:-1], decided[1:]) if a["class"] != b["class"]]


def under_band(step, segments):
    """Whether a true step lies under a deteriorated stretch (at the meeting of two segments, either one
    deteriorated): there the roughened TiN planes hide the terrace in the image itself."""
    at = np.asarray(step["at_px"])
    meetings = [(np.hypot(*(np.asarray(b["start_px"]) - at)), "deteriorated" in (a["class"], b["class"]))
                for a, b in zip(segments[:-1], segments[1:])]
    return bool(meetings) and min(meetings)[1]


def _match(truth_points, found_points, px, reach_A=10.0):
    """(errors in Å of the matched true points, number missed, number found with no true point near)."""
    errors, used = [], set()
    for p in truth_points:
        if not found_points:
            break
        d = [np.hypot(*(np.asarray(q) - p)) * px for q in found_points]
        j = int(np.argmin(d))
        if d[j] <= reach_A and j not in used:
            errors.append(d[j])
            used.add(j)
    return errors, len(truth_points) - len(errors), len(found_points) - len(used)


def score(sim, report):
    """One image's scores against its truth."""
    t, d = sim.truth, report.to_dict()
    i = d["interface"]
    px = t.pixel_size_A
    b_err, b_miss, b_extra = _match(true_boundaries(t), found_boundaries(i.get("segments") or []), px)
    s_err, s_miss, s_extra = _match([np.asarray(s["at_px"]) for s in t.steps],
                                    [np.asarray(s["at_px"]) for s in i.get("steps") or []], px)
    visible = [np.asarray(s["at_px"]) for s in t.steps if not under_band(s, t.segments)]
    v_err, v_miss, _ = _match(visible, [np.asarray(s["at_px"]) for s in i.get("steps") or []], px)
    coverage = i.get("coverage") or {}
    cov_err = [abs(coverage.get(c, 0.0) - t.coverage.get(c, 0.0)) for c in CLASSES]
    stepped_ordered = bool(t.steps) and set(t.coverage) <= {"vdw", "bilayer"}
    strain = d["strain"] or {}
    truth_ok = abs(t.tin_strain_pct) < 1.0
    return dict(klass=i["class"], truth=t.interface, system_right=d["system"] == t.system, boundary_err_A=b_err, missed=b_miss, extra=b_extra,
                step_err_A=s_err, steps_missed=s_miss, visible_step_err_A=v_err, visible_steps_missed=v_miss, steps_extra=s_extra, flat_steps=s_extra if not t.steps else 0,
                coverage_err=max(cov_err), nd=coverage.get("not decidable", 0.0),
                stepped_deteriorated=stepped_ordered and i["class"] == "deteriorated",
                strain=strain.get("strain_verdict"), strain_right=(strain.get("strain_ok") == truth_ok
                                                                   if strain.get("strain_ok") is not None
                                                                   and abs(abs(t.tin_strain_pct) - 1) > 0.2
                                                                   else None))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--harsh", action="store_true", help="the wide grid's broken assumptions too")
    parser.add_argument("--ordered-steps", action="store_true",
                        help="bilayer and vdW stretches only, over 1-3 terrace steps")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    rows, seconds = [], []
    for _ in track(range(args.count), description="fields"):
        params = (sample_lateral_params(rng, n_boundaries=int(rng.integers(1, 4)), step_share=1.0,
                                        kinds=("bilayer", "vdw"))
                  if args.ordered_steps else sample_lateral_params(rng))
        if args.harsh:
            from stemlayers.simulate import sample_wide_params
            import dataclasses

            wide = dataclasses.asdict(sample_wide_params(rng, system=params.system))
            keep = ("contrast_exponent", "channelling", "column_ellipticity", "column_ellipse_angle_deg",
                    "scan_drift_nonlinear_px", "corrupted_lines", "dose")
            params = dataclasses.replace(params, **{k: wide[k] for k in keep})
        sim = simulate(params)
        start = time.perf_counter()
        report = analyze(load(sim.data, pixel_size=sim.pixel_size_A))
        seconds.append(time.perf_counter() - start)
        rows.append(score(sim, report))
    console = Console()
    decided = [r for r in rows if r["klass"] is not None]
    right = sum(r["klass"] == r["truth"] for r in decided)
    b_err = np.concatenate([r["boundary_err_A"] for r in rows] or [np.zeros(0)])
    s_err = np.concatenate([r["step_err_A"] for r in rows] or [np.zeros(0)])
    cov = np.array([r["coverage_err"] for r in rows])
    table = Table(title=f"interface along its length: {len(rows)} fields (seed {args.seed}"
                        + (", harsh" if args.harsh else "") + (", ordered over steps" if args.ordered_steps else "")
                        + ")")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("system right", f"{sum(r['system_right'] for r in rows)}/{len(rows)}", "all")
    table.add_row("whole class decided", f"{len(decided)}/{len(rows)}", "")
    table.add_row("whole class right when decided", f"{right}/{len(decided)}", "all")
    table.add_row("class boundaries found (within 1 nm)",
                  f"{len(b_err)}/{len(b_err) + sum(r['missed'] for r in rows)}", "")
    table.add_row("boundary error median / p95 / max (nm)",
                  " / ".join(f"{v / 10:.2f}" for v in (np.median(b_err), np.percentile(b_err, 95), b_err.max()))
                  if len(b_err) else "-", "<= 1 nm")
    table.add_row("boundaries invented", str(sum(r["extra"] for r in rows)), "0")
    table.add_row("coverage error median / p95 / max (points)",
                  f"{100 * np.median(cov):.1f} / {100 * np.percentile(cov, 95):.1f} / {100 * cov.max():.1f}", "<= 10")
    table.add_row("coverage not decidable, median / max", f"{100 * np.median([r['nd'] for r in rows]):.0f} / "
                  f"{100 * max(r['nd'] for r in rows):.0f} %", "")
    table.add_row("terrace steps found (within 1 nm)",
                  f"{len(s_err)}/{len(s_err) + sum(r['steps_missed'] for r in rows)}", "all")
    v_err = np.concatenate([r["visible_step_err_A"] for r in rows] or [np.zeros(0)])
    table.add_row("  of which between ordered stretches",
                  f"{len(v_err)}/{len(v_err) + sum(r['visible_steps_missed'] for r in rows)}", "all")
    table.add_row("step position error median / p95 / max (nm)",
                  " / ".join(f"{v / 10:.2f}" for v in (np.median(s_err), np.percentile(s_err, 95), s_err.max()))
                  if len(s_err) else "-", "<= 1 nm")
    table.add_row("steps reported on flat fields", str(sum(r["flat_steps"] for r in rows)), "0")
    table.add_row("steps invented on stepped fields", str(sum(r["steps_extra"] for r in rows) -
                                                          sum(r["flat_steps"] for r in rows)), "0")
    table.add_row("stepped vdW/bilayer called deteriorated", str(sum(r["stepped_deteriorated"] for r in rows)), "0")
    clear = [r for r in rows if r["strain_right"] is not None]
    table.add_row("strain verdicts right (clear of 1 % by 0.2)", f"{sum(r['strain_right'] for r in clear)}/{len(clear)}",
                  "all")
    table.add_row("analysis time median (s)", f"{np.median(seconds):.2f}", "")
    console.print(table)
    wrong = [r for r in decided if r["klass"] != r["truth"]]
    for r in wrong:
        console.print(f"wrong: truth {r['truth']}, found {r['klass']}")


if __name__ == "__main__":
    main()
