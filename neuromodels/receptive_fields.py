"""Receptive-field size and stride of every layer, computed from the architecture.

The classical recursion for a chain of convolutions and poolings (e.g. Araujo,
Norris & Sim 2019, "Computing receptive fields of convolutional neural networks",
Distill): with ``r`` the receptive-field size and ``j`` the jump (stride in input
pixels) before a layer of kernel ``k``, stride ``s`` and dilation ``d``,

    r' = r + (k - 1) d j,        j' = j s,

starting from ``r = j = 1`` at the input. Sizes and strides are in input pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import torch.nn as nn

__all__ = ["ReceptiveField", "receptive_fields_of", "conv_step"]


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of a layer's units.

    Attributes
    ----------
    size
        Side of the square input region (pixels) that can influence one unit;
        ``math.inf`` for layers after global pooling or a fully connected layer.
    stride
        Distance between neighbouring units, in input pixels.
    """

    size: float
    stride: float

    def then(self, kernel: float, stride: float = 1, dilation: float = 1) -> "ReceptiveField":
        """Receptive field after one more layer with this kernel, stride and dilation."""
        return ReceptiveField(
            size=self.size + (kernel - 1) * dilation * self.stride, stride=self.stride * stride
        )

    def compose(self, step: "ReceptiveField") -> "ReceptiveField":
        """Follow with a block whose own receptive field (in its input's pixels) is ``step``."""
        return self.then(step.size, step.stride)

    @property
    def is_global(self) -> bool:
        """True when every input pixel can influence the unit (after global pooling)."""
        return math.isinf(self.size)


def _pair(v) -> float:
    if isinstance(v, (tuple, list)):
        if len(set(v)) != 1:
            raise NotImplementedError(f"receptive fields of non-square kernels/strides {v} are not supported")
        v = v[0]
    return float(v)


def conv_step(module: nn.Module) -> ReceptiveField | None:
    """Receptive field of one module in its own input's pixels, or None if it has none.

    Known modules: ``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.AvgPool2d``, ``nn.LPPool2d``,
    global poolings and ``nn.Linear`` (size ``inf``), and any module that defines
    ``receptive_field_step() -> ReceptiveField`` (its descendants are then skipped).
    An ``AdaptiveAvgPool2d`` whose output size is larger than 1 is treated as the
    identity (it is one at the model's nominal input size, e.g. AlexNet at 224 px).
    """
    if hasattr(module, "receptive_field_step"):
        return module.receptive_field_step()
    if isinstance(module, nn.Conv2d):
        k, s, d = _pair(module.kernel_size), _pair(module.stride), _pair(module.dilation)
        return ReceptiveField((k - 1) * d + 1, s)
    if isinstance(module, nn.MaxPool2d):
        k, s, d = _pair(module.kernel_size), _pair(module.stride), _pair(module.dilation)
        return ReceptiveField((k - 1) * d + 1, s)
    if isinstance(module, (nn.AvgPool2d, nn.LPPool2d)):
        k = _pair(module.kernel_size)
        s = _pair(module.stride if module.stride is not None else module.kernel_size)
        return ReceptiveField(k, s)
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        out = module.output_size
        out = out if isinstance(out, (tuple, list)) else (out, out)
        if all(o == 1 for o in out):
            return ReceptiveField(math.inf, 1.0)
        return None
    if isinstance(module, nn.Linear):
        return ReceptiveField(math.inf, 1.0)
    return None


def receptive_fields_of(
    model: nn.Module,
    layers: Iterable[str],
    skip: tuple[str, ...] = ("downsample",),
) -> dict[str, ReceptiveField]:
    """Walk ``model``'s modules in registration order and record each layer's field.

    The modules are assumed to run in the order they are registered (true for
    ``nn.Sequential`` chains, torchvision's ResNet and AlexNet, and the models of
    this package). Modules under a path component listed in ``skip`` are parallel
    shortcut branches (ResNet's ``downsample``) and do not add to the field.

    Parameters
    ----------
    model
        The network.
    layers
        Dotted module names; the field of a container is the field after its last
        descendant.

    Returns
    -------
    dict
        ``{layer: ReceptiveField}`` in the order of ``layers``.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3))
    >>> receptive_fields_of(net, ["0", "1", "2"])["2"]
    ReceptiveField(size=8.0, stride=2.0)
    """
    layers = list(layers)
    names = dict(model.named_modules())
    missing = [n for n in layers if n not in names]
    if missing:
        raise ValueError(f"unknown layer names {missing}; valid names are named_modules() entries")
    current = ReceptiveField(1.0, 1.0)
    out: dict[str, ReceptiveField] = {}
    leaf_prefixes: list[str] = []  # modules with their own step: descendants skipped
    for name, module in model.named_modules():
        inside_leaf = any(name.startswith(p + ".") for p in leaf_prefixes)
        in_shortcut = any(part in skip for part in name.split("."))
        if name and not inside_leaf and not in_shortcut:  # the root itself is the container being walked
            step = conv_step(module)
            if hasattr(module, "receptive_field_step"):
                leaf_prefixes.append(name)
            if step is not None:
                current = (ReceptiveField(math.inf, current.stride) if step.is_global
                           else current.compose(step))
        for layer in layers:
            if name == layer or name.startswith(layer + "."):
                out[layer] = current
    return {layer: out[layer] for layer in layers}
