"""Fuzz stemlayers.load: random bytes and mutated real files raise InputError, never anything else."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stemlayers import InputError, load
from stemlayers.simulate import SimulationParams, simulate, write_simulation

SUFFIXES = [".dm3", ".dm4", ".emd", ".hspy", ".tif", ".mrc", ".ser", ".npy", ".png", ".zspy", ".bin"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load_quietly(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            image = load(path, pixel_size=0.1)
        except InputError as exc:
            assert str(path.name) in str(exc)
            return None
    assert image.data.ndim == 2 and np.isfinite(image.data).all()
    return image


@FUZZ
@given(data=st.binary(max_size=4096), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    _load_quietly(path)


@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    sim = simulate(SimulationParams(shape=(64, 64)))
    return [write_simulation(sim, root / f"real{suffix}") for suffix in (".hspy", ".tif", ".emd")]


@FUZZ
@given(which=st.integers(0, 2), cut=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)),
                                                                          max_size=8))
def test_mutated_real_files(tmp_path, real_files, which, cut, flips):
    original = Path(real_files[which]).read_bytes()
    data = bytearray(original[:max(1, int(len(original) * cut))] if cut < 0.98 else original)
    for where, value in flips:
        if data:
            data[int(where * (len(data) - 1))] = value
    path = tmp_path / f"mutated{Path(real_files[which]).suffix}"
    path.write_bytes(bytes(data))
    _load_quietly(path)
