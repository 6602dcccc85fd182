"""The package-level API lists only names that exist where it says they are; every other module
lists only its own names."""
import ast
import importlib
from pathlib import Path

import pytest

import analysis


@pytest.mark.parametrize("name", analysis.__all__)
def test_public_name_resolves_to_its_module(name):
    module = importlib.import_module(f"analysis.{analysis._WHERE[name]}")
    assert getattr(analysis, name) is getattr(module, name)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        analysis.nope


def _module_files():
    root = Path(analysis.__file__).parent
    return sorted(str(p.relative_to(root.parent)) for p in root.rglob("*.py") if p.name != "__init__.py")


def _defined_at_top_level(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


@pytest.mark.parametrize("path", _module_files())
def test_each_public_name_has_one_home(path):
    """A module's ``__all__`` lists only names it defines: no re-exports of another module's names
    (the package ``__init__`` files are the flat entry points and may gather names)."""
    tree = ast.parse((Path(analysis.__file__).parents[1] / path).read_text())
    listed = next((ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                   and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)), [])
    foreign = sorted(set(listed) - _defined_at_top_level(tree))
    assert not foreign, f"{path} lists names defined elsewhere in __all__: {foreign}; import them from their own module"
