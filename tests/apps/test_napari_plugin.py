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

from stemlayers.report.analysis import STAGES  # noqa: E402
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
    assert report is not None and report.interface.interface_class == "bilayer"
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
    # hollow rings edged by plane: one colour per plane, columns in no plane grey
    plane = points.features["plane"].to_numpy()
    assert np.allclose(points.face_color[:, 3], 0.0)
    for k in np.unique(plane[plane >= 0])[:5]:
        assert len(np.unique(points.border_color[plane == k], axis=0)) == 1
    assert not np.allclose(points.border_color[plane == 0][0], points.border_color[plane == 1][0])
    # each ring is its column's fitted FWHM across, in Å on screen (the layer scales pixels to Å)
    sigma_A = points.features["sigma_A"].to_numpy()
    world_size = points.size * points.scale[-1]
    ok = np.isfinite(sigma_A) & (world_size > 3.0 * points.scale[-1] + 1e-9)
    assert ok.mean() > 0.9
    assert world_size[ok] == pytest.approx(2 * np.sqrt(2 * np.log(2)) * sigma_A[ok], rel=1e-6)
    # ... and napari's scale bar is on, reading in the layers' unit (Å)
    assert viewer.scale_bar.visible
    assert [str(u) for u in viewer.layers.units] == ["angstrom", "angstrom"]

    planes = viewer.layers["bi2te3_bilayer planes"]
    assert planes.shape_type and set(planes.shape_type) == {"line"}
    assert len(planes.data) == sum(L.n_columns >= 2 for L in report.planes)
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
    assert n_points >= len(report.planes) - 1
    assert "TiN" in strain_ax.get_title()
    assert "class: bilayer" in widget.summary.value and "strain < 1 %: ok" in widget.summary.value

    # re-running replaces the result layers
    again = widget.run(blocking=True)
    assert again.n_columns == report.n_columns
    assert [layer.name for layer in viewer.layers] == ["bi2te3_bilayer", "bi2te3_bilayer columns",
                                                       "bi2te3_bilayer planes", "bi2te3_bilayer interface"]
    # the interface as one segment of its class (a sample field is uniform and flat: no steps layer)
    assert list(viewer.layers["bi2te3_bilayer interface"].features["class"]) == ["bilayer"]

    # exports
    saved = json.loads(widget.export_json(tmp_path / "r.json").read_text())
    assert saved["interface"]["class"] == "bilayer"
    columns_csv, layers_csv = widget.export_tables(tmp_path / "r.csv")
    assert len(columns_csv.read_text().splitlines()) == report.n_columns + 1
    assert len(layers_csv.read_text().splitlines()) == len(report.planes) + 1
    assert widget.export_figure(tmp_path / "r.png").stat().st_size > 20_000
    import atomap.api as am

    lattice = am.load_atom_lattice_from_hdf5(str(widget.export_sublattice(tmp_path / "r.hspy")),
                                             construct_zone_axes=False)
    assert len(lattice.sublattice_list[0].atom_list) == report.n_columns


def test_unset_fields_say_what_they_stand_for_and_pass_none(make_napari_viewer, monkeypatch):
    """At their minimum the pixel size and reference fields read "from the file" and "bare TiN (material
    file)", not 0.000, and the library gets None; an entered value goes through as it is."""
    import napari_stemlayers._convert
    import napari_stemlayers._widget as module

    calls = []

    def recording(name, real):
        def call(*args, **kwargs):
            calls.append((name, args, kwargs))
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(module, "image_from_layer", recording("image", napari_stemlayers._convert.image_from_layer))
    monkeypatch.setattr(module, "analyze_stages", recording("analyze", module.analyze_stages))
    viewer = make_napari_viewer()
    (layer,) = viewer.open_sample(PLUGIN, "bi2te3_vdw")
    widget = _analysis_widget(viewer)
    for box, text in ((widget.pixel_size, "from the file"), (widget.reference, "bare TiN (material file)")):
        assert box.value == box.min == 0.0
        assert box.native.specialValueText() == text and box.native.text() == text
        assert "0.000" not in box.native.text()
    assert widget.pixel_size_A is None and widget.reference_A is None
    report = widget.run(blocking=True)
    (_, image_args, _), (_, _, analyze_kwargs) = calls
    assert image_args[1] is None and analyze_kwargs["reference_A"] is None
    assert report.pixel_size_A == pytest.approx(layer.scale[-1])  # the file's calibration was used

    calls.clear()
    widget.pixel_size.value, widget.reference.value = 0.0905, 3.01
    assert widget.pixel_size.native.text() == "0.0905" and widget.reference.native.text() == "3.0100"
    widget.run(blocking=True)
    (_, image_args, _), (_, _, analyze_kwargs) = calls
    assert image_args[1] == pytest.approx(0.0905) and analyze_kwargs["reference_A"] == pytest.approx(3.01)
    widget.pixel_size.value = 0.0  # back to the minimum: the special text again
    assert widget.pixel_size.native.text() == "from the file" and widget.pixel_size_A is None


