"""Pretrained weights, torchvision style: an enum of entries, each with its provenance and hash.

``build_model("lcl_v2", weights=LCLV2Weights.CPU)`` (or ``weights="LCLV2Weights.CPU"``,
or ``weights="CPU"``) builds the architecture the entry was trained with and loads
its state dict after checking the file's SHA-256. Every entry records what made it:
the training config, the command, the seed, the file's hash and free-form metadata
(e.g. the claims-table numbers it reproduces), so a model can be used — and cited —
without training it.

A weights file has the layout of a trainer checkpoint reduced to the model:
``{"model": state_dict, "model_name": str, "model_config": dict}``, so anything that
takes a checkpoint (``load_lcl_v2``, the Brain-Score exporter) takes ``entry.path``.
:func:`save_weights` writes one from a trained model (atomically) and returns its
hash; files are read by the toolkit's one checkpoint reader (nothing but tensors and
plain values is unpickled).

Shipped files live in ``neuromodels/pretrained/`` (package data). Shipped so far:
the ``QUICK`` entries (the quick configs, seed 0) and both models' ``CPU`` entries
(the ``cpu`` presets, seed 0; ``docs/models.md``, "Pretrained weights").

Examples
--------
>>> import tempfile, pathlib
>>> import torch
>>> from neuromodels import build_model
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> model = build_model("lcl_v2", channels=[4, 8])
>>> digest = save_weights(model, "lcl_v2", {"channels": [4, 8]}, folder / "tiny.pt")
>>> entry = Weights(file=str(folder / "tiny.pt"), sha256=digest, model="lcl_v2",
...                 config={"channels": [4, 8]}, train_config="lcl_v2_quick.yaml",
...                 command="python -m neuromodels.training ...", seed=0)
>>> loaded = build_model("lcl_v2", weights=entry)
>>> torch.equal(loaded.stages[0].conv.weight, model.stages[0].conv.weight)
True
"""
from __future__ import annotations

import enum
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import torch

__all__ = ["Weights", "WeightsEnum", "WeightsHashError", "LCLV2Weights", "TextureModelWeights",
           "build_with_weights", "resolve_weights", "save_weights", "sha256_of"]

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


class WeightsHashError(RuntimeError):
    """A weights file's SHA-256 differs from the one its entry records."""


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Weights:
    """One set of pretrained weights and the provenance that made it.

    Attributes
    ----------
    file
        File name in ``neuromodels/pretrained/`` (shipped), or an absolute path.
    sha256
        Hex SHA-256 of the file; checked before every load.
    model
        Registered model name the weights belong to.
    config
        ``build_model`` keyword arguments of the architecture (the model's
        ``model_config`` at training time).
    train_config
        The training config that made them (a file of ``neuromodels/configs``).
    command
        The exact command that made them.
    seed
        ``run.seed`` of that run.
    meta
        Anything else worth citing: steps, wall time, the claims-table numbers the
        weights reproduce on the quick stimuli, the git commit.
    """

    file: str
    sha256: str
    model: str
    config: dict
    train_config: str
    command: str
    seed: int
    meta: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """Where the file is (shipped files are package data)."""
        p = Path(self.file)
        return p if p.is_absolute() else PRETRAINED_DIR / p

    def verify(self) -> Path:
        """The file's path after checking that it exists and that its SHA-256 matches.

        Raises
        ------
        FileNotFoundError
            If the file is missing (the message says how to make it).
        WeightsHashError
            If the hash differs (a corrupted or substituted file).
        """
        path = self.path
        if not path.is_file():
            raise FileNotFoundError(
                f"weights file {str(path)!r} of model {self.model!r} is missing; it is made by "
                f"`{self.command}` (seed {self.seed}) and copied there with save_weights()"
            )
        digest = sha256_of(path)
        if digest != self.sha256:
            raise WeightsHashError(
                f"weights file {str(path)!r} has SHA-256 {digest}, its entry records {self.sha256}; "
                "the file is corrupted or not the one the entry describes. Reinstall the package or "
                "remake it with the entry's command."
            )
        return path

    def get_state_dict(self) -> dict:
        """The verified state dict, read by the toolkit's one checkpoint reader
        (:func:`neuromodels.training.checkpoints.read_checkpoint`: tensors and plain values only)."""
        from .training.checkpoints import read_checkpoint

        path = self.verify()
        state = read_checkpoint(path, require_checksum=False, required=("model",))
        if state.get("model_name", self.model) != self.model:
            raise ValueError(f"{path} holds weights of {state['model_name']!r}, its entry says {self.model!r}")
        return state["model"]


