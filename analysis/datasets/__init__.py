"""External datasets: manifests, fetching with hash checks, verification, loaders.

Every external dataset is described by one YAML *manifest* in ``data_manifests/``.
``NEUROMODELS_MANIFESTS`` (folders joined with ``os.pathsep``) *adds* folders, searched
before the bundled ones (a manifest there with a bundled name replaces it); a manifest
that cannot be read is reported by ``list`` and only its own dataset fails. A manifest
says what the dataset is, how to obtain it and which files make it up::

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
    loader: mnist                     # loader name: LOADERS, called as loader(manifest, **loader_kwargs)
    loader_kwargs: {}                 # e.g. image_folder: {root: val}
    local_path: null                  # a local copy to use instead of the data root
    files:
      - name: train-images-idx3-ubyte.gz   # path relative to the dataset folder (no '..', not absolute)
        url: ...                      # optional (else base_url + name); file:// works
        size: 9912422                 # bytes, optional
        hash: md5:f68b3c2d...         # "sha256:..." (or bare hex), "sha1:...", "md5:..."; null if unknown
        type: file                    # file (default) | folder
        n_entries: 1000               # folder: expected number of entries (optional)
        required: true                # false: optional file (e.g. ImageNet train split)
        unpack: false                 # true: a .tar(.gz)/.tgz/.zip extracted into the dataset folder

Files live in ``$NEUROMODELS_DATA/<name>/`` (default ``~/.cache/neuromodels``), or
in ``local_path``. Downloads go through :func:`pooch.retrieve` with the manifest's
hash; nothing here runs at import time, and nothing is downloaded unless
:func:`fetch` is called.

The package is split by idea: :mod:`~analysis.datasets.manifest` (schema and
lookup), :mod:`~analysis.datasets.fetch` (fetching and verification),
:mod:`~analysis.datasets.readers` (file formats), :mod:`~analysis.datasets.image_folders`
(image folders), :mod:`~analysis.datasets.loaders` (the loader registry) and :mod:`~analysis.datasets.cli` (the command line)::

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

from .cli import main
from .fetch import DEFAULT_TIMEOUT, fetch, file_hash, verify
from .fetch import ArchiveProcessor
from .image_folders import load_image_folder, load_model_vs_human_images, load_texture_folder
from .loaders import (
    LOADERS,
    load,
    load_brainscore,
    load_freeman_ziemba2013,
    load_freemanziemba2013,
    load_majajhong2015,
    load_mnist,
    load_model_vs_human,
    register_loader,
)
from .manifest import (
    DatasetError,
    FileSpec,
    Manifest,
    bundled_manifest_dir,
    check_relative_name,
    data_root,
    get_manifest,
    list_manifests,
    manifest_dirs,
    manifest_problems,
    read_manifest,
)
from .readers import load_brainscore_assembly, load_brainscore_stimulus_set, read_idx

__all__ = [
    "DatasetError",
    "Manifest",
    "FileSpec",
    "DEFAULT_TIMEOUT",
    "bundled_manifest_dir",
    "manifest_dirs",
    "manifest_problems",
    "check_relative_name",
    "data_root",
    "list_manifests",
    "get_manifest",
    "read_manifest",
    "fetch",
    "verify",
    "file_hash",
    "ArchiveProcessor",
    "load",
    "LOADERS",
    "register_loader",
    "load_brainscore",
    "load_model_vs_human_images",
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
    "main",
]
