"""CKA: refusals of inputs it cannot score (the numbers are checked in test_rsa.py)."""
import numpy as np
import pytest

from analysis.cka import cka


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_cka_of_a_constant_input_raises_or_is_nan_on_request(kernel):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 5))
    const = np.ones((12, 5))
    with pytest.raises(ValueError, match="constant across stimuli.*nan_policy='omit'"):
        cka(x, const, kernel=kernel)
    with pytest.warns(RuntimeWarning, match="Returning NaN"):
        assert np.isnan(cka(const, x, kernel=kernel, nan_policy="omit"))
    with pytest.raises(ValueError, match="nan_policy"):
        cka(x, x, nan_policy="ignore")


def test_cka_equals_its_feature_space_formula():
    """Linear CKA = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) on centred features (Kornblith et al. 2019, eq. 5)."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 8)), rng.normal(size=(30, 6))
    xc, yc = x - x.mean(0), y - y.mean(0)
    ref = np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    assert cka(x, y) == pytest.approx(ref, abs=1e-12)
