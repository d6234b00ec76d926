"""TiN a, its CI and the strain verdict on hand-built planes."""

import json

import numpy as np
import pytest

from hand_built import TE
from stemlayers.structure.calibration import Calibration
from stemlayers.structure.grouping import AtomicPlane
from stemlayers.verdict.strain import Strain, check_strain, strain_verdict


def test_strain_verdict_has_three_outcomes():
    assert strain_verdict([-0.4, 0.3], 1.0) == "ok"
    assert strain_verdict([1.1, 1.6], 1.0) == "strained"
    assert strain_verdict([-1.6, -1.2], 1.0) == "strained"
    assert strain_verdict([0.7, 1.3], 1.0) == "inconclusive"


def _layer(material, height, period, err=1e-3):
    return AtomicPlane(height, 0.005, None, None, material, None, period, err, 100.0, 20, 0.02)


@pytest.mark.parametrize("file_error", [0.85, 1.0, 1.15])
def test_check_strain_on_the_film_standard(file_error):
    tin_true = 2.998 * 1.015  # 1.5 % strained TiN; layers' periods are on the film's standard already
    layers = [_layer("TiN", -2.4, tin_true * np.sqrt(3) / 2), _layer("TiN", 0, tin_true * np.sqrt(3) / 2),
              _layer("TI", 3.0, 3.798), _layer("TI", 5.0, 3.798)]
    calibration = Calibration(0.1, inplane_scale=file_error, inplane_scale_err=1e-4)
    s = check_strain(layers, TE, calibration=calibration)
    assert s.tin_inplane_A == pytest.approx(tin_true, rel=1e-9)
    assert s.tin_inplane_direct_A == pytest.approx(tin_true * file_error, rel=1e-9)  # on the file's calibration
    assert s.deviation_pct == pytest.approx(1.5, abs=1e-6)
    assert s.strain_ok is False and s.strain_verdict == "strained" and s.calibrated_on == "film"
    assert [p.height_A for p in s.per_plane] == [-2.4, 0.0]
    assert s.per_plane[0].tin_inplane_A == pytest.approx(tin_true, rel=1e-9)
    assert Strain.from_dict(json.loads(json.dumps(s.to_dict()))) == s  # typed per-plane records survive JSON
    quiet = check_strain(layers, TE, calibration=calibration, decidable=False)
    assert quiet.tin_inplane_A == s.tin_inplane_A and quiet.strain_ok is None and quiet.strain_verdict is None


def _film_standard_sys_pct(film_periods, film_errors):
    tin_period = 2.998 * np.sqrt(3) / 2
    layers = [_layer("TiN", -2.4 * k, tin_period) for k in range(4)]
    layers += [_layer("TI", 3.0 + 2 * k, p, e) for k, (p, e) in enumerate(zip(film_periods, film_errors))]
    calibration = Calibration(0.1, inplane_scale=1.0, inplane_scale_err=1e-5)
    s = check_strain(layers, TE, calibration=calibration)
    return 100 * s.tin_inplane_sys_err_A / s.tin_inplane_A


def test_a_few_stray_planes_do_not_widen_the_systematic_error():
    """Faint planes whose errors understate their scatter must not pass for a scale that changes across the
    field: the systematic error stays the film standard's 0.1 %."""
    rng = np.random.default_rng(0)
    periods = 3.798 * (1 + 1e-4 * rng.standard_normal(10))
    errors = np.full(10, 3.798e-4)
    periods[[2, 7]] = 3.798 * np.array([0.985, 1.02])  # two stray planes with small stated errors
    assert _film_standard_sys_pct(periods, errors) == pytest.approx(0.1, abs=0.005)


def test_a_scale_that_changes_from_plane_to_plane_widens_the_systematic_error():
    """A scale that varies by 0.3 % (1σ) from plane to plane (a wandering scan), each period measured to
    0.01 %: the spread is the scale's, and the systematic error grows to about it."""
    periods = 3.798 * (1 + 0.003 * np.random.default_rng(1).standard_normal(40))
    sys_pct = _film_standard_sys_pct(periods, np.full(40, 3.798e-4))
    assert sys_pct == pytest.approx(np.hypot(0.1, 0.3), rel=0.25)
