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
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
from pathlib import Path

import torch

__all__ = [
    "CorruptCheckpointError",
    "atomic_write_bytes",
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp files are private (0600); give the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def read_checkpoint(path: str | Path, map_location="cpu", require_checksum: bool = True) -> dict:
    """Verify and load one checkpoint.

    Raises
    ------
    CorruptCheckpointError
        If the checksum file is missing (with ``require_checksum``), the digest does
        not match (truncated or altered file), or ``torch.load`` fails.
    FileNotFoundError
        If ``path`` does not exist.
    """
    path = Path(path)
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
    try:
        state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for a damaged zip
        raise CorruptCheckpointError(f"checkpoint {path} cannot be loaded ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict) or "model" not in state:
        raise CorruptCheckpointError(f"checkpoint {path} does not hold a training state (no 'model' entry)")
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
        state = read_checkpoint(path, map_location=map_location, require_checksum=False)
    for key in ("model_name", "model_config"):
        if key not in state:
            raise CorruptCheckpointError(f"checkpoint {path} has no {key!r}; it was not written by the trainer")
    model = build_model(state["model_name"], **state["model_config"])
    model.load_state_dict(state["model"])
    return model.to(torch.device(map_location)).eval()
