"""Any intensity units give the same columns and verdicts: counts, detector units in the millions, 0..1 floats,
an offset, float32 or float64, and copies quantised to uint8 or uint16."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from stemlayers import analyze, find_columns
from stemlayers.columns.find import contrast_units, detect_candidates, electron_gain, lattice_scale, signal_to_noise
from stemlayers.columns.fit import fit_gaussians
from stemlayers.simulate import SimulationParams, simulate


def _quantised(data, dtype):
    top = np.iinfo(dtype).max
    return np.round((data - data.min()) / np.ptp(data) * top).astype(dtype)


FLOAT_COPIES = {
    "x 1e-6": lambda d: d * 1e-6,
    "x 1e6": lambda d: d * 1e6,
    "0..1": lambda d: (d - d.min()) / np.ptp(d),
    "offset": lambda d: d + 3.0e4,
    "negative offset": lambda d: d - 5.0e3,
    "float32": lambda d: d.astype(np.float32),
}
QUANTISED_COPIES = {"uint8": lambda d: _quantised(d, np.uint8), "uint16": lambda d: _quantised(d, np.uint16)}


@pytest.fixture(scope="module")
def field():
    sim = simulate(SimulationParams(system="Bi2Se3/TiN", interface="vdw", shape=(256, 256), seed=5, dose=150,
                                    rotation_deg=12))
    data = np.asarray(sim.data, np.float64)
    return sim, data, analyze(data, pixel_size=sim.pixel_size_A)


@pytest.mark.parametrize("name", list(FLOAT_COPIES))
def test_float_copies_give_the_same_columns_and_verdicts(field, name):
    sim, data, base = field
    report = analyze(FLOAT_COPIES[name](data), pixel_size=sim.pixel_size_A)
    assert report.n_columns == base.n_columns >= 80
    distance = cKDTree(base.columns.xy).query(report.columns.xy)[0]
    assert distance.max() < 0.01
    assert (report.system, report.interface.interface_class, report.strain.strain_verdict) == (
        base.system, base.interface.interface_class, base.strain.strain_verdict) == ("Bi2Se3/TiN", "vdw", "ok")
    assert report.strain.tin_inplane_A == pytest.approx(base.strain.tin_inplane_A, rel=1e-4)


@pytest.mark.parametrize("name", list(QUANTISED_COPIES))
def test_quantised_copies_give_the_same_verdicts(field, name):
    sim, data, base = field
    report = analyze(QUANTISED_COPIES[name](data), pixel_size=sim.pixel_size_A)
    assert (report.system, report.interface.interface_class, report.strain.strain_verdict) == (
        "Bi2Se3/TiN", "vdw", "ok")
    assert abs(report.n_columns - base.n_columns) <= 0.03 * base.n_columns
    assert report.strain.tin_inplane_A == pytest.approx(sim.truth.tin_inplane_A, rel=0.003)


def test_a_rotated_export_with_a_nan_border_gives_the_verdicts_of_its_median_padded_twin():
    """A rotated (or aligned) export marks the pixels outside the scan NaN: they are filled, and said to be."""
    from scipy import ndimage

    sim = simulate(SimulationParams(system="Bi2Te3/TiN", interface="bilayer", shape=(256, 256), seed=2, dose=200))
    data = np.asarray(sim.data, np.float64)
    nan_border = ndimage.rotate(data, 25, reshape=True, order=1, cval=np.nan)
    nan_border[~np.isfinite(ndimage.rotate(np.ones_like(data), 25, reshape=True, order=1, cval=np.nan))] = np.nan
    twin = np.where(np.isfinite(nan_border), nan_border, np.nanmedian(nan_border))
    with_nan, padded = (analyze(d, pixel_size=sim.pixel_size_A) for d in (nan_border, twin))
    assert (with_nan.system, with_nan.interface.interface_class, with_nan.strain.strain_verdict) == (
        padded.system, padded.interface.interface_class, padded.strain.strain_verdict) == (
        "Bi2Te3/TiN", "bilayer", "ok")
    assert with_nan.n_columns == padded.n_columns
    n_gaps = int((~np.isfinite(nan_border)).sum())
    assert any(m.startswith(f"{n_gaps} pixel(s)") and "NaN" in m for m in with_nan.messages)


def test_amplitudes_stay_in_the_image_units(field):
    _, data, base = field
    scaled = find_columns(data * 1e-4 + 7.0, pixel_size=0.1)
    assert np.allclose(np.sort(scaled.amplitude), np.sort(base.columns.amplitude) * 1e-4, rtol=1e-3)


def test_the_gain_is_read_from_the_noise():
    """Poisson counts have one image unit per electron; the same counts in detector units have the factor."""
    sim = simulate(SimulationParams(shape=(256, 256), seed=3, dose=100))
    counts = np.asarray(sim.data, float)
    sigma, separation = lattice_scale(counts)
    for factor in (1.0, 250.0):
        offset, unit = contrast_units(counts * factor)
        standard = (counts * factor - offset) / unit
        xy, height, _ = detect_candidates(standard, sigma, 1.0)
        brightest = xy[np.argsort(-height)[:300]]
        fit = fit_gaussians(standard, brightest, sigma, 2 * sigma, n_rounds=1, measure_noise=True)
        gain = electron_gain(fit.noise, float(np.percentile(standard, 99.5)))
        assert gain * unit == pytest.approx(factor, rel=0.15)


def test_a_noise_that_does_not_grow_with_the_level_is_read_as_shot_noise_at_half_the_bright_level():
    assert electron_gain((500.0, 0.0), 1000.0) == pytest.approx(0.25)
    assert electron_gain((0.0, 0.0), 1000.0) is None


def test_too_weak_a_signal_says_its_signal_to_noise_ratio():
    sim = simulate(SimulationParams(shape=(192, 192), seed=4, dose=1.0))
    report = analyze(sim.data * 1e-3, pixel_size=0.1)
    assert report.interface.interface_class is None and report.system is None
    said = report.interface.evidence[0]
    assert "signal-to-noise ratio is" in said and "too weak" in said
    assert signal_to_noise(sim.data) == pytest.approx(signal_to_noise(sim.data * 1e-3 + 5), rel=1e-4)
    assert signal_to_noise(np.random.default_rng(1).normal(size=(128, 128))) < 0.1
