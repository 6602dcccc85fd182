"""Neural predictivity and ceilings: Brain-Score's procedure, closed forms, planted truths."""
import json
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import scipy.stats
import torch
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
from sklearn.model_selection import StratifiedShuffleSplit

from analysis._regression import LinearPath, RidgePath, pearson_columns
from analysis.assemblies import average_repetitions, make_assembly, save
from analysis.predictivity import (
    ceiled_score,
    internal_consistency,
    neural_predictivity,
    score_files,
    score_layers,
)

matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402  (the figures below)

REPO = Path(__file__).resolve().parents[2]


def _recording(rng, n_stim=60, n_rep=6, n_neur=12, p=80, noise=1.5, shuffle=True):
    """Planted linear population: rates = X W / sqrt(p), Gaussian trial noise."""
    X = rng.normal(size=(n_stim, p))
    rates = X @ rng.normal(size=(p, n_neur)) / np.sqrt(p)
    ids = np.array([f"im{i:03d}" for i in rng.permutation(n_stim)])
    ttype = np.array(["texture", "noise"])[np.arange(n_stim) % 2]
    source = make_assembly(X.astype(np.float32), stimulus_id=ids, presentation_coords={"texture_type": ttype})
    Y = np.repeat(rates, n_rep, 0) + noise * rng.normal(size=(n_stim * n_rep, n_neur))
    sid, reps, tt = np.repeat(ids, n_rep), np.tile(np.arange(n_rep), n_stim), np.repeat(ttype, n_rep)
    order = rng.permutation(len(sid)) if shuffle else np.arange(len(sid))
    target = make_assembly(Y[order], stimulus_id=sid[order],
                           presentation_coords={"repetition": reps[order], "texture_type": tt[order]},
                           neuroid_coords={"region": ["V1"] * n_neur}, attrs={"simulated": 1})
    return source, target


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


def _brainscore_ceiling_reference(target):
    """Brain-Score's internal_consistency transcribed: ShuffleSplit(0.5, rs=1) over unique
    repetitions, per-half means, scipy pearsonr per neuroid, Spearman-Brown, median, mean."""
    from sklearn.model_selection import ShuffleSplit

    reps = np.unique(target["repetition"].values)
    df = target.to_pandas()
    df.index = target["stimulus_id"].values
    rep = target["repetition"].values
    medians = []
    for a, b in ShuffleSplit(10, train_size=0.5, test_size=None, random_state=1).split(np.zeros(len(reps))):
        h1 = df[np.isin(rep, reps[a])].groupby(level=0).mean().sort_index().to_numpy()
        h2 = df[np.isin(rep, reps[b])].groupby(level=0).mean().sort_index().to_numpy()
        r = np.array([scipy.stats.pearsonr(h1[:, j], h2[:, j])[0] for j in range(h1.shape[1])])
        medians.append(np.median(2 * r / (1 + r)))
    medians = np.array(medians)
    return medians.mean(), medians.std() / np.sqrt(len(medians))


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-7), (np.float64, 1e-10)])
def test_pls_reproduces_brainscore_procedure(dtype, tol):
    """The kernel PLS path equals scikit-learn's NIPALS PLS per split (issue 18: to 1e-6).

    scikit-learn fits in float64 but predicts float32 inputs in float32 (its centring is
    in place), hence the looser tolerance for float32 features.
    """
    rng = np.random.default_rng(0)
    source, target = _recording(rng)
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


def test_ceiling_reproduces_brainscore_procedure_and_closed_form():
    rng = np.random.default_rng(1)
    source, target = _recording(rng, noise=1.5)
    c = internal_consistency(target)
    ref, ref_err = _brainscore_ceiling_reference(target)
    assert float(c) == pytest.approx(ref, abs=1e-12)
    assert c.error == pytest.approx(ref_err, abs=1e-12)
    assert c.raw.shape == (10, 12) and len(c.values) == 10
    # closed form: reliability of a mean over R trials = s² / (s² + σ²/R)
    rng = np.random.default_rng(2)
    n_stim, R, sigma = 300, 8, 2.0
    signal = rng.normal(size=(n_stim, 30))
    values = np.repeat(signal, R, 0) + sigma * rng.normal(size=(n_stim * R, 30))
    rec = make_assembly(values, stimulus_id=np.repeat([f"s{i}" for i in range(n_stim)], R),
                        presentation_coords={"repetition": np.tile(np.arange(R), n_stim)})
    assert float(internal_consistency(rec)) == pytest.approx(1 / (1 + sigma**2 / R), abs=0.03)


def test_ceiled_score_is_r_squared_over_ceiling():
    rng = np.random.default_rng(3)
    source, target = _recording(rng)
    res = neural_predictivity(source, target, stratify_on="texture_type", progress=False)
    c = internal_consistency(target)
    cs = ceiled_score(res, c)
    assert float(cs) == pytest.approx(res.score**2 / float(c), rel=1e-12)
    assert cs.error == pytest.approx(res.error)  # Brain-Score carries the raw error over
    assert float(ceiled_score(0.5, 0.8)) == pytest.approx(0.3125)
    with pytest.raises(ValueError, match="positive"):
        ceiled_score(0.5, -0.1)


