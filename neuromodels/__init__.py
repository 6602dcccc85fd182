"""Image-computable models of early visual cortex and their training."""
from .registry import build_model, list_models, register_model
from .receptive_fields import ReceptiveField

__version__ = "0.1.0"
__all__ = ["build_model", "list_models", "register_model", "ReceptiveField", "__version__"]