class WeightsEnum(enum.Enum):
    """Base of each model's weights enum; members are :class:`Weights`, ``DEFAULT`` an alias."""

    @classmethod
    def names(cls) -> list[str]:
        return [m.name for m in cls]

    def __getattr__(self, name):  # entry.sha256, entry.path, ... on the member itself
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.value, name)


class LCLV2Weights(WeightsEnum):
    """Pretrained LCL-V2 weights.

    ``QUICK``: ``lcl_v2_quick.yaml`` (16/32 channels, 150 steps per stage on the
    bundled images, seed 0) — a demonstration-size model whose documented numbers
    (``meta["quick_claims"]``, ``tests/neuromodels/quick_claims.py``) show stage 2 more
    texture-modulated than stage 1 and than untrained, and stage-1 filters more
    orientation-tuned than untrained. ``CPU`` (= ``DEFAULT``): ``lcl_v2_cpu.yaml`` as the
    reproduction's ``cpu`` preset runs it (32/64 channels, 250 steps per stage, seed 0);
    on the quick stimuli stage 2 MI 0.073 vs stage 1 −0.056 and untrained −0.032,
    stage-1 circular variance 0.578 vs 0.781 untrained (docs/texture_robustness.md,
    "LCL-V2's cpu preset, measured").
    """

    QUICK = Weights(
        file="lcl_v2_quick_seed0.pt",
        sha256="c8c413246ae362d43f0a6c3473052ae3585eb43c444838bd9b3b6c4a2c5e6282",
        model="lcl_v2",
        config={"channels": [16, 32], "kernel_sizes": [7, 5], "pool_sizes": 4, "pool_strides": 2, "pooling": "l2",
                "embedding": "local", "embedding_cell": 0.0, "input_normalization": True},
        train_config="lcl_v2_quick.yaml",
        command="python -m neuromodels.training neuromodels/configs/lcl_v2_quick.yaml run.seed=0",
        seed=0,
        meta={"steps": 300, "final_loss": 0.036007, "git": "ff6a3e07d35b9b6eb78ec216bbddca7e7dd91371",
              "torch": "2.14.1+cu130", "device": "cpu",
              "quick_claims": {
                  "trained": {"mi_stages.0": -0.075397, "mi_stages.1": 0.028245, "circular_variance_stages.0": 0.676247},
                  "untrained": {"mi_stages.0": -0.090225, "mi_stages.1": -0.023793,
                                "circular_variance_stages.0": 0.776835}}},
    )
    CPU = Weights(
        file="lcl_v2_cpu_seed0.pt",
        sha256="6ddd4b7c940ce7908355a868ea2b6072e07f766fdc220a96bc43e78b7cf764eb",
        model="lcl_v2",
        config={"channels": [32, 64], "kernel_sizes": [7, 5], "pool_sizes": 4, "pool_strides": 2, "pooling": "l2",
                "embedding": "local", "embedding_cell": 0.0, "input_normalization": True},
        train_config="lcl_v2_cpu.yaml",
        command="python -m neuromodels.training neuromodels/configs/lcl_v2_cpu.yaml schedule.steps=250 run.seed=0 "
                "run.device=cpu",
        seed=0,
        meta={"steps": 500, "git": "e49f1b297335ffe7ddcd3447030c893496e2fc57",
              "made_by": "python -m experiments run lcl_v2 --preset cpu --device cpu (its train_matched stage, "
                         "seed 0); the command above trains the same weights",
              "torch": "2.14.1+cu130", "device": "cpu (2 threads, shared 2-core machine)",
              "quick_claims": {
                  "trained": {"mi_stages.0": -0.055975, "mi_stages.1": 0.072895, "circular_variance_stages.0": 0.577643},
                  "untrained": {"mi_stages.0": -0.079406, "mi_stages.1": -0.032102,
                                "circular_variance_stages.0": 0.780730}}},
    )
    DEFAULT = CPU


