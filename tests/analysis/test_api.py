"""The package-level API lists only names that exist where it says they are."""
import importlib

import pytest

import analysis


@pytest.mark.parametrize("name", analysis.__all__)
def test_public_name_resolves_to_its_module(name):
    module = importlib.import_module(f"analysis.{analysis._WHERE[name]}")
    assert getattr(analysis, name) is getattr(module, name)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        analysis.nope
