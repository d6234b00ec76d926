"""Sums of 2D Gaussians on a pixel grid, evaluated exactly per pixel.

One vectorised splat serves the simulator (rendering columns) and the column
refinement (the current model of every column, to subtract a column's
neighbours from its patch). Gaussians are round unless an ellipticity is
given (columns of a mistilted specimen, in the simulator).
"""

from __future__ import annotations

import numpy as np

__all__ = ["render_gaussians", "unit_gaussian"]


def unit_gaussian(dx, dy, sigma, r2=None):
    """``exp(-(dx² + dy²) / 2σ²)``: a round Gaussian of peak 1 at offsets (dx, dy) from its centre.

    Parameters
    ----------
    dx, dy, sigma : array_like
        Broadcast together.
    r2 : array_like, optional
        ``dx² + dy²`` when the caller has it already.

    Examples
    --------
    >>> float(unit_gaussian(1.0, 0.0, 1.0)) == float(np.exp(-0.5))
    True
    """
    if r2 is None:
        r2 = dx * dx + dy * dy
    return np.exp(-0.5 * r2 / (sigma * sigma))


def _inverse_covariance(sigma, ellipticity, angle_deg):
    """Halved inverse-covariance terms (a, b, c) of area-preserving elliptical Gaussians.

    ``A exp(-(a dx^2 + 2 b dx dy + c dy^2))`` has standard deviations
    ``sigma * sqrt(ellipticity)`` along the major axis, at `angle_deg` from +x
    towards +y (pixel rows), and ``sigma / sqrt(ellipticity)`` across it.
    """
    theta = np.deg2rad(angle_deg)
    cos, sin = np.cos(theta), np.sin(theta)
    inv_major = 0.5 / (sigma**2 * ellipticity)
    inv_minor = 0.5 * ellipticity / sigma**2
    a = cos**2 * inv_major + sin**2 * inv_minor
    b = cos * sin * (inv_major - inv_minor)
    c = sin**2 * inv_major + cos**2 * inv_minor
    return a, b, c


def render_gaussians(xy, amplitude, sigma, shape, line_shift_px=None, chunk=None, reach=4.5, dtype=np.float64,
                     ellipticity=1.0, angle_deg=0.0):
    """Sum of Gaussians ``A exp(-r^2 / 2 sigma^2)``, exact per pixel.

    Parameters
    ----------
    xy : (N, 2) float array
        Centres (x = column, y = row) in pixels.
    amplitude : (N,) float array
        Peak heights.
    sigma : float or (N,) float array
        Standard deviations in pixels.
    shape : (rows, cols)
    line_shift_px : (rows,) float array, optional
        Horizontal shift of each scan line (scan jitter): a Gaussian is drawn
        at ``x + line_shift_px[row]`` on that row.
    chunk : int, optional
        Gaussians evaluated at once; by default as many as fit in about
        150 000 pixel evaluations, so that a chunk's temporaries (about 1 MB)
        stay in the CPU's cache instead of streaming through main memory
        (twice as fast as 16 million at a time on a 2048 x 2048 image).
    reach : float
        Each Gaussian is evaluated out to `reach` sigma (sigma at most 1.25x the
        median of `sigma`: wider ones are truncated there).
    dtype : numpy dtype
        Precision of the per-pixel arithmetic (float32 is twice as fast, for
        models inside a fit; the simulator keeps float64).
    ellipticity : float
        Ratio of the major to the minor axis (1 = round, the fast separable
        path). The area is kept: the standard deviations are
        ``sigma * sqrt(ellipticity)`` and ``sigma / sqrt(ellipticity)``, so
        the peak height and the integral are those of the round Gaussian.
    angle_deg : float
        Direction of the major axis, from +x towards +y (rows), in degrees.

    Returns
    -------
    (rows, cols) float64 array
    """
    rows, cols = shape
    xy = np.asarray(xy, float).reshape(-1, 2)
    amplitude = np.asarray(amplitude, float)
    sigma = np.broadcast_to(np.asarray(sigma, float), amplitude.shape)
    image = np.zeros(rows * cols)
    if len(xy) == 0:
        return image.reshape(rows, cols)
    max_shift = 0.0 if line_shift_px is None else float(np.abs(line_shift_px).max())
    # the patch is sized on a robust width: a rare fit far wider than the rest is cut at the edge
    width = min(float(sigma.max()), 1.25 * float(np.median(sigma)))
    round_ = ellipticity == 1.0
    if not round_:  # out to `reach` sigma along the major axis (a hair's rounding is not a pixel more)
        width = width * np.sqrt(max(ellipticity, 1.0 / ellipticity)) - 1e-9
    half = int(np.ceil(reach * width + max_shift))
    offsets = np.arange(-half, half + 1)
    chunk = chunk or max(1, 150_000 // len(offsets) ** 2)
    keep = ((xy[:, 0] > -half) & (xy[:, 0] < cols + half) & (xy[:, 1] > -half) & (xy[:, 1] < rows + half))
    # in order of rows, a chunk covers a band of the image: its sums go into that band only, not
    # into a whole image's worth of zeros per chunk
    order = np.flatnonzero(keep)[np.argsort(xy[keep, 1], kind="stable")]
    xy, amplitude, sigma = xy[order], amplitude[order], sigma[order]
    for start in range(0, len(xy), chunk):
        part = slice(start, start + chunk)
        x = xy[part, 0][:, None, None]
        y = xy[part, 1][:, None, None]
        inv2s2 = (0.5 / sigma[part] ** 2)[:, None, None]
        r = (np.round(y) + offsets[None, :, None]).astype(dtype)  # (n, k, 1) pixel rows
        c = (np.round(x) + offsets[None, None, :]).astype(dtype)  # (n, 1, k) pixel columns
        x, y, inv2s2 = (v.astype(dtype) for v in (x, y, inv2s2))
        r_in = (r >= 0) & (r < rows)
        c_in = (c >= 0) & (c < cols)
        r_idx = np.clip(r, 0, rows - 1).astype(np.intp)
        top, bottom = int(r_idx.min()), int(r_idx.max()) + 1  # the band of rows this chunk touches
        if not round_:
            a, b, cc = (v[:, None, None].astype(dtype) for v in _inverse_covariance(sigma[part], ellipticity,
                                                                                     angle_deg))
            dx = c - x if line_shift_px is None else c - x - line_shift_px[r_idx]
            dy = r - y
            value = amplitude[part][:, None, None] * np.exp(-(a * dx**2 + 2 * b * dx * dy + cc * dy**2))
            value = value * (r_in & c_in)
        elif line_shift_px is None:
            # separable: two short exponentials per Gaussian instead of one per pixel; pixels off
            # the image get zero weight (cheaper than masking them out)
            amp = amplitude[part][:, None, None].astype(dtype)
            value = (amp * np.exp(-((r - y) ** 2) * inv2s2) * r_in) * (np.exp(-((c - x) ** 2) * inv2s2) * c_in)
        else:
            shift = line_shift_px[r_idx]
            value = amplitude[part][:, None, None] * np.exp(-((c - x - shift) ** 2 + (r - y) ** 2) * inv2s2)
            value = value * (r_in & c_in)
        flat = (r_idx - top) * cols + np.clip(c, 0, cols - 1).astype(np.intp)
        flat = np.broadcast_to(flat, value.shape)
        image[top * cols:bottom * cols] += np.bincount(flat.ravel(), weights=value.ravel(),
                                                       minlength=(bottom - top) * cols)
    return image.reshape(rows, cols)
