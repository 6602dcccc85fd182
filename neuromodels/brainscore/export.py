"""Export a trained toolkit model as a Brain-Score vision plugin folder (and its upload zip).

A Brain-Score vision plugin is one folder (Schrimpf et al. 2020, *Integrative
benchmarking to advance neurally mechanistic models of human intelligence*, Neuron
108:413; brainscore-vision 2.x plugin layout):

``__init__.py``
    the literal one-line ``model_registry['<id>'] = lambda: ModelCommitment(...)``
    (Brain-Score locates plugins by scanning text for ``model_registry['<id>']``);
``model.py``
    builds the model with ``neuromodels.build_model``, loads its weights from a path
    or URL fixed at export time (checked against a SHA-256 digest), preprocesses
    images as in training and lists the hookable layers;
``region_layer_map/<id>.json``
    the layer committed to each of V1, V2, V4 and IT;
``requirements.txt``, ``metadata.yaml``, ``test.py``, ``export.json`` (provenance);
``vendor/neuromodels/``, ``vendor/neurocommon/``
    a copy of the toolkit's model code and of the low-level helpers it imports
    (Python sources only), so that the plugin runs in Brain-Score's environment
    (numpy<2, xarray<2022.6) where the toolkit itself cannot be installed with its
    dependencies (see ``docs/brainscore.md``).

Weights are never put in the folder: Brain-Score caps uploads at 50 MB and hosts
weights itself. The exporter writes a slim weights file (state dict, model name and
config) *next to* the folder and refuses any layout that would put weights inside.

Examples
--------
>>> from neuromodels.brainscore import export_plugin  # doctest: +SKIP
>>> result = export_plugin("lcl_v2", "runs/lcl/checkpoint.pt", identifier="lcl_v2_demo",
...                        out="plugins/lcl_v2_demo", make_zip=True)  # doctest: +SKIP
>>> result.zip_path.name  # doctest: +SKIP
'lcl_v2_demo.zip'
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import inspect
import io
import json
import os
import re
import shutil
import string
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from neurocommon.files import apply_umask, atomic_path, atomic_write_bytes, atomic_write_text
from neurocommon.sources import imported_packages

from ..training.checkpoints import CorruptCheckpointError
from ..training.checkpoints import read_checkpoint as _read_verified

__all__ = [
    "PluginExportError",
    "ExportResult",
    "REGIONS",
    "MAX_UPLOAD_BYTES",
    "export_plugin",
    "zip_plugin",
    "check_plugin_folder",
    "registry_line",
    "read_checkpoint",
    "rebuild_model",
    "resolve_image_size",
    "portable_config",
]

#: the regions a Brain-Score vision model commits layers to
REGIONS = ("V1", "V2", "V4", "IT")
#: Brain-Score's upload limit for a zip submission
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: no source file of a plugin is larger than this; anything bigger is data and does not belong there
MAX_FILE_BYTES = 1024 * 1024
#: file types that hold weights or arrays: never part of a plugin folder
WEIGHT_SUFFIXES = frozenset(
    {".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".npz", ".npy", ".h5", ".hdf5", ".onnx",
     ".pkl", ".pickle", ".tar", ".msgpack", ".nc", ".zip", ".gz"}
)
#: the toolkit's packages copied into ``vendor/`` (the model code and the helpers it imports)
VENDORED_PACKAGES = ("neuromodels", "neurocommon")
#: source files copied from the toolkit into ``vendor/``
_VENDOR_SUFFIXES = frozenset({".py", ".yaml", ".yml", ".json"})
_VENDOR_SKIP_DIRS = frozenset({"brainscore", "__pycache__", "tests"})
_IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_MANIFEST = "export.json"


class PluginExportError(ValueError):
    """The plugin cannot be exported as asked; the message says why and how to fix it."""


@dataclass
class ExportResult:
    """What :func:`export_plugin` wrote.

    Attributes
    ----------
    folder : Path
        The plugin folder (its name is the plugin's Python package name).
    weights_file : Path
        The slim weights file outside the folder (upload it for hosting).
    weights_sha256 : str
    region_layer_map : dict
        Region -> layer committed in ``region_layer_map/<identifier>.json``.
    zip_path : Path or None
        The upload zip when ``make_zip=True``.
    manifest : dict
        Contents of ``export.json``.
    """

    folder: Path
    weights_file: Path
    weights_sha256: str
    region_layer_map: dict
    zip_path: Path | None = None
    manifest: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- helpers


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _inside(path: Path, folder: Path) -> bool:
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def _publish(path, mode: int = 0o666) -> None:
    """Give a file written through ``mkstemp``/``mkdtemp`` (private) the usual permissions."""
    apply_umask(path, mode)


def _write_text(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def _is_training_checkpoint(path: Path) -> bool:
    """A trainer checkpoint: ``ckpt-<step>.pt`` or any file with a ``.sha256`` side file."""
    return bool(re.match(r"^ckpt-\d+\.pt$", path.name)) or path.with_name(path.name + ".sha256").is_file()


def _refuse_overwrite(checkpoint: Path, weights_file: Path, zip_path: Path | None, force: bool) -> None:
    """Refuse to write the weights file or the zip over files the user did not ask to replace.

    A training checkpoint is never overwritten (``force`` or not): losing it loses the
    run, and the next ``--resume`` would find it "corrupted".
    """
    sources = {checkpoint.resolve()}
    if checkpoint.is_dir():
        sources |= {p.resolve() for p in checkpoint.glob("ckpt-*.pt")}
        sources |= {p.resolve() for p in (checkpoint / "checkpoints").glob("ckpt-*.pt")}
    for what, target, flag in (("weights file", weights_file, "--weights-file"), ("zip", zip_path, "--out")):
        if target is None:
            continue
        if target.resolve() in sources or (target.exists() and _is_training_checkpoint(target)):
            raise PluginExportError(
                f"the {what} {target} would overwrite a training checkpoint; the exporter never does that "
                f"(not even with --force). Choose another {flag} path."
            )
        if target.exists() and not force:
            raise PluginExportError(
                f"the {what} {target} already exists; pass --force (force=True) to replace it, or choose "
                f"another {flag} path"
            )


def registry_line(identifier: str) -> str:
    """The literal ``model_registry['<id>'] = lambda: ModelCommitment(...)`` line of ``__init__.py``."""
    import neuromodels

    values = _literals(identifier=identifier, toolkit_version=neuromodels.__version__)
    return _render("__init__.py.tmpl", values).splitlines()[-1]


def _template(name: str) -> string.Template:
    text = resources.files("neuromodels.brainscore").joinpath("templates", name).read_text(encoding="utf-8")
    return string.Template(text)


def _render(name: str, values: dict) -> str:
    try:
        return _template(name).substitute(values)
    except KeyError as err:  # a template names a value the exporter does not provide
        raise RuntimeError(f"template {name} needs the value {err}") from None


def _literals(**values) -> dict:
    """Template values: ``<name>_repr`` is the Python literal of each value, ``<name>`` the plain text."""
    out = {}
    for key, value in values.items():
        out[f"{key}_repr"] = repr(value)
        out[key] = str(value)
    return out


def _checkpoint_file(path) -> Path:
    """A checkpoint file, or the newest ``ckpt-*.pt`` of a run folder (or its ``checkpoints/``)."""
    path = Path(path)
    if path.is_dir():
        found = sorted((path / "checkpoints").glob("ckpt-*.pt")) or sorted(path.glob("ckpt-*.pt"))
        if not found:
            raise PluginExportError(f"{path} is a folder without ckpt-*.pt checkpoints")
        return found[-1]
    if not path.is_file():
        raise PluginExportError(f"checkpoint {path} does not exist; pass the file written by the trainer")
    return path


def read_checkpoint(path) -> dict:
    """Load a toolkit checkpoint (``docs/interfaces.md``) and check its required keys.

    Returns the dict with at least ``model`` (state dict), ``model_name`` and
    ``model_config``. The file is read by the toolkit's one checkpoint reader,
    :func:`neuromodels.training.checkpoints.read_checkpoint`: its SHA-256 side file is
    checked when present, and nothing but tensors, plain values and numpy arrays is
    unpickled (a checkpoint from elsewhere never runs code here).

    Raises
    ------
    PluginExportError
        For a missing, damaged or unsafe file, or one without the required keys.
    """
    path = _checkpoint_file(path)
    try:
        return _read_verified(path, require_checksum=False, required=("model", "model_name", "model_config"))
    except (CorruptCheckpointError, FileNotFoundError) as err:
        raise PluginExportError(f"cannot export from this checkpoint: {err}") from err


def portable_config(model_config: dict) -> tuple[dict, dict]:
    """The model config with everything that points at this machine removed.

    The plugin rebuilds the model on Brain-Score's machines from the config and then
    loads the exported state dict, which already holds every weight. So
    ``pretrained=True`` becomes False (no torchvision download), and a
    ``frontend_checkpoint`` path (LCL-V2Net) becomes ``frontend_config`` = that
    checkpoint's ``model_config``. Any other config string naming an existing local
    file is refused. Returns (config, notes on what changed).
    """
    cfg, notes = dict(model_config), {}
    if cfg.get("pretrained"):
        cfg["pretrained"] = False
        notes["pretrained"] = "True -> False: the exported state dict holds the weights"
    front = cfg.get("frontend_checkpoint")
    if front:
        front_ckpt = read_checkpoint(front)
        cfg["frontend_checkpoint"] = None
        cfg["frontend_config"] = dict(front_ckpt.get("model_config") or {})
        notes["frontend_checkpoint"] = f"{front} -> frontend_config of that checkpoint"
    for key, value in cfg.items():
        if isinstance(value, str) and ("/" in value or os.sep in value) and Path(value).exists():
            raise PluginExportError(
                f"model_config[{key!r}] = {value!r} names a file on this machine, which Brain-Score's "
                "machines will not have; the exported state dict must hold everything the model needs"
            )
    return cfg, notes


def rebuild_model(model_name: str, model_config: dict, state_dict):
    """``build_model(model_name, **model_config)`` with ``state_dict`` loaded strictly, in eval mode.

    Raises
    ------
    PluginExportError
        If the config does not build the model or the weights do not fit it.
    """
    import neuromodels

    try:
        model = neuromodels.build_model(model_name, **dict(model_config))
    except (TypeError, ValueError) as err:
        raise PluginExportError(f"build_model({model_name!r}, **model_config) failed: {err}") from err
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        raise PluginExportError(
            f"the checkpoint's weights do not fit {model_name!r} built from its model_config: {err}"
        ) from err
    model.eval()
    return model


def _run_config(checkpoint) -> dict:
    """The trainer's ``config.yaml`` of the run a checkpoint belongs to (``run/checkpoints/ckpt-*.pt``), or {}."""
    import yaml

    if checkpoint is None:
        return {}
    checkpoint = Path(checkpoint)
    folders = (checkpoint,) if checkpoint.is_dir() else (checkpoint.parent, checkpoint.parent.parent)
    for folder in folders:
        path = folder / "config.yaml"
        if path.is_file():
            cfg = yaml.safe_load(path.read_text())
            return cfg if isinstance(cfg, dict) else {}
    return {}


def resolve_image_size(ckpt: dict, model, image_size: int | None = None, checkpoint=None) -> int:
    """Input size (pixels) spanning the model's visual degrees: given, else training's, else the model's.

    Order: ``image_size``; ``data.image_size`` of the training config (a ``config``
    entry of the checkpoint, or the run folder's ``config.yaml`` next to
    ``checkpoints/``: the trainer resizes images to this size, so the model learned
    at that many pixels per ``model.visual_degrees``); ``model.image_size``; the
    ``image_size`` declared with the model (``@register_model``).
    """
    from ..registry import model_info

    if image_size is None:
        cfg = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else _run_config(checkpoint)
        data_cfg = cfg.get("data", {}) if isinstance(cfg, dict) else {}
        image_size = (data_cfg or {}).get("image_size") or getattr(model, "image_size", None)
        if image_size is None and ckpt.get("model_name"):
            image_size = model_info(ckpt["model_name"]).image_size
    if image_size is None or int(image_size) < 8:
        raise PluginExportError(
            f"cannot tell the input size (pixels) that spans the model's field of view: the checkpoint has no "
            f"config.data.image_size and the model no image_size (got {image_size!r}); pass image_size "
            "(--image-size), the pixels per model.visual_degrees used in training"
        )
    return int(image_size)


def _layer_outputs(model, x, layers) -> dict:
    """Forward ``x`` once with hooks on ``layers`` (as Brain-Score's PytorchWrapper does)."""
    import torch

    modules = dict(model.named_modules())
    outputs, hooks = {}, []
    for name in layers:
        def hook(_m, _i, out, name=name):
            outputs[name] = out
        hooks.append(modules[name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    for name in layers:
        if not isinstance(outputs.get(name), torch.Tensor):
            raise PluginExportError(
                f"layer {name!r} returns {type(outputs.get(name)).__name__}; Brain-Score hooks need a "
                "tensor output. Remove it from model.layers or wrap its output in a module."
            )
    return {k: v.detach().cpu().numpy() for k, v in outputs.items()}


def _check_region_layer_map(mapping, layers) -> dict:
    if not isinstance(mapping, dict):
        raise PluginExportError(f"region_layer_map must be a dict region -> layer; got {type(mapping).__name__}")
    unknown = sorted(set(mapping) - set(REGIONS))
    if unknown:
        raise PluginExportError(f"region_layer_map has unknown regions {unknown}; allowed: {list(REGIONS)}")
    bad = {r: l for r, l in mapping.items() if l not in layers}
    if bad:
        raise PluginExportError(f"region_layer_map names layers the model does not have: {bad}; "
                                f"valid layers are {list(layers)}")
    return dict(mapping)


# ------------------------------------------------------------------- vendoring, requirements


def _vendor_toolkit(dest: Path) -> list[Path]:
    """Copy the sources of :data:`VENDORED_PACKAGES` into ``dest/<package>`` (Python, YAML, JSON only)."""
    import importlib

    copied = []
    for package in VENDORED_PACKAGES:
        src = Path(importlib.import_module(package).__file__).resolve().parent
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src)
            if not path.is_file() or path.suffix not in _VENDOR_SUFFIXES or rel.name.startswith("."):
                continue
            if any(part in _VENDOR_SKIP_DIRS or part.startswith(".") for part in rel.parts[:-1]):
                continue
            target = dest / package / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            copied.append(target)
    return copied


_PROBE = """
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("_neuromodels_plugin_probe", "model.py")
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
model = m.build_model()
import torch
x = torch.from_numpy(m.preprocess([sys.argv[1]]))
outs = {}
mods = dict(model.named_modules())
hooks = [mods[l].register_forward_hook(lambda _m, _i, o, l=l: outs.__setitem__(l, o)) for l in m.LAYERS]
with torch.no_grad():
    model(x)
fp = {l: m.fingerprint(outs[l][0].numpy(), m.REFERENCE_INDICES[l]) for l in m.LAYERS}
print(json.dumps({"modules": sorted({n.split(".")[0] for n in sys.modules}), "fingerprint": fp,
                  "toolkit": m._toolkit().__file__}))
"""


def _probe_plugin(folder: Path, image_size: int) -> dict:
    """Run the new plugin's ``model.py`` in a fresh interpreter (no Brain-Score needed).

    Builds the model from the weights file through the plugin's own code, runs the
    plugin's preprocessing on the reference image written as PNG, and returns the
    layer fingerprints, the top-level modules that were imported and the toolkit path.
    """
    import subprocess

    from PIL import Image

    from . import _reference

    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "reference.png"
        Image.fromarray(_reference.reference_image(image_size)).save(png)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        proc = subprocess.run([sys.executable, "-c", _PROBE, str(png)], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise PluginExportError(
            f"the exported model.py does not build the model in a fresh Python process:\n{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _requirements(sources, loaded_modules, toolkit_requirement=None) -> list[str]:
    """Distributions of the third-party modules the plugin's code imports and actually loaded.

    ``sources`` are the plugin's Python files (model.py and the vendored toolkit);
    ``loaded_modules`` the top-level modules present after building and running the
    model in a fresh process. Lazy imports that the model never reaches (optional
    extras such as tensorboard) are left out; lazy ones it needs (plenoptic) are kept.
    The toolkit's own packages (:data:`VENDORED_PACKAGES`) are never requirements:
    they are vendored, or installed with ``toolkit_requirement``.
    """
    from importlib.metadata import packages_distributions

    imported = set()
    for path in sources:
        if path.suffix == ".py":
            imported |= imported_packages(path.read_text(encoding="utf-8"))
    needed = (imported & set(loaded_modules)) - set(sys.stdlib_module_names) - {*VENDORED_PACKAGES, "__future__"}
    dists = packages_distributions()
    out = set()
    for name in needed:
        found = dists.get(name)
        if not found:
            raise PluginExportError(
                f"the plugin imports {name!r} but no installed distribution provides it; install it"
            )
        out.add(found[0])
    reqs = sorted(out, key=str.lower)
    return ([toolkit_requirement] if toolkit_requirement else []) + reqs


# --------------------------------------------------------------------------- folder checks


def check_plugin_folder(folder) -> int:
    """Refuse a plugin folder that holds weights or data; return its size in bytes.

    Raises
    ------
    PluginExportError
        If a file has a weight/data suffix (``.pt``, ``.ckpt``, ``.npz``, ...), a file
        is larger than 1 MiB, or the folder exceeds Brain-Score's 50 MB upload limit.
    """
    folder = Path(folder)
    total = 0
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        rel = path.relative_to(folder)
        if path.suffix.lower() in WEIGHT_SUFFIXES:
            raise PluginExportError(
                f"{rel} would be uploaded inside the plugin folder {folder}: weights and data files "
                f"({path.suffix}) never go into a plugin (Brain-Score caps uploads at 50 MB and hosts "
                "weights itself). Keep weights outside the folder and point model.py to them "
                "(--weights-file / --weights-url)."
            )
        if size > MAX_FILE_BYTES:
            raise PluginExportError(
                f"{rel} is {size / 1e6:.1f} MB, larger than any plugin source file should be "
                f"({MAX_FILE_BYTES / 1e6:.1f} MB); move it out of {folder}"
            )
    if total > MAX_UPLOAD_BYTES:
        raise PluginExportError(f"plugin folder {folder} is {total / 1e6:.1f} MB, over the 50 MB upload limit")
    return total


def zip_plugin(folder, zip_path=None, force: bool = False) -> Path:
    """Write the upload zip of a plugin folder: ``<name>_submission/models/<name>/...``.

    The layout follows the Brain-Score website's checks on a zip submission: one
    root folder holding a ``models`` folder with one folder per plugin, each with an
    ``__init__.py`` and a ``test.py``; directory entries are written explicitly.
    ``__pycache__`` is left out. The zip is written atomically and refused over 50 MB;
    an existing zip is replaced only with ``force=True``.
    """
    folder = Path(folder)
    for required in ("__init__.py", "test.py"):
        if not (folder / required).is_file():
            raise PluginExportError(f"{folder} is not a plugin folder: it has no {required}")
    check_plugin_folder(folder)
    zip_path = Path(zip_path) if zip_path is not None else folder.with_name(folder.name + ".zip")
    if _inside(zip_path, folder):
        raise PluginExportError(f"the zip {zip_path} must not be written inside the plugin folder {folder}")
    if zip_path.exists() and not force:
        raise PluginExportError(f"{zip_path} already exists; pass --force (force=True) to replace it")
    root = f"{folder.name}_submission/"
    prefix = f"{root}models/{folder.name}/"
    with atomic_path(zip_path, fsync=False) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for d in (root, f"{root}models/", prefix):
                zf.writestr(zipfile.ZipInfo(d), "")
            for path in sorted(folder.rglob("*")):
                if "__pycache__" in path.parts or path.suffix == ".pyc":
                    continue
                arc = prefix + path.relative_to(folder).as_posix()
                if path.is_dir():
                    zf.writestr(zipfile.ZipInfo(arc + "/"), "")
                else:
                    zf.write(path, arc)
        size = os.path.getsize(tmp)
        if size > MAX_UPLOAD_BYTES:
            raise PluginExportError(f"the zip would be {size / 1e6:.1f} MB, over the 50 MB upload limit")
    return zip_path


# ------------------------------------------------------------------------------- metadata


def _metadata_yaml(identifier, model_name, model, image_size, visual_degrees, training, weights_sha) -> str:
    """``metadata.yaml`` in Brain-Score's schema 2.0 (``brainscore_core.metadata.contract``)."""
    import yaml

    n_params = sum(p.numel() for p in model.parameters())
    stages = list(getattr(model, "stage_names", []) or [])
    loss = training.get("loss") if isinstance(training.get("loss"), dict) else {}
    schedule = training.get("schedule") if isinstance(training.get("schedule"), dict) else {}
    from ..registry import model_info

    kind, how = model_info(model_name).supervision or (None, None)
    entry = {
        "model": {
            "display_name": identifier,
            "version": f"weights sha256 {weights_sha[:12]}",
            "architecture": {
                "family": "convolutional_neural_network",
                "description": f"neuromodels {model_name!r} ({type(model).__name__}); layers {list(model.layers)}",
            },
            "parameter_count": int(n_params),
            "parameter_count_exact": True,
            "trainable_layers": f"{len(stages)} learned stages: {stages}" if stages else "see architecture",
            "recurrent": False,
            "input_resolution": {"channels": 3, "height": int(image_size), "width": int(image_size)},
            "visual_degrees": float(visual_degrees),
            "visual_degrees_description": (
                f"the {image_size} px input spans {visual_degrees} degrees of visual angle, the field of "
                "view the toolkit model declares (model.visual_degrees)"
            ),
            "supervision": {"type": kind, "description": how},
        },
        "training": {
            "process": f"neuromodels trainer, schedule {schedule.get('kind')}" if schedule.get("kind") else None,
            "loss": str(loss["name"]) if loss.get("name") else None,
            "preprocessing": (
                "RGB images in [0, 1] resized to the input size (bilinear, antialiased); grayscale models "
                "convert to luminance internally; no mean/std normalization outside the model"
            ),
        },
        "io": {
            "modality": "image",
            "interface": "image, layer activations",
            "input_format": "image",
            "output_format": "layer activations",
        },
        "provenance": {
            "weights_provider": "the submitter (exported with neuromodels.brainscore)",
            "checkpoint": f"{model_name} weights, sha256 {weights_sha}",
        },
        "sources": {"export": {"kind": "unreviewed", "citation": "neuromodels.brainscore export manifest"}},
    }
    doc = {"schema_version": "2.0", "domain": "vision", "models": {identifier: entry}}
    return yaml.safe_dump(doc, sort_keys=False)


# --------------------------------------------------------------------------------- export


def export_plugin(
    model_name: str,
    checkpoint,
    identifier: str,
    out,
    *,
    region_layer_map: dict | None = None,
    region_layer_source: str = "given",
    weights_file=None,
    weights_url: str | None = None,
    image_size: int | None = None,
    visual_degrees: float | None = None,
    toolkit_requirement: str | None = None,
    bibtex: str = "",
    make_zip: bool = False,
    force: bool = False,
) -> ExportResult:
    """Write a Brain-Score vision plugin folder for a trained toolkit model.

    Parameters
    ----------
    model_name : str
        Registry name (``neuromodels.list_models()``); must equal the checkpoint's ``model_name``.
    checkpoint : path
        Trainer checkpoint (``docs/interfaces.md``: ``model``, ``model_name``, ``model_config``).
    identifier : str
        Brain-Score model identifier (letters, digits, ``_ . -``).
    out : path
        The plugin folder to create; its name is the plugin's package name and must be a
        Python identifier. It must not exist (or ``force=True`` and it is a previous export).
    region_layer_map : dict, optional
        Region (V1, V2, V4, IT) -> layer. Missing regions get the deepest layer (recorded in
        ``export.json``). Default: every region gets the deepest layer.
    region_layer_source : str
        How the map was chosen, for ``export.json`` (``"given"``, ``"predictivity"``, ...).
    weights_file : path, optional
        Where the slim weights file is written (default ``<out>.weights.pt`` next to the
        folder). Refused inside ``out``.
    weights_url : str, optional
        URL where that file will be hosted; ``model.py`` downloads it when the local file
        is absent (the case on Brain-Score's servers).
    image_size : int, optional
        Input size in pixels that spans ``visual_degrees``. Default: the training
        config's ``data.image_size`` stored in the checkpoint, else ``model.image_size``.
    visual_degrees : float, optional
        Default ``model.visual_degrees``.
    toolkit_requirement : str, optional
        A pip requirement for the toolkit (e.g. ``"neuromodels @ git+https://..."``). When
        given, the toolkit is *not* vendored and this line goes to ``requirements.txt``.
    bibtex : str
        Citation returned by ``model.get_bibtex``.
    make_zip : bool
        Also write the upload zip (:func:`zip_plugin`) next to the folder.
    force : bool
        Replace an existing folder written by a previous export.

    Returns
    -------
    ExportResult

    Raises
    ------
    PluginExportError
        For every input that cannot make a valid plugin (the message says how to fix it),
        in particular when weights would end up inside the plugin folder.
    """
    import numpy as np
    import torch

    import neuromodels

    out = Path(out)
    checkpoint = Path(checkpoint)
    if not _IDENTIFIER_RE.match(identifier or ""):
        raise PluginExportError(
            f"identifier {identifier!r} is not usable: use letters, digits, '_', '.', '-' "
            "(Brain-Score parses it out of the registry line)"
        )
    if not out.name.isidentifier():
        raise PluginExportError(
            f"the plugin folder name {out.name!r} must be a Python identifier (Brain-Score imports it as "
            f"brainscore_vision.models.<name>); e.g. {re.sub(r'[^0-9A-Za-z_]', '_', out.name).lstrip('0123456789') or 'plugin'!r}"
        )
    if _inside(checkpoint, out):
        raise PluginExportError(
            f"the checkpoint {checkpoint} lies inside the plugin folder {out} and would be uploaded with "
            "it: weights never go into a plugin (50 MB upload cap; Brain-Score hosts weights). Move it out."
        )
    weights_file = Path(weights_file) if weights_file is not None else out.with_name(out.name + ".weights.pt")
    if _inside(weights_file, out):
        raise PluginExportError(
            f"weights file {weights_file} would be written inside the plugin folder {out}: weights never go "
            "into a plugin (50 MB upload cap; Brain-Score hosts weights). Choose a path outside it."
        )
    if weights_url is not None and not re.match(r"^https?://", weights_url):
        raise PluginExportError(f"weights_url must be an http(s) URL; got {weights_url!r}")
    _refuse_overwrite(checkpoint, weights_file, out.with_name(out.name + ".zip") if make_zip else None, force)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise PluginExportError(f"{out} exists and is not empty; choose a new folder or pass force=True")
        if not (out / _MANIFEST).is_file():
            raise PluginExportError(f"{out} exists and was not written by this exporter; refusing to replace it")

    checkpoint = _checkpoint_file(checkpoint)
    ckpt = read_checkpoint(checkpoint)
    if ckpt["model_name"] != model_name:
        raise PluginExportError(
            f"the checkpoint holds model {ckpt['model_name']!r}, not {model_name!r}; pass the matching name"
        )
    if model_name not in neuromodels.list_models():
        raise PluginExportError(f"unknown model {model_name!r}; registered: {neuromodels.list_models()}")
    model_config, config_notes = portable_config(ckpt["model_config"])
    model = rebuild_model(model_name, model_config, ckpt["model"])
    layers = list(getattr(model, "layers", []) or [])
    if not layers:
        raise PluginExportError(f"{model_name!r} lists no hookable layers (model.layers is empty)")
    visual_degrees = float(visual_degrees if visual_degrees is not None else getattr(model, "visual_degrees", 0))
    if not 0 < visual_degrees < 9000:
        raise PluginExportError(f"visual_degrees must lie in (0, 9000); got {visual_degrees}")
    in_channels = int(getattr(model, "in_channels", 1))
    image_size = resolve_image_size(ckpt, model, image_size, checkpoint)

    notes = {}
    mapping = _check_region_layer_map(region_layer_map or {}, layers)
    declared = neuromodels.registry.model_info(model_name).region_layers
    for region in REGIONS:
        if region in mapping:
            continue
        if declared.get(region) in layers:
            mapping[region] = declared[region]
            notes[region] = "no data or map given: the model's declared default (@register_model region_layers)"
        else:
            mapping[region] = layers[-1]
            notes[region] = "no data or map given: deepest layer"
    mapping = {r: mapping[r] for r in REGIONS}

    # the slim weights file, outside the folder
    state = {
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_name": model_name,
        "model_config": model_config,
        "neuromodels_version": neuromodels.__version__,
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(weights_file, buf.getvalue())
    weights_sha = _sha256(weights_file)

    # what the toolkit computes on the reference image at the plugin's input size
    from . import _reference

    ref = _reference.reference_image(image_size)
    x = torch.from_numpy(ref.astype("float32") / 255.0).permute(2, 0, 1)[None]
    acts = _layer_outputs(model, x, layers)
    expected = {l: int(a[0].size) for l, a in acts.items()}
    indices = {l: _reference.reference_indices(expected[l]) for l in layers}
    finger = {l: _reference.fingerprint(acts[l][0], indices[l]) for l in layers}

    config_json = json.dumps(model_config, sort_keys=True)
    values = _literals(
        identifier=identifier,
        model_name=model_name,
        layers=layers,
        visual_degrees=visual_degrees,
        image_size=image_size,
        in_channels=in_channels,
        weights_path=str(weights_file.resolve()),
        weights_url=weights_url,
        weights_sha256=weights_sha,
        toolkit="installed" if toolkit_requirement else "vendored",
        toolkit_version=neuromodels.__version__,
        expected_features=expected,
        reference_indices=indices,
        reference_fingerprint=finger,
        bibtex=bibtex,
    )
    values["model_config_json"] = repr(config_json)
    values["export_date"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    values["reference_source"] = "\n\n".join(
        inspect.getsource(f).rstrip() for f in (_reference.reference_image, _reference.fingerprint, _reference.fingerprints_match)
    )
    training = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else _run_config(checkpoint)
    values["metadata_yaml"] = _metadata_yaml(
        identifier, model_name, model, image_size, visual_degrees, training, weights_sha
    ).rstrip()

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write_text(staging / "__init__.py", _render("__init__.py.tmpl", values))
        _write_text(staging / "model.py", _render("model.py.tmpl", values))
        _write_text(staging / "test.py", _render("test.py.tmpl", values))
        _write_text(staging / "metadata.yaml", _render("metadata.yaml.tmpl", values))
        _write_text(staging / "region_layer_map" / f"{identifier}.json", json.dumps(mapping, indent=2) + "\n")
        sources = [staging / "model.py"]
        if not toolkit_requirement:
            sources += _vendor_toolkit(staging / "vendor")
        probe = _probe_plugin(staging, image_size)
        for layer in layers:
            if not _reference.fingerprints_match(probe["fingerprint"][layer], finger[layer], expected[layer]):
                raise PluginExportError(
                    f"the plugin's preprocessing and weights do not reproduce the toolkit's response of "
                    f"layer {layer!r} to the reference image: {probe['fingerprint'][layer][:4]} vs "
                    f"{finger[layer][:4]} (sum, sum of squares, ...)"
                )
        requirements = _requirements(sources, probe["modules"], toolkit_requirement)
        _write_text(
            staging / "requirements.txt",
            "# third-party packages the plugin needs (the toolkit code is "
            + ("installed from the first line" if toolkit_requirement else "vendored in vendor/")
            + ")\n" + "\n".join(requirements) + "\n",
        )
        manifest = {
            "identifier": identifier,
            "exported_by": f"neuromodels {neuromodels.__version__}",
            "export_date": values["export_date"],
            "model_name": model_name,
            "model_config": model_config,
            "model_config_changes": config_notes,
            "checkpoint": {"path": str(checkpoint.resolve()), "sha256": _sha256(checkpoint)},
            "weights": {"path": str(weights_file.resolve()), "sha256": weights_sha, "url": weights_url},
            "image_size": image_size,
            "visual_degrees": visual_degrees,
            "in_channels": in_channels,
            "layers": layers,
            "region_layer_map": mapping,
            "region_layer_source": region_layer_source,
            "region_layer_notes": notes,
            "toolkit": "installed" if toolkit_requirement else "vendored",
            "requirements": requirements,
        }
        _write_text(staging / _MANIFEST, json.dumps(manifest, indent=2) + "\n")
        check_plugin_folder(staging)
        _publish(staging, 0o777)
        if out.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, backup / out.name)
            os.replace(staging, out)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    zip_path = zip_plugin(out, force=True) if make_zip else None  # checked before any work
    return ExportResult(out, weights_file, weights_sha, mapping, zip_path, manifest)
