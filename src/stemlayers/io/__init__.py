"""Files in and out: images from any format hyperspy/rosettasciio reads (and npy, png, plain tif), their
pixel size in Å from the file's own units, results written atomically, and the units of every number shown."""

from .read import Image, Series, describe, load, load_series
from .write import check_output, save, write_text_atomic

__all__ = ["Image", "Series", "check_output", "describe", "load", "load_series", "save", "write_text_atomic"]
