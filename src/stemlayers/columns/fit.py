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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import numpy as np
from scipy import ndimage

from ..numeric import binned, thread_budget
from .render import render_gaussians, unit_gaussian

__all__ = ["GaussianFit", "fit_gaussians", "noise_model"]

_N_PARAMS = 5  # x, y, amplitude, sigma, background
#: Fitted column widths stay within these multiples of the starting width (fit_gaussians' default).
WIDTH_BOUNDS = (0.4, 2.5)


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
    sane: np.ndarray  # stayed in its patch, width inside the bounds, finite errors
    converged: np.ndarray  # sane, and the last step was small against the position error
    noise: tuple[float, float]

    def concat(self, other) -> GaussianFit:
        """These columns followed by `other`'s (the noise model of `other` is kept)."""
        return GaussianFit(**{f.name: (other.noise if f.name == "noise" else
                                       np.concatenate([getattr(self, f.name), getattr(other, f.name)]))
                              for f in fields(self)})

    def select(self, mask) -> GaussianFit:
        """The columns where `mask` holds (the noise model is the image's and stays)."""
        return GaussianFit(**{f.name: (getattr(self, f.name) if f.name == "noise" else getattr(self, f.name)[mask])
                              for f in fields(self)})


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


def _as_float(*arrays):
    """float32 copies: the per-pixel arithmetic is memory-bound and float32 halves the traffic."""
    return tuple(np.asarray(a, dtype=np.float32) for a in arrays)


def _gaussian_terms(params, px, py):
    """Per column and patch pixel: offsets dx, dy, r², 1/σ², the unit Gaussian g, and amplitude, σ, background."""
    p = params.astype(px.dtype)
    x, y, amp, sig, bg = (p[:, i:i + 1] for i in range(_N_PARAMS))
    dx, dy = px - x, py - y
    r2 = dx * dx + dy * dy
    inv_s2 = 1.0 / (sig * sig)
    return dx, dy, r2, inv_s2, unit_gaussian(dx, dy, sig, r2), amp, sig, bg


def _model_and_jacobian(params, px, py):
    dx, dy, r2, inv_s2, g, amp, sig, bg = _gaussian_terms(params, px, py)
    ag = amp * g
    jac = np.empty(g.shape + (_N_PARAMS,), dtype=g.dtype)
    agi = ag * inv_s2
    np.multiply(agi, dx, out=jac[..., 0])
    np.multiply(agi, dy, out=jac[..., 1])
    jac[..., 2] = g
    np.multiply(agi / sig, r2, out=jac[..., 3])
    jac[..., 4] = 1.0
    return ag + bg, ag, jac


def _gaussian_part(params, px, py):
    """Each column's Gaussian without its background (the ``ag`` of :func:`_model_and_jacobian`, no Jacobian)."""
    _, _, _, _, g, amp, _, _ = _gaussian_terms(params, px, py)
    return amp * g


def _model(params, px, py):
    p = params.astype(px.dtype)
    x, y, amp, sig, bg = (p[:, i:i + 1] for i in range(_N_PARAMS))
    dx, dy = px - x, py - y
    return amp * np.exp((-0.5 / (sig * sig)) * (dx * dx + dy * dy)) + bg


def _cost(params, px, py, data, weight, prior):
    sigma0, tau = prior
    residual = data - _model(params, px, py)
    return np.sum(weight * residual * residual, axis=1, dtype=np.float64) + ((params[:, 3] - sigma0) / tau) ** 2


