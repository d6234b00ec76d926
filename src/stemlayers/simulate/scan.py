"""Scan artefacts beyond linear drift: a drift that wanders with scan time, and glitched lines.

A STEM image is scanned row by row, so anything that changes with time
changes with the row. :func:`nonlinear_drift_px` is a smooth random
displacement of the specimen as a function of the (slow-scan) row: columns
move with it, so the truth moves with it. :func:`corrupt_lines` damages
whole scan lines as flyback glitches do: a line shifted sideways by several
pixels, a blanked (dark) line, or a line that repeats the one before.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LINE_FAULTS", "corrupt_lines", "nonlinear_drift_px"]

#: Kinds of corrupted scan line, in the order of the codes :func:`corrupt_lines` returns.
LINE_FAULTS = ("shifted", "blanked", "duplicated")


def nonlinear_drift_px(y_px: np.ndarray, n_rows: int, amplitude_px: float, rng: np.random.Generator,
                       n_modes: int = 4) -> np.ndarray:
    """Smooth random (x, y) displacement of the specimen as a function of the scan row.

    Each component is a sum of `n_modes` sinusoids of 0.5 to `n_modes` / 2
    cycles over the frame, with random phases and amplitudes falling as
    1/frequency, scaled so that its largest absolute value over the frame
    is `amplitude_px`.

    Parameters
    ----------
    y_px : (N,) float array
        Rows at which to evaluate the displacement.
    n_rows : int
        Rows of the frame (the scan time runs from row 0 to row ``n_rows - 1``).
    amplitude_px : float
        Peak displacement of each component, px.
    rng : numpy Generator

    Returns
    -------
    (N, 2) float array
        (dx, dy) in pixels.
    """
    y_px = np.asarray(y_px, float)
    if amplitude_px <= 0:
        return np.zeros((y_px.size, 2))
    cycles = 0.5 * np.arange(1, n_modes + 1)                      # over the frame
    weights = rng.normal(size=(2, n_modes)) / cycles               # (component, mode)
    phases = rng.uniform(0, 2 * np.pi, (2, n_modes))
    grid = np.linspace(0, 1, max(n_rows, 2))

    def evaluate(t):
        return np.einsum("cm,ncm->nc", weights, np.sin(2 * np.pi * cycles * t[:, None, None] + phases))

    peak = np.abs(evaluate(grid)).max(axis=0)
    return evaluate(y_px / max(n_rows - 1, 1)) * (amplitude_px / np.maximum(peak, 1e-12))


def corrupt_lines(image: np.ndarray, fraction: float, rng: np.random.Generator, shift_px: tuple[int, int] = (2, 8),
                  blank_value: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Glitch ``round(fraction * rows)`` scan lines of `image`.

    Each chosen line is, at random, shifted sideways by `shift_px[0]` to
    `shift_px[1]` pixels either way (edge pixels repeated), blanked to
    `blank_value`, or replaced by the line above it (the first line by the one
    below). Lines are copied from the undamaged image.

    Parameters
    ----------
    image : (rows, cols) array
    fraction : float
        Share of the lines to corrupt (0-1).
    rng : numpy Generator
    shift_px : (int, int)
        Smallest and largest sideways shift, px.
    blank_value : float

    Returns
    -------
    out : (rows, cols) array
        A corrupted copy.
    rows : (k,) int array
        The corrupted lines, sorted.
    kind : (k,) int array
        Index into :data:`LINE_FAULTS` of each corrupted line.
    """
    n_rows, n_cols = image.shape
    n_bad = int(round(np.clip(fraction, 0, 1) * n_rows))
    out = np.array(image, copy=True)
    rows = np.sort(rng.choice(n_rows, n_bad, replace=False))
    kind = rng.integers(0, len(LINE_FAULTS), n_bad)
    shift = rng.integers(shift_px[0], shift_px[1] + 1, n_bad) * rng.choice([-1, 1], n_bad)

    shifted = rows[kind == 0]
    cols = np.clip(np.arange(n_cols)[None, :] - shift[kind == 0][:, None], 0, n_cols - 1)
    out[shifted] = image[shifted[:, None], cols]
    out[rows[kind == 1]] = blank_value
    duplicated = rows[kind == 2]
    out[duplicated] = image[np.where(duplicated > 0, duplicated - 1, 1)]
    return out, rows, kind
