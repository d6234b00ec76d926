"""Units read from files and numbers as users see them."""

import math

import pytest

from stemlayers.errors import InputError
from stemlayers.io.units import checked_pixel_size, format_value, signed, unit_to_angstrom, units_unset


@pytest.mark.parametrize("units, angstrom", [
    ("nm", 10.0), ("NM", 10.0), ("n_m", 10.0), ("nanometers", 10.0), ("Å", 1.0), ("A", 1.0), ("ångström", 1.0),
    ("Angstroms", 1.0), ("pm", 0.01), ("µm", 1e4), ("μm", 1e4), ("um", 1e4), ("microns", 1e4), ("m", 1e10),
])
def test_lengths_in_any_spelling(units, angstrom):
    assert unit_to_angstrom(units) == pytest.approx(angstrom)


@pytest.mark.parametrize("units", [None, "", "px", "pixels", "<undefined>", "1/nm", "eV"])
def test_what_is_no_length(units):
    assert unit_to_angstrom(units) is None


def test_unset_units_mean_no_calibration():
    assert units_unset(None) and units_unset(" Pixels ") and units_unset("<undefined>")
    assert not units_unset("nm")


def test_values_carry_their_uncertainty_and_unit():
    assert format_value(2.6134, 0.0213) == "2.61 ± 0.02 Å"
    assert format_value(2.998, 0.0004) == "2.9980 ± 0.0004 Å"  # enough decimals for the error's first digit
    assert format_value(1.5, None, unit="%") == "1.500 %"
    assert format_value(None, 0.1) == "n/a" and format_value(math.nan) == "n/a"


def test_no_negative_zero():
    assert signed(-0.0001) == "+0.00" and signed(-0.02) == "-0.02" and signed(3.14159, 3) == "+3.142"


@pytest.mark.parametrize("bad", ["abc", 0.0, -0.1, float("nan"), 1e6])
def test_a_bad_pixel_size_is_named(bad):
    with pytest.raises(InputError, match="pixel size"):
        checked_pixel_size("--pixel-size", bad)


def test_a_good_pixel_size_is_a_float():
    assert checked_pixel_size("file.tif", "0.1") == pytest.approx(0.1)
