"""Simulated V1/V2 recordings: the planted ground truth is recoverable."""
import numpy as np
import pytest

from analysis.assemblies import average_repetitions, is_simulated, validate
from analysis.simulate import SimulatedPopulation, simulate_recordings
from analysis.images import resize_square
from analysis.spectral_noise import phase_randomize
from analysis.stimuli import StimulusSet
from analysis.texture_stimuli import texture_stimulus_set

SIZE = 32


# shared fixtures (tests/conftest.py): texture_stimuli (4 families x 2 types x 8 samples, 32 px),
# v1v2_population (SimulatedPopulation({"V1": 30, "V2": 30}, image_size=32, seed=0)); SIZE is their image size


def _modulation_index(rates, texture_type):
    a = rates[texture_type == "texture"].mean(0)
    b = rates[texture_type == "noise"].mean(0)
    return (a - b) / (a + b)


def _split_half(asm):
    """Median over units of the odd/even-repetition Pearson r across stimuli (numpy only)."""
    rep = asm["repetition"].values
    halves = []
    for parity in (0, 1):
        sub = asm.isel(presentation=np.flatnonzero(rep % 2 == parity))
        halves.append(average_repetitions(sub).values)
    a, b = (h - h.mean(0) for h in halves)
    r = (a * b).sum(0) / np.sqrt((a**2).sum(0) * (b**2).sum(0))
    return float(np.median(r))


def test_v2_prefers_naturalistic_textures_v1_does_not(texture_stimuli, v1v2_population):
    """Freeman et al. 2013: V2 modulation index > 0, V1 ≈ 0."""
    mi = _modulation_index(v1v2_population.rates(texture_stimuli), texture_stimuli.metadata("texture_type"))
    v1, v2 = mi[:30].mean(), mi[30:].mean()
    assert abs(v1) < 0.1
    assert v2 > 0.05
    assert v2 - v1 > 0.05
    assert (mi[30:] > 0).mean() > 0.8  # most V2-like units, as in the recordings


def test_v1_complex_cells_match_spectrum_exactly():
    """Energy summed over all positions depends only on the amplitude spectrum (Parseval),
    so a complex cell's mean over every circular shift is the same for an image and its
    phase-randomized noise."""
    rng = np.random.default_rng(3)
    img = rng.random((SIZE, SIZE)) ** 3  # skewed, non-Gaussian
    noise = phase_randomize(img, seed=1)
    population = SimulatedPopulation({"V1": 20}, image_size=SIZE, complex_fraction=1.0, seed=2)
    shifts = [(i, j) for i in range(SIZE) for j in range(SIZE)]
    a = np.stack([np.roll(img, s, (0, 1)) for s in shifts])
    b = np.stack([np.roll(noise, s, (0, 1)) for s in shifts])
    assert (population.units["unit_type"] == "complex").all()
    ra, rb = population.rates(a).mean(0), population.rates(b).mean(0)
    np.testing.assert_allclose(ra, rb, rtol=1e-9)


def test_reliability_below_one_and_rising_with_repetitions(texture_stimuli):
    few = simulate_recordings(texture_stimuli, n_units={"V1": 20, "V2": 20}, n_repetitions=4,
                              image_size=SIZE, seed=0)
    many = simulate_recordings(texture_stimuli, n_units={"V1": 20, "V2": 20}, n_repetitions=40,
                               image_size=SIZE, seed=0)
    r_few, r_many = _split_half(few), _split_half(many)
    assert r_few < r_many < 1.0
    assert r_many - r_few > 0.1


def test_trial_noise_is_poisson_like_with_fano_factor(v1v2_population):
    """Var(rate) = F · mean / T for counts F · Poisson(mean · T / F) in a window T."""
    imgs = texture_stimulus_set(samples_per_family=1, size=SIZE, progress=False)
    for fano in (1.0, 2.5):
        asm = v1v2_population.record(imgs, n_repetitions=400, noise=fano, seed=1)
        vals = asm.values.reshape(len(imgs), 400, -1)
        mean, var = vals.mean(1).ravel(), vals.var(1, ddof=1).ravel()
        slope = (mean * var).sum() / (mean * mean).sum()
        assert slope == pytest.approx(fano / v1v2_population.counting_window, rel=0.1)
    exact = v1v2_population.record(imgs, n_repetitions=2, noise=0.0)
    np.testing.assert_allclose(exact.values[::2], v1v2_population.rates(imgs))


def test_record_is_a_labelled_assembly(texture_stimuli, v1v2_population):
    asm = v1v2_population.record(texture_stimuli, n_repetitions=3, seed=0)
    validate(asm)
    assert asm.dims == ("presentation", "neuroid")
    assert asm.sizes == {"presentation": 3 * len(texture_stimuli), "neuroid": 60}
    assert is_simulated(asm) and asm.attrs["simulated"] == 1
    assert asm.attrs["source"].startswith("simulated:")
    assert asm.attrs["n_repetitions"] == 3 and asm.attrs["population_seed"] == 0
    assert list(asm["repetition"].values[:4]) == [0, 1, 2, 0]
    assert list(asm["stimulus_id"].values[:4]) == [texture_stimuli.stimulus_ids[0]] * 3 + [
        texture_stimuli.stimulus_ids[1]]
    for col in ("texture_family", "texture_type", "sample"):
        np.testing.assert_array_equal(asm[col].values[::3], texture_stimuli.metadata(col))
    assert (asm["region"].values == np.array(["V1"] * 30 + ["V2"] * 30)).all()
    assert (asm.values >= 0).all()


