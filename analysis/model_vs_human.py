"""Any classifier on the model-vs-human stimuli (Geirhos et al. 2021): decisions in the 16
categories and error consistency with the human observers.

- :func:`imagenet_to_16` — model-vs-human's decision mapping: the mean softmax
  probability over each category's ImageNet classes
  (:data:`analysis.human_categories.IMAGENET_INDICES`).
- :func:`classifier_trials` — a classifier (1000 ImageNet outputs, or 16 outputs
  in :data:`~analysis.human_categories.CATEGORIES` order) on a condition's stimulus
  images, as a trial table in model-vs-human's raw-data format.
- :func:`classifier_error_consistency` — its error consistency (Cohen's κ) with each
  human observer, per condition (:func:`analysis.error_consistency.human_error_consistency`).

The images are those of model-vs-human's ``datasets/<experiment>/dnn/session-1/``
folders, named ``<trial>_<experiment>_<session>_<condition>_<category>_..._<image>.png``
(e.g. ``0001_cop_s01_c30_knife_10_n03041632_7380.png``); the human trials are its
``raw-data/<experiment>/*.csv`` read by :func:`analysis.error_consistency.read_human_trials`.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from .error_consistency import human_error_consistency, image_id
from .human_categories import CATEGORIES, IMAGENET_INDICES

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "imagenet_to_16", "classifier_trials",
           "classifier_error_consistency"]

#: ImageNet normalization applied by model-vs-human's PyTorch loader (RGB mean, std).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def imagenet_to_16(probabilities):
    """Probabilities of the 16 categories: the mean over each category's ImageNet classes.

    model-vs-human's ``ImageNetProbabilitiesTo16ClassesMapping`` (aggregation
    ``np.mean``) with the classes of :data:`analysis.human_categories.IMAGENET_INDICES`.

    Parameters
    ----------
    probabilities : Tensor or ndarray, shape (n, 1000)
        Softmax probabilities over the ILSVRC-2012 classes (in their standard order).

    Returns
    -------
    Same type, shape (n, 16)
        Columns in :data:`CATEGORIES` order (alphabetical). They do not sum to 1.

    Examples
    --------
    >>> import torch
    >>> p = torch.zeros(1, 1000)
    >>> p[0, IMAGENET_INDICES["knife"][0]] = 1.0
    >>> CATEGORIES[int(imagenet_to_16(p).argmax())]
    'knife'
    """
    as_numpy = not isinstance(probabilities, torch.Tensor)
    p = torch.as_tensor(np.asarray(probabilities)) if as_numpy else probabilities
    if p.ndim != 2 or p.shape[1] != 1000:
        raise ValueError(f"expected ImageNet probabilities of shape (n, 1000); got {tuple(p.shape)}")
    out = torch.stack([p[:, list(IMAGENET_INDICES[c])].mean(1) for c in CATEGORIES], dim=1)
    return out.numpy() if as_numpy else out


def _decide(scores: torch.Tensor) -> np.ndarray:
    """Category names from (n, 1000) ImageNet scores (logits) or (n, 16) category scores."""
    if scores.ndim != 2 or scores.shape[1] not in (1000, len(CATEGORIES)):
        raise ValueError(
            f"the classifier must return (batch, 1000) ImageNet scores or (batch, 16) scores of "
            f"the categories {list(CATEGORIES)} (in that order); got shape {tuple(scores.shape)}")
    if scores.shape[1] == 1000:
        scores = imagenet_to_16(torch.softmax(scores.double(), dim=1))
    return np.asarray(CATEGORIES, dtype=object)[scores.argmax(1).cpu().numpy()]


def _images_and_names(images, imagenames):
    """(tensor (N, C, H, W), names) from a tensor/array + names, or a stimulus set."""
    if hasattr(images, "load_images") and hasattr(images, "table"):
        if imagenames is None:  # model-vs-human's file name: 'imagename', else the stimulus id
            column = "imagename" if "imagename" in images.table.columns else "stimulus_id"
            imagenames = images.table[column].tolist()
        images = images.load_images()
    x = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    if x.ndim != 4 or x.shape[1] not in (1, 3) or not x.is_floating_point():
        raise ValueError(f"images must be float (N, 1 or 3, H, W) in [0, 1]; got "
                         f"{x.dtype} {tuple(x.shape)}")
    names = [os.path.basename(str(n)) for n in (imagenames if imagenames is not None else [])]
    if len(names) != len(x):
        raise ValueError(f"{len(x)} images but {len(names)} image names; pass imagenames=[...] "
                         "with one model-vs-human file name per image")
    return x, names


def _condition_and_category(name: str) -> tuple[str, str]:
    """model-vs-human's file-name layout ``<trial>_<exp>_<subj>_<condition>_<category>_...``."""
    parts = name.split("_")
    if len(parts) < 5 or parts[4] not in CATEGORIES:
        raise ValueError(
            f"image name {name!r} is not in model-vs-human's layout "
            f"'<trial>_<experiment>_<session>_<condition>_<category>_..._<image>.png' "
            f"(e.g. 0001_cop_s01_c30_knife_10_n03041632_7380.png) with a category in "
            f"{list(CATEGORIES)}")
    return parts[3], parts[4]


