"""Loss registry: ``@register_loss`` fills a table, ``build_loss`` builds by name.

The twin of :mod:`neuromodels.registry` (``@register_model``). Adding a loss is one
decorated class in one module of this package: every module of
``neuromodels.losses`` is imported when the table is first read, so there is no
list, import or ``__all__`` to edit, and the tests in ``tests/neuromodels/losses``
that parametrize over :func:`list_losses` cover the new entry. A loss defined
outside the package registers itself the same way once its module is imported
(for the trainer: ``run.model_modules``).

Examples
--------
>>> import torch, torch.nn as nn
>>> @register_loss("mean_squared_view_difference")
... class ViewMSE(nn.Module):
...     '''Mean squared difference between the first two views.'''
...     def forward(self, z):
...         return ((z[:, 0] - z[:, 1]) ** 2).mean()
>>> float(build_loss("mean_squared_view_difference")(torch.zeros(4, 2, 3)))
0.0
>>> unregister_loss("mean_squared_view_difference")
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

import torch.nn as nn

__all__ = ["register_loss", "unregister_loss", "build_loss", "list_losses", "loss_class"]

_LOSSES: dict[str, type[nn.Module]] = {}
_LOADED = False


def register_loss(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: register an ``nn.Module`` loss under ``name``.

    Parameters
    ----------
    name
        The name used by :func:`build_loss` and by training configs (``loss.name``).

    Raises
    ------
    TypeError
        If ``name`` is not a string (write ``@register_loss("my_loss")``) or the
        decorated object is not an ``nn.Module`` subclass.
    ValueError
        If another class is already registered under ``name``.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"register_loss needs the loss's name: write @register_loss('my_loss'); got {name!r}"
        )

    def _register(cls: type[nn.Module]) -> type[nn.Module]:
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise TypeError(f"@register_loss({name!r}) decorates nn.Module subclasses; got {cls!r}")
        known = _LOSSES.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"a loss named {name!r} is already registered ({known.__module__}.{known.__qualname__})")
        _LOSSES[name] = cls
        cls.registered_name = name
        return cls

    return _register


def unregister_loss(name: str) -> None:
    """Remove ``name`` from the table (for tests and interactive sessions)."""
    _LOSSES.pop(name, None)


def _ensure_loaded() -> None:
    """Import every module of this package once: their decorators fill the table."""
    global _LOADED
    if _LOADED:
        return
    package = importlib.import_module(__name__.rpartition(".")[0])
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_") and info.name != "registry":
            importlib.import_module(f"{package.__name__}.{info.name}")
    _LOADED = True


def list_losses() -> list[str]:
    """Names accepted by :func:`build_loss`: the trainer's default ``"lcl"`` first, then sorted."""
    _ensure_loaded()
    return sorted(_LOSSES, key=lambda n: (n != "lcl", n))


def loss_class(name: str) -> type[nn.Module]:
    """The class registered under ``name``.

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the registered names.
    """
    _ensure_loaded()
    if name not in _LOSSES:
        raise ValueError(f"unknown loss {name!r}; registered losses are: {', '.join(list_losses())}")
    return _LOSSES[name]


def build_loss(name: str = "lcl", **config) -> nn.Module:
    """Build the loss ``name`` with keyword ``config`` (the class's constructor arguments).

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists valid names) or ``config`` has
        keys the loss does not take.
    """
    cls = loss_class(name)
    try:
        return cls(**config)
    except TypeError as err:
        raise ValueError(f"bad configuration for loss {name!r}: {err}") from err
