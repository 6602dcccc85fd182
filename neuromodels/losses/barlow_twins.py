"""Barlow Twins loss (Zbontar, Jing, Misra, LeCun & Deny 2021)."""
from __future__ import annotations

import torch
import torch.nn as nn

from .registry import register_loss
from ._views import as_views, standardize

__all__ = ["BarlowTwinsLoss"]


@register_loss("barlow_twins")
class BarlowTwinsLoss(nn.Module):
    r"""Redundancy-reduction loss of Barlow Twins (Zbontar et al. 2021, Eq. 1–2).

    Each view's features are standardized over the batch, the cross-correlation
    matrix :math:`C_{ij} = \frac1B\sum_b \tilde z^A_{bi}\tilde z^B_{bj}` is formed, and

    .. math:: L = \sum_i (1 - C_{ii})^2 + \lambda \sum_{i\ne j} C_{ij}^2 .

    Zero for identical views of whitened (decorrelated, unit-variance) features.

    Parameters
    ----------
    lambda_offdiag
        λ; 5e-3 in the paper (D = 8192).
    eps
        Added to the variance before standardizing.
    """

    def __init__(self, lambda_offdiag: float = 5e-3, eps: float = 1e-5):
        super().__init__()
        self.lambda_offdiag = float(lambda_offdiag)
        self.eps = float(eps)

    def forward(self, z: torch.Tensor, z_other: torch.Tensor | None = None) -> torch.Tensor:
        z = as_views(z, z_other, "barlow_twins loss", min_batch=2, exact_views=2)
        b = z.shape[0]
        za = standardize(z[:, 0], dim=0, eps=self.eps)
        zb = standardize(z[:, 1], dim=0, eps=self.eps)
        c = za.T @ zb / b
        diag = torch.diagonal(c)
        on = ((1 - diag) ** 2).sum()
        off = (c**2).sum() - (diag**2).sum()
        return on + self.lambda_offdiag * off