def _smooth_images(rng, n, size=32):
    from scipy.ndimage import gaussian_filter

    imgs = rng.random((n, size, size))
    return np.stack([np.clip(0.5 + 2 * (gaussian_filter(im, 1.0) - 0.5), 0, 1) for im in imgs])


def test_simulated_population_ceiling_ground_truth_and_random_features():
    from analysis.simulate import SimulatedPopulation
    from analysis.stimuli import StimulusSet

    rng = np.random.default_rng(0)
    n = 80
    stim = StimulusSet.from_images(_smooth_images(rng, n))
    pop = SimulatedPopulation({"V1": 10, "V2": 10}, image_size=32, seed=0)
    rates = pop.rates(stim)
    truth = make_assembly(rates, stimulus_id=stim.stimulus_ids)
    ceilings = []
    for noise in (0.5, 2.0, 8.0):
        rec = pop.record(stim, n_repetitions=10, noise=noise, seed=1)
        ceilings.append(float(internal_consistency(rec)))
    assert ceilings[0] > ceilings[1] > ceilings[2] > 0  # more trial noise, lower ceiling
    rec = pop.record(stim, n_repetitions=10, noise=2.0, seed=1)
    c = internal_consistency(rec)
    # the generator itself explains what is explainable: r_j² / ceiling_j ≈ 1 per neuroid
    r = pearson_columns(rates, average_repetitions(rec).values)
    assert np.median(r**2 / c.raw.mean("split").values) == pytest.approx(1.0, abs=0.1)
    fitted = ceiled_score(neural_predictivity(truth, rec, regression="ridge", progress=False), c)
    assert 0.7 < float(fitted) < 1.15
    noise_features = make_assembly(rng.normal(size=(n, 50)), stimulus_id=stim.stimulus_ids)
    assert abs(neural_predictivity(noise_features, rec, regression="ridge", progress=False).score) < 0.12


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


