"""Tests of analysis.model_vs_human and analysis.human_categories: the 16-category mapping
against facts of the ILSVRC-2012 class order and planted probabilities; error consistency of
a classifier on a made-up data set in model-vs-human's own layout (PNG stimuli named as it
names them, raw-data CSVs of human observers) against sklearn's Cohen's kappa."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from analysis.error_consistency import read_human_trials
from analysis.human_categories import CATEGORIES, IMAGENET_INDICES, IMAGENET_WNIDS
from analysis.model_vs_human import (IMAGENET_MEAN, IMAGENET_STD, classifier_error_consistency,
                                     classifier_trials, imagenet_to_16)
from analysis.stimuli import StimulusSet


def test_sixteen_categories_are_disjoint_imagenet_classes():
    assert CATEGORIES == tuple(sorted(CATEGORIES)) and len(CATEGORIES) == 16
    flat = [i for c in CATEGORIES for i in IMAGENET_INDICES[c]]
    assert len(flat) == len(set(flat)) == 207 and 0 <= min(flat) and max(flat) < 1000
    wnids = [w for c in CATEGORIES for w in IMAGENET_WNIDS[c]]
    assert len(wnids) == len(set(wnids)) == 207
    assert all(len(IMAGENET_WNIDS[c]) == len(IMAGENET_INDICES[c]) for c in CATEGORIES)
    # facts of the ILSVRC-2012 order: 281 tabby cat, 404 airliner, 499 cleaver, 385 Indian elephant
    known = {281: "n02123045", 404: "n02690373", 499: "n03041632", 385: "n02504013"}
    lookup = {i: w for c in CATEGORIES for i, w in zip(IMAGENET_INDICES[c], IMAGENET_WNIDS[c])}
    assert {i: lookup[i] for i in known} == known


def test_imagenet_to_16_averages_probabilities_over_a_categorys_classes():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(1000), size=5)
    out = imagenet_to_16(p)
    assert isinstance(out, np.ndarray) and out.shape == (5, 16)
    for k, c in enumerate(CATEGORIES):
        np.testing.assert_allclose(out[:, k], p[:, list(IMAGENET_INDICES[c])].mean(1))
    # the mean, not the sum: 0.005 on each dog class loses to 0.01 on the one knife class
    q = torch.zeros(1, 1000, dtype=torch.float64)
    q[0, list(IMAGENET_INDICES["dog"])] = 0.005
    q[0, IMAGENET_INDICES["knife"][0]] = 0.01
    assert CATEGORIES[int(imagenet_to_16(q).argmax())] == "knife"
    with pytest.raises(ValueError, match="1000"):
        imagenet_to_16(np.ones((2, 16)))


class LevelClassifier(torch.nn.Module):
    """Reads the category from the image's gray level: level (k + 0.5)/16 -> CATEGORIES[k].

    It undoes model-vs-human's ImageNet normalization on the first channel, so its answers
    are right only if that normalization was applied; 1000 ImageNet logits (``imagenet``) or
    16 category scores."""

    def __init__(self, imagenet: bool = True):
        super().__init__()
        self.imagenet = imagenet
        self.weight = torch.nn.Parameter(torch.zeros(()))  # so it has a device

    def forward(self, x):
        level = x[:, 0].mean(dim=(1, 2)) * IMAGENET_STD[0] + IMAGENET_MEAN[0]
        k = (level * 16).floor().clamp(0, 15).long()
        if not self.imagenet:
            return torch.nn.functional.one_hot(k, 16).float()
        logits = torch.zeros(len(x), 1000)
        cols = torch.tensor([IMAGENET_INDICES[c][0] for c in CATEGORIES])
        logits[torch.arange(len(x)), cols[k]] = 10.0
        return logits


def _made_up_model_vs_human(root, n=400, seed=0):
    """PNGs in contrast/dnn/session-1 and three human CSVs with planted agreement."""
    from skimage.io import imsave

    rng = np.random.default_rng(seed)
    folder = root / "contrast" / "dnn" / "session-1"
    folder.mkdir(parents=True)
    truth = rng.integers(0, 16, n)
    model_ok = rng.random(n) < 0.6
    response = np.where(model_ok, truth, (truth + rng.integers(1, 16, n)) % 16)
    conditions = np.where(np.arange(n) % 2 == 0, "c30", "c10")
    names = []
    for t in range(n):
        name = (f"{t + 1:04d}_cop_s01_{conditions[t]}_{CATEGORIES[truth[t]]}_10_"
                f"n0{2000000 + t}_{t}.png")
        level = round((response[t] + 0.5) / 16 * 255)
        imsave(folder / name, np.full((8, 8, 3), level, dtype=np.uint8), check_contrast=False)
        names.append(name)
    raw = root / "raw-data" / "contrast"
    raw.mkdir(parents=True)
    human_ok = {}
    for s, rho in enumerate((0.0, 0.5, 0.9)):
        subj = f"subject-0{s + 1}"
        ok = np.where(rng.random(n) < rho, model_ok, rng.random(n) < 0.6)
        human_ok[subj] = ok
        answer = np.where(ok, truth, (truth + 1) % 16)
        rows = [f"{subj},1,{t + 1},0.8,{CATEGORIES[answer[t]]},{CATEGORIES[truth[t]]},"
                f"{conditions[t]},{names[t].replace('_s01_', f'_s0{s + 1}_')}" for t in range(n)]
        (raw / f"contrast_{subj}_session_1.csv").write_text(
            "subj,Session,trial,rt,object_response,category,condition,imagename\n"
            + "\n".join(rows) + "\n")
    return folder, names, model_ok, human_ok, conditions


@pytest.mark.parametrize("imagenet", [True, False])
def test_classifier_error_consistency_on_a_made_up_model_vs_human_set(tmp_path, imagenet):
    from sklearn.metrics import cohen_kappa_score

    folder, names, model_ok, human_ok, conditions = _made_up_model_vs_human(tmp_path)
    table = pd.DataFrame({"stimulus_id": names, "imagename": names,
                          "path": [str(folder / n) for n in names]})
    stimuli = StimulusSet(table, name="contrast")
    humans = read_human_trials(tmp_path / "raw-data" / "contrast")
    model = LevelClassifier(imagenet).train()
    trials = classifier_trials(model, stimuli, name="level")
    assert model.training  # training flag restored
    np.testing.assert_array_equal(trials["correct"].to_numpy(), model_ok)
    assert list(trials["condition"].unique()) == ["c30", "c10"]
    res = classifier_error_consistency(model, stimuli, humans, name="level", batch_size=64)
    assert len(res) == 3 * 2 and set(res["model"]) == {"level"}
    for _, row in res.iterrows():
        sel = conditions == row["condition"]
        assert row["n_trials"] == sel.sum()
        expected = cohen_kappa_score(model_ok[sel], human_ok[row["subj"]][sel])
        assert row["error_consistency"] == pytest.approx(expected, abs=1e-12)
    # without the normalization the levels are misread: the decisions change
    raw = classifier_trials(model, stimuli, normalize=False)
    assert (raw["correct"].to_numpy() != model_ok).any()


def test_classifier_trials_input_errors(tmp_path):
    x = torch.rand(2, 3, 8, 8)
    model = LevelClassifier()
    with pytest.raises(ValueError, match="image names"):
        classifier_trials(model, x, ["0001_cop_s01_c30_knife_10_n1_1.png"])
    with pytest.raises(ValueError, match="layout"):
        classifier_trials(model, x, ["a.png", "b.png"])
    bad = torch.nn.Linear(3, 7)
    with pytest.raises(ValueError, match="1000"):
        classifier_trials(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), bad),
                          x, ["0001_cop_s01_c30_knife_10_n1_1.png"] * 2)
