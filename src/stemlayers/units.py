"""Length units of image calibrations, converted to Å, and numbers shown with their uncertainty."""

from __future__ import annotations

import math
import unicodedata

import numpy as np

__all__ = ["canonical_unit", "format_pm", "unit_to_angstrom", "units_unset"]

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
    return units is None or str(units).strip().lower() in UNSET_UNITS


def _num(value):
    """`value` as a float, NaN for None or anything that is not a number."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _finite(value):
    return math.isfinite(_num(value))


def _decimals(err, lo=2, hi=4):
    """Decimals that show the first significant digit of `err` (between lo and hi)."""
    err = abs(_num(err))
    if not math.isfinite(err) or err == 0:
        return lo + 1
    return int(np.clip(-math.floor(math.log10(err)), lo, hi))


def format_pm(value, err=None, unit="Å", decimals=None):
    """Format ``value ± err unit``, e.g. ``"2.61 ± 0.02 Å"``.

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
    if not _finite(value):
        return "n/a"
    if decimals is None:
        decimals = _decimals(err)
    if not _finite(err):
        return f"{_num(value):.{decimals}f}{suffix}"
    return f"{_num(value):.{decimals}f} ± {abs(_num(err)):.{decimals}f}{suffix}"
