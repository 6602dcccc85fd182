"""Noise ceilings (analysis.ceilings): Brain-Score's internal consistency transcribed, closed forms,
ceiled-score conventions, a simulated population's ceiling against its own noiseless rates.

Planted data: ``planted_linear_recording`` (tests/conftest.py).
"""
import numpy as np
import pytest
import scipy.stats

from analysis._regression import pearson_columns
from analysis.assemblies import average_repetitions, make_assembly
from analysis.ceilings import ceiled_score, internal_consistency
from analysis.predictivity import neural_predictivity


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


def test_ceiling_reproduces_brainscore_procedure_and_closed_form(planted_linear_recording):
    rng = np.random.default_rng(1)
    source, target = planted_linear_recording(rng, noise=1.5)
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


def test_ceiled_score_is_r_squared_over_ceiling(planted_linear_recording):
    rng = np.random.default_rng(3)
    source, target = planted_linear_recording(rng)
    res = neural_predictivity(source, target, stratify_on="texture_type", progress=False)
    c = internal_consistency(target)
    cs = ceiled_score(res, c)
    assert float(cs) == pytest.approx(res.score**2 / float(c), rel=1e-12)
    assert cs.error == pytest.approx(res.error)  # Brain-Score carries the raw error over
    assert float(ceiled_score(0.5, 0.8)) == pytest.approx(0.3125)
    with pytest.raises(ValueError, match="positive"):
        ceiled_score(0.5, -0.1)


def test_ceiling_conventions():
    assert float(ceiled_score(0.5, 0.8, convention="r2/c")) == pytest.approx(0.5**2 / 0.8)
    cs = ceiled_score(0.5, 0.8, convention="(r/c)^2")
    assert float(cs) == pytest.approx((0.5 / 0.8) ** 2) and cs.attrs["convention"] == "(r/c)^2"
    assert ceiled_score(0.5, 0.8).attrs["convention"] == "r2/c"
    with pytest.raises(ValueError, match="convention"):
        ceiled_score(0.5, 0.8, convention="r/c")


def _smooth_images(rng, n, size=32):
    """Smoothed uniform-noise images (broadband, no structure planted): the stimuli of the population test below."""
    from scipy.ndimage import gaussian_filter

    imgs = rng.random((n, size, size))
    return np.stack([np.clip(0.5 + 2 * (gaussian_filter(im, 1.0) - 0.5), 0, 1) for im in imgs])


def test_simulated_population_ceiling_ground_truth_and_random_features():
    from analysis.simulate import SimulatedPopulation
    from analysis.stimuli import StimulusSet

    rng = np.random.default_rng(0)
    n = 80
    # planted: a small simulated V1/V2 population (not conftest's 30 + 30) whose noiseless rates are the truth
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
