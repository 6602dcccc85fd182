"""RSA (analysis.rsa): RDMs and their comparison checked against rsatoolbox 0.3.2, closed forms and invariances.

Noise ceilings and bootstrap: test_rsa_inference.py; CKA: test_cka.py.
"""
import numpy as np
import pytest
import rsatoolbox as rt
import torch

from analysis.assemblies import make_assembly
from analysis.rsa import compare_rdms, rdm
from analysis.rsa_inference import noise_ceiling

pytestmark = [
    # rsatoolbox warns that its tau-a noise ceiling pools averaged ranks (a note, not a fault)
    pytest.mark.filterwarnings("ignore:Noise ceiling for tau based on averaged ranks:UserWarning"),
    # rsatoolbox 0.3.2 averages by descriptor with np.full_like(int array, nan) under numpy 2
    # (REFERENCES.md); numpy raises the warning from its own module, so filter by message
    pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning"),
]

OURS_TO_RT = {"spearman": "spearman", "tau_a": "tau-a", "cosine": "cosine", "pearson": "corr",
              "corr_cov": "corr_cov", "cosine_cov": "cosine_cov"}


def _repeated_assembly(rng, n=9, p=15, reps=4):
    """Planted: n Gaussian patterns, each repeated `reps` times with Gaussian noise (s.d. 0.7); ids in random order."""
    base = rng.normal(size=(n, p))
    ids = np.array([f"s{i}" for i in rng.permutation(n)])
    values = np.repeat(base, reps, 0) + 0.7 * rng.normal(size=(n * reps, p))
    return make_assembly(values, stimulus_id=np.repeat(ids, reps),
                         presentation_coords={"repetition": np.tile(np.arange(reps), n)})


def _rt_dataset(asm):
    return rt.data.Dataset(asm.values, obs_descriptors={
        "stimulus_id": asm["stimulus_id"].values, "repetition": asm["repetition"].values})


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("method", ["euclidean", "correlation", "mahalanobis", "crossnobis"])
def test_rdm_equals_rsatoolbox(method, seed):
    rng = np.random.default_rng(seed)
    asm = _repeated_assembly(rng)
    p = asm.sizes["neuroid"]
    a = rng.normal(size=(p, p))
    prec = a @ a.T / p + np.eye(p) if method in ("mahalanobis", "crossnobis") else None
    ours = rdm(asm, method, noise=prec)
    ref = rt.rdm.calc_rdm(_rt_dataset(asm), method=method, descriptor="stimulus_id", noise=prec,
                          cv_descriptor="repetition" if method == "crossnobis" else None)
    ref_ids = list(ref.pattern_descriptors["stimulus_id"])
    mine = ours.sel(stimulus_id=ref_ids, stimulus_id_2=ref_ids).values
    np.testing.assert_allclose(mine, ref.get_matrices()[0], atol=1e-10, rtol=0)
    assert ours.dims == ("stimulus_id", "stimulus_id_2")
    assert ours.attrs["method"] == method


@pytest.mark.parametrize("method", list(OURS_TO_RT))
def test_compare_equals_rsatoolbox(method):
    rng = np.random.default_rng(3)
    n, p = 14, 20
    rdms1 = rt.rdm.calc_rdm([rt.data.Dataset(rng.normal(size=(n, p))) for _ in range(3)], method="euclidean")
    rdms2 = rt.rdm.calc_rdm([rt.data.Dataset(rng.normal(size=(n, p))) for _ in range(2)], method="correlation")
    ref = rt.rdm.compare(rdms1, rdms2, method=OURS_TO_RT[method])
    ours = compare_rdms(rdms1.get_matrices(), rdms2.get_matrices(), method)
    assert ours.shape == (3, 2)
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    single = compare_rdms(rdms1.get_vectors()[0], rdms2.get_vectors()[1], method)
    assert isinstance(single, float)
    assert single == pytest.approx(ref[0, 1], abs=1e-10)


def test_compare_with_ties_tau_a_and_spearman():
    rng = np.random.default_rng(4)
    v1 = rng.integers(0, 4, size=45).astype(float)  # many ties
    v2 = rng.integers(0, 3, size=45).astype(float)
    r1, r2 = rt.rdm.RDMs(v1[None]), rt.rdm.RDMs(v2[None])
    for method in ("tau_a", "spearman"):
        assert compare_rdms(v1, v2, method) == pytest.approx(
            rt.rdm.compare(r1, r2, OURS_TO_RT[method])[0, 0], abs=1e-12)


