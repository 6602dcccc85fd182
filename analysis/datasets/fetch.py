"""Fetching and verifying a dataset's files against its manifest (hash and size checks)."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.parse
from pathlib import Path

from .manifest import DatasetError, FileSpec, Manifest, get_manifest

__all__ = ["DEFAULT_TIMEOUT", "fetch", "verify", "file_hash"]

#: Seconds to wait for a server before giving up (connect and read).
DEFAULT_TIMEOUT = 15.0


# ----------------------------------------------------------------------------- hashing
def file_hash(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_file(path: Path, spec: FileSpec) -> str:
    """Raise DatasetError if ``path`` does not match ``spec``; return 'verified' or 'unverified'."""
    if spec.size is not None and path.stat().st_size != spec.size:
        raise DatasetError(
            f"{path} has {path.stat().st_size} bytes; the manifest expects {spec.size}. "
            f"The file is incomplete or a different version: delete it and fetch again."
        )
    if spec.hash is None:
        return "unverified (no hash in manifest)"
    actual = file_hash(path, spec.algorithm)
    if actual != spec.digest:
        raise DatasetError(
            f"{spec.algorithm} of {path} does not match the manifest: expected {spec.digest}, "
            f"got {actual}. The file is corrupted or a different version; delete it and fetch again."
        )
    return "verified"


# ----------------------------------------------------------------------------- fetching
def _missing_message(manifest: Manifest, spec: FileSpec, target: Path, reason: str = "") -> str:
    how = manifest.how_to_obtain()
    text = (
        f"{manifest.name}: {spec.type} {spec.name!r} is not available"
        f"{': ' + reason if reason else ''}. Put it at {target} (or point local_path in "
        f"{manifest.path} or the NEUROMODELS_DATA root at a folder that holds it)."
    )
    return text + (f" How to obtain it: {how}" if how else "")


def _download(url: str, dest: Path, timeout: float, progress: bool) -> None:
    """Download ``url`` to ``dest`` (no hash check here); file:// URLs are copied."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("", "file"):
        src = Path(urllib.parse.unquote(parsed.path)) if parsed.scheme else Path(url)
        if not src.is_file():
            raise FileNotFoundError(f"no file at {src}")
        shutil.copyfile(src, dest)
        return
    import pooch

    pooch.get_logger().setLevel("WARNING")
    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=timeout)
    pooch.retrieve(url, known_hash=None, fname=dest.name, path=dest.parent,
                   downloader=downloader, progressbar=progress)


def fetch(name: str | Manifest, timeout: float = DEFAULT_TIMEOUT, progress: bool = True,
          include_optional: bool = False) -> Path:
    """Make every file of a dataset available locally, hash-checked; return its folder.

    Files already present and matching the manifest are kept. Missing files are
    downloaded (HTTP(S) via pooch with ``timeout`` seconds, ``file://`` by copying)
    into a temporary file, checked, and renamed into place. Files without a source
    URL ("place files here") must be put in the folder by hand.

    Raises
    ------
    DatasetError
        Naming the file, where to put it and how to obtain it, when it cannot be
        fetched; or naming expected and actual hash when it does not match.
    """
    manifest = get_manifest(name)
    folder = manifest.folder()
    for spec in manifest.files:
        if not spec.required and not include_optional:
            continue
        target = folder / spec.name
        if spec.type == "folder":
            _check_folder(manifest, spec, target)
            continue
        if target.is_file():
            _check_file(target, spec)
            continue
        url = manifest.file_url(spec)
        if url is None:
            raise DatasetError(_missing_message(manifest, spec, target, "it has no download URL"))
        target.parent.mkdir(parents=True, exist_ok=True)
        # download into a private temporary folder beside the target, check, then rename
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
        tmp = staging / target.name
        try:
            try:
                _download(url, tmp, timeout, progress)
            except Exception as err:  # network errors, timeouts, 404, missing local copy
                raise DatasetError(
                    _missing_message(manifest, spec, target,
                                     f"downloading {url} failed ({type(err).__name__}: {err})")
                ) from err
            _check_file(tmp, spec)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def _check_folder(manifest: Manifest, spec: FileSpec, target: Path) -> str:
    if not target.is_dir():
        raise DatasetError(_missing_message(manifest, spec, target, "the folder does not exist"))
    if spec.n_entries is not None:
        n = sum(1 for p in target.iterdir() if not p.name.startswith("."))
        if n != spec.n_entries:
            raise DatasetError(
                f"{target} holds {n} entries; the manifest expects {spec.n_entries}. "
                f"Is it complete (and extracted)?"
            )
    return "present"


def verify(name: str | Manifest, include_optional: bool = False) -> list[dict]:
    """Check every local file of a dataset against its manifest.

    Returns one record per file: ``{"file", "path", "status"}``; raises
    :class:`DatasetError` on the first missing or mismatching required file.
    """
    manifest = get_manifest(name)
    folder = manifest.folder()
    report = []
    for spec in manifest.files:
        target = folder / spec.name
        exists = target.is_dir() if spec.type == "folder" else target.is_file()
        if not exists and not spec.required and not include_optional:
            report.append({"file": spec.name, "path": str(target), "status": "optional, absent"})
            continue
        if not exists:
            raise DatasetError(_missing_message(manifest, spec, target))
        status = _check_folder(manifest, spec, target) if spec.type == "folder" else \
            _check_file(target, spec)
        report.append({"file": spec.name, "path": str(target), "status": status})
    return report