def test_result_box_is_tall_and_grows(make_napari_viewer):
    from qtpy.QtWidgets import QSizePolicy

    viewer = make_napari_viewer()
    box = _analysis_widget(viewer).summary.native
    assert box.minimumHeight() >= 14 * box.fontMetrics().lineSpacing()
    assert box.sizePolicy().verticalPolicy() == QSizePolicy.Policy.Expanding
    assert box.isReadOnly()


def _extents(artists, renderer):
    """Display boxes of the texts (of an annotation: its text, without its leader line)."""
    from napari_stemlayers._profile import text_extent

    return [text_extent(a, renderer) for a in artists if a.get_visible() and a.get_text()]


def test_profile_plot_labels_are_inside_and_apart(make_napari_viewer):
    """In the docked plot, from its smallest size up: every axis label, title, tick label and legend lies
    inside the figure, and the bulk-reference labels sit in the right margin, one per line, each naming
    its value; from a usual size up no axis label is longer than its panel and no reference label
    overlaps another."""
    from matplotlib.backend_bases import ResizeEvent

    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "bi2se3_bilayer_rotated")
    widget = _analysis_widget(viewer)
    assert widget.run(blocking=True).interface.interface_class == "bilayer"
    plot = widget._plot
    profile_ax, strain_ax = plot.axes
    refs = plot.reference_labels
    # TiN d(111), two QL spacings, the bilayer's Bi-Se, and one label for the three lines at ~2.6 Å (the vdW gap,
    # the TiN-bilayer and the bilayer-QL gaps)
    assert len(refs) >= 5
    inside = [t for t in profile_ax.texts if t not in refs and t.get_transform() is profile_ax.get_yaxis_transform()]
    assert not inside
    for label in refs:
        assert f"{label.xy[1]:.2f}" in label.get_text() or f"{label.xy[1]:.3f}" in label.get_text()
    minimum = plot.canvas.minimumSize()
    for width, height in ((minimum.width(), minimum.height()), (320, 420), (460, 600)):
        dpi = plot.figure.dpi
        plot.figure.set_size_inches(width / dpi, height / dpi)
        plot.canvas.callbacks.process("resize_event", ResizeEvent("resize_event", plot.canvas))
        plot.canvas.draw()
        renderer = plot.canvas.get_renderer()
        figure = plot.figure.bbox
        texts = [ax.title for ax in plot.axes] + [ax.xaxis.label for ax in plot.axes]
        texts += [ax.yaxis.label for ax in plot.axes]
        texts += [t for ax in plot.axes for t in ax.get_xticklabels() + ax.get_yticklabels()]
        texts += [t for legend in plot.legends for t in legend.get_texts()] + refs
        for text, box in zip(texts, _extents(texts, renderer)):
            assert figure.x0 - 1 <= box.x0 and box.x1 <= figure.x1 + 1, (height, text.get_text())
            assert figure.y0 - 1 <= box.y0 and box.y1 <= figure.y1 + 1, (height, text.get_text())
        for legend in plot.legends:
            box = legend.get_window_extent(renderer)
            assert figure.x0 - 1 <= box.x0 and box.x1 <= figure.x1 + 1
        boxes = sorted(_extents(refs, renderer), key=lambda b: b.y0)
        assert all(b.x0 >= profile_ax.bbox.x1 for b in boxes)  # in the margin, not over the points
        if height < 420:  # the smallest sizes: inside the figure is all that is asked
            continue
        for ax in plot.axes:
            assert ax.yaxis.label.get_window_extent(renderer).height <= ax.bbox.height + 1, height
            assert ax.xaxis.label.get_window_extent(renderer).width <= ax.bbox.width + 1, height
        for below, above in zip(boxes, boxes[1:]):
            assert below.y1 <= above.y0 + 0.5, height  # apart


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
    assert report.interface.interface_class == "vdw" and report.strain.strain_verdict == "ok"
    assert report.strain.tin_inplane_A == pytest.approx(sim.truth.tin_inplane_A, rel=0.003)
    warned = [str(n.message) for n in notifications if n.severity == "warning"]
    assert any("miscalibrated" in m and "is 0.920x (-8.0 ± " in m for m in warned)
    assert "warning: the pixel size 0.0920 Å/px (--pixel-size) is 0.920x" in widget.summary.value


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
    assert against_bulk.strain.deviation_pct == pytest.approx(2.0, abs=0.3)
    assert against_bulk.strain.strain_ok is False
    widget.reference_image.value = reference
    worker = widget.run(layer=sample)
    assert worker.pbar.total == len(STAGES) + 1  # the reference is measured first
    _wait(qtbot, widget)
    strain = widget.report.strain
    assert strain.reference_A == pytest.approx(bare.truth.tin_inplane_A, abs=0.003)
    assert abs(strain.deviation_pct) < 0.3 and strain.strain_ok is True


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
    assert widget.run(blocking=True).interface.interface_class == "bilayer"
    viewer.reset_view()
    shot = viewer.screenshot(str(tmp_path / "shot.png"), canvas_only=True, flash=False)
    assert (tmp_path / "shot.png").stat().st_size > 10_000
    rgb = shot[..., :3].astype(int)
    # the plane colours are saturated; the grey image is not
    saturated = (rgb.max(axis=2) - rgb.min(axis=2)) > 80
    assert saturated.mean() > 0.005
    assert rgb.mean() > 10  # not a blank frame


