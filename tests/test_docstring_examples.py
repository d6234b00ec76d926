"""The Examples sections of the docstrings run and say what they show (every module that has one)."""

import doctest
import importlib
import pkgutil

import pytest

import stemlayers


def _modules_with_examples():
    names = []
    for info in pkgutil.walk_packages(stemlayers.__path__, "stemlayers."):
        spec = importlib.util.find_spec(info.name)
        origin = getattr(spec, "origin", None)
        if origin and origin.endswith(".py") and ">>>" in open(origin, encoding="utf-8").read():
            names.append(info.name)
    return sorted(names)


MODULES = _modules_with_examples()


def test_the_analysis_steps_have_examples():
    for name in ("stemlayers.structure.planes", "stemlayers.structure.elements", "stemlayers.structure.calibration",
                 "stemlayers.structure.grouping", "stemlayers.verdict.identify", "stemlayers.verdict.strain",
                 "stemlayers.io.units"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"np": importlib.import_module("numpy")},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
