"""``python -m stemlayers`` runs the command line."""

from .cli import app

app(prog_name="stemlayers")
