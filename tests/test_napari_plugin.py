"""The napari plugin in a real viewer (make_napari_viewer under xvfb-run): reader, samples, widget, exports.

Values are checked against the simulator's truth: the pixel size of each sample file, the columns
and planes of an analysed sample, and the interface class.
"""

import json
import os

import numpy as np
import pytest

napari = pytest.importorskip("napari")
pytest.importorskip("napari_stemlayers")
if not os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM") not in ("offscreen", "minimal"):
    pytest.skip("no display: run the suite with scripts/test.sh (xvfb-run)", allow_module_level=True)

from napari.utils.notifications import notification_manager  # noqa: E402

from stemlayers.analysis import STAGES  # noqa: E402
from stemlayers.samples import sample_file, sample_names  # noqa: E402
from stemlayers.simulate import SimulationParams, load_truth, simulate  # noqa: E402
from stemlayers.simulate.score import match_points  # noqa: E402

PLUGIN = "napari-stemlayers"
WIDGET = "Interface analysis"


@pytest.fixture
def notifications():
    """Every napari notification shown during the test."""
    shown = []
    notification_manager.notification_ready.connect(shown.append)
    yield shown
    notification_manager.notification_ready.disconnect(shown.append)


def _analysis_widget(viewer):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    return widget


def _wait(qtbot, widget, timeout_ms=120_000):
    qtbot.waitUntil(lambda: widget.worker is None, timeout=timeout_ms)


def test_reader_gives_each_sample_its_calibration(make_napari_viewer):
    viewer = make_napari_viewer()
    for name in sample_names():
        path = sample_file(name)
        (layer,) = viewer.open(path, plugin=PLUGIN)
        truth = load_truth(path)
        assert layer.data.shape == truth.shape
        assert layer.scale == pytest.approx([truth.pixel_size_A] * 2, rel=1e-6), name
        assert [str(u) for u in layer.units] == ["angstrom", "angstrom"]
        facts = layer.metadata["stemlayers"]
        assert facts["path"] == str(path) and facts["pixel_size_A"] == pytest.approx(truth.pixel_size_A)
        assert facts["format"] and facts["original_units"] == "Å"  # the file's own metadata is kept
    assert len(viewer.layers) == len(sample_names())


def test_sample_data_opens_calibrated(make_napari_viewer):
    viewer = make_napari_viewer()
    (layer,) = viewer.open_sample(PLUGIN, "bi2se3_bilayer_rotated")
    assert layer.scale == pytest.approx([0.09, 0.09])
    assert str(layer.units[0]) == "angstrom"


def test_bad_file_is_a_one_line_notification_naming_it(make_napari_viewer, notifications, tmp_path):
    viewer = make_napari_viewer()
    bad = tmp_path / "notes.dm3"
    bad.write_text("this is a text file, not a DigitalMicrograph image\n")
    good = sample_file("bi2te3_vdw.tif")
    layers = viewer.open([str(bad), str(good)], plugin=PLUGIN, stack=False)
    assert [layer.name for layer in layers] == ["bi2te3_vdw"]  # the good file still opens
    errors = [n for n in notifications if n.severity == "error"]
    assert len(errors) == 1
    message = str(errors[0].message)
    assert "notes.dm3" in message and "\n" not in message and "Traceback" not in message


