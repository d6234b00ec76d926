"""Plain JSON types out of numpy scalars, arrays, dates and bytes (for metadata and reports)."""

from __future__ import annotations

import dataclasses
import datetime
import math

import numpy as np

__all__ = ["from_saved", "to_jsonable"]


def to_jsonable(obj, depth: int = 0):
    """`obj` as plain JSON types; numpy scalars, small arrays, dates and bytes converted."""
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, (str, int)):  # also their subclasses (numpy str_, IntEnum) made plain
        return str(obj) if isinstance(obj, str) else int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if depth > 12:
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_jsonable(v, depth + 1) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), depth + 1) if obj.size <= 64 else f"<array {obj.shape}>"
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item(), depth + 1)
    if isinstance(obj, (datetime.datetime, datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return str(obj)


def from_saved(cls, saved: dict, renames=None):
    """An instance of the dataclass `cls` from its saved (JSON) dict.

    Keys are renamed by `renames` (saved key -> field name); keys the class
    does not know (derived ones: a ``to_dict`` may add them) are left out.
    """
    saved = {(renames or {}).get(k, k): v for k, v in (saved or {}).items()}
    return cls(**{f.name: saved[f.name] for f in dataclasses.fields(cls) if f.name in saved})

