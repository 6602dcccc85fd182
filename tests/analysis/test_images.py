"""Image conversion (uint8/float, channel layouts, colour), geometry.

Luminance and image files are neurocommon's: ``tests/neurocommon/test_images.py``.
"""
import numpy as np
import pytest
from skimage.color import rgb2gray

from analysis.images import as_image, check_image_size, resize_square, stack_images


def test_as_image_layouts_scales_and_colour():
    rgba = np.random.default_rng(0).integers(0, 256, (5, 6, 4)).astype(np.uint8)
    out = as_image(rgba)
    assert out.dtype == np.float32 and out.shape == (3, 5, 6)  # channel-last to first, alpha dropped
    np.testing.assert_array_equal(out, np.moveaxis(rgba[..., :3], -1, 0).astype(np.float32) / 255)
    np.testing.assert_array_equal(as_image(out), out)  # (3, H, W) floats pass through
    gray = as_image(rgba, color="gray")
    np.testing.assert_allclose(gray[0], rgb2gray(out.transpose(1, 2, 0)), rtol=1e-6)
    two_d = np.linspace(0, 1, 12).reshape(3, 4)
    np.testing.assert_array_equal(as_image(two_d, color="rgb"), np.repeat(two_d[None], 3, 0).astype(np.float32))


@pytest.mark.parametrize("img, match", [
    (np.zeros((4, 4), dtype=np.int16), "uint8"),
    (np.full((4, 4), 2.0), r"\[0, 1\].*img / 255"),
    (np.full((4, 4), np.nan), "NaN"),
    (np.zeros((4, 4, 2)), "expected a grayscale"),
])
def test_as_image_refuses_bad_images_by_name(img, match):
    with pytest.raises(ValueError, match=match):
        as_image(img, name="probe")
    with pytest.raises(ValueError, match="probe"):
        as_image(img, name="probe")


def test_stack_images_makes_a_mixed_set_rgb_and_refuses_mixed_sizes():
    gray, rgb = np.full((1, 4, 4), 0.25), np.zeros((3, 4, 4))
    stacked = stack_images([gray, rgb])
    assert stacked.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(stacked[0], np.full((3, 4, 4), 0.25))
    with pytest.raises(ValueError, match="differ in size"):
        stack_images([gray, np.zeros((1, 5, 4))])


def test_image_sizes():
    assert check_image_size(np.int64(8)) == 8
    for bad in (7, 8.0, True, "32"):
        with pytest.raises(ValueError, match="side must be an integer number of pixels >= 8"):
            check_image_size(bad, "side")


def test_resize_square_interpolates_linearly_on_pixel_centres():
    ramp = np.tile(np.arange(16, dtype=float), (16, 1))
    up = resize_square(ramp, 32)
    # new pixel j sits at (j + 0.5) / 2 - 0.5 in old pixel units
    expected = (np.arange(32) + 0.5) / 2 - 0.5
    np.testing.assert_allclose(up[5, 2:-2], expected[2:-2], atol=1e-5)
    assert resize_square(np.ones((30, 50)), 12).shape == (12, 12)
    np.testing.assert_allclose(resize_square(np.full((30, 50), 0.3), 12), 0.3, atol=1e-6)
