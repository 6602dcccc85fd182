"""Lazy public names of a package (PEP 562): ``__getattr__`` and ``__dir__`` over an ``_API`` table.

A package lists its public names by module in a table ``{"module": ["name", ...]}``;
:func:`lazy_api` returns the module-level ``__getattr__`` and ``__dir__`` that import
a module the first time one of its names (or, for ``submodules``, the module itself)
is asked for. ``import package`` then stays light: torch, matplotlib and the like are
imported only by the modules that use them, when a name of theirs is first used.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping

__all__ = ["lazy_api"]


def lazy_api(package: str, api: Mapping[str, Iterable[str]], submodules: Iterable[str] = ()
             ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` that resolve ``api``'s names on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``; modules are imported as ``f"{package}.{module}"``.
    api : mapping of str to iterable of str
        Module (relative to ``package``) → the public names it defines.
    submodules : iterable of str
        Modules (relative to ``package``) also reachable as attributes of the package.

    Returns
    -------
    (__getattr__, __dir__)
        Assign both at module level: ``__getattr__, __dir__ = lazy_api(__name__, _API)``.
        An unknown name raises ``AttributeError("module '<package>' has no attribute '<name>'")``;
        ``dir(package)`` lists the package's globals, ``api``'s names and ``submodules``.

    Examples
    --------
    >>> getattr_, dir_ = lazy_api("json", {"decoder": ["JSONDecodeError"]}, submodules=["scanner"])
    >>> getattr_("JSONDecodeError").__name__
    'JSONDecodeError'
    >>> getattr_("scanner").__name__
    'json.scanner'
    >>> "JSONDecodeError" in dir_() and "scanner" in dir_()
    True
    >>> getattr_("nope")
    Traceback (most recent call last):
    ...
    AttributeError: module 'json' has no attribute 'nope'
    """
    where = {name: module for module, names in api.items() for name in names}
    modules = tuple(submodules)

    def __getattr__(name: str):
        if name in where:
            return getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        if name in modules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where) | set(modules))

    return __getattr__, __dir__
