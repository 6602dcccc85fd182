"""Cross-validation splits drawn exactly as Brain-Score draws them.

Brain-Score (``brainscore_vision.metric_helpers.transformations.Split``) builds its
splits with scikit-learn on the *presentation order of the target assembly*:

- regression metrics: ``StratifiedShuffleSplit(n_splits=10, train_size=0.9,
  test_size=None, random_state=1)`` over the target's presentations, stratified on
  a stimulus coord (``texture_type`` for FreemanZiemba2013), or ``ShuffleSplit``
  with the same arguments when no stratification coord is given;
- the internal-consistency ceiling: ``ShuffleSplit(n_splits=10, train_size=0.5,
  test_size=None, random_state=1)`` over the *sorted unique* values of the
  ``repetition`` coord (``unique_split_values=True``, no stratification).

Reusing scikit-learn's splitters (rather than re-deriving their permutations) keeps
the assignment identical to Brain-Score's for the same inputs.
"""
from __future__ import annotations

import numpy as np

__all__ = ["shuffle_splits", "repetition_halves"]


def shuffle_splits(
    n_samples: int,
    stratify: np.ndarray | None = None,
    n_splits: int = 10,
    train_size: float = 0.9,
    random_state: int | None = 1,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test index pairs over ``n_samples`` items, as Brain-Score's ``Split``.

    Parameters
    ----------
    n_samples : int
        Number of items (stimuli, in the target's presentation order).
    stratify : array of shape (n_samples,), optional
        Class label per item; splits keep class proportions
        (``StratifiedShuffleSplit``). ``None`` draws plain ``ShuffleSplit`` splits.
    n_splits, train_size, random_state
        As in scikit-learn; ``test_size`` is the complement of ``train_size``.

    Returns
    -------
    list of (train_indices, test_indices)
    """
    if n_splits < 1:
        raise ValueError(f"n_splits must be >= 1; got {n_splits}")
    if not 0 < train_size < 1:
        raise ValueError(f"train_size must lie in (0, 1); got {train_size}")
    placeholder = np.zeros(n_samples)
    if stratify is not None:
        stratify = np.asarray(stratify)
        if stratify.shape != (n_samples,):
            raise ValueError(
                f"stratification labels must have shape ({n_samples},); got {stratify.shape}"
            )
        _, counts = np.unique(stratify, return_counts=True)
        if counts.min() < 2:
            raise ValueError(
                "stratified splits need at least 2 stimuli per class; the smallest class "
                f"has {counts.min()} (class sizes {counts.tolist()}). Pick another "
                "stratification coord or pass stratify_on=None."
            )
        from sklearn.model_selection import StratifiedShuffleSplit  # lazy: ~1.5 s of imports

        splitter = StratifiedShuffleSplit(
            n_splits=n_splits, train_size=train_size, test_size=None, random_state=random_state
        )
        return list(splitter.split(placeholder, stratify))
    from sklearn.model_selection import ShuffleSplit

    splitter = ShuffleSplit(
        n_splits=n_splits, train_size=train_size, test_size=None, random_state=random_state
    )
    return list(splitter.split(placeholder))


def repetition_halves(
    repetitions: np.ndarray, n_splits: int = 10, random_state: int | None = 1
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Split-half assignments of repetitions, as Brain-Score's internal consistency.

    Parameters
    ----------
    repetitions : array
        The ``repetition`` coord of every presentation.
    n_splits, random_state
        Brain-Score uses 10 splits with ``random_state=1``.

    Returns
    -------
    values : array
        Sorted unique repetition values.
    halves : list of (first_half_values, second_half_values)
        ``ShuffleSplit(train_size=0.5)`` over ``values``: the first half holds
        ``floor(n / 2)`` repetitions, the second the rest.
    """
    values = np.unique(np.asarray(repetitions))
    if len(values) < 2:
        raise ValueError(
            f"split-half consistency needs at least 2 repetitions; got {len(values)} "
            f"distinct repetition value(s) {values.tolist()}"
        )
    from sklearn.model_selection import ShuffleSplit

    splitter = ShuffleSplit(n_splits=n_splits, train_size=0.5, test_size=None, random_state=random_state)
    halves = [(values[a], values[b]) for a, b in splitter.split(np.zeros(len(values)))]
    return values, halves
