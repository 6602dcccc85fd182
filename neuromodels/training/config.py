"""Training configuration: OmegaConf structured configs, YAML files, dotlist overrides, checks.

A run is described by one YAML file whose top-level sections map onto the
dataclasses below (:class:`TrainConfig` and its parts): they are the schema of an
OmegaConf *structured config* (``OmegaConf.structured(TrainConfig)``), so every key
has a declared type, unknown keys are refused, and values are converted to their
field's type where that is lossless. Every default is documented once, here.

``load_config(path, overrides)`` reads the file (PyYAML: a syntax error names the
file, line and column), merges it into the schema (``OmegaConf.merge``), applies
dotted overrides such as ``optim.lr=0.01`` or ``schedule.steps=20``
(``OmegaConf.update``; values parsed as YAML by :func:`parse_override`, so ``true``,
``1e-3`` and ``[1, 2]`` work and a malformed ``[16,`` is an error), resolves
interpolations (``run.out_dir: runs/${model}_seed${run.seed}``) and returns plain
dataclasses (``OmegaConf.to_object``) after the single-value and cross-field
checks. :func:`validate` checks the result against the model and loss registries
before any work is done, with messages that list the valid choices. Every OmegaConf
error becomes one :class:`ConfigError` naming the source (file or override), the
key, what was expected, what came, and how to write it.

Examples
--------
>>> cfg = config_from_dict({"model": "lcl_v2", "schedule": {"kind": "layerwise", "steps": 5}})
>>> cfg.schedule.steps
5
>>> load_config(None, ["run.seed=3", "run.out_dir=runs/${model}_seed${run.seed}"]).run.out_dir
'runs/lcl_v2_seed3'
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints

import yaml

# omegaconf is imported inside the functions that load configs: the model code (vendored into
# Brain-Score plugins, whose environment has no omegaconf) and these dataclasses do not need it.
if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = [
    "ConfigError",
    "ScheduleConfig",
    "LossConfig",
    "AugmentConfig",
    "DataConfig",
    "OptimConfig",
    "RunConfig",
    "TrainConfig",
    "SCHEDULES",
    "structured_config",
    "config_from_node",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "apply_overrides",
    "parse_override",
    "read_yaml_file",
    "validate",
]

#: schedule kinds understood by :func:`neuromodels.training.schedules.build_phases`
SCHEDULES = ("layerwise", "end_to_end", "progressive_freezing")
OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine")
DATA_SOURCES = ("bundled", "bundled_textures", "texture_families", "folder")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")


_EXPONENT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


class ConfigError(ValueError):
    """A training configuration is invalid; the message says what and how to fix it."""


@dataclass
class ScheduleConfig:
    """Which stages are trained, in which order, for how many steps.

    Attributes
    ----------
    kind
        ``"layerwise"`` (one stage at a time, earlier stages frozen; Parthasarathy,
        Hénaff & Simoncelli 2023), ``"end_to_end"`` (one loss at the top stage,
        backpropagation through all stages) or ``"progressive_freezing"`` (all stages
        trained with the top loss, stages frozen in depth order at ``freeze_steps``,
        as in LayerLock).
    stages
        Stage names to train (layerwise: in this order; end_to_end and
        progressive_freezing: the last one carries the loss). ``None``: all of
        ``model.stage_names``.
    steps
        Optimizer steps: per stage for ``layerwise`` (an int for every stage, or a
        mapping ``{stage: steps}``), in total for the other two kinds.
    freeze_steps
        ``progressive_freezing`` only: global step after which stage 1, 2, ... is
        frozen (strictly increasing, fewer entries than trained stages).
    """

    kind: str = "layerwise"
    stages: list[str] | None = None
    steps: Any = 100
    freeze_steps: list[int] = field(default_factory=list)


@dataclass
class LossConfig:
    """The local loss of every stage (``neuromodels.losses.build_loss(name, **options)``).

    Attributes
    ----------
    name
        A registered loss (``neuromodels.losses.list_losses()``).
    options
        Keyword arguments of the loss.
    per_stage
        Optional ``{stage_name: {"name": ..., **options}}`` replacing the loss of
        that stage.
    """

    name: str = "lcl"
    options: dict = field(default_factory=dict)
    per_stage: dict = field(default_factory=dict)


@dataclass
class AugmentConfig:
    """Local deformations that make the views of each image (made on the device).

    Attributes
    ----------
    deform
        Make views by local deformation (``neuromodels.augment.LocalDeformation``).
        ``False``: the views are the crops of the data (``data.crops_per_image``).
    views
        Number of deformed views per patch when the data gives one crop per image.
    matched
        Complexity matching: the amplitude for stage ℓ is
        ``matched_amplitude(model, ℓ, c)`` = ``c`` × its receptive-field size and the
        cell size of the random grid is ``cell_c`` × that size (pixels). ``False``
        (the unmatched ablation): ``amplitude`` and ``cell_size`` for every stage.
    c, cell_c
        Proportionality constants of complexity matching (dimensionless).
    amplitude, cell_size
        Unmatched amplitude (pixels of displacement) and cell size (pixels).
    translation
        Global random translation of each view (pixels).
    chunk_size
        Images per random-number stream. The draws of chunk ``c`` of step ``t`` come
        from a generator seeded by ``(seed, t, c)``, chunks counted over the global
        batch, so with a ``chunk_size`` that divides the per-process batch the
        views do not depend on the number of processes. ``0``: one chunk per
        process.
    """

    deform: bool = True
    views: int = 2
    matched: bool = True
    c: float = 0.05
    cell_c: float = 0.5
    amplitude: float = 1.0
    cell_size: float = 8.0
    translation: float = 0.0
    chunk_size: int = 0


@dataclass
class DataConfig:
    """Where training patches come from (:mod:`neuromodels.data`).

    Attributes
    ----------
    source
        ``"bundled"`` (natural images shipped inside scikit-image and plenoptic),
        ``"bundled_textures"`` (brick, grass, gravel, reptile_skin),
        ``"texture_families"`` (Portilla–Simoncelli syntheses from homogeneous crops
        of the bundled natural images, :mod:`neuromodels.texture_families`; the
        bundled textures are held out for evaluation) or ``"folder"``.
    images
        Names of bundled images (``None``: all), see ``neuromodels.data.BUNDLED``;
        for ``texture_families`` the training families (``"camera_0"``, ...).
    folder
        Image folder for ``source="folder"`` (searched recursively); the synthesis
        cache for ``texture_families`` (default ``~/.cache/neuromodels/texture_families``).
    image_size
        Resize each image so that its short side has this many pixels (``None``: keep).
    patch_size
        Side of the square training patches (pixels).
    batch_size
        Global batch: images per optimizer step over all processes.
    crops_per_image
        Crops of the same image per batch entry (texture training); the images of
        one batch are then distinct.
    num_workers
        DataLoader worker processes (useful for image folders on disk).
    """

    source: str = "bundled"
    images: list[str] | None = None
    folder: str | None = None
    image_size: int | None = 256
    patch_size: int = 32
    batch_size: int = 32
    crops_per_image: int = 1
    num_workers: int = 0


@dataclass
class OptimConfig:
    """Optimizer and learning-rate schedule (one optimizer per layerwise stage).

    Attributes
    ----------
    name
        ``"adam"``, ``"adamw"`` or ``"sgd"``.
    lr
        Peak learning rate (> 0).
    weight_decay, momentum
        Usual meanings (``momentum`` for SGD only).
    lr_schedule
        ``"constant"`` or ``"cosine"`` (cosine decay to 0 over the optimizer's steps).
    warmup_steps
        Linear warm-up steps at the start of each optimizer's span.
    grad_clip
        Clip the gradient norm to this value (``0``: off).
    """

    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    grad_clip: float = 0.0


@dataclass
class RunConfig:
    """Where the run goes, on what device, with which safety nets.

    Attributes
    ----------
    out_dir
        Run folder (config, provenance, metrics, checkpoints).
    seed
        Seed of model initialization, data sampling and deformations.
    device
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    precision
        ``"auto"`` (bf16 autocast on CUDA, fp32 on CPU), ``"fp32"`` or ``"bf16"``.
    channels_last
        Use the channels-last memory format (``None``: on CUDA only).
    checkpoint_every
        Write a checkpoint every this many steps (``0``: only at the end).
    keep_checkpoints
        Checkpoints kept on disk (the newest ones).
    deterministic
        ``torch.use_deterministic_algorithms(True)``; on CPU a resumed run is then
        bitwise identical to an uninterrupted one.
    progress
        Show a tqdm progress bar (rank 0).
    count_flops
        Count the FLOPs of the first step of each phase (``FlopCounterMode``).
    tensorboard
        Also write the per-step metrics to TensorBoard event files in
        ``<out_dir>/tensorboard`` (needs the optional ``tensorboard`` package).
    model_modules
        Extra modules to import before building the model (to register your own
        models or losses).
    """

    out_dir: str = "runs/train"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool | None = None
    checkpoint_every: int = 50
    keep_checkpoints: int = 3
    deterministic: bool = True
    progress: bool = True
    count_flops: bool = True
    tensorboard: bool = False
    model_modules: list[str] = field(default_factory=list)


@dataclass
class TrainConfig:
    """A whole training run.

    Attributes
    ----------
    model
        Registered model name (``neuromodels.list_models()``).
    model_config
        Keyword arguments of ``neuromodels.build_model``.
    schedule, loss, augment, data, optim, run
        See :class:`ScheduleConfig`, :class:`LossConfig`, :class:`AugmentConfig`,
        :class:`DataConfig`, :class:`OptimConfig`, :class:`RunConfig`.
    """

    model: str = "lcl_v2"
    model_config: dict = field(default_factory=dict)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)


_SECTIONS = {
    "schedule": ScheduleConfig,
    "loss": LossConfig,
    "augment": AugmentConfig,
    "data": DataConfig,
    "optim": OptimConfig,
    "run": RunConfig,
}


def structured_config(values: dict | None = None, overrides: list[str] | None = None, *,
                      source: str = "config") -> DictConfig:
    """The OmegaConf structured config of a run: :class:`TrainConfig` typed, merged, overridden.

    The schema is ``OmegaConf.structured(TrainConfig)``: every key and its type come
    from the dataclasses, unknown keys are refused, values are converted to the field's
    type where that is lossless (``"1e-3"`` → 0.001 for a float, ``"8"`` → 8 for an
    int). ``values`` are merged into the defaults (``OmegaConf.merge``), then each
    override is applied with ``OmegaConf.update``: a mapping given to a section
    (``optim={lr: 0.01, name: sgd}``) is merged into it, a mapping given to a free-form
    field (``model_config``, ``loss.options``, ``loss.per_stage``) replaces it.
    Interpolations (``run.out_dir: runs/${model}_seed${run.seed}``) stay unresolved
    here, so an override of ``run.seed`` reaches every key that refers to it; they are
    resolved by :func:`config_from_node`.

    Parameters
    ----------
    values
        Nested mappings, as read from a YAML file (``None``: the defaults).
    overrides
        Dotted ``key=value`` strings (:func:`parse_override`), applied in order.
    source
        How errors name where ``values`` came from (e.g. ``"config file 'a.yaml'"``).

    Returns
    -------
    omegaconf.DictConfig
        Typed (struct mode: assigning an unknown key raises), not yet range-checked.

    Raises
    ------
    ConfigError
        For an unknown key, a value of the wrong type, or a malformed override; the
        message names the source, the key, what was expected and what came.

    Examples
    --------
    >>> node = structured_config({"optim": {"lr": "1e-2"}}, ["run.out_dir=runs/${model}_s${run.seed}", "run.seed=3"])
    >>> node.optim.lr, node.run.out_dir
    (0.01, 'runs/lcl_v2_s3')
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    node = OmegaConf.structured(TrainConfig)
    if values is not None:
        values = _sections_as_mappings(values, source)
        try:
            node = OmegaConf.merge(node, values)
        except OmegaConfBaseException as err:
            raise _config_error(err, source, values) from None
        except TypeError:  # "Cannot merge incompatible container types": a list where a mapping belongs or back
            raise _container_mismatch(values, source) from None
    for item in overrides or []:
        _apply_override(node, item)
    return node


def config_from_node(node: DictConfig) -> TrainConfig:
    """Resolve a structured config into plain :class:`TrainConfig` dataclasses and check its values.

    ``OmegaConf.to_object`` resolves the interpolations and instantiates the
    dataclasses (free-form fields become plain dicts and lists), then the single-value
    and cross-field checks run (:func:`validate` adds those that need the registries).

    Raises
    ------
    ConfigError
        For an interpolation that cannot be resolved or a value out of range.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        cfg = OmegaConf.to_object(node)
    except OmegaConfBaseException as err:
        raise _config_error(err, "config", OmegaConf.to_container(node, resolve=False)) from None
    _check_values(cfg)
    return cfg


def config_from_dict(values: dict) -> TrainConfig:
    """Build a :class:`TrainConfig` from nested mappings (unknown keys and wrong types are an error)."""
    return config_from_node(structured_config(values))


def config_to_dict(cfg: TrainConfig) -> dict:
    """The resolved configuration as plain nested dicts (what the run folder stores)."""
    return dataclasses.asdict(cfg)


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split one ``dotted.key=value`` override into its key path and its value (parsed as YAML).

    The one override parser of the toolkit (training configs and reproduction configs).
    Values are read as YAML, so ``true``, ``1e-3`` and ``[16, 32]`` are typed; a value
    that is not valid YAML (``[16,``) is an error rather than a silent string. To pass
    text that YAML cannot read, quote it: ``run.out_dir='"a: b"'``. (OmegaConf's own
    ``from_dotlist`` would read ``[16,`` as the string ``'[16,'``.)

    Raises
    ------
    ConfigError
        If ``item`` has no ``=``, an empty key part, or a value that is not valid YAML.

    Examples
    --------
    >>> parse_override("model_config.channels=[16, 32]")
    (['model_config', 'channels'], [16, 32])
    >>> parse_override("optim.lr=1e-3")
    (['optim', 'lr'], 0.001)
    """
    if not isinstance(item, str) or "=" not in item:
        raise ConfigError(
            f"override {item!r} is not of the form key=value (e.g. optim.lr=0.01 or schedule.steps=20)"
        )
    key, text = item.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override {item!r}: the key {key!r} has an empty part; write section.key=value")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(
            f"override {item!r}: the value {text!r} is not valid YAML ({problem}); write lists as [16, 32], "
            f"mappings as {{a: 1}}, or quote text: {key}='\"{text}\"'"
        ) from None
    return parts, _number(value)


