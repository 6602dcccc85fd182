"""Atomic file writes: readers see the old file or the new one, never a part.

Every writer of the toolkit goes through here. The bytes go to a temporary file
``.<name>.<random><suffix>`` in the destination folder (so the final rename stays
on one file system), are flushed to disk (``fsync``) and renamed over the final name
with ``os.replace``; on any error the temporary file is removed and an existing file
is left as it was. The temporary file is created by ``tempfile.mkstemp``, which makes
it private (0600); before the rename it gets the mode of any new file the user
writes, ``0o666 & ~umask``.

- :func:`atomic_write_bytes`, :func:`atomic_write_text`: data already in memory;
- :func:`atomic_path`: a ``with`` block for writers that need a *path*
  (``xarray.to_netcdf``, ``zipfile``, ``PIL``), yielding the temporary path;
- :func:`temp_path_beside` and :func:`move_into_place`: the two halves of
  :func:`atomic_path`, for a writer that fills a file across calls (a netCDF file
  written batch by batch).

A write killed between the temporary file and the rename leaves the hidden
temporary file behind; ``neuromodels.training.checkpoints.remove_stale_temp_files``
removes the trainer's own ones by this name pattern.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "apply_umask",
    "temp_path_beside",
    "move_into_place",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
]


def apply_umask(path: str | os.PathLike, mode: int = 0o666) -> None:
    """Give ``path`` the permissions ``mode`` masked by the process umask (the usual mode of a new file).

    ``tempfile.mkstemp``/``mkdtemp`` create private (0600/0700) files and folders; one
    renamed into place should look like any other the user writes (0o777 for a folder).

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkstemp()[1])
    >>> apply_umask(p)
    >>> mask = os.umask(0); _ = os.umask(mask)
    >>> p.stat().st_mode & 0o777 == 0o666 & ~mask
    True
    """
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, mode & ~mask)


def temp_path_beside(path: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """An empty, closed temporary file ``.<name>.<random><suffix>`` in ``path``'s folder (created if needed).

    Write it, then :func:`move_into_place` (or remove it on failure).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> tmp = temp_path_beside(pathlib.Path(tempfile.mkdtemp()) / "out.nc")
    >>> tmp.name.startswith(".out.nc.") and tmp.name.endswith(".tmp"), tmp.stat().st_size
    (True, 0)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def move_into_place(tmp: str | os.PathLike, path: str | os.PathLike, fsync: bool = True) -> Path:
    """Flush ``tmp`` to disk (when ``fsync``), give it the usual mode and rename it over ``path``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> tmp = temp_path_beside(target)
    >>> _ = tmp.write_text("done")
    >>> move_into_place(tmp, target).read_text(), tmp.exists()
    ('done', False)
    """
    if fsync:
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
    apply_umask(tmp)
    os.replace(tmp, path)
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = True, suffix: str = ".tmp") -> Iterator[Path]:
    """A ``with`` block that yields a temporary path to write; on success it replaces ``path``.

    On an exception inside the block the temporary file is removed, ``path`` is left as
    it was and the exception propagates. ``suffix`` ends the temporary name (for
    writers that choose the format by suffix, e.g. ``".png"``); ``fsync=False`` skips
    the flush to disk.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("a,b\\n1,2\\n")
    >>> target.read_text()
    'a,b\\n1,2\\n'
    """
    path = Path(path)
    tmp = temp_path_beside(path, suffix)
    try:
        yield tmp
        move_into_place(tmp, path, fsync=fsync)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, fsync, rename).

    Readers see the old file or the new one, never a part. On any failure the
    temporary file is removed and the old file is left as it was.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = atomic_write_bytes(pathlib.Path(tempfile.mkdtemp()) / "x.bin", b"abc")
    >>> p.read_bytes()
    b'abc'
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"atomic_write_bytes expects bytes; got {type(data).__name__} (use atomic_write_text)")
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "note.txt", "µm").read_bytes()
    b'\\xc2\\xb5m'
    """
    if not isinstance(text, str):
        raise TypeError(f"expected text to write, got {type(text).__name__}")
    return atomic_write_bytes(path, text.encode("utf-8"))
