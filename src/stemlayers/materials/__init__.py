"""Material systems as data.

Every number that describes a heterostructure (lattice parameters, plane
spacings, the quintuple-layer motif, the interface models, relative column
intensities and the strain criterion) lives in one TOML file per system.
The bundled systems sit beside this module; users add their own by dropping
a TOML file into a folder named in the ``STEMLAYERS_MATERIALS`` environment
variable (several folders separated by ``os.pathsep``) or into the user
config folder ``platformdirs.user_config_dir("stemlayers")/materials``.

A file is checked against the dataclasses below when it is loaded: a missing,
mistyped or implausible key raises :class:`MaterialsError` naming the file and
the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "MaterialSystem",
    "MaterialsError",
    "list_systems",
    "load_system",
    "system_folders",
]

BUNDLED_DIR = Path(__file__).parent
ENV_VAR = "STEMLAYERS_MATERIALS"


class MaterialsError(InputError):
    """A material-system file that is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Substrate:
    """The superconducting rock-salt substrate, seen along <1-10>."""

    name: str
    metal: str
    anion: str
    lattice_a_A: float
    plane_spacing_A: float
    inplane_a_A: float
    projected_period_A: float
    beam_spacing_A: float
    stacking_step: float
    anion_offset: float
    poisson_ratio: float = 0.25


@dataclass(frozen=True)
class Film:
    """The layered topological insulator, seen along <2-1-10>."""

    name: str
    lattice_a_A: float
    lattice_c_A: float
    projected_period_A: float
    beam_spacing_A: float
    stacking_step: float
    ql_elements: tuple[str, ...]
    ql_spacings_A: tuple[float, ...]
    vdw_gap_A: float
    ql_period_A: float

    @property
    def metal(self) -> str:
        """The quintuple layer's heavy metal (its 2nd and 4th planes: Bi in Bi2Te3, Sb in Sb2Te3)."""
        return self.ql_elements[1]

    @property
    def chalcogen(self) -> str:
        """The quintuple layer's outer element (Te, Se)."""
        return self.ql_elements[0]


@dataclass(frozen=True)
class Bilayer:
    """The cubic BiX bilayer between TiN and the first quintuple layer."""

    elements: tuple[str, ...]
    tin_gap_A: float
    spacing_A: float
    ql_gap_A: float
    tolerance_A: float
    projected_period_A: float


@dataclass(frozen=True)
class VdwContact:
    """The first quintuple layer directly on TiN."""

    tin_gap_A: float
    tolerance_A: float


@dataclass(frozen=True)
class Deteriorated:
    """A disordered, intermixed interface."""

    band_thickness_A: float
    roughened_tin_planes: int
    roughness_A: float
    missing_fraction: float
    band_elements: tuple[str, ...]
    band_occupancy: float


@dataclass(frozen=True)
class Contrast:
    """HAADF contrast: relative column intensities, Ti column = 1."""

    exponent: float
    atomic_number: dict[str, int]
    relative_intensity: dict[str, float]


@dataclass(frozen=True)
class StrainCriterion:
    """The seed's strain criterion on the TiN in-plane parameter."""

    reference_inplane_A: float
    threshold_pct: float = 1.0
    film_standard_pct: float = 0.1


@dataclass(frozen=True)
class ClassifyThresholds:
    """Thresholds of the interface-class rules."""

    min_tin_planes: int = 3
    max_unassigned_fraction: float = 0.15
    min_loose_columns: int = 4
    max_interface_scatter_A: float = 0.25
    bright_ratio: float = 1.5
    rough_ratio: float = 3.0
    min_rough_scatter_A: float = 0.05
    faint_fraction: float = 0.3
    min_seen_substrate: float = 0.85
    # the origin: the top TiN plane that is complete and ordered like the TiN planes below it
    min_occupancy: float = 0.85
    min_plane_occupancy: float = 0.1
    origin_scatter_ratio: float = 3.0
    origin_min_scatter_A: float = 0.12
    # contrast learned from the image: prior width on log(Bi/chalcogen), smallest separation of two groups
    contrast_prior_sd: float = 0.5
    min_contrast_log_ratio: float = 0.15
    min_element_probability: float = 0.8
    # is the field this system's? shape cues, all ratios along one axis
    motif_tolerance: float = 0.12
    stacking_tolerance: float = 0.1
    min_stacking_fraction: float = 0.8
    period_ratio_tolerance: float = 0.06
    plane_spacing_tolerance: float = 0.08
    calibration_tolerance: float = 0.2