def read_yaml_file(path: str | Path, what: str = "config file") -> Any:
    """Read one YAML file; a syntax error names the file, the line and the column.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable or not valid YAML.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {str(path)!r} does not exist")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {str(path)!r} is not a text file ({err.reason})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{what} {str(path)!r} is not valid YAML{where}: {problem}") from None


def _number(value):
    """YAML 1.1 reads ``1e-3`` as a string; read such strings as floats."""
    if isinstance(value, str) and _EXPONENT.match(value.strip()):
        return float(value)
    return value


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` overrides to a nested dict (a new dict is returned).

    The dict is merged into the structured config first, so the result holds every
    key (defaults included); interpolations are left unresolved.

    Raises
    ------
    ConfigError
        If an override is malformed, names an unknown section/key, or gives a value of
        the wrong type.
    """
    from omegaconf import OmegaConf

    node = structured_config(values or {}, overrides)
    return OmegaConf.to_container(node, resolve=False)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML training config, apply ``key=value`` overrides, check the values.

    The file is read with PyYAML (a syntax error names the file, line and column),
    merged into the structured config (:func:`structured_config`), overridden, resolved
    into plain dataclasses and checked (:func:`config_from_node`).

    Parameters
    ----------
    path
        YAML file (``None``: start from the defaults).
    overrides
        Dotted ``key=value`` strings, applied in order.

    Raises
    ------
    ConfigError
        On a missing file, unknown keys, wrong types or out-of-range values.
    """
    values: dict = {}
    source = "config"
    if path is not None:
        path = Path(path)
        source = f"config file {str(path)!r}"
        values = read_yaml_file(path) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{source} must hold a mapping at the top level")
    return config_from_node(structured_config(values, overrides, source=source))


# -- OmegaConf errors as ConfigError ------------------------------------------------
def _sections_as_mappings(values, source: str) -> dict:
    """An empty section (``optim:`` in YAML) means its defaults; anything but a mapping is refused."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{source}: the config must be a mapping of sections; got {values!r}")
    out = dict(values)
    for name in _SECTIONS:
        if name in out and out[name] is None:
            del out[name]
        elif name in out and not isinstance(out[name], Mapping):
            raise ConfigError(f"{source}: config section {name!r} must be a mapping; got {out[name]!r}")
    return out


