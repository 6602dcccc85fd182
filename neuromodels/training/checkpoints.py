"""Checkpoints: atomic, checksummed, resumable; ``load_model`` rebuilds a trained model.

A checkpoint is one ``torch.save`` file ``ckpt-<step>.pt`` in the run folder's
``checkpoints/`` directory, holding (docs/interfaces.md) ``model`` (state_dict),
``model_name``, ``model_config`` and the trainer's state: ``step``, ``phase``,
``optimizer_key``, ``optimizer``, ``scheduler``, ``rng`` (torch CPU and CUDA,
numpy, Python) and ``data`` (the sampler position).

Writing is atomic: the bytes go to a temporary file in the same directory, are
flushed to disk and renamed over the final name. Next to each checkpoint a
``.sha256`` file holds its SHA-256 digest; it is written (atomically) *before* the
checkpoint is renamed into place, so every checkpoint on disk has one. Reading
verifies the digest, then loads with ``weights_only=True``; a mismatch or a load
failure raises :class:`CorruptCheckpointError`, and :func:`latest_good_checkpoint`
falls back to the previous checkpoint, saying so.

:func:`read_checkpoint` is the one checkpoint reader of the toolkit (trainer,
``load_model``, the Brain-Score exporter, the reproductions). It never unpickles
arbitrary objects: checkpoints travel between labs, and ``torch.load`` with
``weights_only=False`` runs whatever code a file names. Beyond tensors and plain
Python values it accepts only numpy arrays, scalars and numeric dtypes
(:data:`SAFE_GLOBALS`, e.g. a numpy RNG state saved by someone's own trainer), for
the duration of the load; a file that names any other Python object is refused
with :class:`UnsafeCheckpointError`, naming the objects.

Files are written by the toolkit's one atomic writer,
:func:`neurocommon.files.atomic_write_bytes`. A write killed between the temporary
file and the rename leaves a hidden ``.<name>.<random>.tmp`` file;
:func:`remove_stale_temp_files` removes those of the trainer's own files when a run
starts or resumes.
"""
from __future__ import annotations

import hashlib
import io
import logging
import re
from pathlib import Path

import torch

from neurocommon.files import atomic_write_bytes

__all__ = [
    "CorruptCheckpointError",
    "UnsafeCheckpointError",
    "SAFE_GLOBALS",
    "remove_stale_temp_files",
    "save_checkpoint",
    "read_checkpoint",
    "list_checkpoints",
    "latest_good_checkpoint",
    "load_model",
]

log = logging.getLogger("neuromodels.training")
_NAME = re.compile(r"^ckpt-(\d+)\.pt$")


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is truncated, altered or unreadable."""


class UnsafeCheckpointError(CorruptCheckpointError):
    """A checkpoint names Python objects that loading would have to execute; it is refused."""


def _numpy_globals() -> list:
    import numpy as np

    if int(np.__version__.split(".")[0]) >= 2:
        from numpy import _core as core
    else:  # Brain-Score's environment pins numpy<2
        from numpy import core
    dtypes = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
              np.float16, np.float32, np.float64, np.complex64, np.complex128)
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype,
            *{type(np.dtype(t)) for t in dtypes}]


#: the only non-tensor types a checkpoint may hold (besides plain Python values):
#: numpy arrays, scalars and numeric dtypes (e.g. a numpy RNG state)
SAFE_GLOBALS = _numpy_globals()


def remove_stale_temp_files(directory: str | Path, names) -> list[Path]:
    """Remove the temporary files that killed atomic writes of ``names`` left in ``directory``.

    Only files named ``.<name>.<random>.tmp`` (the pattern of :func:`neurocommon.files.atomic_write_bytes`)
    for one of ``names`` are removed; ``names`` entries may be regular expressions
    (e.g. ``r"ckpt-\\d+\\.pt(\\.sha256)?"``). Other files are never touched.

    Returns
    -------
    list of Path
        The files removed.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    pattern = re.compile(r"^\.(?:" + "|".join(f"(?:{n})" for n in names) + r")\.[A-Za-z0-9_]+\.tmp$")
    removed = []
    for path in directory.iterdir():
        if pattern.match(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted write in %s: %s", len(removed), directory,
                 ", ".join(p.name for p in removed))
    return removed


def save_checkpoint(directory: str | Path, state: dict, step: int, keep: int = 3) -> Path:
    """Write ``state`` as ``directory/ckpt-<step>.pt`` (atomic, with its SHA-256), prune old ones.

    Parameters
    ----------
    directory
        Checkpoint folder (created if needed).
    state
        Picklable dict of tensors and plain Python values (``weights_only``-loadable).
    step
        Global step count after which the state was taken.
    keep
        Number of newest checkpoints to keep.

    Returns
    -------
    Path
        The checkpoint file.
    """
    directory = Path(directory)
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    path = directory / f"ckpt-{step:08d}.pt"
    atomic_write_bytes(path.with_name(path.name + ".sha256"), (hashlib.sha256(data).hexdigest() + "\n").encode())
    atomic_write_bytes(path, data)
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
        old.with_name(old.name + ".sha256").unlink(missing_ok=True)
    return path