def _lm_steps(params, px, py, data, weight, n_steps, bounds, amp_floor, prior, home, reach):
    """Levenberg-Marquardt on every column at once; returns params and the last step size."""
    lam = np.full(len(params), 1e-3)
    step_size = np.full(len(params), np.inf)
    cost = _cost(params, px, py, data, weight, prior)
    sigma0, tau = prior
    eye = np.eye(_N_PARAMS)
    for _ in range(n_steps):
        model, _, jac = _model_and_jacobian(params, px, py)
        wjt = (jac * weight[..., None]).transpose(0, 2, 1)
        jtj = (wjt @ jac).astype(np.float64)
        jtr = (wjt @ (data - model)[..., None])[..., 0].astype(np.float64)
        # the width prior is one more (pseudo-)observation of sigma
        jtj[:, 3, 3] += 1.0 / tau**2
        jtr[:, 3] += (sigma0 - params[:, 3]) / tau**2
        # a tiny ridge keeps the solve defined for columns with (nearly) no pixels
        damped = jtj + (lam[:, None, None] * jtj + 1e-12) * eye
        delta = np.linalg.solve(damped, jtr[..., None])[..., 0]
        # a trust region: no step longer than half a width, no position outside its patch
        longest = np.maximum(np.hypot(delta[:, 0], delta[:, 1]) / (0.5 * params[:, 3]), 1.0)
        delta[:, :2] /= longest[:, None]
        trial = params + delta
        trial[:, :2] = np.clip(trial[:, :2], home - reach, home + reach)
        trial[:, 3] = np.clip(trial[:, 3], *bounds)
        # a zero amplitude would zero the gradient in x, y and sigma for good: keep it positive
        trial[:, 2] = np.maximum(trial[:, 2], amp_floor)
        new_cost = _cost(trial, px, py, data, weight, prior)
        # strictly better: a flat cost (a column faded to nothing) must not let it wander
        better = np.isfinite(new_cost) & (new_cost < cost * (1 - 1e-12))
        params = np.where(better[:, None], trial, params)
        step_size = np.where(better, np.hypot(delta[:, 0], delta[:, 1]), step_size)
        cost = np.where(better, new_cost, cost)
        lam = np.where(better, lam / 3.0, lam * 5.0)
    return params, step_size


#: Columns fitted together: their patches' temporaries (Jacobian, weighted Jacobian, model; about
#: 1-2 MB) stay in the CPU's cache through all the steps, instead of streaming every step's arrays
#: for all ~20k columns of a large image through main memory (which two processes then share).
BLOCK_COLUMNS = 512


