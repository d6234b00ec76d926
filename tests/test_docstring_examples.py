"""The Examples sections of the analysis steps' docstrings run and say what they show."""

import doctest
import importlib

import pytest

MODULES = ["stemlayers.planes", "stemlayers.contrast", "stemlayers.classify", "stemlayers.calibration",
           "stemlayers.strain"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"np": importlib.import_module("numpy")})
    assert result.attempted > 0 and result.failed == 0
