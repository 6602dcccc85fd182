"""Tests of analysis.texture (modulation index, texture statistics, live units) and its figures: closed forms, planted ground truth."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch

from analysis.assemblies import make_assembly
from analysis.plot.texture import plot_data_efficiency, plot_family_decoding, plot_modulation_index
from analysis.few_shot import data_efficiency
from analysis.texture import modulation_index, modulation_table
from analysis.texture_decoding import family_decoding


# shared fixture (tests/conftest.py): simulated_recording, the simulated V1/V2 recording
# (analysis.simulate) on FreemanZiemba-layout stimuli: 4 families x 2 types x 8 samples x 10
# repetitions, 30 + 30 units, Poisson trial noise, labelled simulated. Planted ground truth:
# V1-like units see the power spectrum, which a texture shares with its matched noise;
# V2-like units add a second-order term that naturalistic textures drive more than noise.


# --------------------------------------------------------------------------------------
# modulation index
# --------------------------------------------------------------------------------------


def _two_family_known():
    # unit 0: family a tex 3 / noise 1 (MI 0.5), family b tex 1 / noise 1 (MI 0)
    # unit 1: constant 2 everywhere (MI 0). Sample 0 has 3 repetitions spread ±1 around the
    # mean, sample 1 one repetition: averaging repetitions first weights images equally.
    means = {("a", "texture"): 3.0, ("a", "noise"): 1.0, ("b", "texture"): 1.0, ("b", "noise"): 1.0}
    rows, vals = [], []
    for (f, k), m in means.items():
        for j, reps in ((0, (-0.5, 0.0, 0.5)), (1, (0.0,))):
            for r, delta in enumerate(reps):
                rows.append((f"{f}-{k}-{j}", f, k, j, r))
                vals.append([m + delta, 2.0])
    sid, fam, kind, sample, rep = map(np.array, zip(*rows))
    return make_assembly(
        np.array(vals), stimulus_id=sid,
        presentation_coords={"texture_family": fam, "texture_type": kind, "sample": sample, "repetition": rep},
        attrs={"simulated": 1, "source": "planted"})


def test_modulation_index_closed_form_per_family_overall_and_pooled():
    a = _two_family_known()
    pf = modulation_index(a, per_family=True)
    assert pf.dims == ("texture_family", "neuroid")
    np.testing.assert_allclose(pf.sel(texture_family="a").values, [0.5, 0.0])
    np.testing.assert_allclose(pf.sel(texture_family="b").values, [0.0, 0.0])
    np.testing.assert_allclose(modulation_index(a).values, [0.25, 0.0])  # mean over families
    # pooled: r_texture = 2, r_noise = 1 -> 1/3
    np.testing.assert_allclose(modulation_index(a, overall="pooled").values, [1 / 3, 0.0])
    assert modulation_index(a)["neuroid_id"].values.tolist() == ["n0", "n1"]


def test_modulation_index_errors_and_undefined_policy():
    a = _two_family_known()
    with pytest.raises(ValueError, match="texture_type"):
        modulation_index(a.drop_vars("texture_type"))
    with pytest.raises(ValueError, match="'texture' or 'noise'"):
        modulation_index(a.assign_coords(texture_type=("presentation",
                                                       np.full(a.sizes["presentation"], "x"))))
    silent = a.copy(data=np.column_stack([a.values[:, 0], np.zeros(a.sizes["presentation"])]))
    with pytest.raises(ValueError, match=r"undefined for 1 neuroid.*n1"):
        modulation_index(silent)
    nan = modulation_index(silent, undefined="nan")
    assert nan.values[0] == pytest.approx(0.25) and np.isnan(nan.values[1])
    dropped = modulation_index(silent, undefined="drop")
    assert dropped["neuroid_id"].values.tolist() == ["n0"]
    negative = a.copy(data=a.values - 2.5)
    with pytest.raises(ValueError, match="non-negative"):
        modulation_index(negative)
    with pytest.raises(ValueError, match="time_bin"):
        modulation_index(make_assembly(np.ones((2, 1, 3)), stimulus_id=["a", "b"]))


def test_simulated_v2_is_more_texture_modulated_than_v1(simulated_recording):
    assert simulated_recording.attrs["simulated"] == 1
    table = modulation_table(simulated_recording)
    overall = table[table["texture_family"] == "all"].groupby("population")["modulation_index"]
    med = overall.median()
    assert abs(med["V1"]) < 0.06            # V1 ≈ 0 (Freeman et al. 2013; planted)
    assert med["V2"] > 0.06                 # V2 clearly positive
    assert med["V2"] > med["V1"] + 0.05
    assert (overall.get_group("V2") > 0).mean() > 0.8  # most V2 units prefer textures
    # per-family rows: one per (population, family, unit)
    assert len(table[table["texture_family"] != "all"]) == 2 * 30 * 4


def test_spectral_energy_model_layer_has_zero_modulation_index(small_texture_stimuli):
    # A layer that only sees the power spectrum — circular convolution, squaring, global
    # average: by Parseval its response is Σ_f |K(f)|²|X(f)|² / N², identical for a texture and
    # its spectrally matched (phase-randomized) noise, so its modulation index is exactly 0.
    from analysis.activations import extract

    class Energy(torch.nn.Module):
        def forward(self, x):
            return x**2

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 5, padding=2, padding_mode="circular",
                                              bias=False), Energy(), torch.nn.AdaptiveAvgPool2d(1))
    acts = extract(net, small_texture_stimuli, ["2"], progress=False)
    mi = modulation_index(acts["2"], per_family=True)
    np.testing.assert_allclose(mi.values, 0.0, atol=1e-5)
    table = modulation_table(acts)
    assert set(table["population"]) == {"2"} and len(table) == 4 * (1 + 4)
    res = family_decoding(acts, n_splits=3, n_draws=2, progress=False)
    assert set(res["kind"]) == {"family"}  # deterministic activations: no sample decoding
    assert set(res["population"]) == {"2"} and set(res["population_size"]) == {1, 2, 4}


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------


def test_figures_are_labelled_with_units(simulated_recording):
    import matplotlib.pyplot as plt

    rec = simulated_recording.isel(neuroid=list(range(6)) + list(range(30, 36)))
    ax = plot_modulation_index(rec)
    assert "unitless" in ax.get_xlabel() and [t.get_text() for t in ax.get_yticklabels()] == ["V1", "V2"]
    dec = family_decoding(rec, population_sizes=[2, 6], n_draws=2, kinds=("family",),
                          progress=False)
    ax2 = plot_family_decoding(dec)
    assert "[units]" in ax2.get_xlabel() and "fraction" in ax2.get_ylabel()
    eff = data_efficiency({"V1": rec.sel(neuroid=rec["region"] == "V1")}, n_train=[1, 2],
                          n_draws=3, progress=False)
    ax3 = plot_data_efficiency(eff)
    assert "images" in ax3.get_xlabel()
    assert isinstance(eff, pd.DataFrame)
    for a in (ax, ax2, ax3):
        plt.close(a.figure)


def test_figures_leave_global_style_alone_and_draw_on_the_given_axes(simulated_recording):
    import matplotlib
    import matplotlib.pyplot as plt

    before = dict(matplotlib.rcParams)
    fig, axes = plt.subplots(1, 2)
    rec = simulated_recording.isel(neuroid=list(range(6)) + list(range(30, 36)))
    assert plot_modulation_index(rec, ax=axes[1]) is axes[1]
    assert dict(matplotlib.rcParams) == before
    plt.close(fig)


# --------------------------------------------------------------------------------------
# texture representation (spatial average) and live units
# --------------------------------------------------------------------------------------


def test_spatial_average_of_a_conv_layer_equals_the_mean_over_its_feature_map():
    from analysis.activations import extract
    from analysis.stimuli import StimulusSet
    from analysis.texture import spatial_average

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU())
    imgs = np.random.default_rng(0).uniform(size=(4, 1, 12, 12))
    stim = StimulusSet.from_images(imgs, name="noise", visual_degrees=4.0)
    acts = extract(net, stim, ["1"], progress=False, model_degrees=4.0)["1"]
    avg = spatial_average(acts)
    with torch.no_grad():
        ref = net(torch.tensor(imgs, dtype=torch.float32)).mean((2, 3)).numpy()
    np.testing.assert_allclose(avg.values, ref, rtol=1e-5)
    assert avg["neuroid_id"].values.tolist() == ["1.0", "1.1", "1.2"]
    with pytest.raises(ValueError, match="neuroid coord 'layer'"):
        spatial_average(make_assembly(np.ones((2, 2)), stimulus_id=["a", "b"]))


def test_dead_units_are_excluded_and_counted():
    from analysis.texture import live_units

    rng = np.random.default_rng(0)
    v = rng.uniform(0.1, 1.0, size=(10, 6))
    v[:, 1] = 0.0          # silent
    v[:, 4] = 0.7          # constant
    live, n_dead = live_units(make_assembly(v, stimulus_id=[f"s{i}" for i in range(10)]))
    assert n_dead == 2 and live.sizes["neuroid"] == 4
    np.testing.assert_array_equal(live.values, v[:, [0, 2, 3, 5]])
