"""A series of fast frames of one field, registered into one image.

Microscopists record several fast frames rather than one slow one and
average them once aligned: the noise falls as the square root of the number
of frames, and so does the scan jitter, which differs from frame to frame.
:func:`register` does that in three steps, each a plain function:

1. :func:`frame_shifts`: the rigid drift of every frame, by cross-correlation
   searched within less than half a lattice spacing (a lattice matches
   itself at every lattice translation) and refined by upsampled phase
   correlation (scikit-image); first frame to frame (small steps, so a large
   total drift is no problem), then each frame against the mean of the
   aligned ones, twice;
2. :func:`screen_frames`: frames left out on low correlation with the mean,
   a jump off the smooth drift, or a loss of intensity (beam damage: Se and
   Te leave first, which would bias the element contrast);
3. :func:`row_displacements`: what a rigid shift cannot fix, the scan's own
   distortion (a slow-scan shear or stretch that differs between frames),
   as a displacement per scan row measured by optical flow (scikit-image's
   iterative Lucas-Kanade) against the mean and smoothed along the slow
   scan. A raster scan distorts a frame row by row, so a field of the row
   alone keeps the flow's noise out of the correction. (Strips of rows
   aligned by phase correlation were tried first: they lock onto the wrong
   lattice translation when a strip holds few planes.)

The mean of the corrected frames, cropped to the area every frame covers, is
the registered image; its metadata carry the ``series`` block of the report.
A series the microscope registered already (DCFI) is averaged as it is.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.registration import optical_flow_ilk, phase_cross_correlation

from ..columns.find import lattice_scale
from ..errors import InputError
from ..io.jsonable import to_jsonable
from ..io.read import Image, Series, load_series
from ..numeric import binned
from ..numeric import MAD_TO_SD, robust_sd

__all__ = ["frame_shifts", "register", "row_displacements", "screen_frames", "warp_rows"]

#: A frame this much dimmer than the median frame has lost atoms (or the beam): it is left out.
MIN_INTENSITY_RATIO = 0.85


def _shift(frame, shift, order=3):
    return ndimage.shift(frame, shift, order=order, mode="nearest")


def _small_shift(reference, moving, max_px, upsample):
    """Shift (dy, dx) that aligns `moving` with `reference`, searched within ±max_px, refined to 1/upsample px.

    A lattice correlates with itself at every lattice translation; a frame
    sheared differently from its neighbour can make one of those peaks the
    highest. The drift between fast frames is far below half a lattice
    period, so only shifts that small are considered.
    """
    cc = np.fft.irfft2(np.fft.rfft2(reference) * np.conj(np.fft.rfft2(moving)), s=reference.shape)
    m = int(max(1, np.floor(max_px)))
    offsets = np.r_[0:m + 1, -m:0]
    window = cc[np.ix_(offsets % cc.shape[0], offsets % cc.shape[1])]
    iy, ix = np.unravel_index(np.argmax(window), window.shape)
    coarse = np.array([offsets[iy], offsets[ix]], float)
    fine = phase_cross_correlation(reference, _shift(moving, coarse, order=1), upsample_factor=upsample,
                                   normalization=None)[0]
    return coarse + (fine if np.all(np.abs(fine) <= 1.5) else 0.0)


def frame_shifts(frames, upsample=20, refinements=2, max_step_px=None):
    """Rigid shift (dy, dx) in px that aligns each frame with the others (mean shift zero).

    Parameters
    ----------
    frames : (n, rows, cols) float array
    upsample : int
        Phase-correlation upsampling (1/upsample px precision).
    refinements : int
        Passes of each frame against the mean of the aligned frames.
    max_step_px : float, optional
        Largest drift between consecutive frames (and correction against the
        mean); 0.4 x the image's column spacing by default (a lattice repeats
        itself every spacing).

    Returns
    -------
    (n, 2) float array
        ``scipy.ndimage.shift(frames[k], shifts[k])`` is frame k aligned.
    """
    frames = np.asarray(frames, np.float32)
    if max_step_px is None:
        max_step_px = 0.4 * (lattice_scale(frames[0])[1] or 20.0)
    steps = [_small_shift(frames[k - 1], frames[k], max_step_px, upsample) for k in range(1, len(frames))]
    shifts = np.vstack([[0.0, 0.0], np.cumsum(steps, axis=0)]) if steps else np.zeros((1, 2))
    for _ in range(refinements):
        # linear interpolation is enough to measure against (the final frames are shifted with cubic splines)
        aligned = [_shift(f, s, order=1) for f, s in zip(frames, shifts)]
        mean = np.mean(aligned, axis=0)
        shifts = shifts + np.array([_small_shift(mean, a, max_step_px, upsample) for a in aligned])
    return shifts - shifts.mean(axis=0)


def _common_area(shape, shifts):
    """(row slice, col slice) that every shifted frame covers."""
    lo = np.ceil(np.clip(shifts.max(axis=0), 0, None)).astype(int)
    hi = np.floor(np.array(shape) + np.clip(shifts.min(axis=0), None, 0)).astype(int)
    if np.any(hi - lo < 16):
        raise InputError(f"the frames drift by up to {np.ptp(shifts, axis=0).max():.0f} px: they share too "
                         "small an area to register")
    return slice(lo[0], hi[0]), slice(lo[1], hi[1])


def _off_smooth_drift(shifts):
    """Each frame's distance (px) from a quadratic drift fitted to the others, and the limit beyond which it jumped.

    The worst frame is tested against a drift fitted without it (a jump must
    not bend the drift it is measured against), and dropped from the fit
    while it stands out; at most a third of the frames go.
    """
    n = len(shifts)
    t = np.arange(n)

    def residuals(keep):
        fit = np.column_stack([np.polyval(np.polyfit(t[keep], shifts[keep, i], 2), t) for i in range(2)])
        return np.hypot(*(shifts - fit).T)

    keep = np.ones(n, bool)
    off = residuals(keep)
    limit = 1.0
    while keep.sum() > max(4, n - n // 3):
        worst = int(np.argmax(np.where(keep, off, -np.inf)))
        trial = keep.copy()
        trial[worst] = False
        trial_off = residuals(trial)
        limit = max(1.0, 6 * max(MAD_TO_SD * float(np.median(trial_off[trial])), 0.05))
        if trial_off[worst] <= limit:
            break
        keep, off = trial, trial_off
    return off, limit


def screen_frames(aligned, shifts, min_intensity=MIN_INTENSITY_RATIO):
    """Which aligned frames to keep, and why the others go.

    A frame goes when it is much less correlated with the mean than the
    others (a frame of another field, a flash, a torn scan), when its shift
    leaves the smooth drift of the series (a jump: a stage or scan glitch),
    or when it has lost intensity (beam damage).

    Parameters
    ----------
    aligned : (n, rows, cols) float array
        The frames after their rigid shifts, cropped to the common area.
    shifts : (n, 2) float array

    Returns
    -------
    (keep, reasons)
        A bool array, and {frame index: reason} for the frames left out.
    """
    n = len(aligned)
    mean = aligned.mean(axis=0)
    centred = mean - mean.mean()
    means = aligned.mean(axis=(1, 2))
    corr = np.array([np.corrcoef(centred.ravel(), (f - m).ravel())[0, 1] for f, m in zip(aligned, means)])
    level = means / np.median(means)
    reasons = {}
    med = np.median(corr)
    spread = robust_sd(corr)
    for k in np.flatnonzero(corr < med - max(6 * spread, 0.1 * (1 - med) + 0.05)):
        reasons[int(k)] = f"correlation with the mean {corr[k]:.2f} (median {med:.2f})"
    if n >= 5:
        off, limit = _off_smooth_drift(shifts)
        for k in np.flatnonzero(off > limit):
            reasons.setdefault(int(k), f"a jump of {off[k]:.1f} px off the smooth drift")
    for k in np.flatnonzero(level < min_intensity):
        reasons.setdefault(int(k), f"intensity {100 * level[k]:.0f} % of the median frame (beam damage?)")
    keep = np.ones(n, bool)
    keep[list(reasons)] = False
    return keep, reasons


def row_displacements(frame, reference, radius, smooth_rows, binning=1, max_columns=320):
    """The scan distortion of `frame` against `reference`: a displacement (dy, dx) per scan row, px.

    Optical flow (scikit-image's iterative Lucas-Kanade, coarse to fine)
    gives a displacement per pixel, on a band of at most `max_columns`
    columns across the middle, binned by `binning`, for speed;
    its median along each row, smoothed over `smooth_rows` rows, is the
    field: a raster scan distorts a frame row by row, so a field of the row
    alone keeps the noise of single pixels out of the correction.

    Returns
    -------
    (rows, 2) float array
        ``frame[r + dy[r], c + dx[r]]`` lies on ``reference[r, c]``.
    """
    b = max(int(binning), 1)
    # the field depends on the row alone: a band of columns across the middle measures it as well as all of them
    lo = max((frame.shape[1] - max_columns) // 2, 0)
    reference, frame_band = reference[:, lo:lo + max_columns], frame[:, lo:lo + max_columns]
    small_ref, small = (binned(reference, b), binned(frame_band, b)) if b > 1 else (reference, frame_band)
    flow = optical_flow_ilk(small_ref, small, radius=max(int(round(radius / b)), 2), num_warp=2)
    per_row = np.stack([np.median(flow[0], axis=1), np.median(flow[1], axis=1)], axis=1) * b
    per_row = ndimage.gaussian_filter1d(per_row, max(smooth_rows / b, 0.5), axis=0, mode="nearest")
    # back to full-resolution rows: binned row i covers rows b*i ... b*i + b - 1
    rows = np.arange(frame.shape[0])
    centres = b * np.arange(len(per_row)) + 0.5 * (b - 1)
    return np.column_stack([np.interp(rows, centres, per_row[:, i]) for i in range(2)])


def warp_rows(frame, displacement, order=3):
    """`frame` resampled with one displacement per row: ``out[r, c] = frame[r + dy[r], c + dx[r]]``.

    Parameters
    ----------
    frame : (rows, cols) array
    displacement : (rows, 2) float array
        (dy, dx) of each row, px (as :func:`row_displacements` gives it).
        For one displacement per column, warp the transposed frame with
        (dx, dy) per column and transpose back.
    order : int
        Spline order of the interpolation.
    """
    rows, cols = np.mgrid[0:frame.shape[0], 0:frame.shape[1]].astype(np.float32)
    coords = [rows + displacement[:, :1], cols + displacement[:, 1:]]
    return ndimage.map_coordinates(frame, coords, order=order, mode="nearest")


def _as_series(frames, pixel_size):
    if isinstance(frames, Series):
        return frames if pixel_size is None else Series(frames.frames, float(pixel_size), frames.path,
                                                        frames.metadata)
    return load_series(frames, pixel_size)


def register(frames, pixel_size=None, *, nonrigid=True, passes=2) -> Image:
    """Register the frames of a series and average them into one image.

    Parameters
    ----------
    frames : Series, path, hyperspy signal or (n, rows, cols) array (with `pixel_size`)
    pixel_size : float, optional
        Å/px, overriding the file's calibration.
    nonrigid : bool
        Also correct each frame's scan distortion (:func:`row_displacements`).
    passes : int
        Non-rigid passes (each against the mean of the previous one).

    Returns
    -------
    Image
        The mean of the kept, corrected frames over the area all of them
        cover; ``metadata["series"]`` holds the frames used and rejected (with
        the reason), the drift of each frame (Å), the rms scan distortion
        corrected (px) and the registration residual (rms of the frames
        about the mean, relative to the image's contrast).
    """
    series = _as_series(frames, pixel_size)
    stack = np.asarray(series.frames, np.float32)
    n = len(stack)
    by_microscope = bool(series.metadata.get("drift_corrected"))  # registered already (DCFI): average only
    shifts = np.zeros((n, 2)) if by_microscope else frame_shifts(stack)
    rows, cols = _common_area(stack.shape[1:], shifts)
    aligned = np.stack([_shift(f, s)[rows, cols] for f, s in zip(stack, shifts)])
    keep, reasons = screen_frames(aligned, shifts)
    if keep.sum() < 2:
        raise InputError(f"{series.name}: fewer than 2 of the {n} frames can be registered: "
                         + "; ".join(f"frame {k}: {why}" for k, why in sorted(reasons.items())))
    used = aligned[keep]
    mean = used.mean(axis=0)
    distortion = np.zeros((len(used), used.shape[1], 2), np.float32)
    if nonrigid and not by_microscope:
        separation = lattice_scale(mean)[1] or 8.0
        # flow windows of about a column spacing, on images binned to keep >= 16 px per column spacing
        binning = max(1, int(separation // 16))
        # the first pass against one sharp frame (a mean of differently sheared frames is blurred at
        # its edges), the next ones against the mean of the corrected frames
        reference = used[len(used) // 2]
        for k in range(passes):
            distortion = np.stack([row_displacements(f, reference, 0.75 * separation, 0.5 * separation, binning)
                                   for f in used])
            distortion -= distortion.mean(axis=0)  # the mean frame's geometry is the reference
            # linear interpolation for the means measured against, cubic splines for the final one
            order = 3 if k == passes - 1 else 1
            corrected = np.stack([warp_rows(f, d, order) for f, d in zip(used, distortion)])
            mean = reference = corrected.mean(axis=0)
    else:
        corrected = used
    contrast = float(np.std(mean)) or 1.0
    block = {
        "n_frames": n, "used": np.flatnonzero(keep).tolist(),
        "rejected": [{"frame": k, "reason": why} for k, why in sorted(reasons.items())],
        "drift_A": (shifts[:, ::-1] * -series.pixel_size_A).round(4).tolist(),  # (x, y) of each frame's content
        "scan_distortion_rms_px": float(np.sqrt(np.mean(distortion ** 2))),
        "residual": float(np.sqrt(np.mean((corrected - mean) ** 2)) / contrast),
        "crop_px": [int(cols.start), int(rows.start)], "registered": not by_microscope,
        "method": ("averaged as drift-corrected by the microscope" if by_microscope else
                   "rigid (phase correlation)" + (", non-rigid per scan row (optical flow)" if nonrigid else "")),
    }
    metadata = {**series.metadata, "calibration": "file" if pixel_size is None else "pixel_size argument",
                "series": block}
    return Image(data=mean.astype(np.float32), pixel_size_A=series.pixel_size_A, path=series.path,
                 metadata=to_jsonable(metadata))
