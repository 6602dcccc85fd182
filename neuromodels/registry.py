"""Model registry: ``@register_model`` fills a table, ``build_model`` builds by name.

Follows the timm convention: thin named builder functions at the end of each
architecture file are decorated with :func:`register_model`.
"""
from __future__ import annotations

from typing import Callable

import torch.nn as nn

__all__ = ["register_model", "build_model", "list_models"]

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module] | None = None, *, name: str | None = None):
    """Register a builder function under ``name`` (default: the function's name)."""

    def _register(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or f.__name__
        if key in _MODELS and _MODELS[key] is not f:
            raise ValueError(f"a model named {key!r} is already registered")
        _MODELS[key] = f
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


def build_model(name: str, **config) -> nn.Module:
    """Build the registered model ``name`` with keyword configuration ``config``.

    Raises
    ------
    ValueError
        If ``name`` is not registered; the message lists the valid names.
    """
    _ensure_loaded()
    if name not in _MODELS:
        raise ValueError(
            f"unknown model {name!r}; registered models are: {', '.join(sorted(_MODELS))}"
        )
    return _MODELS[name](**config)