def _apply_override(node: DictConfig, item: str) -> None:
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    parts, value = parse_override(item)
    key = ".".join(parts)
    source = f"override {item!r}"
    for i in range(1, len(parts)):
        prefix = ".".join(parts[:i])
        here = OmegaConf.select(node, prefix, throw_on_resolution_failure=False)
        if here is not None and not isinstance(here, DictConfig):
            raise ConfigError(
                f"{source}: {prefix} holds a value ({here!r}), not a section with keys; write {prefix}=<value>"
            )
    target = OmegaConf.select(node, key, throw_on_resolution_failure=False)
    merge = (isinstance(value, dict) and isinstance(target, DictConfig)
             and dataclasses.is_dataclass(OmegaConf.get_type(target)))
    try:
        OmegaConf.update(node, key, value, merge=merge)
    except OmegaConfBaseException as err:
        raise _config_error(err, source, value, prefix=key) from None


def _container_mismatch(values: dict, source: str) -> ConfigError:
    """The first key whose value is a list where the schema has a mapping (or a mapping where it has a list)."""
    for key, value in values.items():
        items = value.items() if key in _SECTIONS and isinstance(value, Mapping) else [(None, value)]
        for sub, v in items:
            parts = [key] if sub is None else [key, sub]
            inner, _ = _optional(_field_type(parts))
            wants_list = inner is list or get_origin(inner) is list
            wants_dict = inner is dict or get_origin(inner) is dict
            if (wants_list and isinstance(v, Mapping)) or (wants_dict and isinstance(v, (list, tuple))):
                words, example = _expected(_field_type(parts))
                full_key = ".".join(parts)
                return ConfigError(f"{source}: {full_key} must be {words}; got {v!r} ({type(v).__name__}); "
                                   f"write e.g. {full_key}={example}")
    return ConfigError(f"{source}: a list is given where the config has a mapping, or a mapping where it has a list")


