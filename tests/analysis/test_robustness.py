"""Tests of analysis.robustness: OOD accuracy of a classifier whose answers are known in closed
form (perfect at strength 0, exactly 1/3 at 1% contrast), Clopper-Pearson intervals against scipy."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from analysis.plot.robustness import plot_ood_accuracy
from analysis.robustness import model_trials, ood_accuracy
from analysis.stimuli import StimulusSet

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
    before = dict(matplotlib.rcParams)
    fig = plot_ood_accuracy(res)
    assert "[deg]" in fig.axes[1].get_xlabel() and "fraction" in fig.axes[0].get_ylabel()
    assert dict(matplotlib.rcParams) == before  # global style untouched
    import matplotlib.pyplot as plt

    _, axes = plt.subplots(1, 3)
    assert plot_ood_accuracy(res, ax=axes).axes[0] is axes[0]
    with pytest.raises(ValueError, match="3 distortion kinds"):
        plot_ood_accuracy(res, ax=axes[:2])
    plt.close("all")


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
