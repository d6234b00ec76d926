"""stemlayers: atomic columns, planes and interface verdicts from HAADF-STEM
cross-sections of topological-insulator / TiN(111) heterostructures."""

from .analysis import Report, analyze
from .columns import Columns, find_columns
from .errors import InputError
from .io import Image, Series, load, load_series
from .register import register
from .scanpair import orthogonal_pair

__all__ = ["Columns", "Image", "InputError", "Report", "Series", "analyze", "find_columns", "load", "load_series",
           "orthogonal_pair", "register"]
__version__ = "0.1.0"
