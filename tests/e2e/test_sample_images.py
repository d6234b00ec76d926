"""The bundled sample images: what the README promises, calibrated, with truth, regenerable."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from stemlayers import load
from stemlayers.simulate import SimulationParams, load_truth, simulate

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "sample_images"
spec = importlib.util.spec_from_file_location("make_samples", SAMPLES_DIR / "make_samples.py")
make_samples = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_samples)

FILES = [SAMPLES_DIR / name for name, _, _ in make_samples.SAMPLES]


def test_the_set_covers_both_systems_all_classes_strain_and_rotation():
    truths = [load_truth(f) for f in FILES]
    assert len(FILES) >= 8
    assert {(t.system, t.interface) for t in truths} == {
        (s, i) for s in ("Bi2Te3/TiN", "Bi2Se3/TiN") for i in ("bilayer", "vdw", "deteriorated")}
    assert any(t.tin_strain_pct == pytest.approx(2.0) for t in truths)
    # rotated and upside down: the growth direction points down the image
    assert any(t.growth_dir[1] > 0.5 and t.params["flip"] for t in truths)
    assert {f.suffix for f in FILES} >= {".hspy", ".tif"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_sample_is_small_calibrated_and_matches_its_truth(path):
    assert path.stat().st_size < 2_000_000
    image = load(path)
    truth = load_truth(path)
    assert image.pixel_size_A == pytest.approx(truth.pixel_size_A, rel=1e-6)
    assert image.data.shape == tuple(truth.shape)
    assert image.name in (SAMPLES_DIR / "README.md").read_text(encoding="utf-8")


def test_regenerating_a_sample_gives_the_same_image():
    name, _, kwargs = make_samples.SAMPLES[0]
    sim = simulate(SimulationParams(**{**make_samples.COMMON, **kwargs}))
    assert np.array_equal(sim.data, load(SAMPLES_DIR / name).data)
    assert np.allclose(sim.truth.xy, load_truth(SAMPLES_DIR / name).xy)
