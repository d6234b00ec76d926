"""Scan distortion that changes during the frame: the along-plane scale per row, against the simulated truth."""

import numpy as np
import pytest

from stemlayers import analyze
from stemlayers.simulate import SimulationParams, simulate
from stemlayers.structure.distortion import fit_row_scale, plane_segments

TWO_DEGREES = float(np.tan(np.radians(2)))


def _lattice(scale_of_row, tilt_deg=0.0, periods=(2.6, 3.6), rows=(200, 400), n_rows=600, spacing=20.0):
    """Columns on level planes: substrate planes in `rows[0]` ..., film planes above, each column's step along
    its plane stretched by `scale_of_row(row)`. Returns (xy, u, plane, periods, is_film, is_substrate)."""
    rng = np.random.default_rng(0)
    xy, u, plane, plane_periods, film = [], [], [], [], []
    heights = np.arange(20, n_rows - 20, spacing)
    for i, y in enumerate(heights):
        is_film = y < rows[0]
        period = (periods[1] if is_film else periods[0]) / 0.1  # px at 0.1 Å/px
        steps = np.full(int(500 / period), period) * scale_of_row(y)
        x = 20 + np.concatenate([[0], np.cumsum(steps)])
        x = x[x < 580] + rng.normal(0, 0.05, (x < 580).sum())
        xy.append(np.column_stack([x, np.full(len(x), y)]))
        u.append(x)
        plane.append(np.full(len(x), i))
        plane_periods.append(period * scale_of_row(y))
        film.append(is_film)
    film = np.array(film)
    return (np.vstack(xy), np.concatenate(u), np.concatenate(plane), np.array(plane_periods), film, ~film)


def test_segments_measure_the_local_period_along_tilted_planes():
    # one plane at 30° to the rows whose step grows 1 % per 100 rows: each segment sees its own rows' period
    index = np.arange(40.0)
    row = 10 + index * 15 * np.sin(np.radians(30))
    step = 15 * (1 + 1e-4 * row)
    u = np.concatenate([[0], np.cumsum(step[:-1])])
    xy = np.column_stack([u * np.cos(np.radians(30)), row])
    period, err, seg_row, seg_col, which = plane_segments(u, xy, np.zeros(40, int), np.array([15.0]))
    assert len(period) == 5 and np.all(which == 0)
    assert period == pytest.approx(15 * (1 + 1e-4 * seg_row), rel=2e-3)
    assert np.all(np.diff(seg_row) > 0) and np.all(err > 0)


def test_a_scale_changing_with_the_row_is_found_and_corrected():
    # the scale along the planes grows 2 % from the top row to the bottom one; film on top, substrate below
    def grow(row):
        return 1 + 0.02 * (row / 599 - 0.5)

    xy, u, plane, periods, film, substrate = _lattice(grow)
    fit = fit_row_scale(xy, u, plane, periods, film, substrate, (600, 600))
    assert fit.applied and fit.degree >= 1
    film_mean = np.mean([grow(y) for y in np.unique(xy[:, 1])[film]])
    sub_mean = np.mean([grow(y) for y in np.unique(xy[:, 1])[substrate]])
    assert fit.substrate_correction == pytest.approx(sub_mean / film_mean, abs=4e-4)
    assert fit.scale_range[1] / fit.scale_range[0] == pytest.approx(grow(599) / grow(0), abs=2e-3)
    # each plane's period over its factor is back on the film's scale
    corrected = periods / fit.factor
    assert np.ptp(corrected[film]) / corrected[film].mean() < 2e-3


def test_a_uniform_scale_is_left_alone():
    xy, u, plane, periods, film, substrate = _lattice(lambda row: 1.013)
    fit = fit_row_scale(xy, u, plane, periods, film, substrate, (600, 600))
    assert not fit.applied
    assert np.all(fit.factor == 1.0) and fit.substrate_correction == 1.0


def test_no_ruler_no_fit():
    xy, u, plane, periods, film, substrate = _lattice(lambda row: 1.0)
    assert fit_row_scale(xy, u, plane, periods, np.zeros_like(film), substrate, (600, 600)) is None


@pytest.mark.parametrize("rotation", [30.0, -25.0, 200.0])
def test_tin_a_survives_a_drift_that_changes_during_the_scan(rotation):
    # slow-scan drift changing by 2 % in scale and 2° in shear from the top row to the bottom one
    sim = simulate(SimulationParams(shape=(448, 448), pixel_size_A=0.1, rotation_deg=rotation, seed=5,
                                    tin_strain_pct=0.6, drift_stretch_gradient=0.02,
                                    drift_shear_gradient=TWO_DEGREES))
    report = analyze(sim.data, pixel_size=sim.pixel_size_A)
    a, true_a = report.strain.tin_inplane_A, sim.truth.tin_inplane_A
    calibration = report.calibration
    assert a == pytest.approx(true_a, rel=1.5e-3)
    assert report.strain.ci95_pct[0] <= 100 * (true_a / report.strain.reference_A - 1) <= report.strain.ci95_pct[1]
    # taken out as a wander of the rows (a stretch that changes steadily moves each row by a quadratic) or as
    # a row scale: without it, the TiN a would be off by more than the 0.15 % it is within now
    undone = (1 + (calibration.tin_row_correction_pct or 0) / 100) * (1 + (calibration.tin_wander_correction_pct or 0) / 100)
    assert abs(100 * (a * undone / true_a - 1)) > 0.2
    assert calibration.row_scale_applied or calibration.scan_wander_px > 0.5
    assert calibration.tin_scan_correction_err_pct > 0
    assert any(m.startswith("scan distortion:") for m in report.messages)


def test_a_line_length_that_changes_during_the_frame_keeps_the_truth_in_the_ci():
    # a fast-scan scale that changes during the frame, on tilted planes: each line is stretched by its own
    # amount, which bends the tilted planes as a row wander would and changes their periods from row to row;
    # taken out as a wander (the film's planes must share one period), the TiN a is right and the CI holds
    sim = simulate(SimulationParams(shape=(448, 448), pixel_size_A=0.1, rotation_deg=30, seed=5, tin_strain_pct=0.6,
                                    drift_scale_gradient=0.02))
    report = analyze(sim.data, pixel_size=sim.pixel_size_A)
    lo, hi = report.strain.ci95_pct
    assert lo <= 100 * (sim.truth.tin_inplane_A / report.strain.reference_A - 1) <= hi
    assert report.strain.tin_inplane_A == pytest.approx(sim.truth.tin_inplane_A, rel=3e-3)
    assert report.calibration.scan_wander_px > 0.5 and report.strain.strain_verdict in ("ok", "inconclusive")


@pytest.mark.parametrize("shear", [0.0, 0.02, -0.03])
def test_the_shear_is_read_from_the_stacking_of_film_and_tin(shear):
    # level planes: an image shear of `shear` x px per row shifts each plane along itself by shear x height
    sim = simulate(SimulationParams(shape=(448, 448), pixel_size_A=0.1, rotation_deg=0, seed=3, drift_shear=shear))
    calibration = analyze(sim.data, pixel_size=sim.pixel_size_A).calibration
    expected = np.degrees(np.arctan(shear))
    for value, err in ((calibration.shear_deg, calibration.shear_err_deg),
                       (calibration.tin_shear_deg, calibration.tin_shear_err_deg)):
        assert abs(value) == pytest.approx(abs(expected), abs=max(3 * err, 0.1))
        assert err < 0.15
    assert abs(calibration.scale_map[0][1]) == pytest.approx(abs(shear), abs=0.003)
