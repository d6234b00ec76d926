"""Results per sample: a batch's images grouped by sample, with each class's coverage and the TiN a.

The microscopist compares samples, not images: how much of a sample's interface carries the bilayer, and
whether its TiN is strained. :func:`sample_of` names the sample of a file (its folder, or a regular
expression on its name), :func:`sample_table` aggregates the batch rows of each sample and
:func:`write_sample_results` writes the table (CSV) and a plot of the coverage per sample.

Coverage is length-weighted over the sample's images; its 95 % CI comes from resampling the images (the
sample's image-to-image variation) with each image's coverage drawn within its own uncertainty (where its
segment boundaries lie, and any part of its undecided length). The TiN a is the weighted mean of the images', its CI widened by their excess
scatter.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..io.units import as_number
from ..materials import MaterialsError, load_system
from ..numeric import inverse_variance_mean
from ..verdict.strain import strain_verdict

__all__ = ["CLASSES", "sample_of", "sample_table", "write_sample_results"]

CLASSES = ("bilayer", "vdw", "deteriorated")


def sample_of(file: str, pattern: str | None = None) -> str:
    """The sample a file belongs to: the first group (or the whole match) of `pattern` in its name, else its folder.

    Examples
    --------
    >>> sample_of("runs/S12/img_003.dm4"), sample_of("runs/S12_img_003.dm4", r"(S\\d+)_")
    ('runs/S12', 'S12')
    """
    if pattern:
        found = re.search(pattern, Path(file).name)
        if found:
            return found.group(1) if found.groups() else found.group(0)
        return "(no match)"
    return str(Path(file).parent)


def _coverage(rows, rng, n_draws):
    """Length-weighted coverage per class over the rows, and its 95 % CI (images resampled, each image's
    coverage drawn within its uncertainty)."""
    length = np.array([as_number(r.get("interface_length_A")) for r in rows])
    cover = np.array([[as_number(r.get(f"{c}_coverage")) for c in CLASSES] for r in rows]).reshape(-1, len(CLASSES))
    err = np.array([as_number(r.get("coverage_err")) for r in rows])
    ok = np.isfinite(length) & (length > 0) & np.isfinite(cover).all(axis=1)
    if not ok.any():
        return None, None, 0.0
    length, cover, err = length[ok], cover[ok], np.nan_to_num(err[ok])
    mean = (length[:, None] * cover).sum(axis=0) / length.sum()
    picks = rng.integers(0, len(length), (n_draws, len(length)))
    # an image's undecided share may be any class: each class may hold any part of it
    undecided = np.clip(1.0 - cover.sum(axis=1), 0.0, 1.0)
    drawn = np.clip(cover[picks] + rng.normal(0, 1, (n_draws, len(length), 1)) * err[picks][..., None]
                    + rng.uniform(0, 1, (n_draws, len(length), len(CLASSES))) * undecided[picks][..., None], 0, 1)
    weights = length[picks][..., None]
    boot = (weights * drawn).sum(axis=1) / weights.sum(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    return mean, np.stack([np.minimum(lo, mean), np.maximum(hi, mean)], axis=1), float(length.sum())


def _threshold_pct(rows):
    """The strain threshold (%) of the rows' material system (the most common one's), from its file; None when
    it cannot be read (a system file no longer on this machine)."""
    names = [r.get("system") for r in rows if r.get("system")]
    if not names:
        return None
    try:
        return load_system(max(set(names), key=names.count)).strain.threshold_pct
    except MaterialsError:
        return None


def _tin(rows):
    """(a, 95 % CI half-width, deviation %, its CI, verdict) of the TiN a over the rows that measured it; the
    verdict against the system's own threshold (None without one)."""
    a = np.array([as_number(r.get("tin_inplane_A")) for r in rows])
    err = np.array([as_number(r.get("tin_inplane_err_A")) for r in rows])
    dev = np.array([as_number(r.get("tin_inplane_deviation_pct")) for r in rows])
    ok = np.isfinite(a) & np.isfinite(err) & (err > 0) & np.isfinite(dev)
    if not ok.any():
        return None
    a, err, dev = a[ok], err[ok], dev[ok]
    mean, sigma = inverse_variance_mean(a, err)
    reference = float(np.median(a / (1 + dev / 100)))  # each row's reference, from its own deviation
    deviation = 100.0 * (mean / reference - 1.0)
    half = 100.0 * 1.96 * sigma / reference
    ci = [deviation - half, deviation + half]
    threshold = _threshold_pct(rows)
    return mean, 1.96 * sigma, deviation, ci, None if threshold is None else strain_verdict(ci, threshold)