def test_columns_show_through_the_markers(make_napari_viewer):
    """The brightest pixels of the image (the column cores) look the same with the column markers on: the
    markers are rings, not discs over the columns."""
    viewer = make_napari_viewer(show=True)
    viewer.open_sample(PLUGIN, "bi2se3_bilayer_rotated")
    _analysis_widget(viewer).run(blocking=True)
    viewer.layers["bi2se3_bilayer_rotated planes"].visible = False  # its lines run through the cores
    points = viewer.layers["bi2se3_bilayer_rotated columns"]
    viewer.reset_view()
    points.visible = False
    bare = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    points.visible = True
    shot = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    grey = bare.mean(axis=2)
    cores = grey >= np.percentile(grey, 99.5)  # the centres of the bright columns
    changed = np.abs(shot - bare).max(axis=2) > 40
    assert changed.mean() > 0.01  # the rings are drawn
    assert changed[cores].mean() < 0.05  # ... around the cores, which stay as they are (discs: ~0.8)


def test_screenshot_script_leaves_the_tracked_picture_alone(tmp_path):
    """docs/napari_screenshot.py writes to a temporary folder unless given --out."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "docs" / "napari_screenshot.py"
    spec = importlib.util.spec_from_file_location("napari_screenshot", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    default = module.default_path()
    assert default.resolve() != (script.parent / "napari_plugin.png").resolve()
    assert script.parent.resolve() not in default.resolve().parents
    assert module.parse_args([]).out is None  # main(None) writes to default_path()
    assert module.parse_args(["--out", str(tmp_path / "x.png")]).out == tmp_path / "x.png"


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
    assert json.loads((tmp_path / "vdw.json").read_text())["interface"]["class"] == report.interface.interface_class
    assert (tmp_path / "vdw_columns.csv").exists() and (tmp_path / "vdw_layers.csv").exists()
    assert (tmp_path / "vdw.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "vdw.hspy").stat().st_size > 10_000
    assert sum("saved" in str(n.message) for n in notifications) == 4


def test_the_manifest_lists_the_suffixes_the_reader_takes():
    """One source for the readable formats: the manifest's patterns are stemlayers.io.read.MICROSCOPE_SUFFIXES."""
    from importlib.resources import files

    import yaml

    from napari_stemlayers._reader import get_reader
    from stemlayers.io.read import MICROSCOPE_SUFFIXES

    manifest = yaml.safe_load((files("napari_stemlayers") / "napari.yaml").read_text())
    patterns = [p for reader in manifest["contributions"]["readers"] for p in reader["filename_patterns"]]
    assert sorted(p.lstrip("*") for p in patterns) == sorted(MICROSCOPE_SUFFIXES)
    assert get_reader("x.bcf") is not None and get_reader("x.png") is None


