"""Ground truth of a simulated image, and the files that carry it (``NAME.truth.json``)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SimulatedImage", "Truth", "load_truth", "truth_path", "whole_class", "write_simulation"]

# dtypes of the array fields, so that empty lists read back as arrays of the right kind
_ARRAY_DTYPES = {
    "x_px": float, "y_px": float, "u_A": float, "v_A": float, "element": str, "plane": int, "weight": float,
    "plane_height_A": float, "plane_element": str, "plane_material": str, "plane_period_A": float,
    "corrupted_rows": int, "corrupted_kind": str,
}


@dataclass(frozen=True)
class Truth:
    """Ground truth of a simulated image.

    Column arrays are in image order (x = column, y = row in pixels) and in
    specimen coordinates (u along the interface, v = height above the top Ti
    plane, Å). `plane` indexes `planes` (ordered from the substrate upwards),
    -1 for columns of the disordered band and of foreign lattices.

    A field without a TI/TiN interface (see :mod:`.fields`) has
    ``interface = None``; ``system`` is None for a foreign lattice or random
    atoms; the strain and in-plane parameters are None for a material not in
    the field; ``top_tin_plane`` is -1 when the top TiN plane is not in the
    field; `planes` may be empty.
    """

    system: str | None
    interface: str | None
    pixel_size_A: float
    shape: tuple[int, int]
    tin_strain_pct: float | None
    tin_inplane_A: float | None
    film_inplane_A: float | None
    growth_dir: tuple[float, float]
    top_tin_plane: int
    x_px: np.ndarray
    y_px: np.ndarray
    u_A: np.ndarray
    v_A: np.ndarray
    element: np.ndarray
    plane: np.ndarray
    weight: np.ndarray
    plane_height_A: np.ndarray
    plane_element: np.ndarray
    plane_material: np.ndarray
    plane_period_A: np.ndarray
    params: dict = dataclasses.field(default_factory=dict)
    field: str = "interface"
    corrupted_rows: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, int))
    corrupted_kind: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, str))
    segments: list = dataclasses.field(default_factory=list)
    steps: list = dataclasses.field(default_factory=list)
    film_defects: list = dataclasses.field(default_factory=list)

    @property
    def coverage(self) -> dict:
        """Fraction of the interface length in the field per class ({} without segments)."""
        total = sum(s["length_A"] for s in self.segments)
        out = {}
        for s in self.segments:
            out[s["class"]] = out.get(s["class"], 0.0) + s["length_A"] / total
        return out

    @property
    def xy(self) -> np.ndarray:
        """(N, 2) column positions (x, y) in pixels."""
        return np.column_stack([self.x_px, self.y_px])

    @property
    def origin_plane(self) -> int:
        """Index of the top *complete, ordered* TiN plane: height 0 of the analysis (-1 if not in the field).

        It is the top Ti plane, except at a deteriorated interface, whose top
        roughened Ti planes (and the N planes between them) belong to the
        interface band.
        """
        if self.top_tin_plane < 0 or self.interface != "deteriorated":
            return self.top_tin_plane
        from ..materials import load_system

        below = self.top_tin_plane - 2 * load_system(self.system).deteriorated.roughened_tin_planes
        return below if below >= 0 and self.plane_element[below] != "N" else -1

    def visible(self, min_intensity: float = 0.5) -> np.ndarray:
        """Mask of columns at least `min_intensity` x a Ti column (Ti and heavier)."""
        return self.weight >= min_intensity

    def to_dict(self) -> dict:
        """JSON-serialisable dictionary (lists of plain numbers and strings; None kept)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
        out["shape"] = list(self.shape)
        out["growth_dir"] = list(self.growth_dir)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Truth:
        """Inverse of :meth:`to_dict` (keys added since a file was written take their defaults)."""
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    kwargs[f.name] = None
                continue
            value = data[f.name]
            if f.name in _ARRAY_DTYPES and value is not None:
                value = np.asarray(value, dtype=_ARRAY_DTYPES[f.name])
            kwargs[f.name] = value
        kwargs["shape"] = tuple(data["shape"])
        kwargs["growth_dir"] = tuple(data["growth_dir"])
        kwargs["params"] = data.get("params", {})
        return cls(**kwargs)


def whole_class(segments, majority=0.8) -> str:
    """The class of the whole interface: the one covering at least `majority` of its length, else "mixed"."""
    total = sum(s["length_A"] for s in segments)
    length = {}
    for s in segments:
        length[s["class"]] = length.get(s["class"], 0.0) + s["length_A"]
    best = max(length, key=length.get)
    return best if length[best] >= majority * total else "mixed"


@dataclass(frozen=True)
class SimulatedImage:
    """A simulated image (counts, float32), its pixel size and its ground truth."""

    data: np.ndarray
    pixel_size_A: float
    truth: Truth
    seconds: float = 0.0


def truth_path(image_path: str | Path) -> Path:
    """Where the truth of a simulated image file lives: ``NAME.truth.json`` beside it."""
    image_path = Path(image_path)
    return image_path.with_name(image_path.name.split(".")[0] + ".truth.json")


def write_simulation(sim: SimulatedImage, path: str | Path, units: str = "Å") -> Path:
    """Write a simulated image as a calibrated file (format from the suffix) and its truth JSON."""
    from ..io.write import save, write_json

    path = Path(path)
    # no "/" in the title: NCEM EMD uses it as an HDF5 group name
    what = (f"{sim.truth.system.replace('/', ' on ')} " if sim.truth.system else "") + (
        f"{sim.truth.interface} interface" if sim.truth.interface else f"{sim.truth.field} field")
    meta = {"title": f"simulated {what}", "instrument": "stemlayers simulator", "voltage_kV": 300.0}
    save(sim.data, path, sim.pixel_size_A, metadata=meta, units=units)
    write_json(sim.truth.to_dict(), truth_path(path))
    return path


def load_truth(path: str | Path) -> Truth:
    """Read the truth JSON of a simulated image (give the image or the JSON path)."""
    path = Path(path)
    if not path.name.endswith(".truth.json"):
        path = truth_path(path)
    return Truth.from_dict(json.loads(path.read_text()))
