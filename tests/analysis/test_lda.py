"""Tests of analysis._lda (the shrinkage LDA behind texture-family decoding) against scikit-learn."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis._lda import ShrinkageLDA, lda_scores


# --------------------------------------------------------------------------------------
# the decoder
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [5, 90])  # d < n (primal solve) and d > n (Woodbury, dual)
def test_lda_matches_sklearn_shrunk_covariance_lda(d):
    from sklearn.covariance import ShrunkCovariance
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    rng = np.random.default_rng(d)
    y = np.repeat(np.arange(3), 20)
    x = rng.normal(size=(60, d)) + 0.7 * np.eye(3)[y] @ rng.normal(size=(3, d))
    xt = rng.normal(size=(25, d))
    ours = lda_scores(torch.tensor(x)[None], torch.tensor(y), torch.tensor(xt)[None], 3,
                       shrinkage=0.3, ridge=0.0)[0].numpy()
    ref = LinearDiscriminantAnalysis(
        solver="lsqr", covariance_estimator=ShrunkCovariance(shrinkage=0.3)).fit(x, y)
    np.testing.assert_allclose(ours, ref.decision_function(xt), rtol=1e-9, atol=1e-9)
    est = ShrinkageLDA(shrinkage=0.3, ridge=0.0, standardize=False).fit(x, y)
    np.testing.assert_allclose(est.decision_function(xt), ref.decision_function(xt), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(est.predict(xt), ref.predict(xt))


def test_shrinkage_lda_estimator_standardizes_and_checks_input():
    from sklearn.covariance import ShrunkCovariance
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    rng = np.random.default_rng(3)
    y = np.repeat(["a", "b", "c"], 15)
    x = rng.normal(size=(45, 4)) * [1, 10, 100, 0.1] + np.eye(3)[np.repeat(np.arange(3), 15)] @ rng.normal(size=(3, 4))
    z = (x - x.mean(0)) / x.std(0)
    ref = LinearDiscriminantAnalysis(solver="lsqr", covariance_estimator=ShrunkCovariance(shrinkage=0.2)).fit(z, y)
    est = ShrinkageLDA(shrinkage=0.2, ridge=0.0).fit(x, y)
    assert est.classes_.tolist() == ["a", "b", "c"] and est.coef_.shape == (3, 4)
    np.testing.assert_allclose(est.decision_function(x), ref.decision_function(z), rtol=1e-8, atol=1e-8)
    assert est.score(x, y) == pytest.approx(ref.score(z, y))
    with pytest.raises(RuntimeError, match="not fitted"):
        ShrinkageLDA().predict(x)
    with pytest.raises(ValueError, match="shrinkage must lie"):
        ShrinkageLDA(shrinkage=2).fit(x, y)
    with pytest.raises(ValueError, match=r"\(n_samples, 4\)"):
        est.predict(x[:, :2])