# ------------------------------------------------------------------ time series: registered, then analysed


def _series(n_frames=5, seed=1):
    from stemlayers.simulate.series import simulate_series

    return simulate_series(n_frames=n_frames, shape=(256, 256), dose=100, seed=seed)


def _write_stack(path, frames, pixel_size_A=0.1, axis=("time", "s", 0.5)):
    """The frames as a hyperspy stack: image axes in Å, the stack axis (name, units, scale) as given."""
    import hyperspy.api as hs

    signal = hs.signals.Signal2D(frames)
    nav = signal.axes_manager.navigation_axes[0]
    nav.name, nav.units, nav.scale = axis
    for ax in signal.axes_manager.signal_axes:
        ax.scale, ax.units = pixel_size_A, "Å"
    signal.save(str(path), overwrite=True)
    return path


def test_reader_opens_a_time_series_as_frames(make_napari_viewer, notifications, tmp_path):
    """A stack opens as a 3D layer (frame, y, x): one step per frame, the image axes in Å; a tilt series
    is no time series and gives a one-line error naming the file."""
    viewer = make_napari_viewer()
    sim = _series()
    path = _write_stack(tmp_path / "stack.hspy", sim.frames)
    (layer,) = viewer.open(path, plugin=PLUGIN)
    assert layer.name == "stack" and layer.data.shape == sim.frames.shape
    assert layer.scale == pytest.approx([1.0, 0.1, 0.1])
    assert [str(u) for u in layer.units] == ["pixel", "angstrom", "angstrom"]
    assert tuple(layer.axis_labels) == ("frame", "y", "x")
    facts = layer.metadata["stemlayers"]
    assert facts["path"] == str(path) and facts["n_frames"] == 5 and facts["frame_time_s"] == pytest.approx(0.5)

    tilt = _write_stack(tmp_path / "tilt.hspy", sim.frames, axis=("tilt", "deg", 2.0))
    assert viewer.open(tilt, plugin=PLUGIN) == []
    (error,) = [n for n in notifications if n.severity == "error"]
    assert "tilt.hspy" in str(error.message) and "\n" not in str(error.message)
    assert len(viewer.layers) == 1


def test_widget_registers_a_stack_then_analyses_it(make_napari_viewer, qtbot, tmp_path):
    """A stack layer is registered in the worker thread; the registered image becomes a 2D layer on the
    stack's scale, carries the result layers, and the docked plot shows the drift of each frame."""
    viewer = make_napari_viewer()
    sim = _series()
    (stack,) = viewer.open(_write_stack(tmp_path / "stack.hspy", sim.frames), plugin=PLUGIN)
    widget = _analysis_widget(viewer)
    worker = widget.run(layer=stack)
    assert worker.pbar.total == len(STAGES) + 1  # registration is a stage of its own
    _wait(qtbot, widget)
    report = widget.report
    assert report is not None and report.interface.interface_class == sim.truth.interface
    series = report.series
    assert series.n_frames == 5 and series.used == [0, 1, 2, 3, 4] and not series.rejected

    registered = viewer.layers["stack registered"]
    assert registered.ndim == 2 and registered.data.shape == report.image.data.shape
    assert registered.scale == pytest.approx([0.1, 0.1])
    assert registered.translate == pytest.approx(0.1 * np.array(series.crop_px[::-1]))
    columns = viewer.layers["stack registered columns"]
    assert "stack registered planes" in viewer.layers
    assert columns.scale == pytest.approx(registered.scale) and columns.translate == pytest.approx(registered.translate)
    # the columns, in Å, sit on the simulated field's columns (its drift has mean zero, as the registration's)
    visible = sim.truth.xy[sim.truth.visible()] * sim.pixel_size_A
    world = columns.data[:, ::-1] * 0.1 + registered.translate[::-1]
    found, true = match_points(world, visible, 0.5)
    assert len(found) >= 0.9 * len(columns.data)
    assert np.median(np.hypot(*(world[found] - visible[true]).T)) < 0.15

    plot = widget._plot
    assert not plot.drift_canvas.isHidden()
    for axis in ("x", "y"):
        line = plot.drift_lines[axis]
        assert list(line.get_xdata()) == [0, 1, 2, 3, 4]
        assert line.get_ydata() == pytest.approx(np.array(series.drift_A)[:, "xy".index(axis)])
    assert "rejected" not in plot.drift_lines
    assert "series: 5 frames, 5 used" in widget.summary.value
    assert widget.summary.value.splitlines()[0].startswith("stack")  # the verdicts stay on top
    assert "5 of 5 frames registered" in widget.status.value

    # run again (blocking): the registered layer and its results are replaced, not repeated
    assert widget.run(layer=stack, blocking=True).series.n_frames == 5
    assert [layer.name for layer in viewer.layers] == ["stack", "stack registered", "stack registered columns",
                                                       "stack registered planes", "stack registered interface"]
    # and a single image afterwards hides the drift panel
    widget.run(layer=registered, blocking=True)  # the registered layer is a 2D image: analysed as it is
    assert widget.report.series is not None  # it carries its series' facts
    viewer.add_image(sim.frames[0], name="one frame", scale=(0.1, 0.1), units=("angstrom", "angstrom"))
    widget.run(layer=viewer.layers["one frame"], blocking=True)
    assert plot.drift_canvas.isHidden() and plot.drift_axes is None
    assert "series:" not in widget.summary.value


