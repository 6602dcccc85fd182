"""Simulated capacity (analysis.capacity_simulation): Cover's count for points, exact LP separability.

The mean-field capacity against this simulation: test_capacity.py.
"""
import numpy as np
import pytest

from analysis.capacity_simulation import linearly_separable, simulated_capacity


def test_simulated_capacity_of_points_near_two():
    rng = np.random.default_rng(7)
    pts = [rng.standard_normal((1, 200)) for _ in range(60)]
    sim = simulated_capacity(pts, n_rep=30, seed=0)
    # Cover: P points with bias are separable with probability ½ at n + 1 ≈ P/2
    assert sim.capacity_bias_corrected == pytest.approx(2.0, rel=0.1)
    assert sim.capacity == pytest.approx(60 / 29, rel=0.1)
    assert set(sim.to_dataframe().columns) >= {"n", "fraction", "n_c", "capacity"}


def test_linear_separability_exact():
    xor = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert not linearly_separable(xor, np.array([1, 1, -1, -1]))
    rng = np.random.default_rng(8)
    X = rng.standard_normal((200, 5))
    w = rng.standard_normal(5)
    assert linearly_separable(X, np.sign(X @ w + 0.3))
