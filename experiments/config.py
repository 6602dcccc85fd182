"""Reproduction configs: YAML files in ``experiments/configs`` plus ``key=value`` overrides."""
from __future__ import annotations

import copy
from pathlib import Path

from neuromodels.training.config import parse_override, read_yaml_file

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
    """Read one reproduction config file: a YAML mapping (errors name the file)."""
    cfg = read_yaml_file(path, "reproduction config") or {}
    if not isinstance(cfg, dict):
        raise ValueError(f"{path} must hold a mapping at top level")
    return cfg


def apply_overrides(config: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=value`` overrides (values parsed as YAML) to a copy of ``config``.

    Unknown keys are refused with the list of valid keys at that level, so a typo
    never silently does nothing.
    """
    cfg = copy.deepcopy(config)
    for item in overrides:
        parts, value = parse_override(item)  # the toolkit's one override parser (typed, YAML values)
        key = ".".join(parts)
        node = cfg
        for i, p in enumerate(parts[:-1]):
            if not isinstance(node.get(p), dict):
                raise ValueError(
                    f"override {key!r}: {'.'.join(parts[: i + 1])!r} is not a section; "
                    f"sections here: {sorted(k for k, v in node.items() if isinstance(v, dict))}"
                )
            node = node[p]
        if parts[-1] not in node:
            raise ValueError(f"override {key!r}: unknown key {parts[-1]!r}; valid keys: {sorted(node)}")
        node[parts[-1]] = value
    return cfg
