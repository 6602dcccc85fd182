"""Import every architecture module so that their builders register themselves."""
from . import baselines, lcl, texture  # noqa: F401
from .frontends import gabor, steerable  # noqa: F401
