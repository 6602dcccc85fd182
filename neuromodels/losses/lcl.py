"""The invariance + decorrelation loss used by default to train LCL-V2 stages."""
from __future__ import annotations

import torch
import torch.nn as nn

from ._views import as_views, standardize

__all__ = ["LCLLoss"]


class LCLLoss(nn.Module):
    r"""Invariance + decorrelation objective for layerwise complexity-matched learning.

    Parthasarathy, Hénaff & Simoncelli (2023) train each LCL-V2 stage so that
    responses to two locally deformed views of a patch agree while features are
    decorrelated across patches of other images. Their exact equations are not
    available to us; this is the toolkit's formulation (a multi-view Barlow-Twins
    variant). With features standardized over all B·V samples,
    :math:`\tilde z = (z - \mu) / \sigma`,

    .. math::

        C^{vw}_{d} = \frac1B \sum_b \tilde z_{bvd}\tilde z_{bwd},\qquad
        R = \frac{1}{BV}\sum_{b,v} \tilde z_{bv}\tilde z_{bv}^\top,

        L = \underbrace{\frac{1}{D\,P}\sum_{v<w}\sum_d (1 - C^{vw}_d)^2}_{\text{invariance}}
          + \lambda \underbrace{\frac{1}{D(D-1)}\sum_{i\ne j} R_{ij}^2}_{\text{decorrelation}},

    with P = V(V−1)/2 view pairs. Minimum 0: identical views of whitened features.
    A collapsed (constant) representation costs 1.

    Parameters
    ----------
    decorrelation_weight
        λ (dimensionless).
    eps
        Added to the variance before standardizing.
    """

    def __init__(self, decorrelation_weight: float = 1.0, eps: float = 1e-5):
        super().__init__()
        self.decorrelation_weight = float(decorrelation_weight)
        self.eps = float(eps)

    def forward(self, z: torch.Tensor, z_other: torch.Tensor | None = None) -> torch.Tensor:
        z = as_views(z, z_other, "lcl loss", min_batch=2)
        b, v, d = z.shape
        zt = standardize(z.reshape(b * v, d), dim=0, eps=self.eps).reshape(b, v, d)
        iv, jv = torch.triu_indices(v, v, offset=1, device=z.device)
        agreement = (zt[:, iv, :] * zt[:, jv, :]).mean(dim=0)  # (P, D)
        invariance = ((1 - agreement) ** 2).mean()
        if d > 1:
            flat = zt.reshape(b * v, d)
            r = flat.T @ flat / (b * v)
            off = r - torch.diag_embed(torch.diagonal(r))
            decorrelation = (off**2).sum() / (d * (d - 1))
        else:
            decorrelation = z.new_zeros(())
        return invariance + self.decorrelation_weight * decorrelation
