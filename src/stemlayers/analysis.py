"""``analyze``: one image, end to end, into a Report.

load -> find_columns -> growth_axis -> group_layers -> check_strain -> Report.
The Report is a frozen dataclass whose ``to_dict()`` follows the contract in
the design notes; it also carries the arrays a viewer or a figure needs
(image, column positions, plane of each column, orientation), which are not
serialised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ._json import to_jsonable
from .classify import Interface, classify
from .columns import Columns, find_columns
from .errors import InputError
from .io import Image, load
from .layers import LayerSet, group_layers
from .materials import MaterialSystem, list_systems, load_system
from .orient import growth_axis
from .strain import check_strain

__all__ = ["STAGES", "Report", "analyze", "analyze_stages", "detect_system", "reference_from_image",
           "run_to_end"]


@dataclass(frozen=True, eq=False)
class Report:
    """Everything the analysis of one image found. ``to_dict()`` is the JSON contract."""

    file: str
    system: str
    pixel_size_A: float
    n_columns: int
    seconds: float
    interface: dict
    layers: list
    strain: dict
    messages: list = field(default_factory=list)
    n_unassigned: int = 0
    # arrays for figures and viewers (not serialised)
    image: Image | None = None
    columns: Columns | None = None
    plane_of_column: np.ndarray | None = None
    growth_dir: np.ndarray | None = None
    origin_xy: np.ndarray | None = None

    @property
    def columns_xy(self):
        return None if self.columns is None else self.columns.xy

    def to_dict(self) -> dict:
        """JSON-serialisable dictionary with the contract's keys."""
        return to_jsonable({
            "file": self.file, "system": self.system, "pixel_size_A": self.pixel_size_A,
            "n_columns": self.n_columns, "n_unassigned": self.n_unassigned, "seconds": self.seconds,
            "interface": self.interface, "layers": self.layers, "strain": self.strain,
            "messages": self.messages,
            "growth_dir": None if self.growth_dir is None else list(self.growth_dir),
        })


def detect_system(layerset: LayerSet, candidates: list[MaterialSystem]) -> MaterialSystem:
    """The material system whose film fits the measured planes best.

    Four cues, each scored as a squared distance over its own spread: the
    spacings between neighbouring film planes against the film's own (X-Bi,
    Bi-X, vdW gap: 1.75/2.04/2.60 Å for Bi2Te3, 1.55/1.93/2.58 Å for Bi2Se3),
    the chalcogen-to-Bi brightness ratio (needs neither calibration nor an
    unstrained substrate: ~0.45 for Te, ~0.22 for Se), the film-to-TiN period
    ratio (no calibration, but TiN strain shifts it: 1.463 vs 1.382), and the
    film's own period (needs the calibration).
    """
    film = [L for L in layerset.layers if L.material in ("TI", "bilayer") and L.inplane_period_A]
    tin = [L.inplane_period_A for L in layerset.layers if L.material == "TiN" and L.inplane_period_A]
    bi = [L.intensity for L in film if L.element == "Bi"]
    other = [L.intensity for L in film if L.element not in ("Bi", None)]
    period = np.median([L.inplane_period_A for L in film]) if film else None
    # spacings between neighbouring film planes: each should be one of the film's own (X-Bi, Bi-X, vdW)
    inside = [a.spacing_to_next_A for a, b in zip(layerset.layers[:-1], layerset.layers[1:])
              if a.material == "TI" and b.material == "TI"]

    def score(s):
        total = 0.0
        if inside:
            own = np.array(list(s.film.ql_spacings_A) + [s.film.vdw_gap_A])
            miss = np.min(np.abs(np.asarray(inside)[:, None] - own[None, :]), axis=1)
            total += len(miss) * (np.median(miss) / 0.05) ** 2
        chalcogen = s.film.ql_elements[0]
        if bi and other:
            expected = s.intensity(chalcogen) / s.intensity("Bi")
            total += (np.log(np.median(other) / np.median(bi) / expected) / 0.25) ** 2
        if period and tin:
            total += (np.log(period / np.median(tin) / s.inplane_ratio) / 0.025) ** 2
        if period:
            total += (np.log(period / s.film.projected_period_A) / 0.03) ** 2
        return total

    return min(candidates, key=score)


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
    image = load(path_or_image, pixel_size)
    px = image.pixel_size_A
    yield STAGES[1]
    columns = find_columns(image)
    if isinstance(system, MaterialSystem):
        candidates = [system]
    elif system == "auto":
        candidates = [load_system(name) for name in list_systems()]
    else:
        candidates = [load_system(system)]
    messages = []
    yield STAGES[2]
    if len(columns) < 3:
        chosen = candidates[0]
        layerset = None
        messages.append("fewer than three atomic columns found: nothing to analyse")
    else:
        periods = sorted({p for s in candidates for p in (s.substrate.projected_period_A,
                                                           s.film.projected_period_A)})
        orientation = growth_axis(columns.xy, columns.amplitude, px, periods)
        yield STAGES[3]
        layerset = group_layers(columns, orientation, candidates[0], px)
        chosen = detect_system(layerset, candidates) if len(candidates) > 1 else candidates[0]
        if chosen is not candidates[0]:
            layerset = group_layers(columns, orientation, chosen, px)
        messages.extend(layerset.messages)
    yield STAGES[4]
    layers = list(layerset.layers) if layerset else []
    strain = check_strain(layers, chosen, reference_A)
    return Report(
        file=image.name, system=chosen.name, pixel_size_A=px, n_columns=len(columns),
        seconds=time.perf_counter() - start,
        interface=(classify(layerset, chosen, columns, px) if layerset
                   else Interface(None, 0.0, [f"not decidable: {messages[0]}"])).to_dict(),
        layers=[L.to_dict() for L in layers], strain=strain.to_dict(), messages=messages,
        n_unassigned=layerset.n_unassigned if layerset else len(columns), image=image, columns=columns,
        plane_of_column=layerset.plane_of_column if layerset else np.full(len(columns), -1),
        growth_dir=layerset.orientation.growth_dir if layerset else None,
        origin_xy=layerset.origin_xy if layerset else None,
    )


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
    value = report.strain["tin_inplane_A"]
    if value is None:
        name = (report.image.path if report.image is not None else None) or report.file
        raise InputError(f"{name}: no ordered TiN planes found, cannot serve as the strain reference")
    return value, report.strain["tin_inplane_err_A"]
