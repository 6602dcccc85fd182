"""Data efficiency: texture-family classification accuracy against training images per class.

:func:`data_efficiency` trains a linear classifier of texture family (or any class
coord) on n images per class and tests it on the rest, for any set of models or
recorded populations on the same images — the evaluation of Parthasarathy &
Simoncelli (2020): a representation that makes texture families linearly separable
from few examples has high accuracy at small n. The classifier is the batched
shrinkage LDA of :mod:`analysis._lda` (the decoder of
:func:`analysis.texture_decoding.family_decoding`); figures: :func:`analysis.plot.texture.plot_data_efficiency`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from analysis._lda import check_shrinkage, decode
from analysis._texture_inputs import check_texture_assembly
from analysis.assemblies import PRESENTATION, average_repetitions
from analysis.texture import TEXTURE
from neurocommon.progress import progress_bar

__all__ = ["data_efficiency"]


def data_efficiency(
    assemblies,
    n_train: Sequence[int] = (1, 2, 5, 10),
    n_draws: int = 20,
    label: str = "texture_family",
    texture_type: str | None = TEXTURE,
    shrinkage: float = 0.1,
    standardize: bool = True,
    seed: int = 0,
    device=None,
    max_batch_bytes: float = 2**28,
    progress: bool = True,
) -> pd.DataFrame:
    """Texture-family classification accuracy against training images per class.

    For each model (or population) and each n in ``n_train``, ``n_draws`` times:
    draw n training images of every class at random (seeded; the same draws for
    every model, so models are compared on identical splits), train the linear
    decoder (:mod:`analysis._lda`, z-scored features) and test it on all remaining
    images. Responses are first averaged over repetitions (the unit is an image).
    This is the data-efficiency evaluation of Parthasarathy & Simoncelli (2020):
    a representation that makes texture families linearly separable from few
    examples has high accuracy at small n.

    Parameters
    ----------
    assemblies : assembly or mapping {name: assembly}
        e.g. ``{"texture_model": extract(...)["v2"], "resnet50.layer2": ...}``; all
        must hold the same stimulus ids.
    n_train : sequence of int
        Training images per class; each must leave ≥ 1 test image in every class.
    n_draws : int
    label : str
        Presentation coord holding the class (default ``texture_family``).
    texture_type : {'texture', 'noise'} or None
        Use only this stimulus type when the coord exists (default naturalistic).
    shrinkage, standardize : see :func:`analysis.texture_decoding.family_decoding`
    seed : int
    device : torch device, optional
    max_batch_bytes : float
        Memory budget of one batch of draws (draws are solved in chunks).
    progress : bool

    Returns
    -------
    pandas.DataFrame
        Columns ``model, n_train, draw, accuracy, n_correct, n_test, chance``.

    Examples
    --------
    Two well separated classes are classified perfectly from one image each:

    >>> import numpy as np
    >>> from analysis.assemblies import make_assembly
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 0.1, (6, 3)), rng.normal(5, 0.1, (6, 3))])
    >>> a = make_assembly(x, stimulus_id=[f"s{i}" for i in range(12)],
    ...                   presentation_coords={"texture_family": ["a"] * 6 + ["b"] * 6})
    >>> data_efficiency({"m": a}, n_train=[1], n_draws=3, progress=False)["accuracy"].tolist()
    [1.0, 1.0, 1.0]
    """
    shrinkage = check_shrinkage(shrinkage)
    models = assemblies if isinstance(assemblies, Mapping) else \
        {str(assemblies.attrs.get("source", "model")): assemblies}
    if not models:
        raise ValueError("data_efficiency needs at least one assembly")
    prepared = {}
    reference_ids = None
    for name, asm in models.items():
        check_texture_assembly(asm, "data_efficiency", [label])
        asm = average_repetitions(asm)
        if texture_type is not None and "texture_type" in asm.coords:
            asm = asm.isel({PRESENTATION: np.flatnonzero(
                asm["texture_type"].values.astype(str) == texture_type)})
        order = np.argsort(asm["stimulus_id"].values.astype(str), kind="stable")
        asm = asm.isel({PRESENTATION: order})
        ids = asm["stimulus_id"].values.astype(str)
        if reference_ids is None:
            reference_ids = ids
            classes, y = np.unique(asm[label].values.astype(str), return_inverse=True)
        elif not np.array_equal(ids, reference_ids):
            raise ValueError(
                f"assembly {name!r} holds different stimuli than the first one; data_efficiency "
                f"compares models on the same images (align them first)"
            )
        prepared[name] = asm.values
    if reference_ids is None or len(reference_ids) == 0:
        raise ValueError("no stimuli left to classify (check texture_type)")
    counts = np.bincount(y)
    if len(classes) < 2:
        raise ValueError(f"need at least two classes in {label!r}; got {classes.tolist()}")
    n_train = sorted({int(n) for n in n_train})
    if n_train[0] < 1 or n_train[-1] >= counts.min():
        raise ValueError(
            f"n_train values must lie in [1, {counts.min() - 1}]: the smallest class has "
            f"{counts.min()} images and at least one must be left for testing; got {n_train}"
        )
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == k) for k in range(len(classes))]
    splits = {}
    for n in n_train:
        tr, te = [], []
        for _ in range(n_draws):
            perm = [rng.permutation(ix) for ix in by_class]
            tr.append(np.concatenate([p[:n] for p in perm]))
            te.append(np.concatenate([p[n:] for p in perm]))
        splits[n] = (np.stack(tr), np.stack(te))
    dev = torch.device("cpu") if device is None else torch.device(device)
    chance = 1.0 / len(classes)
    rows = []
    jobs = [(name, n) for name in prepared for n in n_train]
    for name, n in progress_bar(jobs, progress, "data efficiency"):
        data = torch.as_tensor(prepared[name], dtype=torch.float64, device=dev)
        tr, te = splits[n]
        y_tr = torch.as_tensor(y[tr[0]], device=dev)
        y_te = torch.as_tensor(y[te[0]], device=dev)
        per_draw = 8.0 * data.shape[1] * (tr.shape[1] + te.shape[1]) * 3
        chunk = max(1, int(max_batch_bytes // per_draw))
        for start in range(0, n_draws, chunk):
            sl = slice(start, min(n_draws, start + chunk))
            tr_i = torch.as_tensor(tr[sl], device=dev)
            te_i = torch.as_tensor(te[sl], device=dev)
            pred = decode(data[tr_i], y_tr, data[te_i], len(classes), shrinkage, standardize)
            n_correct = (pred == y_te).sum(1).cpu().numpy()
            for d, c in zip(range(sl.start, sl.stop), n_correct):
                rows.append({"model": name, "n_train": n, "draw": d,
                             "accuracy": c / te.shape[1], "n_correct": int(c),
                             "n_test": te.shape[1], "chance": chance})
    return pd.DataFrame(rows)
