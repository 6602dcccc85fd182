"""Tests of analysis.flows against closed forms of the linear theory of normalizing
flows (Feinman & Parthasarathy 2019), reference libraries (scipy, sklearn PCA,
torch.autograd) and planted ground truth."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.decomposition import PCA

from analysis import flows
from analysis.flows import (FlowDivergenceError, FlowDivergenceWarning, fit_flow, jacobians,
                            local_components, orient_components)

F64 = torch.float64

# a fixed, well-conditioned, non-diagonal covariance with distinct eigenvalues
_A = torch.tensor([[1.0, 0.3, 0.0], [0.2, 0.6, 0.1], [0.0, 0.4, 0.3]], dtype=F64)
SIGMA = _A @ _A.T
MEAN = torch.tensor([1.0, -2.0, 0.5], dtype=F64)


def _gaussian(n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=F64) @ _A.T + MEAN


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(a - b) / torch.linalg.matrix_norm(b))


@pytest.fixture(scope="module")
def gaussian_x():
    return _gaussian(20000)


# ---------------------------------------------------------------- linear theory
@pytest.mark.parametrize("alpha", [0.0, 0.05, 0.2])
def test_linear_flow_optimum_is_shrunk_inverse_covariance(gaussian_x, alpha):
    """J^T J = (Sigma + 2 alpha I)^{-1} at the (penalized) maximum-likelihood optimum."""
    flow = fit_flow(gaussian_x, "linear", alpha, progress=False)
    assert flow.converged and not flow.diverged
    J = jacobians(flow, gaussian_x[:4])
    target = torch.linalg.inv(SIGMA + 2 * alpha * torch.eye(3, dtype=F64))
    for Ji in J:  # an affine flow has the same Jacobian everywhere
        assert _rel(Ji.T @ Ji, target) < 0.05


def test_linear_flow_optimum_matches_sample_covariance_exactly(gaussian_x):
    """Trained on all points, the optimum is the sample (MLE) covariance itself."""
    x = gaussian_x[:5000]
    flow = fit_flow(x, "linear", validation_fraction=0.0, progress=False)
    J = jacobians(flow, x[:1])[0]
    sample_cov = torch.cov(x.T, correction=0)
    assert _rel(torch.linalg.inv(J.T @ J), sample_cov) < 1e-4
    # and its density is the fitted Gaussian (scipy reference)
    ref = stats.multivariate_normal(x.mean(0).numpy(), sample_cov.numpy()).logpdf(x[:50].numpy())
    np.testing.assert_allclose(flow.log_prob(x[:50]).detach().numpy(), ref, atol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_components_are_covariance_eigenvectors(gaussian_x, alpha):
    flow = fit_flow(gaussian_x, "linear", alpha, progress=False)
    comps = local_components(flow, gaussian_x[:30])
    evals, evecs = torch.linalg.eigh(SIGMA + 2 * alpha * torch.eye(3, dtype=F64))
    evals, evecs = evals.flip(0), evecs.flip(1)  # descending
    cos = (comps.unit_directions[0] @ evecs).abs()
    assert torch.all(cos.diagonal() > 0.99)
    np.testing.assert_allclose(comps.scales[0].numpy(), evals.sqrt().numpy(), rtol=0.02)
    # affine flow: the un-whitened coordinates are projections V^T x up to a constant
    dx = gaussian_x[:30] - gaussian_x[0]
    np.testing.assert_allclose((comps.coordinates - comps.coordinates[0]).numpy(),
                               (dx @ comps.unit_directions[0].T).numpy(), atol=1e-9)
    # identical Jacobians everywhere -> orientation makes all points agree
    assert torch.allclose(comps.directions, comps.directions[:1].expand_as(comps.directions))


def test_components_reconstruct_local_covariance():
    """sum_k d_k d_k^T = (J^T J)^{-1} and ordering by local s.d. (any flow)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh(), torch.nn.Linear(4, 4)).double()
    x = torch.randn(20, 4, dtype=F64)
    comps = local_components(net, x)
    local_cov = torch.einsum("nkd,nke->nde", comps.directions, comps.directions)
    JtJ = comps.jacobians.transpose(1, 2) @ comps.jacobians
    np.testing.assert_allclose(local_cov.numpy(), torch.linalg.inv(JtJ).numpy(), rtol=1e-8,
                               atol=1e-10)
    assert torch.all(comps.scales[:, :-1] >= comps.scales[:, 1:])
    np.testing.assert_allclose(comps.unit_directions.norm(dim=-1).numpy(), 1.0, atol=1e-12)


