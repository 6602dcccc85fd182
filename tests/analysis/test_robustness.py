"""Tests of analysis.robustness: distortions against closed forms and scipy, OOD accuracy of
a perfect classifier, error consistency against known κ and sklearn, model-vs-human data."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import ndimage, stats

from analysis.robustness import (
    DISTORTIONS,
    _displacement_field,
    _generator,
    distort,
    error_consistency,
    expected_consistency,
    human_error_consistency,
    load_model_vs_human,
    model_trials,
    observed_consistency,
    ood_accuracy,
    plot_error_consistency,
    plot_ood_accuracy,
)
from analysis.stimuli import StimulusSet

KINDS = sorted(DISTORTIONS)


def _images(n=3, c=1, h=24, w=20, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (0.3 + 0.4 * torch.rand((n, c, h, w), generator=g)).to(dtype)


# --------------------------------------------------------------------------------------
# distortions
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_strength_zero_is_identity_and_grids_start_at_zero(kind):
    x = _images()
    assert DISTORTIONS[kind].grid[0] == 0.0
    assert all(b > a for a, b in zip(DISTORTIONS[kind].grid, DISTORTIONS[kind].grid[1:]))
    torch.testing.assert_close(distort(x, kind, 0.0, seed=3), x, rtol=0, atol=1e-12)
    x32 = x.float()
    torch.testing.assert_close(distort(x32, kind, 0.0, seed=3), x32, rtol=0, atol=2e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_distortions_are_seeded_follow_dtype_and_change_the_image(kind):
    x = _images()
    s = DISTORTIONS[kind].grid[2]
    a, b = distort(x, kind, s, seed=1), distort(x, kind, s, seed=1)
    assert a.dtype == x.dtype and a.shape == x.shape and a.device == x.device
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - x).abs().max() > 1e-3
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    if kind in ("gaussian_noise", "uniform_noise", "phase_scrambling", "elastic"):
        assert (distort(x, kind, s, seed=2) - a).abs().max() > 1e-3
    arr = distort(x.numpy(), kind, s, seed=1)  # numpy in, numpy out, same values
    assert isinstance(arr, np.ndarray)
    np.testing.assert_allclose(arr, a.numpy(), atol=1e-12)


def test_contrast_scales_std_and_blends_to_mid_gray():
    x = _images()
    y = distort(x, "contrast", 0.5)
    torch.testing.assert_close(y.std(), x.std() / 2)
    torch.testing.assert_close(y.mean(), (x.mean() + 0.5) / 2)
    torch.testing.assert_close(distort(x, "contrast", 1.0), torch.full_like(x, 0.5))


def test_blur_and_low_pass_match_scipy_and_keep_constant_images_constant():
    x = _images(n=2, c=2)
    for sigma in (0.7, 2.0, 6.0):  # 6 px: kernel radius 24 exceeds the 20 px width
        ref = np.stack([[ndimage.gaussian_filter(im, sigma, mode="reflect") for im in img]
                        for img in x.numpy()])
        np.testing.assert_allclose(distort(x, "blur", sigma).numpy(), ref, atol=1e-12)
        bg = x.mean(dim=(-2, -1)).numpy()
        ref = np.stack([[ndimage.gaussian_filter(im, sigma, mode="constant", cval=b)
                         for im, b in zip(img, bgs)] for img, bgs in zip(x.numpy(), bg)])
        np.testing.assert_allclose(distort(x, "low_pass", sigma).numpy(), ref, atol=1e-12)
    ref = ndimage.gaussian_filter(x[0, 0].numpy(), 3.0, mode="constant", cval=0.4423)
    np.testing.assert_allclose(distort(x, "low_pass", 3.0, background=0.4423)[0, 0].numpy(), ref,
                               atol=1e-12)
    const = torch.full((1, 1, 16, 16), 0.7, dtype=torch.float64)
    for kind in ("blur", "low_pass", "high_pass"):
        torch.testing.assert_close(distort(const, kind, DISTORTIONS[kind].grid[-1]), const)


def test_high_pass_is_geirhos_formula():
    # Geirhos et al. 2018: x - gaussian_filter(x, std, constant bg), shifted to mean bg, clipped
    x = _images(n=1)
    std, bg = 1.5, 0.4423
    im = x[0, 0].numpy()
    diff = im - ndimage.gaussian_filter(im, std, mode="constant", cval=bg)
    ref = np.clip(diff + bg - diff.mean(), 0, 1)
    out = distort(x, "high_pass", 1 / std, background=bg)[0, 0].numpy()
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_phase_scrambling_keeps_amplitude_spectrum_and_mean():
    x = _images(n=16, h=32, w=30)  # 16 x 480 independent phase shifts: sd of mean cos < 0.01
    for width in (30.0, 90.0, 180.0):
        y = distort(x, "phase_scrambling", width, seed=5, clip=False)
        fx, fy = torch.fft.fft2(x), torch.fft.fft2(y)
        torch.testing.assert_close(fy.abs(), fx.abs(), rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(y.mean(dim=(-2, -1)), x.mean(dim=(-2, -1)))
        # phase shifts uniform in [-w, w]: E[cos Δφ] = sin(w)/w (w in rad)
        dphi = torch.angle(fy * fx.conj())
        w = np.radians(width)
        assert float(dphi.abs().max()) <= w + 1e-6
        assert float(torch.cos(dphi).mean()) == pytest.approx(np.sin(w) / w, abs=0.03)


def test_noise_has_the_stated_distribution():
    x = torch.full((8, 1, 32, 32), 0.5, dtype=torch.float64)
    d = distort(x, "gaussian_noise", 0.1, seed=0, clip=False) - x
    assert float(d.std()) == pytest.approx(0.1, rel=0.03)
    assert abs(float(d.mean())) < 0.005
    u = distort(x, "uniform_noise", 0.2, seed=0, clip=False) - x
    assert float(u.abs().max()) <= 0.2
    assert float(u.var()) == pytest.approx(0.2**2 / 3, rel=0.05)  # U(-a, a): variance a²/3


def test_elastic_moves_pixels_along_a_smooth_field_of_the_stated_rms():
    h = w = 64
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")
    ramps = torch.stack([0.2 + 0.6 * xs / w, 0.2 + 0.6 * ys / h])[None]  # (1, 2, H, W)
    out = distort(ramps, "elastic", 1.5, seed=7, clip=False, cell=16)
    field = _displacement_field(1, h, w, 1.5, 16.0, _generator(7, torch.device("cpu")),
                                torch.float64, torch.device("cpu"))
    assert float(field[0, 0].pow(2).mean().sqrt()) == pytest.approx(1.5, rel=1e-9)
    inner = (slice(None), slice(8, -8), slice(8, -8))
    # bilinear resampling of a linear ramp is exact: out - in = slope · displacement
    torch.testing.assert_close((out - ramps)[0, 0][inner[1:]], 0.6 / w * field[0, 0][inner[1:]])
    torch.testing.assert_close((out - ramps)[0, 1][inner[1:]], 0.6 / h * field[0, 1][inner[1:]])
    # smooth: neighbouring displacements differ far less than the displacement itself
    assert float((field[..., 1:] - field[..., :-1]).abs().mean()) < 0.2 * 1.5


def test_distort_input_errors():
    x = _images()
    with pytest.raises(ValueError, match="unknown distortion"):
        distort(x, "fog", 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        distort(x, "blur", -1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        distort(x, "contrast", 1.5)
    with pytest.raises(ValueError, match="180"):
        distort(x, "phase_scrambling", 200)
    with pytest.raises(ValueError, match="shape"):
        distort(torch.rand(5, 5), "blur", 1.0)


# --------------------------------------------------------------------------------------
# OOD accuracy
# --------------------------------------------------------------------------------------

LEVELS = (0.25, 0.5, 0.75)


class MeanLuminanceClassifier(torch.nn.Module):
    """Classifies an image by the nearest of three mean luminances: perfect on the set below."""

    def __init__(self):
        super().__init__()
        self.register_buffer("levels", torch.tensor(LEVELS))

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return -(m[:, None] - self.levels.to(x.dtype)) ** 2


def _luminance_set(n_per_class=6, size=16, seed=0):
    rng = np.random.default_rng(seed)
    images, labels, names = [], [], []
    for k, (cat, level) in enumerate(zip(("dark", "mid", "bright"), LEVELS)):
        for i in range(n_per_class):
            tex = rng.uniform(-0.1, 0.1, (size, size))
            images.append((level + tex - tex.mean())[None].astype(np.float32))
            labels.append(cat)
            names.append(f"{k * n_per_class + i:04d}_cop_dnn_c30_{cat}_10_n0000000{k}_{i}.png")
    table = pd.DataFrame({"stimulus_id": [f"im{i}" for i in range(len(labels))],
                          "category": labels, "imagename": names, "condition": "c30"})
    return StimulusSet(table, np.stack(images), name="luminance")


def test_perfect_classifier_is_perfect_at_strength_zero_and_falls_to_known_values():
    model = MeanLuminanceClassifier().train()
    stim = _luminance_set()
    classes = ["dark", "mid", "bright"]
    res = ood_accuracy(model, stim, "category", kinds=["contrast", "phase_scrambling", "blur"],
                       strengths={"contrast": [0.0, 0.99], "phase_scrambling": [0.0, 180.0],
                                  "blur": [0.0, 2.0]},
                       classes=classes, batch_size=7, progress=False)
    assert model.training  # training flag restored
    acc = res.set_index(["kind", "strength"])["accuracy"]
    for kind in ("contrast", "phase_scrambling", "blur"):
        assert acc[kind, 0.0] == 1.0
    # mean-preserving distortions keep the classifier perfect; 1% contrast maps every mean to
    # ≈ 0.5, so every image is called 'mid': accuracy exactly 1/3
    assert acc["phase_scrambling", 180.0] == 1.0 and acc["blur", 2.0] == 1.0
    assert acc["contrast", 0.99] == pytest.approx(1 / 3)
    row = res[(res["kind"] == "contrast") & (res["strength"] == 0.99)].iloc[0]
    ci = stats.binomtest(int(row["n_correct"]), int(row["n_images"])).proportion_ci(method="exact")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert row["chance"] == pytest.approx(1 / 3)
    fig = plot_ood_accuracy(res)
    assert "[deg]" in fig.axes[1].get_xlabel() and "fraction" in fig.axes[0].get_ylabel()


def test_model_trials_vocabulary_and_errors():
    model = MeanLuminanceClassifier()
    stim = _luminance_set(n_per_class=2)
    trials = model_trials(model, stim, "category", kinds="contrast", strengths=[0.0],
                          classes=["dark", "mid", "bright"], name="lum", progress=False)
    assert list(trials.columns[:8]) == ["subj", "kind", "strength", "stimulus_id", "image_id",
                                        "category", "object_response", "correct"]
    assert trials["image_id"].iloc[0] == "n00000000_0.png"
    assert trials["correct"].all() and (trials["subj"] == "lum").all()
    five_outputs = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 5))
    with pytest.raises(ValueError, match="5 scores per image but there are 3 classes"):
        model_trials(five_outputs, stim, "category", kinds="blur", strengths=[0.0],
                     progress=False)
    with pytest.raises(ValueError, match="label_column"):
        model_trials(model, stim, "nope", progress=False)


# --------------------------------------------------------------------------------------
# error consistency
# --------------------------------------------------------------------------------------


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


def test_load_model_vs_human_reads_the_raw_data_format(tmp_path):
    # two real rows of raw-data/contrast/contrast_subject-01_session_1.csv (bethgelab/model-vs-human)
    (tmp_path / "contrast_subject-01_session_1.csv").write_text(
        _HEADER_HUMAN
        + "subject-01,1,1,1.05363798141479,knife,knife,c30,0001_cop_s01_c30_knife_10_n03041632_7380.png\n"
        + "subject-01,1,3,1.01556706428528,airplane,bird,c01,0003_cop_s01_c01_bird_10_n01601694_10802.png\n")
    (tmp_path / "contrast_resnet50_session-1.csv").write_text(
        _HEADER_MODEL
        + "resnet50,1,1,NaN,knife,knife,c30,0001_cop_dnn_c30_knife_10_n03041632_7380.png\n")
    (tmp_path / "other_subject-01_session_1.csv").write_text(_HEADER_HUMAN)
    df = load_model_vs_human(tmp_path, experiment="contrast")
    assert len(df) == 3 and set(df["subj"]) == {"subject-01", "resnet50"}
    assert {"session", "image_id", "correct", "experiment"} <= set(df.columns)
    assert df["image_id"].tolist().count("n03041632_7380.png") == 2  # human and model match
    human = df[df["subj"] == "subject-01"].set_index("trial")
    assert human["correct"].to_dict() == {1: True, 3: False}  # 'airplane' answered for a bird
    assert df["condition"].map(type).eq(str).all()
    with pytest.raises(FileNotFoundError, match="raw-data"):
        load_model_vs_human(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x_subject-01_session_1.csv").write_text("subj,trial\nsubject-01,1\n")
    with pytest.raises(ValueError, match="object_response"):
        load_model_vs_human(tmp_path / "bad")


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
    data = load_model_vs_human(tmp_path)
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
    fig = plot_error_consistency(res)
    assert "κ" in fig.axes[0].get_ylabel()
    with pytest.raises(ValueError, match="no image"):
        human_error_consistency(model.assign(image_id="other-" + model["image_id"]), humans)
    with pytest.raises(ValueError, match="repeat image"):
        human_error_consistency(model.assign(image_id="same"), humans)
