"""Vectorised fit of one isotropic 2D Gaussian plus a flat background per column.

All columns are fitted at once: each column's circular patch of pixels is a
row of an (N, P) array, and a Levenberg-Marquardt step is a batched 5x5 solve
(``x, y, amplitude, sigma, background``). Neighbouring columns overlap, so
the fit alternates: render the current model of every column, subtract each
column's neighbours from its patch, refit all columns, repeat. After the first
round the pixels are weighted by a noise model ``var = a + b * model`` fitted
to the residuals of the whole image (Poisson counts and detector noise in any
units), which makes the fit close to maximum likelihood and the reported
uncertainties honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gaussians import render_gaussians

__all__ = ["GaussianFit", "fit_gaussians", "noise_model"]

_N_PARAMS = 5  # x, y, amplitude, sigma, background


@dataclass(frozen=True, eq=False)
class GaussianFit:
    """Per-column fit results (all arrays of length N; positions in pixels)."""

    xy: np.ndarray
    amplitude: np.ndarray
    sigma: np.ndarray
    background: np.ndarray
    xy_err: np.ndarray
    amplitude_err: np.ndarray
    significance: np.ndarray
    reduced_chi2: np.ndarray
    n_pixels: np.ndarray
    converged: np.ndarray
    noise: tuple[float, float]


def _patches(xy, radius, shape):
    """Pixel coordinates (N, P) of a disc of `radius` around each rounded centre, and their validity."""
    rows, cols = shape
    half = int(np.ceil(radius))
    oy, ox = np.mgrid[-half:half + 1, -half:half + 1]
    disc = ox**2 + oy**2 <= radius**2
    ox, oy = ox[disc], oy[disc]
    px = np.round(xy[:, 0]).astype(np.int64)[:, None] + ox[None, :]
    py = np.round(xy[:, 1]).astype(np.int64)[:, None] + oy[None, :]
    valid = (px >= 0) & (px < cols) & (py >= 0) & (py < rows)
    return np.clip(px, 0, cols - 1), np.clip(py, 0, rows - 1), valid


def _model_and_jacobian(params, px, py):
    x, y, amp, sig, bg = (params[:, i:i + 1] for i in range(_N_PARAMS))
    dx, dy = px - x, py - y
    r2 = dx**2 + dy**2
    inv_s2 = 1.0 / sig**2
    g = np.exp(-0.5 * r2 * inv_s2)
    ag = amp * g
    jac = np.stack([ag * dx * inv_s2, ag * dy * inv_s2, g, ag * r2 * inv_s2 / sig, np.ones_like(g)], axis=-1)
    return ag + bg, ag, jac


def _model(params, px, py):
    x, y, amp, sig, bg = (params[:, i:i + 1] for i in range(_N_PARAMS))
    return amp * np.exp(-0.5 * ((px - x) ** 2 + (py - y) ** 2) / sig**2) + bg


def _cost(params, px, py, data, weight):
    return np.sum(weight * (data - _model(params, px, py)) ** 2, axis=1)


def _lm_steps(params, px, py, data, weight, n_steps, bounds, amp_floor):
    """Levenberg-Marquardt on every column at once; returns params and the last step size."""
    lam = np.full(len(params), 1e-3)
    step_size = np.full(len(params), np.inf)
    cost = _cost(params, px, py, data, weight)
    eye = np.eye(_N_PARAMS)
    for _ in range(n_steps):
        model, _, jac = _model_and_jacobian(params, px, py)
        wjt = (jac * weight[..., None]).transpose(0, 2, 1)
        jtj = wjt @ jac
        jtr = (wjt @ (data - model)[..., None])[..., 0]
        # a tiny ridge keeps the solve defined for columns with (nearly) no pixels
        damped = jtj + (lam[:, None, None] * jtj + 1e-12) * eye
        delta = np.linalg.solve(damped, jtr[..., None])[..., 0]
        trial = params + delta
        trial[:, 3] = np.clip(trial[:, 3], *bounds)
        # a zero amplitude would zero the gradient in x, y and sigma for good: keep it positive
        trial[:, 2] = np.maximum(trial[:, 2], amp_floor)
        new_cost = _cost(trial, px, py, data, weight)
        better = np.isfinite(new_cost) & (new_cost <= cost)
        params = np.where(better[:, None], trial, params)
        step_size = np.where(better, np.hypot(delta[:, 0], delta[:, 1]), step_size)
        cost = np.where(better, new_cost, cost)
        lam = np.where(better, lam / 3.0, lam * 5.0)
    return params, step_size


def noise_model(model, residual):
    """Fit ``variance = a + b * model`` to squared residuals (binned by model value).

    Returns
    -------
    (a, b) : floats, both >= 0 with a > 0
    """
    model, residual = model.ravel(), residual.ravel()
    if model.size < 50:
        return float(np.mean(residual**2)) + 1e-12, 0.0
    edges = np.quantile(model, np.linspace(0, 1, 21))
    index = np.clip(np.searchsorted(edges, model, side="right") - 1, 0, 19)
    counts = np.bincount(index, minlength=20)
    ok = counts > 10
    mean_m = np.bincount(index, model, minlength=20)[ok] / counts[ok]
    mean_r2 = np.bincount(index, residual**2, minlength=20)[ok] / counts[ok]
    b, a = np.polyfit(mean_m, mean_r2, 1) if ok.sum() >= 2 else (0.0, float(mean_r2.mean()))
    if b < 0:
        b, a = 0.0, float(np.mean(residual**2))
    floor = 1e-3 * float(np.mean(residual**2)) + 1e-12
    return max(float(a), floor), float(b)


def fit_gaussians(image, xy, sigma, radius, n_rounds=3, n_steps=6, sigma_bounds=(0.4, 2.5)):
    """Refine Gaussian columns on `image`, all at once, with neighbour subtraction.

    Parameters
    ----------
    image : (M, N) float array
    xy : (K, 2) float array
        Starting centres (x, y) in pixels.
    sigma : float
        Starting width in pixels (also sets the bounds of the fitted widths).
    radius : float
        Radius in pixels of the disc of pixels fitted around each column.
    n_rounds : int
        Rounds of neighbour subtraction; pixel weighting starts in round 2.
    n_steps : int
        Levenberg-Marquardt steps per round.
    sigma_bounds : (float, float)
        Fitted widths are kept within these multiples of `sigma`.

    Returns
    -------
    GaussianFit
    """
    image = np.asarray(image, float)
    xy = np.asarray(xy, float).reshape(-1, 2)
    n = len(xy)
    if n == 0:
        empty = np.zeros(0)
        return GaussianFit(np.zeros((0, 2)), empty, empty, empty, np.zeros((0, 2)), empty, empty, empty,
                           empty.astype(int), empty.astype(bool), (1.0, 0.0))
    bounds = (sigma_bounds[0] * sigma, sigma_bounds[1] * sigma)
    px, py, valid = _patches(xy, radius, image.shape)
    values = image[py, px]
    # starting guesses: the mean of the patch's rim as background, the centre pixel above it as amplitude
    rim = valid & ((px - np.round(xy[:, :1])) ** 2 + (py - np.round(xy[:, 1:])) ** 2 > (0.7 * radius) ** 2)
    bg0 = np.sum(values * rim, axis=1) / np.maximum(rim.sum(axis=1), 1)
    # the amplitude guess from the patch's Gaussian-weighted mean, robust to a noisy centre pixel
    g0 = np.exp(-0.5 * ((px - xy[:, :1]) ** 2 + (py - xy[:, 1:]) ** 2) / sigma**2) * valid
    amp0 = np.sum(g0 * (values - bg0[:, None]), axis=1) / np.maximum(np.sum(g0**2, axis=1), 1e-12)
    floor = 1e-3 * max(float(np.std(image)), 1e-12)
    params = np.column_stack([xy, np.maximum(amp0, floor), np.full(n, sigma), bg0])
    start = xy.copy()
    weight = valid.astype(float)
    noise = (1.0, 0.0)
    for round_ in range(n_rounds):
        px, py, valid = _patches(params[:, :2], radius, image.shape)
        # neighbours are rendered out to 4 typical widths: a rare over-wide fit is cut there
        everyone = render_gaussians(params[:, :2], params[:, 2], params[:, 3], image.shape,
                                    reach=4.0 * np.median(params[:, 3]) / params[:, 3].max())
        own = _model_and_jacobian(params, px, py)[1]
        data = image[py, px] - (everyone[py, px] - own)  # each patch with its neighbours removed
        if round_ > 0:
            full_model = everyone[py, px] + params[:, 4:5]
            residual = image[py, px] - full_model
            noise = noise_model(full_model[valid], residual[valid])
            weight = valid / (noise[0] + noise[1] * np.clip(full_model, 0, None))
        else:
            weight = valid.astype(float)
        params, step = _lm_steps(params, px, py, data * valid, weight, n_steps, bounds, floor)

    model, _, jac = _model_and_jacobian(params, px, py)
    jtj = (jac * weight[..., None]).transpose(0, 2, 1) @ jac
    n_pix = valid.sum(axis=1)
    cost = np.sum(weight * (data - model) ** 2, axis=1)
    chi2 = cost / np.maximum(n_pix - _N_PARAMS, 1)
    # likelihood-ratio test against "flat background only": how many sigma the column stands out
    flat = np.sum(weight * data, axis=1) / np.maximum(weight.sum(axis=1), 1e-300)
    cost_flat = np.sum(weight * (data - flat[:, None]) ** 2, axis=1)
    significance = np.sqrt(np.clip(cost_flat - cost, 0, None) / np.maximum(chi2, 1.0))
    with np.errstate(invalid="ignore"):
        cov = np.linalg.pinv(jtj)
        var = np.diagonal(cov, axis1=1, axis2=2) * np.maximum(chi2, 1.0)[:, None]
    err = np.sqrt(np.clip(var, 0, None))
    moved = np.hypot(*(params[:, :2] - start).T)
    converged = ((step < 0.02) & (moved < radius) & (n_pix > 2 * _N_PARAMS)
                 & (params[:, 3] > bounds[0] * 1.001) & (params[:, 3] < bounds[1] * 0.999)
                 & np.isfinite(err).all(axis=1))
    return GaussianFit(
        xy=params[:, :2].copy(), amplitude=params[:, 2].copy(), sigma=params[:, 3].copy(),
        background=params[:, 4].copy(), xy_err=err[:, :2].copy(), amplitude_err=err[:, 2].copy(),
        significance=significance, reduced_chi2=chi2, n_pixels=n_pix, converged=converged, noise=noise)