def test_digits_linear_flow_components_equal_pca():
    """Linear flow on the sklearn digits = PCA (sklearn reference): eigen-pairs agree."""
    data = flows.digits(seed=0)
    x = torch.as_tensor(data.x[:, :32])  # 32 pixels keep it fast; all 64 agree equally
    flow = fit_flow(x, "linear", validation_fraction=0.0, patience=3, progress=False)
    comps = local_components(flow, x[:2], orient=False)
    pca = PCA().fit(x.numpy())
    var = pca.explained_variance_ * (len(x) - 1) / len(x)  # PCA uses the unbiased estimate
    np.testing.assert_allclose(comps.scales[0, :10].numpy() ** 2, var[:10], rtol=1e-3)
    cos = np.abs((comps.unit_directions[0, :5].numpy() * pca.components_[:5]).sum(1))
    assert np.all(cos > 0.999)


# ------------------------------------------------------------- degenerate data
def test_plane_without_penalty_diverges_and_is_reported():
    x = torch.as_tensor(flows.gaussian_plane(2000, seed=0).x)
    # a tiny collapse_tol lets us watch log|det J| grow over several epochs first
    with pytest.warns(FlowDivergenceWarning, match="jacobian_penalty"):
        flow = fit_flow(x, "linear", collapse_tol=1e-12, progress=False)
    logdet = np.array(flow.history["heldout_log_det"])
    assert flow.diverged and not flow.converged
    assert len(logdet) >= 3 and np.all(np.diff(logdet) > 0)
    # a non-degenerate Gaussian with the same in-plane spread has log|det J| ~ 0.7;
    # the diverging fit goes far past any finite optimum
    assert logdet[-1] > 20
    with pytest.raises(FlowDivergenceError, match="lower intrinsic dimension"):
        fit_flow(x, "linear", on_divergence="raise", progress=False)


@pytest.mark.parametrize("alpha", [1e-3, 1e-2])
def test_plane_with_penalty_is_stable_and_null_scale_is_sqrt_2alpha(alpha):
    data = flows.gaussian_plane(2000, scales=(1.0, 0.5), seed=0)
    x = torch.as_tensor(data.x)
    flow = fit_flow(x, "linear", alpha, progress=False)  # no warning: filterwarnings=error
    assert flow.converged and not flow.diverged
    assert np.all(np.isfinite(flow.history["heldout_log_det"]))
    comps = local_components(flow, x[:10])
    assert abs(float(comps.scales[0, -1]) / math.sqrt(2 * alpha) - 1) < 0.10
    normal = torch.as_tensor(data.tangents[0])
    assert abs(float(comps.unit_directions[0, -1] @ normal)) > 0.99
    # in-plane scales are shrunk as sqrt(sigma^2 + 2 alpha), sigma from the sample
    in_plane = torch.linalg.eigvalsh(torch.cov(x.T, correction=0))[1:].flip(0)
    np.testing.assert_allclose(comps.scales[0, :2].numpy() ** 2,
                               (in_plane + 2 * alpha).numpy(), rtol=0.05)


# ---------------------------------------------------------------------- S-curve
@pytest.mark.slow
def test_s_curve_top_component_is_tangent():
    train = flows.s_curve(3000, seed=0)
    test = flows.s_curve(500, seed=100)  # held-out points, never seen in training
    flow = fit_flow(torch.as_tensor(train.x, dtype=torch.float32), "maf", transforms=3,
                    lr=3e-3, max_epochs=60, patience=10, progress=False)
    comps = local_components(flow, torch.as_tensor(test.x, dtype=torch.float32))
    cos = (comps.unit_directions[:, 0].double() * torch.as_tensor(test.tangents)).sum(1).abs()
    assert float(cos.mean()) > 0.9
    # the smallest component is the noise direction: local s.d. near the noise 0.05
    assert 0.02 < float(comps.scales[:, -1].median()) < 0.15


