"""SimCLR's InfoNCE / NT-Xent loss (Chen, Kornblith, Norouzi & Hinton 2020)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import register_loss
from ._views import as_views

__all__ = ["SimCLRLoss"]


@register_loss("simclr")
class SimCLRLoss(nn.Module):
    r"""Normalized temperature-scaled cross entropy (NT-Xent; Chen et al. 2020, Eq. 1).

    With unit-normalized embeddings :math:`u` and cosine similarities
    :math:`s_{ij} = u_i^\top u_j / \tau` over all N = B·V embeddings,

    .. math:: \ell_i = -\frac{1}{|P(i)|}\sum_{p\in P(i)}
              \log\frac{e^{s_{ip}}}{\sum_{k\ne i} e^{s_{ik}}},\qquad L = \frac1N\sum_i \ell_i,

    where P(i) are the other V − 1 views of the same image (V = 2: the standard
    NT-Xent with one positive and 2B − 2 negatives). Needs B ≥ 2 (no negatives otherwise).

    Parameters
    ----------
    temperature
        τ (dimensionless); 0.5 as in SimCLR's CIFAR-10 setting.
    """

    def __init__(self, temperature: float = 0.5):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0; got {temperature}")
        self.temperature = float(temperature)

    def forward(self, z: torch.Tensor, z_other: torch.Tensor | None = None) -> torch.Tensor:
        z = as_views(z, z_other, "simclr loss", min_batch=2)
        b, v, d = z.shape
        u = F.normalize(z.reshape(b * v, d), dim=1)
        s = u @ u.T / self.temperature
        n = b * v
        self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
        s = s.masked_fill(self_mask, float("-inf"))
        log_prob = s - torch.logsumexp(s, dim=1, keepdim=True)
        image = torch.arange(b, device=z.device).repeat_interleave(v)
        positive = (image[:, None] == image[None, :]) & ~self_mask
        pos_log_prob = log_prob.masked_fill(~positive, 0.0).sum(dim=1) / (v - 1)
        return -pos_log_prob.mean()
