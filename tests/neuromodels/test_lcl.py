"""Tests of LCL-V2 (stages, embedding, configuration) and LCL-V2Net."""
import pytest
import torch

from neuromodels import build_model
from neuromodels.layers import DivisiveNormalization, L2Pool2d, LuminanceContrastNormalization
from neuromodels.lcl import LCLV2


def test_stage_outputs_and_upto():
    model = LCLV2(channels=(4, 6), kernel_sizes=(5, 3), pool_sizes=(2, 2), pool_strides=(2, 2))
    x = torch.rand(3, 1, 32, 32)
    outs = model.stage_outputs(x)
    assert [tuple(o.shape) for o in outs] == [(3, 4, 16, 16), (3, 6, 8, 8)]
    first = model.stage_outputs(x, upto=1)
    assert len(first) == 1 and torch.equal(first[0], outs[0])
    assert torch.equal(model.stage_outputs(x, upto="stages.1")[1], outs[1])
    assert torch.equal(model(x), outs[1])
    assert model.stage_names == ["stages.0", "stages.1"] == model.layers
    assert model.frontend is None
    with pytest.raises(ValueError, match="upto"):
        model.stage_outputs(x, upto=3)


def test_global_embedding_is_the_average_over_a_grid():
    model = LCLV2(channels=(4, 6), kernel_sizes=(5, 3), pool_sizes=2, pool_strides=2, embedding="global",
                  embedding_grid=2)
    f = torch.rand(2, 6, 8, 8)
    z = model.embedding(f, "stages.1")
    manual = f.reshape(2, 6, 2, 4, 2, 4).mean((3, 5)).flatten(1)  # 2x2 blocks of 4x4 pixels
    assert torch.allclose(z, manual)
    assert model.embedding(f, 1).shape == (2, 24)
    with pytest.raises(ValueError, match="stage"):
        model.embedding(f, "stages.7")


def test_local_embedding_is_every_position_or_receptive_field_cells():
    f = torch.rand(2, 6, 12, 12)
    per_position = LCLV2(channels=(4, 6))  # default: local, one cell per position
    z = per_position.embedding(f, "stages.1")
    assert z.shape == (2, 144, 6)
    assert torch.equal(z[:, 5 * 12 + 7], f[:, :, 5, 7])  # row-major positions
    # cells one receptive field wide: stage 2 has RF 24 px at stride 4 -> 6 x 6 positions
    cells = LCLV2(channels=(4, 6), embedding_cell=1.0)
    assert cells.embedding_cell_size("stages.1") == 6 and cells.embedding_cell_size(0) == 5
    zc = cells.embedding(f, 1)
    assert zc.shape == (2, 4, 6)
    assert torch.allclose(zc[:, 3], f[:, :, 6:, 6:].mean((2, 3)))
    with pytest.raises(ValueError, match="embedding must be"):
        LCLV2(embedding="cells")
    with pytest.raises(ValueError, match="embedding_cell"):
        LCLV2(embedding_cell=-1)


def test_input_normalization_is_on_by_default_and_removes_luminance_and_contrast():
    x = torch.rand(3, 1, 32, 32)
    assert isinstance(LCLV2().input_norm, LuminanceContrastNormalization)
    model = LCLV2(channels=(4, 6), input_epsilon=1e-6)  # exact invariance up to epsilon (layer test: closed form)
    plain = LCLV2(channels=(4, 6), input_normalization=False)
    plain.load_state_dict(model.state_dict())  # same weights: the gain control has none
    with torch.no_grad():
        assert torch.allclose(model(0.5 * x + 0.2), model(x), atol=1e-4, rtol=1e-3)
        assert not torch.allclose(plain(0.5 * x + 0.2), plain(x), atol=1e-3)
    # the gain control does not change the classical receptive fields used for matching
    assert model.receptive_fields() == plain.receptive_fields()


def test_layers_closed_forms():
    c, sigma = 0.8, 0.1
    x = torch.full((1, 3, 8, 8), c)
    assert torch.allclose(L2Pool2d(2, 2, eps=0.0)(x), torch.full((1, 3, 4, 4), c))
    assert torch.allclose(DivisiveNormalization(3, sigma)(x), torch.full_like(x, c / (sigma**2 + c**2) ** 0.5))


def test_configuration_errors():
    with pytest.raises(ValueError, match="one entry per stage"):
        LCLV2(channels=(4, 6), kernel_sizes=(5, 3, 3))
    with pytest.raises(ValueError, match="odd"):
        LCLV2(kernel_sizes=4)
    with pytest.raises(ValueError, match="pooling"):
        LCLV2(pooling="median")


def test_lcl_v2net_loads_a_checkpoint_and_freezes_it(tmp_path):
    config = {"channels": [4, 8], "kernel_sizes": [5, 3]}
    trained = build_model("lcl_v2", **config)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)  # stand-in for training
    path = tmp_path / "lcl.pt"
    torch.save({"model": trained.state_dict(), "model_name": "lcl_v2", "model_config": config}, path)
    net = build_model("lcl_v2net", frontend_checkpoint=str(path), num_classes=10)
    for (n, a), b in zip(trained.state_dict().items(), net.frontend.state_dict().values()):
        assert torch.equal(a, b), n
    assert not any(p.requires_grad for p in net.frontend.parameters())
    assert net.backend.bottleneck.in_channels == 8
    x = torch.rand(1, 1, 64, 64)
    assert net(x).shape == (1, 10)
    assert torch.equal(net.frontend(x)[0], trained(x)[0])
    torch.save({"weights": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        build_model("lcl_v2net", frontend_checkpoint=str(tmp_path / "bad.pt"))
