"""The film as length standard: how far the file's calibration is off."""

import dataclasses

import numpy as np
import pytest

from hand_built import TE, plane, qls
from stemlayers.structure.calibration import Calibration, measure_calibration
from stemlayers.structure.elements import find_quintuple_layers


def test_calibration_says_how_far_the_file_is_off():
    heights, is_bi = qls(TE, 2, 1.052)
    planes = [dataclasses.replace(plane(i, h, "film", 3.798 * 1.052), period_err_A=1e-4)
              for i, h in enumerate(heights)]
    quintuples = find_quintuple_layers(heights, np.ones(10, bool), is_bi.astype(float), TE.film.ql_spacings_A,
                                       TE.film.vdw_gap_A)
    c = measure_calibration(planes, ["TI"] * 10, quintuples, TE, 0.1)
    assert c.inplane_scale == pytest.approx(1.052) and c.growth_scale == pytest.approx(1.052)
    assert c.standard == "film" and c.height_standard == "film QL thickness"
    assert c.warning().startswith("the pixel size 0.1000 Å/px (file) is 1.052x (+5.2 ± 0.0 %) what the film lattice implies")
    bare = measure_calibration([], [], [], TE, 0.1)
    assert bare.standard == "file calibration" and bare.warning() is None
    assert "file's calibration" in bare.to_dict()["note"]


def test_without_a_film_standard_the_lattice_periods_name_a_calibration_far_off():
    off = Calibration(0.15, lattice_factor=1.2, lattice_factor_bound=True, pixel_size_source="--pixel-size")
    assert off.warning().startswith("the pixel size 0.1500 Å/px (--pixel-size) is at least 1.20x what the lattice")
    assert "(0.1250 Å/px)" in off.warning() and off.to_dict()["warning"] == off.warning()
    assert "about 0.90x" in Calibration(0.15, lattice_factor=0.9).warning()
    assert Calibration(0.15, lattice_factor=1.02).warning() is None  # within the TiN's own strain range
    # a film standard, where there is one, is the calibration's only word
    assert Calibration(0.15, inplane_scale=1.0, lattice_factor=1.2).warning() is None
