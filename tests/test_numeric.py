"""Shared numerical helpers against the library routines they stand in for."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import block_reduce

from stemlayers.numeric import binned, in_row_strips, thread_budget


@pytest.mark.parametrize("shape", [(64, 64), (63, 61), (5, 7), (1, 3)])
@pytest.mark.parametrize("block", [2, 3, 5])
@pytest.mark.parametrize("func", [np.mean, np.min])
def test_binned_is_block_reduce_of_the_edge_padded_image(shape, block, func):
    image = np.random.default_rng(block).normal(size=shape).astype(np.float32)
    padded = np.pad(image, ((0, -shape[0] % block), (0, -shape[1] % block)), mode="edge")
    np.testing.assert_array_equal(binned(image, block, func), block_reduce(padded, (block, block), func))


@pytest.mark.parametrize("shape", [(1031, 1100), (1200, 900)])
@pytest.mark.parametrize("sigma", [1.3, 4.7])
def test_a_gaussian_in_row_strips_is_the_whole_images_bit_for_bit(shape, sigma):
    if thread_budget() < 2:
        pytest.skip("one CPU: the image is filtered in one piece")
    image = np.random.default_rng(7).random(shape).astype(np.float32)
    whole = ndimage.gaussian_filter(image, sigma, mode="reflect", truncate=3.0)
    strips = in_row_strips(ndimage.gaussian_filter, image, int(3.0 * sigma + 0.5), sigma=sigma, mode="reflect",
                           truncate=3.0)
    assert strips.dtype == whole.dtype
    np.testing.assert_array_equal(strips, whole)
    # a reach too short for the filter is not the whole image's: the test can tell
    assert not np.array_equal(in_row_strips(ndimage.gaussian_filter, image, 1, sigma=sigma, mode="reflect",
                                            truncate=3.0), whole)


def test_a_maximum_filter_in_row_strips_is_the_whole_images():
    if thread_budget() < 2:
        pytest.skip("one CPU: the image is filtered in one piece")
    image = np.random.default_rng(3).random((1100, 1000))
    np.testing.assert_array_equal(in_row_strips(ndimage.maximum_filter, image, 3, size=7, mode="nearest"),
                                  ndimage.maximum_filter(image, size=7, mode="nearest"))
