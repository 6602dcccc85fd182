"""Tests of the SimCLR InfoNCE (NT-Xent) loss (lightly style)."""
import math

import pytest
import torch
import torch.nn.functional as F

from neuromodels.losses import SimCLRLoss, build_loss


def test_closed_form_for_orthogonal_images():
    # identical views, different images orthogonal: every row has one similarity 1/tau
    # (the positive) and 2B - 2 similarities 0: loss = log(1 + (2B - 2) e^{-1/tau})
    b, tau = 6, 0.5
    z = torch.eye(b, 8, dtype=torch.float64) * 3.0
    expected = math.log(1 + (2 * b - 2) * math.exp(-1 / tau))
    assert float(SimCLRLoss(temperature=tau)(z, z)) == pytest.approx(expected, rel=1e-10)


def test_matches_cross_entropy_formulation():
    # NT-Xent as a 2B-way classification (Chen et al. 2020, Alg. 1)
    b, d, tau = 5, 7, 0.3
    z = torch.randn(b, 2, d, dtype=torch.float64)
    u = F.normalize(torch.cat([z[:, 0], z[:, 1]]), dim=1)
    logits = u @ u.T / tau
    logits.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(b) + b, torch.arange(b)])
    expected = F.cross_entropy(logits, target)
    assert torch.allclose(SimCLRLoss(tau)(z), expected)


def test_symmetric_in_views():
    z = torch.randn(9, 2, 4)
    loss = SimCLRLoss()
    assert torch.allclose(loss(z), loss(z.flip(1)), atol=1e-6)


def test_errors_and_batch_size_one():
    loss = build_loss("simclr")
    with pytest.raises(ValueError, match="shape"):
        loss(torch.randn(4, 3), torch.randn(3, 3))
    with pytest.raises(ValueError, match="at least 2 images"):
        loss(torch.randn(1, 2, 4))
    with pytest.raises(ValueError, match="temperature"):
        SimCLRLoss(temperature=0.0)


def test_gradients_flow():
    z = torch.randn(8, 3, 4, requires_grad=True)  # multi-view positives
    SimCLRLoss()(z).backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