class TextureModelWeights(WeightsEnum):
    """Pretrained texture-model weights.

    ``QUICK``: ``texture_model_quick.yaml`` (2 scales, simple + complex cells, 16 V2
    channels, 500 steps on the 18 synthesized training families, seed 0); its V2 is
    more texture-modulated than the untrained architecture on the held-out bundled
    textures (``meta["quick_claims"]``). ``CPU`` (= ``DEFAULT``): ``texture_model_cpu.yaml``
    (3 scales, 32 V2 channels, 2000 steps, seed 0); V2 MI 0.250 vs 0.016 untrained on
    the quick stimuli. Its held-out data efficiency is *below* the untrained
    architecture's (docs/texture_robustness.md): use it for texture modulation, not as
    a texture classifier.
    """

    QUICK = Weights(
        file="texture_model_quick_seed0.pt",
        sha256="327ee04a8697e156aff342de1feb22f8bece81acad96dd884a71ac51b146612b",
        model="texture_model",
        config={"n_scales": 2, "n_orientations": 4, "v1_cells": "both", "channels": 16},
        train_config="texture_model_quick.yaml",
        command="python -m neuromodels.training neuromodels/configs/texture_model_quick.yaml run.seed=0 run.device=cpu",
        seed=0,
        meta={"steps": 500, "final_loss": -12.965271, "git": "1f952b0a5e4bcc844de902f16ac4977b7aafdec5",
              "torch": "2.14.1+cu130", "device": "cpu (2 threads)",
              "families": "synthesized on one thread (neuromodels.texture_families); the same command at "
                          "e49f1b2 trains bitwise the same weights",
              "quick_claims": {"trained": {"mi_stages.0": 0.251538}, "untrained": {"mi_stages.0": 0.058187}}},
    )
    CPU = Weights(
        file="texture_model_cpu_seed0.pt",
        sha256="834d1ef67a3385ff43d75e536e511a77141488059bc460ee15b1955c6f7526d9",
        model="texture_model",
        config={"n_scales": 3, "n_orientations": 4, "v1_cells": "both", "channels": 32},
        train_config="texture_model_cpu.yaml",
        command="python -m neuromodels.training neuromodels/configs/texture_model_cpu.yaml run.seed=0 "
                "run.checkpoint_every=10 run.keep_checkpoints=1000",
        seed=0,
        meta={"steps": 2000, "final_loss": -57.346802, "git": "e49f1b297335ffe7ddcd3447030c893496e2fc57",
              "torch": "2.14.1+cu130", "device": "cpu (1 thread, shared 2-core machine)",
              "made_by": "seed 0 of experiments/studies/texture_collapse.py (docs/texture_robustness.md, "
                         "'Why the data efficiency is lost'); 1829 s",
              "families": "synthesized on one thread (neuromodels.texture_families)",
              "quick_claims": {"trained": {"mi_stages.0": 0.250039}, "untrained": {"mi_stages.0": 0.015762}}},
    )
    DEFAULT = CPU


_ENUMS = {"lcl_v2": LCLV2Weights, "texture_model": TextureModelWeights}


def resolve_weights(model: str, weights) -> Weights:
    """The :class:`Weights` of ``weights`` for ``model``.

    Accepts a :class:`Weights`, a member of the model's enum, or a string:
    ``"CPU"``, ``"LCLV2Weights.CPU"`` or ``"DEFAULT"``.

    Raises
    ------
    ValueError
        If the entry is unknown or belongs to another model (the message lists the
        model's entries).
    """
    if isinstance(weights, WeightsEnum):
        weights = weights.value
    if isinstance(weights, str):
        enum_cls = _ENUMS.get(model)
        name = weights.rpartition(".")[2]
        if enum_cls is None or name not in enum_cls.__members__:
            have = enum_cls.names() if enum_cls is not None else []
            raise ValueError(
                f"model {model!r} has no pretrained weights named {weights!r}; available: "
                f"{', '.join(have) if have else 'none yet (docs/models.md, Pretrained weights)'}"
            )
        weights = enum_cls[name].value
    if not isinstance(weights, Weights):
        raise TypeError(f"weights must be a Weights entry, a member of a weights enum or its name; got {weights!r}")
    if weights.model != model:
        raise ValueError(f"these weights belong to model {weights.model!r}, not {model!r}")
    return weights


def build_with_weights(model_cls, model: str, weights, config: dict):
    """Build ``model_cls`` with the entry's architecture (``config`` may only repeat it) and load it.

    Used by the registered builders (``lcl_v2``, ``texture_model``) when ``weights`` is given.
    """
    entry = resolve_weights(model, weights)
    clash = {k: v for k, v in config.items() if k in entry.config and entry.config[k] != v}
    if clash:
        raise ValueError(
            f"the weights were trained with {entry.config}; these arguments contradict them: {clash}. "
            "Drop them (the architecture comes with the weights)."
        )
    net = model_cls(**{**entry.config, **config})
    net.load_state_dict(entry.get_state_dict())
    net.pretrained_weights = entry
    return net.eval()


def save_weights(model: torch.nn.Module, model_name: str, model_config: dict, path: str | Path) -> str:
    """Write ``model``'s weights as a weights file (atomically) and return its SHA-256."""
    from neurocommon.files import atomic_write_bytes

    buf = io.BytesIO()
    torch.save({"model": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                "model_name": model_name, "model_config": dict(model_config)}, buf)
    atomic_write_bytes(Path(path), buf.getvalue())
    return sha256_of(path)