# ------------------------------------------------------------------- Jacobians
def _perturbed(kind: str) -> flows.FittedFlow:
    """An untrained flow with randomized parameters (so J is far from trivial)."""
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    kw = {"nonlinearity": "tanh"} if kind == "linear" else {"transforms": 2,
                                                            "hidden_features": (16,)}
    flow = fit_flow(x, kind, max_epochs=1, progress=False, **kw)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in flow.core.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return flow


@pytest.mark.parametrize("kind", ["realnvp", "maf", "nsf", "linear"])
@pytest.mark.parametrize("mode", ["rev", "fwd", "auto", "structured"])
def test_batched_jacobians_equal_per_point_autograd(kind, mode):
    if mode == "structured" and kind in ("maf", "nsf"):
        pytest.skip("no known structure: 'auto' takes forward mode for it")
    flow = _perturbed(kind)
    x = torch.randn(23, 4, generator=torch.Generator().manual_seed(2), dtype=F64)
    J = jacobians(flow, x, chunk_size=7, mode=mode)  # chunk boundaries inside the batch
    ref = torch.stack([torch.autograd.functional.jacobian(lambda xi: flow(xi[None])[0], xi)
                       for xi in x])
    assert J.shape == (23, 4, 4)
    assert float((J - ref).abs().max()) < 1e-6
    # independent check of the flow's log-determinant
    np.testing.assert_allclose(torch.linalg.slogdet(J)[1].numpy(),
                               flow.log_abs_det_jacobian(x).detach().numpy(), atol=1e-8)


def test_jacobian_penalty_estimators_match_exact_frobenius_norm():
    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(3), dtype=F64)
    exact = float((jacobians(_perturbed("maf"), x) ** 2).sum((1, 2)).mean())
    flow = _perturbed("maf")
    g = torch.Generator().manual_seed(4)
    full = float(flows.frobenius_sq(flow, x, "exact", 1, 10_000, g).detach())
    assert abs(full - exact) < 1e-10 * exact
    # Hutchinson: unbiased, standard error ~ sqrt(2/(n*probes)) relative for Gaussian probes
    hutch = float(flows.frobenius_sq(flow, x, "hutchinson", 50, 0, g).detach())
    assert abs(hutch / exact - 1) < 0.05
    lin = _perturbed("linear")
    closed = float(flows.frobenius_sq(lin, x, "hutchinson", 1, 0, g).detach())
    assert abs(closed - float((jacobians(lin, x) ** 2).sum((1, 2)).mean())) < 1e-10 * closed


def test_zuko_flow_log_prob_matches_zuko():
    flow = _perturbed("realnvp")
    x = torch.randn(10, 4, generator=torch.Generator().manual_seed(5), dtype=F64)
    u = (x - flow.shift) / flow.scale
    ref = flow.core.flow().log_prob(u) - 4 * torch.log(flow.scale)
    np.testing.assert_allclose(flow.log_prob(x).detach().numpy(), ref.detach().numpy(),
                               atol=1e-10)


def test_penalized_nonlinear_flow_trains_with_hutchinson_penalty():
    """A MAF with the penalty shrinks Gaussian data like the linear theory predicts."""
    x = _gaussian(1500, seed=7).float()
    alpha = 0.1
    flow = fit_flow(x, "maf", alpha, transforms=1, hidden_features=(8,), lr=1e-2,
                    max_epochs=30, patience=5, progress=False)
    J = jacobians(flow, x[:200])
    target = torch.linalg.inv(SIGMA + 2 * alpha * torch.eye(3, dtype=F64)).float()
    mean_JtJ = (J.transpose(1, 2) @ J).mean(0)
    # tolerance covers the sampling error of a 1350-point covariance (~4%) and the
    # noise of the one-probe Hutchinson estimate during training
    assert _rel(mean_JtJ, target) < 0.1


