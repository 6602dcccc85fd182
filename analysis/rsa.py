"""Representational similarity analysis: RDMs, their comparison, noise ceilings, bootstrap.

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
``G = −½ H D H`` (``corr_cov`` subtracts the mean dissimilarity first). CKA lives in
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
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from analysis._regression import self_gram
from analysis._representations import as_tensor as _tensor
from analysis._representations import check_finite as _check_finite
from analysis._representations import pairwise_sq_distances as _pairwise
from analysis._representations import squeeze_time as _squeeze_time
from analysis.assemblies import PRESENTATION, average_repetitions, validate
from analysis.cka import cka_of_features, paired_features

__all__ = [
    "RDM_METHODS",
    "COMPARE_METHODS",
    "rdm",
    "compare_rdms",
    "noise_ceiling",
    "bootstrap",
    "NoiseCeiling",
    "BootstrapResult",
]

RDM_METHODS = ("correlation", "euclidean", "mahalanobis", "crossnobis")
COMPARE_METHODS = ("spearman", "tau_a", "cosine", "pearson", "corr_cov", "cosine_cov")
_ROW, _COL = "stimulus_id", "stimulus_id_2"


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
    _check_finite(d, "the RDM (so the data or the noise precision)")  # NaN/inf inputs propagate here
    values = d.cpu().numpy()
    dims = (_ROW, _COL) if values.ndim == 2 else ("rdm",) * (values.ndim - 2) + (_ROW, _COL)
    if values.ndim > 3:
        raise ValueError("batch RDMs with one leading dim: (k, n, p)")
    return xr.DataArray(values, dims=dims, coords={_ROW: ids, _COL: ids},
                        attrs={"method": method, "n_channels": int(p), **attrs})


# ----------------------------------------------------------------------------- comparison


def _as_vectors(r, name: str, ids_ref=None):
    """RDM input → (k, n(n−1)/2) float64 tensor of upper triangles, n, and stimulus ids (or None)."""
    ids = None
    if isinstance(r, xr.DataArray):
        if _ROW in r.dims and _COL in r.dims:
            ids = np.asarray(r[_ROW].values).astype(str)
            if ids_ref is not None and not np.array_equal(ids, ids_ref):
                if set(ids) != set(ids_ref):
                    raise ValueError(
                        f"{name} RDM is over different stimuli: {len(set(ids) - set(ids_ref))} ids not in "
                        f"the first RDM (e.g. {sorted(set(ids) - set(ids_ref))[:5]})"
                    )
                r = r.sel({_ROW: list(ids_ref), _COL: list(ids_ref)})
                ids = ids_ref
            r = r.transpose(..., _ROW, _COL)
        t = _tensor(r.values, dtype=torch.float64)
    else:
        t = _tensor(r, dtype=torch.float64)
    if t.ndim == 1 or (t.ndim == 2 and t.shape[0] != t.shape[1]):
        vec = t.reshape(-1, t.shape[-1])
        n = int(round((1 + np.sqrt(1 + 8 * vec.shape[-1])) / 2))
        if n * (n - 1) // 2 != vec.shape[-1]:
            raise ValueError(f"{name}: a vector of {vec.shape[-1]} entries is not the upper triangle of an RDM")
        return vec, n, ids
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{name}: expected an (n, n) RDM, a (k, n, n) stack or upper-triangle vectors; got {tuple(t.shape)}")
    return _upper(t), t.shape[-1], ids


def _as_matrices(r, name: str, ids_ref=None):
    """RDM input → (k, n, n) float64 tensor and its stimulus ids (or None)."""
    vec, n, ids = _as_vectors(r, name, ids_ref)
    return _to_matrices(vec, n), ids


def _to_matrices(vec: torch.Tensor, n: int) -> torch.Tensor:
    mats = torch.zeros(vec.shape[0], n, n, dtype=vec.dtype, device=vec.device)
    iu = torch.triu_indices(n, n, 1, device=vec.device)
    mats[:, iu[0], iu[1]] = vec
    return mats + mats.transpose(-1, -2)


def _upper(m: torch.Tensor) -> torch.Tensor:
    n = m.shape[-1]
    iu = torch.triu_indices(n, n, 1, device=m.device)
    return m[..., iu[0], iu[1]]


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    na, nb = torch.linalg.vector_norm(a, dim=-1), torch.linalg.vector_norm(b, dim=-1)
    out = (a @ b.T) / (na[:, None] * nb[None, :])
    return torch.where((na[:, None] > 0) & (nb[None, :] > 0), out, torch.zeros_like(out))


def _ranks(v: torch.Tensor) -> torch.Tensor:
    """Ranks along the last axis, ties averaged (``scipy.stats.rankdata``), each row sorted once."""
    x = v.detach().cpu().numpy()
    x = x.reshape(-1, x.shape[-1])
    order = np.argsort(x, axis=-1, kind="stable")
    out = np.empty(x.shape, dtype=np.float64)
    ramp = np.arange(1, x.shape[-1] + 1, dtype=np.float64)
    for i in range(x.shape[0]):
        s = x[i, order[i]]
        new = np.empty(s.size, dtype=bool)
        new[0] = True
        np.not_equal(s[1:], s[:-1], out=new[1:])
        if new.all():                                   # no ties: the inverse permutation
            out[i, order[i]] = ramp
            continue
        dense = np.cumsum(new)                          # scipy's 'average' method
        starts = np.r_[np.flatnonzero(new), s.size]
        out[i, order[i]] = 0.5 * (starts[dense] + starts[dense - 1] + 1)
    return torch.as_tensor(out.reshape(v.shape), dtype=v.dtype, device=v.device)


def _tau_a_pair(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall τ_a = (concordant − discordant) / (N(N−1)/2), no tie correction.

    Obtained from scipy's O(N log N) τ_b: con − dis = τ_b · sqrt((N₀ − T_x)(N₀ − T_y)),
    with T_x, T_y the numbers of tied pairs in x and in y.
    """
    from scipy.stats import kendalltau

    size = x.size
    tot = size * (size - 1) // 2

    def ties(v):
        _, c = np.unique(v, return_counts=True)
        return int((c * (c - 1) // 2).sum())

    tx, ty = ties(x), ties(y)
    if tx == tot or ty == tot:
        return 0.0
    tau_b = kendalltau(x, y, variant="b").statistic
    return float(np.clip(tau_b * np.sqrt(float(tot - tx) * float(tot - ty)) / tot, -1.0, 1.0))


def _double_centred(m: torch.Tensor) -> torch.Tensor:
    """G = −½ H D H for each (n, n) matrix D (Diedrichsen et al. 2021)."""
    g = -0.5 * m
    g = g - g.mean(-1, keepdim=True)
    return g - g.mean(-2, keepdim=True)


def _centred_unit(v: torch.Tensor) -> torch.Tensor:
    return v - v.mean(-1, keepdim=True)


def _compare_vectors(va: torch.Tensor, vb: torch.Tensor, n: int, method: str) -> torch.Tensor:
    """(k_a, k_b) similarities of upper-triangle vectors: one matrix product for all pairs."""
    if method == "cosine":
        return _cosine(va, vb)
    if method == "pearson":
        return _cosine(_centred_unit(va), _centred_unit(vb))
    if method == "spearman":  # rank each RDM once, then Pearson of ranks for all pairs
        return _cosine(_centred_unit(_ranks(va)), _centred_unit(_ranks(vb)))
    if method == "tau_a":
        a, b = va.cpu().numpy(), vb.cpu().numpy()
        return torch.as_tensor([[_tau_a_pair(x, y) for y in b] for x in a], dtype=torch.float64)
    if method in ("cosine_cov", "corr_cov"):
        if method == "corr_cov":
            va, vb = _centred_unit(va), _centred_unit(vb)
        ga = _double_centred(_to_matrices(va, n)).flatten(1)
        gb = _double_centred(_to_matrices(vb, n)).flatten(1)
        return _cosine(ga, gb)
    raise ValueError(f"unknown comparison method {method!r}; choose one of {list(COMPARE_METHODS)}")


def _compare_mats(ma: torch.Tensor, mb: torch.Tensor, method: str) -> torch.Tensor:
    return _compare_vectors(_upper(ma), _upper(mb), ma.shape[-1], method)


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
    va, n, ids = _as_vectors(a, "first")
    vb, nb, _ = _as_vectors(b, "second", ids)
    if n != nb:
        raise ValueError(f"RDMs differ in size: {n} vs {nb} conditions")
    if n < 3:
        raise ValueError(
            f"comparing RDMs needs at least 3 conditions (3 dissimilarities); got {n} conditions, i.e. "
            f"{n * (n - 1) // 2} dissimilarity, whose 'correlation' is ±1 or 0 whatever the data. Add conditions."
        )
    _check_finite(va, "the first RDM")
    _check_finite(vb, "the second RDM")
    vb = vb.to(va.device)
    out = _compare_vectors(va, vb, n, method).cpu().numpy()
    flat_a, flat_b = _degenerate(va, method), _degenerate(vb, method)
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


def _degenerate(v: torch.Tensor, method: str) -> np.ndarray:
    """RDM vectors for which ``method`` is undefined (no variation to correlate)."""
    if method in ("cosine", "cosine_cov"):
        return (v == 0).all(-1).cpu().numpy()
    return (v == v[:, :1]).all(-1).cpu().numpy()


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
        v = _ranks(v)
    pooled = v.mean(0, keepdim=True)
    if method in ("pearson", "corr_cov"):
        pooled = pooled - pooled.min()
    return pooled


def _vectors_to_mats(v: torch.Tensor) -> torch.Tensor:
    return _as_matrices(v, "pooled")[0]


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
            m, ids_i = _as_matrices(r, f"RDM {i}", ids)
            ids = ids if ids is not None else ids_i
            mats.append(m)
        mats = torch.cat(mats)
    else:
        mats, _ = _as_matrices(rdms, "rdms")
    k = mats.shape[0]
    if k < 2:
        raise ValueError(f"a noise ceiling needs RDMs from at least 2 subjects/sessions; got {k}")
    labels = np.arange(k) if groups is None else np.asarray(groups)
    if labels.shape != (k,):
        raise ValueError(f"groups must have one label per RDM ({k}); got shape {labels.shape}")
    uniq = np.unique(labels)
    if len(uniq) < 2:
        raise ValueError("leave-one-group-out needs at least 2 distinct groups")
    vecs = _upper(mats)
    pooled_all = _vectors_to_mats(_pool(vecs, method))
    lower, upper = [], []
    for g in uniq:
        test = torch.as_tensor(labels == g)
        pooled_rest = _vectors_to_mats(_pool(vecs[~test], method))
        lower.append(float(_compare_mats(pooled_rest, mats[test], method).mean()))
        upper.append(float(_compare_mats(pooled_all, mats[test], method).mean()))
    lower, upper = np.asarray(lower), np.asarray(upper)
    return NoiseCeiling(float(lower.mean()), float(upper.mean()), lower, upper, method)


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
        return float(_cosine(va[None], vb[None])[0, 0])
    if method == "pearson":
        return float(_cosine((va - va.mean())[None], (vb - vb.mean())[None])[0, 0])
    if method == "spearman":
        ra, rb = _ranks(va[None])[0], _ranks(vb[None])[0]
        return float(_cosine((ra - ra.mean())[None], (rb - rb.mean())[None])[0, 0])
    if method == "tau_a":
        return _tau_a_pair(va.cpu().numpy(), vb.cpu().numpy())
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
                            for i in tqdm(idx, disable=not progress, desc="bootstrap")])
    elif method in ("spearman", "tau_a", "cosine", "pearson"):
        ma, ids = _as_matrices(a, "first")
        mb, _ = _as_matrices(b, "second", ids)
        if ma.shape[0] != 1 or mb.shape[0] != 1:
            raise ValueError("bootstrap compares one RDM with one RDM")
        ma, mb = ma[0], mb[0].to(ma.device)
        n = ma.shape[-1]
        est = float(_compare_mats(ma[None], mb[None], method)[0, 0])
        idx = np.sort(rng.integers(0, n, size=(n_bootstrap, n)), axis=1)
        iu = np.triu_indices(n, 1)
        samples = np.empty(n_bootstrap)
        for k, sel in enumerate(tqdm(idx, disable=not progress, desc="bootstrap")):
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
