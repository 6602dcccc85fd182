"""Neural predictivity (analysis.predictivity) and its regressions (analysis._regression, _ridge, _pls, _gram):
Brain-Score's procedure, closed forms, scikit-learn, planted truths.

Ceilings: test_ceilings.py; layer mapping: test_layer_mapping.py. Planted data: ``planted_linear_recording``
(tests/conftest.py).
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
from sklearn.model_selection import StratifiedShuffleSplit

from analysis._regression import LinearPath
from analysis._ridge import RidgePath
from analysis.assemblies import average_repetitions, make_assembly, save
from analysis.ceilings import internal_consistency
from analysis.layer_mapping import score_layers
from analysis.predictivity import neural_predictivity, score_files

REPO = Path(__file__).resolve().parents[2]


def _brainscore_pls_reference(source, target, strat_coord):
    """Brain-Score's pls metric transcribed step by step (sklearn + scipy, per-neuroid loop).

    average_repetition (xarray groupby: stimuli sorted by stimulus_id) -> StratifiedShuffleSplit
    on that order -> PLS fitted on training stimuli sorted by id -> scipy pearsonr per neuroid ->
    median over neuroids -> mean over splits, error std(ddof=0)/sqrt(n_splits).
    """
    df = target.to_pandas()
    df.index = target["stimulus_id"].values
    avg = df.groupby(level=0).mean().sort_index()
    ids = avg.index.to_numpy()
    strat = {s: t for s, t in zip(target["stimulus_id"].values, target[strat_coord].values)}
    labels = np.array([strat[s] for s in ids])
    src = dict(zip(source["stimulus_id"].values, source.values))
    X = np.stack([src[s] for s in ids])
    Y = avg.to_numpy()
    medians = []
    splitter = StratifiedShuffleSplit(n_splits=10, train_size=0.9, test_size=None, random_state=1)
    for train, test in splitter.split(np.zeros(len(ids)), labels):
        pls = PLSRegression(n_components=25, scale=False).fit(X[train], Y[train])
        pred = pls.predict(X[test])
        medians.append(np.median([scipy.stats.pearsonr(Y[test][:, j], pred[:, j])[0]
                                  for j in range(Y.shape[1])]))
    medians = np.array(medians)
    return medians.mean(), medians.std() / np.sqrt(len(medians)), medians


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-7), (np.float64, 1e-10)])
def test_pls_reproduces_brainscore_procedure(dtype, tol, planted_linear_recording):
    """The kernel PLS path equals scikit-learn's NIPALS PLS per split (issue 18: to 1e-6).

    scikit-learn fits in float64 but predicts float32 inputs in float32 (its centring is
    in place), hence the looser tolerance for float32 features.
    """
    rng = np.random.default_rng(0)
    source, target = planted_linear_recording(rng)
    source = source.astype(dtype)
    ref_score, ref_error, ref_splits = _brainscore_pls_reference(source, target, "texture_type")
    res = neural_predictivity(source, target, regression="pls", stratify_on="texture_type", progress=False)
    assert res.score == pytest.approx(ref_score, abs=tol)
    assert res.error == pytest.approx(ref_error, abs=tol)
    np.testing.assert_allclose(res.per_split, ref_splits, atol=tol)
    assert res.per_neuroid.shape == (10, 12)
    assert 0.3 < res.score < 0.9
    # the same numbers whether the target arrives with repetitions or already averaged in that order
    avg = average_repetitions(target)
    avg = avg.isel(presentation=np.argsort(avg["stimulus_id"].values))
    res2 = neural_predictivity(source, avg, stratify_on="texture_type", progress=False)
    assert res2.score == pytest.approx(res.score, abs=1e-12)


def test_ridge_loo_equals_sklearn_ridgecv():
    rng = np.random.default_rng(4)
    n, p, m = 50, 120, 6
    X = rng.normal(size=(n, p)) + 3.0
    Y = X[:, :10] @ rng.normal(size=(10, m)) + 2 * rng.normal(size=(n, m)) + 5.0
    train, test = np.arange(40), np.arange(40, 50)
    alphas = np.logspace(-1, 4, 11)
    path = RidgePath(alphas=alphas, selection="loo")
    pred, info = path.fit_predict(path.prepare(X), Y, train, test)
    ref = RidgeCV(alphas=alphas, alpha_per_target=True).fit(X[train], Y[train])
    np.testing.assert_allclose(info["alpha"], ref.alpha_)
    np.testing.assert_allclose(pred, ref.predict(X[test]), rtol=1e-7, atol=1e-7)


def test_ridge_gcv_equals_explicit_hat_matrix():
    rng = np.random.default_rng(5)
    n, p, m = 30, 12, 4
    X = rng.normal(size=(n, p))
    Y = X @ rng.normal(size=(p, m)) * np.array([0.05, 0.3, 1, 3]) + rng.normal(size=(n, m))
    train, test = np.arange(24), np.arange(24, 30)
    alphas = np.logspace(-2, 3, 9)
    Xt, Yt = X[train], Y[train]
    Xc = Xt - Xt.mean(0)
    nt = len(train)
    crit = []
    for a in alphas:
        H = np.ones((nt, nt)) / nt + Xc @ np.linalg.solve(Xc.T @ Xc + a * np.eye(p), Xc.T)
        resid = (np.eye(nt) - H) @ Yt
        crit.append(nt * (resid**2).sum(0) / (nt - np.trace(H)) ** 2)
    best = alphas[np.argmin(np.array(crit), axis=0)]
    ref = np.column_stack([Ridge(alpha=a).fit(Xt, Yt[:, j]).predict(X[test]) for j, a in enumerate(best)])
    path = RidgePath(alphas=alphas, selection="gcv")
    pred, info = path.fit_predict(path.prepare(X), Y, train, test)
    np.testing.assert_allclose(info["alpha"], best)
    np.testing.assert_allclose(pred, ref, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("p", [5, 40])
def test_linear_equals_sklearn(p):
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(30, p)), rng.normal(size=(30, 3))
    path = LinearPath()
    pred, _ = path.fit_predict(path.prepare(X), Y, np.arange(25), np.arange(25, 30))
    ref = LinearRegression().fit(X[:25], Y[:25]).predict(X[25:])  # min-norm when p > n
    np.testing.assert_allclose(pred, ref, atol=1e-8)


@pytest.mark.parametrize("regression", ["ridge", "linear"])
def test_planted_signal_to_noise_gives_the_expected_r(regression):
    # y = x·w + e with var(x·w) = 1, var(e) = 1/3: the best held-out r is sqrt(3/4)
    rng = np.random.default_rng(7)
    n, p, m = 500, 8, 20
    X = rng.normal(size=(n, p))
    W = rng.normal(size=(p, m))
    W /= np.linalg.norm(W, axis=0)
    Y = X @ W + np.sqrt(1 / 3) * rng.normal(size=(n, m))
    ids = [f"s{i}" for i in range(n)]
    res = neural_predictivity(make_assembly(X, stimulus_id=ids), make_assembly(Y, stimulus_id=ids),
                              regression=regression, progress=False)
    assert res.score == pytest.approx(np.sqrt(0.75), abs=0.03)
    df = res.to_dataframe()
    assert len(df) == 10 * m and {"split", "neuroid_id", "r"} <= set(df.columns)
    if regression == "ridge":
        assert res.alphas.shape == (10, m) and "alpha" in df.columns


def test_float32_ridge_matches_float64(planted_linear_recording):
    rng = np.random.default_rng(8)
    source, target = planted_linear_recording(rng)
    r32 = neural_predictivity(source, target, regression="ridge", progress=False)
    r64 = neural_predictivity(source.astype(np.float64), target, regression="ridge", progress=False)
    assert r32.score == pytest.approx(r64.score, abs=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("regression", ["ridge", "linear"])
def test_ridge_and_linear_on_cuda_match_cpu(regression, planted_linear_recording):
    rng = np.random.default_rng(14)
    source, target = planted_linear_recording(rng)
    cpu = neural_predictivity(source, target, regression=regression, progress=False)
    gpu = neural_predictivity(source, target, regression=regression, device="cuda", progress=False)
    np.testing.assert_allclose(gpu.per_neuroid.values, cpu.per_neuroid.values, atol=1e-4)


@pytest.mark.slow  # a fresh interpreter imports torch/xarray: seconds on a busy machine
def test_score_files_from_a_subprocess(tmp_path, planted_linear_recording):
    rng = np.random.default_rng(11)
    source, target = planted_linear_recording(rng, n_stim=40, n_neur=6)
    save(source, tmp_path / "src.nc")
    save(target, tmp_path / "tgt.nc")
    here = score_files(tmp_path / "src.nc", tmp_path / "tgt.nc", regression="ridge", stratify_on="texture_type")
    out = subprocess.run(
        [sys.executable, "-m", "analysis.predictivity", str(tmp_path / "src.nc"), str(tmp_path / "tgt.nc"),
         json.dumps({"regression": "ridge", "stratify_on": "texture_type"})],
        capture_output=True, text=True, cwd=REPO, check=True, env={"OMP_NUM_THREADS": "1", "PATH": ""},
    )
    there = json.loads(out.stdout)
    assert there["score"] == pytest.approx(here["score"], abs=1e-12)
    assert there["ceiling"] == pytest.approx(float(internal_consistency(target)), abs=1e-12)
    assert there["ceiled_score"] == pytest.approx(here["score"] ** 2 / here["ceiling"])
    assert there["simulated"] is True


def test_errors_are_clear(planted_linear_recording):
    rng = np.random.default_rng(12)
    source, target = planted_linear_recording(rng, n_stim=30, n_neur=4)
    with pytest.raises(ValueError, match="unknown regression"):
        neural_predictivity(source, target, regression="lasso")
    with pytest.raises(ValueError, match="needs the presentation coord 'object_name'.*cannot stratify on 'object_name'"):
        neural_predictivity(source, target, stratify_on="object_name")
    with pytest.raises(ValueError, match="stimulus ids do not match"):
        neural_predictivity(source.isel(presentation=slice(0, 20)), target)
    with pytest.raises(ValueError, match="n_components=25"):
        neural_predictivity(source.isel(neuroid=slice(0, 10)), target, regression="pls")
    three_d = make_assembly(np.zeros((4, 2, 3)), stimulus_id=list("abcd"))
    with pytest.raises(ValueError, match="time bins"):
        neural_predictivity(three_d, three_d)
    single = average_repetitions(target).drop_vars("repetition", errors="ignore")
    with pytest.raises(ValueError, match="repeated presentations"):
        internal_consistency(single)
    with pytest.raises(ValueError, match="n_inner_splits"):
        score_layers({"x": source}, target, n_inner_splits=0)


@pytest.mark.parametrize("n, p, q, k", [(30, 200, 3, 5), (40, 300, 60, 10), (80, 40, 1, 10)])
def test_batched_pls_equals_sklearn_pls(n, p, q, k):
    """Kernel PLS = scikit-learn's NIPALS PLSRegression(scale=False): predictions and iteration counts
    (q < n and q >= n take different iteration spaces)."""
    from analysis import BatchedPLS

    rng = np.random.default_rng(n + q)
    X = rng.normal(size=(n, p))
    Y = X[:, :5] @ rng.normal(size=(5, q)) + rng.normal(size=(n, q))
    Xt = rng.normal(size=(7, p))
    ref = PLSRegression(n_components=k, scale=False).fit(X, Y)
    ours = BatchedPLS(n_components=k).fit(X, Y)
    np.testing.assert_allclose(ours.predict(Xt).reshape(7, -1), ref.predict(Xt).reshape(7, -1), atol=1e-9)
    np.testing.assert_array_equal(ours.n_iter_, ref.n_iter_)
    assert ours.coef_.shape == (q, p)


def test_any_sklearn_regressor_and_the_batched_estimators(planted_linear_recording):
    from sklearn.base import clone

    from analysis import BatchedPLS, BatchedRidge

    rng = np.random.default_rng(4)
    source, target = planted_linear_recording(rng)
    ridge_cv = RidgeCV(alphas=np.logspace(-2, 4, 13), alpha_per_target=True)
    sk = neural_predictivity(source, target, regression=ridge_cv, progress=False)
    assert "RidgeCV" in sk.regression
    # the same splits, fitted by hand with scikit-learn
    avg = average_repetitions(target)
    avg = avg.isel(presentation=np.argsort(avg["stimulus_id"].values))
    X = source.sel(presentation=[list(source["stimulus_id"].values).index(s) for s in avg["stimulus_id"].values]).values
    Y = avg.values
    per_split = []
    for train, test in sk.splits:
        pred = clone(ridge_cv).fit(X[train], Y[train]).predict(X[test])
        per_split.append(np.median([scipy.stats.pearsonr(Y[test][:, j], pred[:, j])[0] for j in range(Y.shape[1])]))
    np.testing.assert_allclose(sk.per_split, per_split, atol=1e-6)
    # the built-in estimators as objects give the string paths' numbers
    for est, name in ((BatchedPLS(n_components=10), "pls"), (BatchedRidge(alpha_selection="loo"), "ridge")):
        kw = {"n_components": 10} if name == "pls" else {"alpha_selection": "loo"}
        a = neural_predictivity(source, target, regression=est, progress=False)
        b = neural_predictivity(source, target, regression=name, progress=False, **kw)
        np.testing.assert_allclose(a.per_split, b.per_split, atol=1e-12)
        assert clone(est).get_params() == est.get_params()
    with pytest.raises(TypeError, match="fit\\(X, Y\\)"):
        neural_predictivity(source, target, regression=object(), progress=False)


def test_no_silent_nan_in_predictivity(planted_linear_recording):
    rng = np.random.default_rng(5)
    source, target = planted_linear_recording(rng, n_stim=60)
    few_s = source.isel(presentation=slice(0, 8))
    few_ids = set(few_s["stimulus_id"].values)
    few_t = target.isel(presentation=[i for i, s in enumerate(target["stimulus_id"].values) if s in few_ids])
    with pytest.raises(ValueError, match="at least 3 test stimuli"):
        neural_predictivity(few_s, few_t, regression="ridge", progress=False)
    flat = source.copy(data=np.ones(source.shape, dtype=source.dtype))
    with pytest.raises(ValueError, match="source features are constant"):
        neural_predictivity(flat, target, regression="ridge", progress=False)
    dead = target.copy(data=target.values.copy())
    dead.values[:, 0] = 3.0
    with pytest.raises(ValueError, match="constant across stimuli.*nan_policy='omit'"):
        neural_predictivity(source, dead, regression="ridge", progress=False)
    with pytest.warns(RuntimeWarning, match="nan_policy='omit'"):
        res = neural_predictivity(source, dead, regression="ridge", nan_policy="omit", progress=False)
    assert np.isnan(res.per_neuroid.values[:, 0]).all() and np.isfinite(res.score)
    with pytest.raises(ValueError, match="constant across stimuli"):
        score_layers({"a": source}, dead, n_splits=3, progress=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_centred_gram_by_blocks_equals_the_gram_of_centred_features(dtype):
    """The block-wise Gram (no float64 or centred copy of X) equals (X − μ)(X − μ)ᵀ computed at once in
    float64, also when the block size does not divide the number of features."""
    from analysis._gram import centred_gram

    rng = np.random.default_rng(5)
    X = (3.0 + rng.normal(size=(37, 1000))).astype(dtype)
    Xc = X.astype(np.float64) - X.astype(np.float64).mean(0)
    G = centred_gram(X, torch.float64, block=128).numpy()
    np.testing.assert_allclose(G, Xc @ Xc.T, rtol=1e-12, atol=1e-9)
    assert centred_gram(X, torch.float64, block=128).dtype == torch.float64
