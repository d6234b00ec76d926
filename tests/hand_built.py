"""Hand-built inputs the stage tests share: the two bundled systems, quintuple-layer heights, planes."""

import numpy as np

from stemlayers.materials import load_system
from stemlayers.structure.planes import Plane

TE = load_system("Bi2Te3/TiN")
SE = load_system("Bi2Se3/TiN")


def qls(system, n_ql=2, scale=1.0):
    """Heights and true Bi flags of n_ql quintuple layers, lengths multiplied by `scale`."""
    steps = []
    for k in range(n_ql):
        steps += ([system.film.vdw_gap_A] if k else []) + list(system.film.ql_spacings_A)
    heights = np.concatenate([[0.0], np.cumsum(steps)]) * scale
    is_bi = np.tile([False, True, False, True, False], n_ql)
    return heights, is_bi


def plane(label, height, kind, period=2.596, scatter=0.02, occupancy=1.0, n=20):
    """A measured :class:`Plane` of `n` columns at `height` Å, with a given kind, period and scatter."""
    return Plane(label, np.arange(n), height, 0.005, scatter, 100.0, 1000.0, period, 1e-3, None, occupancy, kind)
