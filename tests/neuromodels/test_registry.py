"""Tests of the model and loss registries."""
import pytest
import torch.nn as nn

from neuromodels import build_model, list_models, register_model, registry
from neuromodels.losses import build_loss, list_losses

NAMES = ["alexnet", "gabor_v1", "lcl_v2", "lcl_v2net", "resnet50", "steerable_v1", "texture_model",
         "vonenet_resnet50"]


def test_registered_names():
    assert list_models() == NAMES


def test_unknown_model_lists_the_valid_names():
    with pytest.raises(ValueError, match="registered models are: alexnet, gabor_v1"):
        build_model("lcl_v3")


def test_register_and_duplicate_names():
    try:
        @register_model(name="_test_tiny")
        def tiny():
            return nn.Identity()

        assert isinstance(build_model("_test_tiny"), nn.Identity)
        with pytest.raises(ValueError, match="already registered"):
            register_model(lambda: nn.Identity(), name="_test_tiny")
    finally:
        registry._MODELS.pop("_test_tiny", None)
    assert "_test_tiny" not in list_models()


def test_model_config_reaches_the_builder():
    model = build_model("lcl_v2", channels=[3, 5])
    assert [s.conv.out_channels for s in model.stages] == [3, 5]


def test_loss_registry():
    assert list_losses() == ["lcl", "barlow_twins", "gaussian_information", "mmcr", "simclr", "vicreg"]
    assert build_loss("vicreg", gamma=2.0).gamma == 2.0
    with pytest.raises(ValueError, match="registered losses are: lcl, barlow_twins"):
        build_loss("byol")
    with pytest.raises(ValueError, match="bad configuration"):
        build_loss("lcl", gamma=0.1)


@pytest.mark.parametrize("name", list_models())
def test_every_model_declares_its_export_facts(name):
    """supervision, default region layers and input size live on @register_model and name real layers."""
    from neuromodels.registry import SUPERVISION_KINDS, model_info

    info = model_info(name)
    assert info.name == name
    assert info.supervision is not None and info.supervision[0] in SUPERVISION_KINDS and info.supervision[1]
    model = build_model(name)
    assert info.region_layers and set(info.region_layers) <= {"V1", "V2", "V4", "IT"}
    assert set(info.region_layers.values()) <= set(model.layers), (info.region_layers, model.layers)
    assert info.image_size is None or (isinstance(info.image_size, int) and info.image_size >= 8)
    trained = [p for p in model.parameters() if p.requires_grad]
    if info.supervision[0] == "none":  # fixed filters: nothing is learned
        assert not trained


def test_export_facts_are_checked_when_declared():
    with pytest.raises(ValueError, match="kind in"):
        register_model(name="_bad", supervision=("unsupervised", "x"))
    with pytest.raises(ValueError, match=r"unknown regions \['MT'\]"):
        register_model(name="_bad", region_layers={"MT": "x"})


def test_unknown_model_keyword_is_named_with_the_valid_ones():
    with pytest.raises(TypeError, match=r"model 'resnet50' has no parameter\(s\) \['foo'\]; its parameters are: pretrained"):
        build_model("resnet50", foo=1)
    with pytest.raises(TypeError, match=r"model 'lcl_v2' does not accept .*chanels"):
        build_model("lcl_v2", chanels=[4])
