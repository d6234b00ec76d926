"""HAADF column weights: Z^n per atom over the atom spacing along the beam, times channelling.

The material files keep relative column intensities computed with one
exponent (Ti column of TiN = 1). Real detectors give an exponent anywhere
from about 1.3 to 2.0, and channelling makes each element's column brighter
or dimmer than the Z^n rule says (materials.md: Bi/Te ~1.9 in multislice
where Z^1.7 predicts 2.2). :func:`column_weights` recomputes the weights
from the atomic numbers and the beam spacings of the system file with any
exponent, and multiplies them by per-element channelling factors.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..materials import MaterialSystem

__all__ = ["FOREIGN_Z", "beam_spacing_A", "column_weights", "draw_channelling", "foreign_weight"]

#: Atomic numbers of the elements of the foreign (negative-control) lattices.
FOREIGN_Z = {"Sr": 38, "Ti": 22, "O": 8, "Mo": 42, "S": 16}


def beam_spacing_A(system: MaterialSystem, element: str) -> float:
    """Atom spacing along the beam of a column of `element` (substrate or film)."""
    sub = system.substrate
    return sub.beam_spacing_A if element in (sub.metal, sub.anion) else system.film.beam_spacing_A


def _reference(system: MaterialSystem, exponent: float) -> float:
    """Weight of the substrate-metal column (Ti of TiN) before channelling: the unit."""
    sub = system.substrate
    return system.contrast.atomic_number[sub.metal] ** exponent / sub.beam_spacing_A


def column_weights(system: MaterialSystem, exponent: float | None = None,
                   channelling: Mapping[str, float] | None = None) -> dict[str, float]:
    """Relative HAADF weight of a full column of each element of `system`.

    Parameters
    ----------
    system : MaterialSystem
    exponent : float, optional
        Z exponent n. None keeps the file's ``contrast.relative_intensity``
        exactly (the images of earlier versions of the simulator).
    channelling : mapping element -> factor, optional
        Multiplies each element's weight (missing elements: 1).

    Returns
    -------
    dict
        element -> weight, the substrate-metal column without channelling = 1:
        ``channelling[e] * Z_e^n / spacing_e / (Z_Ti^n / spacing_Ti)``.
    """
    channelling = channelling or {}
    if exponent is None:
        base = dict(system.contrast.relative_intensity)
    else:
        unit = _reference(system, exponent)
        base = {e: z**exponent / beam_spacing_A(system, e) / unit
                for e, z in system.contrast.atomic_number.items()}
    return {e: w * float(channelling.get(e, 1.0)) for e, w in base.items()}


def foreign_weight(system: MaterialSystem, atoms: Mapping[str, float], spacing_A: float,
                   exponent: float | None = None, channelling: Mapping[str, float] | None = None) -> float:
    """Weight of a column of a foreign lattice, in the units of :func:`column_weights`.

    Parameters
    ----------
    atoms : mapping element -> atoms per repeat along the beam (e.g. {"Ti": 1, "O": 1})
    spacing_A : float
        Repeat distance along the beam.
    exponent, channelling : as for :func:`column_weights` (None: the file's exponent).
    """
    n = system.contrast.exponent if exponent is None else exponent
    channelling = channelling or {}
    total = sum(count * FOREIGN_Z[e] ** n * float(channelling.get(e, 1.0)) for e, count in atoms.items())
    return total / spacing_A / _reference(system, n)


def draw_channelling(rng: np.random.Generator, system: MaterialSystem, exponent: float,
                     low: float = 0.75, high: float = 1.25, min_bright_ratio: float = 1.35,
                     min_dim_ratio: float = 1.1, tries: int = 200) -> dict[str, float]:
    """Random channelling factors in [low, high] that keep the brightness order of materials.md.

    Bi > chalcogen > Ti holds in every real image: factors are drawn again
    until the Bi column is at least `min_bright_ratio` x the chalcogen column
    and the chalcogen column at least `min_dim_ratio` x the Ti column (all
    ones after `tries` failures).
    """
    elements = sorted(system.contrast.atomic_number)
    film_x, bright = system.film.ql_elements[:2]  # X1 Bi X2 Bi X1
    metal = system.substrate.metal
    for _ in range(tries):
        factors = {e: float(f) for e, f in zip(elements, rng.uniform(low, high, len(elements)))}
        w = column_weights(system, exponent, factors)
        if w[bright] >= min_bright_ratio * w[film_x] and w[film_x] >= min_dim_ratio * w[metal]:
            return factors
    return {e: 1.0 for e in elements}