# ------------------------------------------------------------------ orientation
def test_orientation_recovers_planted_smooth_field():
    """A smooth direction field with random sign flips is recovered up to one global sign."""
    rng = np.random.default_rng(0)
    a = np.sort(rng.uniform(0, 1.5 * np.pi, 400))
    pts = np.stack([np.cos(a), np.sin(a)], 1)
    truth = np.stack([np.stack([-np.sin(a), np.cos(a)], 1),
                      np.stack([np.cos(a), np.sin(a)], 1)], 1)  # (n, 2, 2): tangent, normal
    flips = rng.choice([-1.0, 1.0], size=(400, 2))
    signs = orient_components(pts, truth * flips[:, :, None], n_neighbors=6)
    recovered = signs * flips  # +1 where the oriented vector equals the truth
    for k in range(2):
        assert np.all(recovered[:, k] == recovered[0, k])


@pytest.mark.parametrize("connect", [True, False])
def test_orientation_handles_disconnected_parts(connect):
    """Two far-apart clusters: joined through their closest points (orientation
    propagates), or each oriented by the root convention (largest-magnitude entry > 0)."""
    pts = np.concatenate([np.zeros((5, 2)) + np.arange(5)[:, None] * 0.01,
                          np.full((5, 2), 100.0) + np.arange(5)[:, None] * 0.01])
    w = np.array([0.95, 0.31]) / np.hypot(0.95, 0.31)
    field = np.array([[0.6, -0.8]] * 5 + [w] * 5)[:, None, :]
    flips = np.array([1, -1, 1, -1, 1, -1, 1, -1, -1, 1.0])[:, None, None]
    signs = orient_components(pts, field * flips, n_neighbors=2, connect=connect)
    oriented = (signs[:, :, None] * field * flips)[:, 0]
    np.testing.assert_allclose(oriented[:5], np.tile([-0.6, 0.8], (5, 1)))  # convention
    # joined: w must agree with (-0.6, 0.8), so it becomes -w; separate: its own convention
    np.testing.assert_allclose(oriented[5:], np.tile(-w if connect else w, (5, 1)))


def test_local_components_on_curve_are_sign_consistent():
    """Neighbouring points' top directions agree after orientation (s-curve, MAF)."""
    data = flows.s_curve(600, seed=3)
    x = torch.as_tensor(data.x)
    flow = _perturbed_3d()
    comps = local_components(flow, x, n_neighbors=8)
    from sklearn.neighbors import NearestNeighbors

    nb = NearestNeighbors(n_neighbors=2).fit(data.x).kneighbors(return_distance=False)[:, 0]
    u = comps.unit_directions[:, 0]
    agree = (u * u[torch.as_tensor(nb)]).sum(1)
    unoriented = local_components(flow, x, orient=False).unit_directions[:, 0]
    # the orientation only flips signs
    np.testing.assert_allclose(u.abs().numpy(), unoriented.abs().numpy(), atol=1e-12)
    assert float((agree > 0).double().mean()) > 0.97


def _perturbed_3d():
    x = torch.as_tensor(flows.s_curve(300, seed=9).x)
    return fit_flow(x, "realnvp", transforms=2, hidden_features=(16,), max_epochs=3,
                    progress=False)


# ----------------------------------------------------------- data, dtype, errors
def test_s_curve_follows_its_generative_formula():
    d = flows.s_curve(5000, noise=0.05, seed=0)
    t = 3 * np.pi * d.latents[:, 0]
    clean = np.stack([np.sin(t), 2 * d.latents[:, 1], np.sign(t) * (np.cos(t) - 1)], 1)
    assert abs((d.x - clean).std() - 0.05) < 0.003
    assert abs(d.latents[:, 0].std() - 0.15) < 0.01
    np.testing.assert_allclose(np.linalg.norm(d.tangents, axis=1), 1.0)
    # the tangent is the derivative of the noise-free curve in t (finite difference)
    h = 1e-6
    fd = np.stack([np.sin(t + h) - np.sin(t), np.zeros_like(t),
                   np.sign(t) * (np.cos(t + h) - np.cos(t))], 1) / h
    np.testing.assert_allclose(d.tangents, fd, atol=1e-5)
    assert d.attrs["simulated"] == 1
    np.testing.assert_array_equal(flows.s_curve(10, seed=4).x, flows.s_curve(10, seed=4).x)


