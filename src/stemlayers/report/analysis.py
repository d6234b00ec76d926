"""``analyze``: one image, end to end, into a Report.

load (or register a series) -> find_columns -> planes_and_system (growth
axes, group_layers per system, the field's true scale) -> classify ->
check_strain -> Report. The Report is a frozen dataclass whose ``to_dict()``
follows the report contract the README gives; it also carries the arrays a viewer or a figure needs
(image, column positions, plane of each column, orientation), which are not
serialised.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..columns.find import Columns, find_columns, signal_to_noise
from ..errors import InputError, StackError
from ..io.jsonable import to_jsonable
from ..io.read import Image, load, load_series
from ..materials import MaterialSystem, list_systems, load_system
from ..series.info import SeriesInfo
from ..series.register import register
from ..series.scanpair import orthogonal_pair
from ..structure.calibration import Calibration, scale_hint
from ..structure.grouping import AtomicPlane
from ..structure.planes import at_search_bound
from ..verdict.classify import Interface, classify, planes_as_judged
from ..verdict.film import FilmDefect, film_defects, film_defects_between
from ..verdict.identify import detect_system
from ..verdict.scale import FieldScale, planes_and_system
from ..verdict.segments import class_changes, follow_interface, judge_along, single_stretch, strain_along
from ..verdict.windows import windows_of_the_system
from ..verdict.strain import Strain, check_strain

__all__ = ["PAIR_STAGE", "REFERENCE_STAGE", "REGISTER_STAGE", "STAGES", "AnalysisInput", "Report", "analyze",
           "analyze_stages", "detect_system", "input_stages", "load_or_register", "reference_from_image", "run_to_end"]


#: How the sentence begins that says an image had too few columns to analyse.
TOO_FEW_COLUMNS = "fewer than three atomic columns found"

#: Version of the report's JSON layout: 2 added calibration, material, strain_verdict and null verdicts.
SCHEMA_VERSION = 2


def _software_version() -> str:
    from .. import __version__

    return __version__


def material_info(system: MaterialSystem) -> dict:
    """Name, file and SHA-256 of the material file a report used (so a result can be traced to its numbers)."""
    return {"name": system.name, "file": system.path or None, "sha256": system.sha256 or None}


@dataclass(frozen=True, eq=False)
class Report:
    """Everything the analysis of one image found, as typed records; ``to_dict()`` is the JSON contract.

    Attributes
    ----------
    file : str
    system : str or None
        The name of the material system the field shows (None: none fits).
    pixel_size_A : float
        The pixel size the image was read with (the file's, or the user's
        override): the one source of the pixel size. How far it is from what
        the film lattice implies is in `calibration`.
    n_columns : int
    seconds : float
        The analysis time.
    interface : Interface
    planes : tuple of AtomicPlane
        From the substrate up (the JSON's ``layers``).
    strain : Strain
    calibration : Calibration
    material_system : MaterialSystem or None
        The numbers the analysis used (the found system, else the first
        candidate); figures draw its reference values, not a system looked
        up again by name.
    messages : tuple of str
    n_unassigned : int
    series : SeriesInfo or None
        For a registered stack or a scan pair: frames used and rejected
        (with the reason), drift per frame (Å), scan distortion corrected,
        residual.
    lattice : dict or None
        For a field of no known system: the ordered planes' raw periods and
        spacings in Å, on the pixel size in use.
    film_defects : tuple of FilmDefect
        Septuple lamellae, stacking reversals and irregular blocks in the film.
    image, columns, plane_of_column, growth_dir, origin_xy
        Arrays for figures and viewers (not in the JSON; None in a report
        read back with :meth:`from_dict`).
    """

    file: str
    system: str | None
    pixel_size_A: float
    n_columns: int
    seconds: float
    interface: Interface
    planes: tuple = ()
    strain: Strain | None = None
    calibration: Calibration | None = None
    material_system: MaterialSystem | None = None
    messages: tuple = ()
    n_unassigned: int = 0
    series: SeriesInfo | None = None
    lattice: dict | None = None
    film_defects: tuple = ()
    image: Image | None = None
    columns: Columns | None = None
    plane_of_column: np.ndarray | None = None
    growth_dir: np.ndarray | None = None
    origin_xy: np.ndarray | None = None

    @property
    def unanalysable(self) -> str | None:
        """Why nothing could be analysed (fewer than three columns, with the image's signal-to-noise ratio), or None.

        The command line exits with 1 and a batch writes an error row with
        this sentence: an image without columns is a file that could not be
        analysed, not a verdict.
        """
        return next((m for m in self.messages if m.startswith(TOO_FEW_COLUMNS)), None)

    @property
    def columns_xy(self):
        return None if self.columns is None else self.columns.xy

    def to_dict(self) -> dict:
        """JSON-serialisable dictionary with the contract's keys."""
        return to_jsonable({
            "file": self.file, "system": self.system, "pixel_size_A": self.pixel_size_A,
            "n_columns": self.n_columns, "n_unassigned": self.n_unassigned, "seconds": self.seconds,
            "interface": self.interface.to_dict(), "layers": [p.to_dict() for p in self.planes],
            "strain": self.strain.to_dict() if self.strain is not None else None,
            "messages": list(self.messages),
            "calibration": (self.calibration or Calibration(self.pixel_size_A)).to_dict(),
            "material": material_info(self.material_system) if self.material_system else None,
            "schema_version": SCHEMA_VERSION, "software_version": _software_version(),
            "growth_dir": None if self.growth_dir is None else list(self.growth_dir),
            "film_defects": [d.to_dict() for d in self.film_defects],
            **({"series": self.series.to_dict()} if self.series else {}),
            **({"lattice": self.lattice} if self.lattice else {}),
        })

    @classmethod
    def from_dict(cls, d: dict) -> Report:
        """A saved report (``to_dict()``, e.g. read from its JSON file) as typed records again.

        The material system is loaded from the file the report names when it
        is still there with the same SHA-256, else by name when the name is
        known; otherwise it is None. The image and column arrays are not in
        the JSON (None).

        Examples
        --------
        >>> import json
        >>> from stemlayers.simulate import SimulationParams, simulate
        >>> report = analyze(simulate(SimulationParams(shape=(256, 256), seed=1)).data, pixel_size=0.1)
        >>> again = Report.from_dict(json.loads(json.dumps(report.to_dict())))
        >>> again.interface.interface_class, again.planes[0] == report.planes[0], again.material_system.name
        ('bilayer', True, 'Bi2Te3/TiN')
        """
        growth = d.get("growth_dir")
        return cls(
            file=d.get("file"), system=d.get("system"), pixel_size_A=d.get("pixel_size_A"),
            n_columns=d.get("n_columns", 0), seconds=d.get("seconds", 0.0),
            interface=Interface.from_dict(d.get("interface") or {}),
            planes=tuple(AtomicPlane.from_dict(L) for L in d.get("layers") or ()),
            strain=Strain.from_dict(d["strain"]) if d.get("strain") else None,
            calibration=Calibration.from_dict(d["calibration"]) if d.get("calibration") else None,
            material_system=_saved_system(d.get("material") or {}, d.get("system")),
            messages=tuple(d.get("messages") or ()), n_unassigned=d.get("n_unassigned", 0),
            series=SeriesInfo.from_dict(d["series"]) if d.get("series") else None,
            lattice=d.get("lattice"),
            film_defects=tuple(FilmDefect.from_dict(f) for f in d.get("film_defects") or ()),
            growth_dir=None if growth is None else np.asarray(growth, float))


def _saved_system(material: dict, name: str | None) -> MaterialSystem | None:
    """The material system a saved report used: its file if unchanged (same SHA-256), else its name."""
    path, digest = material.get("file"), material.get("sha256")
    if path and digest and Path(path).is_file():
        if hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest:
            return load_system(path)
    for candidate in (material.get("name"), name):
        if candidate:
            try:
                return load_system(candidate)
            except InputError:
                continue
    return None


#: The stages :func:`analyze_stages` yields, in order.
STAGES = ("load", "find columns", "orient", "group planes", "classify")


def analyze(path_or_image, system="auto", pixel_size=None, reference_A=None) -> Report:
    """Analyse one HAADF-STEM cross-section.

    Parameters
    ----------
    path_or_image : path, Image, hyperspy Signal2D or 2D array (with `pixel_size`)
    system : str or MaterialSystem
        "auto" picks the best-fitting known system (user systems included).
    pixel_size : float, optional
        Å per pixel, overriding the file's calibration.
    reference_A : float, optional
        Reference TiN in-plane parameter for the strain check.

    Returns
    -------
    Report
    """
    return run_to_end(analyze_stages(path_or_image, system, pixel_size, reference_A))


def run_to_end(stages):
    """Drive a stage generator (such as :func:`analyze_stages`) to its end and return its result."""
    while True:
        try:
            next(stages)
        except StopIteration as finished:
            return finished.value


#: The stages :func:`input_stages` may run before the analysis, in order.
REFERENCE_STAGE, REGISTER_STAGE, PAIR_STAGE = "reference", "register frames", "correct scan pair"


@dataclass(frozen=True)
class AnalysisInput:
    """The image to analyse and the strain reference, as :func:`input_stages` made them.

    Attributes
    ----------
    image : Image or None
        Loaded, registered (a series) or drift-corrected and averaged (a scan pair); None when only a
        reference was given.
    reference_A, reference_err_A : float or None
        The TiN in-plane a of a reference image (a bare TiN film), when one was given.
    """

    image: Image | None
    reference_A: float | None = None
    reference_err_A: float | None = None


def input_stages(source=None, *, series=None, second=None, reference=None, system="auto", pixel_size=None,
                 max_mb=None):
    """Turn what the user gave into the image to analyse: the one front end of the CLI, the batch and napari.

    A generator: it yields :data:`REFERENCE_STAGE`, :data:`REGISTER_STAGE` or
    :data:`PAIR_STAGE` as each begins and returns an :class:`AnalysisInput`
    (the ``value`` of ``StopIteration``; :func:`run_to_end` runs it through).

    Parameters
    ----------
    source : path, Image, hyperspy Signal2D or array, optional
        One image, or a stack of frames (registered, as a series is).
    series : Series, optional
        Frames to register and average (instead of `source`).
    second : path or Image, optional
        A second scan of the field at 90° scan rotation: the pair's drift is
        removed and their mean analysed (:func:`stemlayers.orthogonal_pair`).
    reference : path or Image, optional
        A bare TiN film: its TiN in-plane a becomes the strain reference.
    system, pixel_size, max_mb
        As for :func:`analyze` and :func:`stemlayers.load`.
    """
    reference_A = reference_err_A = None
    if reference is not None:
        yield REFERENCE_STAGE
        reference_A, reference_err_A = reference_from_image(load(reference, pixel_size, max_mb=max_mb),
                                                             system=system)
    if series is not None:
        yield REGISTER_STAGE
        image = register(series)
    elif source is None:
        image = None
    elif second is not None:
        image = load(source, pixel_size, max_mb=max_mb)
    else:
        image = load_or_register(source, pixel_size, max_mb=max_mb)
    if second is not None:
        yield PAIR_STAGE
        image = orthogonal_pair(image, load(second, pixel_size, max_mb=max_mb))
    return AnalysisInput(image, reference_A, reference_err_A)


def load_or_register(source, pixel_size=None, *, max_mb=None) -> Image:
    """One image from `source`: loaded, or, for a stack of frames (a time series), registered and averaged."""
    if isinstance(source, np.ndarray) and source.ndim == 3 and source.dtype.kind in "uif" and source.shape[-1] > 4:
        return register(load_series(source, pixel_size, max_mb=max_mb))
    try:
        return load(source, pixel_size, max_mb=max_mb)
    except StackError:
        return register(load_series(source, pixel_size, max_mb=max_mb))


def _candidate_systems(system) -> list:
    """The MaterialSystems to try: the one given (object, name or TOML path), or every known one for "auto"."""
    if isinstance(system, MaterialSystem):
        return [system]
    if system == "auto":
        return [load_system(name) for name in list_systems()]
    return [load_system(system)]


def with_lattice_factor(calibration: Calibration, field_scale: float, trial: float) -> Calibration:
    """`calibration` with the file's error the two lattices' periods imply, where the film is no standard.

    `field_scale` is the planes' periods over bulk at `trial` x the file's pixel size
    (:func:`stemlayers.structure.planes.field_scale`, searched within ±20 %: at that bound the file is at
    least that far off).
    """
    if calibration.inplane_scale is not None:
        return calibration
    return replace(calibration, lattice_factor=float(field_scale * trial),
                   lattice_factor_bound=at_search_bound(field_scale))


def _image_notes(image, separation_px, film_standard=False) -> list:
    """What the image says about itself: an implausible scale (unless a film measured it), an unusual unit spelling.

    `separation_px` is the image's own column spacing (``Columns.separation_px``).
    """
    notes = []
    hint = None if film_standard else scale_hint(separation_px, image.pixel_size_A)
    if hint:
        notes.append(hint)
    if image.metadata.get("units_read_as"):
        notes.append(image.metadata["units_read_as"])
    gaps = image.metadata.get("non_finite_pixels")
    if gaps:
        share = 100 * image.metadata.get("non_finite_share", 0.0)
        notes.append(f"{gaps} pixel(s) ({share:.1f} %) were NaN or infinite (the border of "
                     "an aligned or rotated export): filled with the image's median, no column is found there")
    return notes


def analyze_stages(path_or_image, system="auto", pixel_size=None, reference_A=None):
    """:func:`analyze` one stage at a time, for viewers that show progress and can stop.

    A generator: it yields the name of each stage (:data:`STAGES`) as the
    stage begins and returns the :class:`Report` (the ``value`` of
    ``StopIteration``). Closing it between stages abandons the analysis, so
    a GUI thread can cancel at the next stage boundary.

    Parameters
    ----------
    As for :func:`analyze`.

    Yields
    ------
    str
        The stage about to run.
    """
    start = time.perf_counter()
    yield STAGES[0]
    image = load_or_register(path_or_image, pixel_size)
    px = image.pixel_size_A
    yield STAGES[1]
    columns = find_columns(image)
    separation_px = columns.separation_px  # the image's own column spacing, for the scale hint
    candidates = _candidate_systems(system)
    messages = []
    yield STAGES[2]
    layerset = found = None
    chosen = candidates[0]
    scale = FieldScale(px, None)
    unfit = None  # why the field cannot be the system's, when nothing in it is found to be
    if len(columns) < 3:
        unfit = _too_few_columns(image)
        messages.append(unfit)
    else:
        yield STAGES[3]
        columns, layersets, found, scale = planes_and_system(image, columns, candidates)
        # the windows along the interface may show a system where the whole field's planes, mixing the parts
        # of an interface that changes along its length, show none
        found, windows, layersets = windows_of_the_system(columns, layersets, found, candidates,
                                                          scale.working_pixel_size_A, image.data.shape)
        chosen = found or candidates[0]
        layerset = layersets[chosen.name]
        if found is None:
            unfit = "the field matches no known material system (" + ", ".join(s.name for s in candidates) + ")"
            messages.append(unfit)
    # the film knows the true scale: a guess from the column spacing is for fields without one
    messages[:0] = _image_notes(image, separation_px, film_standard=scale.file_factor is not None)
    yield STAGES[4]
    source = PIXEL_SIZE_SOURCES.get(image.metadata.get("calibration", "file"), "file")
    calibration = Calibration(px, pixel_size_source=source)
    along = None
    if found is not None:
        messages.extend(layerset.messages)
        interface = classify(layerset, chosen, columns, scale.working_pixel_size_A)
        along = (follow_interface(windows, layerset, scale.working_pixel_size_A, chosen.substrate.plane_spacing_A)
                 if windows is not None else single_stretch(interface, columns, layerset, scale.working_pixel_size_A))
        interface = judge_along(interface, along)
        calibration = with_lattice_factor(layerset.calibration.measured_at(scale.working_pixel_size_A / px, px, source),
                                          layerset.field_scale, scale.working_pixel_size_A / px)
    else:
        interface = Interface(None, 0.0, [f"not decidable: {unfit}"])
    layers = list(planes_as_judged(layerset.layers, interface, found is not None)) if layerset else []
    # planes grouped across a step, or across a class boundary, look like blocks with planes missing
    cuts_px = [step.at_px for step in along.steps] + class_changes(along.segments) if along is not None else []
    if found is None:
        defects = ()
    elif cuts_px:
        defects = film_defects_between(columns, layerset, chosen, scale.working_pixel_size_A, cuts_px,
                                       image.data.shape)
    else:
        defects = film_defects(layers, chosen, layerset.plane_of_column, columns.xy, layerset.orientation.growth_dir)
    if found is None:
        strain = Strain.not_measured(interface.evidence[0])  # nothing of the field is TiN: no TiN number
    else:
        decidable = interface.interface_class is not None or interface.decided_by == "unmatched"
        reason = interface.evidence[0] if interface.evidence else None
        film_seen = any(L.material == "TI" and L.inplane_period_A for L in layers)
        if film_seen and calibration.inplane_scale is None:
            # a file calibration the film in the field does not confirm is no ground for a verdict
            decidable = False
            reason = ("no strain verdict: the film in the field could not serve as the length standard, and the "
                      "file's pixel size is not confirmed by it")
        strain = strain_along(check_strain(layers, chosen, reference_A, calibration, decidable=decidable,
                                           reason=reason), interface, along, chosen)
        if strain.tin_inplane_A is not None and not film_seen:
            messages.append(f"no film in the field: the TiN a rests on the pixel size {px:.4f} Å/px "
                            f"({calibration.pixel_size_source}), not on a film standard")
    messages.extend(note for note in (calibration.warning(), calibration.distortion_note()) if note)
    return Report(
        file=image.name, system=found.name if found is not None else None,
        pixel_size_A=px, n_columns=len(columns), seconds=time.perf_counter() - start,
        interface=interface, planes=tuple(layers), strain=strain, calibration=calibration,
        material_system=chosen if found is not None else None, messages=tuple(messages),
        series=SeriesInfo.from_dict(image.metadata["series"]) if image.metadata.get("series") else None,
        lattice=_raw_lattice(layers) if found is None else None, film_defects=defects,
        n_unassigned=layerset.n_unassigned if layerset else len(columns), image=image,
        columns=columns, plane_of_column=layerset.plane_of_column if layerset else np.full(len(columns), -1),
        growth_dir=layerset.orientation.growth_dir if layerset else None,
        origin_xy=layerset.origin_xy if layerset else None,
    )


#: Image.metadata["calibration"] -> the report's pixel_size_source.
PIXEL_SIZE_SOURCES = {"file": "file", "pixel_size argument": "--pixel-size", "fallback": "fallback"}


def _raw_lattice(planes) -> dict | None:
    """The ordered planes' periods and spacings in Å on the pixel size in use, for a field of no known system."""
    periods = [p.inplane_period_A for p in planes if p.material != "disordered" and p.inplane_period_A]
    spacings = [p.spacing_to_next_A for p in planes if p.spacing_to_next_A]
    if not periods:
        return None
    return {"inplane_period_A": float(np.median(periods)),
            "plane_spacing_A": float(np.median(spacings)) if spacings else None, "n_planes": len(periods),
            "note": "raw periods along the planes, on the pixel size in use (no known material system)"}


def _too_few_columns(image) -> str:
    """Why fewer than three columns were found, with the image's measured signal-to-noise ratio."""
    snr = signal_to_noise(image.data)
    if snr is None:
        return f"{TOO_FEW_COLUMNS}: nothing to analyse (the image holds no lattice)"
    return (f"{TOO_FEW_COLUMNS}: nothing to analyse (the image's signal-to-noise ratio is "
            f"{snr:.2f}: the contrast at the column width over the pixel noise"
            + (", too weak to find columns)" if snr < 1.0 else ")"))


def reference_from_image(source, system="auto", pixel_size=None) -> tuple[float, float]:
    """The TiN in-plane a of a bare TiN film image, analysed the same way: the seed's strain reference.

    Parameters
    ----------
    source : path, Image, hyperspy Signal2D or array (with `pixel_size`)
    system, pixel_size
        As for :func:`analyze`.

    Returns
    -------
    (float, float)
        The in-plane a in Å and its 1σ uncertainty.

    Raises
    ------
    InputError
        When the image has no ordered TiN planes (the message names it).
    """
    report = analyze(source, system=system, pixel_size=pixel_size)
    value = report.strain.tin_inplane_A
    if value is None:
        name = (report.image.path if report.image is not None else None) or report.file
        raise InputError(f"{name}: no ordered TiN planes found, cannot serve as the strain reference")
    return value, report.strain.tin_inplane_err_A
