"""Every registered loss, tested without writing a test for it (timm style)."""
import pytest
import torch
import torch.nn as nn

import neuromodels.losses as losses
from neuromodels.losses import build_loss, list_losses, loss_class, register_loss, unregister_loss

NAMES = list_losses()


def _features(b=8, v=2, d=6, seed=0):
    return torch.randn(b, v, d, generator=torch.Generator().manual_seed(seed), requires_grad=True)


def test_builtin_losses_are_registered_and_exported():
    assert {"lcl", "barlow_twins", "vicreg", "simclr", "mmcr", "gaussian_information"} <= set(NAMES)
    for name in NAMES:
        cls = loss_class(name)
        assert getattr(losses, cls.__name__) is cls and cls.__name__ in losses.__all__
        assert cls.registered_name == name


@pytest.mark.parametrize("name", NAMES)
def test_scalar_finite_and_gradients_flow(name):
    z = _features()
    value = build_loss(name)(z)
    assert value.ndim == 0 and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_symmetric_in_the_two_views(name):
    z = _features(seed=1).detach()
    loss = build_loss(name)
    assert torch.allclose(loss(z), loss(z.flip(1)), atol=1e-5)
    assert torch.allclose(loss(z[:, 0], z[:, 1]), loss(z), atol=1e-6)  # lightly-style two-argument call


@pytest.mark.parametrize("name", NAMES)
def test_identical_views_never_cost_more_than_independent_ones(name):
    z = _features(b=64, d=4, seed=2).detach()
    same = torch.stack([z[:, 0], z[:, 0]], 1)
    loss = build_loss(name)
    assert float(loss(same)) <= float(loss(z)) + 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_local_features_are_accepted(name):
    z = torch.randn(4, 2, 9, 5)
    assert torch.isfinite(build_loss(name)(z))


@pytest.mark.parametrize("name", NAMES)
def test_bad_shapes_raise_one_clear_error(name):
    loss = build_loss(name)
    with pytest.raises(ValueError, match="shape"):
        loss(torch.randn(4, 3), torch.randn(4, 2))
    with pytest.raises(ValueError, match="B images, V views"):
        loss(torch.randn(4, 6))


@pytest.mark.parametrize("name", [n for n in NAMES if n != "mmcr"])
def test_batch_of_one_is_an_error(name):
    with pytest.raises(ValueError, match="at least 2 images"):
        build_loss(name)(torch.randn(1, 2, 4))


def test_registering_a_loss_is_one_decorated_class():
    @register_loss("_test_view_distance")
    class ViewDistance(nn.Module):
        def forward(self, z):
            return (z[:, 0] - z[:, 1]).pow(2).mean()

    try:
        assert "_test_view_distance" in list_losses()
        assert isinstance(build_loss("_test_view_distance"), ViewDistance)
        with pytest.raises(ValueError, match="already registered"):
            register_loss("_test_view_distance")(type("Other", (nn.Module,), {}))
    finally:
        unregister_loss("_test_view_distance")
    assert "_test_view_distance" not in list_losses()


def test_registry_errors():
    with pytest.raises(TypeError, match="register_loss\\('my_loss'\\)"):
        register_loss(nn.Module)
    with pytest.raises(TypeError, match="nn.Module"):
        register_loss("_x")(object)
    with pytest.raises(ValueError, match="registered losses are: lcl, barlow_twins"):
        build_loss("byol")
    with pytest.raises(ValueError, match="bad configuration for loss 'vicreg'"):
        build_loss("vicreg", temperature=0.1)
