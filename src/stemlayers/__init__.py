"""stemlayers: atomic columns, planes and interface verdicts from HAADF-STEM
cross-sections of topological-insulator / TiN(111) heterostructures."""

from .errors import InputError
from .io import Image, load

__all__ = ["Image", "InputError", "load"]
__version__ = "0.1.0"
