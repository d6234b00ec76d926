"""Incoherent HAADF image formation.

The image is the sum over columns of the column weight times the probe
intensity: a Gaussian core plus a weak, long tail. The core is evaluated
exactly, pixel by pixel, on a patch around each column (vectorised over
chunks of columns and accumulated with ``np.bincount``); the tail is broad, so
it is applied by FFT convolution of the weights deposited on the pixel grid.
Scan artefacts act where they act in a real scan: jitter shifts each scan
line, drift distorts positions linearly in time (row), and counting noise is
added last.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

__all__ = ["to_image_frame", "render_columns", "add_tail", "apply_noise"]


def to_image_frame(u_A, v_A, shape, pixel_size_A, rotation_deg=0.0, flip=False,
                   center_A=(0.0, 0.0), drift_shear=0.0, drift_stretch=0.0):
    """Map specimen coordinates (u along the interface, v up the growth direction) to pixels.

    At rotation 0 the growth direction points up the image (TiN at the
    bottom); a positive rotation turns the specimen counter-clockwise on
    screen; `flip` mirrors it (u -> -u) before rotation. Drift is a slow
    linear distortion in scan time: rows are scanned one after another, so a
    drifting specimen appears sheared (x shifts in proportion to the row) and
    stretched along y.

    Returns
    -------
    xy : (N, 2) float array
        (x = column, y = row) in pixels.
    growth_dir : (2,) float array
        Unit vector of the growth direction in (x, y) pixel coordinates,
        before drift.
    """
    theta = np.deg2rad(rotation_deg)
    u = (-1.0 if flip else 1.0) * (np.asarray(u_A) - center_A[0])
    v = np.asarray(v_A) - center_A[1]
    x_math = u * np.cos(theta) - v * np.sin(theta)
    y_math = u * np.sin(theta) + v * np.cos(theta)
    cy, cx = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    dy = -y_math / pixel_size_A
    x = cx + x_math / pixel_size_A + drift_shear * dy
    y = cy + dy * (1.0 + drift_stretch)
    growth_dir = np.array([-np.sin(theta), -np.cos(theta)])
    return np.column_stack([x, y]), growth_dir


def render_columns(xy, weight, shape, sigma_px, line_shift_px=None, chunk=4096):
    """Sum of Gaussian columns, exact per pixel, with per-scan-line shifts.

    Parameters
    ----------
    xy : (N, 2) float array
        Column positions (x, y) in pixels.
    weight : (N,) float array
        Peak height of each column.
    shape : (rows, cols)
    sigma_px : float
        Standard deviation of the Gaussian core, in pixels.
    line_shift_px : (rows,) float array, optional
        Horizontal shift of each scan line (scan jitter): a column is drawn
        at ``x + line_shift_px[row]`` on that row.
    chunk : int
        Columns evaluated at once (bounds memory).

    Returns
    -------
    (rows, cols) float64 array
    """
    rows, cols = shape
    half = int(np.ceil(4.5 * sigma_px + (0 if line_shift_px is None else np.abs(line_shift_px).max())))
    offsets = np.arange(-half, half + 1)
    image = np.zeros(rows * cols)
    keep = ((xy[:, 0] > -half) & (xy[:, 0] < cols + half) & (xy[:, 1] > -half) & (xy[:, 1] < rows + half))
    xy, weight = xy[keep], np.asarray(weight, float)[keep]
    inv2s2 = 1.0 / (2.0 * sigma_px**2)
    for start in range(0, len(xy), chunk):
        x = xy[start:start + chunk, 0][:, None, None]
        y = xy[start:start + chunk, 1][:, None, None]
        w = weight[start:start + chunk][:, None, None]
        r = np.round(y) + offsets[None, :, None]  # (n, k, 1) pixel rows
        c = np.round(x) + offsets[None, None, :]  # (n, 1, k) pixel columns
        valid = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
        r_idx = np.clip(r, 0, rows - 1).astype(np.int64)
        shift = 0.0 if line_shift_px is None else line_shift_px[r_idx]
        value = w * np.exp(-((c - x - shift) ** 2 + (r - y) ** 2) * inv2s2)
        flat = (r_idx * cols + np.clip(c, 0, cols - 1).astype(np.int64))
        flat, valid = np.broadcast_arrays(flat, valid)
        image += np.bincount(flat[valid], weights=value[valid], minlength=rows * cols)
    return image.reshape(rows, cols)


def _deposit(xy, weight, shape):
    """Spread each weight over its four nearest pixels (bilinear)."""
    rows, cols = shape
    x0, y0 = np.floor(xy[:, 0]).astype(np.int64), np.floor(xy[:, 1]).astype(np.int64)
    fx, fy = xy[:, 0] - x0, xy[:, 1] - y0
    grid = np.zeros(rows * cols)
    for dx, dy, share in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                          (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        ok = (xi >= 0) & (xi < cols) & (yi >= 0) & (yi < rows)
        grid += np.bincount(yi[ok] * cols + xi[ok], weights=(weight * share)[ok], minlength=rows * cols)
    return grid.reshape(rows, cols)


def add_tail(xy, weight, shape, sigma_px, tail_fraction, tail_width_px):
    """The probe's long tail: a Lorentzian-like halo holding `tail_fraction` of the probe's current.

    The halo is ``(1 + r^2 / w^2)^(-3/2)`` with width `tail_width_px`,
    normalised so that its integral is ``tail_fraction / (1 - tail_fraction)``
    times the integral of a unit-peak Gaussian core of `sigma_px`.
    """
    if tail_fraction <= 0:
        return np.zeros(shape)
    rows, cols = shape
    pad = int(min(4 * tail_width_px, max(rows, cols)))
    big = (rows + 2 * pad, cols + 2 * pad)
    # padded, so that columns just outside the field still throw their halo into it
    grid = _deposit(xy + pad, weight, big)
    ky = fft.fftfreq(big[0]) * big[0]
    kx = fft.fftfreq(big[1]) * big[1]
    r2 = ky[:, None] ** 2 + kx[None, :] ** 2
    halo = (1.0 + r2 / tail_width_px**2) ** -1.5
    core_integral = 2 * np.pi * sigma_px**2
    halo *= tail_fraction / (1 - tail_fraction) * core_integral / halo.sum()
    out = fft.irfft2(fft.rfft2(grid) * fft.rfft2(halo), s=big, workers=-1)
    return out[pad:pad + rows, pad:pad + cols]


def apply_noise(counts, rng, read_noise=0.0):
    """Poisson counting noise on expected `counts`, plus Gaussian detector noise."""
    noisy = rng.poisson(np.clip(counts, 0, None)).astype(np.float64)
    if read_noise > 0:
        noisy += rng.normal(0.0, read_noise, counts.shape)
    return noisy
