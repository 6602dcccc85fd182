"""Model registry: ``@register_model`` fills a table, ``build_model`` builds by name.

Follows the timm convention: thin named builder functions at the end of each
architecture file are decorated with :func:`register_model`. The decorator also
records the facts that the Brain-Score exporter needs about a model
(:class:`ModelInfo`: how it is trained, its default region-layer commitment, its
input size), so they are declared once, beside the model.

Examples
--------
>>> info = model_info("lcl_v2")
>>> info.supervision[0]
'self-supervised'
>>> sorted(info.region_layers)
['V1', 'V2']
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import torch.nn as nn

__all__ = ["register_model", "build_model", "list_models", "model_info", "model_parameters", "ModelInfo",
           "SUPERVISION_KINDS"]

#: how a model's weights were obtained (Brain-Score metadata ``supervision.type``)
SUPERVISION_KINDS = ("self-supervised", "supervised", "none")

_MODELS: dict[str, Callable[..., nn.Module]] = {}
_INFO: dict[str, "ModelInfo"] = {}


@dataclass(frozen=True)
class ModelInfo:
    """What the toolkit knows about a registered model beyond its builder.

    Attributes
    ----------
    name
        Registry name.
    supervision
        ``(kind, description)``: kind one of :data:`SUPERVISION_KINDS`
        (``"none"``: fixed filters, not trained); ``None`` when not stated.
    region_layers
        Default layer committed to each Brain-Score region (V1, V2, V4, IT) when the
        exporter is given no map and no recordings; regions left out (or naming a layer
        a particular configuration lacks) get the deepest layer.
    image_size
        Input pixels spanning ``model.visual_degrees`` when the training config does
        not say (e.g. 224 for ImageNet-trained networks); ``None``: not fixed.
    """

    name: str
    supervision: tuple[str, str] | None = None
    region_layers: dict = field(default_factory=dict)
    image_size: int | None = None


def register_model(fn: Callable[..., nn.Module] | None = None, *, name: str | None = None,
                   supervision: tuple[str, str] | None = None, region_layers: dict | None = None,
                   image_size: int | None = None):
    """Register a builder function under ``name`` (default: the function's name).

    Parameters
    ----------
    fn
        The builder (when used as ``@register_model`` without arguments).
    name
        Registry name.
    supervision, region_layers, image_size
        Export facts, see :class:`ModelInfo`.
    """
    if supervision is not None and (len(supervision) != 2 or supervision[0] not in SUPERVISION_KINDS):
        raise ValueError(f"supervision must be (kind, description) with kind in {SUPERVISION_KINDS}; got {supervision!r}")
    bad = sorted(set(region_layers or {}) - {"V1", "V2", "V4", "IT"})
    if bad:
        raise ValueError(f"region_layers names unknown regions {bad}; Brain-Score regions are V1, V2, V4, IT")

    def _register(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or f.__name__
        if key in _MODELS and _MODELS[key] is not f:
            raise ValueError(f"a model named {key!r} is already registered")
        _MODELS[key] = f
        _INFO[key] = ModelInfo(key, tuple(supervision) if supervision else None, dict(region_layers or {}),
                               image_size)
        return f

    return _register(fn) if fn is not None else _register


def _ensure_loaded() -> None:
    # importing the architecture modules runs their @register_model decorators
    from . import baselines, lcl, texture  # noqa: F401
    from .frontends import gabor, steerable  # noqa: F401


def list_models() -> list[str]:
    """Names of every registered model, sorted."""
    _ensure_loaded()
    return sorted(_MODELS)


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` declared with model ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not registered; the message lists the valid names.
    """
    _ensure_loaded()
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; registered models are: {', '.join(sorted(_MODELS))}")
    return _INFO.get(name) or ModelInfo(name)


def model_parameters(name: str) -> list[str] | None:
    """Keyword parameters the builder of ``name`` accepts (``None``: it takes ``**config``, any may do)."""
    _ensure_loaded()
    params = inspect.signature(_MODELS[name]).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def build_model(name: str, **config) -> nn.Module:
    """Build the registered model ``name`` with keyword configuration ``config``.

    Raises
    ------
    ValueError
        If ``name`` is not registered; the message lists the valid names.
    TypeError
        If ``config`` holds a keyword the model does not take; the message lists its parameters.
    """
    _ensure_loaded()
    if name not in _MODELS:
        raise ValueError(
            f"unknown model {name!r}; registered models are: {', '.join(sorted(_MODELS))}"
        )
    valid = model_parameters(name)
    unknown = [k for k in config if valid is not None and k not in valid]
    if unknown:
        raise TypeError(
            f"model {name!r} has no parameter(s) {unknown}; its parameters are: {', '.join(valid) or '(none)'}"
        )
    try:
        return _MODELS[name](**config)
    except TypeError as err:
        if "keyword argument" not in str(err):
            raise
        raise TypeError(f"model {name!r} does not accept its configuration {sorted(config)}: {err}") from err
