"""Atomic columns: found and refined (2D Gaussians fitted all at once), their model images rendered."""

from .find import Columns, find_columns, lattice_scale
from .fit import GaussianFit, fit_gaussians
from .render import render_gaussians

__all__ = ["Columns", "GaussianFit", "find_columns", "fit_gaussians", "lattice_scale", "render_gaussians"]
