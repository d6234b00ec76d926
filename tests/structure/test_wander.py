"""Scan wander along the rows, on hand-built columns with a known wander."""

import numpy as np
import pytest

from stemlayers.structure.wander import WANDER_PX, _posterior, fit_row_wander

SHAPE = (448, 448)


def _field(tilt_deg, wander_px, noise_px=0.03, seed=0):
    """Planes of a film (period 38 px) over a substrate (26 px) at `tilt_deg` to the rows; every column moved
    along x by `wander_px` x sin(row): (u, xy, plane, periods, is_film, true periods as measured)."""
    rng = np.random.default_rng(seed)
    tilt = np.radians(tilt_deg)
    along, across = np.array([np.cos(tilt), np.sin(tilt)]), np.array([-np.sin(tilt), np.cos(tilt)])
    centre = np.array(SHAPE[::-1]) / 2
    xy, plane, periods, is_film = [], [], [], []
    for i, height in enumerate(np.arange(-180, 181, 24.0)):
        film = height < 0  # rows run down: the film on top
        period = 38.0 if film else 26.0
        steps = np.arange(-400, 401, period)
        points = centre + height * across + steps[:, None] * along
        inside = np.all((points > 8) & (points < np.array(SHAPE[::-1]) - 8), axis=1)
        if inside.sum() < 8:
            continue
        xy.append(points[inside])
        plane.append(np.full(inside.sum(), len(periods)))
        periods.append(period)
        is_film.append(film)
    xy = np.vstack(xy)
    moved = xy.copy()
    moved[:, 0] += wander_px * np.sin(2 * np.pi * 1.3 * xy[:, 1] / SHAPE[0] + 0.4)
    moved += rng.normal(0, noise_px, moved.shape)
    plane = np.concatenate(plane)
    u = moved @ along
    # what each plane's period reads with the wander in it: the slope of u against the column index
    measured = np.array([np.polyfit(np.arange((plane == p).sum()), np.sort(u[plane == p]), 1)[0]
                         for p in range(len(periods))])
    return u, moved, plane, np.array(periods), np.array(is_film), measured


def test_a_wander_is_found_and_each_plane_gets_back_its_period():
    u, xy, plane, periods, is_film, measured = _field(tilt_deg=25, wander_px=1.2)
    assert np.ptp(measured[is_film] / 38.0) > 0.004  # the wander changes the periods by up to 0.5 %
    wander = fit_row_wander(u, xy, plane, measured, is_film, SHAPE, WANDER_PX)
    assert wander.applied and wander.extent_px == pytest.approx(2.4, rel=0.3)
    corrected = measured / wander.factor
    assert np.abs(corrected / periods - 1).max() < 1e-3
    change, change_err = wander.substrate_change, wander.substrate_change_err
    true_change = np.log(measured[~is_film] / 26.0).mean() - np.log(measured[is_film] / 38.0).mean()
    assert abs(true_change) > 0.004  # the substrate's periods against the film's: off by more than 0.4 %
    assert abs(change - true_change) < max(3 * change_err, 2e-4) and change_err < 5e-4


def test_no_wander_no_correction():
    u, xy, plane, periods, is_film, measured = _field(tilt_deg=25, wander_px=0.0)
    wander = fit_row_wander(u, xy, plane, measured, is_film, SHAPE, WANDER_PX)
    assert not wander.applied and np.all(wander.factor == 1.0) and (wander.substrate_change, wander.substrate_change_err) == (0, 0)


def test_planes_level_with_the_rows_neither_see_nor_suffer_a_wander():
    u, xy, plane, periods, is_film, measured = _field(tilt_deg=0, wander_px=1.2)
    assert np.abs(measured / periods - 1).max() < 2e-3
    wander = fit_row_wander(u, xy, plane, measured, is_film, SHAPE, WANDER_PX)
    assert np.abs(wander.factor - 1).max() < 1e-3


def test_too_few_rulers_no_fit():
    u, xy, plane, periods, is_film, measured = _field(tilt_deg=25, wander_px=1.2)
    lone = np.where(np.arange(len(periods)) == 3, measured, np.nan)
    assert fit_row_wander(u, xy, plane, lone, is_film, SHAPE, WANDER_PX) is None


def test_a_design_with_nothing_to_weigh_gives_no_evidence_not_an_error():
    # two terms that move every column alike, against the noise floor of a plane set with no scatter: the
    # posterior precision is singular in floating point (np.linalg.inv raised, and the analysis stopped)
    design = np.ones((10, 2))
    coef, cov, evidence = _posterior(design, np.zeros(10), noise=1e-12, amplitude=1.0)
    assert evidence == -np.inf
    assert np.all(coef == 0.0)
