"""Planted-geometry and closed-form tests of the manifold alignment measures."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from scipy.special import gammaln

from analysis.alignment import manifold_alignment


def _orthonormal(rng, N, k):
    return np.linalg.qr(rng.standard_normal((N, k)))[0].T  # (k, N) orthonormal rows


def test_orthogonal_centers_have_alignment_one_over_p_minus_one():
    # centers e_μ: after the global mean is removed, cos(e_μ − ē, e_ν − ē) = −1/(P − 1) exactly
    rng = np.random.default_rng(0)
    P, N = 7, 40
    E = _orthonormal(rng, N, 2 * P)
    mans = [E[i] + 0.1 * np.outer([-1.0, 1.0], E[P + i]) for i in range(P)]
    res = manifold_alignment(mans, n_t=30, remove_center_correlations=False)
    assert res.center_alignment == pytest.approx(1 / (P - 1), rel=1e-10)
    # segment axes are orthogonal to each other and to every center
    assert res.axis_alignment == pytest.approx(0.0, abs=1e-12)
    assert res.center_axis_alignment == pytest.approx(0.0, abs=1e-12)
    assert res.principal_angle == pytest.approx(90.0, abs=1e-6)
    assert res.subspace_overlap == pytest.approx(0.0, abs=1e-12)


def test_shared_axes_and_collinear_centers():
    rng = np.random.default_rng(1)
    N = 30
    u, w = _orthonormal(rng, N, 2)
    offsets = [-2.0, -1.0, 1.0, 2.0]  # centers along ±w, mean zero
    mans = [a * w + np.linspace(-0.5, 0.5, 6)[:, None] * u for a in offsets]
    res = manifold_alignment(mans, n_t=40, remove_center_correlations=False)
    assert res.center_alignment == pytest.approx(1.0, abs=1e-12)
    assert res.axis_alignment == pytest.approx(1.0, abs=1e-12)
    assert res.anchor_axis_alignment == pytest.approx(1.0, abs=1e-8)
    assert res.subspace_overlap == pytest.approx(1.0, abs=1e-12)
    assert res.principal_angle == pytest.approx(0.0, abs=1e-5)


def test_variation_along_own_center_gives_self_center_axis_one():
    rng = np.random.default_rng(2)
    P, N = 6, 50
    E = _orthonormal(rng, N, P)
    C = E - E.mean(0)  # centers with zero mean, so the global mean removal leaves them unchanged
    gains = np.linspace(0.8, 1.2, 5)[:, None]
    mans = [gains * c for c in C]
    res = manifold_alignment(mans, n_t=30, remove_center_correlations=False)
    assert res.self_center_axis_alignment == pytest.approx(1.0, abs=1e-10)
    assert res.center_axis_alignment == pytest.approx(res.center_alignment, rel=1e-10)


def test_random_axes_match_expected_abs_cosine():
    # E|u·v| for independent uniform unit vectors in R^N: Γ(N/2) / (√π Γ((N+1)/2))
    rng = np.random.default_rng(3)
    P, N = 60, 200
    expected = np.exp(gammaln(N / 2) - gammaln((N + 1) / 2)) / np.sqrt(np.pi)
    mans = []
    for _ in range(P):
        c, u = rng.standard_normal(N), rng.standard_normal(N)
        mans.append(c + np.outer([-1.0, 1.0], u / np.linalg.norm(u)))
    res = manifold_alignment(mans, n_t=20, remove_center_correlations=False)
    assert res.axis_alignment == pytest.approx(expected, rel=0.08)
    # 1-D manifolds: principal angle cos = |u·v|, overlap = cos²; E cos² = 1/N
    assert res.subspace_overlap == pytest.approx(1 / N, rel=0.15)


def test_invariances_rotation_and_permutation():
    rng = np.random.default_rng(4)
    N = 25
    mans = {f"m{i}": rng.standard_normal(N) + 0.4 * rng.standard_normal((8, N)) for i in range(6)}
    Q = np.linalg.qr(rng.standard_normal((N, N)))[0]
    a = manifold_alignment(mans, n_t=40, n_axes=3)
    b = manifold_alignment({k: v @ Q for k, v in mans.items()}, n_t=40, n_axes=3)
    c = manifold_alignment(dict(reversed(list(mans.items()))), n_t=40, n_axes=3)
    for k, v in a.summary().items():
        assert b.summary()[k] == pytest.approx(v, rel=1e-6, abs=1e-9), k
        assert c.summary()[k] == pytest.approx(v, rel=1e-6, abs=1e-9), k
    df = a.to_dataframe()
    assert len(df) == 6 * 5 and {"manifold_a", "manifold_b", "principal_angle"} <= set(df.columns)
    fig = a.plot()
    assert len(fig.axes) >= 3 and fig.axes[0].get_xlabel() == "manifold"


def test_one_point_manifold_is_a_clear_error():
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="single sample"):
        manifold_alignment([rng.standard_normal((1, 5)), rng.standard_normal((3, 5))])
    with pytest.raises(ValueError, match="variance"):
        manifold_alignment([rng.standard_normal((3, 5))] * 2, variance=0)
