"""Find every atomic column and refine it to sub-pixel precision.

``find_columns`` runs four plain steps:

1. :func:`lattice_scale`: the column width and the nearest-neighbour distance,
   from the image's autocorrelation (no tuning per image).
2. :func:`detect_candidates`: local maxima of the matched-filtered image above
   a local background, at least a fraction of the lattice spacing apart. No
   global threshold: dim Ti maxima are maxima just as bright Bi ones are.
3. :func:`stemlayers.columns.fit.fit_gaussians`: a Gaussian plus background per
   column, all columns at once, neighbours subtracted, pixel-weighted by a
   noise model fitted to the image.
4. Keep a candidate only if its amplitude is significant against its own
   fitted noise (``min_significance`` standard errors), its width is that of
   a column, and it is not a faint satellite pressed against a much brighter
   column (the N columns beside Ti in TiN, 1.5 Å away, ~7x fainter).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace

import numpy as np
from scipy import fft, ndimage
from scipy.spatial import cKDTree
from skimage.feature import peak_local_max

from ..numeric import binned, in_row_strips
from .fit import WIDTH_BOUNDS, fit_gaussians
from .render import render_gaussians

__all__ = ["MIN_SIGNIFICANCE", "Columns", "contrast_units", "detect_candidates", "electron_gain", "find_columns",
           "lattice_scale", "signal_to_noise"]

# Closest pair of real columns in the bundled systems: Bi2Se3 X1-Bi, 1.96 Å. TiN's N columns sit
# 1.50 Å from Ti; a fainter column closer than this to a much brighter one is such a satellite.
CLOSEST_PAIR_A, N_SATELLITE_A = 1.96, 1.50
SATELLITE_DISTANCE_A = 1.75
# No real column has two neighbours this close (Se beside Bi has one at 1.96 Å, Ti in TiN none within
# 2.6 Å); a faint peak flanked by two much brighter columns is the overlap of their probe tails.
GAP_DISTANCE_A = 2.1
GAP_RATIO = 5.0
# A column must stand this many standard deviations above a flat background (find_columns' default).
MIN_SIGNIFICANCE = 6.0
# The quick fit that measures the column width, the spacing and the image's noise takes this many of
# the brightest candidates: plenty for each, at a fraction of the cost of all.
QUICK_FIT_COLUMNS = 300
# The noise model (floor, slope) of the candidate screen: one count squared, whatever the level. The
# screen only drops maxima too faint to fit; the significance test after the fit decides.
UNIT_NOISE = (1.0, 0.0)


@dataclass(frozen=True, eq=False)
class Columns:
    """Atomic columns of one image: positions in pixels (x = column, y = row).

    Attributes
    ----------
    xy : (N, 2) float array
    amplitude : (N,) float array
        Peak height above the local background (image units).
    sigma : (N,) float array
        Gaussian width in pixels.
    background : (N,) float array
    xy_err : (N, 2) float array
        1-sigma position uncertainty in pixels (fit covariance with the image's noise model).
    significance : (N,) float array
        How many standard deviations the column stands above a flat background
        (likelihood-ratio test of the fit against background alone).
    reduced_chi2 : (N,) float array
        Weighted residual of the fit per degree of freedom (~1 for a good fit).
    converged : (N,) bool array
    pixel_size_A : float or None
    separation_px : float or None
        The image's shortest spacing of its dominant columns, px, from its
        autocorrelation (:func:`lattice_scale`; None when not measured).
    """

    xy: np.ndarray
    amplitude: np.ndarray
    sigma: np.ndarray
    background: np.ndarray
    xy_err: np.ndarray
    significance: np.ndarray
    reduced_chi2: np.ndarray
    converged: np.ndarray
    pixel_size_A: float | None = None
    separation_px: float | None = None

    def __len__(self) -> int:
        return len(self.xy)

    def __repr__(self) -> str:
        return f"Columns(n={len(self)}, pixel_size_A={self.pixel_size_A})"

    def select(self, mask) -> Columns:
        """The columns where `mask` (bool array or indices) holds."""
        return replace(self, **{f.name: getattr(self, f.name)[mask] for f in fields(self)
                                if isinstance(getattr(self, f.name), np.ndarray)})

    @classmethod
    def empty(cls, pixel_size_A=None) -> Columns:
        z = np.zeros(0)
        return cls(np.zeros((0, 2)), z, z, z, np.zeros((0, 2)), z, z, z.astype(bool), pixel_size_A)

    def to_dataframe(self):
        """One row per column: x, y, x_err, y_err (px), amplitude, sigma, ..., and Å columns if calibrated."""
        import pandas as pd

        df = pd.DataFrame({
            "x": self.xy[:, 0], "y": self.xy[:, 1], "x_err": self.xy_err[:, 0], "y_err": self.xy_err[:, 1],
            "amplitude": self.amplitude, "sigma": self.sigma, "background": self.background,
            "significance": self.significance, "reduced_chi2": self.reduced_chi2, "converged": self.converged,
        })
        if self.pixel_size_A:
            for name in ("x", "y", "x_err", "y_err", "sigma"):
                df[f"{name}_A"] = df[name] * self.pixel_size_A
        return df

    def to_atomap(self, image, name="stemlayers columns"):
        """An atomap ``Sublattice`` of these columns on `image` (Image, Signal2D or array).

        Each atom keeps its fitted position, width (``sigma_x = sigma_y``) and
        amplitude, so a user can go on with atomap's own tools.
        """
        data = getattr(image, "data", image)
        pixel_size = getattr(image, "pixel_size_A", None) or self.pixel_size_A
        kwargs = {"pixel_size": pixel_size, "units": "Å"} if pixel_size else {}
        with quiet_atomap():
            import atomap.api as am  # atomap.sublattice alone hits a circular import

            sublattice = am.Sublattice(self.xy.copy(), np.asarray(data), name=name, **kwargs)
        for atom, sigma, amplitude in zip(sublattice.atom_list, self.sigma, self.amplitude):
            atom.sigma_x = atom.sigma_y = float(sigma)
            atom.amplitude_gaussian = float(amplitude)
        return sublattice

    @classmethod
    def from_atomap(cls, sublattice) -> Columns:
        """Columns from an atomap ``Sublattice`` (positions, widths, amplitudes; no uncertainties)."""
        atoms = sublattice.atom_list
        xy = np.array([[a.pixel_x, a.pixel_y] for a in atoms], float).reshape(-1, 2)
        sigma = np.array([0.5 * (a.sigma_x + a.sigma_y) for a in atoms], float)
        amplitude = np.array([a.amplitude_gaussian for a in atoms], float)
        n = len(xy)
        pixel_size = getattr(sublattice, "pixel_size", None)
        return cls(xy, amplitude, sigma, np.zeros(n), np.full((n, 2), np.nan), np.full(n, np.nan),
                   np.full(n, np.nan), np.ones(n, bool),
                   float(pixel_size) if pixel_size not in (None, 1, 1.0) else None)


@contextmanager
def quiet_atomap():
    """Silence the deprecation warnings atomap's own use of hyperspy raises (importing it, building a Sublattice).

    They concern atomap's code, not the user's, and say nothing a user can act on.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"Importing .* is deprecated")  # hyperspy's, a UserWarning
        yield


