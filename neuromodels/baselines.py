"""Deep-network baselines: torchvision ResNet-50 and AlexNet, and VOneNet-ResNet-50.

torchvision networks take RGB (``in_channels = 3``): RGB stimuli reach them as they
are, grayscale ones (B, 1, H, W) with their single channel repeated to three. Inputs
are in [0, 1] and normalized inside the model with the ImageNet mean and standard
deviation that torchvision's weights expect.
``pretrained=False`` (the default, and what the tests use) never downloads;
``pretrained=True`` loads torchvision's ``IMAGENET1K_V1`` weights (a download on
first use, cached by torch.hub).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .base import VisionModel
from .frontends.gabor import GaborV1
from .registry import register_model

__all__ = ["TorchvisionModel", "ResNet50BackEnd", "FrontEndResNet50"]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetNormalization(nn.Module):
    """``(x − mean) / std`` per RGB channel with torchvision's ImageNet statistics."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)


def _resnet50(pretrained: bool, num_classes: int) -> nn.Module:
    import torchvision  # here, not at import: it costs ~2 s of every registry load

    if pretrained:
        if num_classes != 1000:
            raise ValueError("pretrained ImageNet weights have 1000 classes; use num_classes=1000")
        return torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V1)
    return torchvision.models.resnet50(weights=None, num_classes=num_classes)


class TorchvisionModel(VisionModel):
    """A torchvision classifier as a registry model (``backbone`` holds the network).

    Input (B, 1 or 3, H, W) in [0, 1]; output logits (B, num_classes).
    """

    def __init__(self, backbone: nn.Module, layers: list[str], visual_degrees: float = 8.0):
        super().__init__()
        self.in_channels = 3
        self.visual_degrees = float(visual_degrees)
        self.normalize = ImageNetNormalization()
        self.backbone = backbone
        self.layers = [f"backbone.{n}" for n in layers]
        self._check_layers()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalize(self.prepare(x)))


class ResNet50BackEnd(nn.Module):
    """ResNet-50 without its stem: a 1×1 bottleneck from the front end's channels to 64,
    then torchvision's ``layer1``–``layer4``, global average pooling and ``fc``.

    As in VOneNet (Dapello et al. 2020), the front end (stride 4) replaces the
    stem (7×7 stride-2 convolution and stride-2 max pooling).
    """

    def __init__(self, in_channels: int, pretrained: bool = False, num_classes: int = 1000):
        super().__init__()
        net = _resnet50(pretrained, num_classes)
        self.bottleneck = nn.Conv2d(in_channels, 64, kernel_size=1, bias=False)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.avgpool, self.fc = net.avgpool, net.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.bottleneck(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class FrontEndResNet50(VisionModel):
    """A fixed front end followed by :class:`ResNet50BackEnd`; output logits (B, num_classes).

    The front end's parameters are frozen (``requires_grad=False``); it follows the
    model's train/eval mode, so a :class:`GaborV1` front end is stochastic while the
    back end trains (as in VOneNet) and deterministic in eval. The bottleneck and
    ResNet stages are trainable.
    """

    def __init__(self, frontend: nn.Module, frontend_channels: int, frontend_layers: list[str],
                 pretrained: bool = False, num_classes: int = 1000):
        super().__init__()
        self.frontend = frontend
        for p in self.frontend.parameters():
            p.requires_grad_(False)
        self.in_channels = 1
        self.visual_degrees = float(frontend.visual_degrees)
        self.backend = ResNet50BackEnd(frontend_channels, pretrained, num_classes)
        self.layers = [f"frontend.{n}" for n in frontend_layers] + [
            f"backend.{n}" for n in ("layer1", "layer2", "layer3", "layer4", "avgpool", "fc")]
        self._check_layers()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backend(self.frontend(self.prepare(x)))


# -- registry ------------------------------------------------------------------------


@register_model(supervision=("supervised", "object recognition"), region_layers={"V1": "backbone.layer1", "V2": "backbone.layer2", "V4": "backbone.layer3", "IT": "backbone.layer4"}, image_size=224)
def resnet50(pretrained: bool = False, num_classes: int = 1000, visual_degrees: float = 8.0) -> TorchvisionModel:
    """torchvision ResNet-50 (He et al. 2016), supervised baseline; layers conv1 … fc."""
    layers = ["conv1", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    return TorchvisionModel(_resnet50(pretrained, num_classes), layers, visual_degrees)


@register_model(supervision=("supervised", "object recognition"), region_layers={"V1": "backbone.features.1", "V2": "backbone.features.4", "V4": "backbone.features.7", "IT": "backbone.features.12"}, image_size=224)
def alexnet(pretrained: bool = False, num_classes: int = 1000, visual_degrees: float = 8.0) -> TorchvisionModel:
    """torchvision AlexNet (Krizhevsky et al. 2012); layers are the ReLUs after each
    convolution (``features.1/4/7/9/11``), the last max pooling and the classifier ReLUs."""
    import torchvision

    if pretrained:
        if num_classes != 1000:
            raise ValueError("pretrained ImageNet weights have 1000 classes; use num_classes=1000")
        net = torchvision.models.alexnet(weights=torchvision.models.AlexNet_Weights.IMAGENET1K_V1)
    else:
        net = torchvision.models.alexnet(weights=None, num_classes=num_classes)
    layers = ["features.1", "features.4", "features.7", "features.9", "features.11", "features.12",
              "classifier.2", "classifier.5", "classifier.6"]
    return TorchvisionModel(net, layers, visual_degrees)


@register_model(supervision=("supervised", "object recognition on top of a fixed Gabor front end"), region_layers={"V1": "frontend.output", "V2": "backend.layer1", "V4": "backend.layer3", "IT": "backend.layer4"}, image_size=224)
def vonenet_resnet50(pretrained: bool = False, num_classes: int = 1000, **gabor_config) -> FrontEndResNet50:
    """VOneNet-ResNet-50 (Dapello et al. 2020): :class:`GaborV1` + 1×1 bottleneck + ResNet-50.

    ``pretrained`` loads ImageNet weights into the ResNet stages only (the bottleneck
    starts untrained); ``gabor_config`` goes to :class:`GaborV1`.
    """
    v1 = GaborV1(**gabor_config)
    return FrontEndResNet50(v1, v1.out_channels, v1.layers, pretrained, num_classes)
