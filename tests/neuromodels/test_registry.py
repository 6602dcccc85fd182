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
