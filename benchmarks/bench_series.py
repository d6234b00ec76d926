"""Frame-series registration against the truth: precision gained over one frame, TiN a spread, speed.

    python benchmarks/bench_series.py [--seeds 5] [--frames 10] [--size 384] [--shear 0.02] [--timing 20x1024]
                                      [--figure docs/series_registration.png]

(a) Precision: `--seeds` simulated series (``stemlayers.simulate.series``) of `--frames` frames of
    `--size` px: drift (2, 1.5) px per frame, line jitter 0.8 px rms, each frame's own slow-scan shear
    (sd `--shear`, x px per row) and stretch (sd half that), 60 counts at the brightest column. The
    columns found in one frame, in the rigidly registered mean and in the fully registered mean are
    compared with the true positions after the best affine map (rms, px); the gain is one frame's
    error over the registered one (sqrt(frames) is the noise limit).
(b) The TiN in-plane a over the same series: its spread (sd, %) from one frame against the registered mean.
(c) Speed: `--timing NxS`: N frames of S x S px registered (rigid + non-rigid), wall time.
With `--figure`, a before/after picture of the first series: one frame, the rigid mean, the registered mean.

A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from stemlayers import analyze, find_columns, load
from stemlayers.series.register import register
from stemlayers.simulate.series import affine_residual, simulate_series


def _truth_xy(series, margin=12):
    t = series.truth
    xy = np.column_stack([t.x_px, t.y_px])
    size = np.array(series.frames.shape[:0:-1])
    bright = t.weight > 0.3 * np.median(t.weight)
    return xy[bright & np.all((xy > margin) & (xy < size - margin), axis=1)]


def one_series(seed, frames, size, shear):
    s = simulate_series(n_frames=frames, shape=(size, size), dose=60, seed=seed, shear_sd=shear,
                        stretch_sd=shear / 2)
    truth = _truth_xy(s)
    one = np.mean([affine_residual(find_columns(s.frames[k], pixel_size=0.1).xy, truth, tuple(s.drift_px[k]))[0]
                   for k in range(3)])
    out = dict(seed=seed, one=one, tin_one=analyze(load(s.frames[0], pixel_size=0.1)).strain.tin_inplane_A)
    for name, nonrigid in (("rigid", False), ("registered", True)):
        start = time.perf_counter()
        image = register(s.frames, pixel_size=0.1, nonrigid=nonrigid)
        out[name + "_s"] = time.perf_counter() - start
        crop = image.metadata["series"]["crop_px"]
        out[name] = affine_residual(find_columns(image).xy, truth, (-crop[0], -crop[1]))[0]
        out["tin_" + name] = analyze(image).strain.tin_inplane_A
    out["tin_true"] = s.truth.tin_inplane_A
    return out


def before_after(path, frames, size, shear, seed=0):
    """One frame, the rigid mean and the registered mean of one series, side by side (a central crop)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = simulate_series(n_frames=frames, shape=(size, size), dose=60, seed=seed, shear_sd=shear,
                        stretch_sd=shear / 2)
    rigid = register(s.frames, pixel_size=0.1, nonrigid=False)
    full = register(s.frames, pixel_size=0.1)
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.8), constrained_layout=True)
    for ax, (title, data) in zip(axes, (("one frame", s.frames[0]), (f"rigid mean of {frames}", rigid.data),
                                        (f"registered mean of {frames} (rigid + scan rows)", full.data))):
        h, w = data.shape
        crop = data[h // 2 - 100:h // 2 + 100, w // 2 - 100:w // 2 + 100]
        ax.imshow(crop, cmap="gray", extent=(0, 20, 20, 0))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("Å")
    fig.suptitle(f"{frames} fast frames: drift, 0.8 px line jitter, slow-scan shear sd {100 * shear:.0f} % per frame",
                 fontsize=10)
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--shear", type=float, default=0.02)
    parser.add_argument("--timing", default="20x1024")
    parser.add_argument("--figure", default=None, help="write a before/after picture here")
    args = parser.parse_args(argv)
    console = Console(width=140)
    rows = [one_series(seed, args.frames, args.size, args.shear) for seed in range(args.seeds)]
    table = Table(title=f"(a) column error after the best affine map, px ({args.frames} frames of {args.size}² px, "
                        f"shear sd {100 * args.shear:.1f} %, jitter 0.8 px)", title_justify="left")
    for col in ("seed", "one frame", "rigid", "registered", "gain rigid", "gain registered", "register s"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["seed"]), f"{r['one']:.3f}", f"{r['rigid']:.3f}", f"{r['registered']:.3f}",
                      f"{r['one'] / r['rigid']:.2f}", f"{r['one'] / r['registered']:.2f}", f"{r['registered_s']:.1f}")
    console.print(table)
    gains = np.array([[r["one"] / r["rigid"], r["one"] / r["registered"]] for r in rows])
    console.print(f"median gain: rigid {np.median(gains[:, 0]):.2f}x, registered {np.median(gains[:, 1]):.2f}x "
                  f"(sqrt({args.frames}) = {np.sqrt(args.frames):.2f})")
    dev = {k: [100 * (r["tin_" + k] / r["tin_true"] - 1) for r in rows if r["tin_" + k]]
           for k in ("one", "rigid", "registered")}
    console.print("(b) TiN a error over the series, % (mean ± sd): "
                  + ", ".join(f"{k} {np.mean(v):+.3f} ± {np.std(v):.3f}" for k, v in dev.items()))
    if args.figure:
        before_after(args.figure, args.frames, args.size, args.shear)
    n, size = (int(x) for x in args.timing.lower().split("x"))
    s = simulate_series(n_frames=n, shape=(size, size), dose=60, seed=99, shear_sd=args.shear, stretch_sd=args.shear / 2)
    for nonrigid in (False, True):
        start = time.perf_counter()
        register(s.frames, pixel_size=0.1, nonrigid=nonrigid)
        console.print(f"(c) {n} frames of {size}² px, {'rigid + non-rigid' if nonrigid else 'rigid only'}: "
                      f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
