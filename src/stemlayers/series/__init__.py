"""More than one frame of a field: a series registered and averaged, or two orthogonal scans combined."""

from .info import SeriesInfo
from .register import register
from .scanpair import orthogonal_pair

__all__ = ["SeriesInfo", "orthogonal_pair", "register"]
