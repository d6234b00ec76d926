"""A screenshot of the viewer after the three clicks of the README.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/napari_screenshot.py

writes napari_plugin.png in the temporary directory and prints where; the README's picture is remade
only when asked for by name:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/napari_screenshot.py --out docs/napari_plugin.png

File > Open Sample > stemlayers > "Bi2Se3/TiN bilayer, rotated 197° and mirrored";
Plugins > stemlayers > Interface analysis; Run.
"""

import argparse
import tempfile
from pathlib import Path

import napari

#: Widths of the left-hand docks (layer controls, layer list, profile plot) and of the analysis widget,
#: height of the profile plot (px).
LEFT_WIDTH, RIGHT_WIDTH, PLOT_HEIGHT = 440, 470, 480


def default_path() -> Path:
    """Where the screenshot goes unless told: never over the tracked docs/napari_plugin.png."""
    return Path(tempfile.gettempdir()) / "napari_plugin.png"


def main(path=None) -> Path:
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    path = Path(path) if path is not None else default_path()
    viewer = napari.Viewer(show=True)
    viewer.open_sample("napari-stemlayers", "bi2se3_bilayer_rotated")
    dock, widget = viewer.window.add_plugin_dock_widget("napari-stemlayers", "Interface analysis")
    widget.run(blocking=True)
    viewer.layers.selection.active = viewer.layers["bi2se3_bilayer_rotated columns"]
    viewer.window.resize(1600, 1000)
    plot_dock = widget._plot.parent()  # the profile plot's QDockWidget
    window = dock.parentWidget()  # napari's QMainWindow
    for _ in range(5):  # let the docks lay out, then size them
        QApplication.processEvents()
    window.resizeDocks([plot_dock, dock], [LEFT_WIDTH, RIGHT_WIDTH], Qt.Orientation.Horizontal)
    window.resizeDocks([plot_dock], [PLOT_HEIGHT], Qt.Orientation.Vertical)
    for _ in range(5):
        QApplication.processEvents()
    viewer.reset_view()
    for _ in range(5):  # the canvas's overlays (the scale bar) follow its final size
        QApplication.processEvents()
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    viewer.close()
    print(f"wrote {path}")
    return path


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help=f"the PNG to write (default: {default_path()}); "
                             "docs/napari_plugin.png remakes the README's picture")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse_args().out)
