"""Length units of image calibrations, converted to Å."""

from __future__ import annotations

import unicodedata

__all__ = ["unit_to_angstrom", "units_unset"]

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
def unit_to_angstrom(units) -> float | None:
    """Å per `units` (pm, Å in any spelling, nm, µm/μm/um, micron, mm, m), else None.

    >>> unit_to_angstrom("nm"), unit_to_angstrom("px")
    (10.0, None)
    """
    key = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", str(units)).strip().lower())
    if key not in ANGSTROM_PER_UNIT and len(key) > 3 and key.endswith("s"):
        key = key[:-1]  # plurals: microns, angstroms, nanometers
    return None if units is None else ANGSTROM_PER_UNIT.get(key)


def units_unset(units) -> bool:
    return units is None or str(units).strip().lower() in UNSET_UNITS