def classifier_trials(model: torch.nn.Module, images, imagenames: Sequence[str] | None = None,
                      name: str = "model", *, normalize: bool = True, batch_size: int = 64,
                      device=None) -> pd.DataFrame:
    """A classifier's responses to model-vs-human stimuli, as a raw-data trial table.

    Each image is normalized as model-vs-human's PyTorch loader does (ImageNet
    mean and std, ``normalize=True``; grayscale repeated to 3 channels), classified
    under ``torch.no_grad`` in eval mode (training flag restored after), and its
    scores decided into one of the 16 categories: 1000 outputs through softmax and
    :func:`imagenet_to_16`, 16 outputs directly (in :data:`CATEGORIES` order).
    Condition and true category are read from the file name as model-vs-human
    reads them (``<trial>_<experiment>_<session>_<condition>_<category>_...``).

    Parameters
    ----------
    model : torch.nn.Module
        Maps (B, 3, H, W) images to (B, 1000) or (B, 16) scores.
    images : Tensor or ndarray (N, C, H, W) in [0, 1], or a stimulus set
        A stimulus set (``load_images()`` and a ``table``; e.g.
        ``analysis.datasets.load_model_vs_human_images``) gives both images and
        names: its ``imagename`` column, else its ``stimulus_id`` (the file name).
    imagenames : sequence of str, optional
        The model-vs-human file name of each image (required for arrays).
    name : str
        Written to ``subj``.
    normalize : bool
        Apply the ImageNet mean/std normalization (False if the model does it).
    batch_size : int
    device : torch device, optional
        Default: the model's.

    Returns
    -------
    pandas.DataFrame
        ``subj, session, trial, rt, object_response, category, condition, imagename,
        image_id, correct`` (``rt`` NaN, as in model-vs-human's model files).
    """
    x, names = _images_and_names(images, imagenames)
    info = [_condition_and_category(n) for n in names]
    dev = torch.device(device) if device is not None else next(
        (p.device for p in model.parameters()), torch.device("cpu"))
    mean = torch.tensor(IMAGENET_MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=dev).view(1, 3, 1, 1)
    responses = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                batch = x[start:start + batch_size].to(dev)
                batch = batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch
                if normalize:
                    batch = (batch - mean.to(batch.dtype)) / std.to(batch.dtype)
                responses.append(_decide(model(batch)))
    finally:
        model.train(was_training)
    response = np.concatenate(responses)
    category = np.array([c for _, c in info], dtype=object)
    return pd.DataFrame({
        "subj": name, "session": 1, "trial": np.arange(1, len(x) + 1), "rt": np.nan,
        "object_response": response, "category": category,
        "condition": [c for c, _ in info], "imagename": names,
        "image_id": [image_id(n) for n in names], "correct": response == category,
    })


def classifier_error_consistency(model: torch.nn.Module, images, human_trials: pd.DataFrame,
                                 imagenames: Sequence[str] | None = None, name: str = "model",
                                 **kwargs) -> pd.DataFrame:
    """Error consistency of any classifier with each human observer, per condition.

    :func:`classifier_trials` on the condition's stimulus images, then
    :func:`human_error_consistency` against ``human_trials``
    (:func:`read_human_trials`), matched on ``image_id`` within each condition.

    Parameters
    ----------
    model, images, imagenames, name
        As in :func:`classifier_trials`.
    human_trials : pandas.DataFrame
        From :func:`read_human_trials` (or a dataset loader that calls it).
    **kwargs
        ``normalize``, ``batch_size``, ``device`` of :func:`classifier_trials`.

    Returns
    -------
    pandas.DataFrame
        One row per (human observer, condition), as :func:`human_error_consistency`.
    """
    trials = classifier_trials(model, images, imagenames, name=name, **kwargs)
    return human_error_consistency(trials, human_trials)