def test_float32_ridge_matches_float64():
    rng = np.random.default_rng(8)
    source, target = _recording(rng)
    r32 = neural_predictivity(source, target, regression="ridge", progress=False)
    r64 = neural_predictivity(source.astype(np.float64), target, regression="ridge", progress=False)
    assert r32.score == pytest.approx(r64.score, abs=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("regression", ["ridge", "linear"])
def test_ridge_and_linear_on_cuda_match_cpu(regression):
    rng = np.random.default_rng(14)
    source, target = _recording(rng)
    cpu = neural_predictivity(source, target, regression=regression, progress=False)
    gpu = neural_predictivity(source, target, regression=regression, device="cuda", progress=False)
    np.testing.assert_allclose(gpu.per_neuroid.values, cpu.per_neuroid.values, atol=1e-4)


def _layers(rng, n=60):
    """Layer 'a' drives V1, layer 'b' drives V2, 'c' is noise."""
    ids = [f"s{i}" for i in range(n)]
    feats = {name: rng.normal(size=(n, 30)) for name in "abc"}
    v1 = feats["a"][:, :6] @ rng.normal(size=(6, 5)) + 0.8 * rng.normal(size=(n, 5))
    v2 = feats["b"][:, :6] @ rng.normal(size=(6, 5)) + 0.8 * rng.normal(size=(n, 5))
    target = make_assembly(np.hstack([v1, v2]), stimulus_id=ids,
                           neuroid_coords={"region": ["V1"] * 5 + ["V2"] * 5})
    layers = {k: make_assembly(v, stimulus_id=ids, neuroid_coords={"layer": [k] * 30})
              for k, v in feats.items()}
    return layers, target


def test_score_layers_finds_planted_layers_and_plots():
    rng = np.random.default_rng(9)
    layers, target = _layers(rng)
    res = score_layers(layers, target, regression="ridge", n_splits=5, progress=False)
    assert res.best_layers == {"V1": "a", "V2": "b"}
    summary = res.summary.set_index("region")
    table = res.to_dataframe().set_index(["region", "layer"])
    assert summary.loc["V1", "score"] > 0.6
    assert table.loc[("V1", "c"), "score"] < 0.3
    assert table.loc[("V1", "a"), "selected"] == 1.0
    before = dict(matplotlib.rcParams)
    fig, given = matplotlib.pyplot.subplots()
    ax = res.plot(ax=given)
    assert ax is given and "layer" in ax.get_xlabel() and "Pearson r" in ax.get_ylabel()
    assert len(ax.lines) >= 4  # two regions: error bars and best-layer stars
    assert dict(matplotlib.rcParams) == before  # the user's global style is left alone
    matplotlib.pyplot.close(fig)
    # one assembly with a 'layer' coord works the same way
    import xarray as xr

    stacked = xr.concat(list(layers.values()), dim="neuroid")
    res2 = score_layers(stacked, target, regression="ridge", n_splits=5, progress=False)
    assert res2.best_layers == res.best_layers


@pytest.mark.parametrize("regression", ["ridge", "pls"])
def test_score_layers_table_equals_per_region_predictivity(regression):
    rng = np.random.default_rng(13)
    layers, target = _layers(rng)
    layers = {k: layers[k] for k in ("a", "c")}
    res = score_layers(layers, target, regression=regression, n_splits=3, n_inner_splits=1, progress=False)
    table = res.table.set_index(["region", "layer"])
    for region in ("V1", "V2"):
        sub = target.isel(neuroid=np.flatnonzero(target["region"].values == region))
        for name in ("a", "c"):
            single = neural_predictivity(layers[name], sub, regression=regression, n_splits=3, progress=False)
            assert table.loc[(region, name), "score"] == pytest.approx(single.score, abs=1e-10)
            assert table.loc[(region, name), "error"] == pytest.approx(single.error, abs=1e-10)


def test_layer_selection_never_sees_the_test_stimuli():
    rng = np.random.default_rng(10)
    layers, target = _layers(rng)
    base = score_layers(layers, target, regression="ridge", n_splits=3, progress=False)
    # make layer 'c' predict V1 perfectly on the held-out stimuli of outer split 0 only
    from analysis._splits import shuffle_splits

    _, test0 = shuffle_splits(60, None, 3, 0.9, 1)[0]
    values = target.values.copy()
    values[test0, :5] = layers["c"].values[test0, :5]
    hacked = target.copy(data=values)
    after = score_layers(layers, hacked, regression="ridge", n_splits=3, progress=False)
    pick = lambda r: r.choices.set_index(["region", "split"])["layer"]
    assert (pick(after) == pick(base)).all()  # the choice of split 0 ignores its test targets


@pytest.mark.slow  # a fresh interpreter imports torch/xarray: seconds on a busy machine
def test_score_files_from_a_subprocess(tmp_path):
    rng = np.random.default_rng(11)
    source, target = _recording(rng, n_stim=40, n_neur=6)
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


def test_errors_are_clear():
    rng = np.random.default_rng(12)
    source, target = _recording(rng, n_stim=30, n_neur=4)
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
    from analysis.predictivity import BatchedPLS

    rng = np.random.default_rng(n + q)
    X = rng.normal(size=(n, p))
    Y = X[:, :5] @ rng.normal(size=(5, q)) + rng.normal(size=(n, q))
    Xt = rng.normal(size=(7, p))
    ref = PLSRegression(n_components=k, scale=False).fit(X, Y)
    ours = BatchedPLS(n_components=k).fit(X, Y)
    np.testing.assert_allclose(ours.predict(Xt).reshape(7, -1), ref.predict(Xt).reshape(7, -1), atol=1e-9)
    np.testing.assert_array_equal(ours.n_iter_, ref.n_iter_)
    assert ours.coef_.shape == (q, p)


def test_any_sklearn_regressor_and_the_batched_estimators():
    from sklearn.base import clone

    from analysis.predictivity import BatchedPLS, BatchedRidge

    rng = np.random.default_rng(4)
    source, target = _recording(rng)
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


def test_no_silent_nan_in_predictivity():
    rng = np.random.default_rng(5)
    source, target = _recording(rng, n_stim=60)
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


def test_ceiling_conventions():
    assert float(ceiled_score(0.5, 0.8, convention="r2/c")) == pytest.approx(0.5**2 / 0.8)
    cs = ceiled_score(0.5, 0.8, convention="(r/c)^2")
    assert float(cs) == pytest.approx((0.5 / 0.8) ** 2) and cs.attrs["convention"] == "(r/c)^2"
    assert ceiled_score(0.5, 0.8).attrs["convention"] == "r2/c"
    with pytest.raises(ValueError, match="convention"):
        ceiled_score(0.5, 0.8, convention="r/c")


def test_layer_scores_ceiled_uses_each_regions_own_ceiling():
    rng = np.random.default_rng(9)
    source, target = _recording(rng)
    target = target.assign_coords(region=("neuroid", ["V1"] * 4 + ["V2"] * 8))
    res = score_layers({"a": source}, target, regression="ridge", n_splits=3, progress=False)
    table = res.ceiled(target, convention="(r/c)^2").set_index("region")
    for reg in ("V1", "V2"):
        sub = target.isel(neuroid=np.flatnonzero(target["region"].values == reg))
        c = float(internal_consistency(sub))
        assert table.loc[reg, "ceiling"] == pytest.approx(c)
        assert table.loc[reg, "ceiled_score"] == pytest.approx((table.loc[reg, "score"] / c) ** 2)
        assert table.loc[reg, "convention"] == "(r/c)^2"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_centred_gram_by_blocks_equals_the_gram_of_centred_features(dtype):
    """The block-wise Gram (no float64 or centred copy of X) equals (X − μ)(X − μ)ᵀ computed at once in
    float64, also when the block size does not divide the number of features."""
    from analysis._regression import centred_gram

    rng = np.random.default_rng(5)
    X = (3.0 + rng.normal(size=(37, 1000))).astype(dtype)
    Xc = X.astype(np.float64) - X.astype(np.float64).mean(0)
    G = centred_gram(X, torch.float64, block=128).numpy()
    np.testing.assert_allclose(G, Xc @ Xc.T, rtol=1e-12, atol=1e-9)
    assert centred_gram(X, torch.float64, block=128).dtype == torch.float64
