"""Smooth random displacement fields and the warp that applies them (batched, on the images' device).

A smooth random field is made cheaply (DESIGN.md §5) by drawing independent Gaussian
displacements on a coarse grid of nodes ``cell_size`` pixels apart and upsampling the
grid bicubically to full resolution; images are then resampled along it with
``grid_sample``. The field is smooth at the scale ``cell_size``: most of its power lies
below the grid's Nyquist frequency ``1 / (2 cell_size)`` cycles/pixel, and bicubic
interpolation leaves well under 1% above its sampling frequency ``1 / cell_size``.

Two users, two scalings (:func:`displacement_field`'s ``normalize``):

- ``"expected"`` (the training views of ``neuromodels.augment``): the node standard
  deviation is fixed so that the *expected* mean squared displacement magnitude is
  ``amplitude²``; each field's own size varies around it, as a random deformation should;
- ``"per_image"`` (the elastic distortion of ``analysis.distortions``): each image's
  field is centred (no net shift) and each component scaled to RMS *exactly*
  ``amplitude``, so a distortion strength means the same displacement on every image.

torch is imported inside the functions.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["displacement_field", "warp", "NORMALIZATIONS"]

#: values of :func:`displacement_field`'s ``normalize``
NORMALIZATIONS = ("expected", "per_image")


def _interpolation_weights(n_nodes: int, n_pixels: int, dtype, device) -> "torch.Tensor":
    """(n_nodes, n_pixels) weights of 1-D bicubic upsampling (align_corners=True)."""
    import torch
    import torch.nn.functional as F

    eye = torch.eye(n_nodes, dtype=dtype, device=device).reshape(n_nodes, 1, 1, n_nodes)
    w = F.interpolate(eye, size=(1, n_pixels), mode="bicubic", align_corners=True)
    return w.reshape(n_nodes, n_pixels)


def displacement_field(
    batch: int,
    height: int,
    width: int,
    amplitude: float,
    cell_size: float,
    generator: "torch.Generator | None" = None,
    dtype: "torch.dtype | None" = None,
    device: "torch.device | str | None" = None,
    normalize: str = "expected",
) -> "torch.Tensor":
    """Smooth random displacement fields, (B, 2, H, W) in pixels (x then y component).

    Node displacements are i.i.d. normal on a grid of ``ceil((H-1)/cell_size) + 1`` by
    ``ceil((W-1)/cell_size) + 1`` nodes (at least 2 × 2) spanning the image, the corner
    nodes on the corner pixels' centres; bicubic upsampling (``align_corners=True``)
    makes the field.

    Parameters
    ----------
    batch, height, width : int
        Output size.
    amplitude : float
        Size of the displacements in pixels; what it fixes depends on ``normalize``.
    cell_size : float
        Node spacing of the coarse grid (pixels), the correlation length of the field.
    generator : torch.Generator, optional
        Source of randomness (the nodes are drawn on its device, then moved to ``device``).
    dtype : torch.dtype, optional
        Default ``torch.float32``.
    device : torch.device or str, optional
        Default CPU.
    normalize : {"expected", "per_image"}
        ``"expected"``: the nodes' standard deviation is set (from the interpolation
        weights, known exactly because upsampling is separable) so that the expected
        mean squared displacement *magnitude* over fields and image is exactly
        ``amplitude²``: ``amplitude`` is the RMS displacement, and each field varies
        around it. ``"per_image"``: each field is centred (its mean over the image
        removed, per component) and each *component* scaled to RMS exactly
        ``amplitude`` over the image (so the magnitude's RMS is ``amplitude·√2``).

    Returns
    -------
    torch.Tensor
        (batch, 2, height, width) displacements in pixels: ``[:, 0]`` along x (width),
        ``[:, 1]`` along y (height).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> f = displacement_field(1, 32, 32, 2.0, 8.0, g, torch.float64, normalize="per_image")
    >>> f.shape, [round(float(c.pow(2).mean().sqrt()), 6) for c in f[0]]
    (torch.Size([1, 2, 32, 32]), [2.0, 2.0])
    >>> f = displacement_field(2000, 16, 16, 3.0, 4.0, g, torch.float64)  # RMS magnitude 3 on average
    >>> round(float(f.pow(2).sum(1).mean().sqrt()), 1)
    3.0
    """
    import torch
    import torch.nn.functional as F

    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}; got {normalize!r}")
    dtype = torch.float32 if dtype is None else dtype
    device = torch.device(device) if device is not None else torch.device("cpu")
    gh = max(2, math.ceil((height - 1) / cell_size) + 1)
    gw = max(2, math.ceil((width - 1) / cell_size) + 1)
    gen_device = generator.device if generator is not None else device
    nodes = torch.randn(batch, 2, gh, gw, generator=generator, dtype=dtype, device=gen_device).to(device)
    if normalize == "per_image":
        field = F.interpolate(nodes, size=(height, width), mode="bicubic", align_corners=True)
        field = field - field.mean(dim=(-2, -1), keepdim=True)
        rms = field.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt().clamp_min(1e-12)
        return field / rms * amplitude
    wy = _interpolation_weights(gh, height, dtype, device)
    wx = _interpolation_weights(gw, width, dtype, device)
    # E|u(x, y)|^2 = 2 s^2 (sum_i wy_i(y)^2)(sum_j wx_j(x)^2); its image mean is separable
    gain = 2 * (wy**2).sum(0).mean() * (wx**2).sum(0).mean()
    nodes = nodes * (amplitude / torch.sqrt(gain))
    return F.interpolate(nodes, size=(height, width), mode="bicubic", align_corners=True)


def warp(images: "torch.Tensor", displacement: "torch.Tensor", padding_mode: str = "reflection") -> "torch.Tensor":
    """Resample ``images`` (B, C, H, W) at ``pixel + displacement`` (B, 2, H, W; pixels).

    Bilinear ``grid_sample`` in pixel coordinates (pixel ``i`` is sampled at
    ``i + displacement``, so a zero field returns the images).

    Parameters
    ----------
    images : torch.Tensor
        (B, C, H, W), floating point.
    displacement : torch.Tensor
        (B, 2, H, W) in pixels, x (width) then y (height); same dtype and device.
    padding_mode : {"reflection", "border", "zeros"}
        What lies beyond the image: its mirror image about the border pixels' centres
        (``"reflection"``, the training views), the border pixels repeated
        (``"border"``, the elastic distortion), or 0.

    Returns
    -------
    torch.Tensor
        The warped images, shape, dtype and device of ``images``.

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> shift = torch.zeros(1, 2, 4, 4); shift[:, 0] = 1.0  # sample one pixel to the right
    >>> warp(x, shift, padding_mode="border")[0, 0, 0].tolist()
    [1.0, 2.0, 3.0, 3.0]
    """
    import torch
    import torch.nn.functional as F

    b, _, h, w = images.shape
    ys = torch.arange(h, dtype=images.dtype, device=images.device)
    xs = torch.arange(w, dtype=images.dtype, device=images.device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    x = gx + displacement[:, 0]
    y = gy + displacement[:, 1]
    grid = torch.stack([2 * x / max(w - 1, 1) - 1, 2 * y / max(h - 1, 1) - 1], dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)
