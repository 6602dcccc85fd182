"""Maximum manifold capacity representations loss (Yerxa, Kuang, Simoncelli & Chung 2023)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import register_loss
from ._views import as_views

__all__ = ["MMCRLoss"]


@register_loss("mmcr")
class MMCRLoss(nn.Module):
    r"""MMCR objective: maximize the nuclear norm of the matrix of manifold centroids.

    Yerxa et al. (2023): embeddings are normalized to the unit sphere, the
    centroid of each image's V views is :math:`c_b = \frac1V\sum_v u_{bv}`, and

    .. math:: L = \frac1B\Big(-\|C\|_* + \lambda\,\frac1B\sum_b \|U_b\|_*\Big),

    with C the (B, D) centroid matrix and U_b the (V, D) views of image b (the
    optional local term, λ = 0 in the paper's main setting). The 1/B scaling makes
    the value comparable across batch sizes: with B ≤ D its minimum is −1 (λ = 0),
    reached by identical views whose centroids are orthonormal.

    Parameters
    ----------
    local_weight
        λ.
    """

    def __init__(self, local_weight: float = 0.0):
        super().__init__()
        self.local_weight = float(local_weight)

    def forward(self, z: torch.Tensor, z_other: torch.Tensor | None = None) -> torch.Tensor:
        z = as_views(z, z_other, "mmcr loss", min_batch=1)
        b = z.shape[0]
        u = F.normalize(z, dim=-1)
        centroids = u.mean(dim=1)
        loss = -torch.linalg.matrix_norm(centroids, ord="nuc")
        if self.local_weight:
            loss = loss + self.local_weight * torch.linalg.matrix_norm(u, ord="nuc").mean()
        return loss / b
