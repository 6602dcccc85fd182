"""Layer mapping (analysis.layer_mapping): planted best layers, agreement with per-region predictivity,
selection that never sees the held-out stimuli, each region's own ceiling."""
import matplotlib
import numpy as np
import pytest

from analysis.assemblies import make_assembly
from analysis.ceilings import internal_consistency
from analysis.layer_mapping import score_layers
from analysis.predictivity import neural_predictivity

matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402  (the figure below)


def _layers(rng, n=60):
    """Planted: layer 'a' drives V1, layer 'b' drives V2 (6 of 30 features, linear, noise 0.8), 'c' is noise."""
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


def test_layer_scores_ceiled_uses_each_regions_own_ceiling(planted_linear_recording):
    rng = np.random.default_rng(9)
    source, target = planted_linear_recording(rng)
    target = target.assign_coords(region=("neuroid", ["V1"] * 4 + ["V2"] * 8))
    res = score_layers({"a": source}, target, regression="ridge", n_splits=3, progress=False)
    table = res.ceiled(target, convention="(r/c)^2").set_index("region")
    for reg in ("V1", "V2"):
        sub = target.isel(neuroid=np.flatnonzero(target["region"].values == reg))
        c = float(internal_consistency(sub))
        assert table.loc[reg, "ceiling"] == pytest.approx(c)
        assert table.loc[reg, "ceiled_score"] == pytest.approx((table.loc[reg, "score"] / c) ** 2)
        assert table.loc[reg, "convention"] == "(r/c)^2"
