"""The docked plot: spacing profile and TiN in-plane parameter per plane (matplotlib inside Qt)."""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QVBoxLayout, QWidget

from stemlayers.figure import draw_profiles


class ProfilePlot(QWidget):
    """The two profile panels of the report figure, redrawn for each new report."""

    def __init__(self, parent=None):
        super().__init__(parent)
        # constrained layout: the panels refit whenever the dock is resized
        self.figure = Figure(figsize=(4.2, 6.5), dpi=90, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumSize(300, 420)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.axes = ()

    def show_report(self, report) -> None:
        """Draw `report`'s spacing profile (top) and TiN in-plane a with the ±1 % band (bottom)."""
        self.axes = draw_profiles(self.figure, report, vertical=True)
        self.canvas.draw_idle()
