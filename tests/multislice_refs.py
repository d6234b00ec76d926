"""The committed multislice references (``tests/data/multislice*``): their truth, and the orientations the
end-to-end tests view them in."""

import json

import numpy as np
from scipy import ndimage


def truth_of(path):
    """The ``NAME.truth.json`` beside a reference image."""
    return json.loads(path.with_name(path.name.split(".")[0] + ".truth.json").read_text())


def orientations(data):
    """The image as made, rotated 33° (padded with its median) and mirrored, as float32 arrays."""
    rotated = ndimage.rotate(data, 33, reshape=True, order=3, cval=float(np.median(data)))
    return {name: np.ascontiguousarray(a, np.float32)
            for name, a in (("as made", data), ("rotated 33°", rotated), ("mirrored", data[:, ::-1]))}


def tin_on_film_standard(t):
    """The TiN a, Å, the analysis should report. The film is its length standard, and the periodic cell strains
    the model's film a little (``params.film_residual_strain_pct``): the truth times film bulk / as built."""
    from stemlayers.materials import load_system

    film_bulk_A = load_system(t["system"]).film.projected_period_A * 2 / np.sqrt(3)
    return t["tin_inplane_A"] * film_bulk_A / t["film_inplane_A"]


def tin_deviation_on_film_standard_pct(t):
    """:func:`tin_on_film_standard` as the analysis's deviation from bulk TiN, %."""
    return 100 * ((1 + t["tin_strain_pct"] / 100) * tin_on_film_standard(t) / t["tin_inplane_A"] - 1)