def list_checkpoints(directory: str | Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first (by step)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def read_checkpoint(path: str | Path, map_location="cpu", require_checksum: bool = True,
                    required: tuple[str, ...] = ("model",)) -> dict:
    """Verify and load one checkpoint (the toolkit's one checkpoint reader).

    Parameters
    ----------
    path
        A ``.pt`` file written by ``torch.save`` (the trainer's ``ckpt-*.pt``, an
        exported weights file, a hand-made ``{"model": state_dict, ...}``).
    map_location
        Passed to ``torch.load``.
    require_checksum
        Refuse a file without its ``.sha256`` side file (the trainer's own checkpoints);
        otherwise the digest is checked when the side file exists.
    required
        Keys the loaded dict must hold.

    Raises
    ------
    UnsafeCheckpointError
        If the file names Python objects other than tensors, plain values and
        :data:`SAFE_GLOBALS` (loading it would run code); the message names them.
    CorruptCheckpointError
        If the checksum file is missing (with ``require_checksum``), the digest does
        not match (truncated or altered file), ``torch.load`` fails, or a required
        key is missing.
    FileNotFoundError
        If ``path`` does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    data = path.read_bytes()
    side = path.with_name(path.name + ".sha256")
    if side.is_file():
        expected = side.read_text().strip()
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise CorruptCheckpointError(
                f"checkpoint {path} is corrupted: SHA-256 {actual[:12]}… does not match the recorded "
                f"{expected[:12]}… ({len(data)} bytes; truncated or altered)"
            )
    elif require_checksum:
        raise CorruptCheckpointError(f"checkpoint {path} has no checksum file {side.name}; it cannot be verified")
    import pickle

    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data))
        except Exception:  # not even a readable torch zip: damaged
            unsafe = []
        allowed = {f"{g.__module__}.{g.__qualname__}" for g in SAFE_GLOBALS}
        unsafe = [u for u in unsafe if u not in allowed]
        if unsafe:
            raise UnsafeCheckpointError(
                f"checkpoint {path} names Python objects that loading would execute: {', '.join(unsafe[:8])}. "
                "It is refused: a checkpoint holds tensors, plain values and numpy arrays only, and "
                "unpickling anything else from a file you did not write can run arbitrary code. If you "
                "trust the file, load it yourself and re-save its state dicts with torch.save."
            ) from None
        raise CorruptCheckpointError(f"checkpoint {path} cannot be loaded ({type(err).__name__}: {err})") from err
    except Exception as err:  # torch raises several types for a damaged zip
        raise CorruptCheckpointError(f"checkpoint {path} cannot be loaded ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict):
        raise CorruptCheckpointError(f"checkpoint {path} holds a {type(state).__name__}, expected a dict")
    missing = [k for k in required if k not in state]
    if missing:
        raise CorruptCheckpointError(
            f"checkpoint {path} lacks {missing} (found keys {sorted(map(str, state))}); a toolkit checkpoint "
            "holds 'model' (state dict), 'model_name' and 'model_config' (docs/interfaces.md)"
        )
    return state


def latest_good_checkpoint(directory: str | Path, map_location="cpu") -> tuple[Path, dict] | None:
    """The newest checkpoint that verifies and loads; corrupt ones are reported and skipped.

    Returns
    -------
    (path, state) or None
        ``None`` when the folder holds no usable checkpoint.
    """
    bad: list[str] = []
    for path in reversed(list_checkpoints(directory)):
        try:
            state = read_checkpoint(path, map_location=map_location)
        except CorruptCheckpointError as err:
            log.warning("%s; falling back to the previous checkpoint", err)
            bad.append(path.name)
            continue
        if bad:
            log.warning("resuming from %s (skipped corrupted: %s)", path.name, ", ".join(bad))
        return path, state
    if bad:
        log.warning("no usable checkpoint in %s (corrupted: %s); starting from scratch", directory, ", ".join(bad))
    return None


def load_model(path: str | Path, map_location="cpu"):
    """Rebuild a trained model from a checkpoint (or a run folder: its newest good checkpoint).

    Parameters
    ----------
    path
        A ``ckpt-*.pt`` file written by the trainer, or a run folder.
    map_location
        Where to put the weights (default CPU).

    Returns
    -------
    torch.nn.Module
        ``build_model(model_name, **model_config)`` with the saved weights, in eval mode.

    Examples
    --------
    Not run as a doctest: it needs a finished training run in ``runs/lcl_v2_quick``.

    >>> model = load_model("runs/lcl_v2_quick")          # doctest: +SKIP
    >>> model.stage_outputs(images)                       # doctest: +SKIP
    """
    from ..registry import build_model

    path = Path(path)
    if path.is_dir():
        ckdir = path / "checkpoints" if (path / "checkpoints").is_dir() else path
        found = latest_good_checkpoint(ckdir, map_location=map_location)
        if found is None:
            raise FileNotFoundError(f"no usable checkpoint in {ckdir}")
        path, state = found
    else:
        state = read_checkpoint(path, map_location=map_location, require_checksum=False,
                                required=("model", "model_name", "model_config"))
    for key in ("model_name", "model_config"):
        if key not in state:
            raise CorruptCheckpointError(f"checkpoint {path} has no {key!r}; it was not written by the trainer")
    model = build_model(state["model_name"], **state["model_config"])
    model.load_state_dict(state["model"])
    return model.to(torch.device(map_location)).eval()
