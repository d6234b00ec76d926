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
