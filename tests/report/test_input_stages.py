"""The one front end of the CLI, the batch and napari: what the user gave, made into the image to analyse."""

from pathlib import Path

import pytest

from stemlayers.report.analysis import REFERENCE_STAGE, input_stages, run_to_end
from stemlayers.simulate import SimulationParams, simulate, write_simulation

SAMPLE = Path(__file__).resolve().parents[2] / "sample_images" / "bi2te3_vdw.tif"


def _stages_and_result(stages):
    names = []
    while True:
        try:
            names.append(next(stages))
        except StopIteration as finished:
            return names, finished.value


def test_a_reference_is_measured_first_and_the_image_is_handed_over(tmp_path):
    sim = simulate(SimulationParams(field="tin_only", shape=(192, 192), seed=1, tin_strain_pct=-1.0))
    reference = write_simulation(sim, tmp_path / "bare_tin.hspy")
    names, given = _stages_and_result(input_stages(SAMPLE, reference=reference))
    assert names == [REFERENCE_STAGE]
    assert Path(given.image.path).name == SAMPLE.name
    assert given.reference_A == pytest.approx(sim.truth.tin_inplane_A, rel=0.005)
    assert 0 < given.reference_err_A < 0.01


def test_a_plain_image_needs_no_stage_and_a_reference_alone_gives_no_image():
    names, given = _stages_and_result(input_stages(SAMPLE))
    assert names == [] and given.image.pixel_size_A == pytest.approx(0.1, rel=0.2) and given.reference_A is None
    assert run_to_end(input_stages()).image is None