def test_a_dim_frame_of_an_uncalibrated_stack_is_left_out_and_marked(make_napari_viewer, notifications):
    """A stack layer without calibration asks for the pixel size; with it entered the stack is registered,
    the dimmed (beam-damaged) frame left out, marked in the drift plot and named in the result text."""
    viewer = make_napari_viewer()
    sim = _series()
    frames = sim.frames.copy()
    frames[3] *= 0.7
    stack = viewer.add_image(frames, name="frames")
    widget = _analysis_widget(viewer)
    assert widget.run(layer=stack, blocking=True) is None
    message = str([n for n in notifications if n.severity == "error"][-1].message)
    assert "frames" in message and "pixel size" in message
    widget.pixel_size.value = 0.1
    report = widget.run(layer=stack, blocking=True)
    assert report.interface.interface_class == sim.truth.interface
    assert report.series.used == [0, 1, 2, 4]
    assert [r["frame"] for r in report.series.rejected] == [3]
    assert "frames registered" in viewer.layers
    plot = widget._plot
    assert len(plot.drift_lines["x"].get_xdata()) == len(plot.drift_lines["y"].get_xdata()) == 5
    assert list(plot.drift_lines["rejected"].get_xdata()) == [3, 3]
    assert "series: 5 frames, 4 used" in widget.summary.value
    assert "series: frame 3 rejected: intensity 70 %" in widget.summary.value


# ------------------------------------------------------------------ orthogonal scan pair: corrected, then analysed


def _scan_pair_layers(viewer):
    """A simulated pair of scans at 0° and 90° as two calibrated image layers; returns (first, second, sim)."""
    from stemlayers.simulate.series import simulate_scan_pair

    first, second, sim = simulate_scan_pair(seed=2, shape=(320, 320), dose=100, pixel_size_A=0.1,
                                            tin_strain_pct=0.5, rotation_deg=20)
    calibrated = {"scale": (0.1, 0.1), "units": ("angstrom", "angstrom")}
    return (viewer.add_image(first, name="scan 0", **calibrated),
            viewer.add_image(second, name="scan 90", **calibrated), sim)


def test_widget_corrects_a_scan_pair_then_analyses_it(make_napari_viewer, qtbot):
    """With a second scan (90°) chosen, the pair is drift-corrected in the worker thread; its mean becomes a
    2D layer "<name> scan pair" on the scans' scale, carries the result layers, and its TiN a is the truth's."""
    viewer = make_napari_viewer()
    first, second, sim = _scan_pair_layers(viewer)
    widget = _analysis_widget(viewer)
    widget.second_scan.reset_choices()
    widget.second_scan.value = second
    worker = widget.run(layer=first)
    assert worker.pbar.total == len(STAGES) + 1  # the pair's correction is a stage of its own
    _wait(qtbot, widget)
    report = widget.report
    assert report is not None
    series = report.series
    assert series.n_frames == 2 and series.quarter_turns == 1 and series.matched_columns >= 30
    assert report.strain.tin_inplane_A == pytest.approx(sim.truth.tin_inplane_A, rel=0.002)

    pair = viewer.layers["scan 0 scan pair"]
    assert pair.ndim == 2 and pair.data.shape == report.image.data.shape
    assert pair.scale == pytest.approx([0.1, 0.1])
    columns = viewer.layers["scan 0 scan pair columns"]
    assert len(columns.data) == report.n_columns and "scan 0 scan pair planes" in viewer.layers
    assert columns.scale == pytest.approx(pair.scale) and columns.translate == pytest.approx(pair.translate)
    assert "series: 2 frames, 2 used" in widget.summary.value
    assert "orthogonal scan pair" in widget.summary.value
    assert "scan pair drift-corrected" in widget.status.value


