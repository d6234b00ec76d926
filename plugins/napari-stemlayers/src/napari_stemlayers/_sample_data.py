"""File > Open Sample: the bundled simulated cross-sections (``stemlayers.samples``)."""

from __future__ import annotations

from functools import partial

from stemlayers import load
from stemlayers.samples import sample_file

from ._convert import image_layer_data


def open_sample(name: str) -> list:
    """The sample image `name` as a calibrated Image layer (simulated into the cache if not bundled)."""
    return [image_layer_data(load(sample_file(name)))]


# one command per sample, as the manifest's sample_data contributions name them
bi2te3_bilayer = partial(open_sample, "bi2te3_bilayer.hspy")
bi2te3_vdw = partial(open_sample, "bi2te3_vdw.tif")
bi2te3_deteriorated = partial(open_sample, "bi2te3_deteriorated.hspy")
bi2se3_bilayer = partial(open_sample, "bi2se3_bilayer.tif")
bi2se3_vdw = partial(open_sample, "bi2se3_vdw.hspy")
bi2se3_deteriorated = partial(open_sample, "bi2se3_deteriorated.tif")
bi2te3_bilayer_strained = partial(open_sample, "bi2te3_bilayer_strained.hspy")
bi2se3_bilayer_rotated = partial(open_sample, "bi2se3_bilayer_rotated.emd")
