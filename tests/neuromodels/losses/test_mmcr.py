"""Tests of the maximum-manifold-capacity (MMCR) loss (lightly style)."""
import pytest
import torch

from neuromodels.losses import MMCRLoss, build_loss


def test_minimum_is_minus_one_for_orthonormal_centroids():
    z = torch.eye(5, 8, dtype=torch.float64) * 2.0
    assert float(MMCRLoss()(z, z)) == pytest.approx(-1.0, abs=1e-10)


def test_collapse_closed_form():
    # every embedding identical: centroid matrix is rank one with rows of norm 1,
    # nuclear norm sqrt(B): loss = -1 / sqrt(B)
    b = 9
    z = torch.ones(b, 2, 4, dtype=torch.float64)
    assert float(MMCRLoss()(z)) == pytest.approx(-1 / b**0.5, rel=1e-10)


def test_random_views_above_minimum():
    z = torch.randn(6, 4, 16, generator=torch.Generator().manual_seed(0))
    assert float(MMCRLoss()(z)) > -1.0


def test_symmetric_in_views():
    z = torch.randn(6, 2, 5)
    loss = MMCRLoss(local_weight=0.1)
    assert torch.allclose(loss(z), loss(z.flip(1)), atol=1e-6)


def test_batch_size_one_is_defined_and_errors():
    z = torch.randn(1, 2, 3)
    value = float(MMCRLoss()(z))
    u = torch.nn.functional.normalize(z, dim=-1)
    assert value == pytest.approx(-float(u.mean(1).norm()), rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        build_loss("mmcr")(torch.randn(4, 3), torch.randn(4, 2))


def test_gradients_flow():
    z = torch.randn(8, 2, 4, requires_grad=True)
    MMCRLoss()(z).backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
