"""Exceptions that reach the user."""

__all__ = ["InputError"]


class InputError(ValueError):
    """A file or array that cannot be analysed.

    The message always names the input (file path or ``<array>``) and says
    what is wrong with it and, where there is one, how to fix it.
    """
