"""Reading Python source: which packages a file imports (without importing it)."""
from __future__ import annotations

import ast

__all__ = ["imported_packages"]


def imported_packages(source: str) -> set[str]:
    """Top-level names of every absolute import in ``source``, at any depth (lazy imports too).

    Relative imports (``from . import x``) name no package and are left out. Used by the
    Brain-Score exporter (a plugin's requirements) and by the dependency-direction test.

    Examples
    --------
    >>> sorted(imported_packages("import os.path\\nfrom analysis.x import y\\n"
    ...                          "def f():\\n    import torch as t\\nfrom . import z\\n"))
    ['analysis', 'os', 'torch']
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names