def centred_crop(data, size):
    """The centred part of a 2D array at most `size` x `size` (the whole array where it is smaller)."""
    data = np.asarray(data)
    rows, cols = data.shape
    r0, c0 = max((rows - size) // 2, 0), max((cols - size) // 2, 0)
    return data[r0:r0 + size, c0:c0 + size]


def lattice_scale(data, max_size=512):
    """Column width and nearest-neighbour distance from the image's autocorrelation.

    Parameters
    ----------
    data : (M, N) array
    max_size : int
        A centred crop of at most this size is used.

    Returns
    -------
    sigma_px : float or None
        Gaussian width of a column (the autocorrelation's central lobe is
        that of a Gaussian of width sigma * sqrt(2)).
    separation_px : float or None
        Distance to the nearest strong autocorrelation peak: the shortest
        distance between the columns that dominate the image. None when the
        image holds no lattice (constant or pure noise).
    """
    crop = centred_crop(np.asarray(data, float), max_size)
    window = np.outer(np.hanning(crop.shape[0]), np.hanning(crop.shape[1]))
    shape = list(crop.shape)  # the window already keeps wrap-around small at the short lags used
    power = np.abs(fft.rfft2((crop - crop.mean()) * window, s=shape)) ** 2
    # high-pass in Fourier space: drop slow background variations (periods > a quarter of the crop)
    ky = fft.fftfreq(shape[0])[:, None]
    kx = fft.rfftfreq(shape[1])[None, :]
    cutoff = 4.0 / min(crop.shape)
    power *= 1.0 - np.exp(-(kx**2 + ky**2) / (2 * cutoff**2))
    acf = fft.irfft2(power, s=shape)
    limit = min(crop.shape) // 3
    acf = np.roll(acf, (limit, limit), axis=(0, 1))[:2 * limit + 1, :2 * limit + 1]  # lags -limit..limit
    yy, xx = np.indices(acf.shape) - limit
    radius = np.hypot(yy, xx)
    ring = np.minimum(np.round(radius).astype(int), limit + 1)
    profile = np.bincount(ring.ravel(), acf.ravel()) / np.maximum(np.bincount(ring.ravel()), 1)
    if not np.isfinite(profile).all() or profile[1] <= 0:
        return None, None
    # lag 0 carries the white noise; the lobe is measured from lag 1 on
    below = np.flatnonzero(profile[1:limit] < 0.5 * profile[1])
    if below.size == 0:
        return None, None
    r50 = below[0] + 1
    r50 = r50 - 1 + (profile[r50 - 1] - 0.5 * profile[1]) / (profile[r50 - 1] - profile[r50])
    sigma = float(np.sqrt(max(r50**2 - 1.0, 0.25) / (4 * np.log(2))))
    if sigma < 0.7:  # white noise has no central lobe wider than a pixel
        return None, None
    outside = np.where((radius >= 2.5 * sigma * np.sqrt(2)) & (radius <= limit), acf, -np.inf)
    peaks = peak_local_max(outside, min_distance=max(1, int(sigma)), threshold_abs=0.05 * profile[1])
    if len(peaks) == 0:
        return sigma, None
    heights = acf[peaks[:, 0], peaks[:, 1]]
    distances = radius[peaks[:, 0], peaks[:, 1]]
    strong = heights >= 0.15 * heights.max()
    return sigma, float(distances[strong].min())


def signal_to_noise(data, sigma_px=1.0):
    """The image's contrast at the column width over its pixel noise, in any intensity units.

    The pixel noise is read from the image's finest scale (the mean absolute
    response to a kernel blind to planes, Immerkaer 1996); the contrast is the
    standard deviation of the image smoothed over `sigma_px`, less what noise
    leaves after that smoothing.

    Parameters
    ----------
    data : (M, N) array
    sigma_px : float

    Returns
    -------
    float or None
        None for an image without noise or contrast.

    Examples
    --------
    >>> noise = np.random.default_rng(0).normal(size=(256, 256))
    >>> round(signal_to_noise(noise), 1)
    0.0
    """
    data = np.asarray(data, float)
    if min(data.shape) < 8:
        return None
    kernel = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
    response = ndimage.convolve(data, kernel, mode="reflect")[1:-1, 1:-1]
    noise = float(np.sqrt(np.pi / 2) * np.mean(np.abs(response)) / 6.0)
    if not noise > 0:
        return None
    smooth = ndimage.gaussian_filter(data, sigma_px, mode="reflect")
    signal_var = float(np.var(smooth)) - noise**2 / (4 * np.pi * sigma_px**2)
    return float(np.sqrt(max(signal_var, 0.0)) / noise)


def detect_candidates(data, sigma_px, min_distance_px):
    """Local maxima of the matched-filtered image above its local background.

    Parameters
    ----------
    data : (M, N) array
    sigma_px : float
        Column width: the image is smoothed with this Gaussian (matched filter).
    min_distance_px : float
        A maximum must be the largest value within this distance (skimage
        ``peak_local_max``). Keep it well below the column spacing: within the
        window, the shoulder of a bright column outshines a dim one's peak.

    Returns
    -------
    xy : (K, 2) float array
        (x, y) pixel positions.
    height : (K,) float array
        Matched-filter response above the local floor (about half the
        column's amplitude).
    level : (K,) float array
        Smoothed image value at the maximum (floor + height).
    """
    # ndimage's Gaussian reads int(truncate * sigma + 0.5) pixels either side
    smooth = in_row_strips(ndimage.gaussian_filter, np.asarray(data, np.float32), int(3.0 * sigma_px + 0.5),
                           sigma=sigma_px, mode="reflect", truncate=3.0)
    rows, cols = np.nonzero(_local_maxima(smooth, max(1, int(min_distance_px))))
    level = smooth[rows, cols]
    height = level - _floor_at(smooth, sigma_px, rows, cols)
    above = height > 0
    return np.column_stack([cols[above], rows[above]]).astype(float), height[above], level[above]


def _screen(height, level, sigma, noise, threshold):
    """Candidates whose matched-filter signal-to-noise (noise model ``var = a + b * level``) passes."""
    a, b = noise
    return height * np.sqrt(4 * np.pi) * sigma / np.sqrt(a + b * np.clip(level, 0, None)) >= threshold


def _local_maxima(image, half):
    """Pixels that are the largest within +-`half` pixels (ties included)."""
    if half > 1:
        return image == in_row_strips(ndimage.maximum_filter, image, half, size=2 * half + 1, mode="nearest")
    # the 3x3 case by eight shifted comparisons: four times faster than a maximum filter
    padded = np.pad(image, 1, mode="edge")
    rows, cols = image.shape
    peak = np.ones(image.shape, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                peak &= image >= padded[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]
    return peak


def _floor_at(smooth, sigma_px, rows, cols):
    """The local floor between columns at the given pixels.

    Minima over blocks of about 2 sigma, smoothed on that coarse grid and
    interpolated at the pixels: no full-resolution filter needed.
    """
    block = max(1, int(round(2 * sigma_px)))
    coarse = binned(smooth, block, np.min)
    coarse = ndimage.gaussian_filter(ndimage.minimum_filter(coarse, size=3, mode="nearest"), 1.0, mode="nearest")
    where = np.vstack([(rows + 0.5) / block - 0.5, (cols + 0.5) / block - 0.5])
    return ndimage.map_coordinates(coarse, where, order=1, mode="nearest")


def _as_data(image_or_array, pixel_size):
    """(2D float array, pixel size in Å or None) from an Image, a signal, a path or an array."""
    from ..io.read import Image, load

    if isinstance(image_or_array, np.ndarray):
        data = np.asarray(image_or_array, float)
        if data.ndim != 2:
            from ..errors import InputError

            raise InputError(f"<array>: find_columns needs a 2D image, not shape {data.shape}")
        return data, pixel_size
    image = image_or_array if isinstance(image_or_array, Image) else load(image_or_array, pixel_size)
    return np.asarray(image.data, float), pixel_size or image.pixel_size_A


def _drop_duplicates(xy, score, distance):
    """Of two columns closer than `distance`, keep the higher-scoring one."""
    keep = np.ones(len(xy), bool)
    if len(xy) < 2:
        return keep
    pairs = cKDTree(xy).query_pairs(distance, output_type="ndarray")
    if len(pairs):
        lower = np.where(score[pairs[:, 0]] < score[pairs[:, 1]], pairs[:, 0], pairs[:, 1])
        keep[lower] = False
    return keep


def _satellites(xy, amplitude, distance, ratio):
    """Columns closer than `distance` to one more than `ratio` times brighter."""
    pairs = cKDTree(xy).query_pairs(distance, output_type="ndarray")
    satellite = np.zeros(len(xy), bool)
    if len(pairs):
        a, b = amplitude[pairs[:, 0]], amplitude[pairs[:, 1]]
        satellite[pairs[a * ratio < b, 0]] = True
        satellite[pairs[b * ratio < a, 1]] = True
    return satellite


def _gap_peaks(xy, amplitude, distance, ratio):
    """Columns with two neighbours closer than `distance`, both more than `ratio` times brighter."""
    if len(xy) < 3:
        return np.zeros(len(xy), bool)
    dist, index = cKDTree(xy).query(xy, k=3)
    second = np.where(dist[:, 2] < distance, amplitude[index[:, 2]], 0.0)  # the 2nd-nearest, if close
    first = np.where(dist[:, 1] < distance, amplitude[index[:, 1]], 0.0)
    return np.minimum(first, second) > ratio * amplitude


def find_columns(image_or_array, separation=None, *, pixel_size=None, min_significance=MIN_SIGNIFICANCE,
                 satellite_ratio=3.0) -> Columns:
    """Find and refine every atomic column in a HAADF-STEM image.

    Parameters
    ----------
    image_or_array : Image, hyperspy Signal2D, path or (M, N) array
    separation : float, optional
        Shortest distance between columns in pixels. Estimated from the
        image's autocorrelation when None.
    pixel_size : float, optional
        Å per pixel (taken from an Image when not given); used for the
        satellite distance and the Å columns of ``to_dataframe``.
    min_significance : float
        A column must stand this many standard deviations above a flat
        background (likelihood-ratio test against the pixel noise).
    satellite_ratio : float
        A column within 1.75 Å of one more than this many times brighter is a
        satellite (N beside Ti) and is dropped.

    Returns
    -------
    Columns
        Empty for a constant or pure-noise image.
    """
    data, pixel_size = _as_data(image_or_array, pixel_size)
    if not np.isfinite(data).all() or np.ptp(data) == 0:
        return Columns.empty(pixel_size)
    offset, unit = contrast_units(data)
    if unit <= 0:
        return Columns.empty(pixel_size)
    standard = (data - offset) / unit
    sigma, auto_separation = lattice_scale(standard)
    if sigma is None or (separation or auto_separation) is None:
        return replace(Columns.empty(pixel_size), separation_px=auto_separation)
    found, gain = _find_scaled(standard, sigma, separation, auto_separation, pixel_size, min_significance,
                               satellite_ratio)
    if found is None:
        return replace(Columns.empty(pixel_size), separation_px=auto_separation)
    # back to the image's own units: only amplitudes and backgrounds carry them
    return replace(found, amplitude=found.amplitude * unit * gain, background=found.background * unit * gain + offset,
                   separation_px=auto_separation)


def contrast_units(data):
    """The image's own intensity scale: (offset, unit) with ``(data - offset) / unit`` spanning about 0-1000.

    Column finding works on the image in these units, so that counts,
    detector units in the millions, 0-1 floats and any offset give the same
    columns: every tolerance inside the fit is then relative to the image's
    own contrast, never to an assumption that the values are counts.

    Parameters
    ----------
    data : (M, N) array

    Returns
    -------
    offset, unit : float
        The 0.5th percentile, and a thousandth of the 0.5-99.5 percentile
        range (0 for an image without contrast).

    Examples
    --------
    >>> data = np.arange(10000.0).reshape(100, 100)
    >>> offset, unit = contrast_units(data)
    >>> bool(np.allclose(contrast_units(3e-5 * data + 7.0), (3e-5 * offset + 7.0, 3e-5 * unit)))
    True
    """
    step = max(1, int(np.sqrt(np.asarray(data).size / 250_000)))  # a regular subsample is plenty
    low, high = np.percentile(np.asarray(data, float)[::step, ::step], [0.5, 99.5])
    return float(low), float(high - low) / 1000.0


def electron_gain(noise, bright_level):
    """Image units per detected electron, from the image's noise model ``var = floor + slope * level``.

    Residuals of a fit of bright columns have a variance that grows with the
    level (shot noise) over a floor (detector noise, the dark level): the
    slope is the gain. Divided by it, any image is in electron counts again,
    whatever units its file holds, so the column significance has one
    meaning on every file. Where the noise does not grow with the level (read
    noise, a processed image), the image is taken as shot-noise limited at
    half its bright level.

    Parameters
    ----------
    noise : (float, float)
        ``(floor, slope)`` of the noise model (``GaussianFit.noise``).
    bright_level : float
        A bright image level (the 99.5th percentile), in the same units.

    Returns
    -------
    float or None
        None when the noise model gives no positive gain.

    Examples
    --------
    >>> electron_gain((4.0, 250.0), 1000.0)
    250.0
    >>> electron_gain((5000.0, 0.0), 1000.0)
    2.5
    """
    floor, slope = noise
    gain = max(slope, (floor + slope * bright_level) / (2 * bright_level)) if bright_level > 0 else np.nan
    return float(gain) if np.isfinite(gain) and gain > 0 else None


def _find_scaled(data, sigma, separation, auto_separation, pixel_size, min_significance, satellite_ratio):
    """:func:`find_columns` on an image in contrast units: (Columns in electron counts, gain) or (None, None)."""
    # finely sampled columns (wider than ~4 px) are found on a binned image: a column still spans
    # >= 2 binned pixels, which keeps nearly all of its position information, at 1/b^2 of the cost
    b = max(1, int(round(sigma / 2.2)))
    if b == 1:
        return _find(data, sigma, separation or auto_separation, pixel_size, min_significance, satellite_ratio,
                     separation)
    rows, cols = data.shape
    found, gain = _find(binned(data, b), sigma / b, (separation or auto_separation) / b,
                        pixel_size and pixel_size * b, min_significance, satellite_ratio,
                        separation and separation / b, block=b)
    if found is None:
        return None, None
    xy = (found.xy + 0.5) * b - 0.5  # centre of binned pixel i is at b*i + (b-1)/2
    inside = np.all((xy > -0.5) & (xy < np.array([cols, rows]) - 0.5), axis=1)
    found = replace(found, xy=xy, xy_err=found.xy_err * b, sigma=found.sigma * b, pixel_size_A=pixel_size)
    return found.select(inside), gain


def _second_look(data, fit, sigma, radius, separation, min_significance, close, satellite_ratio):
    """Columns the first fit missed, found in what is left once the found columns are taken away.

    A dim column pressed against a bright one is only a shoulder in the
    image, but a peak in the residual. Returns the fit with them added and
    the model image of all columns.
    """
    model = render_gaussians(fit.xy, fit.amplitude, fit.sigma, data.shape, reach=4.0, dtype=np.float32)
    more, height, level = detect_candidates(data - model, sigma, max(1.0, 0.5 * sigma))
    # in the residual no bright neighbour skews the cheap estimate: screen at the full threshold
    passed = _screen(height, level, sigma, fit.noise, min_significance)
    more, height = more[passed], height[passed]
    if len(fit.xy) and len(more):
        distance, nearest = cKDTree(fit.xy).query(more)
        # not on a found column, and not an N satellite of one (height is about half the amplitude)
        satellite = (distance < close) & (fit.amplitude[nearest] > satellite_ratio * 2 * height)
        more = more[(distance > 1.5 * sigma) & ~satellite]
    if not len(more):
        return fit, model
    # fitted against the found columns held fixed, so that they cannot share a found column's flux
    extra = _fit_beside(data - model, fit, more, 1.2 * sigma, sigma, radius, separation, min_significance,
                        sigma_prior=0.08)
    model = model + render_gaussians(extra.xy, extra.amplitude, extra.sigma, data.shape, reach=4.0,
                                     dtype=np.float32)
    return fit.concat(extra), model


def _find(data, sigma, rough_separation, pixel_size, min_significance, satellite_ratio, separation=None,
          block=1):
    """The pipeline of :func:`find_columns` on one image in contrast units, binned `block` x `block` (a mean).

    Returns the columns in electron counts per unbinned pixel and the gain
    (contrast units per count), or (None, None) when no column stands out.
    """
    sigma = min(sigma, rough_separation / 3)
    # a small footprint: with a wide one, a bright column's shoulder hides a dim neighbour's maximum
    candidates, height, level = detect_candidates(data, sigma, max(1.0, 0.5 * sigma))
    if len(candidates) < 2:
        return None, None
    # a quick fit of the brightest candidates measures what the autocorrelation only estimates: the
    # column width, the closest spacing of real columns and, in its residuals, the image's noise
    brightest = candidates[np.argsort(-height)[:QUICK_FIT_COLUMNS]]
    quick = fit_gaussians(data, brightest, sigma, float(np.clip(2 * sigma, 2.5, 0.5 * rough_separation)),
                          n_rounds=1, n_steps=4, measure_noise=True)
    gain = electron_gain(quick.noise, float(np.percentile(data[::4, ::4], 99.5)))
    if gain is None:
        return None, None
    # a mean over b x b pixels has 1/b^2 of a pixel's shot noise: counts per unbinned pixel
    gain *= block ** 2
    data, height, level = data / gain, height / gain, level / gain
    strong = quick.sane & (quick.significance >= 2 * min_significance)
    if strong.sum() < 2:
        strong = quick.sane & (quick.significance >= min_significance)
    if strong.sum() < 2:
        return None, None
    sigma = float(np.median(quick.sigma[strong]))
    if separation is None:
        nearest = cKDTree(quick.xy[strong]).query(quick.xy[strong], k=2)[0][:, 1]
        separation = float(np.percentile(nearest, 5))
        if pixel_size:  # N satellites of Ti are not real spacings
            separation = max(separation, 1.8 / pixel_size)
    # a cheap matched-filter signal-to-noise against one count of noise drops the maxima too faint to
    # fit before the full fit, at half the threshold
    candidates = candidates[_screen(height, level, sigma, UNIT_NOISE, 0.5 * min_significance)]
    # neighbours are subtracted, so the patch may reach past half the spacing
    radius = float(np.clip(2.2 * sigma, 2.5, 0.7 * separation))
    # a tight width prior first: a column must not swell to swallow a faint neighbour (N beside Ti
    # under a wide probe), or that neighbour never shows in the residual
    fit = _fit_and_select(data, candidates, sigma, radius, separation, min_significance, sigma_prior=0.08,
                          n_rounds=1)
    close = SATELLITE_DISTANCE_A / pixel_size if pixel_size else 0.75 * separation
    fit, model = _second_look(data, fit, sigma, radius, separation, min_significance, close, satellite_ratio)
    # the final round: every column with its neighbours as now known, widths freer
    start = np.column_stack([fit.amplitude, fit.sigma, fit.background])
    fit, too_wide = _fit_and_select(data, fit.xy, sigma, radius, separation, min_significance, start, n_rounds=1,
                                    start_model=model, keep_too_wide=True)
    fit = fit.concat(_wide_columns(data, fit, too_wide, sigma, separation, min_significance))
    gap = GAP_DISTANCE_A / pixel_size if pixel_size else 0.9 * separation
    real = ~(_satellites(fit.xy, fit.amplitude, close, satellite_ratio)
             | _gap_peaks(fit.xy, fit.amplitude, gap, GAP_RATIO))
    fit = fit.select(real) if not real.all() else fit
    return Columns(xy=fit.xy, amplitude=fit.amplitude, sigma=fit.sigma, background=fit.background,
                   xy_err=fit.xy_err, significance=fit.significance, reduced_chi2=fit.reduced_chi2,
                   converged=fit.converged, pixel_size_A=pixel_size), gain


def _fit_and_select(data, candidates, sigma, radius, separation, min_significance, start=None, n_rounds=2,
                    sigma_prior=0.25, start_model=None, sigma_bounds=WIDTH_BOUNDS, keep_too_wide=False):
    """Fit all candidates together; keep the significant, sane, in-field, non-duplicate ones.

    With `keep_too_wide`, also returns the strongly significant fits that
    failed only by reaching the upper width bound (see :func:`_wide_columns`).
    """
    fit = fit_gaussians(data, candidates, sigma, radius, n_rounds=n_rounds, sigma_prior=sigma_prior,
                        background_scale=separation, start=start, start_model=start_model,
                        sigma_bounds=sigma_bounds)
    rows, cols = data.shape
    inside = ((fit.xy[:, 0] > -0.5) & (fit.xy[:, 0] < cols - 0.5)
              & (fit.xy[:, 1] > -0.5) & (fit.xy[:, 1] < rows - 0.5))
    keep = fit.sane & inside & (fit.significance >= min_significance)
    keep &= _drop_duplicates(fit.xy, np.where(keep, fit.significance, -1), 0.3 * separation)
    if not keep_too_wide:
        return fit.select(keep)
    moved = np.abs(fit.xy - np.asarray(candidates, float).reshape(-1, 2)).max(axis=1)
    too_wide = (~fit.sane & inside & (fit.sigma >= 0.99 * sigma_bounds[1] * sigma) & (moved < radius)
                & np.isfinite(fit.xy_err).all(axis=1) & (fit.significance >= 2 * min_significance))
    return fit.select(keep), fit.xy[too_wide]


def _wide_columns(data, found, xy, sigma, separation, min_significance):
    """Strong columns wider than the usual width bound, fitted on their own against the found ones.

    In a thick lamella a heavy column channels the probe off its core at
    some depths: it shows as a broad disc or ring (a Bi column at 20-30 nm),
    several times as wide as the light columns that set the reference width.
    Its centre is still plain, by symmetry. Refitting only these, with the
    found columns taken away and a wider bound and patch, keeps every other
    column's fit as it was.
    """
    if not len(xy):
        return found.select(np.zeros(len(found.xy), bool))
    model = render_gaussians(found.xy, found.amplitude, found.sigma, data.shape, reach=4.0, dtype=np.float32)
    # a ring's flux lies out to about half the spacing: a patch a little wider than that
    wide = _fit_beside(data - model, found, xy, 0.5 * separation, sigma, 1.2 * (0.5 * separation), separation,
                       min_significance, sigma_prior=np.inf, sigma_bounds=(WIDTH_BOUNDS[0], 2 * WIDTH_BOUNDS[1]))
    return replace(wide, noise=found.noise)


def _fit_beside(residual, found, candidates, clearance, sigma, radius, separation, min_significance,
                **fit_options):
    """One fit of `candidates` in the `residual` of the `found` columns.

    Keeps the usable fits farther than `clearance` from every found column.
    """
    extra = _fit_and_select(residual, candidates, sigma, radius, separation, min_significance, n_rounds=1,
                            **fit_options)
    if len(found.xy) and len(extra.xy):
        extra = extra.select(cKDTree(found.xy).query(extra.xy)[0] > clearance)
    return extra
