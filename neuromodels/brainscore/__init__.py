"""Brain-Score vision plugins from toolkit models, and conversion to and from Brain-Score's data.

- :func:`export_plugin` / ``python -m neuromodels.brainscore export``: a trained
  checkpoint -> a plugin folder (and upload zip) that passes Brain-Score's own tests;
- :mod:`~neuromodels.brainscore.convert`: toolkit assemblies (``xarray.DataArray``)
  <-> Brain-Score ``NeuroidAssembly``, toolkit stimulus sets <-> ``StimulusSet``;
- :mod:`~neuromodels.brainscore.benchmark`: a local ``NeuralBenchmark`` with
  Brain-Score's ``pls`` metric and internal-consistency ceiling on any recording.

Nothing here imports Brain-Score at import time; conversion and local benchmarks
need the separate Brain-Score environment (``make brainscore-env``), export does not.
"""
from __future__ import annotations

from neurocommon.lazy import lazy_api

# imported on first use: `python -m neuromodels.brainscore --help` does not import torch
_API = {"export": ["MAX_UPLOAD_BYTES", "REGIONS", "ExportResult", "PluginExportError", "check_plugin_folder",
                   "export_plugin", "registry_line", "zip_plugin"]}
_SUBMODULES = ("export", "convert", "benchmark", "testing")

__all__ = [
    "export_plugin",
    "zip_plugin",
    "check_plugin_folder",
    "registry_line",
    "ExportResult",
    "PluginExportError",
    "REGIONS",
    "MAX_UPLOAD_BYTES",
]
__getattr__, __dir__ = lazy_api(__name__, _API, _SUBMODULES)
