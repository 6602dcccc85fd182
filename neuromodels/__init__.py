"""Image-computable models of early visual cortex and their training.

The public API (each name imported on first use, so that ``import neuromodels``
and the command lines that do not build a model stay light: no torch until a
model, a loss or the trainer is asked for):

- ``registry``: build_model, list_models, register_model, model_info
- ``losses``: build_loss, list_losses, register_loss
- ``receptive_fields``: ReceptiveField

Subpackages and modules (``neuromodels.training``, ``neuromodels.losses``,
``neuromodels.lcl``, ...) are reachable as attributes too, imported on first use.

Examples
--------
>>> import neuromodels
>>> "lcl_v2" in neuromodels.list_models()
True
>>> neuromodels.build_model("lcl_v2").__class__.__name__
'LCLV2'
"""
from __future__ import annotations

from neurocommon.lazy import lazy_api

__version__ = "0.1.0"

_API = {
    "registry": ["build_model", "list_models", "register_model", "model_info"],
    "losses": ["build_loss", "list_losses", "register_loss"],
    "receptive_fields": ["ReceptiveField"],
}
_WHERE = {name: module for module, names in _API.items() for name in names}
_SUBMODULES = ("augment", "base", "baselines", "brainscore", "command_line", "data", "frontends", "layers", "lcl",
               "losses", "receptive_fields", "registry", "texture", "texture_families", "training", "weights")
__all__ = sorted(_WHERE) + ["__version__"]
__getattr__, __dir__ = lazy_api(__name__, _API, _SUBMODULES)
