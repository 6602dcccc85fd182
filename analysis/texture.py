"""Texture selectivity and texture-family decoding of populations and model layers.

Analyses of responses to naturalistic textures and spectrally matched noise (the
FreemanZiemba2013 layout: families × {``'texture'``, ``'noise'``} × samples ×
repetitions, see :func:`analysis.texture_stimuli.texture_stimulus_set`):

- :func:`modulation_index` — per unit, ``(r_texture − r_noise) / (r_texture + r_noise)``
  (Freeman et al. 2013), per family and overall;
- :func:`family_decoding` — cross-validated linear decoding of texture family across
  samples and of sample within family, against population size (Ziemba et al. 2016);
- :func:`spatial_average` and :func:`live_units` — a model layer's texture
  representation (each channel averaged over positions) and its responsive units.

Data efficiency (family classification from few training images per class;
Parthasarathy & Simoncelli 2020) is :func:`analysis.few_shot.data_efficiency`.

All take assemblies (:mod:`analysis.assemblies`): recordings and model
activations alike. Their figures are in :mod:`analysis.plot.texture`. The linear
decoder is a shrinkage linear discriminant computed in torch, batched over random
subpopulations / draws, on ``device`` (:mod:`analysis._lda`, also offered as the
estimator :class:`analysis._lda.ShrinkageLDA`).

Examples
--------
>>> import numpy as np
>>> from analysis.assemblies import make_assembly
>>> a = make_assembly([[3.0, 1.0], [1.0, 1.0]], stimulus_id=["t", "n"],
...                   presentation_coords={"texture_type": ["texture", "noise"]})
>>> modulation_index(a).values.round(3).tolist()
[0.5, 0.0]
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import xarray as xr

from analysis._lda import check_shrinkage, decode
from analysis._progress import progress_bar as _progress
from analysis._validation import check_assembly, group_coord, presentation_coord
from analysis.assemblies import NEUROID, PRESENTATION, average_repetitions, validate

__all__ = [
    "TEXTURE",
    "NOISE",
    "modulation_index",
    "modulation_table",
    "family_decoding",
    "spatial_average",
    "live_units",
]

TEXTURE = "texture"
NOISE = "noise"
_UNDEFINED = ("raise", "nan", "drop")


# --------------------------------------------------------------------------------------
# Input checks shared by the analyses
# --------------------------------------------------------------------------------------


_TEXTURE_HINT = (
    "Build it from a texture stimulus set (analysis.texture_stimuli.texture_stimulus_set), whose table "
    "columns texture_family, texture_type and sample become presentation coords, or assign the coord "
    "with assembly.assign_coords({c}=('presentation', ...))."
)


def _check_assembly(assembly, fn: str, coords: Sequence[str] = ()) -> xr.DataArray:
    """A 2-D assembly carrying the presentation ``coords`` that ``fn`` needs (the shared checks)."""
    check_assembly(assembly, fn)
    for c in coords:
        presentation_coord(assembly, c, fn, hint=_TEXTURE_HINT.format(c=c))
    return assembly


def _check_texture_types(assembly: xr.DataArray, fn: str) -> np.ndarray:
    kinds = assembly["texture_type"].values.astype(str)
    bad = sorted(set(kinds) - {TEXTURE, NOISE})
    if bad:
        raise ValueError(
            f"{fn}: texture_type must be {TEXTURE!r} or {NOISE!r}; found {bad[:5]}"
        )
    for k in (TEXTURE, NOISE):
        if k not in kinds:
            raise ValueError(
                f"{fn} compares responses to {TEXTURE!r} and {NOISE!r} stimuli; the assembly "
                f"holds no {k!r} presentations"
            )
    return kinds


def _populations(data, by: str | None = "auto") -> dict[str, xr.DataArray]:
    """{name: assembly} from one assembly (split by a neuroid coord) or a mapping."""
    if isinstance(data, Mapping):
        if not data:
            raise ValueError("got an empty mapping of assemblies")
        return {str(k): v for k, v in data.items()}
    validate(data)
    coord = group_coord(data, by)
    if coord is None:
        return {str(data.attrs.get("source", "all")): data}
    values = data[coord].values.astype(str)
    names = list(dict.fromkeys(values))
    return {n: data.isel({NEUROID: np.flatnonzero(values == n)}) for n in names}


def _device(device) -> torch.device:
    return torch.device("cpu") if device is None else torch.device(device)


# --------------------------------------------------------------------------------------
# Modulation index (Freeman et al. 2013)
# --------------------------------------------------------------------------------------


def modulation_index(
    assembly: xr.DataArray,
    per_family: bool = False,
    overall: str = "mean_over_families",
    undefined: str = "raise",
) -> xr.DataArray:
    """Texture modulation index of every neuroid (Freeman et al. 2013).

    ``MI = (r_texture − r_noise) / (r_texture + r_noise)``, with ``r`` a unit's mean
    response (spikes/s for recordings, activation for models) to the naturalistic
    textures and to their spectrally matched noise. Repetitions are averaged first
    (:func:`analysis.assemblies.average_repetitions`), so each stimulus counts once;
    ``r`` is then the mean over the samples of a family (or of all families).
    The index is unitless and lies in [−1, 1]: > 0 means a stronger response to
    naturalistic structure than to noise with the same amplitude spectrum.

    Known reading (Freeman et al. 2013, Nat. Neurosci. 16:974): V1 units are
    barely modulated (index ≈ 0), most V2 units respond more to naturalistic
    textures (index clearly positive, mean over units ≈ 0.1–0.2 with a long
    positive tail).

    Parameters
    ----------
    assembly : xarray.DataArray
        2-D (presentation, neuroid) with presentation coord ``texture_type``
        (``'texture'`` | ``'noise'``) and, for per-family indices,
        ``texture_family``.
    per_family : bool
        Return one index per (texture_family, neuroid) instead of one per neuroid.
    overall : {'mean_over_families', 'pooled'}
        How the single index per neuroid is formed: the mean of the per-family
        indices (Freeman et al. 2013, default), or the index of the responses
        averaged over all families (``'pooled'``; also used when the assembly has
        no ``texture_family`` coord).
    undefined : {'raise', 'nan', 'drop'}
        The index is undefined where a mean response is negative (the ratio is then
        no longer a contrast in [−1, 1]) or where both means are zero (0/0).
        ``'raise'`` (default) raises ValueError naming the units; ``'nan'`` marks
        them NaN (``'mean_over_families'`` then averages the defined families only);
        ``'drop'`` removes neuroids whose index is undefined.

    Returns
    -------
    xarray.DataArray
        dims ``('neuroid',)`` or ``('texture_family', 'neuroid')``, name
        ``'modulation_index'``, neuroid coords kept, attrs of the input plus
        ``overall``.

    Raises
    ------
    ValueError
        Missing ``texture_type`` / ``texture_family`` coord, texture types other
        than ``'texture'``/``'noise'``, or (``undefined='raise'``) undefined indices.

    Examples
    --------
    >>> import numpy as np
    >>> from analysis.assemblies import make_assembly
    >>> a = make_assembly(np.array([[4.0], [2.0], [1.0], [1.0]]),
    ...                   stimulus_id=["a-t", "a-n", "b-t", "b-n"],
    ...                   presentation_coords={"texture_type": ["texture", "noise"] * 2,
    ...                                        "texture_family": ["a", "a", "b", "b"]})
    >>> modulation_index(a).item()  # mean of 1/3 (family a) and 0 (family b)
    0.16666666666666666
    """
    if undefined not in _UNDEFINED:
        raise ValueError(f"undefined must be one of {_UNDEFINED}; got {undefined!r}")
    if overall not in ("mean_over_families", "pooled"):
        raise ValueError(f"overall must be 'mean_over_families' or 'pooled'; got {overall!r}")
    need_family = per_family or overall == "mean_over_families"
    has_family = "texture_family" in assembly.coords
    coords = ["texture_type"] + (["texture_family"] if per_family else [])
    _check_assembly(assembly, "modulation_index", coords)
    if not has_family and need_family:
        overall = "pooled"
    avg = average_repetitions(assembly)
    kinds = _check_texture_types(avg, "modulation_index")
    values = avg.values.astype(np.float64)
    is_tex = kinds == TEXTURE

    if overall == "pooled" and not per_family:
        r_t = values[is_tex].mean(0)[None]
        r_n = values[~is_tex].mean(0)[None]
        families = np.array(["all"])
    else:
        fam = avg["texture_family"].values.astype(str)
        families = np.array(list(dict.fromkeys(fam)))
        r_t = np.empty((len(families), values.shape[1]))
        r_n = np.empty_like(r_t)
        for i, f in enumerate(families):
            t_rows, n_rows = (fam == f) & is_tex, (fam == f) & ~is_tex
            if not t_rows.any() or not n_rows.any():
                raise ValueError(
                    f"modulation_index: texture family {f!r} lacks "
                    f"{'texture' if not t_rows.any() else 'noise'} stimuli; every family needs both"
                )
            r_t[i], r_n[i] = values[t_rows].mean(0), values[n_rows].mean(0)
    total = r_t + r_n
    bad = (r_t < 0) | (r_n < 0) | (total <= 0)
    if bad.any() and undefined == "raise":
        fi, ni = np.nonzero(bad)
        ids = avg["neuroid_id"].values[ni[:5]].tolist()
        raise ValueError(
            f"modulation index undefined for {len(np.unique(ni))} neuroid(s) (e.g. {ids}, "
            f"family {families[fi[0]]!r}: r_texture={r_t[fi[0], ni[0]]:.4g}, "
            f"r_noise={r_n[fi[0], ni[0]]:.4g}); it needs non-negative mean responses with a "
            f"positive sum. Firing rates are non-negative; for model activations use a rectified "
            f"layer, or pass undefined='nan' to mark these units NaN or undefined='drop' to "
            f"remove them."
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = np.where(bad, np.nan, (r_t - r_n) / np.where(bad, 1.0, total))

    neuroid_coords = {str(c): avg[c] for c in avg.coords if avg[c].dims == (NEUROID,)}
    attrs = dict(assembly.attrs, overall=overall, analysis="modulation_index")
    if per_family:
        out = xr.DataArray(mi, dims=("texture_family", NEUROID),
                           coords={"texture_family": families, **neuroid_coords}, attrs=attrs)
        keep = ~np.isnan(mi).all(axis=0)
    else:
        if mi.shape[0] == 1:
            per_unit = mi[0]
        else:
            n_def = (~np.isnan(mi)).sum(0)
            per_unit = np.where(n_def > 0, np.nansum(mi, axis=0) / np.maximum(n_def, 1), np.nan)
        out = xr.DataArray(per_unit, dims=(NEUROID,), coords=neuroid_coords, attrs=attrs)
        keep = ~np.isnan(per_unit)
    out.name = "modulation_index"
    if undefined == "drop":
        out = out.isel({NEUROID: np.flatnonzero(keep)})
    return out


def modulation_table(data, by: str | None = "auto", undefined: str = "nan") -> pd.DataFrame:
    """Tidy table of modulation indices, per family and overall, for several populations.

    Parameters
    ----------
    data : assembly or mapping {name: assembly}
        One assembly is split into populations by the neuroid coord ``by``
        (``'auto'``: ``region`` for recordings, ``layer`` for model activations);
        a mapping (e.g. ``{"V1": rec_v1, "texture_model.v2": layer_assembly}``)
        names each population by its key.
    by : str or None
    undefined : {'raise', 'nan', 'drop'}
        As in :func:`modulation_index` (default ``'nan'``: undefined rows are kept
        as NaN so that their count stays visible).

    Returns
    -------
    pandas.DataFrame
        Columns ``population, neuroid_id, texture_family, modulation_index``;
        ``texture_family == 'all'`` rows hold the overall index
        (``'mean_over_families'``).
    """
    rows = []
    for name, asm in _populations(data, by).items():
        has_family = "texture_family" in asm.coords
        pieces = [(modulation_index(asm, undefined=undefined), "all")]
        if has_family:
            pf = modulation_index(asm, per_family=True, undefined=undefined)
            pieces += [(pf.sel(texture_family=f), str(f)) for f in pf["texture_family"].values]
        for mi, fam in pieces:
            rows.append(pd.DataFrame({
                "population": name,
                "neuroid_id": mi["neuroid_id"].values.astype(str),
                "texture_family": fam,
                "modulation_index": mi.values.astype(float),
            }))
    return pd.concat(rows, ignore_index=True)


def _codes(values) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique labels, integer code per item)."""
    labels, codes = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return labels, codes