def test_swiss_roll_circle_mixture_ground_truth():
    sr = flows.swiss_roll(200, noise=0.0, seed=0)
    t, h = sr.latents.T
    fd = (np.stack([(t + 1e-6) * np.cos(t + 1e-6), 2 * h, (t + 1e-6) * np.sin(t + 1e-6)], 1) / 10
          - sr.x)
    fd[:, 1] = 0
    fd /= np.linalg.norm(fd, axis=1, keepdims=True)
    np.testing.assert_allclose(sr.tangents, fd, atol=1e-5)
    c = flows.noisy_circle(20000, radius=2.0, noise=0.1, seed=0)
    r = np.linalg.norm(c.x, axis=1)
    assert abs(r.mean() - 2.0) < 0.01 and abs(r.std() - 0.1) < 0.01
    cov = np.array([[0.5, 0.2], [0.2, 0.3]])
    gm = flows.gaussian_mixture(30000, means=[[0, 0], [5, 5]], covariances=cov, seed=0)
    for k in range(2):
        np.testing.assert_allclose(np.cov(gm.x[gm.labels == k].T), cov, atol=0.02)
    assert all(d.attrs["simulated"] == 1 for d in (sr, c, gm))


def test_image_points_maps_8bit_images_to_dequantized_points():
    """Planted pixels: v/255 without dequantization, v <= 256 x < v + 1 with it."""
    imgs = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    labels = np.array([7, 2, 1], dtype=np.uint8)
    d = flows.image_points(imgs, labels, dequantize=False, source="mnist:test")
    np.testing.assert_allclose(d.x, imgs.reshape(3, -1) / 255.0)
    np.testing.assert_array_equal(d.labels, labels)
    assert d.attrs["image_shape"] == (28, 28) and d.attrs["simulated"] == 0
    assert d.attrs["source"] == "mnist:test"
    dq = flows.image_points(imgs, labels, n=2, seed=1)
    diff = dq.x * 256 - imgs[:2].reshape(2, -1)
    assert dq.x.shape == (2, 784) and np.all((diff >= 0) & (diff < 1))
    with pytest.raises(ValueError, match="labels"):
        flows.image_points(imgs, labels[:2])
    with pytest.raises(ValueError, match="shape"):
        flows.image_points(imgs[0])


def test_dtype_follows_input_and_flow_checks_device_dtype():
    x = _gaussian(500).float()
    flow = fit_flow(x, "linear", progress=False)
    assert flow.shift.dtype == torch.float32 and flow.log_prob(x).dtype == torch.float32
    assert jacobians(flow, x[:3]).dtype == torch.float32
    with pytest.raises(ValueError, match="flow.to"):
        flow.log_prob(x.double())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_input_gives_cuda_flow():
    x = _gaussian(2000).cuda()
    flow = fit_flow(x, "linear", 0.05, progress=False)
    comps = local_components(flow, x[:20])
    assert comps.scales.device == x.device
    evals = torch.linalg.eigvalsh(SIGMA + 0.1 * torch.eye(3, dtype=F64)).flip(0)
    np.testing.assert_allclose(comps.scales[0].cpu().numpy(), evals.sqrt().numpy(), rtol=0.05)


