"""The interface class: BiX bilayer, direct van der Waals contact, deteriorated, or not decidable.

Three plain steps:

1. :func:`measure_cues` reads every cue off the planes into a frozen
   :class:`Cues`: whether the field shows the system at all (the substrate's
   one-third stacking and plane spacing, the film's quintuple layers, the
   film/substrate period ratio) and what lies between the top complete
   substrate plane and the first quintuple layer;
2. :func:`decide` walks a small decision table (:data:`RULES`): the first
   rule whose test holds gives the class, or None with its reason;
3. :func:`evidence` writes the cues as sentences with their numbers.

A verdict is earned: a field that does not show the system's structure, or
whose interface fits no class, gets class None with the reason. Thresholds
live in the system's TOML (``[classify]``, ``[bilayer]``, ``[vdw]``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..io.jsonable import from_saved
from ..io.units import format_value
from ..materials import MaterialSystem
from ..structure.grouping import LayerSet
from .identify import StructureCues, structure_cues
from .stretch import Segment, Step

__all__ = ["Cues", "Interface", "RULES", "classify", "decide", "evidence", "measure_cues", "planes_as_judged"]


@dataclass(frozen=True)
class Interface:
    """The verdict on the interface (the Report's ``interface``)."""

    interface_class: str | None  # "bilayer" | "vdw" | "deteriorated" | "mixed" | None (not decidable)
    confidence: float
    evidence: list = field(default_factory=list)
    gap_A: float | None = None
    gap_err_A: float | None = None
    n_interface_planes: int | None = None
    unassigned_fraction: float | None = None
    band_thickness_A: float | None = None
    gap_note: str | None = None
    decided_by: str | None = None  # the rule of the decision table that gave the verdict
    band_thickness_err_A: float | None = None
    # along the interface (:mod:`.segments`): fraction of its length per class, segments, terrace steps
    coverage: dict | None = None
    coverage_err: dict | None = None
    segments: tuple = ()
    steps: tuple = ()

    @property
    def varies_along(self) -> bool:
        """Whether the interface is more than one stretch along its length: segments or terrace steps."""
        return len(self.segments) > 1 or bool(self.steps)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["class"] = d.pop("interface_class")
        d["segments"] = [s.to_dict() for s in self.segments]
        d["steps"] = [s.to_dict() for s in self.steps]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Interface:
        """The verdict of a saved report's ``interface``."""
        saved = from_saved(cls, d, {"class": "interface_class"})
        return replace(saved, segments=tuple(Segment.from_dict(s) for s in d.get("segments") or ()),
                       steps=tuple(Step.from_dict(s) for s in d.get("steps") or ()))


@dataclass(frozen=True)
class Cues(StructureCues):
    """Everything the verdict rests on, measured on one LayerSet (lengths in Å).

    The structure cues (:class:`~stemlayers.verdict.identify.StructureCues`: is it the system at all?) and
    those of the interface between the top TiN plane and the first QL.
    """

    top: int | None
    first_ql: int | None
    n_between: int = 0
    n_disordered_between: int = 0
    unassigned_fraction: float | None = None
    n_band_columns: int = 0
    top_scatter_A: float | None = None
    below_scatter_A: float | None = None
    rough: bool = False
    gap_A: float | None = None
    gap_err_A: float | None = None
    first_element: str | None = None
    first_probability: float | None = None
    second_element: str | None = None
    second_probability: float | None = None
    bright_ratio: float | None = None
    bilayer_thickness_A: float | None = None
    bilayer_thickness_err_A: float | None = None
    band_thickness_A: float | None = None
    band_thickness_err_A: float | None = None
    substrate_seen: float | None = None  # median occupancy of the top substrate planes
    n_partial_substrate_between: int = 0  # disordered planes between that continue the substrate lattice


def _agreement(value, expected, tolerance):
    """1 when `value` is the expected one, falling off as a Gaussian over the tolerance."""
    return float(np.exp(-0.5 * ((value - expected) / tolerance) ** 2))


def _band_disorder(layerset: LayerSet, columns, pixel_size_A, low_A, high_A, min_amplitude):
    """Fraction of the columns between two heights that belong to no ordered plane."""
    if columns is None or layerset.origin_xy is None or not len(columns):
        return None, 0
    scale = layerset.calibration.height_scale if layerset.calibration else 1.0
    height = (columns.xy - layerset.origin_xy) @ layerset.orientation.growth_dir * pixel_size_A / scale
    band = (height > low_A) & (height < high_A) & (columns.amplitude >= min_amplitude)
    if not band.any():
        return 0.0, 0
    plane = layerset.plane_of_column[band]
    ordered = np.array([L.material != "disordered" for L in layerset.layers], bool)
    in_ordered = (plane >= 0) & ordered[np.clip(plane, 0, None)]
    return float(np.mean(~in_ordered)), int(band.sum())


def measure_cues(layerset: LayerSet, system: MaterialSystem, columns=None, pixel_size_A=None) -> Cues:
    """Every cue of the verdict, measured on the planes.

    Parameters
    ----------
    layerset : LayerSet
    system : MaterialSystem
    columns : Columns, optional
        With `pixel_size_A`, lets the columns in no plane near the interface count.
    pixel_size_A : float, optional

    Returns
    -------
    Cues
    """
    structure = structure_cues(layerset, system)
    layers, top = layerset.layers, layerset.top_tin
    first_ql = layerset.film_start  # the film's first block: its first QL, or a septuple lamella below it
    if top is None or first_ql is None or top + 1 >= len(layers):
        return Cues(**asdict(structure), top=top, first_ql=first_ql)
    rules = system.classify
    between = layers[top + 1:first_ql]
    ti_level = np.median([L.intensity for L in layers if L.element == system.substrate.metal])
    high = layers[first_ql].height_A
    unassigned, n_band = (_band_disorder(layerset, columns, pixel_size_A, 0.8, high - 0.8,
                                         rules.faint_fraction * ti_level) if pixel_size_A else (None, 0))
    below = [L.scatter_A for L in layers[:top] if L.element == system.substrate.metal]
    top_scatter = layers[top].scatter_A
    rough = bool(below) and top_scatter > max(rules.rough_ratio * np.median(below), rules.min_rough_scatter_A)
    metal_planes = [L for L in layers[:top + 1] if L.element == system.substrate.metal]
    first = layers[top + 1]
    second = layers[top + 2] if top + 2 < len(layers) else None
    thickness = first.spacing_to_next_A if len(between) >= 2 else None
    return Cues(
        **asdict(structure), top=top, first_ql=first_ql, n_between=len(between),
        n_disordered_between=sum(L.material == "disordered" for L in between),
        unassigned_fraction=unassigned,
        n_band_columns=n_band, top_scatter_A=top_scatter,
        below_scatter_A=float(np.median(below)) if below else None, rough=rough,
        gap_A=layers[top].spacing_to_next_A, gap_err_A=layers[top].spacing_err_A,
        first_element=first.element, first_probability=first.element_probability,
        second_element=second.element if second else None,
        second_probability=second.element_probability if second else None,
        bright_ratio=(first.integrated_intensity / second.integrated_intensity
                      if second and first.integrated_intensity and second.integrated_intensity else None),
        bilayer_thickness_A=thickness, bilayer_thickness_err_A=first.spacing_err_A if thickness else None,
        band_thickness_A=float(high - layers[top].height_A),
        band_thickness_err_A=float(np.hypot(layers[first_ql].height_err_A, layers[top].height_err_A)),
        substrate_seen=float(np.median([L.occupancy for L in metal_planes[-3:]])) if metal_planes else None,
        n_partial_substrate_between=_substrate_continued(layers, top, first_ql, metal_planes,
                                                         structure.substrate_spacing_A))


def _substrate_continued(layers, top, first_ql, metal_planes, spacing_A, tolerance=0.05, scatter_ratio=1.5):
    """How many disordered planes between the top substrate plane and the first QL continue the substrate lattice.

    Such a plane sits a whole number of substrate spacings above the last
    such plane or the top one (within `tolerance` of a spacing), has the substrate's in-plane period
    (within 3 %) and is no rougher than `scatter_ratio` x the substrate planes:
    substrate seen in part, not a band of other material.
    """
    periods = [L.inplane_period_A for L in metal_planes if L.inplane_period_A]
    scatters = [L.scatter_A for L in metal_planes if L.scatter_A is not None]
    if not spacing_A or not periods or not scatters:
        return 0
    period, scatter = float(np.median(periods)), float(np.median(scatters))
    count, last_A = 0, layers[top].height_A
    for plane in layers[top + 1:first_ql]:
        if plane.material != "disordered":
            continue
        steps = (plane.height_A - last_A) / spacing_A
        continued = bool(round(steps) >= 1 and abs(steps - round(steps)) <= tolerance
                         and plane.inplane_period_A and abs(plane.inplane_period_A / period - 1) <= 0.03
                         and plane.scatter_A is not None and plane.scatter_A <= scatter_ratio * scatter)
        count += continued
        last_A = plane.height_A if continued else last_A
    return count


# ----------------------------------------------------------------------------- the decision table


def _disorder_votes(c: Cues, s: MaterialSystem) -> int:
    """How many independent cues show disorder between the substrate and the film."""
    # a share of loose columns, and enough of them: one stray column is no disordered band
    loose = (c.unassigned_fraction is not None and c.unassigned_fraction > s.classify.max_unassigned_fraction
             and c.unassigned_fraction * c.n_band_columns >= s.classify.min_loose_columns)
    return int(c.n_disordered_between > 0) + int(c.rough) + int(loose)


def _disordered(c: Cues, s: MaterialSystem) -> bool:
    """Disorder between the substrate and the film: disordered planes or loose columns there, or a rough top
    substrate plane under planes that fit no ordered interface. An ordered bilayer, or a quintuple layer
    across a vdW gap, over a rough top plane is that interface ("deteriorated" is no ordered bilayer and a
    disordered interface region; a vdW contact forms on rough TiN too): its top plane reads rough from the
    tails of the bright film columns just above it as well as from a rough surface."""
    band = _disorder_votes(c, s) - int(c.rough)
    return band > 0 or (c.rough and not (_vdw(c, s) or _bilayer(c, s)))


def _sure(probability, s):
    return probability is not None and probability >= s.classify.min_element_probability


def _vdw(c: Cues, s: MaterialSystem) -> bool:
    return (c.n_between == 0 and c.first_element == s.film.ql_elements[0] and _sure(c.first_probability, s)
            and abs(c.gap_A - s.vdw.tin_gap_A) <= s.vdw.tolerance_A)


def _bilayer(c: Cues, s: MaterialSystem) -> bool:
    return (c.n_between == 2 and c.first_element == s.film.metal and _sure(c.first_probability, s)
            and c.second_element == s.film.ql_elements[0] and _sure(c.second_probability, s))


#: The decision table: (name, test on the cues, class or None, reason when None). The first rule that holds wins.
RULES = (
    ("foreign", lambda c, s: not (c.substrate_fits or c.film_fits), None,
     "the field does not show {substrate} or {film}"),
    ("no substrate", lambda c, s: not c.substrate_fits, None,
     "no ordered {substrate} substrate in the field"),
    ("no film", lambda c, s: not c.film_fits, None,
     "no ordered {film} quintuple layer above the {substrate}"),
    ("period ratio", lambda c, s: not c.ratio_fits, None,
     "the film/substrate period ratio does not fit {system}"),
    # an interface band is a few planes, mostly disordered: more ordered planes below the first QL found by
    # shape than two QLs hold are film whose QLs were not recognised, not evidence of any interface class
    ("film unrecognised", lambda c, s: c.n_between - c.n_disordered_between > 2 * len(s.film.ql_elements), None,
     "more ordered planes lie between the {substrate} and the first quintuple layer recognised than two QLs "
     "hold: the film there is not recognised"),
    # partial planes that continue the TiN lattice above TiN that is itself found only in part may be TiN
    # too faint to find (a thin or dim substrate): no ground for calling the interface rough
    ("substrate seen in part", lambda c, s: (
        c.n_disordered_between > 0 and c.n_partial_substrate_between == c.n_disordered_between and not c.rough
        and c.substrate_seen is not None and c.substrate_seen < s.classify.min_seen_substrate), None,
     "the top {substrate} planes are found only in part, and the partial planes above them continue the "
     "{substrate} lattice: they may be {substrate} too faint to find, so a rough interface cannot be told from a "
     "faint substrate"),
    ("deteriorated", _disordered, "deteriorated", ""),
    ("vdw", _vdw, "vdw", ""),
    ("bilayer", _bilayer, "bilayer", ""),
    ("unmatched", lambda c, s: True, None,
     "the ordered planes between {substrate} and the first quintuple layer fit no interface class"),
)


def decide(cues: Cues, system: MaterialSystem):
    """The first rule of :data:`RULES` that holds: (rule name, class or None, reason)."""
    names = dict(substrate=system.substrate.name, film=system.film.name, system=system.name)
    for name, test, klass, reason in RULES:
        if test(cues, system):
            return name, klass, reason.format(**names)
    raise AssertionError("the last rule always holds")  # pragma: no cover


def _confidence(rule, c: Cues, s: MaterialSystem) -> float:
    """How sure: the more independent cues agree, the nearer 1."""
    if rule == "deteriorated":
        return min(0.55 + 0.12 * _disorder_votes(c, s) + 0.05 * (c.n_quintuples > 1), 0.97)
    if rule == "vdw":
        return 0.55 + 0.3 * _agreement(c.gap_A, s.vdw.tin_gap_A, s.vdw.tolerance_A) + 0.1 * (c.n_quintuples > 1)
    if rule == "bilayer":
        bright = c.bright_ratio is not None and c.bright_ratio >= s.classify.bright_ratio
        return (0.55 + 0.2 * bright + 0.1 * (c.n_quintuples > 1)
                + 0.15 * _agreement(c.bilayer_thickness_A, s.bilayer.spacing_A, s.bilayer.tolerance_A))
    return 0.0


def evidence(cues: Cues, system: MaterialSystem, rule: str) -> list:
    """The cues as sentences with their numbers, in the system's own names."""
    c, s = cues, system
    sub, film = s.substrate.name, s.film.name
    out = []

    def pct(x):
        return "n/a" if x is None else f"{100 * x:.0f} %"
    out.append(f"{c.n_substrate} ordered {sub} plane(s) at and below the top complete one"
               + (f", {pct(c.substrate_stacking)} of neighbours shifted by a third of a period (ABC stacking)"
                  if c.substrate_stacking is not None else "")
               + (f", {c.substrate_spacing_A:.3f} Å apart (bulk d(111) {s.substrate.plane_spacing_A:.3f} Å)"
                  if c.substrate_spacing_A is not None else ""))
    out.append(f"{c.n_quintuples} {film} quintuple layer(s) found by their d1 d2 d2 d1 spacings and brightness, "
               f"{c.n_film} film plane(s)"
               + (f", {pct(c.film_stacking)} of neighbours shifted by a third" if c.film_stacking is not None else ""))
    if c.period_ratio is not None:
        out.append(f"film/{sub} in-plane period ratio {c.period_ratio:.3f} ({s.name}: {s.inplane_ratio:.3f})")
    if c.top is None or c.first_ql is None:
        return out
    out.append(f"{c.n_between} plane(s) between the top {sub} plane and the first complete quintuple layer"
               + (f" ({c.n_disordered_between} disordered or partial)" if c.n_disordered_between else ""))
    if c.unassigned_fraction is not None and c.n_band_columns:
        out.append(f"{100 * c.unassigned_fraction:.0f} % of the {c.n_band_columns} columns between {sub} and the "
                   f"first QL belong to no ordered plane (limit {100 * s.classify.max_unassigned_fraction:.0f} %)")
    if c.top_scatter_A is not None:
        out.append(f"top complete {sub} plane: scatter {100 * c.top_scatter_A:.1f} pm"
                   + (f" ({c.top_scatter_A / max(c.below_scatter_A, 1e-6):.1f}x the {sub} planes below)"
                      if c.below_scatter_A else ""))
    if rule == "deteriorated":
        band = format_value(c.band_thickness_A, c.band_thickness_err_A)
        out.append(f"a disordered band {band} thick between the top complete {sub} plane and "
                   "the first ordered quintuple layer: no gap is defined")
    elif c.n_between == 0 and c.gap_A is not None:
        out.append(f"the first QL's {c.first_element} plane (p = {c.first_probability or 0:.2f}) sits on {sub} "
                   f"across a gap of {format_value(c.gap_A, c.gap_err_A)} (file: {s.vdw.tin_gap_A:.2f} ± "
                   f"{s.vdw.tolerance_A:.2f} Å for a vdW contact)")
    elif c.n_between >= 2 and c.gap_A is not None:
        bright = c.bright_ratio is not None and c.bright_ratio >= s.classify.bright_ratio
        out.append(f"first plane above {sub} at {format_value(c.gap_A, c.gap_err_A)} is {c.first_element} "
                   f"(p = {c.first_probability or 0:.2f}), "
                   f"{s.film.metal + '-bright' if bright else 'not ' + s.film.metal + '-bright'} ({c.bright_ratio or 0:.1f}x the next plane)")
        if c.bilayer_thickness_A is not None:
            outside = abs(c.bilayer_thickness_A - s.bilayer.spacing_A) > s.bilayer.tolerance_A
            out.append(f"bilayer thickness {format_value(c.bilayer_thickness_A, c.bilayer_thickness_err_A)} (file: "
                       f"{s.bilayer.spacing_A:.2f} ± {s.bilayer.tolerance_A:.2f} Å" + (", outside" if outside else "")
                       + ")")
    return out


def classify(layerset: LayerSet, system: MaterialSystem, columns=None, pixel_size_A=None) -> Interface:
    """Decide the interface class from the planes, with a confidence and the evidence.

    Parameters
    ----------
    layerset : LayerSet
    system : MaterialSystem
    columns : Columns, optional
        With `pixel_size_A`, lets the columns in no plane near the interface count.
    pixel_size_A : float, optional

    Returns
    -------
    Interface
        Class None ("not decidable") with the reason first in the evidence
        when the field does not show the system or its interface fits no class.
    """
    cues = measure_cues(layerset, system, columns, pixel_size_A)
    rule, klass, reason = decide(cues, system)
    sentences = evidence(cues, system, rule)
    if klass is None:
        messages = "; ".join(layerset.messages)
        return Interface(None, 0.0, [f"not decidable: {reason}" + (f" ({messages})" if messages else "")]
                         + sentences, cues.gap_A, cues.gap_err_A, cues.n_between if cues.first_ql else None,
                         cues.unassigned_fraction, cues.band_thickness_A, None, rule, cues.band_thickness_err_A)
    gap, gap_err, note = cues.gap_A, cues.gap_err_A, None
    if klass == "deteriorated":
        gap = gap_err = None
        note = "no gap: a disordered band separates the substrate from the film (see band_thickness_A)"
    return Interface(klass, round(_confidence(rule, cues, system), 3), sentences, gap, gap_err, cues.n_between,
                     cues.unassigned_fraction, cues.band_thickness_A, note, rule, cues.band_thickness_err_A)


def planes_as_judged(planes, interface: Interface, system_found: bool) -> tuple:
    """The planes named as the verdict has it.

    Film-period planes between TiN and the first QL are a bilayer only when
    the class is "bilayer"; otherwise they belong to the interface band
    ("disordered"). In a field of no known system nothing is TiN or film:
    ordered planes are "plane", with no element.

    Parameters
    ----------
    planes : sequence of AtomicPlane
    interface : Interface
    system_found : bool

    Returns
    -------
    tuple of AtomicPlane
    """
    if not system_found:
        return tuple(replace(p, material="plane" if p.material != "disordered" else p.material, element=None,
                             element_probability=None) for p in planes)
    if interface.interface_class == "bilayer" or (interface.interface_class == "mixed"
                                                  and "bilayer" in (interface.coverage or {})):
        return tuple(planes)
    return tuple(replace(p, material="disordered") if p.material == "bilayer" else p for p in planes)
