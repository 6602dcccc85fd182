"""External datasets: manifests, fetching with hash checks, verification, loaders.

Every external dataset is described by one YAML *manifest* in ``data_manifests/``
(override the folder with the environment variable ``NEUROMODELS_MANIFESTS``; several
folders may be joined with ``os.pathsep``). A manifest says what the dataset is, how
to obtain it and which files make it up::

    name: MNIST                       # identifier used on the command line
    description: ...
    citation: ...
    license: ...
    homepage: https://...
    source:
      kind: url                       # url | brainscore | local ("place files here")
      base_url: https://...           # url: prefix for files without their own url
      bucket: brainio-brainscore      # brainscore: S3 bucket (https://BUCKET.s3.amazonaws.com/FILE)
      identifier: ...                 # brainscore: Brain-Score data identifier
      instructions: ...               # how to obtain it by hand (always shown when missing)
    format: idx-gzip                  # what the files are
    loader: mnist                     # loader name, see LOADERS / load()
    local_path: null                  # a local copy to use instead of the data root
    files:
      - name: train-images-idx3-ubyte.gz   # path relative to the dataset folder
        url: ...                      # optional (else base_url + name); file:// works
        size: 9912422                 # bytes, optional
        hash: md5:f68b3c2d...         # "sha256:..." (or bare hex), "sha1:...", "md5:..."; null if unknown
        type: file                    # file (default) | folder
        n_entries: 1000               # folder: expected number of entries (optional)
        required: true                # false: optional file (e.g. ImageNet train split)

Files live in ``$NEUROMODELS_DATA/<name>/`` (default ``~/.cache/neuromodels``), or
in ``local_path``. Downloads use pooch with a short timeout, go to a temporary file,
are hash-checked, then renamed into place; a file whose hash does not match is
refused with both hashes in the message. Nothing here runs at import time, and
nothing is downloaded unless :func:`fetch` is called.

Command line::

    python -m analysis.datasets list
    python -m analysis.datasets info NAME
    python -m analysis.datasets fetch NAME
    python -m analysis.datasets verify NAME

Examples
--------
>>> from analysis.datasets import list_manifests
>>> "FreemanZiemba2013" in list_manifests()
True
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "DatasetError",
    "Manifest",
    "FileSpec",
    "manifest_dirs",
    "data_root",
    "list_manifests",
    "get_manifest",
    "read_manifest",
    "fetch",
    "verify",
    "file_hash",
    "load",
    "LOADERS",
    "load_image_folder",
    "load_texture_folder",
    "load_mnist",
    "read_idx",
    "load_brainscore_assembly",
    "load_brainscore_stimulus_set",
    "load_freemanziemba2013",
    "load_freeman_ziemba2013",
    "load_majajhong2015",
    "load_model_vs_human",
]

#: Seconds to wait for a server before giving up (connect and read).
DEFAULT_TIMEOUT = 15.0
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
    source = Path(__file__).resolve().parents[1] / "data_manifests"
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


# ----------------------------------------------------------------------------- loaders
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".ppm")


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)


def load_image_folder(root: str | os.PathLike, size: int | None = None,
                      max_per_class: int | None = None, label_column: str = "image_label",
                      visual_degrees: float = 8.0, name: str | None = None, seed: int = 0):
    """An image folder (``root/<class>/<image>``, as torchvision's ImageFolder) → StimulusSet.

    Parameters
    ----------
    root : path
        Folder with one sub-folder per class (ImageNet ``train/`` or ``val/`` with
        WordNet ids, DTD ``images/``, ...).
    size : int, optional
        If given, images are read now, converted to luminance, centre-cropped and
        resampled to ``size`` × ``size`` (held in memory); otherwise the set keeps
        paths and reads on demand (images must then share one size).
    max_per_class : int, optional
        Keep at most this many images per class (a seeded random choice).
    label_column : str
        Column holding the class (sub-folder) name.

    Returns
    -------
    StimulusSet
        Columns ``stimulus_id`` (``class/file``), ``label_column``, ``path``.
    """
    import pandas as pd

    from analysis.stimuli import StimulusSet, _as_gray_float, resize_square

    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"no image folder at {root}")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(f"{root} has no class sub-folders (expected root/<class>/<image files>)")
    rng = np.random.default_rng(seed)
    rows = []
    for c in classes:
        files = _image_files(c)
        if max_per_class is not None and len(files) > max_per_class:
            files = [files[i] for i in sorted(rng.choice(len(files), max_per_class, replace=False))]
        rows += [{"stimulus_id": f"{c.name}/{f.name}", label_column: c.name, "path": str(f)}
                 for f in files]
    if not rows:
        raise DatasetError(f"no image files ({', '.join(_IMAGE_SUFFIXES)}) under {root}")
    table = pd.DataFrame(rows)
    images = None
    if size is not None:
        from skimage.io import imread

        images = np.stack([resize_square(_as_gray_float(imread(p), p)[0], size)[None]
                           for p in table["path"]])
    return StimulusSet(table, images, visual_degrees=visual_degrees, name=name or root.name)


def load_texture_folder(root: str | os.PathLike, size: int | None = None,
                        max_per_class: int | None = None, **kwargs):
    """A texture database folder (``root/<family>/<image>``, e.g. DTD ``images/``) →
    StimulusSet with a ``texture_family`` column (see :func:`load_image_folder`)."""
    return load_image_folder(root, size=size, max_per_class=max_per_class,
                             label_column="texture_family", **kwargs)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (LeCun et al.'s MNIST format; ``.gz`` accepted).

    Format: 2 zero bytes, a type code (0x08 = uint8, 0x09 int8, 0x0B int16, 0x0C
    int32, 0x0D float32, 0x0E float64), the number of dimensions, then each
    dimension as a big-endian uint32, then the data (big-endian).
    """
    import gzip

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise DatasetError(f"{path}: unknown IDX type code {data[2]:#x}")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(dtypes[data[2]])
    body = data[4 + 4 * ndim:]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(body) != expected:
        raise DatasetError(f"{path}: header promises {expected} bytes of data, file holds {len(body)}")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(folder: str | os.PathLike | None = None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images ``(n, 28, 28)`` uint8 and labels ``(n,)`` uint8 from the IDX files.

    ``folder`` defaults to the fetched dataset's folder; ``split`` is ``'train'``
    (60 000) or ``'test'`` (10 000).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    folder = Path(folder) if folder is not None else get_manifest("MNIST").folder()
    prefix = "train" if split == "train" else "t10k"
    paths = [folder / f"{prefix}-{kind}-idx{d}-ubyte.gz" for kind, d in (("images", 3), ("labels", 1))]
    for p in paths:
        if not p.is_file():
            raise DatasetError(f"MNIST file {p.name} is missing; expected at {p}. "
                               f"Run: python -m analysis.datasets fetch MNIST")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"MNIST {split}: {images.shape} images do not match {labels.shape} labels")
    return images, labels


def load_brainscore_assembly(path: str | os.PathLike, time_window: tuple[float, float] | None = (50, 200),
                             source: str | None = None, attrs: Mapping | None = None):
    """A Brain-Score (BrainIO) assembly netCDF file → an assembly of this toolkit's data model.

    BrainIO stores ``(presentation, neuroid[, time_bin])`` with every MultiIndex level as
    a plain coordinate. ``stimulus_id`` is taken from ``stimulus_id`` or the legacy
    ``image_id``; with a ``time_bin`` dim, the bins inside ``time_window`` (ms, by
    ``time_bin_start``/``time_bin_end``) are averaged, as Brain-Score's benchmarks do
    (FreemanZiemba2013: 1-ms bins, 50–200 ms). Values keep the units stored in the file.
    """
    import xarray as xr

    from analysis.assemblies import NEUROID, PRESENTATION, TIME_BIN, validate

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no Brain-Score assembly file at {path}")
    with xr.open_dataset(path) as ds:
        names = list(ds.data_vars)
        if len(names) != 1:
            raise DatasetError(f"{path} holds {len(names)} data variables {names}; expected one")
        da = ds[names[0]].load()
    for dim in (PRESENTATION, NEUROID):
        if dim not in da.dims:
            raise DatasetError(f"{path}: expected dims presentation × neuroid; got {da.dims}")
    if "stimulus_id" not in da.coords:
        if "image_id" not in da.coords:
            raise DatasetError(f"{path}: no 'stimulus_id' or 'image_id' coord along presentation")
        da = da.assign_coords(stimulus_id=(PRESENTATION, da["image_id"].values))
    if TIME_BIN in da.dims:
        if time_window is not None and "time_bin_start" in da.coords:
            start, end = da["time_bin_start"].values, da["time_bin_end"].values
            keep = (start >= time_window[0]) & (end <= time_window[1])
            if not keep.any():
                raise DatasetError(f"{path}: no time bins inside {time_window} ms "
                                   f"(bins span {start.min()}–{end.max()} ms)")
            da = da.isel({TIME_BIN: np.flatnonzero(keep)})
        da = da.mean(TIME_BIN, keep_attrs=True)
        da = da.drop_vars([c for c in list(da.coords) if TIME_BIN in da[c].dims or
                           c in ("time_bin_start", "time_bin_end")], errors="ignore")
        da.attrs["time_window_ms"] = list(time_window) if time_window is not None else "all"
    da = da.transpose(PRESENTATION, NEUROID)
    for c in list(da.coords):
        if da[c].dtype.kind == "O":
            da = da.assign_coords({c: (da[c].dims, da[c].values.astype(str))})
    da.attrs.update({"source": source or path.stem, "simulated": 0, **dict(attrs or {})})
    da.name = None
    return validate(da)


def load_brainscore_stimulus_set(csv_path: str | os.PathLike, zip_path: str | os.PathLike,
                                 visual_degrees: float, name: str | None = None,
                                 extract_to: str | os.PathLike | None = None):
    """A Brain-Score stimulus set (CSV + zip of images) → StimulusSet with a ``path`` column.

    The CSV's ``stimulus_id`` (or legacy ``image_id``) column names each stimulus and
    ``filename`` (or ``image_file_name``) its file inside the zip. The zip is
    extracted once next to it (or into ``extract_to``).
    """
    import zipfile

    import pandas as pd

    from analysis.stimuli import StimulusSet

    csv_path, zip_path = Path(csv_path), Path(zip_path)
    for p in (csv_path, zip_path):
        if not p.is_file():
            raise DatasetError(f"no Brain-Score stimulus file at {p}")
    table = pd.read_csv(csv_path)
    if "stimulus_id" not in table.columns:
        if "image_id" not in table.columns:
            raise DatasetError(f"{csv_path}: no 'stimulus_id' or 'image_id' column; got {list(table.columns)}")
        table = table.rename(columns={"image_id": "stimulus_id"})
    fcol = next((c for c in ("filename", "image_file_name", "stimulus_path_within_store")
                 if c in table.columns), None)
    if fcol is None:
        raise DatasetError(f"{csv_path}: no 'filename' column naming the image files")
    out = Path(extract_to) if extract_to else zip_path.with_suffix("")
    done = out / ".extracted"
    if not done.exists():
        with zipfile.ZipFile(zip_path) as zf:
            members = {Path(m).name: m for m in zf.namelist() if not m.endswith("/")}
            out.mkdir(parents=True, exist_ok=True)
            for m in members.values():
                target = out / Path(m).name
                with zf.open(m) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        done.touch()
    paths = [out / Path(str(f)).name for f in table[fcol]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} images named in {csv_path} are not in {zip_path}, e.g. {missing[:3]}")
    table["path"] = [str(p) for p in paths]
    return StimulusSet(table, None, visual_degrees=visual_degrees, name=name or csv_path.stem)


def load_freemanziemba2013(region: str | None = None, access: str = "public",
                           folder: str | os.PathLike | None = None,
                           time_window: tuple[float, float] = (50, 200)):
    """FreemanZiemba2013 V1/V2 recordings and stimuli (Brain-Score files) → (assembly, StimulusSet).

    Parameters
    ----------
    region : 'V1', 'V2' or None (both)
    access : 'public' (Brain-Score's public 30 %) or 'private'
    folder : path, optional
        Folder holding the Brain-Score files (default: the fetched dataset's).
    time_window : (float, float)
        Averaged window in ms after onset (Brain-Score: 50–200 ms).

    Returns
    -------
    (xarray.DataArray, StimulusSet)
        All repetitions (``repetition`` coord), ``region`` along neuroid; 4° stimuli.
    """
    if access not in ("public", "private"):
        raise ValueError(f"access must be 'public' or 'private'; got {access!r}")
    manifest = get_manifest("FreemanZiemba2013")
    folder = Path(folder) if folder is not None else manifest.folder()
    asm = load_brainscore_assembly(folder / f"assy_movshon_FreemanZiemba2013_{access}.nc",
                                   time_window=time_window, source=f"FreemanZiemba2013.{access}")
    if region is not None:
        if region not in ("V1", "V2"):
            raise ValueError(f"region must be 'V1', 'V2' or None; got {region!r}")
        asm = asm.isel(neuroid=np.flatnonzero(asm["region"].values == region))
    stem = f"image_movshon_FreemanZiemba2013-{access}"
    stimuli = load_brainscore_stimulus_set(folder / f"{stem}.csv", folder / f"{stem}.zip",
                                           visual_degrees=4.0, name=f"FreemanZiemba2013-{access}")
    return asm, stimuli


#: Alias (the name the experiments package looks up).
load_freeman_ziemba2013 = load_freemanziemba2013


def load_majajhong2015(region: str | None = None, access: str = "public",
                       folder: str | os.PathLike | None = None):
    """MajajHong2015 V4/IT recordings and HvM stimuli (Brain-Score files) → (assembly, StimulusSet).

    Time bins (if any) in 70–170 ms are averaged, as Brain-Score's benchmarks do;
    stimuli span 8°.
    """
    if access not in ("public", "private"):
        raise ValueError(f"access must be 'public' or 'private'; got {access!r}")
    manifest = get_manifest("MajajHong2015")
    folder = Path(folder) if folder is not None else manifest.folder()
    asm = load_brainscore_assembly(folder / f"assy_dicarlo_MajajHong2015_{access}.nc",
                                   time_window=(70, 170), source=f"MajajHong2015.{access}")
    if region is not None:
        asm = asm.isel(neuroid=np.flatnonzero(asm["region"].values == region))
    stem = f"image_dicarlo_hvm-{access}"
    stimuli = load_brainscore_stimulus_set(folder / f"{stem}.csv", folder / f"{stem}.zip",
                                           visual_degrees=8.0, name=f"hvm-{access}")
    return asm, stimuli


def load_model_vs_human(experiment: str | None = None, folder: str | os.PathLike | None = None):
    """Human trial data of model-vs-human (Geirhos et al. 2021) → tidy DataFrame.

    Locates ``raw-data/<experiment>/`` through the manifest (or ``folder``) and
    reads it with :func:`analysis.robustness.load_model_vs_human` (columns subj,
    session, trial, rt, object_response, category, condition, imagename, plus
    ``experiment``, ``image_id`` and ``correct``). ``experiment`` None reads all.
    """
    from .robustness import load_model_vs_human as read_trials

    folder = Path(folder) if folder is not None else get_manifest("model-vs-human").folder()
    raw = folder / "raw-data"
    if not raw.is_dir():
        raise DatasetError(f"no model-vs-human raw-data folder at {raw}; clone "
                           f"https://github.com/bethgelab/model-vs-human and set local_path")
    dirs = [raw / experiment] if experiment else sorted(p for p in raw.iterdir() if p.is_dir())
    for d in dirs:
        if not d.is_dir():
            raise DatasetError(f"no experiment {d.name!r} in {raw}; available: "
                               f"{sorted(p.name for p in raw.iterdir() if p.is_dir())}")
    try:
        return read_trials(dirs)
    except (FileNotFoundError, ValueError) as err:
        raise DatasetError(str(err)) from err


def _load_imagenet(split: str = "val", folder=None, **kwargs):
    folder = Path(folder) if folder is not None else get_manifest("ImageNet").folder()
    return load_image_folder(folder / split, name=f"imagenet-{split}", **kwargs)


def _load_dtd(folder=None, **kwargs):
    folder = Path(folder) if folder is not None else get_manifest("DTD").folder()
    return load_texture_folder(folder / "dtd" / "images", name="dtd", **kwargs)


#: Loader name (manifest ``loader``) → function.
LOADERS = {
    "image_folder": _load_imagenet,
    "texture_folder": _load_dtd,
    "mnist": load_mnist,
    "freemanziemba2013": load_freemanziemba2013,
    "majajhong2015": load_majajhong2015,
    "model_vs_human": load_model_vs_human,
}


def load(name: str, **kwargs):
    """Load a fetched dataset into the data model with the loader its manifest names."""
    manifest = get_manifest(name)
    if manifest.loader not in LOADERS:
        raise DatasetError(f"{manifest.name}: unknown loader {manifest.loader!r}; known: {sorted(LOADERS)}")
    return LOADERS[manifest.loader](**{**manifest.loader_kwargs, **kwargs})


# ----------------------------------------------------------------------------- CLI
def _info(manifest: Manifest) -> str:
    lines = [
        f"{manifest.name}", "=" * len(manifest.name), manifest.description, "",
        f"citation : {manifest.citation}", f"license  : {manifest.license}",
        f"homepage : {manifest.homepage}", f"source   : {manifest.source.get('kind')}"
        + (f" ({manifest.source.get('identifier')})" if manifest.source.get("identifier") else ""),
        f"format   : {manifest.format}", f"loader   : {manifest.loader}",
        f"folder   : {manifest.folder()}", f"manifest : {manifest.path}", "", "files:",
    ]
    for f in manifest.files:
        lines.append(
            f"  {f.name}  [{f.type}{'' if f.required else ', optional'}]"
            f"  size={f.size if f.size is not None else '?'}  hash={f.hash or 'unknown'}"
            f"  url={manifest.file_url(f) or '(place by hand)'}"
        )
    if manifest.how_to_obtain():
        lines += ["", "how to obtain:", "  " + manifest.how_to_obtain()]
    if manifest.notes:
        lines += ["", "notes:", "  " + manifest.notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m analysis.datasets list | info NAME | fetch NAME | verify NAME``."""
    parser = argparse.ArgumentParser(prog="python -m analysis.datasets",
                                     description="List, describe, fetch and verify external datasets.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="datasets with a manifest")
    for cmd in ("info", "fetch", "verify"):
        p = sub.add_parser(cmd)
        p.add_argument("name")
        if cmd in ("fetch", "verify"):
            p.add_argument("--optional", action="store_true", help="include optional files")
        if cmd == "fetch":
            p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds (default %(default)s)")
            p.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for n in list_manifests():
                m = get_manifest(n)
                print(f"{n:20s} {m.source.get('kind'):10s} {m.description.splitlines()[0] if m.description else ''}")
        elif args.command == "info":
            print(_info(get_manifest(args.name)))
        elif args.command == "fetch":
            folder = fetch(args.name, timeout=args.timeout, progress=not args.no_progress,
                           include_optional=args.optional)
            print(f"{get_manifest(args.name).name}: all files present and checked in {folder}")
        elif args.command == "verify":
            for r in verify(args.name, include_optional=args.optional):
                print(f"{r['status']:35s} {r['path']}")
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