def test_known_values_on_hand_made_cases():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    # squared distances / 2 channels
    np.testing.assert_allclose(rdm(x, "euclidean").values, [[0, 0.5, 2], [0.5, 0, 2.5], [2, 2.5, 0]])
    y = np.array([[1.0, 2, 3], [3, 2, 1], [2, 4, 6]])
    np.testing.assert_allclose(rdm(y, "correlation").values, [[0, 2, 0], [2, 0, 2], [0, 2, 0]], atol=1e-12)
    # tau_a: (concordant - discordant) / 3 pairs
    assert compare_rdms(np.array([1.0, 2, 3]), np.array([1.0, 3, 2]), "tau_a") == pytest.approx(1 / 3)
    assert compare_rdms(np.array([1.0, 1, 2]), np.array([1.0, 2, 3]), "tau_a") == pytest.approx(2 / 3)
    assert compare_rdms(np.array([1.0, 2, 3]), np.array([2.0, 4, 6]), "cosine") == pytest.approx(1.0)
    assert compare_rdms(np.array([1.0, 2, 3]), np.array([3.0, 2, 1]), "pearson") == pytest.approx(-1.0)


def test_crossnobis_is_unbiased():
    # conditions that do not differ: plain distances are inflated by noise, crossnobis is ~0
    rng = np.random.default_rng(5)
    n, p, folds = 6, 200, 8
    data = np.broadcast_to(rng.normal(size=(1, 1, p)), (folds, n, p)) + rng.normal(size=(folds, n, p))
    xn = rdm(data, "crossnobis").values
    off = ~np.eye(n, dtype=bool)
    assert abs(xn[off].mean()) < 0.02
    eu = rdm(data.mean(0), "euclidean").values
    assert eu[off].mean() == pytest.approx(2 / folds, rel=0.1)  # 2σ²/F per channel


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rotation_invariance_euclidean_mahalanobis(seed, random_orthogonal):
    rng = np.random.default_rng(seed)
    n, p = 10, 12
    x = rng.normal(size=(n, p))
    q = random_orthogonal(rng, p)
    np.testing.assert_allclose(rdm(x @ q, "euclidean").values, rdm(x, "euclidean").values, atol=1e-12)
    resid = rng.normal(size=(80, p)) @ rng.normal(size=(p, p))
    prec = np.linalg.inv(np.cov(resid.T))
    prec_rot = np.linalg.inv(np.cov((resid @ q).T))  # the same noise estimate in rotated channels
    np.testing.assert_allclose(rdm(x @ q, "mahalanobis", noise=prec_rot).values,
                               rdm(x, "mahalanobis", noise=prec).values, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correlation_distance_invariant_to_per_condition_affine(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(8, 25))
    scale = rng.uniform(0.2, 5, size=(8, 1))
    shift = rng.normal(size=(8, 1)) * 10
    np.testing.assert_allclose(rdm(scale * x + shift, "correlation").values,
                               rdm(x, "correlation").values, atol=1e-12)


def test_batched_torch_input_matches_single():
    rng = np.random.default_rng(12)
    x = torch.as_tensor(rng.normal(size=(3, 7, 11)))
    batch = rdm(x, "correlation")
    assert batch.dims == ("rdm", "stimulus_id", "stimulus_id_2")
    for k in range(3):
        np.testing.assert_allclose(batch.values[k], rdm(x[k].numpy(), "correlation").values, atol=1e-14)
    f32 = rdm(x.float(), "euclidean")
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32.values, rdm(x, "euclidean").values, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_rdm_on_cuda_matches_cpu():
    rng = np.random.default_rng(13)
    x = torch.as_tensor(rng.normal(size=(20, 30)))
    np.testing.assert_allclose(rdm(x.cuda(), "correlation").values, rdm(x, "correlation").values, atol=1e-10)


def test_compare_aligns_rdms_by_stimulus_id():
    rng = np.random.default_rng(14)
    asm = make_assembly(rng.normal(size=(8, 5)), stimulus_id=[f"s{i}" for i in range(8)])
    d = rdm(asm, "euclidean")
    perm = [f"s{i}" for i in rng.permutation(8)]
    shuffled = d.sel(stimulus_id=perm, stimulus_id_2=perm)
    assert compare_rdms(d, shuffled, "pearson") == pytest.approx(1.0)


def test_errors_are_clear():
    rng = np.random.default_rng(15)
    x = rng.normal(size=(5, 4))
    with pytest.raises(ValueError, match="unknown RDM method"):
        rdm(x, "cityblock")
    with pytest.raises(ValueError, match="partitions"):
        rdm(make_assembly(x, stimulus_id=list("abcde")), "crossnobis")
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        rdm(x, "mahalanobis", noise=np.eye(3))
    with pytest.raises(ValueError, match="unknown comparison"):
        compare_rdms(rdm(x), rdm(x), "kendall_b")
    with pytest.raises(ValueError, match="different stimuli"):
        compare_rdms(rdm(make_assembly(x, stimulus_id=list("abcde"))),
                     rdm(make_assembly(x, stimulus_id=list("abcdf"))))
    with pytest.raises(ValueError, match="constant across channels"):
        rdm(np.ones((3, 4)), "correlation")
    with pytest.raises(ValueError, match="at least 2"):
        noise_ceiling(rdm(x).values[None])
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"rdm: the data holds 1 non-finite value\(s\) \(1 NaN, 0 inf\)"):
        rdm(bad, "euclidean")


