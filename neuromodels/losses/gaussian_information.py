"""Gaussian information between image identity and response: the texture model's loss."""
from __future__ import annotations

import torch
import torch.nn as nn

from .registry import register_loss
from ._views import as_views

__all__ = ["GaussianInformationLoss", "logdet_spd"]


def logdet_spd(m: torch.Tensor) -> torch.Tensor:
    """log-determinant of symmetric positive-definite matrices (..., D, D) by Cholesky."""
    chol = torch.linalg.cholesky(m)
    return 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)


def _covariance(x: torch.Tensor) -> torch.Tensor:
    """Unbiased covariance over the second-to-last axis: (..., N, D) -> (..., D, D)."""
    xc = x - x.mean(dim=-2, keepdim=True)
    return xc.transpose(-1, -2) @ xc / (x.shape[-2] - 1)


@register_loss("gaussian_information")
class GaussianInformationLoss(nn.Module):
    r"""Contrastive objective of the texture model (after Parthasarathy & Simoncelli 2020).

    Responses to several random crops of each image are modelled as Gaussian; the
    loss is minus the Gaussian information between image identity and response
    (the reference formulation of DESIGN.md §5; the paper's own equations are not
    available to us):

    .. math::

        L_{\text{per-image}} = \frac1B\sum_i \log\det(\Sigma_i + \epsilon' I)
                               - \log\det(\Sigma_{\text{all}} + \epsilon' I),

        L_{\text{pooled}} = \log\det\Big(\frac1B\sum_i \Sigma_i + \epsilon' I\Big)
                            - \log\det(\Sigma_{\text{all}} + \epsilon' I),

    with :math:`\Sigma_i` the covariance over image i's V crops, :math:`\Sigma_{\text{all}}`
    that of all B·V crops (both unbiased), and the ridge relative to the feature
    scale, :math:`\epsilon' = \epsilon\,\mathrm{tr}(\Sigma_{\text{all}})/D`, so that
    rescaling the features leaves the loss unchanged. The value is in nats; it is
    invariant to invertible linear maps of the features up to terms of order ε
    (exactly so for scalings). With V ≤ D, :math:`\Sigma_i` is rank-deficient and the
    per-image form is dominated by the ridge; the pooled form (a Gaussian
    discriminant criterion) avoids that.

    Parameters
    ----------
    variant
        ``"per_image"`` or ``"pooled"``.
    eps
        Relative ridge ε (dimensionless).
    """

    variants = ("per_image", "pooled")

    def __init__(self, variant: str = "pooled", eps: float = 1e-3):
        super().__init__()
        if variant not in self.variants:
            raise ValueError(f"variant must be one of {self.variants}; got {variant!r}")
        if eps <= 0:
            raise ValueError(f"eps must be > 0 (it keeps the covariances invertible); got {eps}")
        self.variant = variant
        self.eps = float(eps)

    def forward(self, z: torch.Tensor, z_other: torch.Tensor | None = None) -> torch.Tensor:
        z = as_views(z, z_other, "gaussian_information loss", min_batch=2, min_views=2)
        b, v, d = z.shape
        sigma_all = _covariance(z.reshape(b * v, d))
        sigma_i = _covariance(z)  # (B, D, D)
        ridge = self.eps * torch.diagonal(sigma_all).sum() / d
        if not torch.isfinite(ridge) or ridge <= 0:
            raise ValueError(
                "gaussian_information loss: the features have zero (or non-finite) variance across "
                "the batch, so the information is undefined; check the model's output."
            )
        eye = torch.eye(d, dtype=z.dtype, device=z.device)
        total = logdet_spd(sigma_all + ridge * eye)
        if self.variant == "pooled":
            within = logdet_spd(sigma_i.mean(dim=0) + ridge * eye)
        else:
            within = logdet_spd(sigma_i + ridge * eye).mean()
        return within - total