@pytest.mark.parametrize("bad, match", [
    (np.ones(5), "shape"),
    (np.ones((5, 2), dtype=int), "floating point"),
    (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 1.0]]), "NaN"),
    ([[1.0, 2.0]], "torch.Tensor or numpy"),
])
def test_bad_points_are_rejected(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fit_flow(bad, "linear", progress=False)


@pytest.mark.parametrize("randmask", [False, True])
def test_structured_coupling_jacobians_equal_autograd(randmask):
    """The block-triangular composition (analytic conditioner Jacobians) equals autograd for RealNVP with
    alternating masks (contiguous blocks) and with random masks (gathered blocks), odd d, two hidden layers."""
    from analysis.flows.jacobian import structured_jacobians
    from analysis.flows.models import build_core

    torch.manual_seed(3)
    core = build_core("realnvp", 5, transforms=3, hidden_features=(8, 6), randmask=randmask).double()
    with torch.no_grad():
        for p in core.parameters():
            p.add_(0.5 * torch.randn_like(p))
    x = torch.randn(17, 5, dtype=F64)
    fast = structured_jacobians(core)
    assert fast is not None
    with torch.no_grad():
        ref = torch.func.vmap(torch.func.jacrev(lambda v: core(v[None])[0]))(x)
        assert float((fast(x) - ref).abs().max()) < 1e-10 * max(1.0, float(ref.abs().max()))


def test_structured_mode_is_refused_for_flows_without_known_structure():
    with pytest.raises(ValueError, match="no known structure"):
        jacobians(_perturbed("maf"), torch.zeros(2, 4, dtype=F64), mode="structured")


def test_bad_options_are_rejected():
    x = _gaussian(50)
    with pytest.raises(ValueError, match="flow must be one of"):
        fit_flow(x, "glow")
    with pytest.raises(ValueError, match="jacobian_penalty"):
        fit_flow(x, "linear", -1.0)
    with pytest.raises(ValueError, match="optimizer"):
        fit_flow(x, "linear", optimizer="sgd")
    with pytest.raises(ValueError, match="features"):
        fit_flow(x, "linear", max_epochs=1, progress=False).log_prob(x[:, :2])


def test_early_stopping_keeps_best_parameters():
    x = _gaussian(400, seed=11)
    flow = fit_flow(x, "maf", transforms=1, hidden_features=(8,), lr=3e-2, max_epochs=200,
                    patience=3, validation_fraction=0.0, progress=False)
    hist = flow.history_frame()
    assert flow.converged and len(hist) < 200
    best = hist["heldout_objective"].idxmax()
    assert hist["epoch"][best] == flow.best_epoch
    # with validation_fraction=0 the monitored set is the training set itself
    np.testing.assert_allclose(float(flow.log_prob(x).mean().detach()),
                               hist["heldout_log_likelihood"][best], rtol=1e-10)


# ---------------------------------------------------------------------- figures
def test_figures_return_labelled_figures_and_leave_global_style_alone():
    import matplotlib.figure

    from analysis import plot

    before = dict(matplotlib.rcParams)

    data = flows.noisy_circle(300, seed=0)
    x = torch.as_tensor(data.x)
    flow = fit_flow(x, "linear", progress=False)
    comps = local_components(flow, x)
    ax = plot.plot_local_components(comps, n_arrows=20, units="cm")
    assert "cm" in ax.get_xlabel()
    fig = plot.plot_component_coordinates(comps, which=(0,))
    assert isinstance(fig, matplotlib.figure.Figure) and fig.axes[0].get_ylabel()
    fig = plot.plot_training_history(flow)
    assert "nats" in fig.axes[0].get_ylabel()
    dg = torch.as_tensor(flows.digits().x[:50, :16])
    comps = local_components(fit_flow(dg, "linear", progress=False, max_epochs=2), dg[:2])
    fig = plot.plot_component_images(comps, (4, 4), points=(0, 1), n_components=3)
    assert len(fig.axes) == 8
    with pytest.raises(ValueError, match="pixels"):
        plot.plot_component_images(comps, (3, 3))
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    assert plot.plot_training_history(flow, ax=axes) is fig  # draws on the given axes
    with pytest.raises(ValueError, match="2 panel"):
        plot.plot_training_history(flow, ax=axes[:1])
    plt.close("all")
    assert dict(matplotlib.rcParams) == before
    df = comps.to_dataframe()
    assert list(df.columns) == ["point", "component", "scale", "coordinate"] and len(df) == 32
