"""Analyses that measure representations of models and recordings on one data model.

The public API, by module (each name is also reachable as ``analysis.<name>``,
imported on first use so that ``import analysis`` stays light):

- ``assemblies``: make_assembly, validate, average_repetitions, align, save, load, is_simulated
- ``stimuli``: StimulusSet
- ``images``: as_image, as_gray_image, rgb_to_luminance, resize_square
- ``bundled``: bundled_images, bundled_textures
- ``texture_stimuli``: texture_stimulus_set
- ``spectral_noise``: phase_randomize, periodic_component
- ``texture_synthesis``: synthesize_texture
- ``simulate``: SimulatedPopulation, simulate_recordings
- ``datasets``: manifests, fetching and verification (``python -m analysis.datasets``)
- ``activations``: extract, StimulusImages
- ``predictivity``: neural_predictivity
- ``_regression`` (the regressions behind predictivity and layer mapping): BatchedPLS,
  BatchedRidge (public here only: ``analysis.BatchedPLS``, ``analysis.BatchedRidge``)
- ``ceilings``: internal_consistency, ceiled_score
- ``layer_mapping``: score_layers
- ``rsa``: rdm, compare_rdms
- ``rsa_inference``: noise_ceiling, bootstrap
- ``cka``: cka (reach it as ``analysis.cka.cka``: the module's name is the function's)
- ``capacity``: manifold_capacity, manifold_geometry_by_layer,
  manifold_geometry_by_region
- ``capacity_simulation``: simulated_capacity
- ``alignment``: manifold_alignment
- ``texture``: modulation_index, modulation_table, spatial_average, live_units
- ``texture_decoding``: family_decoding
- ``few_shot``: data_efficiency
- ``distortions``: distort, register_distortion (a registry of parametric image distortions)
- ``robustness``: model_trials, ood_accuracy
- ``error_consistency``: human_error_consistency, read_human_trials, expected_consistency
  (Cohen's κ itself: ``analysis.error_consistency.error_consistency``; the module shadows it here)
- ``model_vs_human``: classifier_error_consistency, imagenet_to_16
- ``flows``: fit_flow, jacobians, local_components
"""
from __future__ import annotations

from neurocommon.lazy import lazy_api

__version__ = "0.1.0"

_API = {
    "assemblies": ["make_assembly", "validate", "average_repetitions", "align", "save", "load", "is_simulated"],
    "stimuli": ["StimulusSet"],
    "images": ["as_image", "as_gray_image", "rgb_to_luminance", "resize_square"],
    "bundled": ["bundled_images", "bundled_textures"],
    "texture_stimuli": ["texture_stimulus_set"],
    "spectral_noise": ["phase_randomize", "periodic_component"],
    "texture_synthesis": ["synthesize_texture"],
    "simulate": ["SimulatedPopulation", "simulate_recordings"],
    "activations": ["extract", "StimulusImages"],
    "predictivity": ["neural_predictivity"],
    "_regression": ["BatchedPLS", "BatchedRidge"],
    "ceilings": ["internal_consistency", "ceiled_score"],
    "layer_mapping": ["score_layers"],
    "rsa": ["rdm", "compare_rdms"],
    "rsa_inference": ["noise_ceiling", "bootstrap"],
    "capacity_simulation": ["simulated_capacity"],
    "capacity": ["manifold_capacity", "manifold_geometry_by_layer",
                 "manifold_geometry_by_region"],
    "alignment": ["manifold_alignment"],
    "texture": ["modulation_index", "modulation_table", "spatial_average", "live_units"],
    "texture_decoding": ["family_decoding"],
    "few_shot": ["data_efficiency"],
    "distortions": ["distort", "register_distortion"],
    "robustness": ["model_trials", "ood_accuracy"],
    "error_consistency": ["human_error_consistency", "read_human_trials", "expected_consistency"],
    "model_vs_human": ["classifier_error_consistency", "imagenet_to_16"],
    "flows": ["fit_flow", "jacobians", "local_components"],
}
_WHERE = {name: module for module, names in _API.items() for name in names}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_api(__name__, _API)
