"""CKA (analysis.cka): invariances, closed forms (feature-space formula, unbiased HSIC), alignment by
stimulus id, and refusals of inputs it cannot score."""
import numpy as np
import pytest

from analysis.assemblies import make_assembly
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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cka_invariances(seed, random_orthogonal):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(30, 10))
    y = np.tanh(x @ rng.normal(size=(10, 8))) + 0.3 * rng.normal(size=(30, 8))
    q = random_orthogonal(rng, 8)
    base = cka(x, y)
    assert 0 < base < 1
    assert cka(x, 3.7 * y @ q) == pytest.approx(base, abs=1e-12)
    assert cka(x, y + 5.0) == pytest.approx(base, abs=1e-12)  # centring
    assert cka(x, x @ random_orthogonal(rng, 10)) == pytest.approx(1.0, abs=1e-12)
    rb = cka(x, y, kernel="rbf")
    assert cka(x, 2.5 * y @ q, kernel="rbf") == pytest.approx(rb, abs=1e-12)  # median heuristic scales
    db = cka(x, y, debiased=True)
    assert cka(x, 3.7 * y @ q, debiased=True) == pytest.approx(db, abs=1e-12)


def test_linear_cka_closed_forms():
    rng = np.random.default_rng(7)
    n = 25
    x = rng.normal(size=(n, 6))
    y = x[:, :3] @ rng.normal(size=(3, 4)) + rng.normal(size=(n, 4))
    xc, yc = x - x.mean(0), y - y.mean(0)
    feature_form = np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    assert cka(x, y) == pytest.approx(feature_form, abs=1e-12)

    def hsic_unbiased(k, l):  # Song et al. (2012), eq. 5
        k, l = k.copy(), l.copy()
        np.fill_diagonal(k, 0)
        np.fill_diagonal(l, 0)
        one = np.ones(n)
        return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
                - 2 / (n - 2) * one @ k @ l @ one) / (n * (n - 3))

    kx, ky = x @ x.T, y @ y.T
    song = hsic_unbiased(kx, ky) / np.sqrt(hsic_unbiased(kx, kx) * hsic_unbiased(ky, ky))
    assert cka(x, y, debiased=True) == pytest.approx(song, abs=1e-12)
    # a very wide RBF kernel linearises: exp(-d²/2σ²) ≈ 1 - d²/2σ² -> linear CKA
    assert cka(x, y, kernel="rbf", sigma=1e4) == pytest.approx(cka(x, y), abs=1e-6)


def test_cka_aligns_assemblies_by_stimulus(random_orthogonal):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(12, 5))
    ids = [f"s{i}" for i in range(12)]
    a = make_assembly(x, stimulus_id=ids)
    perm = rng.permutation(12)
    b = make_assembly(x[perm] @ random_orthogonal(rng, 5), stimulus_id=np.array(ids)[perm])
    assert cka(a, b) == pytest.approx(1.0, abs=1e-12)
