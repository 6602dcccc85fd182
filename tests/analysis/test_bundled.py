"""Images that ship inside installed wheels, against the packages' own arrays."""
import numpy as np
import pytest
import skimage.data

from analysis.bundled import bundled_images, bundled_textures


def test_bundled_images_are_the_packaged_images():
    s = bundled_images(["camera", "einstein"], size=256)
    assert list(s.stimulus_ids) == ["camera", "einstein"]
    imgs = s.load_images()
    assert imgs.shape == (2, 1, 256, 256) and imgs.dtype == np.float32
    import plenoptic.data

    np.testing.assert_allclose(imgs[1, 0], plenoptic.data.einstein().numpy()[0, 0], atol=1e-6)
    full = bundled_images(["camera"], size=512).load_images()[0, 0]
    np.testing.assert_allclose(full, skimage.data.camera() / 255.0, atol=1e-6)
    assert 0 <= imgs.min() and imgs.max() <= 1


def test_bundled_textures_default_and_extra_families():
    s = bundled_textures(size=512)
    assert list(s.metadata("texture_family")) == ["brick", "grass", "gravel", "reptile_skin"]
    np.testing.assert_allclose(s.load_images()[0, 0], skimage.data.brick() / 255.0, atol=1e-6)
    colour = bundled_images(["astronaut", "camera"], size=64, color=None).load_images()
    assert colour.shape == (2, 3, 64, 64)
    np.testing.assert_allclose(colour[1, 0], colour[1, 2])  # the gray camera repeated to RGB
    assert colour[0].std(axis=0).mean() > 0.01  # the astronaut is in colour
    extra = bundled_textures(size=32, names="all")
    assert len(extra) == 8 and extra.load_images().shape == (8, 1, 32, 32)
    with pytest.raises(ValueError, match="available"):
        bundled_textures(names=["marble"])