@dataclass(frozen=True)
class MaterialSystem:
    """One heterostructure: a film on a substrate, and its interface models."""

    name: str
    substrate: Substrate
    film: Film
    bilayer: Bilayer
    vdw: VdwContact
    deteriorated: Deteriorated
    contrast: Contrast
    strain: StrainCriterion
    classify: ClassifyThresholds = field(default_factory=ClassifyThresholds)
    aliases: tuple[str, ...] = ()
    description: str = ""
    path: str = ""
    sha256: str = ""  # of the file as it was read: a report names the exact numbers it used

    def intensity(self, element: str) -> float:
        """Relative HAADF intensity of a column of `element` (Ti column = 1)."""
        try:
            return self.contrast.relative_intensity[element]
        except KeyError:
            raise MaterialsError(
                f"{self.path or self.name}: contrast.relative_intensity has no entry "
                f"for element {element!r}"
            ) from None

    @property
    def inplane_ratio(self) -> float:
        """Projected film period over projected substrate period (no calibration needed)."""
        return self.film.projected_period_A / self.substrate.projected_period_A

    @property
    def ql_thickness_A(self) -> float:
        """X1-to-X1 thickness of one quintuple layer."""
        return float(sum(self.film.ql_spacings_A))


# --------------------------------------------------------------------------- finding files


