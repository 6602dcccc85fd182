"""Local (layerwise) self-supervised losses, one module each.

Every loss is an ``nn.Module`` whose forward takes ``z`` of shape (B, V, D) —
B images, V views, D features — and returns a scalar (``docs/interfaces.md``).
Each also accepts the lightly-style call ``loss(z1, z2)`` with two (B, D) views.

Examples
--------
>>> import torch
>>> loss = build_loss("barlow_twins", lambda_offdiag=5e-3)
>>> float(loss(torch.randn(8, 2, 4))) > 0
True
"""
from __future__ import annotations

import torch.nn as nn

from .barlow_twins import BarlowTwinsLoss
from .gaussian_information import GaussianInformationLoss
from .lcl import LCLLoss
from .mmcr import MMCRLoss
from .simclr import SimCLRLoss
from .vicreg import VICRegLoss

__all__ = [
    "build_loss", "list_losses", "LCLLoss", "BarlowTwinsLoss", "VICRegLoss",
    "SimCLRLoss", "MMCRLoss", "GaussianInformationLoss",
]

_LOSSES: dict[str, type[nn.Module]] = {
    "lcl": LCLLoss,
    "barlow_twins": BarlowTwinsLoss,
    "vicreg": VICRegLoss,
    "simclr": SimCLRLoss,
    "mmcr": MMCRLoss,
    "gaussian_information": GaussianInformationLoss,
}


def list_losses() -> list[str]:
    """Names accepted by :func:`build_loss` (``"lcl"`` is the default of the trainer)."""
    return list(_LOSSES)


def build_loss(name: str = "lcl", **config) -> nn.Module:
    """Build the loss ``name`` with keyword ``config`` (the class's constructor arguments).

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists valid names) or ``config`` has
        keys the loss does not take.
    """
    if name not in _LOSSES:
        raise ValueError(f"unknown loss {name!r}; available losses are: {', '.join(_LOSSES)}")
    try:
        return _LOSSES[name](**config)
    except TypeError as err:
        raise ValueError(f"bad configuration for loss {name!r}: {err}") from err
