"""Gram matrices of feature matrices, the shared ground of the kernel-form regressions.

Features enter once as an n × n Gram matrix of the (column-)centred features,
formed block by block from the features in their own dtype (:func:`centred_gram`);
each split's centred training and test-by-training blocks are read off it
(:func:`centred_blocks`). :mod:`analysis._pls` and :mod:`analysis._ridge` work on
these blocks only, so their cost is independent of the number of features.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Gram", "to_tensor", "compute_dtype", "self_gram", "centred_gram", "centred_blocks"]


def to_tensor(x, device, dtype=None) -> torch.Tensor:
    """``x`` (array or tensor) as a tensor on ``device``, cast to ``dtype`` if given."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, device=device)
    if dtype is not None:
        t = t.to(dtype)
    return t

def compute_dtype(x) -> torch.dtype:
    """float32 inputs stay float32; everything else is computed in float64."""
    dt = x.dtype if isinstance(x, (np.ndarray, torch.Tensor)) else np.asarray(x).dtype
    return torch.float32 if dt in (np.float32, torch.float32, np.float16, torch.float16) else torch.float64

def self_gram(x: torch.Tensor) -> torch.Tensor:
    """``x @ x.T`` for a (…, n, p) tensor.

    On the CPU a contiguous 2-D product goes through numpy, whose BLAS call
    recognises ``A Aᵀ`` and runs the symmetric rank-k update (syrk, half the
    flops of a general product); elsewhere it is a torch matmul.
    """
    if x.device.type == "cpu" and x.ndim == 2 and x.dtype in (torch.float32, torch.float64):
        a = x.contiguous().numpy()
        return torch.from_numpy(a @ a.T)
    return x @ x.transpose(-1, -2)

def centred_gram(X, dtype: torch.dtype, device=None, block: int = 2048) -> torch.Tensor:
    """Gram matrix of the column-centred features, ``(X − 1μᵀ)(X − 1μᵀ)ᵀ``, by column blocks.

    ``X`` (n × p array or tensor) is read ``block`` columns at a time: each block
    is converted to ``dtype`` on ``device``, centred on its column means and its
    Gram (``syrk``) added to the n × n result. So a float32 feature matrix never
    gets a float64 or a centred copy: the extra memory is one n × block block
    and the n × n result, whatever p is.
    """
    Xt = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    n, p = Xt.shape
    dev = torch.device(device) if device is not None else Xt.device
    G = torch.zeros(n, n, dtype=dtype, device=dev)
    for s in range(0, p, block):
        xb = Xt[:, s:s + block].to(device=dev, dtype=dtype, copy=True)
        xb -= xb.mean(0, keepdim=True)
        G += self_gram(xb)
    return G

@dataclass
class Gram:
    """Gram matrix of the globally centred features of all stimuli, and the number of features."""

    gram: torch.Tensor  # (n, n) Gram of globally centred features
    n_features: int

def centred_blocks(G: torch.Tensor, train, test):
    """Training Gram and test-by-training Gram, both centred with the training mean.

    From the Gram ``G`` of all stimuli (any common centring):
    ``K = G_tt − r 1ᵀ − 1 rᵀ + c`` and ``K_x = G_st − r_s 1ᵀ − 1 rᵀ + c``, with r the
    row means of ``G_tt``, r_s those of ``G_st`` and c the mean of r.
    """
    tr = torch.as_tensor(np.asarray(train), device=G.device)
    te = torch.as_tensor(np.asarray(test), device=G.device)
    G_tt = G[tr][:, tr]
    G_st = G[te][:, tr]
    r_t = G_tt.mean(1)          # mean over training columns, per training row
    r_s = G_st.mean(1)          # same, per test row
    c = r_t.mean()
    K = G_tt - r_t[:, None] - r_t[None, :] + c
    K = 0.5 * (K + K.T)
    Kx = G_st - r_s[:, None] - r_t[None, :] + c
    return K, Kx
