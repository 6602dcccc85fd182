"""Texture stimulus sets in the FreemanZiemba2013 layout (textures and spectrally matched noise).

Phase randomization and the periodic component: test_spectral_noise.py; PS synthesis:
test_texture_synthesis.py.
"""
import numpy as np
import pytest

from analysis.bundled import bundled_textures
from analysis.spectral_noise import periodic_component
from analysis.texture_stimuli import texture_stimulus_set


# ------------------------------------------------------------------ texture stimulus sets
# shared fixture (tests/conftest.py): small_texture_stimuli, 4 families x 2 types x 3 samples, 32 px, seed 0


def test_texture_set_layout_follows_freeman_ziemba(small_texture_stimuli):
    t = small_texture_stimuli.table
    assert len(small_texture_stimuli) == 4 * 2 * 3
    assert list(t.columns[:4]) == ["stimulus_id", "texture_family", "texture_type", "sample"]
    first = t.iloc[:6]
    assert list(first["texture_type"]) == ["texture"] * 3 + ["noise"] * 3
    assert list(first["sample"]) == [0, 1, 2, 0, 1, 2]
    assert list(t["texture_family"].unique()) == ["brick", "grass", "gravel", "reptile_skin"]
    assert t["stimulus_id"].iloc[0] == "brick-texture-00"
    assert small_texture_stimuli.attrs["texture_method"] == "source_crop" and small_texture_stimuli.attrs["n_iter"] == 0
    imgs = small_texture_stimuli.load_images()
    assert imgs.shape == (24, 1, 32, 32) and imgs.min() >= 0 and imgs.max() <= 1


def test_texture_and_noise_pairs_share_amplitude_spectrum(small_texture_stimuli):
    imgs = small_texture_stimuli.load_images()[:, 0].astype(np.float64)
    t = small_texture_stimuli.table
    for fam in t["texture_family"].unique():
        for j in range(3):
            a = imgs[(t["texture_family"] == fam) & (t["texture_type"] == "texture") & (t["sample"] == j)][0]
            b = imgs[(t["texture_family"] == fam) & (t["texture_type"] == "noise") & (t["sample"] == j)][0]
            np.testing.assert_allclose(np.abs(np.fft.fft2(a)), np.abs(np.fft.fft2(b)),
                                       rtol=1e-4, atol=1e-4)
            assert a.mean() == pytest.approx(0.5, abs=1e-5)
            assert not np.allclose(a, b)


def test_fast_path_textures_are_crops_of_the_source():
    """Without synthesis each 'texture' is an affine copy of the periodic component of a
    crop of the source: one of all possible crops must match it with correlation 1."""
    rng = np.random.default_rng(5)
    source = rng.random((40, 40)) * 0.8 + 0.1
    s = texture_stimulus_set({"rand": source}, samples_per_family=3, size=16, seed=2,
                             progress=False)
    tex = s.load_images()[s.metadata("texture_type") == "texture", 0]
    crops = np.stack([periodic_component(source[i:i + 16, j:j + 16]).ravel()
                      for i in range(25) for j in range(25)])
    for im in tex:
        r = np.corrcoef(np.vstack([im.ravel(), crops]))[0, 1:]
        assert r.max() == pytest.approx(1.0, abs=1e-5)
        assert np.sort(r)[-2] < 0.9  # and only one crop does


def test_texture_set_is_deterministic_and_reads_folders(tmp_path):
    from skimage.io import imsave

    rng = np.random.default_rng(0)
    for name in ("alpha", "beta"):
        imsave(tmp_path / f"{name}.png", (rng.random((40, 48)) * 255).astype(np.uint8),
               check_contrast=False)
    a = texture_stimulus_set(tmp_path, samples_per_family=2, size=16, seed=1, progress=False)
    b = texture_stimulus_set(tmp_path, samples_per_family=2, size=16, seed=1, progress=False)
    c = texture_stimulus_set(tmp_path, samples_per_family=2, size=16, seed=2, progress=False)
    assert list(a.table["texture_family"].unique()) == ["alpha", "beta"]
    np.testing.assert_array_equal(a.load_images(), b.load_images())
    assert not np.array_equal(a.load_images(), c.load_images())


@pytest.mark.parametrize("kwargs, error, match", [
    ({"size": 4}, ValueError, "size"),
    ({"samples_per_family": 0}, ValueError, "samples_per_family"),
    ({"n_iter": -1}, ValueError, "n_iter"),
    ({"sources": 3}, TypeError, "sources must be"),
    ({"sources": {"tiny": np.zeros((8, 8))}, "size": 16}, ValueError, "smaller than"),
    ({"sources": "/nonexistent/folder"}, FileNotFoundError, "no folder"),
])
def test_texture_set_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        texture_stimulus_set(**{"progress": False, **kwargs})


def test_texture_set_with_synthesis_records_method():
    s = texture_stimulus_set(bundled_textures(size=64, names=["gravel"]), samples_per_family=1,
                             size=32, n_iter=10, seed=0, progress=False)
    assert s.attrs["texture_method"] == "portilla_simoncelli" and s.attrs["n_iter"] == 10
    imgs = s.load_images()[:, 0].astype(np.float64)
    np.testing.assert_allclose(np.abs(np.fft.fft2(imgs[0])), np.abs(np.fft.fft2(imgs[1])),
                               rtol=1e-4, atol=1e-4)
