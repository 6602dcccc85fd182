"""Reading result folders (for notebooks and users): find a part, load its config, metrics, stages and figures.

The notebooks read the result folders that ``python -m experiments run ...`` writes
(``make demo`` writes ``results/quickstart``, one sub-folder per part). The folder
is named by the environment variable ``NEUROMODELS_RESULTS`` (default
``results/quickstart``); when the part is not there, :func:`find_results` says so
and runs the quick reproduction into it, so every notebook also works on a fresh
clone.

Examples
--------
>>> from experiments.results import find_results, load_activations  # doctest: +SKIP
>>> folder = find_results("texture_model")                                    # doctest: +SKIP
>>> acts = load_activations(folder)      # {model: {layer: assembly}}         # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

__all__ = ["ENV_VAR", "DEFAULT_RESULTS", "results_root", "find_results", "is_finished", "load_config",
           "load_metrics", "load_stage", "load_activations", "display_figure", "show_figure"]

ENV_VAR = "NEUROMODELS_RESULTS"
DEFAULT_RESULTS = "results/quickstart"
_REPO_ROOT = Path(__file__).resolve().parents[1]


def results_root() -> Path:
    """The quickstart folder named by ``$NEUROMODELS_RESULTS`` (default ``results/quickstart``).

    A relative path is taken relative to the current directory when it exists
    there, else relative to the repository root (notebooks run in ``notebooks/``).
    """
    raw = Path(os.environ.get(ENV_VAR) or DEFAULT_RESULTS).expanduser()
    if raw.is_absolute():
        return raw
    here = Path.cwd() / raw
    return here if here.exists() else _REPO_ROOT / raw


def _reproduction_of(folder: Path) -> str | None:
    prov = folder / "provenance_run.json"
    if not prov.is_file():
        return None
    try:
        return json.loads(prov.read_text()).get("reproduction")
    except (json.JSONDecodeError, OSError):
        return None


def is_finished(folder: str | os.PathLike, part: str) -> bool:
    """True when ``folder`` holds a finished run of reproduction ``part``."""
    folder = Path(folder)
    return _reproduction_of(folder) == part and (folder / "report.md").is_file()


def find_results(part: str, root: str | os.PathLike | None = None, run_if_missing: bool = True,
                 device: str | None = "cpu") -> Path:
    """The finished result folder of reproduction ``part`` (e.g. ``"texture_model"``).

    Looks for ``root/part`` (a quickstart folder) and then ``root`` itself (a
    single reproduction's folder). If neither holds a finished run, prints why and
    runs ``run_reproduction(part, quick=True, out=root/part)`` (minutes on a CPU),
    or raises ``FileNotFoundError`` when ``run_if_missing`` is false.

    Parameters
    ----------
    part : str
        A reproduction name: ``texture_model``, ``lcl_v2``, ``manifolds``, ``flows``.
    root : path, optional
        Default :func:`results_root`.
    run_if_missing : bool
    device : str, optional
        Device for a quick run started here (default CPU).

    Returns
    -------
    pathlib.Path
    """
    from .config import available  # not .reproductions: importing it switches matplotlib to Agg

    if part not in available():
        raise ValueError(f"unknown reproduction {part!r}; available: {', '.join(available())}")
    root = Path(root) if root is not None else results_root()
    for candidate in (root / part, root):
        if is_finished(candidate, part):
            print(f"reading the finished {part} run in {candidate}")
            return candidate
    where = root / part
    msg = (f"no finished {part!r} run under {root} (set ${ENV_VAR} to a quickstart folder, e.g. the one "
           f"`make demo` writes)")
    if not run_if_missing:
        raise FileNotFoundError(msg)
    print(f"{msg}; running the quick reproduction into {where} now (CPU minutes) ...")
    from .reproductions import run_reproduction

    run_reproduction(part, quick=True, device=device, out=where)
    return where


def load_config(folder: str | os.PathLike) -> dict:
    """The resolved configuration a run used (``config.json``)."""
    return json.loads((Path(folder) / "config.json").read_text())


def load_metrics(folder: str | os.PathLike) -> pd.DataFrame:
    """Every number of a run as a tidy table (``metrics.csv``: stage, metric, model, ..., value)."""
    return pd.read_csv(Path(folder) / "metrics.csv")


def load_stage(folder: str | os.PathLike, stage: str) -> dict:
    """One stage's record (``stages/<stage>.json``): metrics, headlines, sections."""
    path = Path(folder) / "stages" / f"{stage}.json"
    if not path.is_file():
        have = sorted(p.stem for p in (Path(folder) / "stages").glob("*.json"))
        raise FileNotFoundError(f"no stage record {path}; stages present: {have}")
    return json.loads(path.read_text())


def load_activations(folder: str | os.PathLike, stage: str = "activations") -> dict:
    """``{model: {layer: assembly}}`` saved by a run's activations stage, in the run's layer order.

    The paths are rebuilt under ``folder`` (``activations/<model>/<layer>.nc``), so a
    moved or copied result folder still loads.
    """
    from analysis.assemblies import load

    folder = Path(folder)
    index = load_stage(folder, stage)["activations"]
    return {model: {layer: load(folder / "activations" / model / f"{layer}.nc") for layer in layers}
            for model, layers in index.items()}


def display_figure(fig, dpi: int = 100) -> None:
    """Show a matplotlib Figure in the notebook as a PNG and close it.

    Works under any matplotlib backend (also ``MPLBACKEND=Agg``, which the
    reproductions select), unlike relying on the inline backend.
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    display(Image(data=buffer.getvalue()))


def show_figure(path: str | os.PathLike, width: int = 700):
    """An ``IPython.display.Image`` of a saved figure (PNG), for display in a notebook."""
    from IPython.display import Image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"figure {path} not found; figures present: "
                                f"{sorted(p.name for p in path.parent.glob('*.png'))}")
    return Image(filename=str(path), width=width)
