"""Dataset manifests: the YAML schema, where manifests and data live, lookup by name.

Every external dataset is described by one YAML *manifest*; see :mod:`analysis.datasets`
for the schema. The bundled manifests live in ``data_manifests/`` (installed under
``<prefix>/share/neuromodels/data_manifests``); ``NEUROMODELS_MANIFESTS`` (folders
joined with ``os.pathsep``) adds folders searched first. A manifest that cannot be
read is reported (:func:`manifest_problems`) and only its own dataset fails.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DatasetError", "FileSpec", "Manifest", "bundled_manifest_dir", "manifest_dirs", "data_root",
           "read_manifest", "check_relative_name", "list_manifests", "get_manifest", "manifest_problems"]

_SOURCE_KINDS = ("url", "brainscore", "local")
_HASH_ALGORITHMS = ("sha256", "sha1", "md5")


class DatasetError(OSError):
    """A dataset is missing, corrupted, or cannot be fetched; the message says how to fix it.

    A subclass of ``OSError``, so ``except OSError`` around data loading catches it.
    """


# ----------------------------------------------------------------------------- manifests
@dataclass(frozen=True)
class FileSpec:
    """One file (or folder) of a dataset, as listed in its manifest."""

    name: str
    url: str | None = None
    size: int | None = None
    hash: str | None = None
    type: str = "file"
    n_entries: int | None = None
    required: bool = True
    description: str = ""
    unpack: bool = False  # an archive (.tar, .tar.gz, .tgz, .zip) extracted into the dataset folder

    @property
    def algorithm(self) -> str | None:
        return None if self.hash is None else self.hash.split(":", 1)[0]

    @property
    def digest(self) -> str | None:
        return None if self.hash is None else self.hash.split(":", 1)[1]


@dataclass(frozen=True)
class Manifest:
    """A dataset manifest (see the module docstring for the YAML schema)."""

    name: str
    description: str
    citation: str
    license: str
    source: dict
    format: str
    loader: str | None
    files: tuple[FileSpec, ...]
    homepage: str = ""
    local_path: str | None = None
    notes: str = ""
    loader_kwargs: dict = field(default_factory=dict)
    path: Path | None = None  # the YAML file it was read from

    def folder(self) -> Path:
        """Where this dataset's files are (``local_path`` or ``$NEUROMODELS_DATA/<name>``)."""
        if self.local_path:
            return Path(os.path.expandvars(os.path.expanduser(self.local_path)))
        return data_root() / self.name

    def file_url(self, spec: FileSpec) -> str | None:
        if spec.url:
            return spec.url
        kind = self.source.get("kind")
        if kind == "url" and self.source.get("base_url"):
            return self.source["base_url"].rstrip("/") + "/" + spec.name
        if kind == "brainscore" and self.source.get("bucket"):
            return f"https://{self.source['bucket']}.s3.amazonaws.com/{spec.name}"
        return None

    def how_to_obtain(self) -> str:
        text = str(self.source.get("instructions") or "").strip()
        if text:
            return " ".join(text.split())
        return f"see {self.homepage}" if self.homepage else ""


def bundled_manifest_dir() -> Path:
    """The folder of the manifests that ship with the toolkit.

    The source tree's ``data_manifests/`` (editable installs, a clone) or, for a
    regular install, the copy under ``<prefix>/share/neuromodels/data_manifests``.
    """
    source = Path(__file__).resolve().parents[2] / "data_manifests"
    if source.is_dir():
        return source
    return Path(sys.prefix) / "share" / "neuromodels" / "data_manifests"


