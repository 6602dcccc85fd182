"""Error consistency (Geirhos, Meding & Wichmann 2020) of classifiers with human observers.

- :func:`error_consistency` — Cohen's κ between the trial-by-trial correctness of two
  observers, with :func:`observed_consistency` and :func:`expected_consistency`.
- :func:`read_human_trials` — the raw trial data of the model-vs-human benchmark
  (bethgelab/model-vs-human ``raw-data/`` CSVs; the dataset loaders call it).
- :func:`human_error_consistency` — κ of each model with each human observer on
  matching images, per condition.

Any classifier on the model-vs-human stimuli: :mod:`analysis.model_vs_human`.

Figures: :func:`analysis.plot.robustness.plot_error_consistency`.

Examples
--------
>>> error_consistency([1, 1, 0, 0], [1, 1, 0, 0])
1.0
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

__all__ = [
    "observed_consistency",
    "expected_consistency",
    "error_consistency",
    "MODEL_VS_HUMAN_COLUMNS",
    "image_id",
    "read_human_trials",
    "human_error_consistency",
]


# --------------------------------------------------------------------------------------
# Cohen's kappa of trial-by-trial correctness
# --------------------------------------------------------------------------------------


def _as_correct(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of trial outcomes; got shape {a.shape}")
    if a.dtype != bool:
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name} must hold booleans or 0/1 (correct / incorrect per trial)")
        a = a.astype(bool)
    return a


def _pair(correct_a, correct_b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_correct(correct_a, "correct_a"), _as_correct(correct_b, "correct_b")
    if a.shape != b.shape:
        raise ValueError(
            f"the two observers must be scored on the same trials: {a.size} vs {b.size} outcomes"
        )
    return a, b


def observed_consistency(correct_a, correct_b) -> float:
    """Fraction of trials on which two observers are both right or both wrong, c_obs."""
    a, b = _pair(correct_a, correct_b)
    return float((a == b).mean())


def expected_consistency(accuracy_a: float, accuracy_b: float) -> float:
    """Consistency of two independent observers with these accuracies,
    ``c_exp = p_a p_b + (1 − p_a)(1 − p_b)`` (Geirhos et al. 2020, Eq. 1)."""
    for p in (accuracy_a, accuracy_b):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"accuracies must lie in [0, 1]; got {p}")
    return float(accuracy_a * accuracy_b + (1 - accuracy_a) * (1 - accuracy_b))


def error_consistency(correct_a, correct_b) -> float:
    """Error consistency: Cohen's κ of two observers' trial-by-trial correctness.

    ``κ = (c_obs − c_exp) / (1 − c_exp)`` (Geirhos, Meding & Wichmann 2020, NeurIPS),
    with c_obs the observed fraction of trials where both are right or both wrong
    (:func:`observed_consistency`) and c_exp the value expected for independent
    observers with the same accuracies (:func:`expected_consistency`). κ = 0: no more
    consistent than chance; 1: identical error patterns; the minimum −1 is reached
    at accuracies 0.5 with opposite outcomes on every trial. When c_obs = 1 the
    result is 1 (also in the degenerate case c_exp = 1, where both observers are
    always right or always wrong), as in model-vs-human.

    Parameters
    ----------
    correct_a, correct_b : 1-D bool / 0-1 sequences (or tensors), same trials in the same order

    Returns
    -------
    float

    Examples
    --------
    >>> error_consistency([1, 0, 1, 0], [0, 1, 0, 1])
    -1.0
    """
    a, b = _pair(correct_a, correct_b)
    c_obs = float((a == b).mean())
    if c_obs == 1.0:
        return 1.0
    c_exp = expected_consistency(float(a.mean()), float(b.mean()))
    return (c_obs - c_exp) / (1.0 - c_exp)


# --------------------------------------------------------------------------------------
# model-vs-human raw data
# --------------------------------------------------------------------------------------


def image_id(name: str) -> str:
    """model-vs-human's image id: the image-specific suffix of an image file name
    (its ``get_short_imagename``), the key on which observers are matched.

    ``0001_cop_s01_c30_knife_10_n03041632_7380.png`` → ``n03041632_7380.png``
    (ImageNet names keep their ``n0…`` synset prefix); other names keep their
    last ``_``-separated part.

    Examples
    --------
    >>> image_id("0001_cop_s01_c30_knife_10_n03041632_7380.png")
    'n03041632_7380.png'
    >>> image_id("airplane1-bicycle2.png")
    'airplane1-bicycle2.png'
    """
    parts = str(name).split("_")
    if len(parts) == 1:
        return parts[0]
    if parts[-2].startswith("n0"):
        return parts[-2] + "_" + parts[-1]
    return parts[-1]


#: Columns of the raw-data CSVs of bethgelab/model-vs-human (``raw-data/<experiment>/
#: <experiment>_<observer>_session_<k>.csv``; human files spell ``Session``, lower-cased on load).
MODEL_VS_HUMAN_COLUMNS = ("subj", "session", "trial", "rt", "object_response", "category",
                          "condition", "imagename")


def read_human_trials(paths, experiment: str | None = None) -> pd.DataFrame:
    """Read trial data in the model-vs-human raw-data format (humans, or models in the same format).

    Parameters
    ----------
    paths : path or sequence of paths
        CSV files, or folders searched (non-recursively) for ``*.csv`` — e.g. the
        ``raw-data/contrast`` folder of a model-vs-human checkout, as located by its
        data manifest. Humans are ``subject-NN``; model files in the same format
        (``rt`` NaN) load the same way.
    experiment : str, optional
        Keep only files whose name starts with ``experiment + '_'`` (e.g.
        ``'contrast'``).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`MODEL_VS_HUMAN_COLUMNS` (lower-cased), plus
        ``experiment`` (file-name prefix), ``image_id`` (the image-specific suffix
        of ``imagename``, the key model-vs-human matches observers on) and
        ``correct`` (``object_response == category``; ``'na'`` answers count as
        errors). ``condition`` is read as str (``'c30'``, ``'0.35'``...).

    Raises
    ------
    FileNotFoundError
        No CSV found at ``paths`` (with what to put where).
    ValueError
        A file lacks one of the required columns.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "contrast_subject-01_session_1.csv").write_text(
    ...     "subj,Session,trial,rt,object_response,category,condition,imagename\\n"
    ...     "subject-01,1,1,1.05,knife,knife,c30,0001_cop_s01_c30_knife_10_n03041632_7380.png\\n")
    >>> read_human_trials(folder)[["subj", "condition", "image_id", "correct"]].values.tolist()
    [['subject-01', 'c30', 'n03041632_7380.png', True]]
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files: list[Path] = []
    for p in map(Path, items):
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.suffix.lower() == ".csv")
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(
                f"no model-vs-human trial data at {p}. Put the raw-data CSVs of "
                f"bethgelab/model-vs-human there (raw-data/<experiment>/*.csv), or point the "
                f"data manifest at a local checkout."
            )
    if experiment is not None:
        files = [f for f in files if f.name.startswith(f"{experiment}_")]
    if not files:
        raise FileNotFoundError(
            f"no CSV files{' for experiment ' + repr(experiment) if experiment else ''} in "
            f"{[str(i) for i in items]}; expected model-vs-human raw-data files such as "
            f"contrast_subject-01_session_1.csv"
        )
    frames = []
    for f in files:
        df = pd.read_csv(f, dtype={"condition": str, "Condition": str})
        df.columns = [str(c).lower() for c in df.columns]
        missing = [c for c in MODEL_VS_HUMAN_COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(
                f"{f} lacks the model-vs-human column(s) {missing}; its columns are "
                f"{list(df.columns)}"
            )
        df["experiment"] = f.name.split("_")[0]
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["condition"] = out["condition"].astype(str)
    out["image_id"] = [image_id(n) for n in out["imagename"]]
    out["correct"] = (out["object_response"].astype(str) == out["category"].astype(str)).to_numpy()
    return out


def human_error_consistency(
    model_trials: pd.DataFrame,
    human_trials: pd.DataFrame,
    by: str | None = "condition",
    on: str = "image_id",
) -> pd.DataFrame:
    """Error consistency of each model with each human observer on matching images.

    For every model (``subj`` of ``model_trials``), human observer (``subj`` of
    ``human_trials``) and condition, the two are matched trial by trial on
    ``on`` (model-vs-human's ``image_id``) and κ is computed
    (:func:`error_consistency`). model-vs-human reports, per condition, the mean of
    these κ over human observers.

    Parameters
    ----------
    model_trials : pandas.DataFrame
        Columns ``subj``, ``correct`` and ``on`` (:func:`analysis.model_vs_human.classifier_trials`,
        :func:`analysis.robustness.model_trials`, or a model's raw-data CSV via
        :func:`read_human_trials`); with ``by`` also
        that column when present (otherwise a model trial matches the human trial
        on the same image in any condition).
    human_trials : pandas.DataFrame
        From :func:`read_human_trials`.
    by : str or None
        Column splitting the trials into conditions (default ``condition``).
    on : str
        Column identifying an image.

    Returns
    -------
    pandas.DataFrame
        ``model, subj, condition, n_trials, model_accuracy, human_accuracy,
        observed_consistency, expected_consistency, error_consistency``.

    Raises
    ------
    ValueError
        Missing columns, an image repeated within one observer and condition, or no
        image shared by the model and any human.
    """
    for name, df, cols in (("model_trials", model_trials, ("subj", "correct", on)),
                           ("human_trials", human_trials, ("subj", "correct", on)
                            + ((by,) if by else ()))):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"{name} lacks column(s) {missing}; it has {list(df.columns)}")
    model_by = by if by is not None and by in model_trials.columns else None
    rows = []
    for model_name, m in model_trials.groupby("subj", sort=False):
        for subj, h in human_trials.groupby("subj", sort=False):
            conds = h.groupby(by, sort=False) if by else [(None, h)]
            for cond, hc in conds:
                mc = m[m[model_by] == cond] if model_by else m
                for label, d in (("model", mc), ("human", hc)):
                    dup = d[on][d[on].duplicated()]
                    if len(dup):
                        raise ValueError(
                            f"{label} trials repeat image(s) {list(dup.unique()[:3])} within "
                            f"{'condition ' + repr(cond) if by else 'the data'} (observer "
                            f"{model_name if label == 'model' else subj!r}); select one trial per "
                            f"image (e.g. one distortion strength) first"
                        )
                merged = hc[[on, "correct"]].merge(mc[[on, "correct"]], on=on,
                                                   suffixes=("_human", "_model"))
                if merged.empty:
                    continue
                ca = merged["correct_model"].to_numpy(bool)
                cb = merged["correct_human"].to_numpy(bool)
                rows.append({
                    "model": model_name, "subj": subj, "condition": cond,
                    "n_trials": len(merged), "model_accuracy": float(ca.mean()),
                    "human_accuracy": float(cb.mean()),
                    "observed_consistency": observed_consistency(ca, cb),
                    "expected_consistency": expected_consistency(float(ca.mean()), float(cb.mean())),
                    "error_consistency": error_consistency(ca, cb),
                })
    if not rows:
        raise ValueError(
            f"no image ({on!r}) is shared by the model trials and any human observer"
            f"{' within a condition' if model_by else ''}; check that both come from the same "
            f"stimuli (model-vs-human image ids look like 'n03041632_7380.png')"
        )
    return pd.DataFrame(rows)
