"""Records of the interface along its length: a stretch of one class (:class:`Segment`) and a terrace :class:`Step`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ..io.jsonable import from_saved

__all__ = ["NOT_DECIDABLE", "Segment", "Step"]

#: The coverage key and segment class of a stretch of interface with no verdict.
NOT_DECIDABLE = "not decidable"


@dataclass(frozen=True)
class Segment:
    """A stretch of interface of one class (the Report's ``interface.segments[i]``)."""

    start_px: tuple
    end_px: tuple
    length_A: float
    interface_class: str  # "bilayer" | "vdw" | "deteriorated" | "not decidable"
    confidence: float
    evidence: tuple
    gap_A: float | None
    gap_err_A: float | None = None  # the windows' typical gap uncertainty (they overlap: not averaged down)
    tin_inplane_A: float | None = None  # on the segment's own film standard, where its windows hold TiN
    tin_inplane_err_A: float | None = None
    #: (height_A, spacing_A, spacing_err_A) of the planes over the segment, heights above its own top TiN
    #: plane: the segment's interlayer-spacing profile
    spacing_profile: tuple = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["class"] = d.pop("interface_class")
        d["evidence"] = list(self.evidence)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Segment:
        s = from_saved(cls, d, {"class": "interface_class"})
        return replace(s, start_px=tuple(s.start_px), end_px=tuple(s.end_px), evidence=tuple(s.evidence),
                       spacing_profile=tuple(tuple(row) for row in s.spacing_profile))


@dataclass(frozen=True)
class Step:
    """A terrace step of the TiN surface (the Report's ``interface.steps[i]``)."""

    at_px: tuple
    height_planes: int
    height_A: float
    at_err_A: float | None = None  # along the interface: a step under a deteriorated stretch is placed loosely

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Step:
        s = from_saved(cls, d)
        return replace(s, at_px=tuple(s.at_px))
