"""Length units of image calibrations, converted to Å, and numbers shown with their uncertainty."""

from __future__ import annotations

import math
import unicodedata

import numpy as np

from ..errors import InputError

__all__ = ["PIXEL_SIZE_RANGE_A", "as_number", "canonical_unit", "checked_pixel_size", "decimals_for",
           "format_value", "is_number", "unit_to_angstrom", "units_unset"]

#: Plausible pixel sizes (Å/px) for atomic-resolution HAADF-STEM.
PIXEL_SIZE_RANGE_A = (0.005, 1.0)

UNIT_NAMES = {
    0.01: "pm picometer picometre",
    1.0: "a å ang angstrom ångström ångstrom angström",
    10.0: "nm nanometer nanometre",
    1e4: "μm um micron micrometer micrometre",
    1e7: "mm millimeter millimetre",
    1e10: "m meter metre",
}
ANGSTROM_PER_UNIT = {name: f for f, names in UNIT_NAMES.items() for name in names.split()}
UNSET_UNITS = {"", "<undefined>", "undefined", "none", "null", "[]", "px", "pix", "pixel",
                "pixels"}
def canonical_unit(units) -> str:
    """The spelling a file used, reduced to a key: case, Unicode forms, separators and plurals ignored.

    Real files write nm as "nm", "NM", "n_m" (NCEM/Berkeley EMD) or "nanometers".

    >>> canonical_unit("n_m"), canonical_unit(" Nano-meters "), canonical_unit("Å")
    ('nm', 'nanometer', 'å')
    """
    key = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", str(units)).strip().lower())
    key = "".join(ch for ch in key if ch not in "_- .")
    if key not in ANGSTROM_PER_UNIT and len(key) > 3 and key.endswith("s"):
        key = key[:-1]  # plurals: microns, angstroms, nanometers
    return key


def unit_to_angstrom(units) -> float | None:
    """Å per `units` (pm, Å in any spelling, nm, µm/μm/um, micron, mm, m), else None.

    Spellings real files use are accepted (:func:`canonical_unit`).

    >>> unit_to_angstrom("nm"), unit_to_angstrom("n_m"), unit_to_angstrom("px")
    (10.0, 10.0, None)
    """
    if units is None:
        return None
    return ANGSTROM_PER_UNIT.get(canonical_unit(units))


def units_unset(units) -> bool:
    """Whether a file's axis units say "no calibration" (empty, undefined, pixels)."""
    return units is None or str(units).strip().lower() in UNSET_UNITS


def as_number(value):
    """`value` as a float, NaN for None or anything that is not a number."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def is_number(value):
    """Whether `value` is a finite number (None, NaN, text: False)."""
    return math.isfinite(as_number(value))


def decimals_for(err, lo=2, hi=4):
    """Decimals that show the first significant digit of `err` (between lo and hi)."""
    err = abs(as_number(err))
    if not math.isfinite(err) or err == 0:
        return lo + 1
    return int(np.clip(-math.floor(math.log10(err)), lo, hi))


def signed(value, decimals=2):
    """`value` with its sign, never a negative zero: ``signed(-0.001)`` is ``"+0.00"``.

    Examples
    --------
    >>> signed(-0.001), signed(-0.02), signed(1.234, 1)
    ('+0.00', '-0.02', '+1.2')
    """
    rounded = round(as_number(value), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{rounded:+.{decimals}f}"


def format_value(value, err=None, unit="Å", decimals=None):
    """Format ``value ± err unit``, e.g. ``"2.61 ± 0.02 Å"`` (Å unless `unit` says otherwise).

    Parameters
    ----------
    value, err : float or None
        The value and its 1-sigma uncertainty; None or NaN for unknown.
    unit : str
        Appended after a space (empty for none).
    decimals : int, optional
        Number of decimals; by default enough to show the first significant
        digit of `err` (2 to 4).

    Returns
    -------
    str
        ``"n/a"`` if the value is unknown; no ``±`` part if the error is.
    """
    suffix = f" {unit}" if unit else ""
    if not is_number(value):
        return "n/a"
    if decimals is None:
        decimals = decimals_for(err)
    if not is_number(err):
        return f"{as_number(value):.{decimals}f}{suffix}"
    return f"{as_number(value):.{decimals}f} ± {abs(as_number(err)):.{decimals}f}{suffix}"


def checked_pixel_size(name: str, pixel_size, check_range: bool = True) -> float:
    """`pixel_size` as a float of Å/px, or InputError naming `name` (not a number, not positive, or
    outside :data:`PIXEL_SIZE_RANGE_A` with `check_range`)."""
    try:
        value = float(pixel_size)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: pixel size {pixel_size!r} is not a number (Å/px)") from exc
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{name}: pixel size {pixel_size!r} must be a positive number of Å/px")
    lo, hi = PIXEL_SIZE_RANGE_A
    if check_range and not lo <= value <= hi:
        raise InputError(f"{name}: pixel size {value:.5g} Å/px is outside the plausible range "
                         f"{lo}-{hi} Å/px for atomic-resolution HAADF-STEM (it is in Å, not nm)")
    return value


#: The earlier name of :func:`format_value` (it formats in Å by default, not pm).

