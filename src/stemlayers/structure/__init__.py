"""From columns to atomic planes: the growth axis, planes linked column by column, their elements from the
image's own contrast, the scan distortion and the film as length standard, and the truth-free precision."""

from .grouping import AtomicPlane, LayerSet, group_layers
from .orient import Orientation, growth_axes
from .planes import Plane, link_planes

__all__ = ["AtomicPlane", "LayerSet", "Orientation", "Plane", "group_layers", "growth_axes", "link_planes"]
