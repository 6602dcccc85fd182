"""Local (layerwise) self-supervised losses, one module each, found by a registry.

Every loss is an ``nn.Module`` registered with :func:`register_loss` in its own
module of this package; its forward takes ``z`` of shape (B, V, D) — B images,
V views, D features — and returns a scalar (``docs/interfaces.md``). Each also
accepts the lightly-style call ``loss(z1, z2)`` with two (B, D) views. Losses
that know about space (``lcl``) also take local features (B, V, P, D) — P
positions of each view; the others treat every position as a sample.

The registered classes are attributes of this package (``neuromodels.losses.LCLLoss``)
without being listed here: adding a loss is one decorated class in one new module.

Examples
--------
>>> import torch
>>> loss = build_loss("barlow_twins", lambda_offdiag=5e-3)
>>> float(loss(torch.randn(8, 2, 4))) > 0
True
"""
from __future__ import annotations

from .registry import build_loss, list_losses, loss_class, register_loss, unregister_loss

_CLASSES = {cls.__name__: cls for cls in (loss_class(n) for n in list_losses())}
globals().update(_CLASSES)

__all__ = ["build_loss", "list_losses", "loss_class", "register_loss", "unregister_loss", *sorted(_CLASSES)]