@pytest.mark.parametrize("seed", [0, 1])
def test_crossnobis_with_unequal_trials_per_partition_equals_rsatoolbox(seed):
    """Partitions holding 1, 4 and 2 trials per condition: the training pattern is the mean of
    all trials of the other partitions (rsatoolbox), not the mean of their partition means."""
    rng = np.random.default_rng(seed)
    n, p, trials = 7, 12, (1, 4, 2)
    base = rng.normal(size=(n, p))
    ids = np.array([f"s{i}" for i in range(n)])
    rows, sid, part = [], [], []
    for f, k in enumerate(trials):
        for i in range(n):
            rows.append(base[i] + 0.8 * rng.normal(size=(k, p)))
            sid += [ids[i]] * k
            part += [f] * k
    values = np.concatenate(rows)
    order = rng.permutation(len(values))
    asm = make_assembly(values[order], stimulus_id=np.array(sid)[order],
                        presentation_coords={"session": np.array(part)[order]})
    a = rng.normal(size=(p, p))
    for prec in (None, a @ a.T / p + np.eye(p)):
        ours = rdm(asm, "crossnobis", cv_coord="session", noise=prec)
        ds = rt.data.Dataset(asm.values, obs_descriptors={"stimulus_id": asm["stimulus_id"].values,
                                                          "session": asm["session"].values})
        ref = rt.rdm.calc_rdm(ds, method="crossnobis", descriptor="stimulus_id", cv_descriptor="session",
                              noise=prec)
        ref_ids = list(ref.pattern_descriptors["stimulus_id"])
        mine = ours.sel(stimulus_id=ref_ids, stimulus_id_2=ref_ids).values
        np.testing.assert_allclose(mine, ref.get_matrices()[0], atol=1e-10, rtol=0)
    # the old estimator (mean of the other partitions' means) differs on such data
    means = np.stack([np.stack([values[(np.array(part) == f) & (np.array(sid) == s)].mean(0) for s in ids])
                      for f in range(3)])
    unweighted = rdm(means, "crossnobis").values
    assert np.abs(unweighted - rdm(asm, "crossnobis", cv_coord="session").sel(
        stimulus_id=ids, stimulus_id_2=ids).values).max() > 1e-3


@pytest.mark.parametrize("method", ["spearman", "pearson", "cosine", "tau_a", "corr_cov"])
def test_compare_rdms_refuses_two_conditions(method):
    two = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="at least 3 conditions"):
        compare_rdms(two, 2 * two, method)


def test_compare_rdms_constant_rdm_raises_or_is_nan_on_request():
    rng = np.random.default_rng(0)
    flat = np.ones(10)                          # 5 conditions, all dissimilarities equal
    other = rng.random(10)
    for method in ("spearman", "pearson", "tau_a"):
        with pytest.raises(ValueError, match="no variation.*nan_policy='omit'"):
            compare_rdms(flat, other, method)
        with pytest.warns(RuntimeWarning, match="Returning NaN"):
            assert np.isnan(compare_rdms(flat, other, method, nan_policy="omit"))
    assert compare_rdms(flat, other, "cosine") > 0   # cosine is defined for a constant, non-zero RDM
    with pytest.raises(ValueError, match="all zero"):
        compare_rdms(np.zeros(10), other, "cosine")
    # stacks: only the degenerate RDM's pairs are NaN
    stack = np.stack([flat, other, rng.random(10)])
    with pytest.warns(RuntimeWarning):
        out = compare_rdms(stack, stack, "spearman", nan_policy="omit")
    assert np.isnan(out[0]).all() and np.isnan(out[:, 0]).all() and np.isfinite(out[1:, 1:]).all()