def _lm_in_parallel(params, px, py, data, weight, n_steps, bounds, amp_floor, prior, home, reach,
                    block=BLOCK_COLUMNS):
    """:func:`_lm_steps` on blocks of `block` columns, in threads (NumPy releases the GIL in its array loops).

    With its neighbours already subtracted, each column's fit is independent of
    the others', so the blocks give the same numbers as one fit of all columns.
    """
    blocks = [slice(start, start + block) for start in range(0, max(len(params), 1), block)]

    def fit(b):
        return _lm_steps(params[b], px[b], py[b], data[b], weight[b], n_steps, bounds, amp_floor, prior, home[b],
                         reach)

    n_threads = min(thread_budget(), len(params) // 2000)
    if n_threads < 2:
        parts = [fit(b) for b in blocks]
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            parts = list(pool.map(fit, blocks))
    return np.concatenate([p for p, _ in parts]), np.concatenate([s for _, s in parts])


def _render_sane(params, shape, start_xy, radius, bounds):
    """The model image of the columns whose fit is sane, and which they are.

    A fit at the edge of its box or of the width bounds is left out.
    """
    ok = ((np.abs(params[:, :2] - start_xy).max(axis=1) < radius * 0.999)
          & (params[:, 3] > bounds[0] * 1.001) & (params[:, 3] < bounds[1] * 0.999))
    if not ok.any():
        return np.zeros(shape), ok
    return render_gaussians(params[ok, :2], params[ok, 2], params[ok, 3], shape, reach=4.0, dtype=np.float32), ok


def _smooth_background(residual, scale, py, px):
    """`residual` smoothed over `scale` pixels, at pixels (`py`, `px`): block means on a coarse grid, a tent filter.

    Smoothing over a lattice spacing needs no full-resolution filter: a grid of
    about scale/3 is fine enough and costs a few percent of one. Each pixel
    takes its block's value, read straight from the coarse grid (no image-sized
    copy of it is made).
    """
    block = max(1, int(scale // 3))
    coarse = binned(residual, block)
    coarse = ndimage.uniform_filter(ndimage.uniform_filter(coarse, 3, mode="nearest"), 3, mode="nearest")
    return coarse[py // block, px // block]


def _matched_significance(params, px, py, data, weight, sigma, background=None):
    """Signal-to-noise of a column of the typical width at the fitted position.

    The likelihood-ratio test of "column + background" against "background
    only" for a column of known shape: the most powerful test, not weakened
    by the freedom of the width in the fit. With `background` (the smooth
    background under each patch pixel) the background is known; without it,
    a free flat background is allowed, which costs power in small patches.
    """
    g = unit_gaussian(px - params[:, :1], py - params[:, 1:2], sigma)
    if background is None:
        # a column with no pixels left has no significance (NaN), without a warning: 1e-300 is 0 in float32
        w_sum = np.maximum(weight.sum(axis=1, keepdims=True), np.finfo(np.float32).tiny)
        g = g - np.sum(weight * g, axis=1, keepdims=True) / w_sum
        data = data - np.sum(weight * data, axis=1, keepdims=True) / w_sum
    else:
        data = data - background
    amplitude = np.sum(weight * g * data, axis=1) / np.maximum(np.sum(weight * g**2, axis=1), 1e-300)
    return amplitude * np.sqrt(np.sum(weight * g**2, axis=1))


def noise_model(model, residual):
    """Fit ``variance = a + b * model`` to squared residuals (binned by model value, median per bin).

    Returns
    -------
    (a, b) : floats, both >= 0 with a > 0
    """
    model, residual = model.ravel(), residual.ravel()
    if model.size > 200_000:  # plenty for 20 bins; a fixed stride keeps it deterministic
        step = model.size // 200_000 + 1
        model, residual = model[::step], residual[::step]
    if model.size < 50:
        return float(np.mean(residual**2)) + 1e-12, 0.0
    edges = np.quantile(model, np.linspace(0, 1, 21))
    index = np.clip(np.searchsorted(edges, model, side="right") - 1, 0, 19)
    counts = np.bincount(index, minlength=20)
    ok = counts > 10
    mean_m = np.bincount(index, model, minlength=20)[ok] / counts[ok]
    # the median of squared residuals, over the median of chi-square(1) (0.4549): robust to
    # the few pixels of a column the model misses
    r2 = residual**2
    order = np.lexsort((r2, index))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    mean_r2 = r2[order][(starts + counts // 2)[ok]] / 0.4549
    b, a = np.polyfit(mean_m, mean_r2, 1) if ok.sum() >= 2 else (0.0, float(mean_r2.mean()))
    if b < 0:
        b, a = 0.0, float(np.mean(residual**2))
    floor = 1e-3 * float(np.mean(residual**2)) + 1e-12
    return max(float(a), floor), float(b)


def _residual_noise(observed, full_model, valid):
    """The noise model (:func:`noise_model`) of patches of `observed` around a full model (columns and background)."""
    return noise_model(full_model[valid], (observed - full_model)[valid])


def _starting_params(image, xy, sigma, radius, start=None):
    """(K, 5) starting parameters (x, y, amplitude, width, background) and the amplitude floor.

    The background is the mean of each patch's rim, the amplitude the
    patch's Gaussian-weighted mean above it (robust to a noisy centre
    pixel); `start` (amplitude, width, background per column) replaces them.
    """
    px, py, valid = _patches(xy, radius, image.shape)
    values = image[py, px]
    rim = valid & ((px - np.round(xy[:, :1])) ** 2 + (py - np.round(xy[:, 1:])) ** 2 > (0.7 * radius) ** 2)
    bg0 = np.sum(values * rim, axis=1) / np.maximum(rim.sum(axis=1), 1)
    g0 = unit_gaussian(px - xy[:, :1], py - xy[:, 1:], sigma) * valid
    amp0 = np.sum(g0 * (values - bg0[:, None]), axis=1) / np.maximum(np.sum(g0**2, axis=1), 1e-12)
    floor = 1e-3 * max(float(np.std(image[::4, ::4])), 1e-12)
    params = np.column_stack([xy, np.maximum(amp0, floor), np.full(len(xy), sigma), bg0])
    if start is not None:
        params[:, 2:] = start
    return params, floor


def _parameter_errors(jac, weight, chi2):
    """1σ errors of every column's parameters from its weighted Jacobian, scaled up by a reduced χ² over 1."""
    jtj = ((jac * weight[..., None]).transpose(0, 2, 1) @ jac).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        # relative ridge for conditioning, absolute floor for a column left with no pixels
        ridge = (1e-12 * np.trace(jtj, axis1=1, axis2=2)[:, None, None] + 1e-20) * np.eye(_N_PARAMS)
        cov = np.linalg.solve(jtj + ridge, np.broadcast_to(np.eye(_N_PARAMS), jtj.shape))
        var = np.diagonal(cov, axis1=1, axis2=2) * np.maximum(chi2, 1.0)[:, None]
    return np.sqrt(np.clip(var, 0, None))


def fit_gaussians(image, xy, sigma, radius, n_rounds=2, n_steps=4, sigma_bounds=WIDTH_BOUNDS, sigma_prior=np.inf,
                  background_scale=None, start=None, start_model=None, measure_noise=False):
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
    sigma_prior : float
        Relative width of a Gaussian prior on each column's width, centred on
        `sigma` (inf: none). It steadies dim columns and barely moves bright ones.
    background_scale : float, optional
        If given, the significance is tested against the smooth background
        (image minus all fitted columns, Gaussian-smoothed over this many
        pixels) instead of a free flat background per patch.
    start : (K, 3) float array, optional
        Starting amplitude, width and background of each column (for a
        refit); guessed from each patch when None.
    start_model : (M, N) array, optional
        The image of all columns at their starting values (without
        background), if the caller has it already: saves one rendering.
    measure_noise : bool
        Measure the noise model of the final fit's residuals (as a further
        weighted round would start with) and return it as ``noise``. By
        default ``noise`` is that of the last weighted round, (1, 0) if none.

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
                           empty.astype(int), empty.astype(bool), empty.astype(bool), (1.0, 0.0))
    bounds = (sigma_bounds[0] * sigma, sigma_bounds[1] * sigma)
    params, floor = _starting_params(image, xy, sigma, radius, start)
    start_xy = xy.copy()
    noise = (1.0, 0.0)
    for round_ in range(n_rounds):
        px, py, valid = _patches(params[:, :2], radius, image.shape)
        fpx, fpy = _as_float(px, py)
        if round_ == 0 and start_model is not None:
            everyone, rendered = start_model, np.ones(n, bool)
        else:
            everyone, rendered = _render_sane(params, image.shape, start_xy, radius, bounds)
        own = _gaussian_part(params, fpx, fpy) * rendered[:, None]
        observed = image[py, px].astype(np.float32)
        data = observed - (everyone[py, px] - own)  # each patch with its neighbours removed
        if round_ > 0:
            full_model = everyone[py, px] + params[:, 4:5]
            noise = _residual_noise(observed, full_model, valid)
            weight = valid / (noise[0] + noise[1] * np.clip(full_model, 0, None))
        else:
            weight = valid
        data, weight = _as_float(data * valid, weight)
        params, step = _lm_in_parallel(params, fpx, fpy, data, weight, n_steps, bounds, floor,
                                       (sigma, sigma_prior * sigma), start_xy, radius)

    if measure_noise:
        last_px, last_py, last_valid = _patches(params[:, :2], radius, image.shape)
        everyone_last, _ = _render_sane(params, image.shape, start_xy, radius, bounds)
        noise = _residual_noise(image[last_py, last_px].astype(np.float32),
                                everyone_last[last_py, last_px] + params[:, 4:5], last_valid)
    model, _, jac = _model_and_jacobian(params, fpx, fpy)
    n_pix = valid.sum(axis=1)
    cost = np.sum(weight * (data - model) ** 2, axis=1, dtype=np.float64)
    chi2 = cost / np.maximum(n_pix - _N_PARAMS, 1)
    background = None
    if background_scale:
        # what is left when every column is taken away (as modelled in the last round), smoothed
        # over a lattice spacing by two box filters (a tent: cheap at any scale)
        background = _smooth_background(image - everyone, background_scale, py, px)
    significance = (_matched_significance(params, fpx, fpy, data, weight, sigma, background)
                    / np.sqrt(np.maximum(chi2, 1.0)))
    err = _parameter_errors(jac, weight, chi2)
    moved = np.abs(params[:, :2] - start_xy).max(axis=1)
    sane = ((moved < radius) & (n_pix > 2 * _N_PARAMS) & np.isfinite(err).all(axis=1)
            & (params[:, 3] > bounds[0] * 1.001) & (params[:, 3] < bounds[1] * 0.999))
    converged = sane & (step < np.maximum(0.01, 0.2 * err[:, :2].max(axis=1)))
    return GaussianFit(
        xy=params[:, :2].copy(), amplitude=params[:, 2].copy(), sigma=params[:, 3].copy(),
        background=params[:, 4].copy(), xy_err=err[:, :2].copy(), amplitude_err=err[:, 2].copy(),
        significance=significance, reduced_chi2=chi2, n_pixels=n_pix, sane=sane, converged=converged,
        noise=noise)
