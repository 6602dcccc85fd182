"""Tests of the fixed V1 front ends against grating responses and the tabulated V1 data."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from neuromodels.frontends import GaborParameters, GaborV1, SteerableV1, sample_gabor_parameters


def grating(n, frequency, theta, phase=0.0, offset=0.0, dtype=torch.float32):
    """cos(2π f (x cos θ + y sin θ) + φ), x the column and y the row index (cycles/pixel)."""
    y, x = torch.meshgrid(torch.arange(n, dtype=dtype), torch.arange(n, dtype=dtype), indexing="ij")
    return (offset + torch.cos(2 * math.pi * frequency * (x * math.cos(theta) + y * math.sin(theta)) + phase))[
        None, None]


# -- steerable pyramid V1 ------------------------------------------------------------------


def _split(v1, out):
    """(simple (S, K, 4, H, W), complex (S, K, H, W)) of one image's output."""
    s, k = v1.n_scales, v1.n_orientations
    h, w = out.shape[-2:]
    return out[0, : 4 * s * k].reshape(s, k, 4, h, w), out[0, 4 * s * k:].reshape(s, k, h, w)


def test_complex_cells_are_phase_invariant_and_simple_cells_are_not():
    v1 = SteerableV1(n_scales=3, n_orientations=4)
    complex_r, simple_r = [], []
    for phase in np.linspace(0, 2 * np.pi, 8, endpoint=False):  # a drifting grating
        simple, complex_ = _split(v1, v1(grating(64, 1 / 8, 0.0, phase, offset=1.0)))
        complex_r.append(float(complex_[1, 0, 32, 32]))
        simple_r.append(float(simple[1, 0, 0, 32, 32]))
    complex_r, simple_r = np.array(complex_r), np.array(simple_r)
    assert (complex_r.max() - complex_r.min()) / complex_r.mean() < 0.01
    assert (simple_r.max() - simple_r.min()) / simple_r.mean() > 1.0


@pytest.mark.parametrize("k", range(4))
def test_orientation_tuning_peaks_at_the_grating_orientation(k):
    v1 = SteerableV1(n_scales=2, n_orientations=4, cells="complex")
    theta = k * math.pi / 4
    out = v1(grating(64, 1 / 8, theta, offset=1.0))[0].reshape(2, 4, 64, 64)
    tuning = out[1, :, 16:48, 16:48].mean((1, 2))
    assert int(tuning.argmax()) == k
    assert float(tuning.min()) < 0.5 * float(tuning.max())
    assert v1.channel_table()[4 + k]["orientation"] == pytest.approx(theta)


def test_spatial_frequency_tuning_moves_one_octave_per_scale():
    n = 128
    v1 = SteerableV1(n_scales=4, n_orientations=4, cells="complex")
    cycles = np.arange(1, 64)
    resp = []
    with torch.no_grad():
        for m in cycles:  # integer cycles per image: exactly periodic gratings
            out = v1(grating(n, m / n, 0.0, offset=1.0))[0].reshape(4, 4, n, n)
            resp.append(out[:, 0].mean((1, 2)).numpy())
    preferred = cycles[np.argmax(np.array(resp), axis=0)] / n  # cycles/pixel per scale
    octaves = np.diff(np.log2(preferred))
    assert np.allclose(octaves, -1.0, atol=0.15)
    assert preferred[0] == pytest.approx(v1.channel_table()[0]["frequency"], rel=0.1)


def test_steerable_receptive_fields_grow_with_scale_and_pooling():
    rfs = [rf.size for rf in SteerableV1(n_scales=3).scale_receptive_fields()]
    assert rfs[0] < rfs[1] < rfs[2]
    assert rfs[2] / rfs[0] > 2  # two octaves coarser: a much larger filter
    pooled = SteerableV1(n_scales=3, pool_size=2).scale_receptive_fields()
    assert [p.size - r for p, r in zip(pooled, rfs)] == [2, 4, 8]  # windows 3, 5, 9 pixels


def test_steerable_options_and_errors():
    x = torch.rand(1, 1, 32, 32)
    v1 = SteerableV1(n_scales=2, n_orientations=2, cells="simple", normalization=True, stride=2)
    assert v1(x).shape == (1, 16, 16, 16)
    assert v1.layers == ["simple", "output"]
    with pytest.raises(ValueError, match="at least 64"):
        SteerableV1(n_scales=4)(x)
    with pytest.raises(ValueError, match="cells"):
        SteerableV1(cells="hypercomplex")