@pytest.mark.parametrize("method", ["spearman", "pearson", "cosine"])
def test_stack_comparison_equals_rsatoolbox_pair_by_pair(method):
    """All pairs of two stacks at once equal rsatoolbox's compare on the same stacks (with ties)."""
    rng = np.random.default_rng(3)
    a = np.round(rng.random((5, 45)), 1)          # ties
    b = rng.random((4, 45))
    ours = compare_rdms(a, b, method)
    ref = rt.rdm.compare(rt.rdm.RDMs(a), rt.rdm.RDMs(b), method=OURS_TO_RT[method])
    np.testing.assert_allclose(ours, ref, atol=1e-12)


@pytest.mark.parametrize("case", ["near_ties", "ties_and_signs", "large"])
def test_ranks_equal_scipy_rankdata(case):
    """Ranks from the packed-key sort equal scipy's average ranks, also where values differ only in
    their lowest bits (those runs come out of the packed sort in index order and must be re-sorted)."""
    from scipy.stats import rankdata

    from analysis._rdm_compare import ranks

    rng = np.random.default_rng(7)
    if case == "near_ties":    # many values one or a few ulps apart, in shuffled order
        base = rng.random(300)
        x = np.concatenate([base, np.nextafter(base, 2.0), np.nextafter(base, -1.0), base + 1e-13])
        x = rng.permutation(x)[None]
    elif case == "ties_and_signs":
        x = np.round(rng.normal(size=(3, 2000)), 2)
        x[:, :5] = [0.0, -0.0, -0.0, 0.0, -1e-300]
    else:
        x = rng.random((2, 70000)) * 10.0 ** rng.integers(-3, 3, size=(2, 70000))
    ours = ranks(torch.as_tensor(x)).numpy()
    np.testing.assert_array_equal(ours, rankdata(x, axis=-1))
    half = ranks(torch.as_tensor(x), np.float32).numpy()       # the compact storage Spearman uses: exact
    assert half.dtype == np.float32
    np.testing.assert_array_equal(half.astype(np.float64), rankdata(x, axis=-1))


def test_stack_comparison_of_offset_rdms_keeps_precision():
    """Pearson of RDMs with a large common offset equals Pearson of the offset-free RDMs (centring inside
    the product, not Σab − m·ā·b̄)."""
    rng = np.random.default_rng(4)
    a, b = rng.random((3, 190)), rng.random((2, 190))
    far = compare_rdms(a + 1e6, b + 1e6, "pearson")
    np.testing.assert_allclose(far, compare_rdms(a, b, "pearson"), atol=1e-9)


@pytest.mark.parametrize("method", ["cosine", "pearson", "spearman", "corr_cov"])
def test_stack_checks_find_nan_and_flat_rdms_on_the_way(method):
    """NaN/inf anywhere in a stack is refused, naming the stack; a constant RDM whose value has no exact
    binary mean (0.1) is flat for the correlation methods; rescaled rows (huge, tiny) give the same cosine."""
    rng = np.random.default_rng(9)
    a, b = rng.random((3, 45)), rng.random((2, 45))
    bad = a.copy()
    bad[1, 7] = np.nan
    with pytest.raises(ValueError, match="first RDM holds NaN or inf"):
        compare_rdms(bad, b, method)
    bad_b = b.copy()
    bad_b[0, 3] = np.inf
    with pytest.raises(ValueError, match="second RDM holds NaN or inf"):
        compare_rdms(a, bad_b, method)
    if method != "cosine":
        flat = a.copy()
        flat[2] = 0.1
        with pytest.warns(RuntimeWarning, match="Returning NaN"):
            out = compare_rdms(flat, b, method, nan_policy="omit")
        assert np.isnan(out[2]).all() and np.isfinite(out[:2]).all()
    else:
        scaled = a * np.array([[1e200], [1e-200], [1.0]])   # squares overflow / underflow
        np.testing.assert_allclose(compare_rdms(scaled, b, "cosine"), compare_rdms(a, b, "cosine"), rtol=1e-12)
