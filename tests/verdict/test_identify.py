"""System cues that need no calibration: the stacking of planes in thirds."""

from stemlayers.verdict.identify import stacking_fraction


def test_stacking_of_thirds():
    assert stacking_fraction([0.1, 0.433, 0.767, 0.1, 0.433], 0.1) == 1.0
    assert stacking_fraction([0.0, 0.5, 0.0, 0.5], 0.1) == 0.0  # a perovskite's half shift
    assert stacking_fraction([0.2, 0.2, 0.2], 0.1) == 0.0      # planes on top of each other
    assert stacking_fraction([0.3], 0.1) is None
