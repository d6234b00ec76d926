"""Simulated interfaces that change along their length: the truth of segments and terrace steps."""

import numpy as np
import pytest

from stemlayers.simulate import SimulationParams, simulate
from stemlayers.simulate.lateral import sample_lateral_params


def test_segments_carry_their_own_class_and_terrace():
    sim = simulate(SimulationParams(system="Bi2Te3/TiN", shape=(300, 600), pixel_size_A=0.1, seed=2,
                                    segments=((-1e3, "bilayer", 0), (0.0, "vdw", 1))))
    t = sim.truth
    assert [s["class"] for s in t.segments] == ["bilayer", "vdw"]
    assert t.interface == "mixed" and sum(t.coverage.values()) == pytest.approx(1.0)
    assert sum(s["length_A"] for s in t.segments) == pytest.approx(60.0, abs=1.0)  # the field's width
    (step,) = t.steps
    assert step["height_planes"] == 1 and step["height_A"] == pytest.approx(2.448, abs=0.01)
    # the bilayer planes lie on the left part only, and the vdW part's film one TiN plane lower
    bilayer = np.isin(t.plane, np.flatnonzero(t.plane_material == "bilayer"))
    assert t.x_px[bilayer].max() < step["at_px"][0] + 5
    right = t.x_px > step["at_px"][0] + 20
    ti_right = right & (t.element == "Ti")
    assert t.v_A[ti_right].max() == pytest.approx(-2.448, abs=0.01)


def test_a_uniform_field_has_no_segments():
    sim = simulate(SimulationParams(shape=(128, 128), seed=1))
    assert sim.truth.segments == [] and sim.truth.steps == [] and sim.truth.coverage == {}


@pytest.mark.parametrize("seed", range(4))
def test_drawn_fields_are_wide_and_their_boundaries_apart(seed):
    params = sample_lateral_params(np.random.default_rng(seed), n_boundaries=3)
    starts = [s[0] for s in params.segments[1:]]
    assert len(params.segments) == 4 and np.all(np.diff(starts) >= 20.0)
    assert 85.0 <= params.shape[1] * params.pixel_size_A <= 115.0
    assert 39.0 <= params.shape[0] * params.pixel_size_A <= 51.0
