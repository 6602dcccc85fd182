"""Representational similarity analysis: RDMs and their comparison.

Definitions follow ``rsatoolbox`` 0.3.2 (Nili et al. 2014; Walther et al. 2016;
Diedrichsen et al. 2021), so that the numbers agree with it:

- ``'euclidean'``: squared Euclidean distance divided by the number of channels,
  ``d_ij = ‖x_i − x_j‖² / P``;
- ``'correlation'``: ``1 − r_ij``, Pearson r between the two response patterns
  (each pattern centred over channels);
- ``'mahalanobis'``: ``(x_i − x_j)ᵀ Λ (x_i − x_j) / P`` with a noise precision Λ
  (identity: Euclidean);
- ``'crossnobis'``: cross-validated Mahalanobis distance, leave one partition out
  (``rsatoolbox.rdm.calc_rdm_crossnobis``): for each partition f,
  ``d_ij^f = (a_i − a_j)ᵀ Λ (b_i − b_j) / P`` with ``a`` the mean over all trials
  of the other partitions (partitions weighted by their trials, as rsatoolbox)
  and ``b`` partition f's mean; averaged over f. Unbiased: zero in expectation
  when two conditions do not differ.

RDM comparisons: cosine, Pearson, Spearman (ranks with ties averaged), Kendall
τ_a, and the whitened ``cosine_cov`` / ``corr_cov`` of Diedrichsen et al. (2021),
which equal the cosine between the double-centred second-moment matrices
``G = −½ H D H`` (``corr_cov`` subtracts the mean dissimilarity first). Noise
ceilings and the bootstrap over stimuli live in :mod:`analysis.rsa_inference`, CKA in
:mod:`analysis.cka`.

All heavy work runs batched in torch (float64, or float32 for float32 inputs) on
the device of the input or ``device=``.

Examples
--------
>>> import numpy as np
>>> from analysis.rsa import rdm, compare_rdms
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(10, 50))
>>> d = rdm(x, method="correlation")
>>> d.shape
(10, 10)
>>> round(compare_rdms(d, rdm(2 * x + 1, method="correlation"), method="pearson"), 6)
1.0
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import xarray as xr

from analysis._rdm_compare import COL as _COL
from analysis._rdm_compare import ROW as _ROW
from analysis._rdm_compare import COMPARE_METHODS, as_vectors, compare_checked
from analysis._gram import self_gram
from analysis._representations import as_tensor as _tensor
from analysis._representations import check_finite as _check_finite
from analysis._representations import pairwise_sq_distances as _pairwise
from analysis._representations import squeeze_time as _squeeze_time
from analysis.assemblies import PRESENTATION, average_repetitions, validate

__all__ = ["RDM_METHODS", "rdm", "compare_rdms"]

RDM_METHODS = ("correlation", "euclidean", "mahalanobis", "crossnobis")


# ----------------------------------------------------------------------------- RDMs


def _finish(d: torch.Tensor) -> torch.Tensor:
    d = 0.5 * (d + d.transpose(-1, -2))
    n = d.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=d.device)
    return d.masked_fill(eye, 0.0)


def _rdm_tensor(x: torch.Tensor, method: str, precision: torch.Tensor | None) -> torch.Tensor:
    p = x.shape[-1]
    if method == "correlation":
        z = x - x.mean(-1, keepdim=True)
        norm = torch.linalg.vector_norm(z, dim=-1, keepdim=True)
        if (norm == 0).any():
            raise ValueError("correlation distance is undefined for a pattern that is constant across channels")
        return _finish(1.0 - self_gram(z / norm))
    if method == "euclidean":
        x = x - x.mean(-2, keepdim=True)  # translation-invariant; better conditioned
        return _finish(_pairwise(x, x, None) / p)
    if method == "mahalanobis":
        x = x - x.mean(-2, keepdim=True)
        return _finish(_pairwise(x, x, precision) / p)
    raise AssertionError(method)


def _crossnobis_tensor(folds: torch.Tensor, precision: torch.Tensor | None,
                       counts: torch.Tensor | None = None) -> torch.Tensor:
    """Leave-one-partition-out crossnobis RDM, as ``rsatoolbox.rdm.calc_rdm_crossnobis``.

    folds: (F, n, p) per-partition condition means; counts: (F, n) trials behind each
    mean (None: equal). For held-out partition f the training pattern of condition i
    is the mean over *all trials* of the other partitions,
    ``a_i = (Σ_g N_gi m_gi − N_fi m_fi) / (Σ_g N_gi − N_fi)``, so partitions weigh by
    their trials; the F RDMs are averaged with equal weight.
    """
    n_f, n, p = folds.shape
    if counts is None:
        counts = torch.ones(n_f, n, dtype=folds.dtype, device=folds.device)
    counts = counts.to(folds.dtype)
    sums = folds * counts[..., None]
    total, total_n = sums.sum(0), counts.sum(0)
    acc = torch.zeros(n, n, dtype=folds.dtype, device=folds.device)
    for f in range(n_f):
        others = (total - sums[f]) / (total_n - counts[f])[:, None]
        acc = acc + _pairwise(others, folds[f], precision) / p
    return _finish(acc / n_f)


def _patterns(data, method, cv_coord, device):
    """Return (tensor, stimulus ids, attrs) of condition patterns (or fold patterns)."""
    if isinstance(data, xr.DataArray):
        a = _squeeze_time(validate(data))
        attrs = {k: a.attrs[k] for k in ("source", "simulated") if k in a.attrs}
        if method == "crossnobis":
            if cv_coord not in a.coords or a[cv_coord].dims != (PRESENTATION,):
                raise ValueError(
                    f"crossnobis needs independent partitions of the data: a presentation coord "
                    f"{cv_coord!r} (e.g. 'repetition', 'session'); present coords: "
                    f"{[str(c) for c in a.coords if a[c].dims == (PRESENTATION,)]}"
                )
            sid = np.asarray(a["stimulus_id"].values).astype(str)
            ids = np.asarray(list(dict.fromkeys(sid)))
            folds = np.unique(np.asarray(a[cv_coord].values))
            if len(folds) < 2:
                raise ValueError(f"crossnobis needs at least 2 values of {cv_coord!r}; got {folds.tolist()}")
            pos = {s: i for i, s in enumerate(ids)}
            vals = np.asarray(a.values, dtype=np.float64 if a.dtype != np.float32 else np.float32)
            out = np.zeros((len(folds), len(ids), vals.shape[1]), dtype=vals.dtype)
            n_trials = np.zeros((len(folds), len(ids)), dtype=np.int64)
            cv = np.asarray(a[cv_coord].values)
            for fi, f in enumerate(folds):
                m = cv == f
                rows = np.array([pos[s] for s in sid[m]])
                counts = np.bincount(rows, minlength=len(ids))
                if (counts == 0).any():
                    miss = ids[counts == 0][:5].tolist()
                    raise ValueError(
                        f"partition {cv_coord}={f!r} lacks {int((counts == 0).sum())} stimuli "
                        f"(e.g. {miss}); crossnobis needs every stimulus in every partition"
                    )
                np.add.at(out[fi], rows, vals[m])
                out[fi] /= counts[:, None]
                n_trials[fi] = counts
            return (_tensor(out, device), torch.as_tensor(n_trials, device=device)), ids, attrs
        ids_all = a["stimulus_id"].values
        if len(np.unique(ids_all)) != len(ids_all):
            a = average_repetitions(a)
        return _tensor(a.values, device), np.asarray(a["stimulus_id"].values).astype(str), attrs
    t = _tensor(data, device)
    need = 3 if method == "crossnobis" else 2
    if t.ndim < need:
        raise ValueError(
            f"array input for {method!r} must have shape "
            f"{'(n_partitions, n_conditions, n_channels)' if method == 'crossnobis' else '(n_conditions, n_channels) or (k, n_conditions, n_channels)'}"
            f"; got {tuple(t.shape)}"
        )
    if method == "crossnobis" and t.ndim != 3:
        raise ValueError(f"crossnobis array input must be (n_partitions, n, p); got {tuple(t.shape)}")
    if method == "crossnobis" and t.shape[0] < 2:
        raise ValueError("crossnobis needs at least 2 partitions")
    return t, np.asarray([str(i) for i in range(t.shape[-2])]), {}


def rdm(
    data,
    method: str = "correlation",
    *,
    noise=None,
    cv_coord: str = "repetition",
    device=None,
) -> xr.DataArray:
    """Representational dissimilarity matrix of the conditions (stimuli) in ``data``.

    Parameters
    ----------
    data : assembly, array or tensor
        An assembly (presentation × neuroid; repetitions of a stimulus are averaged,
        except for crossnobis, which keeps them as partitions), or an array
        ``(n_conditions, n_channels)``, or a batch ``(k, n_conditions, n_channels)``
        (crossnobis: ``(n_partitions, n_conditions, n_channels)``).
    method : {'correlation', 'euclidean', 'mahalanobis', 'crossnobis'}
        See the module docstring; euclidean distances are squared and divided by
        the number of channels, as in rsatoolbox.
    noise : array (n_channels, n_channels), optional
        Noise *precision* Λ for mahalanobis/crossnobis (default identity).
    cv_coord : str
        Presentation coord that defines crossnobis partitions.
    device : torch device, optional
        Default: the input tensor's device, else CPU.

    Returns
    -------
    xarray.DataArray
        ``(n, n)`` (or ``(k, n, n)`` with a leading ``rdm`` dim) with the stimulus
        ids on both dims (``stimulus_id`` and ``stimulus_id_2``); attrs
        ``method``, ``n_channels``.
    """
    if method not in RDM_METHODS:
        raise ValueError(f"unknown RDM method {method!r}; choose one of {list(RDM_METHODS)}")
    if noise is not None and method not in ("mahalanobis", "crossnobis"):
        raise ValueError(f"noise (a precision matrix) is used by mahalanobis/crossnobis only, not {method!r}")
    x, ids, attrs = _patterns(data, method, cv_coord, device)
    x, counts = x if isinstance(x, tuple) else (x, None)
    _check_finite(x, "the data", fn="rdm")
    p = x.shape[-1]
    precision = None
    if noise is not None:
        precision = _tensor(noise, x.device, x.dtype)
        if precision.shape != (p, p):
            raise ValueError(f"noise precision must be ({p}, {p}) for {p} channels; got {tuple(precision.shape)}")
    if len(ids) < 2:
        raise ValueError(f"an RDM needs at least 2 conditions; got {len(ids)}")
    if method == "crossnobis":
        d = _crossnobis_tensor(x, precision, counts)
    else:
        d = _rdm_tensor(x, method, precision)
    _check_finite(d, "the RDM (so the noise precision)", fn="rdm")  # finite data, so the precision
    values = d.cpu().numpy()
    dims = (_ROW, _COL) if values.ndim == 2 else ("rdm",) * (values.ndim - 2) + (_ROW, _COL)
    if values.ndim > 3:
        raise ValueError("batch RDMs with one leading dim: (k, n, p)")
    return xr.DataArray(values, dims=dims, coords={_ROW: ids, _COL: ids},
                        attrs={"method": method, "n_channels": int(p), **attrs})


# ----------------------------------------------------------------------------- comparison


def _is_single(r) -> bool:
    """One RDM: an (n, n) matrix or one upper-triangle vector (not a stack)."""
    shape = tuple(r.shape) if hasattr(r, "shape") else np.shape(r)
    return len(shape) == 1 or (len(shape) == 2 and shape[0] == shape[1])


def compare_rdms(a, b, method: str = "spearman", nan_policy: str = "raise"):
    """Similarity of two RDMs (or of every pair from two stacks, all pairs at once).

    Parameters
    ----------
    a, b : RDMs
        ``(n, n)`` DataArrays from :func:`rdm` (b is reordered to a's stimulus
        ids), ``(k, n, n)`` stacks, square arrays, or upper-triangle vectors.
    method : {'spearman', 'tau_a', 'cosine', 'pearson', 'corr_cov', 'cosine_cov'}
        As ``rsatoolbox.rdm.compare`` ('corr' ↔ 'pearson', 'tau-a' ↔ 'tau_a').
        ``cosine_cov``/``corr_cov`` assume i.i.d. pattern noise (``sigma_k=None``).
        Stacks are compared with one matrix product (Spearman: each RDM ranked once).
    nan_policy : {'raise', 'omit'}
        An RDM whose dissimilarities are all equal (or all zero, for cosine) has no
        correlation with anything: ``'raise'`` (default) refuses, naming it;
        ``'omit'`` returns NaN for its pairs with a warning.

    Returns
    -------
    float, or numpy.ndarray of shape (k_a, k_b) when either input is a stack.

    Raises
    ------
    ValueError
        For fewer than 3 conditions (a single dissimilarity cannot be correlated:
        every comparison would be ±1 or 0 whatever the data).

    Examples
    --------
    >>> import numpy as np
    >>> compare_rdms(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0]), "spearman")
    1.0
    """
    if method not in COMPARE_METHODS:
        raise ValueError(f"unknown comparison method {method!r}; choose one of {list(COMPARE_METHODS)}")
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit'; got {nan_policy!r}")
    va, n, ids = as_vectors(a, "first")
    vb, nb, _ = as_vectors(b, "second", ids)
    if n != nb:
        raise ValueError(f"RDMs differ in size: {n} vs {nb} conditions")
    if n < 3:
        raise ValueError(
            f"comparing RDMs needs at least 3 conditions (3 dissimilarities); got {n} conditions, i.e. "
            f"{n * (n - 1) // 2} dissimilarity, whose 'correlation' is ±1 or 0 whatever the data. Add conditions."
        )
    vb = vb.to(va.device)
    out, flat_a, flat_b = compare_checked(va, vb, n, method)  # NaN/inf refused, flat RDMs found on the way
    out, flat_a, flat_b = out.cpu().numpy(), flat_a.cpu().numpy(), flat_b.cpu().numpy()
    if flat_a.any() or flat_b.any():
        which = [f"first #{i}" for i in np.flatnonzero(flat_a)] + [f"second #{i}" for i in np.flatnonzero(flat_b)]
        msg = (f"RDM(s) {', '.join(which[:5])} have no variation ({'all zero' if method == 'cosine' else 'all equal'} "
               f"dissimilarities), so their {method} similarity is undefined.")
        if nan_policy == "raise":
            raise ValueError(msg + " Check the data behind them, or pass nan_policy='omit' to get NaN.")
        warnings.warn(msg + " Returning NaN for them (nan_policy='omit').", RuntimeWarning, stacklevel=2)
        out[flat_a, :] = np.nan
        out[:, flat_b] = np.nan
    if _is_single(a) and _is_single(b):
        return float(out[0, 0])
    return out
