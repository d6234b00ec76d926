"""Exceptions that reach the user."""

__all__ = ["InputError", "MissingCalibration", "StackError", "one_line"]


class InputError(ValueError):
    """A file or array that cannot be analysed.

    The message always names the input (file path or ``<array>``) and says
    what is wrong with it and, where there is one, how to fix it.
    """


class MissingCalibration(InputError):
    """An image without a spatial calibration (a batch may then use its fallback pixel size)."""


class StackError(InputError):
    """A stack of frames where one 2D image was asked for (``load_series`` and ``register`` take it)."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line (whitespace folded), cut at `limit` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
