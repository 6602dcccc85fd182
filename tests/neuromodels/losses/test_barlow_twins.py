"""Tests of the Barlow Twins loss (lightly style)."""
import pytest
import torch

from neuromodels.losses import BarlowTwinsLoss, build_loss


def whitened(b, d, seed=0):
    a = torch.randn(b, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q, _ = torch.linalg.qr(a - a.mean(0))
    return q * b**0.5


def test_zero_for_identical_whitened_views():
    z = whitened(16, 5)
    assert float(BarlowTwinsLoss()(z, z)) == pytest.approx(0.0, abs=1e-8)


def test_independent_views_match_expected_value():
    # independent standard-normal views: C_ii, C_ij ~ N(0, 1/B); E[L] = D (1 + 1/B) + lam D (D-1) / B
    b, d, lam = 2000, 4, 0.5
    g = torch.Generator().manual_seed(0)
    z = torch.randn(b, 2, d, generator=g, dtype=torch.float64)
    expected = d * (1 + 1 / b) + lam * d * (d - 1) / b
    assert float(BarlowTwinsLoss(lambda_offdiag=lam)(z)) == pytest.approx(expected, rel=0.05)


def test_invariant_to_feature_scale_and_shift():
    z = torch.randn(32, 2, 6, dtype=torch.float64)
    loss = BarlowTwinsLoss()
    assert torch.allclose(loss(z), loss(3.0 * z + 2.0), atol=1e-6)


def test_symmetric_in_views():
    z = torch.randn(12, 2, 7)
    loss = BarlowTwinsLoss()
    assert torch.allclose(loss(z), loss(z.flip(1)), atol=1e-6)


def test_errors_and_batch_size_one():
    loss = build_loss("barlow_twins")
    with pytest.raises(ValueError, match="shape"):
        loss(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="exactly 2 views"):
        loss(torch.randn(4, 3, 2))
    with pytest.raises(ValueError, match="at least 2 images"):
        loss(torch.randn(1, 2, 4))


def test_gradients_flow():
    z = torch.randn(8, 2, 4, requires_grad=True)
    BarlowTwinsLoss()(z).backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
