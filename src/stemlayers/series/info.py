"""What was done to make one image out of several: the ``series`` block of a Report."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["SeriesInfo"]


@dataclass(frozen=True)
class SeriesInfo:
    """How the analysed image was made from a frame series (registration) or an orthogonal scan pair.

    Attributes
    ----------
    n_frames : int
    used : list of int
        The frames averaged.
    rejected : list of dict
        ``{"frame", "reason"}`` of each frame left out.
    drift_A : list of [x, y]
        Each frame's content drift, Å.
    scan_distortion_rms_px : float
        The scan distortion corrected, rms px.
    residual : float or None
        A series: rms of the registered frames about their mean, over the image contrast.
    residual_px, matched_columns, quarter_turns, degree : optional
        A scan pair: the columns' rms mismatch after correction (px), how many were matched, the quarter
        turns between the scans and the degree of the drift polynomial.
    crop_px : [x, y]
        Where the averaged image starts in the first frame.
    registered : bool
        False when the frames were averaged as the microscope had corrected them.
    method : str
    """

    n_frames: int
    used: list
    rejected: list
    drift_A: list
    scan_distortion_rms_px: float
    residual: float | None = None
    residual_px: float | None = None
    matched_columns: int | None = None
    quarter_turns: int | None = None
    degree: int | None = None
    crop_px: list | None = None
    registered: bool = True
    method: str = ""

    @property
    def is_scan_pair(self) -> bool:
        """An orthogonal scan pair, not a registered series."""
        return self.matched_columns is not None

    def to_dict(self) -> dict:
        """The JSON block: the fields that apply (a series has no scan-pair fields, nor the reverse)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, d: dict) -> SeriesInfo:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
