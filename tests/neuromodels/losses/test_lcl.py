"""Tests of the default invariance + decorrelation loss (lightly style)."""
import pytest
import torch

from neuromodels.losses import LCLLoss, build_loss


def whitened(b, d, seed=0):
    """(B, D) features with zero mean, unit (biased) variance and zero correlations."""
    a = torch.randn(b, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q, _ = torch.linalg.qr(a - a.mean(0))
    return q * b**0.5


def test_zero_for_identical_whitened_views():
    z = whitened(16, 4)
    loss = LCLLoss()(torch.stack([z, z, z], dim=1))  # multi-view: all pairs agree
    assert float(loss) == pytest.approx(0.0, abs=1e-8)


def test_collapse_costs_one():
    z = torch.ones(8, 2, 5)
    assert float(LCLLoss()(z)) == pytest.approx(1.0, abs=1e-6)


def test_independent_views_have_invariance_near_one():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(4000, 2, 3, generator=g)
    # cross-view correlation of independent views ~ 0 -> (1 - C)^2 ~ 1; R ~ I
    assert float(LCLLoss(decorrelation_weight=0.0)(z)) == pytest.approx(1.0, abs=0.05)
    assert float(LCLLoss()(z)) == pytest.approx(1.0, abs=0.05)


def test_correlated_features_are_penalized():
    z = whitened(32, 2)
    z[:, 1] = z[:, 0]  # perfectly correlated features: R01 = 1
    loss = LCLLoss(decorrelation_weight=1.0)(torch.stack([z, z], 1))
    # invariance 0, decorrelation = (1^2 + 1^2) / (2 * 1)
    assert float(loss) == pytest.approx(1.0, abs=1e-4)


def test_symmetric_in_views():
    z = torch.randn(10, 2, 6)
    loss = LCLLoss()
    assert torch.allclose(loss(z), loss(z.flip(1)))
    assert torch.allclose(loss(z[:, 0], z[:, 1]), loss(z))


def test_errors_and_batch_size_one():
    loss = build_loss("lcl")
    with pytest.raises(ValueError, match="shape"):
        loss(torch.randn(4, 3), torch.randn(4, 2))
    with pytest.raises(ValueError, match="B images, V views"):
        loss(torch.randn(4, 6))
    with pytest.raises(ValueError, match="at least 2 images"):
        loss(torch.randn(1, 2, 4))


def test_gradients_flow():
    z = torch.randn(8, 2, 4, requires_grad=True)
    LCLLoss()(z).backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_half_precision_input_is_computed_in_float32():
    z = torch.randn(8, 2, 4)
    assert torch.allclose(LCLLoss()(z.half()), LCLLoss()(z.half().float()))
    assert LCLLoss()(z.bfloat16()).dtype == torch.float32
