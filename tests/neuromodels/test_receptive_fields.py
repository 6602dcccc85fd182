"""Receptive fields from the architecture against hand-derived and measured values."""
import math

import pytest
import torch
import torch.nn as nn
import torchvision

from neuromodels.lcl import LCLV2
from neuromodels.receptive_fields import ReceptiveField, receptive_fields_of


def test_chain_with_dilation_by_hand():
    # conv k3 d2 -> 1 + 2*2 = 5; maxpool 2/2 -> 5 + 1*1 = 6, jump 2; conv k3 -> 6 + 2*2 = 10
    net = nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3))
    rfs = receptive_fields_of(net, ["0", "1", "2"])
    assert rfs == {"0": ReceptiveField(5, 1), "1": ReceptiveField(6, 2), "2": ReceptiveField(10, 2)}


def test_alexnet_by_hand():
    # conv1 11/4: 11; pool 3/2: 11+2*4 = 19; conv2 5: 19+4*8 = 51; pool: 51+2*8 = 67;
    # conv3-5 3: 67+32 = 99, 131, 163; pool5 3/2: 163+2*16 = 195; classifier: global
    net = torchvision.models.alexnet(weights=None)
    names = ["features.0", "features.2", "features.3", "features.5", "features.6", "features.8",
             "features.10", "features.12", "classifier.1"]
    got = [(rf.size, rf.stride) for rf in receptive_fields_of(net, names).values()]
    assert got == [(11, 4), (19, 8), (51, 8), (67, 16), (99, 16), (131, 16), (163, 16), (195, 32),
                   (math.inf, 32)]


def test_resnet50_by_hand():
    # torchvision ResNet-50 (stride on the 3x3 convolution): conv1 7/2 -> 7; maxpool 3/2 -> 11, jump 4;
    # layer1: 3 blocks x 2*4 -> 35; layer2: first 3x3 stride 2 adds 2*4 (jump 8), 3 more x 2*8 -> 91;
    # layer3: 2*8 + 5 x 2*16 -> 267 (jump 16); layer4: 2*16 + 2 x 2*32 -> 427 (jump 32).
    # The downsample shortcuts run in parallel and add nothing.
    net = torchvision.models.resnet50(weights=None)
    rfs = receptive_fields_of(net, ["conv1", "maxpool", "layer1", "layer2", "layer3", "layer4", "fc"])
    assert [(rf.size, rf.stride) for rf in rfs.values()] == [
        (7, 2), (11, 4), (35, 4), (91, 8), (267, 16), (427, 32), (math.inf, 32)]


def _measured_extent(model, size=96):
    """Width (pixels) of the input region that influences the central unit's gradient."""
    x = torch.rand(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = model(x)
    y[0, 0, y.shape[-2] // 2, y.shape[-1] // 2].backward()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(0) > 0).flatten()
    return int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("normalization", [False, True])
def test_lcl_v2_matches_measured_gradient_support(normalization):
    # no norm: conv5 -> 5; pool 3/2 -> 7 (jump 2); conv3 -> 7+2*2 = 11; pool 2/2 -> 11+1*2 = 13 (jump 4)
    # norm (k3): 5; 7; norm -> 7+2*2 = 11; conv3 -> 15; pool -> 17; norm -> 17+2*4 = 25
    # the input gain control is off here: its Gaussian surround sets each pixel's gain and
    # widens the gradient support on purpose; it is not part of the classical field (next test)
    model = LCLV2(channels=(3, 2), kernel_sizes=(5, 3), pool_sizes=(3, 2), pool_strides=2,
                  pooling="avg", normalization=normalization, norm_kernel=3, input_normalization=False).double()
    for stage in model.stages:  # every rectifier active, so every input in the field has an effect
        nn.init.constant_(stage.conv.bias, 50.0)
        nn.init.uniform_(stage.conv.weight, 0.5, 1.0)
    expected = 25 if normalization else 13
    rf = model.receptive_fields()["stages.1"]
    assert (rf.size, rf.stride) == (expected, 4)
    assert _measured_extent(model) == expected


def test_input_gain_control_is_a_pointwise_step_of_the_classical_field():
    kw = dict(channels=(3, 2), kernel_sizes=(5, 3), pool_sizes=(3, 2), pool_strides=2, pooling="avg")
    with_gain, without = LCLV2(**kw), LCLV2(**kw, input_normalization=False)
    assert with_gain.receptive_fields() == without.receptive_fields()
    from neuromodels.layers import LuminanceContrastNormalization

    assert LuminanceContrastNormalization().receptive_field_step() == ReceptiveField(1, 1)


def test_unknown_layer_is_an_error():
    with pytest.raises(ValueError, match="unknown layer"):
        receptive_fields_of(nn.Sequential(nn.Conv2d(1, 1, 3)), ["conv9"])