def test_determinism_under_seed(texture_stimuli):
    kw = dict(n_units={"V1": 5, "V2": 5}, n_repetitions=3, image_size=SIZE)
    a = simulate_recordings(texture_stimuli, seed=4, **kw)
    b = simulate_recordings(texture_stimuli, seed=4, **kw)
    c = simulate_recordings(texture_stimuli, seed=5, **kw)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


def test_zero_contrast_gives_spontaneous_rate_and_rates_are_plausible(v1v2_population):
    gray = np.full((2, 1, SIZE, SIZE), 0.5)
    np.testing.assert_allclose(v1v2_population.rates(gray), np.tile(v1v2_population.units["baseline"], (2, 1)))
    # calibration: median mean evoked rate on pink noise is median_rate (spikes/s)
    assert np.median(v1v2_population.units["gain"]) == pytest.approx(v1v2_population.median_rate, rel=0.35)


def test_images_of_any_size_are_resampled(v1v2_population):
    rng = np.random.default_rng(0)
    big = rng.random((3, 1, 80, 100))
    small = np.stack([resize_square(im[0], SIZE) for im in big])
    np.testing.assert_allclose(v1v2_population.rates(big), v1v2_population.rates(small), rtol=1e-10)


def test_smaller_stimulus_is_pasted_on_gray():
    """A 2° image shown to a 4° population leaves units with peripheral RFs at baseline."""
    population = SimulatedPopulation({"V1": 40}, image_size=64, v1_sf_range=(4, 4),
                                     complex_fraction=1.0, seed=0)
    rng = np.random.default_rng(0)
    stim = StimulusSet.from_images(rng.random((2, 64, 64)), visual_degrees=2.0)
    rates = population.rates(stim)
    u = population.units
    # beyond 3 sigma along the long axis (aspect <= 2) of the 2-deg central square
    outside = (np.maximum(abs(u["rf_x"]), abs(u["rf_y"])) > 1.0 + 6 * u["rf_sigma"]).to_numpy()
    assert outside.sum() >= 5
    inside = (np.maximum(abs(u["rf_x"]), abs(u["rf_y"])) < 0.8).to_numpy()
    assert (rates[:, inside] > 1.001 * u["baseline"].to_numpy()[inside]).all()
    np.testing.assert_allclose(rates[:, outside], np.tile(u["baseline"][outside], (2, 1)),
                               rtol=1e-3)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_units": {"V4": 3}}, "n_units keys"),
    ({"n_units": {"V1": -1}}, "non-negative"),
    ({"n_units": {"V1": 0, "V2": 0}}, "at least one unit"),
    ({"image_size": 8}, "image_size"),
    ({"visual_degrees": 0}, "visual_degrees"),
])
def test_bad_population_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimulatedPopulation(**kwargs)


def test_bad_images_are_refused(v1v2_population, texture_stimuli):
    with pytest.raises(ValueError, match="grayscale"):
        v1v2_population.rates(np.zeros((2, 3, SIZE, SIZE)))
    with pytest.raises(ValueError, match="NaN"):
        v1v2_population.rates(np.full((1, SIZE, SIZE), np.nan))
    with pytest.raises(ValueError, match="n_repetitions"):
        v1v2_population.record(texture_stimuli, n_repetitions=0)
    with pytest.raises(TypeError, match="StimulusSet"):
        v1v2_population.record(np.zeros((2, SIZE, SIZE)))


@pytest.mark.parametrize("n_units", [{"V1": 3}, {"V2": 3}])
def test_single_region_populations(n_units):
    pop = SimulatedPopulation(n_units, image_size=SIZE, seed=1)
    region = next(iter(n_units))
    assert list(pop.units["region"]) == [region] * 3
    rates = pop.rates(np.random.default_rng(0).random((4, SIZE, SIZE)))
    assert rates.shape == (4, 3) and (rates >= pop.units["baseline"].to_numpy()).all()


def test_ground_truth_unit_filters_are_zero_mean_unit_norm_and_analytic():
    from analysis._ground_truth_units import energy_bank, gabor

    coords = (np.arange(32) + 0.5) / 8 - 2  # 32 px over 4 deg
    xx, yy = np.meshgrid(coords, coords)
    g = gabor(xx, yy, 1.9, -0.2, 0.7, 2.0, 0.25, 1.5, 0.4, 4.0)  # RF centre near the (periodic) edge
    assert abs(g.sum()) < 1e-10 and np.linalg.norm(g) == pytest.approx(1.0)
    bank = energy_bank(32, 4.0, sf_cap=2.0)
    np.testing.assert_allclose(bank["freqs"], [2.0, 1.0, 0.5])  # octaves down from min(4, cap) c/deg
    f = bank["filters"]
    flipped = f[:, (-np.arange(32)) % 32][:, :, (-np.arange(32)) % 32]  # the filter at -frequency
    inner = np.arange(32) != 16  # the Nyquist row and column are their own negatives
    assert np.all((f * flipped)[:, inner][:, :, inner] == 0)  # one-sided (analytic)
    assert np.all(f[:, 0, 0] == 0)  # no DC
