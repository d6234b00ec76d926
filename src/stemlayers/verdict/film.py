"""Defects inside the film, named: septuple lamellae, stacking reversals, missing or extra planes.

Above the interface the film is a stack of blocks separated by van der Waals gaps (two chalcogen planes
in a row, further apart than any two planes inside a block). A Bi2X3 film's block is the quintuple layer
X-Bi-X-Bi-X; a Bi3X4 lamella (a septuple layer, X-Bi-X-Bi-X-Bi-X, about 1.4 nm with its gap) grows into it,
a block may be stacked the other way (a twin), and a block may lack a plane or carry one more. Each is named
with the height of its first plane. They never change the interface verdict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..io.jsonable import from_saved
from ..materials import MaterialSystem
from ..structure.grouping import LayerSet, group_layers
from .steps import longest_between

__all__ = ["FilmDefect", "film_blocks", "film_defects", "film_defects_between"]

SEPTUPLE, REVERSAL, IRREGULAR = "septuple layer", "stacking reversal", "missing or extra planes"


@dataclass(frozen=True)
class FilmDefect:
    """A named defect of the film (the Report's ``film_defects[i]``): heights in Å above the top TiN plane,
    its first plane's ends in image pixels (x = column)."""

    kind: str
    height_A: float
    start_px: tuple | None
    end_px: tuple | None
    n_planes: int

    def to_dict(self) -> dict:
        return asdict(self)

    def sentence(self) -> str:
        """The defect in words: "septuple layer (7 planes) at 18.66 Å"."""
        return f"{self.kind} ({self.n_planes} planes) at {self.height_A:.2f} Å"

    @classmethod
    def from_dict(cls, d: dict) -> FilmDefect:
        return from_saved(cls, d)


def film_blocks(layers, system: MaterialSystem) -> list:
    """(first, stop) indices into `layers` of each film block closed on both sides.

    A block ends at a spacing nearer the vdW gap than the blocks' inner spacings: measured to a few pm,
    the spacings tell the gaps better than the planes' elements, one of which may be mistaken. The block
    the field's top cuts is left out, and so is the first one unless an interface plane (TiN, bilayer or
    disordered) lies right below it: otherwise the field's edge may cut it too.
    """
    film = system.film
    threshold = 0.5 * (max(film.ql_spacings_A) + film.vdw_gap_A)
    # wider than a vdW gap by half a plane spacing: a plane is missing inside the block, no gap
    missing = film.vdw_gap_A + 0.5 * min(film.ql_spacings_A)
    index = [i for i, L in enumerate(layers) if L.material == "TI"]
    if len(index) < 2:
        return []
    cuts = [index[0]]
    for a, b in zip(index[:-1], index[1:]):
        spacing = layers[b].height_A - layers[a].height_A
        if b != a + 1 or threshold < spacing < missing:
            cuts.append(b)
    blocks = list(zip(cuts[:-1], cuts[1:]))
    if blocks and (index[0] == 0 or layers[index[0] - 1].material not in ("TiN", "bilayer", "disordered")):
        blocks = blocks[1:]
    return blocks


def _step_sign(registries) -> float | None:
    """+1 when each plane of a block sits a third of a period on from the one below, -1 a third back."""
    r = np.asarray([x for x in registries if x is not None], float)
    if len(r) < 3:
        return None
    step = np.diff(r) % 1.0
    forward = np.mean(np.abs(step - 1 / 3) < 0.12)
    backward = np.mean(np.abs(step - 2 / 3) < 0.12)
    if max(forward, backward) < 0.75:
        return None
    return 1.0 if forward > backward else -1.0


def film_defects(layers, system: MaterialSystem, plane_of_column=None, xy=None, growth_dir=None) -> tuple:
    """The film's defects, from its planes (ordered from the substrate up, heights above the top TiN plane).

    Parameters
    ----------
    layers : sequence of AtomicPlane
    system : MaterialSystem
    plane_of_column, xy, growth_dir : arrays, optional
        Each column's plane, its pixel position and the growth direction: place each defect's ends.

    Returns
    -------
    tuple of FilmDefect
    """
    film = system.film
    blocks = film_blocks(layers, system)
    signs = [_step_sign([getattr(layers[i], "registry", None) for i in range(a, b)]) for a, b in blocks]
    known = [s for s in signs if s is not None]
    # the film's usual stacking is its blocks' majority; where they tie (two blocks), the first one's, grown
    # on the interface: the block that steps the other way from it is the reversal
    usual = (np.sign(np.sum(known)) or known[0]) if known else None
    septuple = [film.chalcogen, film.metal] * 3 + [film.chalcogen]
    out = []
    for (a, b), sign in zip(blocks, signs):
        elements = [layers[i].element for i in range(a, b)]
        if b - a == len(septuple) and sum(e == s for e, s in zip(elements, septuple)) >= len(septuple) - 1:
            kind = SEPTUPLE  # seven planes, their elements those of X-Bi-X-Bi-X-Bi-X but for one mistaken
        elif b - a != len(film.ql_elements):
            kind = IRREGULAR
        elif sign is not None and usual and sign != usual:
            kind = REVERSAL
        else:
            continue
        out.append(FilmDefect(kind, round(float(layers[a].height_A), 3), *_ends(a, plane_of_column, xy, growth_dir),
                              b - a))
    return tuple(out)


def _ends(index, plane_of_column, xy, growth_dir):
    """(start, end) pixel positions of a plane's outermost columns along it (None, None without columns)."""
    if plane_of_column is None or xy is None or growth_dir is None:
        return None, None
    members = np.asarray(xy)[np.asarray(plane_of_column) == index]
    if len(members) < 2:
        return None, None
    tangent = np.array([-growth_dir[1], growth_dir[0]])
    along = members @ tangent
    return (tuple(float(v) for v in members[np.argmin(along)]), tuple(float(v) for v in members[np.argmax(along)]))


#: Columns this close to a cut (Å along the interface) are left out of the stretch: a terrace step or a
#: boundary between classes is placed to about ±2 Å.
CUT_MARGIN_A = 3.0


def film_defects_between(columns, layerset: LayerSet, system: MaterialSystem, pixel_size_A: float, cuts_px,
                         shape=None) -> tuple:
    """:func:`film_defects` of the longest stretch of the interface between cut points (terrace steps, changes
    of interface class), its planes grouped on their own (heights above that stretch's top TiN plane).

    Planes grouped across a terrace step, or across a boundary between a bilayer and a band or a direct
    contact (the film sits higher over one than over the other), join planes of two heights: the film's
    blocks then look as if they had planes missing or extra. One stretch's planes are whole.

    Parameters
    ----------
    columns : Columns
    layerset : LayerSet
        The whole field's planes (their orientation and scale).
    system : MaterialSystem
    pixel_size_A : float
        The working pixel size.
    cuts_px : sequence of (x, y)
        Where the film may change height along the interface, in image pixels.
    shape : (rows, cols), optional
    """
    tangent = layerset.orientation.tangent
    length_A = layerset.field_length_A(pixel_size_A)  # the cuts were placed in the field's Å
    u = columns.xy @ tangent * length_A
    lo, hi = longest_between(float(u.min()) - CUT_MARGIN_A, float(u.max()) + CUT_MARGIN_A,
                             [float(np.asarray(at_px) @ tangent * length_A) for at_px in cuts_px])
    part = columns.select((u > lo + CUT_MARGIN_A) & (u < hi - CUT_MARGIN_A))
    if len(part) < 3:
        return ()
    local = group_layers(part, layerset.orientation, system, pixel_size_A, shape, scale=layerset.field_scale)
    return film_defects(local.layers, system, local.plane_of_column, part.xy, local.orientation.growth_dir)
