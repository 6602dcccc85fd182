"""The reproductions, registered once: each is one module of this package.

A reproduction is a module here whose ``run(run, cfg, device)`` is decorated with
:func:`register_reproduction`; its module docstring is the report's introduction
(first line: the one-line description that ``python -m experiments list`` prints)
and ``title=`` the report's title. Its configs are found from its name in
``experiments/configs/``: ``<name>.yaml`` (the full run), ``<name>_quick.yaml``
(``--quick``) and any preset ``<name>_<preset>.yaml`` (``--preset <preset>``).
``list``, ``run``, :func:`run_reproduction`, the quickstart suite and the tests
(``tests/experiments/test_registry.py``) all read this one registry, so adding a
reproduction is one module plus its config files.

A reproduction that trains models other reproductions reuse says where their
checkpoints are recorded (``trains={model: "stage.key[.key]"}``); a reproduction whose
config has a ``checkpoints:`` mapping is handed, by the quickstart suite, the
checkpoints that earlier parts trained for the models it leaves ``null``.

Listing reads each module's registration from its source (the decorator's literal
arguments, the module docstring) without importing it, so ``python -m experiments list``
imports neither torch nor plotting; the module is imported when its reproduction first
runs (its decorator then registers the function itself). A registration whose
arguments are not literals (or module-level names bound to literals) is read by
importing its module instead.

Examples
--------
>>> from experiments.reproductions import get_reproduction, list_reproductions
>>> "lcl_v2" in list_reproductions()
True
>>> rep = get_reproduction("texture_model")
>>> rep.config_path("quick").name, "quick" in rep.presets
('texture_model_quick.yaml', True)
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..config import CONFIG_DIR, apply_overrides, read_config

__all__ = ["Reproduction", "register_reproduction", "unregister_reproduction", "get_reproduction",
           "list_reproductions", "run_reproduction", "declared_reproductions"]

QUICK_NOTE = ("\n\nThis is the **quick** variant (bundled data, tiny models and budgets, CPU minutes): "
              "the numbers show that the pipeline computes what it should, not the papers' values. "
              "Run without `--quick` on a GPU for the full configuration.")


@dataclass(frozen=True)
class Reproduction:
    """One registered reproduction: its name, report title and text, entry point and configs.

    Attributes
    ----------
    name : str
        The name on the command line and in ``experiments/configs/<name>*.yaml``.
    title : str
        The report's title (usually the paper: authors and year).
    doc : str
        The module docstring: the report's introduction; its first line is the
        description that ``list`` prints.
    run : callable
        ``run(run: experiments.runner.Run, cfg: dict, device: torch.device) -> None``.
    trains : dict
        Models this reproduction trains that others may reuse: model name → where its
        checkpoint is recorded, as ``"stage.key[.key]"`` in the stage records.
    """

    name: str
    title: str
    doc: str = field(repr=False)
    run: Callable = field(repr=False)
    trains: dict = field(default_factory=dict)

    @property
    def description(self) -> str:
        """The first line of the module docstring."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def config_path(self, preset: str | None = None) -> Path:
        """``experiments/configs/<name>.yaml``, or ``<name>_<preset>.yaml`` for a preset such as ``quick``."""
        return CONFIG_DIR / f"{self.name}{'_' + preset if preset else ''}.yaml"

    @property
    def presets(self) -> list[str]:
        """The presets found beside the full config (``quick`` and e.g. ``cpu``), sorted."""
        others = [n for n in _REGISTRY if n != self.name and n.startswith(self.name + "_")]
        out = []
        for p in CONFIG_DIR.glob(f"{self.name}_*.yaml"):
            if not any(p.stem == o or p.stem.startswith(o + "_") for o in others):
                out.append(p.stem[len(self.name) + 1:])
        return sorted(out)

    def load_config(self, quick: bool = False, preset: str | None = None) -> dict:
        """The config mapping of the full run, the quick variant, or a named preset."""
        if quick and preset not in (None, "quick"):
            raise ValueError(f"give either quick=True or preset={preset!r}, not both")
        preset = "quick" if quick else preset
        path = self.config_path(preset)
        if not path.exists():
            if preset is None:
                raise FileNotFoundError(f"no config for {self.name!r} at {path}")
            raise FileNotFoundError(f"no {preset} config for {self.name!r} at {path}; presets of {self.name!r}: "
                                    f"{', '.join(self.presets) or 'none'}")
        return read_config(path)

    def checkpoint_of(self, model: str, records: dict) -> str | None:
        """The checkpoint of ``model`` recorded by a finished run of this reproduction (``None`` if absent)."""
        node = records
        for key in self.trains[model].split("."):
            node = node.get(key) if isinstance(node, dict) else None
        return node or None


