"""Tests run on every registered model (timm style): random input at a tiny size."""
import math

import pytest
import torch
from skimage.color import rgb2gray

from neuromodels import build_model, list_models
from neuromodels.receptive_fields import ReceptiveField

SIZE = 64


def _pooled(n, k=4, s=2):
    return (n - k) // s + 1


#: documented output shapes (docs/models.md) for a (2, 1, 64, 64) batch with defaults
EXPECTED_SHAPES = {
    "alexnet": (2, 1000),
    "resnet50": (2, 1000),
    "vonenet_resnet50": (2, 1000),
    "lcl_v2net": (2, 1000),
    "gabor_v1": (2, 512, SIZE // 4, SIZE // 4),  # 256 simple + 256 complex, stride 4
    "steerable_v1": (2, 5 * 4 * 4, SIZE, SIZE),  # (4 phases + modulus) x 4 scales x 4 orientations
    "texture_model": (2, 32, _pooled(SIZE // 2), _pooled(SIZE // 2)),  # V1 stride 2, then pool 4/2
    "lcl_v2": (2, 64, _pooled(_pooled(SIZE)), _pooled(_pooled(SIZE))),
}


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {name: build_model(name) for name in list_models()}


def test_every_model_has_a_documented_shape():
    assert sorted(EXPECTED_SHAPES) == list_models()


@pytest.mark.parametrize("name", list_models())
def test_forward_shape_and_finite(models, name):
    model = models[name].train()
    x = torch.rand(2, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    y = model(x)
    assert tuple(y.shape) == EXPECTED_SHAPES[name]
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", list_models())
def test_gradients_reach_every_trainable_parameter(models, name):
    model = models[name].train()
    model.zero_grad(set_to_none=True)
    x = torch.rand(2, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
    y = model(x)
    w = torch.randn(y.shape, generator=torch.Generator().manual_seed(3))
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not trainable:  # fixed V1 front ends
        assert name in ("steerable_v1", "gabor_v1")
        return
    (y * w).sum().backward()
    missing = [n for n, p in trainable if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    assert sum(float(p.grad.abs().sum()) for _, p in trainable) > 0
    if getattr(model, "frontend", None) is not None:  # frozen front ends get no gradient
        assert all(p.grad is None for p in model.frontend.parameters())


@pytest.mark.parametrize("name", list_models())
def test_eval_mode_is_deterministic(models, name):
    model = models[name].eval()
    x = torch.rand(1, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", list_models())
def test_layers_are_hookable_and_have_receptive_fields(models, name):
    model = models[name].eval()
    modules = dict(model.named_modules())
    assert model.layers and all(layer in modules for layer in model.layers)
    seen = {}
    handles = [modules[layer].register_forward_hook(lambda m, i, o, layer=layer: seen.setdefault(layer, o))
               for layer in model.layers]
    with torch.no_grad():
        model(torch.rand(1, 1, SIZE, SIZE))
    for h in handles:
        h.remove()
    assert set(seen) == set(model.layers)
    rfs = model.receptive_fields()
    assert list(rfs) == model.layers
    sizes = [rf.size for rf in rfs.values()]
    assert all(isinstance(rf, ReceptiveField) and rf.size >= 1 and rf.stride >= 1 for rf in rfs.values())
    assert sizes == sorted(sizes)  # fields grow with depth
    assert 0 < model.visual_degrees <= 9000 and model.in_channels in (1, 3)
    if hasattr(model, "stage_names"):
        assert all(s in model.layers for s in model.stage_names)
        assert not math.isinf(rfs[model.stage_names[-1]].size)


@pytest.mark.parametrize("name", list_models())
def test_bad_input_is_refused_clearly(models, name):
    model = models[name]
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(1, 1, SIZE, SIZE, dtype=torch.uint8))
    with pytest.raises(ValueError, match="4-D batch"):
        model(torch.zeros(1, SIZE, SIZE))
    with pytest.raises(ValueError, match="1 \\(grayscale\\) or 3 \\(RGB\\)"):
        model(torch.zeros(1, 2, SIZE, SIZE))


def test_rgb_is_converted_to_luminance_like_skimage(models):
    model = models["lcl_v2"].eval()
    rgb = torch.rand(2, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    gray = torch.from_numpy(rgb2gray(rgb.permute(0, 2, 3, 1).numpy()))[:, None]
    model = model.double()
    with torch.no_grad():
        assert torch.allclose(model(rgb), model(gray), atol=1e-10)
    model.float()


def test_rgb_models_repeat_a_gray_channel(models):
    model = models["alexnet"].eval()
    gray = torch.rand(1, 1, SIZE, SIZE)
    with torch.no_grad():
        assert torch.equal(model(gray), model(gray.expand(-1, 3, -1, -1)))


def test_gain_control_layer_closed_forms():
    from neuromodels.layers import LuminanceContrastNormalization, gaussian_blur

    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 40, 40, generator=g, dtype=torch.float64)
    norm = LuminanceContrastNormalization(sigma=3.0, epsilon=0.05)
    y = norm(x)
    assert torch.allclose(norm(x + 0.37), y, atol=1e-12)  # luminance offset: exactly invariant
    a = 0.3
    d = x - gaussian_blur(x, 3.0)
    s = gaussian_blur(d * d, 3.0).sqrt()
    # contrast gain a: y(a x) = y(x) (s + eps) / (s + eps / a), "up to the constant"
    assert torch.allclose(norm(a * x), y * (s + 0.05) / (s + 0.05 / a), atol=1e-12)
    assert torch.allclose(gaussian_blur(torch.full((1, 2, 9, 9), 0.4), 2.0), torch.full((1, 2, 9, 9), 0.4))
    with pytest.raises(ValueError, match="epsilon"):
        LuminanceContrastNormalization(epsilon=0)


def test_gain_control_removes_patch_brightness_and_contrast_from_the_stage_features():
    """Issue 14, cause 2: at init, patch mean and RMS contrast explained most of the stage features."""
    from neuromodels.data import PatchSampler, bundled_images

    x = PatchSampler(bundled_images(size=128), 32, 192, seed=0).batch(0)[:, 0]
    design = torch.stack([torch.ones(len(x)), x.mean((1, 2, 3)), x.std((1, 2, 3))], 1)

    def median_r2(normalize):
        torch.manual_seed(0)
        model = build_model("lcl_v2", channels=[16, 32], input_normalization=normalize).eval()
        with torch.no_grad():
            feats = [o.mean((2, 3)) for o in model.stage_outputs(x)]
        out = []
        for y in feats:
            res = y - design @ torch.linalg.lstsq(design, y).solution
            out.append(float((1 - res.var(0) / y.var(0)).median()))
        return out

    raw, normalized = median_r2(False), median_r2(True)
    assert min(raw) > 0.5, raw  # the problem: brightness and contrast dominate
    assert all(n < 0.3 and n < 0.5 * r for n, r in zip(normalized, raw)), (raw, normalized)
