"""Reproduction configs: YAML files in ``experiments/configs`` plus ``key=value`` overrides, through OmegaConf.

A reproduction's config is free-form (each reproduction reads the keys it needs), so
it is an OmegaConf ``DictConfig`` made from the file (no schema) in struct mode:
overrides may change any key the file has, never add one, so a typo is refused
with the list of valid keys instead of silently doing nothing. Values of overrides
are parsed as YAML by the toolkit's one override parser
(:func:`neuromodels.training.config.parse_override`: ``[16,`` is an error, not a
string). Interpolations (``out: results/${name}``) are resolved when the file is
read: the reproductions receive a plain ``dict`` (``OmegaConf.to_container(resolve=True)``),
so an override changes the key it names, not keys interpolated from it earlier.

Examples
--------
>>> apply_overrides({"seed": 0, "train": {"steps": 10}}, ["train.steps=20"])
{'seed': 0, 'train': {'steps': 20}}
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from neuromodels.training.config import ConfigError, parse_override, read_yaml_file

__all__ = ["CONFIG_DIR", "load_config", "read_config", "apply_overrides", "available"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def available() -> list[str]:
    """Names of the registered reproductions (``experiments.reproductions``)."""
    from .reproductions import list_reproductions

    return list_reproductions()


def load_config(name: str, quick: bool = False, preset: str | None = None) -> dict:
    """Load ``configs/<name>.yaml``, ``<name>_quick.yaml`` or ``<name>_<preset>.yaml`` of a registered reproduction."""
    from .reproductions import get_reproduction

    return get_reproduction(name).load_config(quick=quick, preset=preset)


def read_config(path: Path) -> dict:
    """Read one reproduction config file: a YAML mapping, interpolations resolved (errors name the file).

    Raises
    ------
    ConfigError
        (a ``ValueError``) If the file is missing, not valid YAML (file, line and
        column named), not a mapping, or holds an interpolation that cannot be resolved.
    """
    source = f"reproduction config {str(path)!r}"
    values = read_yaml_file(path, "reproduction config") or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{source} must hold a mapping at the top level; got {type(values).__name__}")
    return _to_dict(_node(values, source), source)


def apply_overrides(config: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=value`` overrides (values parsed as YAML) to a copy of ``config``.

    Unknown keys are refused with the list of valid keys at that level, so a typo
    never silently does nothing. ``config`` itself is left unchanged; the result is a
    plain dict with interpolations resolved.

    Raises
    ------
    ConfigError
        (a ``ValueError``) For a malformed override, an unknown key, a key path through
        a value that is not a section, or an interpolation that cannot be resolved.
    """
    node = _node(config, "reproduction config")  # OmegaConf.create copies: config is left unchanged
    for item in overrides:
        parts, value = parse_override(item)  # the toolkit's one override parser (typed, YAML values)
        key = ".".join(parts)
        here: DictConfig = node
        for i, part in enumerate(parts[:-1]):
            child = here[part] if part in here else None
            if not isinstance(child, DictConfig):
                sections = sorted(str(k) for k in here if isinstance(here[k], DictConfig))
                raise ConfigError(
                    f"override {key!r}: {'.'.join(parts[: i + 1])!r} is not a section; sections here: {sections}"
                )
            here = child
        if parts[-1] not in here:
            raise ConfigError(
                f"override {key!r}: unknown key {parts[-1]!r}; valid keys: {sorted(str(k) for k in here)}"
            )
        try:
            OmegaConf.update(node, key, value, merge=False)
        except OmegaConfBaseException as err:
            raise ConfigError(f"override {item!r}: {str(err).splitlines()[0]}") from None
    return _to_dict(node, "reproduction config")


def _node(values: dict, source: str) -> DictConfig:
    try:
        node = OmegaConf.create(values)
    except OmegaConfBaseException as err:
        where = getattr(err, "full_key", None)
        raise ConfigError(f"{source}: {where + ': ' if where else ''}{str(err).splitlines()[0]}") from None
    OmegaConf.set_struct(node, True)
    return node


def _to_dict(node: DictConfig, source: str) -> dict:
    try:
        return OmegaConf.to_container(node, resolve=True)
    except OmegaConfBaseException as err:
        where = getattr(err, "full_key", None)
        raise ConfigError(
            f"{source}: {where + ': ' if where else ''}cannot resolve an interpolation ({str(err).splitlines()[0]}); "
            "an interpolation names another key of the config, e.g. ${seed}"
        ) from None