_KEY_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _key_parts(full_key: str) -> list:
    """``'schedule.freeze_steps[0]'`` → ``['schedule', 'freeze_steps', 0]``."""
    return [int(index) if index else name for name, index in _KEY_PART.findall(full_key or "")]


_MISSING = object()


def _lookup(values, parts: list):
    node = values
    for part in parts:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return node


def _optional(tp) -> tuple[Any, bool]:
    if get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
        rest = [a for a in get_args(tp) if a is not type(None)]
        return (rest[0] if len(rest) == 1 else Any), True
    return tp, False


def _field_type(parts: list):
    """The declared type of a key of :class:`TrainConfig` (``None`` where the schema has none)."""
    tp = TrainConfig
    for part in parts:
        tp, _ = _optional(tp)
        if dataclasses.is_dataclass(tp) and isinstance(part, str):
            tp = get_type_hints(tp).get(part)
        elif get_origin(tp) is list and isinstance(part, int):
            tp = (get_args(tp) or (Any,))[0]
        else:
            return None
        if tp is None:
            return None
    return tp


_WORDS = {int: ("an integer", "8", "integers"), float: ("a number", "0.5", "numbers"),
          bool: ("true or false", "true", "booleans"), str: ("text", "name", "strings")}


def _expected(tp) -> tuple[str, str]:
    """What a value of type ``tp`` must be, in words, and an example of it."""
    inner, optional = _optional(tp)
    if inner in _WORDS:
        words, example = _WORDS[inner][:2]
    elif inner is list or get_origin(inner) is list:
        elem = (get_args(inner) or (None,))[0]
        plural = _WORDS.get(elem, (None, None, "values"))[2]
        words, example = f"a list of {plural}", "[a, b]" if elem is str else "[1, 2]"
    elif inner is dict or get_origin(inner) is dict:
        words, example = "a mapping", "{a: 1}"
    elif dataclasses.is_dataclass(inner):
        words, example = "a mapping (a config section)", "{key: value}"
    else:
        return "a valid value", "<value>"
    return (f"{words} or null" if optional else words), example


