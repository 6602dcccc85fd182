"""The invariance + decorrelation (or sample-contrastive) loss that trains LCL-V2 stages."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._views import as_views, standardize
from .registry import register_loss

__all__ = ["LCLLoss"]


@register_loss("lcl")
class LCLLoss(nn.Module):
    r"""Local objective of layerwise complexity-matched learning (LCL-V2).

    Parthasarathy, Hénaff & Simoncelli (2023) train each LCL-V2 stage so that
    responses to two locally deformed views of a patch agree while features are
    decorrelated across patches of other images. Their exact equations are not
    available to us; two formulations are offered (``variant``).

    **Local features.** ``z`` may be (B, V, D) — one vector per view, e.g. the
    stage's global spatial mean — or (B, V, P, D): the features of P positions (or
    receptive-field-sized cells) of each view, as ``LCLV2.embedding`` returns by
    default. A local deformation moves content by about one receptive field
    *locally*; the global mean averages that away (``docs/models.md``, view
    agreement figure), so the loss should see the local features. Position p of
    one view is paired with position p of the other views of the same image.

    ``variant="decorrelation"`` (Barlow-Twins-like, multi-view). The B·P local
    samples are standardized over all B·P·V vectors, :math:`\tilde z = (z-\mu)/\sigma`,

    .. math::

        C^{vw}_{d} = \frac{1}{BP} \sum_{b,p} \tilde z_{bpvd}\tilde z_{bpwd},\qquad
        R = \frac{1}{BPV}\sum_{b,p,v} \tilde z_{bpv}\tilde z_{bpv}^\top,

        L = \underbrace{\frac{1}{D\,Q}\sum_{v<w}\sum_d (1 - C^{vw}_d)^2}_{\text{invariance}}
          + \lambda \underbrace{\frac{1}{D(D-1)}\sum_{i\ne j} R_{ij}^2}_{\text{decorrelation}},

    with Q = V(V−1)/2 view pairs. Minimum 0: identical views of whitened features;
    a collapsed (constant) representation costs 1.

    ``variant="contrastive"`` (sample-contrastive, InfoNCE). With unit vectors
    :math:`u = z/\|z\|` and :math:`s_{ij} = u_i^\top u_j`, each local sample i =
    (b, p, v) has as positives the same position of the other views of image b,
    :math:`P(i)`, and as negatives every sample of *other images*, :math:`N(i)`
    (other positions of the same image are neither: neighbouring positions
    overlap, so the paper's "patches of other images" are the negatives):

    .. math::

        \ell_i = \frac{1}{|P(i)|}\sum_{j\in P(i)}\Big[
            \underbrace{\frac{1 - s_{ij}}{\tau}}_{\text{invariance}}
          + \underbrace{\log\!\sum_{k\in P(i)\cup N(i)} e^{s_{ik}/\tau} - \frac1\tau}_{\text{contrast}}
            \Big],\qquad L = \mathrm{mean}_i\,\ell_i .

    The two brackets are reported separately by :meth:`terms`; the invariance
    term is 0 for identical views. To bound the N × N similarity matrix, at most
    ``max_positions`` positions per image (evenly spaced in the flattened grid)
    enter this variant.

    Parameters
    ----------
    variant
        ``"decorrelation"`` (default) or ``"contrastive"``.
    decorrelation_weight
        λ of the decorrelation variant (dimensionless).
    temperature
        τ of the contrastive variant (dimensionless).
    max_positions
        Positions per image used by the contrastive variant (all: ``None``).
    eps
        Added to the variance before standardizing.

    Raises
    ------
    ValueError
        At call time, for fewer than 2 images (batch statistics and negatives come
        from other images) or fewer than 2 views.

    Examples
    --------
    >>> z = torch.randn(8, 2, 36, 16)           # 8 images, 2 views, 6 x 6 positions, 16 channels
    >>> LCLLoss()(z).shape
    torch.Size([])
    >>> LCLLoss().terms(torch.stack([z[:, 0], z[:, 0]], 1))["invariance"].abs().item() < 1e-6
    True
    """

    variants = ("decorrelation", "contrastive")

    def __init__(self, variant: str = "decorrelation", decorrelation_weight: float = 1.0,
                 temperature: float = 0.1, max_positions: int | None = 16, eps: float = 1e-5):
        super().__init__()
        if variant not in self.variants:
            raise ValueError(f"variant must be one of {self.variants}; got {variant!r}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0; got {temperature}")
        if max_positions is not None and (not isinstance(max_positions, int) or max_positions < 1):
            raise ValueError(f"max_positions must be a positive integer or None; got {max_positions!r}")
        self.variant = variant
        self.decorrelation_weight = float(decorrelation_weight)
        self.temperature = float(temperature)
        self.max_positions = max_positions
        self.eps = float(eps)

    def _local(self, z: torch.Tensor, z_other: torch.Tensor | None) -> torch.Tensor:
        """(B, V, P, D) in float32 at least; (B, V, D) inputs get P = 1."""
        if isinstance(z, torch.Tensor) and z.ndim == 4 and z_other is None:
            b, v, p, d = z.shape
            flat = as_views(z, None, "lcl loss", min_batch=2)  # checks; (B·P, V, D)
            return flat.reshape(b, p, v, d).transpose(1, 2)
        return as_views(z, z_other, "lcl loss", min_batch=2).unsqueeze(2)

    def terms(self, z: torch.Tensor, z_other: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The loss split into its two terms (their weighted sum is :meth:`forward`).

        Returns
        -------
        dict
            ``{"invariance": ..., "decorrelation": ...}`` (decorrelation variant) or
            ``{"invariance": ..., "contrast": ...}`` (contrastive variant), scalars.
        """
        z = self._local(z, z_other)
        if self.variant == "contrastive":
            return self._contrastive(z)
        b, v, p, d = z.shape
        zt = standardize(z.transpose(1, 2).reshape(b * p * v, d), dim=0, eps=self.eps).reshape(b * p, v, d)
        iv, jv = torch.triu_indices(v, v, offset=1, device=z.device)
        agreement = (zt[:, iv, :] * zt[:, jv, :]).mean(dim=0)  # (Q, D)
        invariance = ((1 - agreement) ** 2).mean()
        if d > 1:
            flat = zt.reshape(-1, d)
            r = flat.T @ flat / flat.shape[0]
            off = r - torch.diag_embed(torch.diagonal(r))
            decorrelation = (off**2).sum() / (d * (d - 1))
        else:
            decorrelation = z.new_zeros(())
        return {"invariance": invariance, "decorrelation": decorrelation}

    def _contrastive(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        b, v, p, d = z.shape
        if self.max_positions is not None and p > self.max_positions:
            keep = torch.linspace(0, p - 1, self.max_positions, device=z.device).round().long().unique()
            z = z[:, :, keep]
            p = z.shape[2]
        u = F.normalize(z.permute(0, 2, 1, 3).reshape(b * p * v, d), dim=1)  # rows ordered (b, p, v)
        s = u @ u.T
        image = torch.arange(b, device=z.device).repeat_interleave(p * v)
        place = torch.arange(b * p, device=z.device).repeat_interleave(v)
        self_mask = torch.eye(b * p * v, dtype=torch.bool, device=z.device)
        positive = (place[:, None] == place[None, :]) & ~self_mask
        candidates = positive | (image[:, None] != image[None, :])
        logits = (s / self.temperature).masked_fill(~candidates, float("-inf"))
        log_norm = torch.logsumexp(logits, dim=1)
        pos_sim = s.masked_fill(~positive, 0.0).sum(dim=1) / (v - 1)
        invariance = ((1 - pos_sim) / self.temperature).mean()
        contrast = (log_norm - 1 / self.temperature).mean()
        return {"invariance": invariance, "contrast": contrast}

    def forward(self, z: torch.Tensor, z_other: torch.Tensor | None = None) -> torch.Tensor:
        t = self.terms(z, z_other)
        if self.variant == "contrastive":
            return t["invariance"] + t["contrast"]
        return t["invariance"] + self.decorrelation_weight * t["decorrelation"]

    def extra_repr(self) -> str:
        if self.variant == "contrastive":
            return f"variant='contrastive', temperature={self.temperature}, max_positions={self.max_positions}"
        return f"variant='decorrelation', decorrelation_weight={self.decorrelation_weight}"
