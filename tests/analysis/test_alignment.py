"""Alignment measures: closed forms, planted geometry and the invariances of their definitions.

axis alignment  ⟨C_μ, C_ν⟩_F / (‖C_μ‖_F ‖C_ν‖_F);  center–axis  ĉ_μᵀC_νĉ_μ / tr C_ν.
"""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from analysis.alignment import covariance_overlap, manifold_alignment

EXACT = ("center_alignment", "axis_alignment", "center_axis_alignment", "principal_angle", "subspace_overlap")
ALL = EXACT + ("anchor_axis_alignment",)


def _orthonormal(rng, N, k):
    return np.linalg.qr(rng.standard_normal((N, k)))[0].T  # (k, N) orthonormal rows


def _isotropic(center, basis, rotation, r=1.0):
    """2k points ±r·(rows of rotation)·basis around center: covariance exactly r²/k · BᵀB (isotropic)."""
    Q = rotation @ basis
    return center + r * np.vstack([Q, -Q])


def _haar(rng, k):
    return np.linalg.qr(rng.standard_normal((k, k)))[0]


def test_identical_covariances_give_one_whatever_the_axes():
    # the case: six isotropic 4-D clouds in one shared subspace, each drawn in its own basis
    rng = np.random.default_rng(0)
    N, P, k = 40, 6, 4
    E = _orthonormal(rng, N, P + k)
    B = E[P:]
    mans = [_isotropic(3 * E[i], B, _haar(rng, k), r=0.5) for i in range(P)]
    res = manifold_alignment(mans, n_t=30, remove_center_correlations=False)
    np.testing.assert_allclose(res.matrices["axis_alignment"], 1.0, atol=1e-12)  # self-alignment too
    assert res.subspace_overlap == pytest.approx(1.0, abs=1e-12)
    assert res.principal_angle == pytest.approx(0.0, abs=1e-5)
    # identical point sets (two copies) have anchor-axis alignment 1 up to the sampling of t
    big = manifold_alignment({"a": mans[0], "b": mans[0] - 6 * E[0]}, n_t=4000,
                             remove_center_correlations=False)
    assert big.anchor_axis_alignment == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(np.diag(big.matrices["anchor_axis_alignment"]), 1.0, atol=1e-12)


def test_orthogonal_subspaces_give_zero():
    rng = np.random.default_rng(1)
    P, N, k = 7, 60, 3
    E = _orthonormal(rng, N, P + P * k)
    noise = [rng.standard_normal((9, k)) for _ in range(P)]
    mans = [E[i] + 0.2 * (g - g.mean(0)) @ E[P + i * k: P + (i + 1) * k] for i, g in enumerate(noise)]
    for remove in (False, True):  # the removed center subspace lies in the centers' span, ⟂ all axes
        res = manifold_alignment(mans, n_t=40, remove_center_correlations=remove)
        for name in ("axis_alignment", "anchor_axis_alignment", "subspace_overlap"):
            assert getattr(res, name) == pytest.approx(0.0, abs=1e-12), name
        assert res.principal_angle == pytest.approx(90.0, abs=1e-6)
        # every axis ⟂ every center: no manifold varies along any center
        np.testing.assert_allclose(res.matrices["center_axis_alignment"], 0.0, atol=1e-12)
    # orthonormal centers: after the global mean is removed, cos(e_μ − ē, e_ν − ē) = −1/(P − 1)
    assert res.center_alignment == pytest.approx(1 / (P - 1), rel=1e-10)


def test_center_axis_is_share_of_variance_along_a_center():
    rng = np.random.default_rng(2)
    P, N = 6, 50
    C = _orthonormal(rng, N, P)
    C = C - C.mean(0)  # mean zero: the global mean removal leaves the centers unchanged
    gains = np.linspace(0.8, 1.2, 5)[:, None]
    mans = [gains * c for c in C]  # each manifold varies only along its own center
    res = manifold_alignment(mans, n_t=30, remove_center_correlations=False)
    assert res.self_center_axis_alignment == pytest.approx(1.0, abs=1e-10)
    # off the diagonal: ĉ_μᵀ C_ν ĉ_μ / tr C_ν = (ĉ_μ·ĉ_ν)² = 1/(P − 1)²
    assert res.center_axis_alignment == pytest.approx(1 / (P - 1) ** 2, rel=1e-10)
    # half the variance along the center, half along an orthogonal direction → 1/2
    u = _orthonormal(rng, N, P + 1)[-1]
    u = u - C.T @ np.linalg.lstsq(C.T, u, rcond=None)[0]
    u /= np.linalg.norm(u)
    half = [c + np.array([[1, 0], [-1, 0], [0, 1], [0, -1]]) @ np.stack([0.1 * c / np.linalg.norm(c), 0.1 * u])
            for c in C]
    res = manifold_alignment(half, n_t=30, remove_center_correlations=False)
    assert res.self_center_axis_alignment == pytest.approx(0.5, abs=1e-10)


