"""Stimulus sets: input checks, colour, files on disk, subsets.

Image conversion and geometry: test_images.py; bundled images: test_bundled.py.
"""
import numpy as np
import pandas as pd
import pytest

from analysis.stimuli import StimulusSet


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
