"""stemlayers: atomic columns, planes and interface verdicts from HAADF-STEM
cross-sections of topological-insulator / TiN(111) heterostructures.

The stages, each a package that imports only those before it: ``io`` (files in
and out) -> ``columns`` -> ``structure`` (planes) -> ``verdict`` (system,
class, strain) -> ``series`` (frame series, scan pairs) -> ``report``
(``analyze``, the Report and its outputs); then the applications (``cli``,
``batch``, ``runner``). ``materials`` holds the physics as data, ``simulate``
the project's own images with their truth.
"""

from .columns import Columns, find_columns
from .errors import InputError
from .io import Image, Series, load, load_series
from .report import Report, analyze
from .series import orthogonal_pair, register

__all__ = ["Columns", "Image", "InputError", "Report", "Series", "analyze", "find_columns", "load", "load_series",
           "orthogonal_pair", "register"]
__version__ = "0.1.0"
