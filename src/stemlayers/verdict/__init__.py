"""What the planes say: the material system and the field's true scale, the interface class, the TiN strain."""

from .classify import Interface, classify
from .identify import detect_system
from .scale import FieldScale, planes_and_system
from .strain import Strain, check_strain

__all__ = ["FieldScale", "Interface", "Strain", "check_strain", "classify", "detect_system", "planes_and_system"]
