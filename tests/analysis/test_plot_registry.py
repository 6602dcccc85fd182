"""Every figure function listed in ``analysis.plot._API`` keeps the figure conventions (no test of its own needed).

Conventions (analysis/plot/__init__.py): each topic module is listed, each function takes
``ax=``, is documented, and no module changes the global matplotlib/seaborn style.
"""
import importlib
import inspect
import pkgutil
import re

import pytest

import analysis.plot as plot

FUNCTIONS = [(module, name) for module, names in plot._API.items() for name in names]
GLOBAL_STYLE = re.compile(r"set_theme\(|plt\.style\.use\(|sns\.set\(|rcParams\[[^\]]*\]\s*=|rcParams\.update\(")


def test_every_topic_module_is_listed():
    modules = {m.name for m in pkgutil.iter_modules(plot.__path__)} - {"style"}
    assert modules == set(plot._API), "add the topic's line to analysis.plot._API"


@pytest.mark.parametrize("module, name", FUNCTIONS, ids=[f"{m}.{n}" for m, n in FUNCTIONS])
def test_function_takes_ax_is_documented_and_reachable(module, name):
    fn = getattr(importlib.import_module(f"analysis.plot.{module}"), name)
    assert getattr(plot, name) is fn
    params = inspect.signature(fn).parameters
    assert "ax" in params and params["ax"].default is None, f"{name} must accept ax=None"
    doc = inspect.getdoc(fn) or ""
    assert doc and "Returns" in doc, f"{name} needs a numpydoc docstring with Returns"


@pytest.mark.parametrize("module", sorted(plot._API))
def test_module_leaves_the_global_style_alone(module):
    source = inspect.getsource(importlib.import_module(f"analysis.plot.{module}"))
    assert not GLOBAL_STYLE.findall(source), "draw inside analysis.plot.style.figure_style() instead"