# -- Gabor V1 (VOneNet) -----------------------------------------------------------------

# the tabulated distributions, written out independently of the module
ORI_EDGES, ORI_COUNTS = [-22.5, 22.5, 67.5, 112.5, 157.5], [66, 49, 77, 54]  # De Valois et al. 1982a
SF_EDGES = [0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0]  # De Valois et al. 1982b, c/deg (<= 9)
SF_COUNTS = [4, 4, 8, 25, 32, 26, 28, 12]
N_EDGES = list(np.logspace(-1, 0.2, 6))  # Ringach 2002
N_JOINT = np.array([[2, 0, 1, 0, 0], [8, 9, 4, 1, 0], [1, 2, 19, 17, 3], [0, 0, 1, 7, 4], [0, 0, 0, 0, 0]])


def piecewise_cdf(edges, counts):
    cdf = np.concatenate([[0.0], np.cumsum(counts) / np.sum(counts)])
    return lambda v: np.interp(v, edges, cdf)


@pytest.fixture(scope="module")
def sampled():
    return sample_gabor_parameters(4000, seed=0)


def test_orientation_matches_de_valois_1982a(sampled):
    unwrapped = np.where(sampled.orientation >= 157.5, sampled.orientation - 180, sampled.orientation)
    assert stats.kstest(unwrapped, piecewise_cdf(ORI_EDGES, ORI_COUNTS)).pvalue > 0.01


def test_spatial_frequency_matches_de_valois_1982b(sampled):
    cdf = piecewise_cdf(np.log2(SF_EDGES), SF_COUNTS)
    assert stats.kstest(np.log2(sampled.sf), cdf).pvalue > 0.01
    assert sampled.sf.min() >= 0.5 and sampled.sf.max() <= 8.0


def test_envelope_sizes_match_ringach_2002(sampled):
    log_edges = np.log10(N_EDGES)
    assert stats.kstest(np.log10(sampled.nx), piecewise_cdf(log_edges, N_JOINT.sum(1))).pvalue > 0.01
    assert stats.kstest(np.log10(sampled.ny), piecewise_cdf(log_edges, N_JOINT.sum(0))).pvalue > 0.01


def test_gaussian_copula_correlates_nx_and_frequency(sampled):
    # Spearman correlation of a Gaussian copula with correlation rho: (6/pi) asin(rho/2)
    rho_s = stats.spearmanr(sampled.nx, sampled.sf)[0]
    assert rho_s == pytest.approx(6 / np.pi * np.arcsin(0.75 / 2), abs=0.03)
    assert stats.kstest(sampled.phase, stats.uniform(0, 360).cdf).pvalue > 0.01


def test_sampling_is_seeded():
    a, b, c = (sample_gabor_parameters(50, seed=s) for s in (3, 3, 4))
    assert np.array_equal(a.sf, b.sf) and not np.array_equal(a.sf, c.sf)


def test_quadrature_pair_complex_response_is_phase_invariant():
    # one simple and one complex channel with the same Gabor: f = 1.6 c/deg at 8 px/deg = 0.2 c/px
    theta = 30.0
    params = GaborParameters(sf=np.array([1.6, 1.6]), orientation=np.array([theta, theta]),
                             phase=np.array([0.0, 0.0]), nx=np.array([1.0, 1.0]), ny=np.array([1.0, 1.0]))
    v1 = GaborV1(1, 1, image_size=64, visual_degrees=8.0, parameters=params, noise=None).eval()
    simple, complex_ = [], []
    with torch.no_grad():
        for phase in np.linspace(0, 2 * np.pi, 12, endpoint=False):
            out = v1(grating(64, 0.2, math.radians(theta), phase, offset=0.5) * 0.5)
            simple.append(float(out[0, 0, 8, 8]))
            complex_.append(float(out[0, 1, 8, 8]))
    complex_ = np.array(complex_)
    assert (complex_.max() - complex_.min()) / complex_.mean() < 0.01
    assert max(simple) > 0 and min(simple) == 0.0  # half-wave rectified, phase dependent


def test_poisson_like_noise_statistics():
    v1 = GaborV1(4, 4, image_size=64).train()
    x = torch.full((200_000,), 50.0)
    y = v1._noise(x)
    s, l = 0.35, 0.07
    assert float(y.mean()) == pytest.approx(50.0, rel=0.01)
    assert float(y.var()) == pytest.approx((50 * s + l) / s**2, rel=0.03)
    assert torch.equal(v1.eval()._noise(x), x)  # off in eval mode
    assert not v1.noise_in_eval
