"""Input checks and batch statistics shared by the local losses.

Every loss takes ``z`` of shape (B, V, D): B images, V views of each, D features
(``docs/interfaces.md``). Losses computed on features all-gathered across ranks
simply see a larger B; nothing here depends on the process group.
"""
from __future__ import annotations

import torch

__all__ = ["as_views", "standardize"]


def as_views(
    z: torch.Tensor,
    z_other: torch.Tensor | None,
    loss_name: str,
    *,
    min_batch: int = 1,
    min_views: int = 2,
    exact_views: int | None = None,
) -> torch.Tensor:
    """Validate ``z`` (B, V, D), or stack two (B, D) views into one.

    Parameters
    ----------
    z
        (B, V, D) features, or the first view (B, D) when ``z_other`` is given. Local
        features (B, V, P, D) are read as B·P samples (B·P, V, D), position-major
        within each image.
    z_other
        Optional second view (B, D), the lightly-style two-argument call.
    loss_name
        Used in error messages.
    min_batch, min_views, exact_views
        Requirements of the loss on B and V.

    Returns
    -------
    torch.Tensor
        (B, V, D); half-precision input (AMP) is promoted to float32.
    """
    if z_other is not None:
        if not isinstance(z_other, torch.Tensor) or not isinstance(z, torch.Tensor):
            raise TypeError(f"{loss_name}: both views must be torch.Tensors")
        if z.ndim != 2 or z.shape != z_other.shape:
            raise ValueError(
                f"{loss_name}: the two views must both have shape (B, D); got {tuple(z.shape)} "
                f"and {tuple(z_other.shape)}. Pass the same images' features for both views."
            )
        z = torch.stack([z, z_other], dim=1)
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{loss_name}: expected a torch.Tensor (B, V, D); got {type(z).__name__}")
    n_images = z.shape[0] if z.ndim >= 1 else 0
    if z.ndim == 4:  # local features (B, V, P, D): every position of every image is a sample
        b4, v4, p4, d4 = z.shape
        z = z.transpose(1, 2).reshape(b4 * p4, v4, d4)
    if z.ndim != 3:
        raise ValueError(
            f"{loss_name}: expected features of shape (B images, V views, D features) or local features "
            f"(B, V, P positions, D); got shape {tuple(z.shape)}. Stack views with torch.stack([z1, z2], dim=1)."
        )
    if not torch.is_floating_point(z):
        raise TypeError(f"{loss_name}: features must be floating point; got {z.dtype}")
    if z.dtype in (torch.float16, torch.bfloat16):
        z = z.float()  # batch statistics and log-determinants need single precision (AMP)
    b, v, d = z.shape
    if exact_views is not None and v != exact_views:
        raise ValueError(
            f"{loss_name}: needs exactly {exact_views} views per image; got V = {v} in shape "
            f"{tuple(z.shape)}. Use a multi-view loss (lcl, simclr, mmcr, gaussian_information) for V > 2."
        )
    if v < min_views:
        raise ValueError(f"{loss_name}: needs at least {min_views} views per image; got V = {v}")
    if n_images < min_batch:
        raise ValueError(
            f"{loss_name}: needs at least {min_batch} images per batch (its statistics are computed "
            f"across the batch); got B = {n_images}. Use a larger batch."
        )
    if d < 1:
        raise ValueError(f"{loss_name}: needs at least one feature; got D = {d}")
    return z


def standardize(x: torch.Tensor, dim: int = 0, eps: float = 1e-5) -> torch.Tensor:
    """Zero-mean, unit-variance features along ``dim`` (biased variance, like BatchNorm).

    ``(x - mean) / sqrt(var + eps)``; a constant feature maps to 0.
    """
    mean = x.mean(dim=dim, keepdim=True)
    var = x.var(dim=dim, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)