def _config_error(err: Exception, source: str, given, prefix: str = "") -> ConfigError:
    """One clear :class:`ConfigError` for an OmegaConf error: source, key, expected, got, how to fix."""
    from omegaconf.errors import (
        ConfigAttributeError,
        ConfigKeyError,
        GrammarParseError,
        InterpolationResolutionError,
        UnsupportedValueType,
        ValidationError,
    )

    full_key = str(getattr(err, "full_key", None) or "")
    parts = _key_parts(full_key)
    detail = str(err).splitlines()[0] if str(err) else type(err).__name__
    rel = parts[len(_key_parts(prefix)):] if prefix and full_key.startswith(prefix) else parts
    got = _lookup(given, rel) if prefix or given is not None else _MISSING
    if prefix and full_key == prefix:
        got = given
    obj = getattr(err, "object_type", None)
    if isinstance(err, (ConfigKeyError, ConfigAttributeError)) and dataclasses.is_dataclass(obj) and parts:
        valid = ", ".join(f.name for f in dataclasses.fields(obj))
        where = ".".join(map(str, parts[:-1])) or "top level"
        if source.startswith("override"):
            return ConfigError(f"{source}: unknown key {parts[-1]!r} in {where}; valid keys are: {valid}")
        level = _lookup(given, parts[:-1])
        unknown = [k for k in level if k not in {f.name for f in dataclasses.fields(obj)}] \
            if isinstance(level, dict) else [parts[-1]]
        return ConfigError(
            f"{source}: unknown key(s) {unknown or [parts[-1]]} in config section {where!r}; valid keys are: {valid}"
        )
    if isinstance(err, (InterpolationResolutionError, GrammarParseError)):
        raw = "" if got is _MISSING else f" {got!r}"
        return ConfigError(
            f"{source}: {full_key}: cannot resolve the interpolation{raw} ({detail}); an interpolation names "
            "another key of the config, e.g. run.out_dir: runs/${model}_seed${run.seed}"
        )
    if isinstance(err, UnsupportedValueType):
        shown = "a value" if got is _MISSING else f"{got!r} ({type(got).__name__})"
        return ConfigError(
            f"{source}: {full_key or 'a value'} is {shown}, which a config cannot hold (numbers, text, true/false, "
            f"null, lists and mappings only); quote it in YAML to pass it as text"
        )
    if isinstance(err, ValidationError) and full_key:
        words, example = _expected(_field_type(parts))
        shown = "" if got is _MISSING else f"; got {got!r} ({type(got).__name__})"
        return ConfigError(f"{source}: {full_key} must be {words}{shown}; write e.g. {full_key}={example}")
    return ConfigError(f"{source}: {full_key + ': ' if full_key else ''}{detail}")


