"""The film as a length standard: how far the file's calibration is from what the lattice implies.

Bi2Te3 and Bi2Se3 grow by van der Waals epitaxy, unstrained, so their lattice
is a ruler inside every image. Each axis gets its own ruler, never a ratio
that mixes the two scan axes (scan distortion makes them differ):

- along the planes, the film's projected column period: it sets the in-plane
  length scale for the TiN parameter (both are measured along the same axis);
- along the growth axis, the thickness of the film's complete quintuple
  layers (X1 to X1): heights are divided by its ratio to bulk.

With no film in the field, lengths rest on the file's calibration, and the
report says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from ..io.jsonable import from_saved
from ..io.units import signed
from ..numeric import inverse_variance_mean, robust_sd
from .distortion import stacking_shear

#: Where only the two lattices' bulk periods measure the scale (no film standard), a pixel size this far off
#: them is named: more than the TiN's own strain range and the periods' spread.
LATTICE_TOLERANCE_PCT = 3.0

__all__ = ["Calibration", "measure_calibration", "scale_hint", "weighted_mean"]

FILM_STANDARD = "film"
FILE_STANDARD = "file calibration"


def weighted_mean(values, errors):
    """Inverse-variance mean and its error, inflated by the scatter between values when that is larger.

    Values far from the median (beyond 3 robust standard deviations and 3 of
    their own errors) are left out first: one wrong plane with a small error
    must not carry the mean.

    Examples
    --------
    >>> weighted_mean([1.0, 1.0, 1.0, 5.0], [0.1, 0.1, 0.1, 0.01])[0]
    1.0
    """
    values, errors = np.asarray(values, float), np.asarray(errors, float)
    if len(values) >= 3:
        centre = np.median(values)
        spread = robust_sd(values)
        keep = np.abs(values - centre) <= np.maximum(3 * spread, 3 * errors)
        values, errors = values[keep], errors[keep]
    return inverse_variance_mean(values, errors)


@dataclass(frozen=True)
class Calibration:
    """The length standards of one image (the Report's ``calibration``).

    Attributes
    ----------
    file_pixel_size_A : float
    inplane_scale, inplane_scale_err : float or None
        The film's measured in-plane period (file calibration) over its bulk value.
    growth_scale, growth_scale_err : float or None
        The film's measured QL thickness (file calibration) over its bulk value.
    n_film_planes, n_quintuple_layers : int
        What the two rulers rest on.
    row_scale_degree : [int, int] or None
        Polynomial degrees (row, column) of the scale along the planes across
        the field (:mod:`stemlayers.structure.distortion`); None: not measured (no film
        or no TiN planes).
    row_scale_top_bottom_pct : [float, float] or None
        That scale at the top and the bottom row, % from the film's mean.
    tin_row_correction_pct, tin_row_correction_err_pct : float or None
        How much larger the TiN's rows' scale is than the film's, %: the TiN a
        was divided by 1 + this / 100 (0 when not applied), and the 1σ error
        this adds to its systematic part.
    row_scale_applied : bool or None
        Whether the correction was applied (models agree, beyond its error).
    scan_wander_px : float or None
        How far the scan wandered along the planes over the frame (peak to
        peak, px), where a wander was found and taken out
        (:mod:`stemlayers.structure.wander`); None: none found or not measured.
    tin_wander_correction_pct, tin_wander_correction_err_pct : float or None
        What taking it out changed the TiN's period by against the film's, and
        its 1σ error, %.
    shear_deg, shear_err_deg : float or None
        The image's shear at the film: how far each film plane's columns
        sit along the planes beyond the third of a period the ABC stacking
        puts them (:func:`stemlayers.structure.distortion.stacking_shear`), as an angle
        from the growth axis, and its 1σ error.
    tin_shear_deg, tin_shear_err_deg : float or None
        The same from the TiN planes (a biaxial strain keeps the thirds, so
        the TiN measures its own rows' shear too): the two differ when the
        drift changed between their rows.
    lattice_factor : float or None
        Where the film could not serve as the length standard but a system was identified: the file's pixel
        size over the one the planes' periods imply (bulk film and TiN periods: a rougher ruler, which the
        TiN's own strain moves), None otherwise.
    lattice_factor_bound : bool
        Whether that factor is the bound of the periods' search (the file is at least that far off).
    pixel_size_source : str
        Where `file_pixel_size_A` came from: "file" (the file's calibration),
        "--pixel-size" (given by the user) or "fallback" (a batch's pixel size
        for files without one).
    """

    file_pixel_size_A: float
    inplane_scale: float | None = None
    inplane_scale_err: float | None = None
    growth_scale: float | None = None
    growth_scale_err: float | None = None
    n_film_planes: int = 0
    n_quintuple_layers: int = 0
    row_scale_degree: list | None = None
    row_scale_top_bottom_pct: list | None = None
    tin_row_correction_pct: float | None = None
    tin_row_correction_err_pct: float | None = None
    row_scale_applied: bool | None = None
    scan_wander_px: float | None = None
    tin_wander_correction_pct: float | None = None
    tin_wander_correction_err_pct: float | None = None
    shear_deg: float | None = None
    shear_err_deg: float | None = None
    tin_shear_deg: float | None = None
    tin_shear_err_deg: float | None = None
    pixel_size_source: str = "file"
    lattice_factor: float | None = None
    lattice_factor_bound: bool = False

    @property
    def standard(self) -> str:
        """What in-plane lengths rest on: "film" or "file calibration"."""
        return FILM_STANDARD if self.inplane_scale else FILE_STANDARD

    @property
    def height_standard(self) -> str:
        """What heights rest on: "film QL thickness" or "file calibration"."""
        return "film QL thickness" if self.growth_scale else FILE_STANDARD

    @property
    def height_scale(self) -> float:
        return self.growth_scale or 1.0

    @property
    def file_error_pct(self) -> float | None:
        """How much larger the file's pixel size is than the film lattice implies, %."""
        return None if self.inplane_scale is None else 100.0 * (self.inplane_scale - 1.0)

    @property
    def scale_map(self) -> list | None:
        """The film's measured scale as a 2x2 map in the (along the planes, along the growth axis) frame.

        Diagonal: the two rulers (in-plane period, QL thickness) over bulk, on
        the file's calibration; above it the shear (along-plane shift per
        unit height, from the stacking's registry), 0 when not measured.
        """
        if self.inplane_scale is None and self.growth_scale is None:
            return None
        shear = float(np.tan(np.radians(self.shear_deg))) if self.shear_deg is not None else 0.0
        return [[self.inplane_scale or 1.0, shear], [0.0, self.growth_scale or 1.0]]

    @property
    def tin_scan_correction_err_pct(self) -> float:
        """1σ error of the TiN's period from the scan-distortion corrections (wander and row scale), %."""
        return float(np.hypot(self.tin_row_correction_err_pct or 0.0, self.tin_wander_correction_err_pct or 0.0))

    def distortion_note(self) -> str | None:
        """A sentence on a scale that changes across the field, when one was measured and mattered."""
        parts = []
        if self.scan_wander_px is not None:
            parts.append(f"the scan wanders by {self.scan_wander_px:.2f} px along the planes over the frame; "
                         f"taken out, it moves the TiN a by {self.tin_wander_correction_pct:+.2f} "
                         f"± {self.tin_wander_correction_err_pct:.2f} % against the film")
        if self.tin_row_correction_err_pct and self.row_scale_top_bottom_pct is not None:
            top, bottom = self.row_scale_top_bottom_pct
            change = f"the scale along the planes changes by {bottom - top:+.2f} % from the top row to the bottom one"
            if self.row_scale_applied:
                parts.append(f"{change}; the TiN a is corrected by {-self.tin_row_correction_pct:+.2f} "
                             f"± {self.tin_row_correction_err_pct:.2f} % for the TiN's rows")
            else:
                parts.append(f"{change}, but the row models do not agree on it at the TiN's rows: not corrected, "
                             f"the TiN a's CI widened by ±{self.tin_row_correction_err_pct:.2f} % (1σ)")
        return "scan distortion: " + "; ".join(parts) if parts else None

    @property
    def film_pixel_size_A(self) -> float | None:
        """The pixel size the film lattice implies, Å/px (None: no film standard)."""
        return None if self.inplane_scale is None else self.file_pixel_size_A / self.inplane_scale

    def measured_at(self, trial: float, file_pixel_size_A: float, source: str = "file") -> Calibration:
        """This calibration, measured with `trial` x the file's pixel size, against the file's pixel size.

        Examples
        --------
        >>> Calibration(0.2, inplane_scale=1.0, growth_scale=1.01).measured_at(2.0, 0.1).inplane_scale
        0.5
        """
        def per_file(value):
            return None if value is None else value / trial

        return replace(self, file_pixel_size_A=float(file_pixel_size_A), pixel_size_source=source,
                       inplane_scale=per_file(self.inplane_scale), inplane_scale_err=per_file(self.inplane_scale_err),
                       growth_scale=per_file(self.growth_scale), growth_scale_err=per_file(self.growth_scale_err))

    def warning(self, tolerance_pct: float = 1.0) -> str | None:
        """A sentence when the pixel size in use is off the film lattice's by more than `tolerance_pct` (and 2σ).

        Examples
        --------
        >>> Calibration(0.12, inplane_scale=1.2, inplane_scale_err=0.001, pixel_size_source="--pixel-size").warning()
        'the pixel size 0.1200 Å/px (--pixel-size) is 1.200x (+20.0 ± 0.1 %) what the film lattice implies (0.1000 Å/px); lengths rest on the film'
        """
        err = self.file_error_pct
        if err is None:
            return self._lattice_warning()
        sigma = 100.0 * (self.inplane_scale_err or 0.0)
        if abs(err) <= max(tolerance_pct, 2 * sigma):
            return None
        return (f"the pixel size {self.file_pixel_size_A:.4f} Å/px ({self.pixel_size_source}) is "
                f"{self.inplane_scale:.3f}x ({signed(err, 1)} ± {sigma:.1f} %) what the film lattice implies "
                f"({self.film_pixel_size_A:.4f} Å/px); lengths rest on the film")

    def _lattice_warning(self, tolerance_pct: float = LATTICE_TOLERANCE_PCT) -> str | None:
        """A sentence when the periods of the film and the TiN put the pixel size in use more than
        `tolerance_pct` off, where the film could not serve as the standard."""
        factor = self.lattice_factor
        if factor is None or abs(100.0 * (factor - 1.0)) <= tolerance_pct:
            return None
        size = "at least " if self.lattice_factor_bound else "about "
        return (f"the pixel size {self.file_pixel_size_A:.4f} Å/px ({self.pixel_size_source}) is {size}"
                f"{factor:.2f}x what the lattice periods in the field imply "
                f"({self.file_pixel_size_A / factor:.4f} Å/px), with no film to serve as the length standard: "
                "lengths rest on this pixel size")

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        """The length standards of a saved report's ``calibration`` (its derived keys are recomputed)."""
        return from_saved(cls, d)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(standard=self.standard, height_standard=self.height_standard,
                 file_error_pct=self.file_error_pct, file_factor=self.inplane_scale,
                 film_pixel_size_A=self.film_pixel_size_A, warning=self.warning(), scale_map=self.scale_map,
                 distortion_note=self.distortion_note(),
                 note=("in-plane lengths rest on the film's lattice" if self.inplane_scale else
                       "no film lattice in the field: lengths rest on the file's calibration"))
        return d


def measure_calibration(planes, materials, quintuples, system, pixel_size_A, scale=1.0,
                        row_scale=None, wander=None) -> Calibration:
    """The film's in-plane and growth-axis scale against bulk, from its ordered planes.

    Parameters
    ----------
    planes : sequence of Plane
        Heights and periods in Å along the file's calibration.
    materials : sequence of str
        The contract's material per plane ("TI" planes are the film's own).
    quintuples : sequence of QuintupleLayer
    system : MaterialSystem
    pixel_size_A : float
        The file's.
    scale : float
        The planes' lengths are the file's divided by this (the field's own
        scale, see :func:`stemlayers.structure.grouping.group_layers`); the result is
        against the file's calibration all the same.
    row_scale : RowScale, optional
        How the scale along the planes changes with the image row
        (:func:`stemlayers.structure.distortion.fit_row_scale`): the planes' periods are
        already on the film's mean scale; the report gives the change from
        the top row to the bottom one and the TiN's correction.
    wander : RowWander, optional
        The scan's wander along the planes (:func:`stemlayers.structure.wander.fit_row_wander`),
        already taken out of the planes' periods; the report gives how far
        it went and what it changed.

    Returns
    -------
    Calibration
    """
    film = [p for p, m in zip(planes, materials) if m == "TI" and p.period_A]
    inplane = inplane_err = None
    if film:
        period, period_err = weighted_mean([p.period_A for p in film], [p.period_err_A for p in film])
        inplane = scale * period / system.film.projected_period_A
        inplane_err = scale * period_err / system.film.projected_period_A
        if abs(inplane - 1.0) > system.classify.calibration_tolerance:
            inplane = inplane_err = None  # beyond any calibration error: not this system's film, no standard
    complete = [q for q in quintuples if q.n_planes == 5]
    growth = growth_err = None
    if complete:
        thickness = np.array([planes[q.start + 4].height_A - planes[q.start].height_A for q in complete])
        errors = np.array([np.hypot(planes[q.start + 4].height_err_A, planes[q.start].height_err_A)
                           for q in complete])
        mean, err = weighted_mean(thickness, np.maximum(errors, 1e-4))
        growth, growth_err = scale * mean / system.ql_thickness_A, scale * err / system.ql_thickness_A
    rows = {}
    if row_scale is not None:
        rows = dict(row_scale_degree=[row_scale.degree, row_scale.col_degree],
                    row_scale_top_bottom_pct=[100.0 * (v - 1.0) for v in row_scale.scale_range],
                    tin_row_correction_pct=100.0 * (row_scale.substrate_correction - 1.0),
                    tin_row_correction_err_pct=100.0 * row_scale.substrate_correction_err,
                    row_scale_applied=row_scale.applied)
    if wander is not None and wander.applied:
        rows.update(scan_wander_px=wander.extent_px,
                    tin_wander_correction_pct=100.0 * float(np.expm1(wander.substrate_change)),
                    tin_wander_correction_err_pct=100.0 * wander.substrate_change_err)
    return Calibration(float(pixel_size_A), inplane, inplane_err, growth, growth_err, len(film), len(complete),
                       **rows, **_shears(planes, materials))


def _shears(planes, materials) -> dict:
    """The image's shear at the film's and at the TiN's planes, in degrees (:func:`stacking_shear`)."""
    out = {}
    for name, key in (("TI", "shear"), ("TiN", "tin_shear")):
        group = [p for p, m in zip(planes, materials) if m == name and p.phase is not None]
        known = [p.period_A for p in group if p.period_A]
        if len(group) < 4 or not known:
            continue
        found = stacking_shear([p.height_A for p in group], [p.phase for p in group],
                               [p.period_A or float(np.median(known)) for p in group])
        if found is not None:
            shear, err = found
            out[f"{key}_deg"] = float(np.degrees(np.arctan(shear)))
            out[f"{key}_err_deg"] = float(np.degrees(err))
    return out


#: Shortest distances between the dominant atomic columns of atomic-resolution HAADF images, Å (1-6: the
#: 2-5 Å of real lattices with room for light columns beside heavy ones and for dumbbells).
COLUMN_SPACING_RANGE_A = (1.0, 6.0)


def scale_hint(separation_px, pixel_size_A, spacing_range_A=COLUMN_SPACING_RANGE_A) -> str | None:
    """A sentence when the image's own column spacing says the pixel size cannot be right, else None.

    Parameters
    ----------
    separation_px : float or None
        Shortest distance between the dominant columns, in pixels, read from
        the image itself (:func:`stemlayers.columns.find.lattice_scale`).
    pixel_size_A : float
        The pixel size in use (the file's or the user's).

    Examples
    --------
    >>> scale_hint(25.6, 0.1) is None
    True
    >>> scale_hint(25.6, 0.01)
    'the columns are 0.26 Å apart at 0.0100 Å/px, where atomic columns are 1-6 Å apart: the pixel size looks wrong (given in nm instead of Å, or 10x off?); at about 0.098 Å/px they would be a typical 2.5 Å apart'
    """
    if not separation_px:
        return None
    spacing = separation_px * pixel_size_A
    lo, hi = spacing_range_A
    if lo <= spacing <= hi:
        return None
    guess = 2.5 / separation_px
    return (f"the columns are {spacing:.2f} Å apart at {pixel_size_A:.4f} Å/px, where atomic columns are "
            f"{lo:g}-{hi:g} Å apart: the pixel size looks wrong (given in nm instead of Å, or 10x off?); "
            f"at about {guess:.2g} Å/px they would be a typical 2.5 Å apart")

