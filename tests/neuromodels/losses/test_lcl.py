"""Tests of the default invariance + decorrelation loss (lightly style)."""
import pytest
import torch

from neuromodels.losses import LCLLoss, build_loss


def whitened(b, d, seed=0):
    """(B, D) features with zero mean, unit (biased) variance and zero correlations."""
    a = torch.randn(b, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q, _ = torch.linalg.qr(a - a.mean(0))
    return q * b**0.5


def test_zero_for_identical_whitened_views():
    z = whitened(16, 4)
    loss = LCLLoss()(torch.stack([z, z, z], dim=1))  # multi-view: all pairs agree
    assert float(loss) == pytest.approx(0.0, abs=1e-8)


def test_collapse_costs_one():
    z = torch.ones(8, 2, 5)
    assert float(LCLLoss()(z)) == pytest.approx(1.0, abs=1e-6)


def test_independent_views_have_invariance_near_one():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(4000, 2, 3, generator=g)
    # cross-view correlation of independent views ~ 0 -> (1 - C)^2 ~ 1; R ~ I
    assert float(LCLLoss(decorrelation_weight=0.0)(z)) == pytest.approx(1.0, abs=0.05)
    assert float(LCLLoss()(z)) == pytest.approx(1.0, abs=0.05)


def test_correlated_features_are_penalized():
    z = whitened(32, 2)
    z[:, 1] = z[:, 0]  # perfectly correlated features: R01 = 1
    loss = LCLLoss(decorrelation_weight=1.0)(torch.stack([z, z], 1))
    # invariance 0, decorrelation = (1^2 + 1^2) / (2 * 1)
    assert float(loss) == pytest.approx(1.0, abs=1e-4)


def test_symmetric_in_views():
    z = torch.randn(10, 2, 6)
    loss = LCLLoss()
    assert torch.allclose(loss(z), loss(z.flip(1)))
    assert torch.allclose(loss(z[:, 0], z[:, 1]), loss(z))


def test_errors_and_batch_size_one():
    loss = build_loss("lcl")
    with pytest.raises(ValueError, match="shape"):
        loss(torch.randn(4, 3), torch.randn(4, 2))
    with pytest.raises(ValueError, match="B images, V views"):
        loss(torch.randn(4, 6))
    with pytest.raises(ValueError, match="at least 2 images"):
        loss(torch.randn(1, 2, 4))


def test_gradients_flow():
    z = torch.randn(8, 2, 4, requires_grad=True)
    LCLLoss()(z).backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_half_precision_input_is_computed_in_float32():
    z = torch.randn(8, 2, 4)
    assert torch.allclose(LCLLoss()(z.half()), LCLLoss()(z.half().float()))
    assert LCLLoss()(z.bfloat16()).dtype == torch.float32


# -- local features and the sample-contrastive variant -----------------------------

VARIANTS = ["decorrelation", "contrastive"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_invariance_term_is_zero_for_identical_local_views(variant):
    z = torch.randn(6, 1, 9, 5).expand(-1, 2, -1, -1)  # two identical views, 9 positions
    terms = LCLLoss(variant=variant).terms(z)
    assert float(terms["invariance"]) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_local_views_symmetric_and_position_paired(variant):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 2, 9, 4, generator=g)
    loss = LCLLoss(variant=variant)
    assert torch.allclose(loss(z), loss(z.flip(1)), atol=1e-6)
    # the same permutation of positions in every view changes nothing (positions are paired, not ordered)
    perm = torch.randperm(9, generator=g)
    assert torch.allclose(loss(z), loss(z[:, :, perm]), atol=1e-5)
    # shuffling positions in one view only breaks the pairing: invariance gets worse
    zs = z.clone()
    zs[:, 0] = 0.9 * zs[:, 1] + 0.1 * zs[:, 0]  # views agree position by position
    broken = zs.clone()
    broken[:, 1] = broken[:, 1, perm]
    assert float(loss.terms(broken)["invariance"]) > float(loss.terms(zs)["invariance"]) + 0.1


def test_decorrelation_on_local_features_equals_positions_as_samples():
    z = torch.randn(4, 2, 6, 3)
    as_samples = z.transpose(1, 2).reshape(24, 2, 3)
    assert torch.allclose(LCLLoss()(z), LCLLoss()(as_samples), atol=1e-6)


def test_contrastive_matches_an_explicit_infonce_over_other_images():
    """Independent implementation: per-anchor loop over positives and other images' samples."""
    g = torch.Generator().manual_seed(3)
    b, v, p, d, tau = 3, 2, 2, 4, 0.5
    z = torch.randn(b, v, p, d, generator=g, dtype=torch.float64)
    u = torch.nn.functional.normalize(z, dim=-1)
    total, count = 0.0, 0
    for i in range(b):
        for j in range(p):
            for a in range(v):
                anchor = u[i, a, j]
                pos = [u[i, w, j] for w in range(v) if w != a]
                neg = [u[k, w, q] for k in range(b) if k != i for w in range(v) for q in range(p)]
                denom = torch.logsumexp(torch.stack([anchor @ c / tau for c in pos + neg]), 0)
                total += float(sum(denom - anchor @ c / tau for c in pos) / len(pos))
                count += 1
    loss = LCLLoss(variant="contrastive", temperature=tau, max_positions=None)(z)
    assert float(loss) == pytest.approx(total / count, rel=1e-9)


def test_contrastive_keeps_at_most_max_positions():
    z = torch.randn(3, 2, 100, 4)
    loss = LCLLoss(variant="contrastive", max_positions=10)
    keep = torch.linspace(0, 99, 10).round().long()
    assert torch.allclose(loss(z), LCLLoss(variant="contrastive", max_positions=None)(z[:, :, keep]))


@pytest.mark.parametrize("variant", VARIANTS)
def test_local_batch_of_one_image_is_an_error_and_gradients_flow(variant):
    loss = LCLLoss(variant=variant)
    with pytest.raises(ValueError, match="at least 2 images"):
        loss(torch.randn(1, 2, 16, 4))  # 16 positions of ONE image are not a batch
    z = torch.randn(4, 2, 9, 5, requires_grad=True)
    loss(z).backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_bad_options():
    with pytest.raises(ValueError, match="variant"):
        LCLLoss(variant="barlow")
    with pytest.raises(ValueError, match="temperature"):
        LCLLoss(temperature=0)
    with pytest.raises(ValueError, match="max_positions"):
        LCLLoss(max_positions=0)


def test_local_form_sees_a_local_deformation_that_the_global_mean_barely_sees():
    """Stage-1 features of an untrained LCL-V2: invariance term, local vs global embedding."""
    from neuromodels import build_model
    from neuromodels.augment import LocalDeformation
    from neuromodels.data import PatchSampler, bundled_images

    torch.manual_seed(0)
    local = build_model("lcl_v2", channels=[8, 16])
    glob = build_model("lcl_v2", channels=[8, 16], embedding="global")
    glob.load_state_dict(local.state_dict())
    x = PatchSampler(bundled_images(size=96), 32, 48, seed=0).batch(0)[:, 0]
    deform = LocalDeformation(amplitude=2.0, cell_size=5.0)
    views = torch.stack([deform(x, torch.Generator().manual_seed(1)), deform(x, torch.Generator().manual_seed(2))], 1)
    loss = LCLLoss()
    with torch.no_grad():
        def invariance(model, v):
            h = model.stage_outputs(v.flatten(0, 1), upto=1)[0]
            z = model.embedding(h, 0)
            return float(loss.terms(z.reshape(v.shape[0], 2, *z.shape[1:]))["invariance"])

        same = torch.stack([x, x], 1)
        assert invariance(local, same) == pytest.approx(0.0, abs=1e-6)  # zero deformation: invariant
        assert invariance(glob, same) == pytest.approx(0.0, abs=1e-4)  # eps of the standardization only
        seen_local, seen_global = invariance(local, views), invariance(glob, views)
    assert seen_local > 5 * seen_global, (seen_local, seen_global)
