"""The analysis dock widget: pick an image, run ``stemlayers`` in a thread, show and export the results.

A stack of frames (a 3D layer: frame, y, x) is registered first, in the same thread
(``stemlayers.series.register``); its registered image becomes a 2D layer "<name> registered", which is
analysed and carries the result layers, and the docked plot shows the drift over the series.

A pair of orthogonal scans (the analysed image and a "second scan (90°)" layer, each as saved) is
likewise drift-corrected first (``stemlayers.orthogonal_pair``); its mean becomes a 2D layer
"<name> scan pair", which is analysed and carries the result layers.
"""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, PushButton, TextEdit, create_widget
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info, show_warning

from stemlayers import InputError
from stemlayers.report.analysis import STAGES, analyze_stages, input_stages, run_to_end
from stemlayers.errors import one_line
from stemlayers.materials import list_systems

from ._convert import (columns_layer_data, image_from_layer, interface_layer_data, is_series_layer,
                       planes_layer_data, registered_layer_data, series_from_layer, steps_layer_data)

#: Name of the docked profile plot.
PLOT_NAME = "stemlayers profile"
#: Where it docks: under the layer list, which leaves the right-hand column to this widget's result text.
PLOT_AREA = "left"
#: The suffixes of the layers of a registered series' image and of a corrected scan pair's mean.
REGISTERED_SUFFIX = " registered"
PAIR_SUFFIX = " scan pair"


def _stages(image, system, reference_A, reference_image=None, series=None, second=None):
    """The analysis, stage by stage; a bad image is returned (not raised) so it needs no traceback.

    With a `reference_image` (a bare TiN film), its TiN in-plane a is measured
    first and is the strain reference. With a `series` (a stemlayers.Series,
    `image` None), the frames are registered first and their registered image
    is analysed (``Report.image``; ``Report.series`` tells how). With a
    `second` scan (an Image, at 90° scan rotation to `image`), the pair is
    drift-corrected first and their mean is analysed, likewise.
    """
    try:
        given = yield from input_stages(image, series=series, second=second, reference=reference_image,
                                        system=system)
        if reference_image is not None:
            reference_A = given.reference_A
        return (yield from analyze_stages(given.image, system=system, reference_A=reference_A))
    except InputError as exc:
        return exc


#: What the pixel size and reference fields show at their minimum, where the library gets None.
FROM_FILE_TEXT = "from the file"
BARE_TIN_TEXT = "bare TiN (material file)"
#: Text lines the result box shows without scrolling.
SUMMARY_LINES = 14


def _optional_spin_box(label, none_text, max, tooltip) -> FloatSpinBox:
    """A spin box in Å whose minimum, 0, means "not given": it reads `none_text` there."""
    box = FloatSpinBox(label=label, value=0.0, min=0.0, max=max, step=0.001, tooltip=tooltip)
    box.native.setDecimals(4)
    box.native.setSpecialValueText(none_text)
    return box


def _optional_value(box):
    """The value of an :func:`_optional_spin_box`, None at its minimum (where it shows its special text)."""
    value = float(box.value)
    return None if value <= box.min else value


def _grow_text_box(text_edit, lines) -> None:
    """Read-only, at least `lines` lines of its font tall (also after napari's theme sets the font), and
    taller when the dock has room."""
    from qtpy.QtCore import QEvent, QObject
    from qtpy.QtWidgets import QSizePolicy

    def fit():
        margins = text_edit.contentsMargins()
        frame = 2 * int(text_edit.document().documentMargin()) + margins.top() + margins.bottom()
        text_edit.setMinimumHeight(lines * text_edit.fontMetrics().lineSpacing() + frame)

    class _OnFontChange(QObject):
        def eventFilter(self, watched, event):
            if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange, QEvent.Type.Polish):
                fit()
            return False

    text_edit.setReadOnly(True)
    text_edit.setPlaceholderText("Run: the verdicts and their evidence appear here")
    text_edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    text_edit.installEventFilter(_OnFontChange(text_edit))  # parented: lives as long as the box
    fit()


def _series_status(series) -> str:
    """How the analysed image was made from several, for the status line (``Report.series``)."""
    if series.is_scan_pair:
        return f"scan pair drift-corrected from {series.matched_columns} matched columns"
    return f"{len(series.used)} of {series.n_frames} frames registered"


