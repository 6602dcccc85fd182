"""Score a Brain-Score model locally on any recording, with Brain-Score's own benchmark code.

:func:`neural_benchmark` builds Brain-Score's ``NeuralBenchmark`` exactly as its
FreemanZiemba2013 benchmarks do (``brainscore_vision/benchmarks/freemanziemba2013``):
the target is the recording averaged over repetitions (Brain-Score's
``average_repetition``), the metric is the registered ``pls`` metric
(``PLSRegression(n_components=25, scale=False)``, Pearson r per neuroid on held-out
stimuli of 10 stratified shuffle splits with train fraction 0.9 and
``random_state=1``, median over neuroids, mean over splits), the ceiling is the
registered ``internal_consistency`` (split-half Spearman–Brown reliability across
repetitions), and the reported score is ``r² / ceiling``. Stimuli of
``stimulus_degrees`` are placed on a gray screen of the model's visual degrees
before the model sees them.

Runs in the Brain-Score environment only (``make brainscore-env``).

Examples
--------
>>> from brainscore_vision import load_model  # doctest: +SKIP
>>> bench = neural_benchmark(recording, stimuli, region="V1", stimulus_degrees=4)  # doctest: +SKIP
>>> score = bench(load_model("lcl_v2_demo"))  # doctest: +SKIP
>>> float(score), float(score.raw), float(score.ceiling)  # doctest: +SKIP
"""
from __future__ import annotations

import importlib

from .convert import to_neuroid_assembly

__all__ = ["neural_benchmark", "registered_metric"]


def registered_metric(name: str, *args, **kwargs):
    """A metric (or ceiling) from Brain-Score's registry, without installing plugin requirements.

    Equivalent to ``brainscore_vision.load_metric(name, ...)`` with
    ``BS_INSTALL_DEPENDENCIES=no``: the metric plugin is imported and its registered
    factory called.
    """
    from brainscore_core.plugin_management.import_plugin import ImportPlugin
    from brainscore_vision import metric_registry

    dirname = ImportPlugin("brainscore_vision", "metrics", name).plugin_dirname
    importlib.import_module(f"brainscore_vision.metrics.{dirname}")
    return metric_registry[name](*args, **kwargs)


def neural_benchmark(
    recording,
    stimulus_set,
    region: str,
    stimulus_degrees: float,
    *,
    time_bin: tuple[int, int] = (50, 200),
    stratification_coord: str | None = "texture_type",
    identifier: str | None = None,
    number_of_trials: int = 1,
):
    """Brain-Score ``NeuralBenchmark`` on a toolkit recording.

    Parameters
    ----------
    recording : xarray.DataArray
        Toolkit recording with one presentation per (stimulus, repetition), a
        ``repetition`` coord and a ``region`` neuroid coord (``analysis.simulate`` output).
    stimulus_set : brainio StimulusSet
        The stimuli with image paths (:func:`~neuromodels.brainscore.convert.to_brainscore_stimulus_set`).
    region : str
        Region to score (neuroids with this ``region``); the model records from it.
    stimulus_degrees : float
        Size of the stimulus images in degrees of visual angle (FreemanZiemba2013: 4).
    time_bin : (start, end)
        Response window in ms passed to ``start_recording``.
    stratification_coord : str or None
        Presentation coord the splits are stratified on (``texture_type`` as in
        FreemanZiemba2013; None for plain shuffle splits).
    identifier : str, optional
        Benchmark identifier (default ``local.<recording source>.<region>-pls``).
    number_of_trials : int
        Trials per stimulus asked of the model.

    Returns
    -------
    NeuralBenchmark
        Call it with a ``BrainModel``; the result is Brain-Score's ``Score`` with
        ``.raw`` (median r) and ``.ceiling`` attrs. The averaged target is
        ``benchmark._assembly``; its ``stimulus_set`` attr is ``stimulus_set``.
    """
    import numpy as np
    from brainscore_vision.benchmark_helpers.neural_common import NeuralBenchmark, average_repetition

    if "region" not in recording.coords:
        raise ValueError("the recording needs a 'region' coord along neuroid")
    regions = np.asarray(recording["region"].values).astype(str)
    if region not in set(regions):
        raise ValueError(f"no neuroids of region {region!r}; the recording has {sorted(set(regions))}")
    if "repetition" not in recording.coords:
        raise ValueError("the internal-consistency ceiling needs a 'repetition' coord along presentation")
    missing = sorted(set(map(str, recording["stimulus_id"].values)) - set(map(str, stimulus_set["stimulus_id"])))
    if missing:
        raise ValueError(f"{len(missing)} recorded stimuli are not in the stimulus set, e.g. {missing[:5]}")
    sub = recording.isel(neuroid=np.flatnonzero(regions == region))
    repeated = to_neuroid_assembly(sub, time_bin=time_bin)
    averaged = average_repetition(repeated)
    averaged.attrs["stimulus_set"] = stimulus_set
    repeated.attrs["stimulus_set"] = stimulus_set
    cv = {"stratification_coord": stratification_coord} if stratification_coord else {}
    metric = registered_metric("pls", crossvalidation_kwargs=cv)
    ceiler = registered_metric("internal_consistency")
    source = recording.attrs.get("source", "recording")
    return NeuralBenchmark(
        identifier=identifier or f"local.{source}.{region}-pls",
        version=1,
        assembly=averaged,
        similarity_metric=metric,
        visual_degrees=stimulus_degrees,
        number_of_trials=number_of_trials,
        ceiling_func=lambda: ceiler(repeated),
        parent=region,
        bibtex=None,
    )