def manifest_dirs() -> list[Path]:
    """Folders searched for ``*.yaml`` manifests, in order of precedence.

    The folders in ``NEUROMODELS_MANIFESTS`` (joined with ``os.pathsep``) first, then
    the bundled manifests (:func:`bundled_manifest_dir`): your folders *add* datasets,
    and a manifest of yours with the name of a bundled one replaces it (e.g. to point
    ImageNet at a local copy).
    """
    env = os.environ.get("NEUROMODELS_MANIFESTS", "")
    user = [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    bundled = bundled_manifest_dir()
    return user + ([bundled] if bundled not in user else [])


def data_root() -> Path:
    """Root folder of fetched data (``NEUROMODELS_DATA``, default ``~/.cache/neuromodels``)."""
    return Path(os.environ.get("NEUROMODELS_DATA", "~/.cache/neuromodels")).expanduser()


def _require(raw: Mapping, key: str, path: Path, kind=str):
    if key not in raw or raw[key] is None:
        raise DatasetError(f"manifest {path} lacks the required field {key!r}")
    if not isinstance(raw[key], kind):
        raise DatasetError(
            f"manifest {path}: field {key!r} must be {getattr(kind, '__name__', kind)}; "
            f"got {type(raw[key]).__name__}"
        )
    return raw[key]


def _normalise_hash(value, where: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    alg, _, digest = text.rpartition(":")
    alg = alg or "sha256"
    lengths = {"sha256": 64, "sha1": 40, "md5": 32}
    if alg not in lengths:
        raise DatasetError(f"{where}: hash algorithm must be one of {_HASH_ALGORITHMS}; got {alg!r}")
    if len(digest) != lengths[alg] or any(c not in "0123456789abcdef" for c in digest):
        raise DatasetError(f"{where}: {alg} hash must be {lengths[alg]} hex digits; got {digest!r}")
    return f"{alg}:{digest}"


def check_relative_name(name: str, where: str) -> str:
    """Refuse a file name that would leave its dataset folder; return it unchanged.

    Names are POSIX paths relative to the dataset folder: no absolute path, no drive,
    no ``..`` component (manifest file names, archive members, loader ``root``).

    Examples
    --------
    >>> check_relative_name("dtd/images", "manifest")
    'dtd/images'
    >>> check_relative_name("../x", "manifest")
    Traceback (most recent call last):
    ...
    analysis.datasets.manifest.DatasetError: manifest: '../x' would leave the dataset folder; names must be paths relative to it, without '..' (e.g. 'images/a.png')
    """
    from pathlib import PurePosixPath, PureWindowsPath

    text = str(name)
    posix, windows = PurePosixPath(text), PureWindowsPath(text)
    if (not text or posix.is_absolute() or windows.is_absolute() or windows.drive
            or text.startswith(("/", "\\")) or ".." in posix.parts or ".." in windows.parts):
        raise DatasetError(
            f"{where}: {text!r} would leave the dataset folder; names must be paths relative "
            f"to it, without '..' (e.g. 'images/a.png')"
        )
    return text


def read_manifest(path: str | os.PathLike) -> Manifest:
    """Read and check one manifest YAML file."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except UnicodeDecodeError as err:
        raise DatasetError(f"manifest {path} is not a text (UTF-8) file: {err}") from err
    except yaml.YAMLError as err:
        raise DatasetError(f"manifest {path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise DatasetError(f"manifest {path} must be a YAML mapping; got {type(raw).__name__}")
    name = _require(raw, "name", path)
    source = _require(raw, "source", path, dict)
    kind = source.get("kind")
    if kind not in _SOURCE_KINDS:
        raise DatasetError(f"manifest {path}: source.kind must be one of {_SOURCE_KINDS}; got {kind!r}")
    files = []
    for i, f in enumerate(_require(raw, "files", path, list)):
        where = f"manifest {path}, files[{i}]"
        if not isinstance(f, dict) or "name" not in f:
            raise DatasetError(f"{where} must be a mapping with at least a 'name'")
        ftype = f.get("type", "file")
        if ftype not in ("file", "folder"):
            raise DatasetError(f"{where}: type must be 'file' or 'folder'; got {ftype!r}")
        check_relative_name(str(f["name"]), where)
        size = f.get("size")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise DatasetError(f"{where}: size must be a non-negative integer (bytes); got {size!r}")
        files.append(FileSpec(
            name=str(f["name"]), url=f.get("url"), size=size,
            hash=_normalise_hash(f.get("hash", f.get("sha256")), where), type=ftype,
            n_entries=f.get("n_entries"), required=bool(f.get("required", True)),
            description=str(f.get("description", "")), unpack=bool(f.get("unpack", False)),
        ))
    loader_kwargs = raw.get("loader_kwargs") or {}
    if not isinstance(loader_kwargs, dict):
        raise DatasetError(f"manifest {path}: loader_kwargs must be a mapping; got "
                           f"{type(loader_kwargs).__name__}")
    return Manifest(
        name=name, description=str(raw.get("description", "")).strip(),
        citation=str(raw.get("citation", "")).strip(), license=str(raw.get("license", "")).strip(),
        source=source, format=str(raw.get("format", "")), loader=raw.get("loader"),
        files=tuple(files), homepage=str(raw.get("homepage", "")), local_path=raw.get("local_path"),
        notes=str(raw.get("notes", "")).strip(), loader_kwargs=dict(loader_kwargs),
        path=path,
    )


def _scan() -> tuple[dict[str, Manifest], dict[Path, DatasetError]]:
    """All readable manifests by name, and the files that could not be read (with why)."""
    found: dict[str, Manifest] = {}
    problems: dict[Path, DatasetError] = {}
    for folder in manifest_dirs():
        if not folder.is_dir():
            continue
        here: dict[str, Manifest] = {}
        for p in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
            try:
                m = read_manifest(p)
            except (DatasetError, OSError) as err:
                problems[p] = err if isinstance(err, DatasetError) else DatasetError(f"manifest {p}: {err}")
                continue
            if m.name.lower() in here:  # same folder: ambiguous
                problems[p] = DatasetError(f"two manifests are named {m.name!r}: "
                                           f"{here[m.name.lower()].path} and {p}")
                continue
            here[m.name.lower()] = m
        for key, m in here.items():  # earlier folders take precedence
            if key not in {k.lower() for k in found}:
                found[m.name] = m
    return found, problems


def manifest_problems() -> dict[str, str]:
    """{manifest file: why it could not be read}; these datasets are left out of the list."""
    return {str(p): str(err) for p, err in _scan()[1].items()}


def list_manifests() -> list[str]:
    """Names of all datasets with a readable manifest (see :func:`manifest_problems`)."""
    return sorted(_scan()[0])


def get_manifest(name: str | Manifest) -> Manifest:
    """The manifest called ``name`` (case-insensitive).

    Raises
    ------
    DatasetError
        When no manifest has that name (listing those available), or when the manifest
        file that would define it (its file stem or its ``name:`` matches) cannot be
        read (naming the file and the reason).
    """
    if isinstance(name, Manifest):
        return name
    manifests, problems = _scan()
    lookup = {k.lower(): v for k, v in manifests.items()}
    if str(name).lower() in lookup:
        return lookup[str(name).lower()]
    for p, err in problems.items():
        if p.stem.lower() == str(name).lower() or _declared_name(p) == str(name).lower():
            raise DatasetError(f"the manifest of {name!r} cannot be used: {err}") from err
    unread = f"; {len(problems)} manifest file(s) could not be read: {sorted(map(str, problems))}" \
        if problems else ""
    raise DatasetError(
        f"no manifest named {name!r} in {[str(d) for d in manifest_dirs()]}; "
        f"available: {sorted(manifests)}{unread}"
    )


def _declared_name(path: Path) -> str | None:
    """The ``name:`` line of a manifest that cannot be parsed as a whole, if it has one."""
    try:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("name:"):
                return line.split(":", 1)[1].strip().strip("'\"").lower()
    except OSError:
        return None
    return None