class AnalysisWidget(Container):
    """Interface analysis of the chosen image layer; a stack of frames, or a pair of orthogonal scans, is
    drift-corrected first.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer

    Attributes
    ----------
    report : stemlayers.Report or None
        The last finished analysis.
    worker : GeneratorWorker or None
        The running analysis, if any.
    """

    def __init__(self, napari_viewer):
        # unlabelled: the settings form has the labels; status, result and buttons get the full width
        super().__init__(labels=False)
        import napari.layers
        from qtpy.QtWidgets import QSizePolicy

        self._viewer = napari_viewer
        self.report = None
        self.worker = None
        self._plot = None
        self._layer = None
        # (layer, suffix) of the layer a series or scan pair was read from; its corrected image's layer is
        # named after it and carries the results
        self._derived_from = None
        self.image = create_widget(annotation=napari.layers.Image, label="image")
        self.system = ComboBox(label="system", choices=["auto", *list_systems()], value="auto",
                               tooltip="auto: the material system whose film fits best")
        self.pixel_size = _optional_spin_box(
            "pixel size (Å)", FROM_FILE_TEXT, max=1.0,
            tooltip=f"{FROM_FILE_TEXT}: the layer's calibration (its scale and units); "
                    "or enter Å per pixel to override it")
        self.reference = _optional_spin_box(
            "TiN reference a (Å)", BARE_TIN_TEXT, max=5.0,
            tooltip=f"{BARE_TIN_TEXT}: the bare-TiN in-plane a of the material system's TOML "
                    "(reference_inplane_A); or enter your own bare TiN's")
        self.reference_image = create_widget(annotation=napari.layers.Image, label="or reference image",
                                             options={"nullable": True, "value": None,
                                                      "tooltip": "a bare TiN film: its measured a is the reference"})
        self.second_scan = create_widget(
            annotation=napari.layers.Image, label="second scan (90°)",
            options={"nullable": True, "value": None,
                     "tooltip": "the same field scanned at 90° scan rotation, as saved: the image and this scan "
                                "are corrected for the scan drift and averaged before the analysis"})
        settings = Container(widgets=[self.image, self.system, self.pixel_size, self.reference,
                                      self.reference_image, self.second_scan], labels=True)
        settings.margins = (0, 0, 0, 0)
        self.run_button = PushButton(text="Run")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.status = Label(value="")
        self.status.native.setWordWrap(True)
        self.status.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.summary = TextEdit(value="", label="result")
        _grow_text_box(self.summary.native, SUMMARY_LINES)
        # (button, export method, file dialog filter, default suffix)
        self._exports = [
            (PushButton(text="Save report (JSON)…"), self.export_json, "JSON (*.json)", ".json"),
            (PushButton(text="Save tables (CSV)…", tooltip="the columns and the planes, one CSV each"),
             self.export_tables, "CSV (*.csv)", ".csv"),
            (PushButton(text="Save figure…"), self.export_figure, "Images (*.png *.svg *.pdf)", ".png"),
            (PushButton(text="Save atomap lattice…", tooltip="the columns as an atomap Atom_Lattice (hspy)"),
             self.export_sublattice, "HDF5 (*.hspy *.hdf5)", ".hspy"),
        ]
        buttons = Container(widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False)
        buttons.margins = (0, 0, 0, 0)
        for button, export, pattern, suffix in self._exports:
            button.enabled = False
            button.changed.connect(lambda *_, e=export, p=pattern, s=suffix: self._ask_and_export(e, p, s))
        # two buttons a row: the rows saved go to the result box
        export_rows = [Container(widgets=[b for b, *_ in self._exports[i:i + 2]], layout="horizontal", labels=False)
                       for i in range(0, len(self._exports), 2)]
        for row in export_rows:
            row.margins = (0, 0, 0, 0)
        self.extend([settings, buttons, self.status, self.summary, *export_rows])
        # the result box takes the height the dock has to spare
        self.native.layout().setStretchFactor(self.summary.native, 1)
        self.run_button.changed.connect(lambda *_: self.run())
        self.cancel_button.changed.connect(lambda *_: self.cancel())

    @property
    def pixel_size_A(self):
        """The entered pixel size in Å, or None: the layer's own calibration."""
        return _optional_value(self.pixel_size)

    @property
    def reference_A(self):
        """The entered TiN in-plane reference in Å, or None: the material system's."""
        return _optional_value(self.reference)

    # ------------------------------------------------------------------ running

    def _chosen_layer(self, layer=None):
        import napari.layers

        if layer is None:
            self.image.reset_choices()
            layer = self.image.value
        if layer is None:  # not docked yet, or the combo box lags: the selected or the top image
            active = self._viewer.layers.selection.active
            images = [L for L in self._viewer.layers if isinstance(L, napari.layers.Image)]
            layer = active if isinstance(active, napari.layers.Image) else (images[-1] if images else None)
        return layer

    def run(self, layer=None, blocking=False, reference_layer=None, second_layer=None):
        """Analyse `layer` (default: the chosen image) with the widget's settings.

        Parameters
        ----------
        layer : napari.layers.Image, optional
            A 2D image, or a stack of frames of one field (3D: frame, y, x),
            which is registered first: its registered image is added as a 2D
            layer "<name> registered" and analysed.
        reference_layer : napari.layers.Image, optional
            A bare TiN film whose measured in-plane a is the strain reference
            (default: the widget's reference image, else its reference a).
        second_layer : napari.layers.Image, optional
            The same field as the 2D `layer`, scanned at 90° scan rotation
            (default: the widget's second scan, else none). The two are
            drift-corrected first: their mean is added as a 2D layer
            "<name> scan pair" and analysed.
        blocking : bool
            True: analyse in this thread, show the results and return the
            Report (None if the image cannot be analysed). False: analyse in
            a background thread with napari's progress bar and return the
            worker (None if nothing was started); the results appear when it ends.
        """
        if self.worker is not None:
            show_info("stemlayers: an analysis is already running; cancel it first")
            return None
        layer = self._chosen_layer(layer)
        if layer is None:
            show_error("stemlayers: open an image first (File > Open, or File > Open Sample > stemlayers)")
            return None
        if reference_layer is None:
            reference_layer = self.reference_image.value
        if second_layer is None:
            second_layer = self.second_scan.value
        image = series = second = None
        try:
            if second_layer is not None:
                image, second = self._scan_pair(layer, second_layer)
            elif is_series_layer(layer):
                series = series_from_layer(layer, self.pixel_size_A)
            else:
                image = image_from_layer(layer, self.pixel_size_A)
            # the reference is calibrated by its own layer, never by this image's pixel size override
            reference = image_from_layer(reference_layer) if reference_layer is not None else None
        except InputError as exc:
            show_error(str(exc))
            return None
        self._layer = layer
        self._derived_from = ((layer, REGISTERED_SUFFIX) if series is not None else
                              (layer, PAIR_SUFFIX) if second is not None else None)
        stages = _stages(image, self.system.value, self.reference_A, reference, series, second)
        if blocking:
            return self._finish(run_to_end(stages))
        n_stages = len(STAGES) + (reference is not None) + (series is not None) + (second is not None)
        worker = thread_worker(lambda: (yield from stages),
                               progress={"total": n_stages, "desc": f"stemlayers: {layer.name}"})()
        worker.yielded.connect(self._on_stage)
        worker.returned.connect(self._finish)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.status.value = "starting…"
        worker.start()
        return worker

    def _scan_pair(self, layer, second_layer) -> tuple:
        """The Images of the two 2D scans of a pair, with the widget's pixel size; an InputError if one is
        not 2D or the second is the analysed layer itself."""
        if second_layer is layer:
            raise InputError(f"layer '{layer.name}' is both the image and its second scan (90°): "
                             f"pick the other scan of the pair as the second scan")
        return image_from_layer(layer, self.pixel_size_A), image_from_layer(second_layer, self.pixel_size_A)

    def cancel(self) -> None:
        """Stop the running analysis at its next stage; no result layers are made."""
        if self.worker is not None:
            self.status.value = "cancelling…"
            self.worker.quit()

    def _closed(self) -> bool:
        """Whether the viewer (and so this widget's Qt objects) has gone while a run went on."""
        try:
            self.native.objectName()
        except RuntimeError:  # "wrapped C/C++ object has been deleted", in every Qt binding
            return True
        return False

    def _on_stage(self, stage) -> None:
        if not self._closed():
            self.status.value = f"{stage}…"

    def _on_aborted(self) -> None:
        if not self._closed():
            self.status.value = "cancelled"

    def _on_finished(self) -> None:
        self.worker = None
        if not self._closed():
            self.run_button.enabled, self.cancel_button.enabled = True, False

    def _finish(self, result):
        """Show a finished analysis (or its one-line error); returns the Report or None."""
        if self._closed():
            return None
        if isinstance(result, InputError):
            show_error(str(result))
            self.status.value = "failed: " + one_line(result)
            return None
        self.report = result
        if self._derived_from is not None:
            self._layer = self._show_registered(result.image, *self._derived_from)
        self._show(result)
        self.status.value = f"done in {result.seconds:.1f} s: {result.n_columns} columns, {len(result.planes)} planes"
        if result.series:
            self.status.value += "; " + _series_status(result.series)
        return result

    # ------------------------------------------------------------------ showing

    def _show_registered(self, image, source_layer, suffix):
        """Add (or replace) the 2D layer "<source name><suffix>" of a series' registered image or a scan
        pair's mean, on the source layer's scale; returns it."""
        data, meta, kind = registered_layer_data(image, source_layer, source_layer.name + suffix)
        if meta["name"] in self._viewer.layers:
            self._viewer.layers.remove(meta["name"])
        return getattr(self._viewer, f"add_{kind}")(data, **meta)

    def _show(self, report) -> None:
        """Replace this image's result layers and update the plot and the summary."""
        like = self._layer
        viewer = self._viewer
        results = [columns_layer_data(report, like, f"{like.name} columns"),
                   planes_layer_data(report, like, f"{like.name} planes")]
        if report.interface.segments:  # the interface along its length, coloured by class, and its steps
            results.append(interface_layer_data(report, like, f"{like.name} interface"))
        if report.interface.steps:
            results.append(steps_layer_data(report, like, f"{like.name} steps"))
        for stale in (f"{like.name} interface", f"{like.name} steps"):
            if stale in viewer.layers:
                viewer.layers.remove(stale)
        for data, meta, kind in results:
            if meta["name"] in viewer.layers:
                viewer.layers.remove(meta["name"])
            getattr(viewer, f"add_{kind}")(data, **meta)
        viewer.layers.selection.active = viewer.layers[f"{like.name} columns"]
        # napari takes the bar's unit from the layers' units: Å (or nm) for a calibrated image
        viewer.scale_bar.visible = True
        if self._plot is None:
            from ._profile import ProfilePlot

            self._plot = ProfilePlot()
            viewer.window.add_dock_widget(self._plot, name=PLOT_NAME, area=PLOT_AREA)
        self._plot.show_report(report)
        from stemlayers.report.figure import summary_lines

        # the verdicts, how a series was registered, then the evidence
        self.summary.value = "\n".join(summary_lines(report))
        warning = report.calibration.warning() if report.calibration is not None else None
        if warning:  # a calibration several % off is worth a notification, not only a line in the text
            show_warning(f"{like.name}: {warning}")
        for button, *_ in self._exports:
            button.enabled = True

    # ------------------------------------------------------------------ exports

    def _need_report(self):
        if self.report is None:
            raise ValueError("run an analysis first")
        return self.report

    def export_json(self, path) -> Path:
        """The report as JSON (the contract of ``Report.to_dict``)."""
        from stemlayers.report.export import write_report_json

        return write_report_json(self._need_report(), path)

    def export_tables(self, path) -> tuple:
        """``STEM_columns.csv`` and ``STEM_layers.csv`` for ``path = STEM.csv``."""
        from stemlayers.report.export import write_tables

        return write_tables(self._need_report(), path)

    def export_figure(self, path) -> Path:
        """The three-panel report figure (PNG, SVG or PDF by the suffix)."""
        from stemlayers.report.figure import plot_report

        plot_report(self._need_report(), path)
        return Path(path)

    def export_sublattice(self, path) -> Path:
        """The columns as an atomap Atom_Lattice (``am.load_atom_lattice_from_hdf5``)."""
        from stemlayers.report.export import write_sublattice

        return write_sublattice(self._need_report(), path)

    def _ask_and_export(self, export, pattern, suffix) -> None:
        from qtpy.QtWidgets import QFileDialog

        stem = Path(str(self.report.file)).stem if self.report is not None else "stemlayers"
        path, _ = QFileDialog.getSaveFileName(self.native, "Save", stem + suffix, pattern)
        if not path:
            return
        try:
            written = export(path)
        except (OSError, ValueError) as exc:
            show_error(f"{path}: could not save ({one_line(exc)})")
            return
        shown = ", ".join(str(p) for p in written) if isinstance(written, tuple) else str(written)
        show_info(f"stemlayers: saved {shown}")
