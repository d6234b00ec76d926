"""stemlayers: atomic columns, planes and interface verdicts from HAADF-STEM
cross-sections of topological-insulator / TiN(111) heterostructures."""

from .analysis import Report, analyze
from .columns import Columns, find_columns
from .errors import InputError
from .io import Image, load

__all__ = ["Columns", "Image", "InputError", "Report", "analyze", "find_columns", "load"]
__version__ = "0.1.0"
