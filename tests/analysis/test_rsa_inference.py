"""Inference on RDM comparisons (analysis.rsa_inference): noise ceilings and bootstrap checked against
rsatoolbox 0.3.2, and the bootstrap of identical and noisy relations."""
import numpy as np
import pytest
import rsatoolbox as rt

from analysis.rsa import compare_rdms, rdm
from analysis.rsa_inference import bootstrap, noise_ceiling

pytestmark = [
    # rsatoolbox warns that its tau-a noise ceiling pools averaged ranks (a note, not a fault)
    pytest.mark.filterwarnings("ignore:Noise ceiling for tau based on averaged ranks:UserWarning"),
    # rsatoolbox 0.3.2 averages by descriptor with np.full_like(int array, nan) under numpy 2
    # (REFERENCES.md); numpy raises the warning from its own module, so filter by message
    pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning"),
]

# our comparison names -> rsatoolbox's (the same table as test_rsa.py)
OURS_TO_RT = {"spearman": "spearman", "tau_a": "tau-a", "cosine": "cosine", "pearson": "corr",
              "corr_cov": "corr_cov", "cosine_cov": "cosine_cov"}


@pytest.mark.parametrize("method", list(OURS_TO_RT))
def test_noise_ceiling_equals_rsatoolbox(method):
    rng = np.random.default_rng(9)
    n, p = 10, 30
    truth = rng.normal(size=(n, p))
    subjects = np.repeat(np.arange(4), 2)  # 4 subjects x 2 sessions
    datasets = [rt.data.Dataset(truth + 1.5 * rng.normal(size=(n, p))) for _ in subjects]
    rdms = rt.rdm.calc_rdm(datasets, method="correlation")
    rdms.rdm_descriptors["subject"] = subjects
    lo, up = rt.inference.boot_noise_ceiling(rdms, method=OURS_TO_RT[method], rdm_descriptor="subject")
    nc = noise_ceiling(rdms.get_matrices(), method, groups=subjects)
    assert nc.lower == pytest.approx(lo, abs=1e-10)
    assert nc.upper == pytest.approx(up, abs=1e-10)
    assert nc.lower <= nc.upper
    lo1, up1 = rt.inference.boot_noise_ceiling(rdms, method=OURS_TO_RT[method])
    nc1 = noise_ceiling(list(rdms.get_matrices()), method)  # every RDM its own group
    assert (nc1.lower, nc1.upper) == pytest.approx((lo1, up1), abs=1e-10)


@pytest.mark.parametrize("method", ["spearman", "tau_a", "cosine", "pearson"])
def test_bootstrap_samples_equal_rsatoolbox_subsampling(method):
    rng = np.random.default_rng(10)
    n = 12
    a = rdm(rng.normal(size=(n, 20)), "euclidean")
    b = rdm(rng.normal(size=(n, 20)), "euclidean")
    res = bootstrap(a, b, method, n_bootstrap=20, seed=1)
    ra, rb = rt.rdm.RDMs(a.values[None]), rt.rdm.RDMs(b.values[None])
    for k in range(5):
        idx = res.indices[k]
        ref = rt.rdm.compare(ra.subsample_pattern("index", idx), rb.subsample_pattern("index", idx),
                             OURS_TO_RT[method])[0, 0]
        assert res.samples[k] == pytest.approx(ref, abs=1e-10)
    assert res.estimate == pytest.approx(compare_rdms(a, b, method))
    assert res.ci[0] <= res.ci[1]


def test_bootstrap_identical_and_cka(random_orthogonal):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(15, 8))
    d = rdm(x, "correlation")
    res = bootstrap(d, d, "pearson", n_bootstrap=50)
    np.testing.assert_allclose(res.samples, 1.0, atol=1e-12)
    assert res.ci == pytest.approx((1.0, 1.0))
    rc = bootstrap(x, x @ random_orthogonal(rng, 8), "cka", n_bootstrap=30)
    np.testing.assert_allclose(rc.samples, 1.0, atol=1e-10)
    # bootstrap of a noisy relation: the interval brackets the full-sample estimate
    y = x[:, :2] + rng.normal(size=(15, 2))
    rn = bootstrap(x, y, "cka", n_bootstrap=200, seed=3)
    assert rn.ci[0] < rn.estimate < rn.ci[1] and rn.se > 0
