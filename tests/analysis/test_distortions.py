"""Tests of analysis.distortions: every registered distortion (parametrized over the registry)
is the identity at strength 0, seeded and range-checked; each one against a closed form or scipy."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from analysis import distortions
from analysis.distortions import DISTORTIONS, distort, register_distortion
from neurocommon.deformations import displacement_field

KINDS = sorted(DISTORTIONS)


def _images(n=3, c=1, h=24, w=20, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (0.3 + 0.4 * torch.rand((n, c, h, w), generator=g)).to(dtype)


@pytest.mark.parametrize("kind", KINDS)
def test_strength_zero_is_identity_and_grids_start_at_zero(kind):
    x = _images()
    assert DISTORTIONS[kind].grid[0] == 0.0
    assert all(b > a for a, b in zip(DISTORTIONS[kind].grid, DISTORTIONS[kind].grid[1:]))
    torch.testing.assert_close(distort(x, kind, 0.0, seed=3), x, rtol=0, atol=1e-12)
    x32 = x.float()
    torch.testing.assert_close(distort(x32, kind, 0.0, seed=3), x32, rtol=0, atol=2e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_distortions_are_seeded_follow_dtype_and_change_the_image(kind):
    x = _images()
    s = DISTORTIONS[kind].grid[2]
    a, b = distort(x, kind, s, seed=1), distort(x, kind, s, seed=1)
    assert a.dtype == x.dtype and a.shape == x.shape and a.device == x.device
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - x).abs().max() > 1e-3
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    if DISTORTIONS[kind].random:
        assert (distort(x, kind, s, seed=2) - a).abs().max() > 1e-3
    else:
        torch.testing.assert_close(distort(x, kind, s, seed=2), a, rtol=0, atol=0)
    arr = distort(x.numpy(), kind, s, seed=1)  # numpy in, numpy out, same values
    assert isinstance(arr, np.ndarray)
    np.testing.assert_allclose(arr, a.numpy(), atol=1e-12)


def test_contrast_scales_std_and_blends_to_mid_gray():
    x = _images()
    y = distort(x, "contrast", 0.5)
    torch.testing.assert_close(y.std(), x.std() / 2)
    torch.testing.assert_close(y.mean(), (x.mean() + 0.5) / 2)
    torch.testing.assert_close(distort(x, "contrast", 1.0), torch.full_like(x, 0.5))


def test_blur_and_low_pass_match_scipy_and_keep_constant_images_constant():
    x = _images(n=2, c=2)
    for sigma in (0.7, 2.0, 6.0):  # 6 px: kernel radius 24 exceeds the 20 px width
        ref = np.stack([[ndimage.gaussian_filter(im, sigma, mode="reflect") for im in img]
                        for img in x.numpy()])
        np.testing.assert_allclose(distort(x, "blur", sigma).numpy(), ref, atol=1e-12)
        bg = x.mean(dim=(-2, -1)).numpy()
        ref = np.stack([[ndimage.gaussian_filter(im, sigma, mode="constant", cval=b)
                         for im, b in zip(img, bgs)] for img, bgs in zip(x.numpy(), bg)])
        np.testing.assert_allclose(distort(x, "low_pass", sigma).numpy(), ref, atol=1e-12)
    ref = ndimage.gaussian_filter(x[0, 0].numpy(), 3.0, mode="constant", cval=0.4423)
    np.testing.assert_allclose(distort(x, "low_pass", 3.0, background=0.4423)[0, 0].numpy(), ref,
                               atol=1e-12)
    const = torch.full((1, 1, 16, 16), 0.7, dtype=torch.float64)
    for kind in ("blur", "low_pass", "high_pass"):
        torch.testing.assert_close(distort(const, kind, DISTORTIONS[kind].grid[-1]), const)


def test_high_pass_is_geirhos_formula():
    # Geirhos et al. 2018: x - gaussian_filter(x, std, constant bg), shifted to mean bg, clipped
    x = _images(n=1)
    std, bg = 1.5, 0.4423
    im = x[0, 0].numpy()
    diff = im - ndimage.gaussian_filter(im, std, mode="constant", cval=bg)
    ref = np.clip(diff + bg - diff.mean(), 0, 1)
    out = distort(x, "high_pass", 1 / std, background=bg)[0, 0].numpy()
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_phase_scrambling_keeps_amplitude_spectrum_and_mean():
    x = _images(n=16, h=32, w=30)  # 16 x 480 independent phase shifts: sd of mean cos < 0.01
    for width in (30.0, 90.0, 180.0):
        y = distort(x, "phase_scrambling", width, seed=5, clip=False)
        fx, fy = torch.fft.fft2(x), torch.fft.fft2(y)
        torch.testing.assert_close(fy.abs(), fx.abs(), rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(y.mean(dim=(-2, -1)), x.mean(dim=(-2, -1)))
        # phase shifts uniform in [-w, w]: E[cos Δφ] = sin(w)/w (w in rad)
        dphi = torch.angle(fy * fx.conj())
        w = np.radians(width)
        assert float(dphi.abs().max()) <= w + 1e-6
        assert float(torch.cos(dphi).mean()) == pytest.approx(np.sin(w) / w, abs=0.03)


def test_noise_has_the_stated_distribution():
    x = torch.full((8, 1, 32, 32), 0.5, dtype=torch.float64)
    d = distort(x, "gaussian_noise", 0.1, seed=0, clip=False) - x
    assert float(d.std()) == pytest.approx(0.1, rel=0.03)
    assert abs(float(d.mean())) < 0.005
    u = distort(x, "uniform_noise", 0.2, seed=0, clip=False) - x
    assert float(u.abs().max()) <= 0.2
    assert float(u.var()) == pytest.approx(0.2**2 / 3, rel=0.05)  # U(-a, a): variance a²/3


def test_elastic_moves_pixels_along_a_smooth_field_of_the_stated_rms():
    h = w = 64
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")
    ramps = torch.stack([0.2 + 0.6 * xs / w, 0.2 + 0.6 * ys / h])[None]  # (1, 2, H, W)
    out = distort(ramps, "elastic", 1.5, seed=7, clip=False, cell=16)
    field = displacement_field(1, h, w, 1.5, 16.0, torch.Generator().manual_seed(7),
                               torch.float64, torch.device("cpu"), normalize="per_image")
    assert float(field[0, 0].pow(2).mean().sqrt()) == pytest.approx(1.5, rel=1e-9)
    inner = (slice(None), slice(8, -8), slice(8, -8))
    # bilinear resampling of a linear ramp is exact: out - in = slope · displacement
    torch.testing.assert_close((out - ramps)[0, 0][inner[1:]], 0.6 / w * field[0, 0][inner[1:]])
    torch.testing.assert_close((out - ramps)[0, 1][inner[1:]], 0.6 / h * field[0, 1][inner[1:]])
    # smooth: neighbouring displacements differ far less than the displacement itself
    assert float((field[..., 1:] - field[..., :-1]).abs().mean()) < 0.2 * 1.5


def test_distort_input_errors():
    x = _images()
    with pytest.raises(ValueError, match="unknown distortion"):
        distort(x, "fog", 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        distort(x, "blur", -1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        distort(x, "contrast", 1.5)
    with pytest.raises(ValueError, match="180"):
        distort(x, "phase_scrambling", 200)
    with pytest.raises(ValueError, match="shape"):
        distort(torch.rand(5, 5), "blur", 1.0)




@pytest.mark.parametrize("kind", KINDS)
def test_strengths_beyond_the_valid_range_are_refused(kind):
    spec = DISTORTIONS[kind]
    assert spec.grid[-1] <= spec.max_strength and spec.unit and spec.description
    if np.isfinite(spec.max_strength):
        with pytest.raises(ValueError, match=kind):
            distort(_images(), kind, spec.max_strength * 1.01)
    distort(_images(), kind, spec.grid[-1])  # the whole default grid is valid


def test_registering_a_distortion_is_one_decorator(monkeypatch):
    monkeypatch.setattr(distortions, "DISTORTIONS", dict(DISTORTIONS))

    @register_distortion("invert", grid=(0.0, 1.0), unit="blend [fraction]",
                         description="x -> (1 - s) x + s (1 - x)", max_strength=1.0)
    def _invert(x, s, generator, **options):
        return (1 - s) * x + s * (1 - x)

    x = _images()
    torch.testing.assert_close(distortions.distort(x, "invert", 1.0), 1 - x)
    with pytest.raises(ValueError, match="already registered"):
        register_distortion("invert", grid=(0.0,), unit="", description="")
    with pytest.raises(ValueError, match="start at 0"):
        register_distortion("bad", grid=(0.5, 1.0), unit="", description="")