def test_widget_run_makes_columns_planes_plot_and_verdict(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    path = sample_file("bi2te3_bilayer.hspy")
    (image,) = viewer.open(path, plugin=PLUGIN)
    widget = _analysis_widget(viewer)
    worker = widget.run()
    assert worker is not None and widget.cancel_button.enabled
    _wait(qtbot, widget)
    report = widget.report
    assert report is not None and report.interface["class"] == "bilayer"
    truth = load_truth(path)

    points = viewer.layers["bi2te3_bilayer columns"]
    assert len(points.data) == report.n_columns
    for column in ("plane", "material", "element", "amplitude", "sigma_A", "x_err_pm", "y_err_pm"):
        assert column in points.features.columns
    # in calibrated coordinates: the points sit on the true columns, in Å
    assert points.scale == pytest.approx(image.scale) and [str(u) for u in points.units] == ["angstrom"] * 2
    visible = truth.xy[truth.visible()]
    found, true = match_points(points.data[:, ::-1], visible, 0.5 / truth.pixel_size_A)
    assert len(found) >= 0.98 * len(visible) and len(found) >= 0.98 * len(points.data)
    assert np.median(np.hypot(*(points.data[found, ::-1] - visible[true]).T)) * truth.pixel_size_A < 0.05
    # coloured by plane: one colour per plane, columns in no plane grey
    plane = points.features["plane"].to_numpy()
    for k in np.unique(plane[plane >= 0])[:5]:
        assert len(np.unique(points.face_color[plane == k], axis=0)) == 1
    assert not np.allclose(points.face_color[plane == 0][0], points.face_color[plane == 1][0])

    planes = viewer.layers["bi2te3_bilayer planes"]
    assert planes.shape_type and set(planes.shape_type) == {"line"}
    assert len(planes.data) == sum(L["n_columns"] >= 2 for L in report.layers)
    # every true plane with a few visible columns in view (N planes are invisible)
    _, members = np.unique(truth.plane[truth.visible() & (truth.plane >= 0)], return_counts=True)
    assert abs(len(planes.data) - np.sum(members >= 3)) <= 1
    labels = planes.features["label"]
    assert labels.str.endswith("Å").sum() == len(planes.data) - 1  # the last plane has no next
    assert planes.scale == pytest.approx(image.scale)

    # the docked plot shows the profile (one point per spacing) and the TiN panel
    profile_ax, strain_ax = widget._plot.axes
    n_points = sum(len(line.get_xdata()) for line in profile_ax.lines if line.get_linestyle() == "None")
    n_points += sum(len(c.get_offsets()) for c in profile_ax.collections)
    assert n_points >= len(report.layers) - 1
    assert "TiN" in strain_ax.get_title()
    assert "class: bilayer" in widget.summary.value and "strain < 1 %: ok" in widget.summary.value

    # re-running replaces the result layers
    again = widget.run(blocking=True)
    assert again.n_columns == report.n_columns
    assert [layer.name for layer in viewer.layers] == ["bi2te3_bilayer", "bi2te3_bilayer columns",
                                                       "bi2te3_bilayer planes"]

    # exports
    saved = json.loads(widget.export_json(tmp_path / "r.json").read_text())
    assert saved["interface"]["class"] == "bilayer"
    columns_csv, layers_csv = widget.export_tables(tmp_path / "r.csv")
    assert len(columns_csv.read_text().splitlines()) == report.n_columns + 1
    assert len(layers_csv.read_text().splitlines()) == len(report.layers) + 1
    assert widget.export_figure(tmp_path / "r.png").stat().st_size > 20_000
    import atomap.api as am

    lattice = am.load_atom_lattice_from_hdf5(str(widget.export_sublattice(tmp_path / "r.hspy")),
                                             construct_zone_axes=False)
    assert len(lattice.sublattice_list[0].atom_list) == report.n_columns


def test_uncalibrated_layer_asks_for_the_pixel_size(make_napari_viewer, notifications):
    viewer = make_napari_viewer()
    sim = simulate(shape=(128, 128), pixel_size_A=0.1)
    viewer.add_image(sim.data, name="plain")
    widget = _analysis_widget(viewer)
    assert widget.run(blocking=True) is None
    message = str([n for n in notifications if n.severity == "error"][-1].message)
    assert "plain" in message and "pixel size" in message
    assert len(viewer.layers) == 1
    widget.pixel_size.value = 0.1  # with the pixel size entered it runs
    assert widget.run(blocking=True).n_columns >= 0.9 * sim.truth.visible().sum()


def test_a_wrong_pixel_size_is_a_warning_and_changes_no_verdict(make_napari_viewer, notifications):
    viewer = make_napari_viewer()
    sim = simulate(shape=(256, 256), pixel_size_A=0.1, interface="vdw", seed=2)
    viewer.add_image(sim.data, name="miscalibrated")
    widget = _analysis_widget(viewer)
    widget.pixel_size.value = 0.092  # the file says 8 % less than the lattice implies
    report = widget.run(blocking=True)
    assert report.interface["class"] == "vdw" and report.strain["strain_verdict"] == "ok"
    assert report.strain["tin_inplane_A"] == pytest.approx(sim.truth.tin_inplane_A, rel=0.003)
    warned = [str(n.message) for n in notifications if n.severity == "warning"]
    assert any("miscalibrated" in m and "smaller than the film lattice implies" in m for m in warned)
    assert "warning: file pixel size 8." in widget.summary.value


def test_reference_image_layer_sets_the_strain_reference(make_napari_viewer, qtbot):
    """A +2 % strained TiN sample fails the 1 % criterion against bulk TiN and passes against a bare
    TiN film strained the same way."""
    viewer = make_napari_viewer()
    (sample,) = viewer.open_sample(PLUGIN, "bi2te3_bilayer_strained")
    bare = simulate(SimulationParams(interface="vdw", n_ql=0, tin_strain_pct=2.0, shape=(384, 384), seed=21))
    reference = viewer.add_image(bare.data, name="bare TiN", scale=(bare.pixel_size_A,) * 2,
                                 units=("angstrom", "angstrom"))
    widget = _analysis_widget(viewer)
    against_bulk = widget.run(layer=sample, blocking=True)
    assert against_bulk.strain["deviation_pct"] == pytest.approx(2.0, abs=0.3)
    assert against_bulk.strain["strain_ok"] is False
    widget.reference_image.value = reference
    worker = widget.run(layer=sample)
    assert worker.pbar.total == len(STAGES) + 1  # the reference is measured first
    _wait(qtbot, widget)
    strain = widget.report.strain
    assert strain["reference_A"] == pytest.approx(bare.truth.tin_inplane_A, abs=0.003)
    assert abs(strain["deviation_pct"]) < 0.3 and strain["strain_ok"] is True


def _run_on_a_large_image(viewer, qtbot):
    """Start a run on a 1536 x 1536 image; return once the column finding has begun."""
    sim = simulate(SimulationParams(shape=(1536, 1536), pixel_size_A=0.1, seed=3))
    viewer.add_image(sim.data, name="large", scale=(0.1, 0.1), units=("angstrom", "angstrom"))
    widget = _analysis_widget(viewer)
    worker = widget.run()
    # the widget's status follows the stages (a test's own slot could miss the first, queued ones)
    qtbot.waitUntil(lambda: widget.status.value.startswith("find columns"), timeout=30_000)
    return widget, worker


def test_cancel_stops_a_run_without_results(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget, worker = _run_on_a_large_image(viewer, qtbot)
    with qtbot.waitSignal(worker.aborted, timeout=60_000):
        widget.cancel()
    _wait(qtbot, widget)
    assert widget.report is None and [layer.name for layer in viewer.layers] == ["large"]
    assert widget.status.value == "cancelled" and widget.run_button.enabled


def test_closing_the_viewer_during_a_run_does_not_hang(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _, worker = _run_on_a_large_image(viewer, qtbot)
    with qtbot.waitSignal(worker.aborted, timeout=60_000):  # napari quits the worker at its next stage
        viewer.close()


def test_screenshot_after_a_run_shows_coloured_columns(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer(show=True)
    viewer.open_sample(PLUGIN, "bi2se3_bilayer_rotated")
    widget = _analysis_widget(viewer)
    assert widget.run(blocking=True).interface["class"] == "bilayer"
    viewer.reset_view()
    shot = viewer.screenshot(str(tmp_path / "shot.png"), canvas_only=True, flash=False)
    assert (tmp_path / "shot.png").stat().st_size > 10_000
    rgb = shot[..., :3].astype(int)
    # the plane colours are saturated; the grey image is not
    saturated = (rgb.max(axis=2) - rgb.min(axis=2)) > 80
    assert saturated.mean() > 0.005
    assert rgb.mean() > 10  # not a blank frame


def test_columns_open_in_napari_features_table(make_napari_viewer, qtbot):
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QTableView

    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "bi2te3_vdw")
    report = _analysis_widget(viewer).run(blocking=True)
    _, table = viewer.window.add_plugin_dock_widget("napari", "Features table widget")
    viewer.layers.selection.active = viewer.layers["bi2te3_vdw columns"]
    qtbot.wait(50)
    models = [view.model() for view in table.findChildren(QTableView)]
    shown = [m for m in models if m.rowCount() == report.n_columns]
    assert shown, [m.rowCount() for m in models]
    header = [shown[0].headerData(i, Qt.Orientation.Horizontal) for i in range(shown[0].columnCount())]
    assert {"plane", "material", "element", "x_err_pm", "sigma_A"} <= set(header)


def test_export_buttons_write_the_chosen_files(make_napari_viewer, monkeypatch, tmp_path, notifications):
    """The Save buttons: the file dialog (answered here) names the file, the export writes it."""
    from qtpy.QtWidgets import QFileDialog

    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "bi2te3_vdw")
    widget = _analysis_widget(viewer)
    assert not any(button.enabled for button, *_ in widget._exports)  # nothing to save before a run
    report = widget.run(blocking=True)
    targets = iter([tmp_path / "vdw.json", tmp_path / "vdw.csv", tmp_path / "vdw.svg", tmp_path / "vdw.hspy"])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(next(targets)), ""))
    for button, *_ in widget._exports:
        button.native.click()
    assert json.loads((tmp_path / "vdw.json").read_text())["interface"]["class"] == report.interface["class"]
    assert (tmp_path / "vdw_columns.csv").exists() and (tmp_path / "vdw_layers.csv").exists()
    assert (tmp_path / "vdw.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "vdw.hspy").stat().st_size > 10_000
    assert sum("saved" in str(n.message) for n in notifications) == 4
