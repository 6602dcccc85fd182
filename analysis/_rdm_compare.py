"""RDM vectors and their similarities, shared by :mod:`analysis.rsa` and :mod:`analysis.rsa_inference`.

An RDM is handled as the vector of its upper triangle (``n(n−1)/2`` entries,
row-major, as ``rsatoolbox`` stores it). Stacks of RDMs are ``(k, n(n−1)/2)``
tensors; comparing two stacks is one matrix product for all pairs:

- cosine: ``⟨a, b⟩ / (‖a‖ ‖b‖)``;
- Pearson: cosine of the vectors centred on their means, the centring done
  block by block inside the product (no centred copy of a stack);
- Spearman: Pearson of the ranks (ties averaged, as ``scipy.stats.rankdata``),
  each RDM ranked once (:func:`ranks`);
- Kendall τ_a, and the whitened ``cosine_cov``/``corr_cov`` of Diedrichsen et
  al. (2021) on the double-centred matrices ``G = −½ H D H``.

Finite and flat (no-variation) RDMs are found in one ``aminmax`` pass
(:func:`row_range`).
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from analysis._representations import as_tensor

__all__ = [
    "COMPARE_METHODS", "ROW", "COL", "as_vectors", "as_matrices", "to_matrices", "upper", "row_range", "cosine", "centred_cosine",
    "ranks", "tau_a_pair", "compare_vectors", "compare_checked",
]

COMPARE_METHODS = ("spearman", "tau_a", "cosine", "pearson", "corr_cov", "cosine_cov")
ROW, COL = "stimulus_id", "stimulus_id_2"
_BLOCK = 4096  # columns per block of the centred product: small blocks stay in cache (faster than one big copy)


def as_vectors(r, name: str, ids_ref=None):
    """RDM input → (k, n(n−1)/2) float64 tensor of upper triangles, n, and stimulus ids (or None).

    float64 arrays and tensors are used without a copy when they already are vectors.
    """
    ids = None
    if isinstance(r, xr.DataArray):
        if ROW in r.dims and COL in r.dims:
            ids = np.asarray(r[ROW].values).astype(str)
            if ids_ref is not None and not np.array_equal(ids, ids_ref):
                if set(ids) != set(ids_ref):
                    raise ValueError(
                        f"{name} RDM is over different stimuli: {len(set(ids) - set(ids_ref))} ids not in "
                        f"the first RDM (e.g. {sorted(set(ids) - set(ids_ref))[:5]})"
                    )
                r = r.sel({ROW: list(ids_ref), COL: list(ids_ref)})
                ids = ids_ref
            r = r.transpose(..., ROW, COL)
        t = as_tensor(r.values, dtype=torch.float64)
    else:
        t = as_tensor(r, dtype=torch.float64)
    if t.ndim == 1 or (t.ndim == 2 and t.shape[0] != t.shape[1]):
        vec = t.reshape(-1, t.shape[-1])
        n = int(round((1 + np.sqrt(1 + 8 * vec.shape[-1])) / 2))
        if n * (n - 1) // 2 != vec.shape[-1]:
            raise ValueError(f"{name}: a vector of {vec.shape[-1]} entries is not the upper triangle of an RDM")
        return vec, n, ids
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{name}: expected an (n, n) RDM, a (k, n, n) stack or upper-triangle vectors; "
                         f"got {tuple(t.shape)}")
    return upper(t), t.shape[-1], ids


def as_matrices(r, name: str, ids_ref=None):
    """RDM input → (k, n, n) float64 tensor and its stimulus ids (or None)."""
    vec, n, ids = as_vectors(r, name, ids_ref)
    return to_matrices(vec, n), ids


def to_matrices(vec: torch.Tensor, n: int) -> torch.Tensor:
    """(k, n(n−1)/2) upper triangles → (k, n, n) symmetric matrices with a zero diagonal."""
    mats = torch.zeros(vec.shape[0], n, n, dtype=vec.dtype, device=vec.device)
    iu = torch.triu_indices(n, n, 1, device=vec.device)
    mats[:, iu[0], iu[1]] = vec
    return mats + mats.transpose(-1, -2)


def upper(m: torch.Tensor) -> torch.Tensor:
    """Upper triangles (above the diagonal) of (…, n, n) matrices, row-major."""
    n = m.shape[-1]
    iu = torch.triu_indices(n, n, 1, device=m.device)
    return m[..., iu[0], iu[1]]


def row_range(v: torch.Tensor, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(min, max) of each row; refuses NaN/inf (both propagate into min and max), naming ``what``."""
    lo, hi = v.amin(-1), v.amax(-1)  # two vectorised passes: faster than torch.aminmax's one on CPU
    if not (torch.isfinite(lo).all() and torch.isfinite(hi).all()):
        raise ValueError(f"{what} holds NaN or inf values; remove or impute them first")
    return lo, hi


