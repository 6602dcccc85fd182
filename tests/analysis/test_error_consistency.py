"""Tests of analysis.error_consistency: Cohen's κ against known κ, its bounds and sklearn;
the model-vs-human raw-data parser on its own format; planted κ recovered per observer."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from analysis.error_consistency import (error_consistency, expected_consistency,
                                        human_error_consistency, image_id, observed_consistency,
                                        read_human_trials)
from analysis.plot.robustness import plot_error_consistency


def _kappa_sd(c_exp, n):
    """Sampling sd of κ for independent observers: c_obs ~ Binomial(n, c_exp) / n."""
    return np.sqrt(c_exp * (1 - c_exp) / n) / (1 - c_exp)


def test_error_consistency_of_an_observer_with_itself_is_one():
    rng = np.random.default_rng(0)
    a = rng.random(500) < 0.7
    assert error_consistency(a, a) == 1.0
    assert observed_consistency(a, a) == 1.0
    assert error_consistency(np.ones(10, bool), np.ones(10, bool)) == 1.0  # c_exp = 1
    assert error_consistency(torch.tensor(a), torch.tensor(a.astype(int))) == 1.0


@pytest.mark.parametrize("p", [0.3, 0.5, 0.8])
def test_independent_observers_with_equal_accuracy_have_kappa_near_zero(p):
    n = 4000
    for seed in range(3):
        rng = np.random.default_rng(seed)
        a, b = rng.random(n) < p, rng.random(n) < p
        k = error_consistency(a, b)
        assert abs(k) < 4 * _kappa_sd(expected_consistency(p, p), n)


@pytest.mark.parametrize("rho", [0.2, 0.5, 0.9])
def test_known_kappa_and_sklearn_cohen_kappa(rho):
    # b copies a's outcome with probability rho, else draws independently with a's accuracy:
    # c_obs = rho + (1 - rho) c_exp, so κ = rho exactly in expectation.
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(int(rho * 10))
    n, p = 20000, 0.65
    a = rng.random(n) < p
    b = np.where(rng.random(n) < rho, a, rng.random(n) < p)
    k = error_consistency(a, b)
    assert k == pytest.approx(rho, abs=4 * _kappa_sd(expected_consistency(p, p), n) + 0.005)
    assert k == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_kappa_bounds():
    assert error_consistency([1, 0, 1, 0], [0, 1, 0, 1]) == -1.0
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(5, 60))
        a = rng.random(n) < rng.random()
        b = rng.random(n) < rng.random()
        pa, pb = a.mean(), b.mean()
        c = observed_consistency(a, b)
        # closed-form range of c_obs given the accuracies
        assert abs(pa + pb - 1) - 1e-12 <= c <= 1 - abs(pa - pb) + 1e-12
        k = error_consistency(a, b)
        assert -1.0 - 1e-12 <= k <= 1.0 + 1e-12
    with pytest.raises(ValueError, match="same trials"):
        error_consistency([1, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="0/1"):
        error_consistency([1, 2], [1, 0])


# --------------------------------------------------------------------------------------
# model-vs-human trial data
# --------------------------------------------------------------------------------------

_HEADER_HUMAN = "subj,Session,trial,rt,object_response,category,condition,imagename\n"
_HEADER_MODEL = "subj,session,trial,rt,object_response,category,condition,imagename\n"
_CATS = ("knife", "bicycle", "bird", "airplane")


def _write_trials(path, subj, observer_tag, correct, conditions, header, rng):
    lines = [header]
    for t, (ok, cond) in enumerate(zip(correct, conditions)):
        cat = _CATS[t % len(_CATS)]
        resp = cat if ok else _CATS[(t + 1) % len(_CATS)]
        rt = f"{rng.uniform(0.5, 1.5):.4f}" if observer_tag != "dnn" else "NaN"
        name = f"{t + 1:04d}_cop_{observer_tag}_{cond}_{cat}_10_n0{3000000 + t}_{t * 7}.png"
        lines.append(f"{subj},1,{t + 1},{rt},{resp},{cat},{cond},{name}\n")
    path.write_text("".join(lines))


def test_read_human_trials_reads_the_raw_data_format(tmp_path):
    # two real rows of raw-data/contrast/contrast_subject-01_session_1.csv (bethgelab/model-vs-human)
    (tmp_path / "contrast_subject-01_session_1.csv").write_text(
        _HEADER_HUMAN
        + "subject-01,1,1,1.05363798141479,knife,knife,c30,0001_cop_s01_c30_knife_10_n03041632_7380.png\n"
        + "subject-01,1,3,1.01556706428528,airplane,bird,c01,0003_cop_s01_c01_bird_10_n01601694_10802.png\n")
    (tmp_path / "contrast_resnet50_session-1.csv").write_text(
        _HEADER_MODEL
        + "resnet50,1,1,NaN,knife,knife,c30,0001_cop_dnn_c30_knife_10_n03041632_7380.png\n")
    (tmp_path / "other_subject-01_session_1.csv").write_text(_HEADER_HUMAN)
    df = read_human_trials(tmp_path, experiment="contrast")
    assert len(df) == 3 and set(df["subj"]) == {"subject-01", "resnet50"}
    assert {"session", "image_id", "correct", "experiment"} <= set(df.columns)
    assert df["image_id"].tolist().count("n03041632_7380.png") == 2  # human and model match
    human = df[df["subj"] == "subject-01"].set_index("trial")
    assert human["correct"].to_dict() == {1: True, 3: False}  # 'airplane' answered for a bird
    assert df["condition"].map(type).eq(str).all()
    with pytest.raises(FileNotFoundError, match="raw-data"):
        read_human_trials(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x_subject-01_session_1.csv").write_text("subj,trial\nsubject-01,1\n")
    with pytest.raises(ValueError, match="object_response"):
        read_human_trials(tmp_path / "bad")


def test_human_error_consistency_recovers_planted_kappa(tmp_path):
    rng = np.random.default_rng(4)
    n, p = 3000, 0.6
    conditions = np.where(np.arange(n) % 2 == 0, "c30", "c10")
    model_ok = rng.random(n) < p
    _write_trials(tmp_path / "contrast_mymodel_session-1.csv", "mymodel", "dnn", model_ok,
                  conditions, _HEADER_MODEL, rng)
    rhos = {"subject-01": 0.0, "subject-02": 0.4, "subject-03": 0.8}
    human_ok = {}
    for k, (subj, rho) in enumerate(rhos.items()):
        ok = np.where(rng.random(n) < rho, model_ok, rng.random(n) < p)
        human_ok[subj] = ok
        _write_trials(tmp_path / f"contrast_{subj}_session_1.csv", subj, f"s0{k + 1}", ok,
                      conditions, _HEADER_HUMAN, rng)
    data = read_human_trials(tmp_path)
    humans = data[data["subj"].str.startswith("subject-")]
    model = data[data["subj"] == "mymodel"]
    res = human_error_consistency(model, humans)
    assert len(res) == 3 * 2 and (res["n_trials"] == n // 2).all()
    sd = _kappa_sd(expected_consistency(p, p), n // 2)
    for _, row in res.iterrows():
        assert row["error_consistency"] == pytest.approx(rhos[row["subj"]], abs=4 * sd + 0.01)
        sel = conditions == row["condition"]
        assert row["error_consistency"] == pytest.approx(
            error_consistency(model_ok[sel], human_ok[row["subj"]][sel]), abs=1e-12)
    ax = plot_error_consistency(res)
    assert "κ" in ax.get_ylabel()
    import matplotlib.pyplot as plt

    plt.close("all")
    with pytest.raises(ValueError, match="no image"):
        human_error_consistency(model.assign(image_id="other-" + model["image_id"]), humans)
    with pytest.raises(ValueError, match="repeat image"):
        human_error_consistency(model.assign(image_id="same"), humans)


def test_image_id_is_model_vs_humans_short_imagename():
    # the asserts of model-vs-human's plotting_helper.get_short_imagename
    assert image_id("0000_cl_s01_bw_boat_40_n02951358_5952.JPEG") == "n02951358_5952.JPEG"
    assert image_id("airplane1-bicycle2.png") == "airplane1-bicycle2.png"
    assert image_id("0003_cop_s01_c01_bird_10_bird5.png") == "bird5.png"
