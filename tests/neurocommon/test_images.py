"""The toolkit's one luminance conversion against scikit-image, and the image-suffix list."""
import numpy as np
import pytest
import torch
from skimage.color import rgb2gray

from neurocommon.images import IMAGE_SUFFIXES, LUMINANCE_WEIGHTS, image_files, rgb_to_luminance


def _reference(rgb_first: np.ndarray) -> np.ndarray:
    """skimage's rgb2gray of channel-first images (n, 3, H, W) -> (n, 1, H, W)."""
    return np.stack([rgb2gray(np.moveaxis(im, 0, -1)) for im in rgb_first])[:, None]


@pytest.mark.parametrize("seed", [0, 1])
def test_numpy_luminance_is_skimage_rgb2gray(seed):
    rgb = np.random.default_rng(seed).random((2, 3, 7, 5))
    reference = _reference(rgb)
    np.testing.assert_allclose(rgb_to_luminance(rgb), reference, rtol=1e-12)
    last = rgb_to_luminance(np.moveaxis(rgb, 1, -1), channel_axis=-1)
    np.testing.assert_allclose(last[..., 0], reference[:, 0], rtol=1e-12)
    rgba = np.concatenate([rgb, np.ones_like(rgb[:, :1])], axis=1)  # alpha is dropped
    np.testing.assert_allclose(rgb_to_luminance(rgba), reference, rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_luminance_is_skimage_rgb2gray_and_keeps_dtype(dtype):
    rgb = np.random.default_rng(2).random((3, 3, 6, 4))
    out = rgb_to_luminance(torch.tensor(rgb, dtype=dtype))
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == (3, 1, 6, 4)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    np.testing.assert_allclose(out.numpy(), _reference(rgb), rtol=tol, atol=tol)
    hw3 = torch.tensor(np.moveaxis(rgb[0], 0, -1), dtype=dtype)
    np.testing.assert_allclose(rgb_to_luminance(hw3, channel_axis=-1)[..., 0].numpy(),
                               rgb2gray(np.moveaxis(rgb[0], 0, -1)), rtol=tol, atol=tol)


def test_weights_are_skimages_and_sum_to_one():
    pure = np.eye(3)[:, :, None, None]  # pure red, green, blue, channel-first
    np.testing.assert_allclose(rgb_to_luminance(pure)[:, 0, 0, 0], [rgb2gray(c[:, 0, 0][None, None])[0, 0]
                                                                    for c in pure])
    assert sum(LUMINANCE_WEIGHTS) == pytest.approx(1.0)


def test_integer_images_are_converted_as_given():
    u8 = np.random.default_rng(3).integers(0, 256, (1, 3, 4, 4)).astype(np.uint8)
    np.testing.assert_allclose(rgb_to_luminance(u8), _reference(u8.astype(np.float64)), rtol=1e-12)
    assert rgb_to_luminance(torch.from_numpy(u8)).dtype == torch.float32


@pytest.mark.parametrize("images", [np.zeros((2, 2, 4, 4)), torch.zeros(2, 2, 4, 4)])
def test_fewer_than_three_channels_are_refused(images):
    with pytest.raises(ValueError, match="3 colour channels on axis -3"):
        rgb_to_luminance(images)


def test_image_files_by_suffix_any_case_sorted(tmp_path):
    for name in ("b.PNG", "a.tif", "notes.txt", "c.jpeg", "e.webp", "f.pgm", "sub/g.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "d.png").mkdir()  # a folder is not an image file
    assert [p.name for p in image_files(tmp_path)] == ["a.tif", "b.PNG", "c.jpeg", "e.webp", "f.pgm"]
    assert [p.relative_to(tmp_path).as_posix() for p in image_files(tmp_path, recursive=True)] == [
        "a.tif", "b.PNG", "c.jpeg", "e.webp", "f.pgm", "sub/g.jpg"]
    assert all(s == s.lower() and s.startswith(".") for s in IMAGE_SUFFIXES)
    assert len(set(IMAGE_SUFFIXES)) == len(IMAGE_SUFFIXES)
