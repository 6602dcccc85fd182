"""Spectrally matched noise: the periodic component (Moisan 2011) and phase randomization
(Freeman et al. 2013), against their defining equations."""
import numpy as np
import pytest

from analysis.spectral_noise import periodic_component, phase_randomize


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
