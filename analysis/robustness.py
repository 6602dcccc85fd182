"""Out-of-distribution accuracy: any classifier on any labelled stimulus set under the
registered image distortions (:mod:`analysis.distortions`).

- :func:`model_trials` — trial-by-trial responses (in the vocabulary of
  model-vs-human's raw data, so :func:`analysis.error_consistency.human_error_consistency`
  takes them directly);
- :func:`ood_accuracy` — accuracy per distortion kind and strength with exact
  (Clopper–Pearson) 95% intervals; figure: :func:`analysis.plot.robustness.plot_ood_accuracy`.

Examples
--------
>>> import numpy as np, torch
>>> from analysis.stimuli import StimulusSet
>>> class Mean(torch.nn.Module):  # classifies by mean luminance: dark / bright
...     def forward(self, x):
...         m = x.mean(dim=(1, 2, 3))
...         return torch.stack([-m, m - 0.5], 1)
>>> images = np.stack([np.full((1, 8, 8), v) for v in (0.1, 0.2, 0.8, 0.9)])
>>> stimuli = StimulusSet.from_images(images, label=["dark", "dark", "bright", "bright"])
>>> table = ood_accuracy(Mean(), stimuli, "label", kinds="contrast", strengths=[0.0, 1.0],
...                      classes=["dark", "bright"], progress=False)
>>> table["accuracy"].tolist()
[1.0, 0.5]
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from neurocommon.progress import progress_bar

from .distortions import DISTORTIONS, distort
from .error_consistency import image_id

__all__ = ["model_trials", "ood_accuracy"]


def _strength_grid(kinds, strengths) -> list[tuple[str, float]]:
    kinds = list(DISTORTIONS) if kinds is None else [kinds] if isinstance(kinds, str) else list(kinds)
    for k in kinds:
        if k not in DISTORTIONS:
            raise ValueError(f"unknown distortion kind {k!r}; choose from {sorted(DISTORTIONS)}")
    jobs = []
    for k in kinds:
        if strengths is None:
            grid = DISTORTIONS[k].grid
        elif isinstance(strengths, Mapping):
            grid = strengths.get(k, DISTORTIONS[k].grid)
        else:
            grid = strengths
        jobs += [(k, float(s)) for s in grid]
    return jobs


def _model_device(model: torch.nn.Module, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def model_trials(
    model: torch.nn.Module,
    stimulus_set,
    label_column: str,
    kinds: Sequence[str] | str | None = None,
    strengths: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    classes: Sequence | None = None,
    name: str = "model",
    batch_size: int = 64,
    device=None,
    seed: int = 0,
    progress: bool = True,
    **distort_kwargs,
) -> pd.DataFrame:
    """Trial-by-trial responses of a classifier to distorted images.

    Every image of ``stimulus_set`` is distorted (:func:`distort`, seeded per
    kind, strength and batch) at every strength of every kind and classified by
    ``model`` (argmax of its outputs, under ``torch.no_grad`` in eval mode; the
    model's training flag is restored afterwards). Grayscale images are repeated
    to 3 channels when ``model.in_channels == 3``.

    Parameters
    ----------
    model : torch.nn.Module
        Maps (B, C, H, W) images in [0, 1] to (B, n_classes) scores.
    stimulus_set : analysis.stimuli.StimulusSet
    label_column : str
        Table column with each image's true class.
    kinds : str or sequence of str, optional
        Distortion kinds (default all of :data:`DISTORTIONS`).
    strengths : sequence or mapping {kind: sequence}, optional
        Default: each kind's grid.
    classes : sequence, optional
        The label of each model output (index i of the scores means ``classes[i]``);
        default the sorted unique labels of ``label_column``.
    name : str
        Observer name written to the ``subj`` column.
    batch_size : int
    device : torch device, optional
        Default: the model's device.
    seed : int
    progress : bool
    **distort_kwargs
        Passed to :func:`distort` (``clip``, ``background``, ``cell``).

    Returns
    -------
    pandas.DataFrame
        One row per (kind, strength, image): ``subj, kind, strength, stimulus_id,
        image_id, category, object_response, correct`` (plus ``condition`` and
        ``imagename`` when the stimulus table has them), in the vocabulary of
        model-vs-human's raw data.
    """
    if label_column not in stimulus_set.table.columns:
        raise ValueError(
            f"label_column {label_column!r} is not a column of the stimulus table "
            f"{list(stimulus_set.table.columns)}"
        )
    labels = stimulus_set.table[label_column].to_numpy()
    classes = np.array(sorted(pd.unique(labels)) if classes is None else list(classes), dtype=object)
    index_of = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in labels if v not in index_of})
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not among classes {list(classes)[:10]}")
    target = np.array([index_of[v] for v in labels])
    dev = _model_device(model, device)
    images = torch.as_tensor(stimulus_set.load_images())
    rgb = getattr(model, "in_channels", None) == 3
    jobs = _strength_grid(kinds, strengths)
    table = stimulus_set.table
    extra = {c: table[c].to_numpy() for c in ("condition", "imagename") if c in table.columns}
    image_ids = (np.array([image_id(n) for n in table["imagename"]])
                if "imagename" in table.columns else stimulus_set.stimulus_ids)
    rows = []
    was_training = model.training
    model.eval()
    try:
        iterator = progress_bar(jobs, progress, f"OOD {name}")
        with torch.no_grad():
            for job, (kind, s) in enumerate(iterator):
                preds = []
                for b, start in enumerate(range(0, len(images), batch_size)):
                    x = images[start:start + batch_size].to(dev)
                    batch_seed = int(np.random.SeedSequence([seed, job, b]).generate_state(1)[0])
                    x = distort(x, kind, s, seed=batch_seed, **distort_kwargs)
                    if rgb and x.shape[1] == 1:
                        x = x.expand(-1, 3, -1, -1)
                    out = model(x)
                    if not isinstance(out, torch.Tensor) or out.ndim != 2:
                        raise TypeError(
                            f"the model must return a (batch, n_classes) tensor of scores; got "
                            f"{type(out).__name__}{tuple(out.shape) if isinstance(out, torch.Tensor) else ''}"
                        )
                    if out.shape[1] != len(classes):
                        raise ValueError(
                            f"the model returns {out.shape[1]} scores per image but there are "
                            f"{len(classes)} classes; pass classes=[...] naming the label of "
                            f"each output"
                        )
                    preds.append(out.argmax(1).cpu().numpy())
                pred = np.concatenate(preds)
                rows.append(pd.DataFrame({
                    "subj": name, "kind": kind, "strength": s,
                    "stimulus_id": stimulus_set.stimulus_ids, "image_id": image_ids,
                    "category": classes[target], "object_response": classes[pred],
                    "correct": pred == target, **extra,
                }))
    finally:
        model.train(was_training)
    return pd.concat(rows, ignore_index=True)


def _clopper_pearson(k: np.ndarray, n: np.ndarray, level: float = 0.95):
    from scipy.stats import beta

    a = (1 - level) / 2
    lo = np.where(k > 0, beta.ppf(a, k, n - k + 1), 0.0)
    hi = np.where(k < n, beta.ppf(1 - a, k + 1, n - k), 1.0)
    return lo, hi


def _accuracy_table(trials: pd.DataFrame, n_classes: int) -> pd.DataFrame:
    g = trials.groupby(["subj", "kind", "strength"], sort=False)["correct"]
    out = g.agg(n_correct="sum", n_images="count").reset_index()
    out["accuracy"] = out["n_correct"] / out["n_images"]
    out["ci_low"], out["ci_high"] = _clopper_pearson(out["n_correct"].to_numpy(),
                                                     out["n_images"].to_numpy())
    out["chance"] = 1.0 / n_classes
    return out


def ood_accuracy(
    model: torch.nn.Module,
    stimulus_set,
    label_column: str,
    kinds: Sequence[str] | str | None = None,
    strengths: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    classes: Sequence | None = None,
    name: str = "model",
    **kwargs,
) -> pd.DataFrame:
    """Out-of-distribution accuracy of a classifier against distortion strength.

    Runs :func:`model_trials` and summarises it per (kind, strength).

    Parameters
    ----------
    model, stimulus_set, label_column, kinds, strengths, classes, name
        As in :func:`model_trials`.
    **kwargs
        ``batch_size``, ``device``, ``seed``, ``progress`` and :func:`distort` options.

    Returns
    -------
    pandas.DataFrame
        ``subj, kind, strength, n_correct, n_images, accuracy, ci_low, ci_high,
        chance``: accuracy is the fraction of images classified correctly, with
        its exact (Clopper–Pearson) 95% binomial interval; chance = 1/n_classes.

    Examples
    --------
    See ``docs/texture_robustness.md``.
    """
    trials = model_trials(model, stimulus_set, label_column, kinds=kinds, strengths=strengths,
                          classes=classes, name=name, **kwargs)
    n_classes = len(classes) if classes is not None else \
        len(pd.unique(stimulus_set.table[label_column]))
    return _accuracy_table(trials, n_classes)