def test_unrelated_scans_are_a_shown_error_not_a_crash(make_napari_viewer, notifications):
    """A scan and a Poisson noise image are no pair: a one-line error, no result layers, and the widget
    runs again afterwards."""
    viewer = make_napari_viewer()
    first, second, _ = _scan_pair_layers(viewer)
    viewer.layers.remove(second)
    noise = np.random.default_rng(5).poisson(100, first.data.shape).astype(np.float32)
    other = viewer.add_image(noise, name="noise", scale=(0.1, 0.1), units=("angstrom", "angstrom"))
    widget = _analysis_widget(viewer)
    widget.second_scan.reset_choices()
    widget.second_scan.value = other
    assert widget.run(layer=first, blocking=True) is None
    message = str([n for n in notifications if n.severity == "error"][-1].message)
    assert "scan 0" in message and "noise" in message and "not two scans of one field" in message
    assert "\n" not in message and widget.status.value.startswith("failed: ")
    assert [layer.name for layer in viewer.layers] == ["scan 0", "noise"]
    assert widget.report is None and widget.worker is None and widget.run_button.enabled
    # a layer is no second scan of itself: said before anything runs
    assert widget.run(layer=other, blocking=True) is None
    message = str([n for n in notifications if n.severity == "error"][-1].message)
    assert "'noise'" in message and "second scan" in message


def test_a_field_of_no_known_system_shows_no_tin(make_napari_viewer):
    """A perovskite field: the run ends with neutral planes, no TiN number and no strain check in the dock."""
    viewer = make_napari_viewer()
    sim = simulate(shape=(256, 256), pixel_size_A=0.1, field="perovskite", seed=3)
    viewer.add_image(sim.data, name="perovskite", scale=(0.1, 0.1))
    widget = _analysis_widget(viewer)
    widget.pixel_size.value = 0.1
    report = widget.run(blocking=True)
    assert report.system is None and report.strain.tin_inplane_A is None
    assert not {p.material for p in report.planes} & {"TiN", "TI", "bilayer"}
    assert "no strain check" in widget.summary.value and "TiN in-plane a" not in widget.summary.value


def test_the_interface_along_its_length_as_layers_and_in_the_dock(make_napari_viewer):
    """A Bi2Te3 field with the bilayer under half of it over two terraces: segments coloured by class, the
    step marked, the coverage in the dock and each class's spacing profile in the docked plot."""
    viewer = make_napari_viewer()
    sim = simulate(SimulationParams(system="Bi2Te3/TiN", shape=(420, 1000), pixel_size_A=0.1, seed=3,
                                    segments=((-1e3, "bilayer", 0), (-25.0, "vdw", 0), (0.0, "bilayer", 1),
                                              (25.0, "vdw", 1))))
    viewer.add_image(sim.data, name="field", scale=(0.1, 0.1))
    widget = _analysis_widget(viewer)
    widget.pixel_size.value = 0.1
    report = widget.run(blocking=True)
    assert report.interface.interface_class == "mixed"
    line = viewer.layers["field interface"]
    assert list(line.features["class"]) == ["bilayer", "vdw", "bilayer", "vdw"]
    colours = {tuple(np.round(c, 3)) for c in line.edge_color}
    assert len(colours) == 2  # one colour per class
    (step,) = sim.truth.steps
    found = viewer.layers["field steps"]
    assert list(found.features["height_planes"]) == [1]
    assert np.hypot(*(found.data[0][::-1] - step["at_px"])) * 0.1 < 10.0
    along = next(line for line in widget.summary.value.splitlines() if line.startswith("along the interface: "))
    assert "bilayer" in along and "vdw" in along and "1 terrace step(s)" in along
    # the docked profile: each segment's own spacing profile, one line per class
    profile_ax, _ = widget._plot.axes
    assert {"bilayer segment", "vdw segment"} <= {line.get_label() for line in profile_ax.lines}
