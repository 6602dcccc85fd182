"""analysis.tuning on filters of known orientation and frequency, closed forms and invariances."""
import numpy as np
import pytest
import torch

from analysis.tuning import circular_variance, grating_responses, gratings, orientation_tuning

K = 21
Y, X = np.mgrid[0:K, 0:K] - (K - 1) / 2


def _gabor(theta, freq, sigma=4.0, phase=0.0):
    u = X * np.cos(theta) + Y * np.sin(theta)
    return np.exp(-(X**2 + Y**2) / (2 * sigma**2)) * np.cos(2 * np.pi * freq * u + phase)


FREQS = [0.05, 0.1, 0.15, 0.2, 0.3]
N_ORI = 12


@pytest.mark.parametrize("k", range(0, N_ORI, 2))
@pytest.mark.parametrize("freq", [0.1, 0.2])
def test_gabor_of_known_orientation_and_frequency_is_recovered(k, freq):
    theta = k * np.pi / N_ORI
    t = orientation_tuning(grating_responses(_gabor(theta, freq, phase=0.7)[None, None], N_ORI, FREQS))
    assert t["preferred_frequency"][0] == freq
    err = abs((t["preferred_orientation"][0] - theta + np.pi / 2) % np.pi - np.pi / 2)
    # symmetric tuning curve: its vector points at θ, up to the phase sampling (max over 8 phases)
    assert err < 0.01                         # radians; orientation spacing is 0.26
    assert t["circular_variance"][0] < 0.5


def test_isotropic_filter_is_untuned_and_narrow_gabors_are_sharper_than_wide_ones():
    r2 = X**2 + Y**2
    dog = np.exp(-r2 / (2 * 1.5**2)) - 0.5 * np.exp(-r2 / (2 * 3.0**2))
    filters = np.stack([dog, _gabor(0.3, 0.15, sigma=2.0), _gabor(0.3, 0.15, sigma=6.0)])
    t = orientation_tuning(grating_responses(torch.tensor(filters)[:, None], N_ORI, FREQS))
    assert t["circular_variance"][0] > 0.98                    # same response at every orientation
    assert t["circular_variance"][2] < t["circular_variance"][1]  # longer bars: sharper tuning


def test_circular_variance_closed_form_of_a_cosine_tuning_curve():
    th = np.arange(16) * np.pi / 16
    for a in (0.0, 0.3, 1.0):
        r = 1 + a * np.cos(2 * (th - 0.4))
        assert circular_variance(r, th) == pytest.approx(1 - a / 2, abs=1e-12)
    with pytest.raises(ValueError, match="non-negative"):
        circular_variance(-np.ones(4), th[:4])


def test_rotating_a_filter_by_90_degrees_rotates_its_preference_and_keeps_its_sharpness():
    rng = np.random.default_rng(0)
    w = _gabor(0.0, 0.15) + 0.3 * rng.normal(size=(K, K))
    t = orientation_tuning(grating_responses(np.stack([w, np.rot90(w)]), N_ORI, FREQS))
    d = (t["preferred_orientation"][1] - t["preferred_orientation"][0]) % np.pi
    assert d == pytest.approx(np.pi / 2, abs=1e-9)
    assert t["circular_variance"][1] == pytest.approx(t["circular_variance"][0], abs=1e-9)


def test_gratings_and_bad_input():
    g = gratings(9, [0.0], [0.25], n_phases=4)
    assert g.shape == (1, 1, 4, 9, 9) and np.allclose(g[0, 0, 0, 0, :4], [1, 0, -1, 0], atol=1e-12)
    with pytest.raises(ValueError, match="Nyquist"):
        gratings(9, [0.0], [0.7])
    with pytest.raises(ValueError, match="square kernels"):
        grating_responses(np.zeros((2, 3, 4)))
    zero = orientation_tuning(grating_responses(np.zeros((1, K, K)), N_ORI, FREQS))
    assert np.isnan(zero["circular_variance"][0]) and np.isnan(zero["preferred_orientation"][0])


def test_filter_grid_keeps_each_filter_and_figures_draw_on_the_given_axes():
    import matplotlib
    import matplotlib.pyplot as plt
    import pandas as pd

    from analysis.plot.tuning import filter_mosaic, plot_circular_variance, plot_filters

    w = np.random.default_rng(1).normal(size=(5, 1, 3, 3))
    m = filter_mosaic(w, n_cols=3)
    assert m.shape == (2 * 4 - 1, 3 * 4 - 1)
    np.testing.assert_allclose(m[4:7, 4:7], w[4, 0] / np.abs(w[4]).max())   # 5th filter, row 1, col 1
    assert np.isnan(m[4:7, 8:11]).all()                                     # empty slot
    before = dict(matplotlib.rcParams)
    fig, axes = plt.subplots(1, 2)
    assert plot_filters(w, ax=axes[0]) is axes[0]
    t = pd.DataFrame({"model": ["a", "a", "b"], "circular_variance": [0.2, 0.3, 0.9]})
    assert plot_circular_variance(t, ax=axes[1]).get_ylabel().startswith("circular variance")
    assert dict(matplotlib.rcParams) == before
    plt.close(fig)
