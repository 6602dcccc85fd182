"""Tests of the texture model's Gaussian-information loss."""
import numpy as np
import pytest
import torch

from neuromodels.losses import GaussianInformationLoss, build_loss


def crops(b, v, d, spread, noise, seed=0, dtype=torch.float64):
    """Planted image means (scale ``spread``) plus crop noise (scale ``noise``)."""
    g = torch.Generator().manual_seed(seed)
    means = spread * torch.randn(b, 1, d, generator=g, dtype=dtype)
    return means + noise * torch.randn(b, v, d, generator=g, dtype=dtype)


def test_one_dimensional_value_matches_numpy():
    z = crops(5, 4, 1, 1.0, 0.3)
    x = z[..., 0].numpy()
    total = np.var(x.reshape(-1), ddof=1)
    within = np.mean([np.var(r, ddof=1) for r in x])
    eps = 1e-3 * total
    pooled = np.log(within + eps) - np.log(total + eps)
    per_image = np.mean([np.log(np.var(r, ddof=1) + eps) for r in x]) - np.log(total + eps)
    assert float(GaussianInformationLoss("pooled")(z)) == pytest.approx(pooled, rel=1e-10)
    assert float(GaussianInformationLoss("per_image")(z)) == pytest.approx(per_image, rel=1e-10)


@pytest.mark.parametrize("variant", ["pooled", "per_image"])
def test_invariant_to_invertible_linear_maps(variant):
    z = crops(6, 12, 3, 1.0, 0.5)  # V > D so every covariance has full rank
    a = torch.tensor([[2.0, 0.3, -0.5], [0.1, 0.7, 0.2], [-0.4, 0.5, 1.5]], dtype=torch.float64)
    loss = GaussianInformationLoss(variant, eps=1e-6)
    assert float(loss(z @ a.T)) == pytest.approx(float(loss(z)), abs=1e-3)
    # scaling is exact because the ridge is relative to the feature scale
    assert float(GaussianInformationLoss(variant, eps=1e-2)(7.0 * z)) == pytest.approx(
        float(GaussianInformationLoss(variant, eps=1e-2)(z)), abs=1e-10)


@pytest.mark.parametrize("variant", ["pooled", "per_image"])
def test_lower_when_crops_cluster(variant):
    loss = GaussianInformationLoss(variant)
    clustered = loss(crops(8, 6, 4, spread=1.0, noise=0.1))
    mixed = loss(crops(8, 6, 4, spread=1.0, noise=3.0))
    assert float(clustered) < float(mixed) - 1.0


def test_finite_at_two_images_two_crops():
    z = crops(2, 2, 5, 1.0, 0.5)
    for variant in ("pooled", "per_image"):
        assert torch.isfinite(GaussianInformationLoss(variant)(z))


def test_gradcheck_float64():
    z = crops(3, 4, 2, 1.0, 0.5).requires_grad_(True)
    for variant in ("pooled", "per_image"):
        assert torch.autograd.gradcheck(GaussianInformationLoss(variant, eps=1e-2), (z,))


def test_symmetric_in_views_and_errors():
    z = crops(4, 3, 2, 1.0, 0.5)
    loss = build_loss("gaussian_information")
    assert torch.allclose(loss(z), loss(z.flip(1)))
    with pytest.raises(ValueError, match="at least 2 images"):
        loss(z[:1])
    with pytest.raises(ValueError, match="at least 2 views"):
        loss(z[:, :1])
    with pytest.raises(ValueError, match="zero"):
        loss(torch.ones(3, 2, 2))
    with pytest.raises(ValueError, match="variant"):
        GaussianInformationLoss("full")
