"""A real napari viewer opens under the CI's virtual X server and shows a calibrated image.

This guards the set-up the napari plugin needs (xvfb, Mesa GL, Qt); the plugin itself is tested in
test_napari_plugin.py.
"""

import os

import numpy as np
import pytest

napari = pytest.importorskip("napari")
if not os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM") not in ("offscreen", "minimal"):
    pytest.skip("no display: run the suite with scripts/test.sh (xvfb-run)", allow_module_level=True)

from stemlayers.simulate import simulate  # noqa: E402


def test_viewer_shows_a_calibrated_simulated_image(make_napari_viewer):
    sim = simulate(shape=(128, 128), pixel_size_A=0.1)
    viewer = make_napari_viewer(show=True)
    layer = viewer.add_image(sim.data, scale=(sim.pixel_size_A,) * 2, units=("angstrom",) * 2, name="sim")
    assert layer.scale == pytest.approx([0.1, 0.1])
    assert str(layer.units[0]) == "angstrom"
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot.ndim == 3 and shot.shape[2] == 4
    # the rendered canvas shows the lattice: bright and dark pixels, not a blank frame
    grey = shot[..., :3].mean(axis=2)
    assert grey.max() > 150 and np.percentile(grey, 10) < 60
