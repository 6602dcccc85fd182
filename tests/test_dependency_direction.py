"""Which package may import which (docs/architecture.md, "Dependency direction"), read from the sources.

``neurocommon`` is at the bottom and imports nothing of the toolkit; ``analysis`` and
``neuromodels`` never import each other (``neuromodels.brainscore.__main__`` may, lazily:
choosing a plugin's layers by the toolkit's predictivity is the one documented
exception); ``experiments`` joins them. Every import counts, also those inside functions.
"""
from pathlib import Path

import pytest

from neurocommon.sources import imported_packages

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = ("neurocommon", "analysis", "neuromodels", "experiments")
#: package -> the toolkit packages it must never import
FORBIDDEN = {
    "neurocommon": {"analysis", "neuromodels", "experiments"},
    "analysis": {"neuromodels", "experiments"},
    "neuromodels": {"analysis", "experiments"},
    "experiments": set(),
}
#: the documented exceptions: module -> toolkit packages it may import although its package may not
ALLOWED = {"neuromodels/brainscore/__main__.py": {"analysis"}}


def _sources(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("package", TOOLKIT)
def test_packages_import_only_downwards(package):
    wrong = {}
    for path in _sources(package):
        rel = path.relative_to(ROOT).as_posix()
        bad = imported_packages(path.read_text(encoding="utf-8")) & (FORBIDDEN[package] - ALLOWED.get(rel, set()))
        if bad:
            wrong[rel] = sorted(bad)
    assert not wrong, f"imports against the dependency direction (docs/architecture.md): {wrong}"


def test_the_reading_finds_lazy_and_dotted_imports():
    source = "import os\nfrom analysis.x import y\ndef f():\n    import neuromodels.training as t\nfrom . import z\n"
    assert imported_packages(source) == {"os", "analysis", "neuromodels"}


def test_neurocommon_is_imported_by_the_packages_above_it():
    """The helpers have one home: both sides of the analysis/neuromodels divide use it."""
    users = {package for package in ("analysis", "neuromodels", "experiments")
             if any("neurocommon" in imported_packages(p.read_text(encoding="utf-8")) for p in _sources(package))}
    assert users == {"analysis", "neuromodels", "experiments"}
