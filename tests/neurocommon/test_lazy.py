"""The lazy package API: names resolve to their modules' objects on first use, dir() lists them."""
import subprocess
import sys
import types

import pytest

from neurocommon.lazy import lazy_api


def _package(name: str, api: dict, submodules=()) -> types.ModuleType:
    """A package ``name`` over the stdlib's ``json`` modules, registered in sys.modules."""
    module = types.ModuleType(name)
    module.__getattr__, module.__dir__ = lazy_api("json", api, submodules)
    module.own = 1
    sys.modules[name] = module
    return module


def test_names_resolve_to_the_modules_objects_and_dir_lists_them():
    import json.decoder

    getattr_, dir_ = lazy_api("json", {"decoder": ["JSONDecoder", "JSONDecodeError"]}, ["scanner"])
    assert getattr_("JSONDecoder") is json.decoder.JSONDecoder
    assert getattr_("scanner") is sys.modules["json.scanner"]
    listed = dir_()
    assert {"JSONDecoder", "JSONDecodeError", "scanner", "loads"} <= set(listed) and listed == sorted(listed)
    with pytest.raises(AttributeError, match="module 'json' has no attribute 'nope'"):
        getattr_("nope")


@pytest.mark.parametrize("package", ["neurocommon", "analysis", "analysis.plot", "neuromodels",
                                     "neuromodels.training", "neuromodels.brainscore"])
def test_every_lazy_package_lists_its_api_in_dir_and_imports_it_on_first_use(package):
    """In a fresh interpreter: nothing of the API is imported before use; each name is its module's."""
    code = f"""
import importlib, sys
p = importlib.import_module({package!r})
api = p._API
before = set(sys.modules)
names = set(dir(p))
for module, listed in api.items():
    assert set(listed) <= names, (module, set(listed) - names)
    assert not any(m == p.__name__ + '.' + module for m in before) or module in ('lazy',), module
first = next(iter(api))
name = api[first][0]
assert getattr(p, name) is getattr(importlib.import_module(p.__name__ + '.' + first), name)
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
