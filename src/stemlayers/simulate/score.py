"""Score found columns against a simulation's truth (for tests and benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.spatial import cKDTree

__all__ = ["ColumnScore", "match_points", "score_columns"]


def match_points(found_xy, true_xy, max_distance):
    """One-to-one matching of found to true points within `max_distance` (minimum total distance).

    Returns
    -------
    found_index, true_index : int arrays of matched pairs
    """
    found_xy = np.asarray(found_xy, float).reshape(-1, 2)
    true_xy = np.asarray(true_xy, float).reshape(-1, 2)
    if len(found_xy) == 0 or len(true_xy) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    pairs = cKDTree(found_xy).sparse_distance_matrix(cKDTree(true_xy), max_distance, output_type="coo_matrix")
    if pairs.nnz == 0:
        return np.zeros(0, int), np.zeros(0, int)
    # unmatched pairs cost more than any real match; shift so zero distance is still an edge
    cost = coo_matrix((pairs.data + 1e-9, (pairs.row, pairs.col)), shape=pairs.shape).tocsr()
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    try:
        rows, cols = min_weight_full_bipartite_matching(cost)
    except ValueError:  # no full matching exists: greedy, closest pairs first (sparse, any size)
        order = np.argsort(pairs.data)
        used_f = np.zeros(pairs.shape[0], bool)
        used_t = np.zeros(pairs.shape[1], bool)
        rows, cols = [], []
        for f, t in zip(pairs.row[order], pairs.col[order]):
            if not used_f[f] and not used_t[t]:
                used_f[f] = used_t[t] = True
                rows.append(f)
                cols.append(t)
    return np.asarray(rows, int), np.asarray(cols, int)


@dataclass(frozen=True)
class ColumnScore:
    """How found columns compare with the truth (lengths in pm)."""

    n_true: int
    n_found: int
    recall: float
    false_positive_rate: float
    rms_error_pm: float
    median_error_pm: float
    error_ratio_std: float  # std of (error / reported error): 1 for honest error bars
    matched_found: np.ndarray
    matched_true: np.ndarray


def score_columns(columns, truth, min_intensity=0.5, match_A=0.6, margin_px=2.0, ordered_only=True):
    """Recall of Ti-and-heavier columns, false positives, position error and error-bar honesty.

    A found column matched to any true column (a faint N or a partial band
    column included) is not a false positive; recall counts true columns at
    least `min_intensity` x a Ti column, at least `margin_px` inside the field,
    and, with `ordered_only`, only columns of atomic planes: the columns of a
    disordered band sit at random, often closer than the probe resolves.
    """
    rows, cols = truth.shape
    inside = ((truth.x_px >= margin_px) & (truth.x_px <= cols - 1 - margin_px)
              & (truth.y_px >= margin_px) & (truth.y_px <= rows - 1 - margin_px))
    wanted = inside & truth.visible(min_intensity)
    if ordered_only:
        wanted &= truth.plane >= 0
    max_px = match_A / truth.pixel_size_A
    f_all, t_all = match_points(columns.xy, truth.xy, max_px)
    found_inside = ((columns.xy[:, 0] >= margin_px) & (columns.xy[:, 0] <= cols - 1 - margin_px)
                    & (columns.xy[:, 1] >= margin_px) & (columns.xy[:, 1] <= rows - 1 - margin_px))
    matched_any = np.zeros(len(columns), bool)
    matched_any[f_all] = True
    n_false = int((found_inside & ~matched_any).sum())
    sel = wanted[t_all]
    f, t = f_all[sel], t_all[sel]
    delta = columns.xy[f] - truth.xy[t]
    error_pm = np.hypot(*delta.T) * truth.pixel_size_A * 100
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (delta / columns.xy_err[f]).ravel()
    ratio = ratio[np.isfinite(ratio)]
    n_true = int(wanted.sum())
    return ColumnScore(
        n_true=n_true, n_found=int(found_inside.sum()),
        recall=len(t) / n_true if n_true else float("nan"),
        false_positive_rate=n_false / max(int(found_inside.sum()), 1),
        rms_error_pm=float(np.sqrt(np.mean(error_pm**2))) if len(f) else float("nan"),
        median_error_pm=float(np.median(error_pm)) if len(f) else float("nan"),
        error_ratio_std=float(np.std(ratio)) if len(ratio) else float("nan"),
        matched_found=f, matched_true=t,
    )
