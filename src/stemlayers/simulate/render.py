"""Incoherent HAADF image formation.

The image is the sum over columns of the column weight times the probe
intensity: a Gaussian core plus a weak, long tail. The core is evaluated
exactly, pixel by pixel (:func:`stemlayers.columns.render.render_gaussians`); the tail is broad, so
it is applied by FFT convolution of the weights deposited on the pixel grid.
Scan artefacts act where they act in a real scan: jitter shifts each scan
line, drift distorts positions linearly in time (row), and counting noise is
added last.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

__all__ = ["to_image_frame", "add_tail", "apply_noise"]


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