def system_folders() -> list[Path]:
    """Folders searched for material-system files, user folders first."""
    folders = [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    try:
        import platformdirs

        folders.append(Path(platformdirs.user_config_dir("stemlayers")) / "materials")
    except ImportError:  # pragma: no cover - platformdirs is a dependency
        pass
    folders.append(BUNDLED_DIR)
    return folders


def _system_files() -> list[Path]:
    files = []
    for folder in system_folders():
        if folder.is_dir():
            files.extend(sorted(folder.glob("*.toml")))
    return files


def _names_of(path: Path) -> set[str]:
    """Every name a file answers to: its stem, its `name` and its `aliases`."""
    names = {path.stem.lower()}
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return names
    names.add(str(table.get("name", "")).lower())
    names.update(str(a).lower() for a in table.get("aliases", []) if isinstance(a, str))
    return names


def list_systems() -> list[str]:
    """Names of every material system that loads, user systems included."""
    names = []
    for path in _system_files():
        try:
            system = load_system(path)
        except MaterialsError:
            continue
        if system.name not in names:
            names.append(system.name)
    return names


def load_system(name_or_path: str | os.PathLike) -> MaterialSystem:
    """Load and validate a material system.

    Parameters
    ----------
    name_or_path : str or path
        A system name (``"Bi2Te3/TiN"``), a file stem (``"Bi2Te3-TiN"``), an
        alias, or the path of a TOML file. Names are case-insensitive; user
        folders are searched before the bundled systems.

    Returns
    -------
    MaterialSystem

    Raises
    ------
    MaterialsError
        If no system has that name, or the file is malformed; the message
        names the file and the offending key.
    """
    path = Path(name_or_path)
    if path.suffix.lower() != ".toml" or not path.exists():
        wanted = str(name_or_path).lower()
        matches = [p for p in _system_files() if wanted in _names_of(p)]
        if not matches:
            known = ", ".join(list_systems()) or "none"
            raise MaterialsError(
                f"{name_or_path}: no material system of that name (known: {known}; "
                f"add your own TOML file to ${ENV_VAR} or {system_folders()[-2]})"
            )
        path = matches[0]
    try:
        raw = Path(path).read_bytes()
        table = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise MaterialsError(f"{path}: cannot read material file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MaterialsError(f"{path}: not valid TOML ({exc})") from None
    system = _build(MaterialSystem, table, str(path), prefix="")
    system = dataclasses.replace(system, path=str(path), sha256=hashlib.sha256(raw).hexdigest())
    _check_consistency(system)
    return system


# --------------------------------------------------------------------------- validation


def _build(cls, table, path: str, prefix: str):
    """Make dataclass `cls` from a TOML table, checking every key's presence and type."""
    if not isinstance(table, dict):
        raise MaterialsError(f"{path}: key {prefix.rstrip('.')!r} must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - known - {"path"})
    if unknown:
        raise MaterialsError(f"{path}: unknown key {prefix + unknown[0]!r} (expected one of: "
                             f"{', '.join(sorted(known - {'path'}))})")
    kwargs = {}
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        if f.name == "path":
            continue
        if f.name not in table:
            has_default = (f.default is not dataclasses.MISSING
                           or f.default_factory is not dataclasses.MISSING)
            if has_default:
                continue
            raise MaterialsError(f"{path}: missing key {key!r}")
        kwargs[f.name] = _convert(hints[f.name], table[f.name], path, key)
    return cls(**kwargs)


def _convert(hint, value, path: str, key: str):
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path, prefix=key + ".")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MaterialsError(f"{path}: key {key!r} must be a number (got {value!r})")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise MaterialsError(f"{path}: key {key!r} must be a whole number (got {value!r})")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise MaterialsError(f"{path}: key {key!r} must be a string (got {value!r})")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise MaterialsError(f"{path}: key {key!r} must be a list (got {value!r})")
        item = typing.get_args(hint)[0]
        return tuple(_convert(item, v, path, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise MaterialsError(f"{path}: key {key!r} must be a table (got {value!r})")
        item = typing.get_args(hint)[1]
        return {k: _convert(item, v, path, f"{key}.{k}") for k, v in value.items()}
    if isinstance(hint, types.UnionType):  # pragma: no cover - no unions in the schema yet
        return value
    raise TypeError(f"schema type {hint!r} not handled")  # pragma: no cover


def _check_consistency(system: MaterialSystem) -> None:
    """Physics checks no type check catches: positive lengths, a closed QL, known elements."""
    path = system.path

    def fail(key, why):
        raise MaterialsError(f"{path}: key {key!r} {why}")

    for section in ("substrate", "film", "bilayer", "vdw", "deteriorated"):
        for f in dataclasses.fields(getattr(system, section)):
            value = getattr(getattr(system, section), f.name)
            if f.name.endswith("_A"):
                values = value if isinstance(value, tuple) else (value,)
                if any(not (0 < v < 100) for v in values):
                    fail(f"{section}.{f.name}", f"must be a length in Å between 0 and 100 (got {value})")
    film = system.film
    if len(film.ql_spacings_A) != len(film.ql_elements) - 1:
        fail("film.ql_spacings_A", f"must have one entry fewer than film.ql_elements "
             f"({len(film.ql_elements) - 1}), got {len(film.ql_spacings_A)}")
    ql_period = sum(film.ql_spacings_A) + film.vdw_gap_A
    if abs(ql_period - film.ql_period_A) > 0.02 * film.ql_period_A:
        fail("film.ql_period_A", f"is {film.ql_period_A} Å but the QL spacings plus the vdW gap "
             f"add up to {ql_period:.3f} Å")
    if len(system.bilayer.elements) != 2:
        fail("bilayer.elements", f"must name the two planes of the bilayer (got {system.bilayer.elements})")
    elements = set(film.ql_elements) | set(system.bilayer.elements) | set(system.deteriorated.band_elements)
    elements |= {system.substrate.metal, system.substrate.anion}
    missing = sorted(elements - set(system.contrast.relative_intensity))
    if missing:
        fail("contrast.relative_intensity", f"has no entry for element {missing[0]!r}")
    for element, value in system.contrast.relative_intensity.items():
        if value <= 0:
            fail(f"contrast.relative_intensity.{element}", f"must be positive (got {value})")
    if not 0 < system.strain.threshold_pct < 100:
        fail("strain.threshold_pct", f"must be a percentage between 0 and 100 (got {system.strain.threshold_pct})")
    if not 0 <= system.deteriorated.missing_fraction < 1:
        fail("deteriorated.missing_fraction", "must be between 0 and 1")
