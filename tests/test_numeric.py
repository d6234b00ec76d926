"""Shared numerical helpers against the library routines they stand in for."""

import numpy as np
import pytest
from skimage.measure import block_reduce

from stemlayers.numeric import binned


@pytest.mark.parametrize("shape", [(64, 64), (63, 61), (5, 7), (1, 3)])
@pytest.mark.parametrize("block", [2, 3, 5])
@pytest.mark.parametrize("func", [np.mean, np.min])
def test_binned_is_block_reduce_of_the_edge_padded_image(shape, block, func):
    image = np.random.default_rng(block).normal(size=shape).astype(np.float32)
    padded = np.pad(image, ((0, -shape[0] % block), (0, -shape[1] % block)), mode="edge")
    np.testing.assert_array_equal(binned(image, block, func), block_reduce(padded, (block, block), func))
