"""Texture selectivity of populations and model layers, and a layer's texture representation.

Responses to naturalistic textures and spectrally matched noise (the
FreemanZiemba2013 layout: families × {``'texture'``, ``'noise'``} × samples ×
repetitions, see :func:`analysis.texture_stimuli.texture_stimulus_set`):

- :func:`modulation_index` — per unit, ``(r_texture − r_noise) / (r_texture + r_noise)``
  (Freeman et al. 2013), per family and overall; :func:`modulation_table` per population;
- :func:`spatial_average` and :func:`live_units` — a model layer's texture
  representation (each channel averaged over positions) and its responsive units.

The other texture analyses: family vs sample decoding (Ziemba et al. 2016) is
:func:`analysis.texture_decoding.family_decoding`; data efficiency (family
classification from few training images per class; Parthasarathy & Simoncelli 2020)
is :func:`analysis.few_shot.data_efficiency`. All take assemblies
(:mod:`analysis.assemblies`): recordings and model activations alike. Their figures
are in :mod:`analysis.plot.texture`.

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

import numpy as np
import pandas as pd
import xarray as xr

from analysis._texture_inputs import check_texture_assembly, populations
from analysis._validation import check_assembly
from analysis.assemblies import NEUROID, PRESENTATION, average_repetitions

__all__ = [
    "TEXTURE",
    "NOISE",
    "modulation_index",
    "modulation_table",
    "spatial_average",
    "live_units",
]

TEXTURE = "texture"
NOISE = "noise"
_UNDEFINED = ("raise", "nan", "drop")


# --------------------------------------------------------------------------------------
# Input checks of the modulation index
# --------------------------------------------------------------------------------------


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
    check_texture_assembly(assembly, "modulation_index", coords)
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
    for name, asm in populations(data, by).items():
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

