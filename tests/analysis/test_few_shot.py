"""Tests of analysis.few_shot (data efficiency): Bayes accuracy, chance level, planted V1/V2 difference."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.assemblies import make_assembly
from analysis.few_shot import data_efficiency


def _gaussian_classes(n_per_class, delta, sigma, seed):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n_per_class)
    x = rng.normal(0, sigma, size=(2 * n_per_class, 1)) + delta * y[:, None]
    sid = [f"s{i:04d}" for i in range(len(y))]
    return make_assembly(x, stimulus_id=sid,
                         presentation_coords={"texture_family": np.array(["a", "b"])[y]})


def _texture_layout(values_of_family, n_families=4, n_samples=12, seed=3):
    """One presentation per (family, texture/noise, sample); values drawn per family by ``values_of_family``."""
    rng = np.random.default_rng(seed)
    fam = np.repeat([f"f{f}" for f in range(n_families)], 2 * n_samples)
    kind = np.tile(np.repeat(["texture", "noise"], n_samples), n_families)
    sample = np.tile(np.arange(n_samples), 2 * n_families)
    sid = [f"{a}-{b}-{c:02d}" for a, b, c in zip(fam, kind, sample)]
    values = values_of_family(np.array([int(f[1:]) for f in fam]), rng)
    return make_assembly(values, stimulus_id=sid, attrs={"simulated": 1, "source": "planted"},
                         presentation_coords={"texture_family": fam, "texture_type": kind, "sample": sample})


def test_data_efficiency_reaches_bayes_accuracy_of_gaussian_classes():
    # two 1-D Gaussian classes N(0, 1) and N(2, 1): Bayes accuracy Φ(Δ / 2σ) = Φ(1)
    asm = _gaussian_classes(2000, delta=2.0, sigma=1.0, seed=1)  # sd of accuracy ≈ 0.006
    res = data_efficiency({"gauss": asm}, n_train=[1, 50], n_draws=20, progress=False)
    mean = res.groupby("n_train")["accuracy"].mean()
    assert mean[50] == pytest.approx(stats.norm.cdf(1.0), abs=0.02)
    assert mean[1] < mean[50]


def test_data_efficiency_compares_models_and_noise_is_at_chance():
    centers = np.random.default_rng(0).normal(size=(4, 30))
    models = {"informative": _texture_layout(lambda f, rng: centers[f] + 0.5 * rng.normal(size=(len(f), 30))),
              "noise": _texture_layout(lambda f, rng: rng.normal(size=(len(f), 30)))}
    res = data_efficiency(models, n_train=[1, 2, 5, 10], n_draws=10, progress=False)
    mean = res.groupby(["model", "n_train"])["accuracy"].mean()
    assert mean["informative", 1] > 0.9          # well separated: one example suffices
    n_test = res[(res["model"] == "noise") & (res["n_train"] == 2)]["n_test"].iloc[0]
    lo, hi = stats.binom.interval(0.99, n_test, 0.25)
    assert lo / n_test <= mean["noise", 2] <= hi / n_test
    assert (res["n_test"] == 4 * (12 - res["n_train"])).all()  # textures only, rest tested
    assert (res["chance"] == 0.25).all()


def test_bad_input_is_refused_with_what_to_do():
    models = {"noise": _texture_layout(lambda f, rng: rng.normal(size=(len(f), 5)))}
    with pytest.raises(ValueError, match=r"n_train values must lie in \[1, 11\]"):
        data_efficiency(models, n_train=[12], progress=False)
    other = models["noise"].isel(presentation=slice(0, 40))
    with pytest.raises(ValueError, match="different stimuli"):
        data_efficiency({"a": models["noise"], "b": other}, progress=False)
    with pytest.raises(ValueError, match="presentation coord 'category'.*assign_coords"):
        data_efficiency(models, label="category", progress=False)


def test_simulated_v2_is_more_data_efficient_than_v1(simulated_recording):
    pops = {r: simulated_recording.sel(neuroid=simulated_recording["region"] == r) for r in ("V1", "V2")}
    res = data_efficiency(pops, n_train=[1, 2, 4], n_draws=20, progress=False)
    mean = res.groupby(["model", "n_train"])["accuracy"].mean()
    for n in (1, 2, 4):
        assert mean["V2", n] > mean["V1", n] + 0.1
    assert (res["n_test"] == 4 * (8 - res["n_train"])).all()


def test_results_do_not_depend_on_the_memory_chunking_of_draws(simulated_recording):
    rec = simulated_recording.isel(neuroid=list(range(4)))
    a = data_efficiency({"V1": rec}, n_train=[2], n_draws=5, progress=False)
    b = data_efficiency({"V1": rec}, n_train=[2], n_draws=5, max_batch_bytes=1, progress=False)
    pd.testing.assert_frame_equal(a, b)
