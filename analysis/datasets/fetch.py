"""Fetching a dataset's files with pooch, unpacking archives safely, and verifying them.

:func:`fetch` downloads each missing file with :func:`pooch.retrieve`, which writes
to a temporary file, checks the manifest's hash (``known_hash``) and only then moves
the file into place; archives marked ``unpack: true`` are extracted into the dataset
folder by pooch's ``Untar``/``Unzip`` processors, after every member has been checked
to stay inside that folder. :func:`verify` checks files already present.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from .manifest import DatasetError, FileSpec, Manifest, check_relative_name, data_root, get_manifest

__all__ = ["DEFAULT_TIMEOUT", "fetch", "verify", "file_hash", "ArchiveProcessor"]

#: Seconds to wait for a server before giving up (connect and read).
DEFAULT_TIMEOUT = 15.0
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def file_hash(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file (``sha256``, ``sha1`` or ``md5``), computed by :func:`pooch.file_hash`.

    Examples
    --------
    >>> import tempfile, hashlib, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "x"
    ...     _ = p.write_bytes(b"abc")
    ...     file_hash(p) == hashlib.sha256(b"abc").hexdigest()
    True
    """
    import pooch

    return pooch.file_hash(str(path), alg=algorithm)


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


def _missing_message(manifest: Manifest, spec: FileSpec, target: Path, reason: str = "") -> str:
    how = manifest.how_to_obtain()
    text = (
        f"{manifest.name}: {spec.type} {spec.name!r} is not available"
        f"{': ' + reason if reason else ''}. Put it at {target} (or point local_path in "
        f"{manifest.path} or the NEUROMODELS_DATA root at a folder that holds it)."
    )
    return text + (f" How to obtain it: {how}" if how else "")


def _target(folder: Path, name: str, where: str) -> Path:
    """``folder / name``, refusing a name that leaves ``folder`` (also through symlinks)."""
    check_relative_name(name, where)
    target = folder / name
    root = folder.resolve()
    if target.resolve() != root and root not in target.resolve().parents:
        raise DatasetError(f"{where}: {name!r} resolves to {target.resolve()}, outside {root}")
    return target


def _ensure_writable(folder: Path, manifest: Manifest) -> None:
    """One clear error when files cannot be written into ``folder``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise DatasetError(
            f"{manifest.name}: cannot write into {folder} ({err.strerror or err}). Set "
            f"NEUROMODELS_DATA (now {data_root()}) to a writable folder, or set local_path in "
            f"{manifest.path} to a folder that already holds the files."
        ) from None


# ----------------------------------------------------------------------------- downloaders
def _copy_local(url: str, output_file, pooch_=None) -> None:
    """A pooch downloader for ``file://`` URLs and plain paths: copy the file."""
    parsed = urllib.parse.urlparse(url)
    src = Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else Path(url)
    if not src.is_file():
        raise FileNotFoundError(f"no file at {src}")
    if hasattr(output_file, "write"):
        with open(src, "rb") as fh:
            shutil.copyfileobj(fh, output_file)
    else:
        shutil.copyfile(src, output_file)


def _downloader(url: str, timeout: float, progress: bool):
    import pooch

    scheme = urllib.parse.urlparse(url).scheme
    if scheme in ("", "file"):
        return _copy_local
    if scheme in ("http", "https"):
        return pooch.HTTPDownloader(progressbar=progress, timeout=timeout)
    if scheme == "ftp":
        return pooch.FTPDownloader(progressbar=progress, timeout=timeout)
    return pooch.choose_downloader(url, progressbar=progress)


# ----------------------------------------------------------------------------- archives
class ArchiveProcessor:
    """A pooch processor that extracts a tar or zip archive into ``extract_dir`` safely.

    Every member is checked first: absolute names, ``..`` components, links that point
    outside, and device files are refused (naming the member), so an archive cannot
    write outside its dataset folder. Extraction itself is pooch's ``Untar``/``Unzip``.
    A marker file ``.<archive>.extracted`` records a complete extraction.

    Parameters
    ----------
    extract_dir : path
        Folder to extract into (the dataset folder).
    """

    def __init__(self, extract_dir: str | os.PathLike):
        self.extract_dir = Path(extract_dir)

    def marker(self, fname: str | os.PathLike) -> Path:
        return self.extract_dir / f".{Path(fname).name}.extracted"

    def __call__(self, fname: str, action: str, pooch_=None) -> list[str]:
        import pooch

        fname = str(fname)
        where = f"archive {fname}"
        if fname.endswith(_TAR_SUFFIXES):
            with tarfile.open(fname) as tar:
                for m in tar.getmembers():
                    check_relative_name(m.name, where)
                    if m.issym() or m.islnk():
                        link = m.linkname if m.islnk() else str(Path(m.name).parent / m.linkname)
                        check_relative_name(os.path.normpath(link), f"{where}, link {m.name!r}")
                    elif m.isdev():
                        raise DatasetError(f"{where}: member {m.name!r} is a device file; refused")
            processor = pooch.Untar(extract_dir=str(self.extract_dir))
        elif fname.endswith(".zip"):
            with zipfile.ZipFile(fname) as zf:
                for name in zf.namelist():
                    check_relative_name(name, where)
            processor = pooch.Unzip(extract_dir=str(self.extract_dir))
        else:
            raise DatasetError(f"{where}: unpack needs a .zip or {', '.join(_TAR_SUFFIXES)} file")
        out = processor(fname, "download", pooch_)  # "download": always extract
        self.marker(fname).touch()
        return out


