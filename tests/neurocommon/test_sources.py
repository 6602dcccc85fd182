"""Tests of neurocommon.sources: the packages a file imports, against Python's own import of it."""
import sys
import textwrap

from neurocommon.sources import imported_packages


def test_every_absolute_import_at_any_depth_and_no_relative_one():
    source = textwrap.dedent("""
        import os.path, json as j
        from collections import abc
        from . import sibling
        from .pkg import x
        class A:
            def f(self):
                import email.mime.text
                from urllib.parse import quote
    """)
    assert imported_packages(source) == {"os", "json", "collections", "email", "urllib"}


def test_agrees_with_the_modules_an_import_loads(tmp_path, monkeypatch):
    """A module-level-only file: what the reader finds is exactly what Python imports."""
    (tmp_path / "probe_mod.py").write_text("import colorsys\nfrom fractions import Fraction\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("colorsys", "fractions", "probe_mod"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    before = set(sys.modules)
    __import__("probe_mod")
    loaded = {m.split(".")[0] for m in set(sys.modules) - before} - {"probe_mod"}
    found = imported_packages((tmp_path / "probe_mod.py").read_text())
    assert found == {"colorsys", "fractions"} and found <= loaded