def test_random_one_dimensional_manifolds_closed_form():
    # 1-D manifolds along u_μ: C_μ ∝ u_μu_μᵀ, so axis alignment = (u_μ·u_ν)² = cos² of the principal
    # angle; for independent uniform directions E cos² = 1/N
    rng = np.random.default_rng(3)
    P, N = 60, 200
    mans = []
    for _ in range(P):
        c, u = rng.standard_normal(N), rng.standard_normal(N)
        mans.append(c + np.outer([-1.0, 1.0], u / np.linalg.norm(u)))
    res = manifold_alignment(mans, n_t=20, remove_center_correlations=False)
    np.testing.assert_allclose(res.matrices["axis_alignment"], res.matrices["subspace_overlap"], atol=1e-12)
    assert res.axis_alignment == pytest.approx(1 / N, rel=0.15)


def test_covariance_overlap_matches_dense_formula():
    rng = np.random.default_rng(4)
    import torch

    Z = [torch.as_tensor(rng.standard_normal((r, 12))) for r in (1, 3, 5)]
    C = [z.T @ z for z in Z]
    ref = np.array([[float((a * b).sum() / (a.norm() * b.norm())) for b in C] for a in C])
    np.testing.assert_allclose(covariance_overlap(Z), ref, rtol=1e-12)


def _summary_equal(a, b, names=ALL, rtol=1e-7):
    for name in names:
        atol = 1e-5 if name == "principal_angle" else 1e-9  # degrees; arccos is ill-conditioned near 0°
        np.testing.assert_allclose(b.matrices[name], a.matrices[name], rtol=rtol, atol=atol, err_msg=name)


def test_invariant_to_rotations_inside_a_manifolds_subspace():
    # isotropic manifolds redrawn in another basis of their own subspace: the same covariances,
    # hence the same alignment (the principal-axis construction of the past changed here)
    rng = np.random.default_rng(5)
    N, P, k = 30, 6, 3
    E = _orthonormal(rng, N, P + 2 * k)
    bases = [E[P:P + k] if i % 2 else E[P + k:] for i in range(P)]
    centers = 2 * E[:P] + 0.5 * rng.standard_normal((P, N))
    mans = [_isotropic(centers[i], bases[i], np.eye(k), r=0.3 + 0.1 * i) for i in range(P)]
    rotated = [_isotropic(centers[i], bases[i], _haar(rng, k) if i < P // 2 else np.eye(k), r=0.3 + 0.1 * i)
               for i in range(P)]
    a = manifold_alignment(mans, n_t=30)
    b = manifold_alignment(rotated, n_t=30)
    _summary_equal(a, b, EXACT)


@pytest.mark.parametrize("seed", [0, 1])
def test_invariant_to_global_rotation_permutations_and_scaling(seed):
    rng = np.random.default_rng(10 + seed)
    N = 25
    mans = {f"m{i}": rng.standard_normal(N) + 0.4 * rng.standard_normal((8, N)) * rng.uniform(0.5, 2, N)
            for i in range(6)}
    Q = np.linalg.qr(rng.standard_normal((N, N)))[0]
    for n_axes in (None, 3):
        a = manifold_alignment(mans, n_t=40, n_axes=n_axes)
        rot = manifold_alignment({k: v @ Q for k, v in mans.items()}, n_t=40, n_axes=n_axes)
        scaled = manifold_alignment({k: 3.7 * v for k, v in mans.items()}, n_t=40, n_axes=n_axes)
        pts = manifold_alignment({k: v[rng.permutation(len(v))] for k, v in mans.items()}, n_t=40,
                                 n_axes=n_axes)
        _summary_equal(a, rot)
        _summary_equal(a, scaled)
        _summary_equal(a, pts)
        rev = manifold_alignment(dict(reversed(list(mans.items()))), n_t=40, n_axes=n_axes)
        perm = [rev.labels.index(lab) for lab in a.labels]
        for name in ALL:
            np.testing.assert_allclose(rev.matrices[name][np.ix_(perm, perm)], a.matrices[name],
                                       rtol=1e-7, atol=1e-5 if name == "principal_angle" else 1e-9, err_msg=name)
    # axis alignment does not depend on each manifold's overall spread
    spread = manifold_alignment({k: v.mean(0) + (i + 1) * (v - v.mean(0)) for i, (k, v) in enumerate(mans.items())},
                                n_t=40)
    full = manifold_alignment(mans, n_t=40)
    np.testing.assert_allclose(spread.matrices["axis_alignment"], full.matrices["axis_alignment"], rtol=1e-10)
    df = a.to_dataframe()
    assert len(df) == 6 * 5 and {"manifold_a", "manifold_b", "axis_alignment"} <= set(df.columns)


def test_figure_and_clear_errors():
    rng = np.random.default_rng(6)
    res = manifold_alignment([rng.standard_normal((6, 20)) + 3 * rng.standard_normal(20) for _ in range(4)], n_t=20)
    fig = res.plot()
    assert fig.axes[0].get_xlabel() == "manifold ν" and "axis alignment" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="single sample"):
        manifold_alignment([rng.standard_normal((1, 5)), rng.standard_normal((3, 5))])
    with pytest.raises(ValueError, match="variance"):
        manifold_alignment([rng.standard_normal((3, 5))] * 2, variance=0)
    from analysis.plot.manifolds import plot_alignment

    with pytest.raises(ValueError, match="unknown alignment"):
        plot_alignment(res, measures=["nope"])