def sample_table(rows, pattern: str | None = None, n_draws: int = 2000, seed: int = 0):
    """One row per sample: images, interface length, coverage per class with its CI, TiN a with its CI.

    Parameters
    ----------
    rows : list of dict
        Batch rows (:data:`stemlayers.batch.CSV_COLUMNS`); failed ones count as images that gave nothing.
    pattern : str, optional
        Regular expression naming the sample in a file name (see :func:`sample_of`).
    n_draws : int
        Resamplings for the coverage CI.
    seed : int

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    groups = {}
    for row in rows:
        groups.setdefault(sample_of(row["file"], pattern), []).append(row)
    out = []
    for sample, members in sorted(groups.items()):
        ok = [r for r in members if r.get("status") == "ok"]
        record = {"sample": sample, "n_images": len(members), "n_analysed": len(ok)}
        cover, ci, length = _coverage(ok, rng, n_draws)
        record["interface_length_A"] = round(length, 1)
        for k, klass in enumerate(CLASSES):
            record[f"{klass}_coverage"] = None if cover is None else round(float(cover[k]), 3)
            record[f"{klass}_coverage_ci95"] = None if ci is None else [round(float(v), 3) for v in ci[k]]
        tin = _tin(ok)
        record.update(tin_inplane_A=None, tin_inplane_ci95_A=None, tin_inplane_deviation_pct=None,
                      tin_inplane_deviation_ci95_pct=None, strain_verdict=None)
        if tin is not None:
            mean, half, deviation, dev_ci, verdict = tin
            record.update(tin_inplane_A=round(mean, 4), tin_inplane_ci95_A=[round(mean - half, 4), round(mean + half, 4)],
                          tin_inplane_deviation_pct=round(deviation, 3),
                          tin_inplane_deviation_ci95_pct=[round(v, 3) for v in dev_ci], strain_verdict=verdict)
        out.append(record)
    return pd.DataFrame(out)


def write_sample_results(rows, table, pattern: str | None = None) -> tuple[Path, Path]:
    """Write ``<table stem>_samples.csv`` and ``<table stem>_samples.png`` (coverage per sample) beside `table`.

    Returns
    -------
    (Path, Path)
        The table and the plot.
    """
    import io

    from matplotlib.figure import Figure

    from ..io.write import write_bytes_atomic, write_text_atomic
    from .figure._style import CLASS_COLORS  # matplotlib: only when a plot is drawn

    table = Path(table)
    frame = sample_table(rows, pattern)
    csv_path = table.with_name(table.stem + "_samples.csv")
    write_text_atomic(csv_path, frame.to_csv(index=False))
    figure = Figure(figsize=(max(4.0, 1.2 * len(frame) + 2), 3.6), layout="constrained")
    ax = figure.add_subplot()
    x = np.arange(len(frame))
    width = 0.8 / len(CLASSES)
    for k, klass in enumerate(CLASSES):
        values = frame[f"{klass}_coverage"].astype(float).fillna(0).to_numpy()
        ci = np.array([c if isinstance(c, list) else [np.nan, np.nan] for c in frame[f"{klass}_coverage_ci95"]])
        errors = np.abs(ci.T - values) if len(ci) else None
        ax.bar(x + (k - 1) * width, 100 * values, width, yerr=None if errors is None else 100 * np.nan_to_num(errors),
               capsize=3, color=CLASS_COLORS[klass], label=klass)
    names = [Path(s).name or s for s in frame["sample"]]  # a folder by its own name
    ax.set_xticks(x, [f"{s}\n({n} images)" for s, n in zip(names, frame["n_analysed"])], fontsize=8)
    ax.set_ylabel("coverage of the interface (%), 95 % CI")
    ax.set_ylim(0, 105)
    figure.legend(fontsize=8, ncols=3, loc="outside upper center")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plot_path = table.with_name(table.stem + "_samples.png")
    write_bytes_atomic(plot_path, buffer.getvalue())
    return csv_path, plot_path
