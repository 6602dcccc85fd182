"""docs/architecture.md lists every module of the four packages, and every module it lists exists.

The layout tables name modules by path relative to their package (``registry.py``,
``frontends/steerable.py``), several per row; a row whose first cell names a folder
(``losses/``, ``flows/``) or a file in one (``reproductions/stages.py``) lists that
folder's modules, as ``name.py`` or, for losses and reproductions, as a bare ``name``.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("neurocommon", "neuromodels", "analysis", "experiments")


def _sections() -> dict[str, list[str]]:
    """Package name -> the table rows of its ``### `package/` `` section."""
    out, current = {}, None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"^###\s+`(\w+)/`", line)
        if heading:
            current = heading.group(1)
            out[current] = []
        elif line.startswith("#"):
            current = None
        elif current and line.startswith("| `"):
            out[current].append(line)
    return out


def _listed(package: str, rows: list[str]) -> set[Path]:
    """Module files (relative to the repository) that the rows of a package's section name."""
    base = ROOT / package
    found = set()
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        first = re.findall(r"`([^`]+)`", cells[0])
        folder = next((t.rstrip("/").rpartition("/")[0] if not t.endswith("/") else t.rstrip("/")
                       for t in first if "/" in t), "")
        for token in re.findall(r"`([^`]+)`", row):
            if "<" in token or " " in token:
                continue  # placeholders such as reproductions/<name>.py, code such as `export --weights`
            if token.endswith(".py"):
                found.add(base / token if "/" in token else base / folder / token)
            elif folder and re.fullmatch(r"\w+", token) and (base / folder / f"{token}.py").is_file():
                found.add(base / folder / f"{token}.py")  # a bare module name in a folder's row
        if folder and ((base / folder / "__init__.py").is_file() or not (base / folder).is_dir()):
            found.add(base / folder / "__init__.py")  # a package's __init__; a folder that is not there: a ghost
    return {p.relative_to(ROOT) for p in found}


def _modules(package: str) -> set[Path]:
    return {p.relative_to(ROOT) for p in (ROOT / package).rglob("*.py")
            if "__pycache__" not in p.parts and "templates" not in p.parts and p != ROOT / package / "__init__.py"}


@pytest.mark.parametrize("package", PACKAGES)
def test_architecture_lists_every_module(package):
    rows = _sections()[package]
    missing = sorted(str(p) for p in _modules(package) - _listed(package, rows))
    assert not missing, f"docs/architecture.md does not list {missing}: add each to its package's table"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_architecture_lists_exists(package):
    rows = _sections()[package]
    ghosts = sorted(str(p) for p in _listed(package, rows) if not (ROOT / p).is_file())
    assert not ghosts, f"docs/architecture.md lists modules that do not exist: {ghosts}"


def test_the_check_reads_folders_and_bare_names():
    """Planted rows: a folder row lists its bare-named modules and its __init__; a missing file is a ghost."""
    listed = _listed("neuromodels", ["| `losses/` | one per module (`lcl`, `simclr`), `registry.py` |",
                                     "| `frontends/steerable.py`, `gabor.py` | V1 |",
                                     "| `nowhere.py` | ghost |"])
    assert {Path("neuromodels/losses/lcl.py"), Path("neuromodels/losses/simclr.py"),
            Path("neuromodels/losses/registry.py"), Path("neuromodels/losses/__init__.py"),
            Path("neuromodels/frontends/gabor.py"), Path("neuromodels/nowhere.py")} <= listed
    assert not (ROOT / "neuromodels/nowhere.py").exists()
