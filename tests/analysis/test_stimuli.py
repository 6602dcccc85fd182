"""Stimulus sets, image conversion and geometry, bundled images."""
import numpy as np
import pandas as pd
import pytest
import skimage.data

from analysis.stimuli import StimulusSet, bundled_images, bundled_textures, resize_square


def test_stimulus_set_checks_its_input():
    table = pd.DataFrame({"stimulus_id": ["a", "b"]})
    with pytest.raises(ValueError, match="stimulus_id"):
        StimulusSet(pd.DataFrame({"x": [1]}), np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="unique"):
        StimulusSet(pd.DataFrame({"stimulus_id": ["a", "a"]}), np.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match="row-aligned"):
        StimulusSet(table, np.zeros((3, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        StimulusSet(table, np.full((2, 1, 4, 4), 2.0))
    with pytest.raises(ValueError, match="images or a 'path'"):
        StimulusSet(table)


def test_rgb_images_stay_rgb_and_gray_is_skimage_rgb2gray():
    from skimage.color import rgb2gray

    rgb = np.random.default_rng(0).integers(0, 256, (2, 6, 5, 3)).astype(np.uint8)
    s = StimulusSet.from_images(list(rgb), stimulus_ids=["a", "b"])
    assert s.is_rgb and s.load_images().shape == (2, 3, 6, 5)
    np.testing.assert_allclose(s.load_images()[1], np.moveaxis(rgb[1], -1, 0) / 255.0, rtol=1e-6)
    gray = s.load_images(color="gray")
    np.testing.assert_allclose(gray[:, 0], rgb2gray(rgb), rtol=1e-5, atol=1e-6)
    # a set mixing gray and RGB images is stored as RGB (gray repeated to 3 channels)
    mixed = StimulusSet.from_images([rgb[0], rgb2gray(rgb[1])])
    np.testing.assert_allclose(mixed.load_images()[1], np.repeat(rgb2gray(rgb[1])[None], 3, 0), rtol=1e-6)
    assert StimulusSet.from_images(list(rgb), color="gray").load_images().shape == (2, 1, 6, 5)
    with pytest.raises(ValueError, match="color must be"):
        s.load_images(color="grey")


def test_one_luminance_conversion_for_the_toolkit():
    """analysis and neuromodels (which may not import each other) use skimage's weights."""
    import torch
    from skimage.color import rgb2gray

    from analysis.stimuli import LUMINANCE_WEIGHTS, rgb_to_luminance
    from neuromodels.base import LUMINANCE_WEIGHTS as MODEL_WEIGHTS
    from neuromodels.base import rgb_to_luminance as model_luminance

    assert LUMINANCE_WEIGHTS == MODEL_WEIGHTS
    rgb = np.random.default_rng(1).random((2, 3, 7, 4))
    reference = np.stack([rgb2gray(np.moveaxis(im, 0, -1)) for im in rgb])[:, None]
    np.testing.assert_allclose(rgb_to_luminance(rgb), reference, rtol=1e-12)
    np.testing.assert_allclose(rgb_to_luminance(torch.tensor(rgb)).numpy(), reference, rtol=1e-12)
    np.testing.assert_allclose(model_luminance(torch.tensor(rgb)).numpy(), reference, rtol=1e-12)
    np.testing.assert_allclose(rgb_to_luminance(np.moveaxis(rgb, 1, -1), channel_axis=-1)[..., 0],
                               reference[:, 0], rtol=1e-12)


def test_rgb_files_are_read_as_rgb(tmp_path):
    from skimage.io import imsave

    rgb = np.random.default_rng(2).integers(0, 256, (8, 8, 3)).astype(np.uint8)
    imsave(tmp_path / "c.png", rgb, check_contrast=False)
    s = StimulusSet(pd.DataFrame({"stimulus_id": ["c"], "path": [str(tmp_path / "c.png")]}))
    assert s.is_rgb and s.image(0).shape == (3, 8, 8)
    np.testing.assert_allclose(s.load_images()[0], np.moveaxis(rgb, -1, 0) / 255.0, rtol=1e-6)
    assert "1 stimuli" in repr(s)


def test_subset_by_ids_and_mask_keeps_rows_aligned():
    s = StimulusSet.from_images(np.linspace(0, 1, 3)[:, None, None] * np.ones((3, 4, 4)),
                                stimulus_ids=["a", "b", "c"], label=[0, 1, 2])
    sub = s.subset(["c", "a"])
    assert list(sub.stimulus_ids) == ["c", "a"]
    np.testing.assert_allclose(sub.load_images()[:, 0, 0, 0], [1.0, 0.0])
    assert list(s.subset(s.metadata("label") > 0).stimulus_ids) == ["b", "c"]


def test_images_read_from_paths(tmp_path):
    from skimage.io import imsave

    img = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)
    imsave(tmp_path / "x.png", img, check_contrast=False)
    s = StimulusSet(pd.DataFrame({"stimulus_id": ["x"], "path": [str(tmp_path / "x.png")]}))
    np.testing.assert_allclose(s.load_images()[0, 0], img / 255.0, rtol=1e-6)


# ------------------------------------------------------------------ geometry
def test_resize_square_interpolates_linearly_on_pixel_centres():
    ramp = np.tile(np.arange(16, dtype=float), (16, 1))
    up = resize_square(ramp, 32)
    # new pixel j sits at (j + 0.5) / 2 - 0.5 in old pixel units
    expected = (np.arange(32) + 0.5) / 2 - 0.5
    np.testing.assert_allclose(up[5, 2:-2], expected[2:-2], atol=1e-5)
    assert resize_square(np.ones((30, 50)), 12).shape == (12, 12)
    np.testing.assert_allclose(resize_square(np.full((30, 50), 0.3), 12), 0.3, atol=1e-6)


# ------------------------------------------------------------------ bundled images
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
