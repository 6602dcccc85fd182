"""Fixed (not learned) V1 front ends."""
from .gabor import GaborParameters, GaborV1, sample_gabor_parameters
from .steerable import SteerableV1

__all__ = ["SteerableV1", "GaborV1", "GaborParameters", "sample_gabor_parameters"]