_REGISTRY: dict[str, Reproduction] = {}
_DISCOVERED = False


def register_reproduction(name: str, *, title: str, trains: dict | None = None) -> Callable:
    """Register the decorated ``run(run, cfg, device)`` as reproduction ``name``.

    The calling module's docstring becomes the report's introduction.

    Parameters
    ----------
    name : str
        Unique name; configs are ``experiments/configs/<name>.yaml`` and ``<name>_quick.yaml``.
    title : str
        Title of the report.
    trains : dict, optional
        Model name → ``"stage.key[.key]"`` where this reproduction records that model's
        checkpoint, for later parts of the quickstart suite to reuse.

    Examples
    --------
    >>> from experiments.reproductions import register_reproduction, unregister_reproduction
    >>> @register_reproduction("demo_only", title="A demonstration")
    ... def run(run, cfg, device):
    ...     pass
    >>> get_reproduction("demo_only").title
    'A demonstration'
    >>> unregister_reproduction("demo_only")
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a reproduction name must be an identifier (it names a module and its configs); "
                         f"got {name!r}")

    def decorate(fn: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name].run.__module__ != fn.__module__:
            raise ValueError(f"reproduction {name!r} is already registered by {_REGISTRY[name].run.__module__}; "
                             f"choose another name")
        module = importlib.import_module(fn.__module__)
        _REGISTRY[name] = Reproduction(name, title, (module.__doc__ or "").strip(), fn, dict(trains or {}))
        return fn

    return decorate


def unregister_reproduction(name: str) -> None:
    """Remove ``name`` from the registry (for tests and notebooks that register a temporary one)."""
    _REGISTRY.pop(name, None)


class _RunOnFirstCall:
    """The ``run`` of a reproduction registered from its module's source: imports the module when first called.

    Importing the module runs its decorator, which replaces this placeholder in the
    registry with the function itself; ``__module__`` and ``__name__`` name that function.
    """

    def __init__(self, module: str, name: str):
        self.__module__, self.__name__ = module, name

    def __call__(self, *args, **kwargs):
        return getattr(importlib.import_module(self.__module__), self.__name__)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<run of {self.__module__}.{self.__name__}, imported on first call>"


def declared_reproductions(path: str | Path) -> list[dict] | None:
    """The ``@register_reproduction`` registrations of a module, read from its source without importing it.

    Parameters
    ----------
    path : str or Path
        A Python source file.

    Returns
    -------
    list of dict or None
        One dict per decorated module-level function: ``name``, ``title``, ``trains``,
        ``function`` (its name) and ``doc`` (the module docstring, stripped). ``None``
        when a registration cannot be read without running code (an argument that is
        not a literal or a module-level name bound to one, a call that is not a
        decorator): the caller imports the module instead.

    Examples
    --------
    >>> import experiments.reproductions.flows as flows
    >>> [(d["name"], d["function"]) for d in declared_reproductions(flows.__file__)]
    [('flows', 'run')]
    """
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass

    def value(node):
        if isinstance(node, ast.Name):
            if node.id not in constants:
                raise ValueError(node.id)
            return constants[node.id]
        return ast.literal_eval(node)

    def is_registration(node) -> bool:
        return isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == (
            "register_reproduction")

    found, decorators = [], set()
    doc = (ast.get_docstring(tree, clean=False) or "").strip()
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for dec in node.decorator_list:
            if not is_registration(dec):
                continue
            decorators.add(id(dec))
            if len(dec.args) != 1 or any(k.arg not in ("name", "title", "trains") for k in dec.keywords):
                return None
            try:
                kw = {k.arg: value(k.value) for k in dec.keywords}
                name = value(dec.args[0])
            except ValueError:
                return None
            found.append({"name": name, "title": kw.get("title"), "trains": dict(kw.get("trains") or {}),
                          "function": node.name, "doc": doc})
    if any(is_registration(n) and id(n) not in decorators for n in ast.walk(tree)):
        return None  # registered some other way: only importing tells
    return found


def _discover() -> None:
    """Register every module of this package once: from its source where that suffices, else by importing it."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for info in pkgutil.iter_modules(__path__):
        module = f"{__name__}.{info.name}"
        if info.name.startswith("_") or module in sys.modules:  # an imported module's decorators have run
            continue
        source = Path(getattr(info.module_finder, "path", "")) / f"{info.name}.py"
        declared = None if info.ispkg or not source.is_file() else declared_reproductions(source)
        if declared is None:
            importlib.import_module(module)
            continue
        for d in declared:
            if d["name"] not in _REGISTRY:
                _REGISTRY[d["name"]] = Reproduction(d["name"], d["title"], d["doc"],
                                                    _RunOnFirstCall(module, d["function"]), d["trains"])


