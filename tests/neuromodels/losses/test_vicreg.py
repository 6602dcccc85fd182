"""Tests of the VICReg loss (lightly style)."""
import math

import pytest
import torch

from neuromodels.losses import VICRegLoss, build_loss


def whitened(b, d, seed=0):
    a = torch.randn(b, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q, _ = torch.linalg.qr(a - a.mean(0))
    return q * b**0.5


def test_zero_at_optimum():
    z = 1.5 * whitened(16, 4)  # std 1.5 > gamma, uncorrelated, identical views
    assert float(VICRegLoss()(z, z)) == pytest.approx(0.0, abs=1e-8)


def test_collapse_value_closed_form():
    # identical constant views: invariance 0, covariance 0, variance 2 * mu * (gamma - sqrt(eps))
    z = torch.full((8, 2, 3), 0.7, dtype=torch.float64)
    mu, gamma, eps = 25.0, 1.0, 1e-4
    expected = 2 * mu * (gamma - math.sqrt(eps))
    assert float(VICRegLoss()(z)) == pytest.approx(expected, rel=1e-9)


def test_invariance_term_is_mse():
    z1 = 2 * whitened(16, 3, seed=1)
    z2 = z1 + 0.1
    # shift changes neither variance nor covariance: loss = lambda * 0.01
    assert float(VICRegLoss()(z1, z2)) == pytest.approx(25 * 0.01, rel=1e-6)


def test_symmetric_in_views():
    z = torch.randn(12, 2, 5)
    loss = VICRegLoss()
    assert torch.allclose(loss(z), loss(z.flip(1)), atol=1e-5)


def test_errors_and_batch_size_one():
    loss = build_loss("vicreg")
    with pytest.raises(ValueError, match="shape"):
        loss(torch.randn(4, 3), torch.randn(4, 4))
    with pytest.raises(ValueError, match="at least 2 images"):
        loss(torch.randn(1, 2, 4))


def test_gradients_flow():
    z = torch.randn(8, 2, 4, requires_grad=True)
    VICRegLoss()(z).backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