def _safe_ratio(num: torch.Tensor, na: torch.Tensor, nb: torch.Tensor) -> torch.Tensor:
    den = na[:, None] * nb[None, :]
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(num))


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(k_a, k_b) cosine similarities of the rows of a and b (0 where a row is all zero)."""
    na, nb = torch.linalg.vector_norm(a, dim=-1), torch.linalg.vector_norm(b, dim=-1)
    return _safe_ratio(a @ b.T, na, nb)


def _centred_products(a: torch.Tensor, b: torch.Tensor, ma, mb):
    """``Σ (a − ā)(b − b̄)`` for all row pairs and the centred sums of squares of the rows, block by block."""
    m = a.shape[-1]
    dt = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float64)
    g = torch.zeros(a.shape[0], b.shape[0], dtype=dt, device=a.device)
    sa = torch.zeros(a.shape[0], dtype=dt, device=a.device)
    sb = torch.zeros(b.shape[0], dtype=dt, device=b.device)
    for s in range(0, m, _BLOCK):             # blocks in float64 whatever the storage (float32 ranks)
        ca = a[:, s:s + _BLOCK].to(g.dtype) - ma
        cb = b[:, s:s + _BLOCK].to(g.dtype) - mb
        g += ca @ cb.T
        sa += torch.linalg.vector_norm(ca, dim=-1) ** 2
        sb += torch.linalg.vector_norm(cb, dim=-1) ** 2
    return g, sa, sb


def centred_cosine(a: torch.Tensor, b: torch.Tensor, mean_a=None, mean_b=None) -> torch.Tensor:
    """(k_a, k_b) Pearson r of the rows of a and b: ``Σ (a − ā)(b − b̄) / (‖a − ā‖ ‖b − b̄‖)``.

    The rows are centred block by block inside the product, so no centred copy of
    a stack is made and no precision is lost to ``Σab − m ā b̄`` cancellation.
    ``mean_a``/``mean_b`` may be given when known exactly (ranks: ``(m + 1) / 2``).
    """
    ma = a.mean(-1, keepdim=True) if mean_a is None else mean_a
    mb = b.mean(-1, keepdim=True) if mean_b is None else mean_b
    g, sa, sb = _centred_products(a, b, ma, mb)
    return _safe_ratio(g, sa.sqrt(), sb.sqrt())


def _packed_keys(x: np.ndarray, index: np.ndarray, low: np.uint64) -> np.ndarray:
    """Order-preserving 64-bit keys of float64 ``x`` with their low bits replaced by ``index``.

    The key of a float is its bit pattern with the sign bit set (x ≥ 0) or all bits
    flipped (x < 0), so that unsigned integer order is the order of the values.
    """
    u = x.view(np.uint64)
    k = u >> np.uint64(63)
    np.negative(k, out=k)                 # all ones where x < 0
    k |= np.uint64(1) << np.uint64(63)
    k ^= u
    k &= ~low
    k |= index
    return k


def _order(x: np.ndarray, index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(permutation that sorts x, x sorted) for a float64 vector.

    The permutation comes from one sort of 64-bit integers (SIMD-sorted by numpy):
    each value's order-preserving key with its low ``b`` bits replaced by its
    index (``b`` = bits of ``len(x) − 1``). Values that differ only in those low
    bits (relative difference ≲ 2^(b−52)) can come out in index order; such runs
    are found by a check of the sorted values and re-sorted by value, so the
    result is exact.
    """
    m = x.size
    bits = np.uint64(max(1, int(m - 1).bit_length()))
    low = (np.uint64(1) << bits) - np.uint64(1)
    packed = _packed_keys(x, np.arange(m, dtype=np.uint64) if index is None else index, low)
    packed.sort()
    packed &= low
    order = packed.view(np.int64)                                     # the indices, in sorted order
    s = x[order]
    bad = np.flatnonzero(s[1:] < s[:-1])
    if bad.size:  # runs of equal leading bits came out in index order: sort each run by value
        def lead(i):                                                   # leading bits of s[i]
            return _packed_keys(s[i], np.uint64(0), low) >> bits

        start, end = bad.copy(), bad + 2                               # s[p] > s[p+1] lie in one run
        while True:                                                    # widen to the whole runs (short)
            grow = (start > 0) & (lead(np.maximum(start - 1, 0)) == lead(start))
            if not grow.any():
                break
            start -= grow
        while True:
            grow = (end < m) & (lead(np.minimum(end, m - 1)) == lead(end - 1))
            if not grow.any():
                break
            end += grow
        start, idx = np.unique(start, return_index=True)              # each run once
        lengths = end[idx] - start
        run = np.repeat(np.arange(len(start)), lengths)
        sel = np.repeat(start - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(lengths.sum())
        sub = sel[np.lexsort((s[sel], run))]
        order[sel], s[sel] = order[sub], s[sub]
    return order, s


def ranks(v: torch.Tensor, dtype=np.float64) -> torch.Tensor:
    """Ranks (1 … m) along the last axis, ties averaged (``scipy.stats.rankdata``), each row sorted once.

    ``dtype=np.float32`` stores them in half the memory, exactly (average ranks are
    multiples of ½ below 2²³ for m < 8 million; checked).
    """
    x = np.ascontiguousarray(v.detach().cpu().numpy(), dtype=np.float64)
    x = x.reshape(-1, x.shape[-1])
    if dtype == np.float32 and x.shape[-1] >= 2 ** 23:
        dtype = np.float64
    out = np.empty(x.shape, dtype=dtype)
    ramp = np.arange(1, x.shape[-1] + 1, dtype=np.float64)
    index = np.arange(x.shape[-1], dtype=np.uint64)
    for i in range(x.shape[0]):
        order, s = _order(x[i], index)
        row = out[i]                                    # 1-D view: a plain scatter (out[i, order] is slow)
        new = np.empty(s.size, dtype=bool)
        new[0] = True
        np.not_equal(s[1:], s[:-1], out=new[1:])
        if new.all():                                   # no ties: the inverse permutation
            row[order] = ramp
            continue
        dense = np.cumsum(new)                          # scipy's 'average' method
        starts = np.r_[np.flatnonzero(new), s.size]
        row[order] = 0.5 * (starts[dense] + starts[dense - 1] + 1)
    t = torch.from_numpy(out.reshape(v.shape)).to(v.device)
    return t if out.dtype == np.float32 else t.to(v.dtype)


def tau_a_pair(x: np.ndarray, y: np.ndarray) -> float:
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


def _refuse_nonfinite(v: torch.Tensor, rows: torch.Tensor, what: str) -> None:
    for i in rows.tolist():
        if not torch.isfinite(v[i]).all():
            raise ValueError(f"{what} holds NaN or inf values; remove or impute them first")


def _norms(v: torch.Tensor, what: str) -> torch.Tensor:
    """Row norms in one pass; a NaN/inf entry makes its norm non-finite, so only such rows (and rows
    whose norm is 0 or overflows, rescaled) are looked at again."""
    nrm = torch.linalg.vector_norm(v, dim=-1)
    odd = torch.nonzero(~torch.isfinite(nrm) | (nrm == 0)).flatten()
    _refuse_nonfinite(v, odd, what)
    for i in odd.tolist():                       # finite entries: an overflow or underflow of the squares
        top = v[i].abs().max()
        nrm[i] = 0.0 if top == 0 else top * torch.linalg.vector_norm(v[i] / top)
    return nrm


def _means(v: torch.Tensor, what: str) -> torch.Tensor:
    mean = v.mean(-1, keepdim=True)
    odd = torch.nonzero(~torch.isfinite(mean[:, 0])).flatten()
    _refuse_nonfinite(v, odd, what)
    for i in odd.tolist():                       # finite entries whose sum overflows
        top = v[i].abs().max()
        mean[i] = top * (v[i] / top).mean()
    return mean


def _flat_rows(v: torch.Tensor, centred_sq: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Rows whose entries are all equal; only rows whose centred sum of squares is at rounding level
    (a constant row centred on its computed mean leaves ~eps·|mean| per entry) are compared exactly."""
    m = v.shape[-1]
    eps = torch.finfo(v.dtype).eps
    cand = torch.nonzero(centred_sq <= m * (8 * eps * mean[:, 0].abs()) ** 2).flatten()
    flat = torch.zeros(v.shape[0], dtype=torch.bool, device=v.device)
    for i in cand.tolist():
        flat[i] = bool((v[i] == v[i, 0]).all())
    return flat


def compare_checked(va: torch.Tensor, vb: torch.Tensor, n: int, method: str, names=("first", "second")):
    """(similarities (k_a, k_b), flat rows of a, flat rows of b), refusing NaN/inf.

    Cosine and Pearson find non-finite and flat RDMs from quantities they compute
    anyway (norms; means and centred sums of squares), so each stack is read once
    before the product; other methods use one min/max pass (:func:`row_range`).
    """
    what_a, what_b = (f"the {name} RDM" for name in names)
    if method == "cosine":
        na, nb = _norms(va, what_a), _norms(vb, what_b)
        return _safe_ratio(va @ vb.T, na, nb), na == 0, nb == 0
    if method == "pearson":
        ma, mb = _means(va, what_a), _means(vb, what_b)
        g, sa, sb = _centred_products(va, vb, ma, mb)
        flat_a, flat_b = _flat_rows(va, sa, ma), _flat_rows(vb, sb, mb)
        sa, sb = torch.where(flat_a, 0.0, sa), torch.where(flat_b, 0.0, sb)
        return _safe_ratio(g, sa.sqrt(), sb.sqrt()), flat_a, flat_b
    lo_a, hi_a = row_range(va, what_a)
    lo_b, hi_b = row_range(vb, what_b)
    out = compare_vectors(va, vb, n, method)
    if method in ("cosine_cov",):
        return out, (lo_a == 0) & (hi_a == 0), (lo_b == 0) & (hi_b == 0)
    return out, lo_a == hi_a, lo_b == hi_b


def compare_vectors(va: torch.Tensor, vb: torch.Tensor, n: int, method: str) -> torch.Tensor:
    """(k_a, k_b) similarities of upper-triangle vectors: one matrix product for all pairs."""
    if method == "cosine":
        return cosine(va, vb)
    if method == "pearson":
        return centred_cosine(va, vb)
    if method == "spearman":  # rank each RDM once, then Pearson of ranks (mean rank (m + 1) / 2 exactly)
        mid = (va.shape[-1] + 1) / 2.0
        ra = ranks(va, np.float32)                  # exact, half the memory; products in float64 blocks
        rb = ra if vb is va else ranks(vb, np.float32)
        return centred_cosine(ra, rb, mid, mid)
    if method == "tau_a":
        a, b = va.cpu().numpy(), vb.cpu().numpy()
        return torch.as_tensor([[tau_a_pair(x, y) for y in b] for x in a], dtype=torch.float64)
    if method in ("cosine_cov", "corr_cov"):
        if method == "corr_cov":
            va, vb = va - va.mean(-1, keepdim=True), vb - vb.mean(-1, keepdim=True)
        ga = _double_centred(to_matrices(va, n)).flatten(1)
        gb = _double_centred(to_matrices(vb, n)).flatten(1)
        return cosine(ga, gb)
    raise ValueError(f"unknown comparison method {method!r}; choose one of {list(COMPARE_METHODS)}")
