"""Texture stimuli: periodic component, spectrally matched noise, FreemanZiemba2013-layout
sets, Portilla-Simoncelli synthesis."""
import numpy as np
import pytest

from analysis.stimuli import bundled_textures
from analysis.texture_stimuli import (
    periodic_component,
    phase_randomize,
    texture_stimulus_set,
)


# ------------------------------------------------------------------ periodic component
def test_periodic_component_solves_moisans_poisson_problem():
    """Moisan 2011: u = p + s with s harmonic inside the image (periodic Laplacian 0 at
    interior pixels) and equal to the border-jump image v on the border."""
    u = np.random.default_rng(0).random((24, 20))
    p = periodic_component(u)
    s = u - p
    lap = sum(np.roll(s, k, ax) for k in (1, -1) for ax in (0, 1)) - 4 * s
    v = np.zeros_like(u)
    v[0, :] += u[-1, :] - u[0, :]
    v[-1, :] += u[0, :] - u[-1, :]
    v[:, 0] += u[:, -1] - u[:, 0]
    v[:, -1] += u[:, 0] - u[:, -1]
    np.testing.assert_allclose(lap, v - v.mean(), atol=1e-10)
    assert p.mean() == pytest.approx(u.mean(), abs=1e-12)
    ramp = np.tile(np.linspace(0, 1, 32), (32, 1))
    pr = periodic_component(ramp)
    assert abs(pr[:, 0] - pr[:, -1]).max() < 0.1 * abs(ramp[:, 0] - ramp[:, -1]).max()


# ------------------------------------------------------------------ phase randomization
@pytest.mark.parametrize("shape", [(32, 32), (31, 24), (3, 1, 16, 16)])
def test_phase_randomize_matches_amplitude_spectrum(shape):
    img = np.random.default_rng(0).random(shape) ** 2
    noise = phase_randomize(img, seed=1)
    assert noise.shape == img.shape and noise.dtype == img.dtype
    fi, fn = np.fft.fft2(img), np.fft.fft2(noise)
    np.testing.assert_allclose(np.abs(fn), np.abs(fi), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(noise.mean(axis=(-2, -1)), img.mean(axis=(-2, -1)), atol=1e-12)
    np.testing.assert_allclose(noise.var(axis=(-2, -1)), img.var(axis=(-2, -1)), rtol=1e-10)
    dphi = np.angle(fn * np.conj(fi))[..., 1:, 1:]
    assert np.abs(dphi).mean() > 1.0  # uniform phase differences average pi/2
    assert np.abs(noise - img).mean() > 0.1 * img.std()


def test_phase_randomize_seeds_and_tensors():
    import torch

    img = np.random.default_rng(0).random((16, 16))
    np.testing.assert_array_equal(phase_randomize(img, seed=3), phase_randomize(img, seed=3))
    assert not np.allclose(phase_randomize(img, seed=3), phase_randomize(img, seed=4))
    t = torch.tensor(img, dtype=torch.float32)
    out = phase_randomize(t, seed=3)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.device == t.device
    np.testing.assert_allclose(out.numpy(), phase_randomize(img, seed=3), atol=1e-6)
    with pytest.raises(ValueError, match="NaN"):
        phase_randomize(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W\)"):
        phase_randomize(np.zeros(5))


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


# ------------------------------------------------------------------ PS synthesis (plenoptic)
def _ps_distance(a, b, size):
    import plenoptic as po
    import torch

    model = po.models.PortillaSimoncelli((size, size), n_scales=2, spatial_corr_width=5)
    ta, tb = (torch.as_tensor(np.asarray(x, dtype=np.float32))[None, None] for x in (a, b))
    with torch.no_grad():
        return float(torch.linalg.vector_norm(model(ta) - model(tb)))


@pytest.mark.slow  # ~10 s on a busy 2-core machine (torch/plenoptic imports + 40 iterations)
def test_synthesis_matches_portilla_simoncelli_statistics():
    from analysis.texture_stimuli import synthesize_texture

    size = 32
    src = bundled_textures(size=size, names=["brick"]).load_images()[0, 0]
    out = synthesize_texture(src, n_iter=40, seed=0, progress=False)
    assert out.shape == (size, size) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    # the initial image: seeded Gaussian noise with the source's mean and std
    rng = np.random.default_rng(0)
    noise = np.clip(rng.standard_normal((size, size)) * src.std() + src.mean(), 0, 1)
    d_synth, d_noise = _ps_distance(out, src, size), _ps_distance(noise, src, size)
    assert d_synth < 0.3 * d_noise
    assert not np.allclose(out, src, atol=0.05)  # a new sample, not a copy of the source
    a, b = (synthesize_texture(src, n_iter=3, seed=0, progress=False) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, synthesize_texture(src, n_iter=3, seed=1, progress=False))


def test_texture_set_with_synthesis_records_method():
    s = texture_stimulus_set(bundled_textures(size=64, names=["gravel"]), samples_per_family=1,
                             size=32, n_iter=10, seed=0, progress=False)
    assert s.attrs["texture_method"] == "portilla_simoncelli" and s.attrs["n_iter"] == 10
    imgs = s.load_images()[:, 0].astype(np.float64)
    np.testing.assert_allclose(np.abs(np.fft.fft2(imgs[0])), np.abs(np.fft.fft2(imgs[1])),
                               rtol=1e-4, atol=1e-4)
