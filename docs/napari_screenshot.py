"""Make docs/napari_plugin.png: the viewer after the three clicks of the README.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/napari_screenshot.py

File > Open Sample > stemlayers > "Bi2Se3/TiN bilayer, rotated 197° and mirrored";
Plugins > stemlayers > Interface analysis; Run.
"""

from pathlib import Path

import napari


def main(path=Path(__file__).with_name("napari_plugin.png")) -> None:
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True)
    viewer.open_sample("napari-stemlayers", "bi2se3_bilayer_rotated")
    _, widget = viewer.window.add_plugin_dock_widget("napari-stemlayers", "Interface analysis")
    widget.run(blocking=True)
    viewer.layers.selection.active = viewer.layers["bi2se3_bilayer_rotated columns"]
    viewer.window.resize(1600, 1000)
    for _ in range(5):  # let the docks lay out before the shot
        QApplication.processEvents()
    viewer.reset_view()
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    viewer.close()
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
