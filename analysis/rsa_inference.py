"""Inference on RDM comparisons: noise ceilings and bootstrap over stimuli.

- :func:`noise_ceiling`: lower and upper bounds of the noise ceiling of a set of
  subject (or session) RDMs (Nili et al. 2014), as
  ``rsatoolbox.inference.boot_noise_ceiling`` without its bootstrap;
- :func:`bootstrap`: bootstrap distribution of an RDM similarity (or of linear
  CKA) over resampled stimuli, as ``rsatoolbox``'s ``bootstrap_sample_pattern``.

Examples
--------
>>> import numpy as np
>>> from analysis.rsa import rdm
>>> from analysis.rsa_inference import noise_ceiling
>>> rng = np.random.default_rng(0)
>>> signal = rng.normal(size=(12, 40))
>>> subjects = np.stack([rdm(signal + 0.5 * rng.normal(size=signal.shape)).values for _ in range(4)])
>>> nc = noise_ceiling(subjects, method="pearson")
>>> bool(0 < nc.lower <= nc.upper <= 1)
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from analysis._rdm_compare import (
    COMPARE_METHODS,
    as_matrices,
    compare_vectors,
    cosine,
    ranks,
    tau_a_pair,
    upper,
)
from analysis.cka import cka_of_features, paired_features
from neurocommon.progress import progress_bar

__all__ = ["noise_ceiling", "bootstrap", "NoiseCeiling", "BootstrapResult"]


def _compare_mats(ma: torch.Tensor, mb: torch.Tensor, method: str) -> torch.Tensor:
    return compare_vectors(upper(ma), upper(mb), ma.shape[-1], method)


# ----------------------------------------------------------------------------- noise ceiling


@dataclass
class NoiseCeiling:
    """Lower and upper bounds of the noise ceiling (Nili et al. 2014).

    ``upper``: mean similarity of each subject's RDM to the mean RDM of *all*
    subjects (including itself); ``lower``: to the mean of the *other* subjects
    (leave one subject/session out). Per-group values in ``lower_each``/``upper_each``.
    """

    lower: float
    upper: float
    lower_each: np.ndarray
    upper_each: np.ndarray
    method: str


def _pool(v: torch.Tensor, method: str) -> torch.Tensor:
    """Mean RDM vector that is optimal under ``method`` (rsatoolbox ``pool_rdm``)."""
    if method in ("cosine", "cosine_cov"):
        v = v / torch.sqrt((v**2).mean(-1, keepdim=True))
    elif method in ("pearson", "corr_cov"):
        v = v - v.mean(-1, keepdim=True)
        v = v / v.std(-1, keepdim=True, unbiased=False)
    elif method in ("spearman", "tau_a"):
        v = ranks(v)
    pooled = v.mean(0, keepdim=True)
    if method in ("pearson", "corr_cov"):
        pooled = pooled - pooled.min()
    return pooled


def _vectors_to_mats(v: torch.Tensor) -> torch.Tensor:
    return as_matrices(v, "pooled")[0]


def noise_ceiling(rdms, method: str = "spearman", groups=None) -> NoiseCeiling:
    """Noise ceiling of a set of subject (or session) RDMs.

    As ``rsatoolbox.inference.boot_noise_ceiling`` (without bootstrap): RDMs are
    pooled in the way that is optimal for ``method`` (normalised / ranked, then
    averaged); for each group g (one subject, or all sessions of one subject)
    lower = mean similarity of g's RDMs to the pool of the other groups, upper =
    to the pool of all RDMs; both averaged over groups.

    Parameters
    ----------
    rdms : (k, n, n) DataArray/array, list of (n, n) RDMs, or (k, n_pairs) vectors
    method : str
        A :func:`compare_rdms` method.
    groups : sequence of length k, optional
        Subject/session label of each RDM (default: each RDM its own group).

    Returns
    -------
    NoiseCeiling
    """
    if method not in COMPARE_METHODS:
        raise ValueError(f"unknown comparison method {method!r}; choose one of {list(COMPARE_METHODS)}")
    if isinstance(rdms, (list, tuple)):
        ids = None
        mats = []
        for i, r in enumerate(rdms):
            m, ids_i = as_matrices(r, f"RDM {i}", ids)
            ids = ids if ids is not None else ids_i
            mats.append(m)
        mats = torch.cat(mats)
    else:
        mats, _ = as_matrices(rdms, "rdms")
    k = mats.shape[0]
    if k < 2:
        raise ValueError(f"a noise ceiling needs RDMs from at least 2 subjects/sessions; got {k}")
    labels = np.arange(k) if groups is None else np.asarray(groups)
    if labels.shape != (k,):
        raise ValueError(f"groups must have one label per RDM ({k}); got shape {labels.shape}")
    uniq = np.unique(labels)
    if len(uniq) < 2:
        raise ValueError("leave-one-group-out needs at least 2 distinct groups")
    vecs = upper(mats)
    pooled_all = _vectors_to_mats(_pool(vecs, method))
    lows, highs = [], []
    for g in uniq:
        test = torch.as_tensor(labels == g)
        pooled_rest = _vectors_to_mats(_pool(vecs[~test], method))
        lows.append(float(_compare_mats(pooled_rest, mats[test], method).mean()))
        highs.append(float(_compare_mats(pooled_all, mats[test], method).mean()))
    lows, highs = np.asarray(lows), np.asarray(highs)
    return NoiseCeiling(float(lows.mean()), float(highs.mean()), lows, highs, method)


# ----------------------------------------------------------------------------- bootstrap


@dataclass
class BootstrapResult:
    """Bootstrap distribution of a similarity over resampled stimuli.

    ``estimate`` is the value on all stimuli, ``samples`` the bootstrap values,
    ``ci`` the percentile interval ``(low, high)``, ``se`` the bootstrap standard
    deviation, ``indices`` the resampled stimulus indices (n_bootstrap, n).
    """

    estimate: float
    samples: np.ndarray
    ci: tuple[float, float]
    se: float
    level: float
    method: str
    indices: np.ndarray


def _masked_compare(va: torch.Tensor, vb: torch.Tensor, method: str) -> float:
    if method == "cosine":
        return float(cosine(va[None], vb[None])[0, 0])
    if method == "pearson":
        return float(cosine((va - va.mean())[None], (vb - vb.mean())[None])[0, 0])
    if method == "spearman":
        ra, rb = ranks(va[None])[0], ranks(vb[None])[0]
        return float(cosine((ra - ra.mean())[None], (rb - rb.mean())[None])[0, 0])
    if method == "tau_a":
        return tau_a_pair(va.cpu().numpy(), vb.cpu().numpy())
    raise AssertionError(method)


def bootstrap(
    a,
    b,
    method: str = "spearman",
    n_bootstrap: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    progress: bool = False,
) -> BootstrapResult:
    """Bootstrap a similarity over stimuli (conditions resampled with replacement).

    Parameters
    ----------
    a, b : RDMs (for RDM comparisons) or assemblies/arrays (for ``method='cka'``)
        Over the same stimuli (DataArrays are aligned by stimulus id).
    method : {'spearman', 'tau_a', 'cosine', 'pearson', 'cka'}
        For RDM methods each bootstrap sample keeps the dissimilarities between
        resampled stimuli and drops the pairs of a stimulus with its own copy
        (as ``rsatoolbox``'s ``subsample_pattern`` sets them to NaN); ``'cka'``
        resamples the rows of both feature matrices (linear CKA).
        The whitened methods (``*_cov``) are not defined on such incomplete RDMs
        here.
    n_bootstrap : int
    ci : float
        Level of the percentile interval.
    seed : int

    Returns
    -------
    BootstrapResult
    """
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1); got {ci}")
    if n_bootstrap < 2:
        raise ValueError(f"n_bootstrap must be >= 2; got {n_bootstrap}")
    rng = np.random.default_rng(seed)
    if method == "cka":
        x, y = paired_features(a, b)
        n = x.shape[0]
        est = cka_of_features(x, y, "linear", False, None, 1.0)
        idx = rng.integers(0, n, size=(n_bootstrap, n))
        samples = np.array([cka_of_features(x[i], y[i], "linear", False, None, 1.0, nan_policy="omit")
                            for i in progress_bar(idx, progress, "bootstrap")])
    elif method in ("spearman", "tau_a", "cosine", "pearson"):
        ma, ids = as_matrices(a, "first")
        mb, _ = as_matrices(b, "second", ids)
        if ma.shape[0] != 1 or mb.shape[0] != 1:
            raise ValueError("bootstrap compares one RDM with one RDM")
        ma, mb = ma[0], mb[0].to(ma.device)
        n = ma.shape[-1]
        est = float(_compare_mats(ma[None], mb[None], method)[0, 0])
        idx = np.sort(rng.integers(0, n, size=(n_bootstrap, n)), axis=1)
        iu = np.triu_indices(n, 1)
        samples = np.empty(n_bootstrap)
        for k, sel in enumerate(progress_bar(idx, progress, "bootstrap")):
            r, c = sel[iu[0]], sel[iu[1]]
            keep = torch.as_tensor(r != c)
            rr, cc = torch.as_tensor(r)[keep], torch.as_tensor(c)[keep]
            samples[k] = _masked_compare(ma[rr, cc], mb[rr, cc], method)
    else:
        raise ValueError(
            f"bootstrap supports methods 'spearman', 'tau_a', 'cosine', 'pearson' and 'cka'; got {method!r}"
        )
    lo, hi = np.nanquantile(samples, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return BootstrapResult(float(est), samples, (float(lo), float(hi)), float(np.nanstd(samples, ddof=1)),
                           ci, method, idx)