# --------------------------------------------------------------------------------------
# Family vs sample decoding (Ziemba et al. 2016)
# --------------------------------------------------------------------------------------


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
    _check_assembly(assembly, "family_decoding", ["texture_family", "sample"]
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
    for name, pop in _populations(assembly, by).items():
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


# --------------------------------------------------------------------------------------
# A model's texture representation and its live units
# --------------------------------------------------------------------------------------


def spatial_average(assembly: xr.DataArray) -> xr.DataArray:
    """Each channel's responses averaged over positions: the model's texture statistics.

    A texture model describes an image by spatial averages of its feature maps
    (Portilla & Simoncelli 2000; Parthasarathy & Simoncelli 2020), so texture
    classification reads ``mean_{x,y} r_c(x, y)`` per (layer, channel) rather
    than position-specific units.

    Parameters
    ----------
    assembly : xarray.DataArray (presentation, neuroid)
        Model activations with neuroid coords ``layer`` and ``channel``
        (:func:`analysis.activations.extract`); every position present is averaged.

    Returns
    -------
    xarray.DataArray
        One neuroid per (layer, channel), ``neuroid_id = '<layer>.<channel>'``,
        attrs ``representation='spatial_average'``.

    Examples
    --------
    >>> from analysis.assemblies import make_assembly
    >>> a = make_assembly([[1.0, 3.0, 5.0]], stimulus_id=["s"],
    ...                   neuroid_coords={"layer": ["v2"] * 3, "channel": [0, 0, 1]})
    >>> spatial_average(a).values.tolist()
    [[2.0, 5.0]]
    """
    check_assembly(assembly, "spatial_average")
    for c in ("layer", "channel"):
        if c not in assembly.coords or assembly[c].dims != (NEUROID,):
            raise ValueError(
                f"spatial_average needs the neuroid coord {c!r} (model activations from "
                f"analysis.activations.extract); got neuroid coords "
                f"{sorted(str(k) for k in assembly.coords if assembly[k].dims == (NEUROID,))}"
            )
    codes, _ = pd.factorize(pd.MultiIndex.from_arrays(
        [assembly["layer"].values.astype(str), assembly["channel"].values]))  # order of appearance
    counts = np.bincount(codes)
    onehot = np.zeros((assembly.sizes[NEUROID], len(counts)))
    onehot[np.arange(len(codes)), codes] = 1.0 / counts[codes]
    values = assembly.values @ onehot
    first = [int(np.flatnonzero(codes == k)[0]) for k in range(len(counts))]
    layers = assembly["layer"].values[first].astype(str)
    channels = assembly["channel"].values[first]
    pcoords = {str(c): (PRESENTATION, assembly[c].values) for c in assembly.coords
               if assembly[c].dims == (PRESENTATION,)}
    return xr.DataArray(values, dims=(PRESENTATION, NEUROID), coords={
        **pcoords, "neuroid_id": (NEUROID, [f"{a}.{b}" for a, b in zip(layers, channels)]),
        "layer": (NEUROID, layers), "channel": (NEUROID, channels)},
        attrs=dict(assembly.attrs, representation="spatial_average"))


def live_units(assembly: xr.DataArray, tol: float = 1e-8) -> tuple[xr.DataArray, int]:
    """The units that respond to the stimuli, and how many dead ones were excluded.

    A unit is dead when its response never exceeds ``tol`` (a rectified unit that
    is silent for every stimulus) or does not vary across stimuli (range ≤ ``tol``
    times the population's largest range): its modulation index is 0/0 or
    carries no stimulus information, and it would dilute a population mean.

    Returns
    -------
    (assembly of live units, number of dead units)

    Examples
    --------
    >>> from analysis.assemblies import make_assembly
    >>> a = make_assembly([[0.0, 1.0, 2.0], [0.0, 1.0, 3.0]], stimulus_id=["a", "b"])
    >>> live, n_dead = live_units(a)
    >>> live.sizes["neuroid"], n_dead
    (1, 2)
    """
    check_assembly(assembly, "live_units")
    v = assembly.values
    spread = v.max(0) - v.min(0)
    scale = max(float(spread.max(initial=0.0)), 1e-300)
    live = (v.max(0) > tol) & (spread > tol * scale)
    return assembly.isel({NEUROID: np.flatnonzero(live)}), int((~live).sum())

