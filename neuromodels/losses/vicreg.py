"""VICReg loss (Bardes, Ponce & LeCun 2022)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import register_loss
from ._views import as_views

__all__ = ["VICRegLoss"]


@register_loss("vicreg")
class VICRegLoss(nn.Module):
    r"""Variance–invariance–covariance regularization (Bardes et al. 2022, Eq. 1–6).

    .. math::

        L = \lambda\, \frac1B\sum_b \|z^A_b - z^B_b\|^2 / D
          + \mu\,[v(Z^A) + v(Z^B)] + \nu\,[c(Z^A) + c(Z^B)],

        v(Z) = \frac1D\sum_d \max(0, \gamma - \sqrt{\mathrm{Var}(z_d) + \epsilon}),\qquad
        c(Z) = \frac1D\sum_{i\ne j} \mathrm{Cov}(Z)_{ij}^2,

    with unbiased (B − 1) batch variances and covariances. The invariance term is the
    mean squared error over batch and features, as in the authors' code. Zero for
    identical views whose features are uncorrelated with standard deviation ≥ γ.

    Parameters
    ----------
    invariance_weight, variance_weight, covariance_weight
        λ, μ, ν (25, 25, 1 in the paper).
    gamma
        Target standard deviation γ.
    eps
        ε under the square root.
    """

    def __init__(self, invariance_weight: float = 25.0, variance_weight: float = 25.0,
                 covariance_weight: float = 1.0, gamma: float = 1.0, eps: float = 1e-4):
        super().__init__()
        self.invariance_weight = float(invariance_weight)
        self.variance_weight = float(variance_weight)
        self.covariance_weight = float(covariance_weight)
        self.gamma = float(gamma)
        self.eps = float(eps)

    def _variance(self, x: torch.Tensor) -> torch.Tensor:
        std = torch.sqrt(x.var(dim=0) + self.eps)
        return F.relu(self.gamma - std).mean()

    @staticmethod
    def _covariance(x: torch.Tensor) -> torch.Tensor:
        b, d = x.shape
        xc = x - x.mean(dim=0)
        cov = xc.T @ xc / (b - 1)
        return ((cov**2).sum() - (torch.diagonal(cov) ** 2).sum()) / d

    def forward(self, z: torch.Tensor, z_other: torch.Tensor | None = None) -> torch.Tensor:
        z = as_views(z, z_other, "vicreg loss", min_batch=2, exact_views=2)
        za, zb = z[:, 0], z[:, 1]
        invariance = F.mse_loss(za, zb)
        variance = self._variance(za) + self._variance(zb)
        covariance = self._covariance(za) + self._covariance(zb)
        return (self.invariance_weight * invariance + self.variance_weight * variance
                + self.covariance_weight * covariance)