def _choice(value, valid, where):
    if value not in valid:
        raise ConfigError(f"{where}={value!r} is not valid; choose one of: {', '.join(map(str, valid))}")


def _positive_int(value, where, allow_zero=False):
    ok = isinstance(value, int) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        need = "a non-negative" if allow_zero else "a positive"
        raise ConfigError(f"{where} must be {need} integer; got {value!r}")


def _check_values(cfg: TrainConfig) -> None:
    """Checks that need no registry: types and ranges of single values."""
    if not isinstance(cfg.model, str):
        raise ConfigError(f"model must be a registered model name (str); got {cfg.model!r}")
    if not isinstance(cfg.model_config, dict):
        raise ConfigError(f"model_config must be a mapping of build_model keyword arguments; got {cfg.model_config!r}")
    s = cfg.schedule
    _choice(s.kind, SCHEDULES, "schedule.kind")
    if isinstance(s.steps, dict):
        for k, v in s.steps.items():
            _positive_int(v, f"schedule.steps[{k!r}]")
        if s.kind != "layerwise":
            raise ConfigError("schedule.steps may be a per-stage mapping only for schedule.kind=layerwise")
    else:
        _positive_int(s.steps, "schedule.steps")
    if s.stages is not None and (not isinstance(s.stages, list) or not s.stages):
        raise ConfigError(f"schedule.stages must be a non-empty list of stage names or null; got {s.stages!r}")
    if not isinstance(s.freeze_steps, list):
        raise ConfigError(f"schedule.freeze_steps must be a list of steps; got {s.freeze_steps!r}")
    for v in s.freeze_steps:
        _positive_int(v, "schedule.freeze_steps entries")
    if s.freeze_steps and s.kind != "progressive_freezing":
        raise ConfigError("schedule.freeze_steps is only used with schedule.kind=progressive_freezing")
    if any(b <= a for a, b in zip(s.freeze_steps, s.freeze_steps[1:])):
        raise ConfigError(f"schedule.freeze_steps must be strictly increasing; got {s.freeze_steps}")
    if s.kind == "progressive_freezing" and s.freeze_steps and s.freeze_steps[-1] >= s.steps:
        raise ConfigError(
            f"schedule.freeze_steps {s.freeze_steps} must all be below schedule.steps={s.steps}"
        )
    if not isinstance(cfg.loss.name, str):
        raise ConfigError(f"loss.name must be a loss name; got {cfg.loss.name!r}")
    a = cfg.augment
    _positive_int(a.views, "augment.views")
    _positive_int(a.chunk_size, "augment.chunk_size", allow_zero=True)
    for name in ("c", "cell_c", "amplitude", "cell_size"):
        v = getattr(a, name)
        if not isinstance(v, (int, float)) or not v > 0:
            raise ConfigError(f"augment.{name} must be a positive number; got {v!r}")
    if not isinstance(a.translation, (int, float)) or a.translation < 0:
        raise ConfigError(f"augment.translation must be >= 0 pixels; got {a.translation!r}")
    d = cfg.data
    _choice(d.source, DATA_SOURCES, "data.source")
    if d.source == "folder" and not d.folder:
        raise ConfigError("data.source=folder needs data.folder (a directory of images)")
    _positive_int(d.patch_size, "data.patch_size")
    _positive_int(d.batch_size, "data.batch_size")
    _positive_int(d.crops_per_image, "data.crops_per_image")
    _positive_int(d.num_workers, "data.num_workers", allow_zero=True)
    if d.image_size is not None:
        _positive_int(d.image_size, "data.image_size")
        if d.image_size < d.patch_size:
            raise ConfigError(f"data.image_size={d.image_size} is smaller than data.patch_size={d.patch_size}")
    if not cfg.augment.deform and d.crops_per_image < 2:
        raise ConfigError(
            "augment.deform=false needs data.crops_per_image >= 2 (the views are then the crops); "
            f"got crops_per_image={d.crops_per_image}"
        )
    o = cfg.optim
    _choice(o.name, OPTIMIZERS, "optim.name")
    _choice(o.lr_schedule, LR_SCHEDULES, "optim.lr_schedule")
    if not isinstance(o.lr, (int, float)) or not math.isfinite(o.lr) or o.lr <= 0:
        raise ConfigError(f"optim.lr must be a positive learning rate; got {o.lr!r}")
    for name in ("weight_decay", "momentum", "grad_clip"):
        v = getattr(o, name)
        if not isinstance(v, (int, float)) or v < 0:
            raise ConfigError(f"optim.{name} must be >= 0; got {v!r}")
    _positive_int(o.warmup_steps, "optim.warmup_steps", allow_zero=True)
    r = cfg.run
    _choice(r.device, DEVICES, "run.device")
    _choice(r.precision, PRECISIONS, "run.precision")
    _positive_int(r.checkpoint_every, "run.checkpoint_every", allow_zero=True)
    _positive_int(r.keep_checkpoints, "run.keep_checkpoints")
    if not isinstance(r.seed, int) or r.seed < 0:
        raise ConfigError(f"run.seed must be a non-negative integer; got {r.seed!r}")


