"""The package itself: importable without Qt or hyperspy, licensed, with its console script."""

import subprocess
import sys
from importlib.metadata import metadata


def test_core_imports_and_simulates_without_qt():
    code = (
        "import sys, stemlayers\n"
        "from stemlayers.simulate import simulate\n"
        "from stemlayers.materials import load_system\n"
        "simulate(shape=(64, 64))\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'qtpy'))\n"
        "print('QT', qt)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "QT []" in out


def test_import_is_light():
    code = "import sys, stemlayers; print('HS', 'hyperspy' in sys.modules, 'napari' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HS False False" in out


def test_licence_is_gpl3_or_later():
    assert metadata("stemlayers")["License-Expression"] == "GPL-3.0-or-later"


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "stemlayers", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "stemlayers" in out.stdout
