"""Two scans at 0° and 90° scan rotation: each one's slow-scan drift from the matched columns, against the truth."""

import numpy as np
import pytest
from numpy.polynomial import legendre
from typer.testing import CliRunner

from stemlayers import Image, analyze, find_columns, load, orthogonal_pair
from stemlayers.cli import app
from stemlayers.errors import InputError
from stemlayers.series.scanpair import drift_from_pair
from stemlayers.simulate.series import affine_residual, simulate_scan_pair
from stemlayers.io.write import save


@pytest.fixture(scope="module")
def pair():
    """384² px at 0.1 Å/px, field at 20°, a steady drift (0.4 and 0.6 % per row) and a 1.5 px wandering one."""
    return simulate_scan_pair(seed=2, shape=(384, 384), dose=100, pixel_size_A=0.1, tin_strain_pct=0.5,
                              rotation_deg=20)


def _truth_xy(sim, margin=15):
    t = sim.truth
    xy = np.column_stack([t.x_px, t.y_px])
    inside = np.all((xy > margin) & (xy < np.array(sim.data.shape[::-1]) - margin), axis=1)
    return xy[inside & (t.weight > 0.3 * np.median(t.weight))]


def test_drift_of_each_scan_is_recovered_from_positions_alone():
    # a function of the row minus one of the column is unique up to a constant: each scan's own drift comes
    # back exactly from noise-free positions (drifts along the fast axes, so the rows and columns stay put)
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 255, (400, 2))
    t, s = truth[:, 1] / 127.5 - 1, truth[:, 0] / 127.5 - 1
    drift_first = np.column_stack([0.8 * t + 0.3 * t**2 - 0.2 * t**4, 0 * t])
    drift_second = np.column_stack([0 * s, 1.1 * s - 0.4 * s**3])
    coef, degree, residual = drift_from_pair(truth + drift_first, truth + drift_second, (256, 256))
    assert residual < 1e-6 and degree >= 4
    found_first = legendre.legvander(t, degree) @ coef[:, :degree + 1].T
    found_second = legendre.legvander(s, degree)[:, 1:] @ coef[:, degree + 1:].T
    for found, true in ((found_first, drift_first), (found_second, drift_second)):
        assert np.allclose(found - found.mean(axis=0), true - true.mean(axis=0), atol=1e-6)


def test_the_pair_removes_the_drift_the_single_scan_keeps(pair):
    first, second, sim = pair
    truth = _truth_xy(sim)
    image = orthogonal_pair(first, second, pixel_size=0.1)
    block = image.metadata["series"]
    assert block["quarter_turns"] == 1 and block["n_frames"] == 2 and block["matched_columns"] > 150
    corrected = find_columns(image).xy + block["crop_px"]
    one_scan = find_columns(load(first, pixel_size=0.1)).xy
    # a steady drift of 0.4-0.6 % per row and a 1.5 px wander: > 1 px off in one scan, a fifth of a px after
    assert affine_residual(one_scan, truth, affine=False)[0] > 0.8
    assert affine_residual(corrected, truth, affine=False)[0] < 0.25
    # and the TiN a, which one scan's drift moves by tenths of a percent, within 0.1 %
    assert analyze(image).strain.tin_inplane_A == pytest.approx(sim.truth.tin_inplane_A, rel=1e-3)


def test_scans_of_different_fields_are_refused(pair):
    first, _, _ = pair
    other = np.random.default_rng(1).poisson(50, first.shape).astype(np.float32)
    with pytest.raises(InputError, match="columns match"):
        orthogonal_pair(first, other, pixel_size=0.1)


def test_scans_whose_recorded_rotations_are_not_90_apart_are_refused(pair):
    first, second, _ = pair
    a = Image(data=first, pixel_size_A=0.1, path="scan_a.emd", metadata={"scan_rotation_deg": 95.0})
    b = Image(data=second, pixel_size_A=0.1, path="scan_b.emd", metadata={"scan_rotation_deg": 275.0})
    with pytest.raises(InputError, match="not a pair of orthogonal scans"):
        orthogonal_pair(a, b)
    turned = Image(data=second, pixel_size_A=0.1, path="scan_b.emd", metadata={"scan_rotation_deg": 5.0})
    assert orthogonal_pair(a, turned).metadata["series"]["quarter_turns"] == 1


def test_cli_takes_the_second_scan(pair, tmp_path):
    first, second, sim = pair
    a = save(first, tmp_path / "scan0.hspy", pixel_size_A=0.1)
    b = save(second, tmp_path / "scan90.hspy", pixel_size_A=0.1)
    result = CliRunner().invoke(app, ["analyze", str(a), "--orthogonal", str(b), "--json", "-"])
    assert result.exit_code == 0, result.output
    assert '"orthogonal scan pair' in result.output and '"quarter_turns": 1' in result.output
