"""The toolkit's low-level helpers, one copy of each, shared by every package.

``analysis`` and ``neuromodels`` never import each other (DESIGN.md §2); both, and
``experiments``, import this package, which imports nothing of the toolkit. It holds
what both sides need and is not the science of either:

- ``files``: atomic_write_bytes, atomic_write_text, atomic_path, temp_path_beside,
  move_into_place, apply_umask (temporary file in the same folder, fsync, rename)
- ``images``: LUMINANCE_WEIGHTS, rgb_to_luminance (``skimage.color.rgb2gray``'s
  weights, numpy or torch), IMAGE_SUFFIXES, image_files
- ``progress``: progress_bar (a ``tqdm`` bar that can be switched off)
- ``deformations``: displacement_field (``normalize="expected" | "per_image"``), warp
- ``lazy``: lazy_api (the PEP 562 ``__getattr__``/``__dir__`` of the packages' ``_API`` tables)
- ``sources``: imported_packages (the packages a source file imports, read without importing it)

Importing it stays light: no torch, no matplotlib (torch is imported inside the
functions that need it). Each name is also reachable as ``neurocommon.<name>``.

Examples
--------
>>> import neurocommon
>>> neurocommon.LUMINANCE_WEIGHTS
(0.2125, 0.7154, 0.0721)
"""
from __future__ import annotations

from neurocommon.lazy import lazy_api

_API = {
    "files": ["atomic_write_bytes", "atomic_write_text", "atomic_path", "temp_path_beside", "move_into_place",
              "apply_umask"],
    "images": ["LUMINANCE_WEIGHTS", "rgb_to_luminance", "IMAGE_SUFFIXES", "image_files"],
    "progress": ["progress_bar"],
    "deformations": ["displacement_field", "warp"],
    "lazy": ["lazy_api"],
    "sources": ["imported_packages"],
}
__all__ = sorted(name for names in _API.values() for name in names)
__getattr__, __dir__ = lazy_api(__name__, _API, submodules=list(_API))
