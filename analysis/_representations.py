"""Input handling shared by the representational comparisons (``analysis.rsa``, ``analysis.cka``).

Arrays and tensors become float tensors (float32 stays float32, everything else
float64) on the requested device; assemblies keep one time bin; squared Euclidean
distances come from one Gram matrix.
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from analysis._gram import self_gram
from analysis._validation import check_finite as check_finite_values
from analysis.assemblies import TIME_BIN

__all__ = ["as_tensor", "check_finite", "squeeze_time", "pairwise_sq_distances"]


def _dtype_of(x) -> torch.dtype:
    return torch.float32 if getattr(x, "dtype", None) in (np.float32, torch.float32) else torch.float64


def as_tensor(x, device=None, dtype=None) -> torch.Tensor:
    """A detached float tensor of ``x`` (array or tensor); non-numeric data is refused."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
        return t.to(device=device or t.device, dtype=dtype or _dtype_of(x))
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"expected numeric data; got dtype {arr.dtype}")
    return torch.as_tensor(arr, device=device).to(dtype or _dtype_of(arr))


def check_finite(t: torch.Tensor, what: str, fn: str = "rdm") -> None:
    """Refuse NaN/inf with a message that names ``what`` (:func:`analysis._validation.check_finite`'s).

    The fast test is one sum on the tensor's device (a NaN or inf entry makes the
    sum NaN or inf; a single reduction is several times faster than
    ``isfinite(t).all()`` on the CPU); only when the sum is not finite (NaN/inf, or
    an overflow of finite values) are the entries tested one by one, and the
    shared check run for its message (how many NaN and inf values).
    """
    if t.numel() and not torch.isfinite(t.sum()) and not torch.isfinite(t).all():
        check_finite_values(t, what, fn=fn)


def squeeze_time(a: xr.DataArray) -> xr.DataArray:
    """Drop a single ``time_bin``; refuse several (the caller must choose or average)."""
    if TIME_BIN in a.dims:
        if a.sizes[TIME_BIN] != 1:
            raise ValueError(
                f"the assembly has {a.sizes[TIME_BIN]} time bins; compute one per bin "
                f"(assembly.isel(time_bin=k)) or average them (assembly.mean('time_bin'))"
            )
        a = a.isel({TIME_BIN: 0}, drop=True)
    return a


def pairwise_sq_distances(a: torch.Tensor, b: torch.Tensor, precision: torch.Tensor | None = None) -> torch.Tensor:
    """``d_ij = (a_i − a_j)ᵀ Λ (b_i − b_j)`` for (…, n, p) tensors, from ``K = a Λ bᵀ``:
    ``d_ij = K_ii + K_jj − K_ij − K_ji`` (Λ = identity when ``precision`` is None)."""
    if precision is None and a is b:
        K = self_gram(a)
    else:
        ka = a if precision is None else a @ precision
        K = ka @ b.transpose(-1, -2)
    diag = torch.diagonal(K, dim1=-2, dim2=-1)
    return diag[..., :, None] + diag[..., None, :] - K - K.transpose(-1, -2)
