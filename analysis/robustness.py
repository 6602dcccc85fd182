"""Robustness to image distortions and trial-by-trial alignment with human observers.

- :func:`distort` — parametric, seeded distortions of an image batch, computed in
  torch on the batch's own device: Gaussian and uniform noise, blur, contrast
  reduction, elastic (smooth local) deformation, low- and high-pass filtering and
  phase scrambling; every kind has a documented strength grid in
  :data:`DISTORTIONS` (following Geirhos et al. 2018 / model-vs-human, Geirhos et
  al. 2021, where they define one) and strength 0 is the identity.
- :func:`model_trials` / :func:`ood_accuracy` — any classifier ``nn.Module`` on any
  labelled stimulus set under those distortions: trial-by-trial responses and
  accuracy curves (:func:`plot_ood_accuracy`).
- :func:`error_consistency` — Cohen's κ between the trial-by-trial correctness of
  two observers (Geirhos, Meding & Wichmann 2020), with :func:`observed_consistency`
  and :func:`expected_consistency`.
- :func:`load_model_vs_human` / :func:`human_error_consistency` — the raw trial
  data of the model-vs-human benchmark (bethgelab/model-vs-human ``raw-data/``
  CSVs) and the error consistency of a model with each human observer on matching
  images (:func:`plot_error_consistency`).

Examples
--------
>>> import torch
>>> x = torch.rand(2, 1, 16, 16)
>>> bool(torch.equal(distort(x, "contrast", 0.0), x))
True
>>> error_consistency([1, 1, 0, 0], [1, 1, 0, 0])
1.0
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

__all__ = [
    "Distortion",
    "DISTORTIONS",
    "distort",
    "model_trials",
    "ood_accuracy",
    "plot_ood_accuracy",
    "observed_consistency",
    "expected_consistency",
    "error_consistency",
    "MODEL_VS_HUMAN_COLUMNS",
    "load_model_vs_human",
    "human_error_consistency",
    "plot_error_consistency",
]


# --------------------------------------------------------------------------------------
# Distortions
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distortion:
    """One kind of distortion and its default strength grid.

    Attributes
    ----------
    name : str
    grid : tuple of float
        Default strengths, starting at 0 (the identity).
    unit : str
        Unit of the strength.
    description : str
        What the strength means and where the grid comes from.
    """

    name: str
    grid: tuple[float, ...]
    unit: str
    description: str


#: Every distortion kind with its default strength grid. Images are in [0, 1];
#: pixel units refer to the image as given (model-vs-human images are 224 px).
DISTORTIONS: dict[str, Distortion] = {
    d.name: d
    for d in (
        Distortion(
            "gaussian_noise", (0.0, 0.08, 0.12, 0.18, 0.26, 0.38), "std [image units]",
            "additive i.i.d. N(0, s^2) pixel noise, clipped to [0, 1]; grid: the five "
            "severities of ImageNet-C gaussian_noise (Hendrycks & Dietterich 2019)"),
        Distortion(
            "uniform_noise", (0.0, 0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9),
            "half-width [image units]",
            "additive i.i.d. U(-s, s) pixel noise, clipped to [0, 1]; grid: model-vs-human "
            "'uniform-noise' widths (Geirhos et al. 2018, there on 30%-contrast grayscale "
            "images: compose with 'contrast' 0.7 to reproduce that)"),
        Distortion(
            "contrast", (0.0, 0.5, 0.7, 0.85, 0.9, 0.95, 0.97, 0.99),
            "contrast reduction 1 - c [fraction]",
            "x -> (1 - c)/2 + c x with contrast level c = 1 - s (Geirhos et al. 2018: blend "
            "towards mid-gray); the std of the image scales by c; grid: model-vs-human "
            "contrast levels 100, 50, 30, 15, 10, 5, 3, 1 %"),
        Distortion(
            "blur", (0.0, 1.0, 2.0, 3.0, 4.0, 6.0), "Gaussian std [px]",
            "Gaussian blur with mirror-symmetric borders (scipy.ndimage 'reflect'), kernel "
            "truncated at 4 std; grid: ImageNet-C gaussian_blur severities (which used "
            "skimage's edge-replicating borders)"),
        Distortion(
            "low_pass", (0.0, 1.0, 3.0, 5.0, 7.0, 10.0, 15.0, 40.0), "Gaussian std [px]",
            "Gaussian low-pass filter whose surround is a uniform background (default: each "
            "image's mean; model-vs-human used 0.4423), kernel truncated at 4 std (Geirhos et "
            "al. 2018); grid: model-vs-human 'low-pass' filter stds"),
        Distortion(
            "high_pass",
            (0.0,) + tuple(1.0 / s for s in (3.0, 1.5, 1.0, 0.7, 0.55, 0.45, 0.4)),
            "1 / Gaussian std [1/px]",
            "x - low_pass(x, std) shifted to the background luminance (Geirhos et al. 2018); "
            "strength = 1/std so that 0 (std = inf) is the unfiltered image; grid: "
            "model-vs-human 'high-pass' stds inf, 3, 1.5, 1, 0.7, 0.55, 0.45, 0.4 px"),
        Distortion(
            "phase_scrambling", (0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0),
            "phase-noise width [deg]",
            "every Fourier phase shifted by noise uniform in [-s, s] (Hermitian-symmetric, "
            "so the image stays real), amplitude spectrum and mean kept (Geirhos et al. "
            "2018); grid: model-vs-human 'phase-scrambling' widths"),
        Distortion(
            "elastic", (0.0, 0.5, 1.0, 2.0, 4.0, 8.0), "displacement std [px]",
            "smooth random displacement field (a coarse grid of Gaussian values, one per "
            "`cell` px, default 16, upsampled bicubically), scaled so each displacement "
            "component has RMS s over the image; bilinear resampling, border values "
            "replicated; grid: ours (no published standard)"),
    )
}


def _generator(seed, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed) % (2**63))
    return g


def _gaussian_kernel(sigma: float, dtype, device) -> torch.Tensor:
    """Sampled Gaussian, normalised, radius int(4σ + 0.5) as scipy.ndimage.gaussian_filter."""
    radius = int(4.0 * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).to(dtype=dtype, device=device)


def _symmetric_index(n: int, pad: int, device) -> torch.Tensor:
    """Indices of a half-sample symmetric extension (d c b a | a b c d | d c b a) of any width."""
    p = torch.arange(-pad, n + pad, device=device) % (2 * n)
    return torch.where(p < n, p, 2 * n - 1 - p)


def _gaussian_filter(x: torch.Tensor, sigma: float, background=None) -> torch.Tensor:
    """Separable Gaussian filter over the last two dims of (N, C, H, W).

    ``background=None``: mirror-symmetric borders (scipy 'reflect'); a tensor
    broadcastable to (N, C, 1, 1): the image is surrounded by that constant
    (scipy 'constant' with ``cval``).
    """
    k = _gaussian_kernel(sigma, x.dtype, x.device)
    r = (len(k) - 1) // 2
    n, c, h, w = x.shape
    if background is None:
        xp = x.index_select(2, _symmetric_index(h, r, x.device))
        xp = xp.index_select(3, _symmetric_index(w, r, x.device))
    else:
        bg = torch.as_tensor(background, dtype=x.dtype, device=x.device).expand(n, c, 1, 1)
        xp = bg.expand(n, c, h + 2 * r, w + 2 * r).clone()
        xp[..., r:r + h, r:r + w] = x
    flat = xp.reshape(n * c, 1, h + 2 * r, w + 2 * r)
    flat = F.conv2d(flat, k.view(1, 1, 1, -1))
    flat = F.conv2d(flat, k.view(1, 1, -1, 1))
    return flat.reshape(n, c, h, w)


def _background(x: torch.Tensor, background) -> torch.Tensor:
    if background is None or (isinstance(background, str) and background == "mean"):
        return x.mean(dim=(-2, -1), keepdim=True)
    value = float(background)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"background must be 'mean' or a luminance in [0, 1]; got {background}")
    return torch.full_like(x[..., :1, :1], value)


def _phase_scramble(x: torch.Tensor, width_deg: float, gen: torch.Generator) -> torch.Tensor:
    """Add phase noise uniform in [−w, w] to every Fourier component, Hermitian-symmetric.

    The noise is the angle of the DFT of real white noise (uniform on (−π, π], odd
    under f → −f) scaled by w/π, zero at the self-conjugate frequencies (DC and,
    for even sizes, the Nyquist lines), so ``F · exp(iφ)`` stays Hermitian and its
    inverse DFT is real with the same amplitude spectrum and mean. One noise field
    per image, shared by its channels.
    """
    n, c, h, w = x.shape
    real = torch.float64 if x.dtype == torch.float64 else torch.float32
    white = torch.randn((n, 1, h, w), generator=gen, device=x.device, dtype=real)
    phi = torch.angle(torch.fft.fft2(white)) * (width_deg / 180.0)
    ky = torch.arange(h, device=x.device)
    kx = torch.arange(w, device=x.device)
    self_conj = ((-ky) % h == ky)[:, None] & ((-kx) % w == kx)[None, :]
    phi = phi.masked_fill(self_conj, 0.0)
    spectrum = torch.fft.fft2(x.to(real))
    return torch.fft.ifft2(spectrum * torch.polar(torch.ones_like(phi), phi)).real.to(x.dtype)


def _displacement_field(n: int, h: int, w: int, amplitude: float, cell: float,
                        gen: torch.Generator, dtype, device) -> torch.Tensor:
    """(n, 2, h, w) smooth zero-mean displacements (dx, dy) in px, each with RMS ``amplitude``.

    A coarse grid of N(0, 1) values every ``cell`` px, upsampled bicubically (the
    cheap route to a smooth field, DESIGN.md §5), centred and scaled per image.
    """
    gh, gw = max(2, math.ceil(h / cell) + 1), max(2, math.ceil(w / cell) + 1)
    coarse = torch.randn((n, 2, gh, gw), generator=gen, device=device, dtype=dtype)
    field = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
    field = field - field.mean(dim=(-2, -1), keepdim=True)
    rms = field.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt().clamp_min(1e-12)
    return field / rms * amplitude


def _elastic(x: torch.Tensor, amplitude: float, cell: float, gen: torch.Generator) -> torch.Tensor:
    """Resample x along a smooth random displacement field with RMS ``amplitude`` px."""
    n, c, h, w = x.shape
    real = torch.float64 if x.dtype == torch.float64 else torch.float32
    disp = _displacement_field(n, h, w, amplitude, cell, gen, real, x.device)
    ys = (torch.arange(h, device=x.device, dtype=real) + 0.5) * (2.0 / h) - 1.0
    xs = (torch.arange(w, device=x.device, dtype=real) + 0.5) * (2.0 / w) - 1.0
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack([gx + disp[:, 0] * (2.0 / w), gy + disp[:, 1] * (2.0 / h)], dim=-1)
    out = F.grid_sample(x.to(real), grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
    return out.to(x.dtype)


def distort(images, kind: str, strength: float, seed: int = 0, *, clip: bool = True,
            background="mean", cell: float = 16.0):
    """Apply one parametric distortion to a batch of images, on the batch's device.

    Parameters
    ----------
    images : torch.Tensor or numpy.ndarray, shape (B, C, H, W) or (C, H, W)
        Values in [0, 1]. Every channel is distorted alike (the same noise field).
    kind : str
        One of :data:`DISTORTIONS`: ``gaussian_noise``, ``uniform_noise``,
        ``contrast``, ``blur``, ``low_pass``, ``high_pass``, ``phase_scrambling``,
        ``elastic``.
    strength : float ≥ 0
        In the kind's unit (``DISTORTIONS[kind].unit``); 0 is the identity for
        every kind. ``contrast`` ≤ 1, ``phase_scrambling`` ≤ 180.
    seed : int
        Seeds the random kinds (noise, phase scrambling, elastic); the same seed on
        the same device gives the same output.
    clip : bool
        Clip the result to [0, 1] (default; Geirhos et al. clip as well). Pass False
        to inspect the linear operation (e.g. the exact amplitude spectrum after
        phase scrambling).
    background : 'mean' or float
        Surround luminance of ``low_pass`` and target mean of ``high_pass``
        (default each image's mean; model-vs-human used 0.4423).
    cell : float
        Spacing in pixels of the coarse grid of the ``elastic`` displacement field
        (smoothness scale).

    Returns
    -------
    Same type, shape, dtype and device as ``images``.

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(4, 1, 32, 32)
    >>> y = distort(x, "contrast", 0.5)
    >>> bool(torch.allclose(y.std(), x.std() / 2, rtol=1e-4))
    True
    """
    if kind not in DISTORTIONS:
        raise ValueError(f"unknown distortion kind {kind!r}; choose from {sorted(DISTORTIONS)}")
    s = float(strength)
    if not math.isfinite(s) or s < 0:
        raise ValueError(f"strength must be a finite number >= 0; got {strength!r}")
    if kind == "contrast" and s > 1:
        raise ValueError(f"contrast reduction must lie in [0, 1] (1 - contrast level); got {s}")
    if kind == "phase_scrambling" and s > 180:
        raise ValueError(f"phase-noise width must lie in [0, 180] degrees; got {s}")
    as_numpy = not isinstance(images, torch.Tensor)
    x = torch.as_tensor(np.asarray(images)) if as_numpy else images
    if not x.is_floating_point():
        raise TypeError(f"images must be floating point in [0, 1]; got dtype {x.dtype}")
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W) or (C, H, W); got {tuple(x.shape)}")
    gen = _generator(seed, x.device)

    if kind == "gaussian_noise":
        out = x + s * torch.randn(x[:, :1].shape, generator=gen, device=x.device, dtype=x.dtype)
    elif kind == "uniform_noise":
        u = torch.rand(x[:, :1].shape, generator=gen, device=x.device, dtype=x.dtype)
        out = x + s * (2.0 * u - 1.0)
    elif kind == "contrast":
        c = 1.0 - s
        out = (1.0 - c) / 2.0 + c * x
    elif kind == "blur":
        out = x.clone() if s == 0 else _gaussian_filter(x, s)
    elif kind == "low_pass":
        out = x.clone() if s == 0 else _gaussian_filter(x, s, _background(x, background))
    elif kind == "high_pass":
        if s == 0:
            out = x.clone()
        else:
            bg = _background(x, background)
            diff = x - _gaussian_filter(x, 1.0 / s, bg)
            out = diff + (bg - diff.mean(dim=(-2, -1), keepdim=True))
    elif kind == "phase_scrambling":
        out = _phase_scramble(x, s, gen)
    else:  # elastic
        if not cell > 0:
            raise ValueError(f"cell must be a positive number of pixels; got {cell}")
        out = _elastic(x, s, float(cell), gen)
    if clip:
        out = out.clamp(0.0, 1.0)
    if single:
        out = out[0]
    return out.numpy() if as_numpy else out


# --------------------------------------------------------------------------------------
# OOD accuracy of a classifier
# --------------------------------------------------------------------------------------


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


def _short_imagename(name: str) -> str:
    """model-vs-human's image id: the image-specific suffix of an image file name.

    ``0001_cop_s01_c30_knife_10_n03041632_7380.png`` → ``n03041632_7380.png``
    (ImageNet names keep their ``n0…`` synset prefix); other names keep their
    last ``_``-separated part.
    """
    parts = str(name).split("_")
    if len(parts) == 1:
        return parts[0]
    if parts[-2].startswith("n0"):
        return parts[-2] + "_" + parts[-1]
    return parts[-1]


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
    image_id = (np.array([_short_imagename(n) for n in table["imagename"]])
                if "imagename" in table.columns else stimulus_set.stimulus_ids)
    rows = []
    was_training = model.training
    model.eval()
    try:
        iterator = jobs
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(jobs, desc=f"OOD {name}")
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
                    "stimulus_id": stimulus_set.stimulus_ids, "image_id": image_id,
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


def plot_ood_accuracy(table: pd.DataFrame, col_wrap: int = 4):
    """Accuracy against distortion strength, one panel per kind (units differ).

    Parameters
    ----------
    table : pandas.DataFrame from :func:`ood_accuracy` (several models may be
        concatenated; they are told apart by ``subj``)
    col_wrap : int

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="ticks")
    kinds = list(dict.fromkeys(table["kind"]))
    ncol = min(col_wrap, len(kinds))
    nrow = math.ceil(len(kinds) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.8 * nrow), squeeze=False)
    palette = dict(zip(dict.fromkeys(table["subj"]), sns.color_palette(n_colors=table["subj"].nunique())))
    for ax, kind in zip(axes.flat, kinds):
        sub = table[table["kind"] == kind]
        for subj, d in sub.groupby("subj", sort=False):
            d = d.sort_values("strength")
            ax.errorbar(d["strength"], d["accuracy"],
                        yerr=[d["accuracy"] - d["ci_low"], d["ci_high"] - d["accuracy"]],
                        marker="o", ms=4, capsize=2, color=palette[subj], label=subj)
        ax.axhline(float(sub["chance"].iloc[0]), color="0.5", ls=":", lw=1)
        ax.set_ylim(0, 1.02)
        ax.set_title(kind, fontsize=9)
        ax.set_xlabel(DISTORTIONS[kind].unit if kind in DISTORTIONS else "strength")
        ax.set_ylabel("accuracy [fraction correct]")
    for ax in list(axes.flat)[len(kinds):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    sns.despine(fig=fig)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# Error consistency (Geirhos, Meding & Wichmann 2020)
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

#: Columns of the raw-data CSVs of bethgelab/model-vs-human (``raw-data/<experiment>/
#: <experiment>_<observer>_session_<k>.csv``; human files spell ``Session``, lower-cased on load).
MODEL_VS_HUMAN_COLUMNS = ("subj", "session", "trial", "rt", "object_response", "category",
                          "condition", "imagename")


def load_model_vs_human(paths, experiment: str | None = None) -> pd.DataFrame:
    """Read trial data in the model-vs-human raw-data format.

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
    out["image_id"] = [_short_imagename(n) for n in out["imagename"]]
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
        Columns ``subj``, ``correct`` and ``on`` (:func:`model_trials`, or a
        model's raw-data CSV via :func:`load_model_vs_human`); with ``by`` also
        that column when present (otherwise a model trial matches the human trial
        on the same image in any condition).
    human_trials : pandas.DataFrame
        From :func:`load_model_vs_human`.
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


def plot_error_consistency(table: pd.DataFrame, ax=None):
    """Error consistency κ per condition: one dot per human observer, bar = mean.

    Parameters
    ----------
    table : pandas.DataFrame from :func:`human_error_consistency`
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="ticks")
    fig, ax = (plt.subplots(figsize=(1.5 + 0.6 * table["condition"].nunique(), 3.5))
               if ax is None else (ax.figure, ax))
    data = table.assign(condition=table["condition"].astype(str))
    sns.barplot(data=data, x="condition", y="error_consistency", hue="model", errorbar=None,
                alpha=0.4, ax=ax)
    sns.stripplot(data=data, x="condition", y="error_consistency", hue="model", dodge=True,
                  size=4, legend=False, ax=ax)
    ax.axhline(0.0, color="0.4", ls=":", lw=1)
    ax.set_ylim(-1, 1)
    ax.set_xlabel("condition")
    ax.set_ylabel("error consistency κ (model vs human) [unitless]")
    sns.despine(fig=fig)
    fig.tight_layout()
    return fig