# ----------------------------------------------------------------------------- fetch, verify
def _retrieve(manifest: Manifest, spec: FileSpec, target: Path, timeout: float, progress: bool,
              processor) -> None:
    import pooch

    url = manifest.file_url(spec)
    if url is None:
        raise DatasetError(_missing_message(manifest, spec, target, "it has no download URL"))
    _ensure_writable(target.parent, manifest)
    try:
        pooch.retrieve(url, known_hash=spec.hash, fname=target.name, path=target.parent,
                       downloader=_downloader(url, timeout, progress), processor=processor,
                       progressbar=progress)
    except DatasetError:
        raise
    except ValueError as err:  # pooch: the hash does not match (the download is deleted)
        raise DatasetError(
            f"{manifest.name}: the download of {url} does not match the hash in {manifest.path} "
            f"({err}). Nothing was kept; the file may be corrupted, a different version, or the "
            f"manifest outdated."
        ) from None
    except Exception as err:  # network errors, timeouts, 404, missing local copy
        raise DatasetError(_missing_message(
            manifest, spec, target, f"downloading {url} failed ({type(err).__name__}: {err})")) from None
    if spec.size is not None and target.stat().st_size != spec.size:
        size = target.stat().st_size
        target.unlink()
        raise DatasetError(f"{url} gave {size} bytes; the manifest expects {spec.size}. Nothing was kept.")


def fetch(name: str | Manifest, timeout: float = DEFAULT_TIMEOUT, progress: bool = True,
          include_optional: bool = False) -> Path:
    """Make every file of a dataset available locally, hash-checked; return its folder.

    Files already present are checked against the manifest and kept. Missing files
    are fetched with :func:`pooch.retrieve` (HTTP(S) with ``timeout`` seconds,
    ``file://`` URLs and plain paths by copying) against the manifest's hash. Archives
    marked ``unpack: true`` are extracted into the dataset folder (once) by
    :class:`ArchiveProcessor`. Files without a URL ("place files here") must be put in
    the folder by hand; folders are checked after the archives are unpacked.

    Raises
    ------
    DatasetError
        Naming the file, where to put it and how to obtain it, when it cannot be
        fetched; naming the hashes when a download does not match; when the data
        folder is not writable; when a name or archive member would leave the folder.

    Examples
    --------
    Not run as a doctest: it downloads (the tests are offline).

    >>> from analysis.datasets import fetch
    >>> fetch("MNIST", progress=False)  # doctest: +SKIP
    PosixPath('/home/me/.cache/neuromodels/MNIST')
    """
    manifest = get_manifest(name)
    folder = manifest.folder()
    specs = [s for s in manifest.files if s.required or include_optional]
    for spec in sorted(specs, key=lambda s: s.type == "folder"):  # files (archives) first
        target = _target(folder, spec.name, f"manifest {manifest.path}")
        if spec.type == "folder":
            _check_folder(manifest, spec, target)
            continue
        processor = ArchiveProcessor(folder) if spec.unpack else None
        if not target.is_file():
            _retrieve(manifest, spec, target, timeout, progress, processor)
            continue
        _check_file(target, spec)
        if processor is not None and not processor.marker(target).exists():
            _ensure_writable(folder, manifest)
            processor(str(target), "fetch")
    return folder


def verify(name: str | Manifest, include_optional: bool = False) -> list[dict]:
    """Check every local file of a dataset against its manifest.

    Returns one record per file: ``{"file", "path", "status"}``; raises
    :class:`DatasetError` on the first missing or mismatching required file.
    """
    manifest = get_manifest(name)
    folder = manifest.folder()
    report = []
    for spec in manifest.files:
        target = _target(folder, spec.name, f"manifest {manifest.path}")
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