def validate(cfg: TrainConfig, model=None) -> None:
    """Check a config against the registries (and the built model's stages).

    Parameters
    ----------
    cfg
        The configuration.
    model
        The model built from it; when given, the stage names of the schedule and of
        ``loss.per_stage`` are checked against ``model.stage_names``.

    Raises
    ------
    ConfigError
        Naming the bad value and listing the valid choices.
    """
    import importlib

    from .. import registry
    from .. import losses as losses_pkg

    _check_values(cfg)
    for mod in cfg.run.model_modules:
        try:
            importlib.import_module(mod)
        except ImportError as err:
            raise ConfigError(f"run.model_modules: cannot import {mod!r} ({err})") from err
    models = registry.list_models()
    if cfg.model not in models:
        raise ConfigError(f"unknown model {cfg.model!r}; registered models are: {', '.join(models) or '(none)'}")
    valid_losses = losses_pkg.list_losses()
    named = [("loss.name", cfg.loss.name)]
    for stage, spec in cfg.loss.per_stage.items():
        if not isinstance(spec, dict) or "name" not in spec:
            raise ConfigError(f"loss.per_stage[{stage!r}] must be a mapping with a 'name' key; got {spec!r}")
        named.append((f"loss.per_stage[{stage!r}].name", spec["name"]))
    for where, name in named:
        if name not in valid_losses:
            raise ConfigError(f"unknown loss {name!r} ({where}); registered losses are: {', '.join(valid_losses)}")
    if model is None:
        return
    stage_names = list(getattr(model, "stage_names", []) or [])
    if not stage_names:
        raise ConfigError(
            f"model {cfg.model!r} has no trainable stages (model.stage_names is empty); "
            "the trainer needs a staged model (see docs/interfaces.md)"
        )
    wanted = list(cfg.schedule.stages or [])
    if isinstance(cfg.schedule.steps, dict):
        wanted += list(cfg.schedule.steps)
    wanted += list(cfg.loss.per_stage)
    bad = [s for s in wanted if s not in stage_names]
    if bad:
        raise ConfigError(
            f"the config names stage(s) {bad} that model {cfg.model!r} does not have; "
            f"its stages are: {', '.join(stage_names)}"
        )
    stages = cfg.schedule.stages or stage_names
    if len(set(stages)) != len(stages):
        raise ConfigError(f"schedule.stages lists a stage twice: {stages}")
    order = [stage_names.index(s) for s in stages]
    if cfg.schedule.kind != "layerwise" and order != list(range(order[0], order[0] + len(order))):
        raise ConfigError(
            f"schedule.stages for {cfg.schedule.kind} must be consecutive stages in depth order; got {stages} "
            f"(model stages: {', '.join(stage_names)})"
        )
    if cfg.schedule.kind == "layerwise" and order != sorted(order):
        raise ConfigError(f"layerwise schedule.stages must be in depth order (bottom-up); got {stages}")
    if cfg.schedule.kind == "progressive_freezing" and len(cfg.schedule.freeze_steps) >= len(stages):
        raise ConfigError(
            f"schedule.freeze_steps has {len(cfg.schedule.freeze_steps)} entries for {len(stages)} trained stages; "
            "at most one fewer than the stages (the top stage is never frozen)"
        )
