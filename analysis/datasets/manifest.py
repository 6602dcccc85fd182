"""Dataset manifests: the YAML schema, where manifests and data live, lookup by name.

Every external dataset is described by one YAML *manifest*; see :mod:`analysis.datasets`
for the schema. The bundled manifests live in ``data_manifests/`` (installed under
``<prefix>/share/neuromodels/data_manifests``); ``NEUROMODELS_MANIFESTS`` (folders
joined with ``os.pathsep``) adds folders to search.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DatasetError", "FileSpec", "Manifest", "manifest_dirs", "data_root", "read_manifest",
           "list_manifests", "get_manifest"]

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


def manifest_dirs() -> list[Path]:
    """Folders searched for ``*.yaml`` manifests.

    ``NEUROMODELS_MANIFESTS`` when set; otherwise the source tree's
    ``data_manifests/`` (editable installs, a clone) or, for a regular install, the
    copy installed under ``<prefix>/share/neuromodels/data_manifests``.
    """
    env = os.environ.get("NEUROMODELS_MANIFESTS")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    source = Path(__file__).resolve().parents[2] / "data_manifests"
    if source.is_dir():
        return [source]
    import sys

    return [Path(sys.prefix) / "share" / "neuromodels" / "data_manifests"]


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


def read_manifest(path: str | os.PathLike) -> Manifest:
    """Read and check one manifest YAML file."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
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
        size = f.get("size")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise DatasetError(f"{where}: size must be a non-negative integer (bytes); got {size!r}")
        files.append(FileSpec(
            name=str(f["name"]), url=f.get("url"), size=size,
            hash=_normalise_hash(f.get("hash", f.get("sha256")), where), type=ftype,
            n_entries=f.get("n_entries"), required=bool(f.get("required", True)),
            description=str(f.get("description", "")),
        ))
    return Manifest(
        name=name, description=str(raw.get("description", "")).strip(),
        citation=str(raw.get("citation", "")).strip(), license=str(raw.get("license", "")).strip(),
        source=source, format=str(raw.get("format", "")), loader=raw.get("loader"),
        files=tuple(files), homepage=str(raw.get("homepage", "")), local_path=raw.get("local_path"),
        notes=str(raw.get("notes", "")).strip(), loader_kwargs=dict(raw.get("loader_kwargs") or {}),
        path=path,
    )


def _all_manifests() -> dict[str, Manifest]:
    found: dict[str, Manifest] = {}
    for folder in manifest_dirs():
        if not folder.is_dir():
            continue
        for p in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
            m = read_manifest(p)
            if m.name in found:
                raise DatasetError(f"two manifests are named {m.name!r}: {found[m.name].path} and {p}")
            found[m.name] = m
    return found


def list_manifests() -> list[str]:
    """Names of all datasets with a manifest."""
    return sorted(_all_manifests())


def get_manifest(name: str | Manifest) -> Manifest:
    """The manifest called ``name`` (case-insensitive)."""
    if isinstance(name, Manifest):
        return name
    manifests = _all_manifests()
    lookup = {k.lower(): v for k, v in manifests.items()}
    if name.lower() not in lookup:
        raise DatasetError(
            f"no manifest named {name!r} in {[str(d) for d in manifest_dirs()]}; "
            f"available: {sorted(manifests)}"
        )
    return lookup[name.lower()]

