"""Texture-family and sample decoding of populations (Ziemba et al. 2016).

:func:`family_decoding`: cross-validated linear decoding of texture family across
samples, and of sample within family, against population size, for recordings and
model layers alike (assemblies in the FreemanZiemba2013 layout, see
:func:`analysis.texture_stimuli.texture_stimulus_set`). The decoder is the shrinkage
linear discriminant of :mod:`analysis._lda`, batched over random subpopulations on
``device``. Figures: :func:`analysis.plot.texture.plot_family_decoding`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import xarray as xr

from analysis._lda import check_shrinkage, decode
from analysis._texture_inputs import check_texture_assembly, populations
from analysis.assemblies import PRESENTATION
from analysis.texture import NOISE, TEXTURE
from neurocommon.progress import progress_bar as _progress

__all__ = ["family_decoding"]


def _codes(values) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique labels, integer code per item)."""
    labels, codes = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return labels, codes


def _device(device) -> torch.device:
    return torch.device("cpu") if device is None else torch.device(device)



def _default_sizes(n_units: int) -> list[int]:
    sizes = [2**k for k in range(int(np.log2(n_units)) + 1)]
    return sizes + ([n_units] if sizes[-1] != n_units else [])


def _fold_of(values: np.ndarray, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    """Assign each distinct value to one of n_splits folds (balanced, seeded)."""
    uniq = np.unique(values)
    perm = rng.permutation(len(uniq))
    fold_of_value = dict(zip(uniq[perm], np.arange(len(uniq)) % n_splits))
    return np.array([fold_of_value[v] for v in values])


def family_decoding(
    assembly: xr.DataArray,
    population_sizes: Sequence[int] | None = None,
    n_draws: int = 20,
    n_splits: int = 5,
    kinds: Sequence[str] | None = None,
    texture_type: str | None = TEXTURE,
    by: str | None = "auto",
    shrinkage: float = 0.1,
    standardize: bool = True,
    seed: int = 0,
    device=None,
    max_batch_bytes: float = 2**28,
    progress: bool = True,
) -> pd.DataFrame:
    """Decode texture family across samples and sample within family (Ziemba et al. 2016).

    For each population (region or layer) and each population size m, ``n_draws``
    random subpopulations of m units are drawn (without replacement); for each,
    a cross-validated linear decoder (shrinkage LDA on z-scored responses,
    :mod:`analysis._lda`) is trained on single trials:

    - ``'family'``: which texture family a trial's image belongs to. The folds hold
      out whole *samples* (images), the same sample indices in every family, so the
      decoder must generalize across samples of a family. Chance = 1/n_families.
    - ``'sample'``: which sample (image) of one family was shown, decoded separately
      within each family from its repeated trials (folds split the repetitions of
      every image). Chance = 1/n_samples. Needs repetitions, i.e. trial noise.

    Ziemba et al. (2016, PNAS 113:E3140) found V2 populations represent family
    better, relative to sample, than V1 populations of the same size.

    Parameters
    ----------
    assembly : xarray.DataArray or mapping {name: assembly}
        2-D (presentation, neuroid), presentation coords ``texture_family``,
        ``sample`` (image index within family), ``texture_type`` (when
        ``texture_type`` is not None), ``repetition`` for sample decoding. A
        mapping (e.g. the layers returned by ``analysis.activations.extract``) is
        decoded item by item, each item one population named by its key.
    population_sizes : sequence of int, optional
        Default 1, 2, 4, ... up to the population's size (and the size itself).
        Sizes above a population's size are skipped for it.
    n_draws : int
        Random subpopulations per size (one when m equals the population size).
    n_splits : int
        Cross-validation folds.
    kinds : sequence of {'family', 'sample'}, optional
        Default both when every stimulus has ≥ ``n_splits`` repetitions, else
        ``('family',)`` (deterministic model activations have no trials).
    texture_type : {'texture', 'noise'} or None
        Decode from responses to this stimulus type only (default naturalistic
        textures, as Ziemba et al.); None uses both types.
    by : str or None
        Neuroid coord splitting the assembly into populations (``'auto'``:
        ``region`` or ``layer``).
    shrinkage : float in [0, 1]
        λ of the decoder's covariance.
    standardize : bool
        z-score every unit with training-fold statistics.
    seed : int
        Seeds folds and subpopulation draws.
    device : torch device, optional
        Where the decoders are solved (default CPU).
    max_batch_bytes : float
        Memory budget for one chunk of subpopulation draws (wide model layers).
    progress : bool

    Returns
    -------
    pandas.DataFrame
        One row per (population, kind, population_size, draw): columns
        ``population, kind, population_size, draw, accuracy, n_correct, n_test,
        chance`` (accuracy = fraction of test trials decoded correctly, pooled over
        folds, and for ``'sample'`` also over families).

    Examples
    --------
    >>> from analysis.simulate import simulate_recordings
    >>> from analysis.texture_stimuli import texture_stimulus_set
    >>> stimuli = texture_stimulus_set(samples_per_family=4, size=32, progress=False)
    >>> rec = simulate_recordings(stimuli, n_units={"V2": 8}, n_repetitions=4, image_size=32, seed=0)
    >>> res = family_decoding(rec, population_sizes=[8], n_draws=2, n_splits=4, progress=False)
    >>> sorted(res["kind"].unique())
    ['family', 'sample']
    """
    if isinstance(assembly, Mapping):
        kw = dict(population_sizes=population_sizes, n_draws=n_draws, n_splits=n_splits,
                  kinds=kinds, texture_type=texture_type, by=None, shrinkage=shrinkage,
                  standardize=standardize, seed=seed, device=device,
                  max_batch_bytes=max_batch_bytes, progress=progress)
        if not assembly:
            raise ValueError("got an empty mapping of assemblies")
        return pd.concat([family_decoding(a, **kw).assign(population=str(k))
                          for k, a in assembly.items()], ignore_index=True)
    check_texture_assembly(assembly, "family_decoding", ["texture_family", "sample"]
                    + (["texture_type"] if texture_type is not None else []))
    shrinkage = check_shrinkage(shrinkage)
    if n_splits < 2 or n_draws < 1:
        raise ValueError(f"need n_splits >= 2 and n_draws >= 1; got {n_splits}, {n_draws}")
    assembly = _select_texture_type(assembly, texture_type)
    fam_labels, fam = _codes(assembly["texture_family"].values)
    samples = assembly["sample"].values.astype(str)
    stim = assembly["stimulus_id"].values.astype(str)
    kinds = _decoding_kinds(kinds, n_splits, len(fam_labels), len(np.unique(samples)),
                            int(np.unique(stim, return_counts=True)[1].min()))
    rng = np.random.default_rng(seed)
    dev = _device(device)
    folds = {"family": _fold_of(samples, n_splits, rng), "sample": _trial_folds(stim, n_splits, rng)}

    rows = []
    for name, pop in populations(assembly, by).items():
        data = torch.as_tensor(pop.values, dtype=torch.float64, device=dev)
        n_units = data.shape[1]
        sizes = _default_sizes(n_units) if population_sizes is None else \
            sorted({int(m) for m in population_sizes if 1 <= int(m) <= n_units})
        if not sizes:
            raise ValueError(
                f"no population size fits population {name!r} of {n_units} units; "
                f"got {population_sizes}"
            )
        jobs = [(k, m) for k in kinds for m in sizes]
        for kind, m in _progress(jobs, progress, f"decoding {name}"):
            draws = 1 if m == n_units else n_draws
            units = torch.as_tensor(
                np.stack([rng.choice(n_units, m, replace=False) for _ in range(draws)]),
                device=dev)
            groups, chance = _decoding_groups(kind, fam, samples, folds[kind])
            correct, n_test = _cross_validated_correct(data, units, groups, n_splits, shrinkage,
                                                       standardize, max_batch_bytes)
            for d, c in enumerate(correct):
                rows.append({"population": name, "kind": kind, "population_size": m,
                             "draw": d, "accuracy": c / n_test, "n_correct": int(c),
                             "n_test": n_test, "chance": chance})
    return pd.DataFrame(rows)


def _select_texture_type(assembly: xr.DataArray, texture_type: str | None) -> xr.DataArray:
    """The presentations of one stimulus type (all of them for ``None``)."""
    if texture_type is None:
        return assembly
    if texture_type not in (TEXTURE, NOISE):
        raise ValueError(f"texture_type must be 'texture', 'noise' or None; got {texture_type!r}")
    mask = assembly["texture_type"].values.astype(str) == texture_type
    if not mask.any():
        raise ValueError(f"no {texture_type!r} presentations in the assembly")
    return assembly.isel({PRESENTATION: np.flatnonzero(mask)})


def _decoding_kinds(kinds, n_splits: int, n_families: int, n_samples: int, min_reps: int) -> tuple:
    """The decoding kinds to run, checked against the design (families, samples, trials)."""
    if kinds is None:
        kinds = ("family", "sample") if min_reps >= n_splits else ("family",)
    kinds = tuple(kinds)
    if set(kinds) - {"family", "sample"} or not kinds:
        raise ValueError(f"kinds must be a subset of ('family', 'sample'); got {kinds}")
    if n_families < 2:
        raise ValueError("family decoding needs at least two texture families")
    if "family" in kinds and n_samples < n_splits:
        raise ValueError(
            f"family decoding holds out samples: {n_samples} samples per family are fewer "
            f"than n_splits={n_splits}; pass n_splits <= {n_samples}"
        )
    if "sample" in kinds and min_reps < n_splits:
        raise ValueError(
            f"sample decoding splits each image's repeated trials into n_splits={n_splits} "
            f"folds, but some stimuli have only {min_reps} presentation(s). Model "
            f"activations have no trial noise: decode kinds=('family',), add trials (e.g. "
            f"analysis.simulate), or lower n_splits."
        )
    return kinds


def _trial_folds(stim: np.ndarray, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    """Fold of each trial for sample decoding: its random rank among its image's trials, mod n_splits."""
    trial_rank = np.empty(len(stim), dtype=int)
    for s in np.unique(stim):
        idx = np.flatnonzero(stim == s)
        trial_rank[idx] = rng.permutation(len(idx))
    return trial_rank % n_splits


def _decoding_groups(kind: str, fam: np.ndarray, samples: np.ndarray, folds: np.ndarray):
    """([(trial indices, class codes, folds)], chance): one problem for family, one per family for sample."""
    if kind == "family":
        return [(np.arange(len(fam)), fam, folds)], 1.0 / (int(fam.max()) + 1)
    groups = []
    for f in np.unique(fam):
        idx = np.flatnonzero(fam == f)
        groups.append((idx, _codes(samples[idx])[1], folds[idx]))
    return groups, float(np.mean([1.0 / len(np.unique(g[1])) for g in groups]))


def _cross_validated_correct(data: torch.Tensor, units: torch.Tensor, groups, n_splits: int,
                             shrinkage: float, standardize: bool, max_batch_bytes: float):
    """Correct test trials of each subpopulation draw (``units``: (draws, m)), pooled over folds and groups."""
    draws, m = units.shape
    dev = data.device
    # draws are solved in chunks that keep a few copies of (chunk, trials, m) in budget
    chunk = max(1, int(max_batch_bytes // (8.0 * 4 * data.shape[0] * m)))
    correct = torch.zeros(draws, dtype=torch.float64, device=dev)
    n_test = 0
    for start in range(0, draws, chunk):
        sl = slice(start, min(draws, start + chunk))
        x = data[:, units[sl]].permute(1, 0, 2)  # (chunk, n_trials, m)
        n_test = 0
        for idx, labels, folds in groups:
            n_classes = int(labels.max()) + 1
            for k in range(n_splits):
                tr, te = idx[folds != k], idx[folds == k]
                if len(te) == 0:
                    continue
                y_tr = torch.as_tensor(labels[folds != k], device=dev)
                pred = decode(x[:, tr], y_tr, x[:, te], n_classes, shrinkage, standardize)
                y_te = torch.as_tensor(labels[folds == k], device=dev)
                correct[sl] += (pred == y_te).sum(1).to(torch.float64)
                n_test += len(te)
    return correct.cpu().numpy(), n_test