def list_reproductions() -> list[str]:
    """Names of the registered reproductions, sorted."""
    _discover()
    return sorted(_REGISTRY)


def get_reproduction(name: str) -> Reproduction:
    """The registered reproduction ``name``; an unknown name is a ``ValueError`` listing the valid ones."""
    _discover()
    if name not in _REGISTRY:
        raise ValueError(f"unknown reproduction {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def run_reproduction(name: str, quick: bool = False, device: str | None = None, out: str | Path = None,
                     overrides: list[str] | None = None, config: dict | None = None,
                     preset: str | None = None) -> Path:
    """Run reproduction ``name`` end to end into ``out``; return the path of its ``report.md``.

    ``quick=True`` (or ``preset="quick"``) uses ``<name>_quick.yaml``, ``preset="cpu"``
    ``<name>_cpu.yaml``; ``config`` replaces the file altogether. Finished stages in
    ``out`` are reused, so re-running continues an interrupted run.
    """
    import numpy as np
    import torch

    from neuromodels.training.distributed import resolve_device

    from ..provenance import provenance
    from ..report import write_report
    from ..result_files import save_json
    from ..runner import Run

    rep = get_reproduction(name)
    preset = "quick" if quick else preset
    cfg = config if config is not None else rep.load_config(preset=preset)
    cfg = apply_overrides(cfg, list(overrides or []))
    dev = resolve_device(device or "auto")
    seed = int(cfg.get("seed", 0))
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    quick = preset == "quick"
    out = Path(out or f"results/{name}{'_' + preset if preset else ''}")
    extra = {"preset": preset} if preset not in (None, "quick") else {}
    run = Run(out, {**cfg, "quick": quick, "device": str(dev), **extra}, name)
    t0 = time.perf_counter()
    rep.run(run, cfg, dev)
    prov = provenance(seed=seed, device=str(dev), reproduction=name, quick=quick,
                      run_wall_s=round(time.perf_counter() - t0, 2))
    prov.update(extra)
    save_json(out / "provenance_run.json", prov)
    intro = rep.doc + (QUICK_NOTE if quick else "")
    return write_report(run, rep.title, intro, prov)
