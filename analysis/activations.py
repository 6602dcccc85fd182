"""Model activations on a stimulus set, as assemblies of the shared data model.

Any ``torch.nn.Module`` works: layers are hooked by their dotted module names (as
listed by ``model.named_modules()``); each hooked output ``(B, C, H, W)`` (or
``(B, D)``) becomes one assembly with neuroid coords ``layer``, ``channel``,
``channel_x``, ``channel_y``.

Stimuli are shown the way Brain-Score shows them (``place_on_screen``,
``brainscore_vision.benchmark_helpers.screen``): a stimulus of ``v`` degrees
presented to a model whose input spans ``V`` degrees covers a fraction ``v / V`` of
the canvas. For ``v < V`` the image is pasted at the centre of a uniform gray
canvas of ``round(W · V / v)`` pixels; for ``v > V`` its central
``round(W · V / v)`` pixels are cropped. The canvas is then resized (bilinear,
antialiased) to the model's input size.

Images are streamed: a ``torch.utils.data.DataLoader`` reads them a batch at a
time (from memory or from their files, in ``num_workers`` worker processes, into
pinned memory when the model runs on a GPU), and only each layer's reduced features
are kept, in memory or written batch by batch to one netCDF file per layer
(``out_dir``), so memory stays bounded by the batch and the kept features, not by
the number of stimuli. Colour follows the model: a model with ``in_channels == 1``
sees luminance (:func:`analysis.images.rgb_to_luminance`), one with
``in_channels == 3`` sees RGB (gray stimuli repeated to three channels), any other
module sees the stimuli's own channels.

Examples
--------
>>> import numpy as np, torch
>>> from analysis.stimuli import StimulusSet
>>> from analysis.activations import extract
>>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU())
>>> stim = StimulusSet.from_images(np.random.default_rng(0).random((3, 16, 16)))
>>> acts = extract(net, stim, ["1"], progress=False)
>>> acts["1"].sizes["neuroid"]  # 2 channels x 14 x 14 positions
392
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from analysis._feature_reduction import hooked_tensor, reduce_features, reduction_plan
from analysis._feature_sinks import FileSink, MemorySink
from analysis.images import convert_color
from analysis.stimuli import StimulusSet
from neurocommon.progress import progress_bar

__all__ = ["extract", "place_on_screen", "layer_names", "StimulusImages"]


def layer_names(model: torch.nn.Module) -> list[str]:
    """Dotted names of every submodule that can be hooked (``model.named_modules()``)."""
    return [name for name, _ in model.named_modules() if name]


def place_on_screen(
    images: torch.Tensor,
    stimulus_degrees: float,
    model_degrees: float,
    image_size: int | None = None,
    background: float = 0.5,
) -> torch.Tensor:
    """Show ``images`` of ``stimulus_degrees`` to a model spanning ``model_degrees``.

    Parameters
    ----------
    images : tensor (B, C, H, W), values in [0, 1]
    stimulus_degrees : float
        Width of each image in degrees of visual angle.
    model_degrees : float
        Width of the model's input field in degrees of visual angle.
    image_size : int, optional
        Side of the model's input in pixels (default: the stimulus' own width).
    background : float
        Gray level of the screen (0.5 = mean gray; Brain-Score's PIL ``'gray'``
        is 128/255).

    Returns
    -------
    tensor (B, C, image_size, image_size)
        The stimulus occupies the central ``stimulus_degrees / model_degrees``
        of the width (capped at the whole canvas), as Brain-Score's
        ``ImageConverter.apply_ratio`` places it.
    """
    if not (stimulus_degrees > 0 and model_degrees > 0):
        raise ValueError(
            f"visual degrees must be positive; got stimulus {stimulus_degrees}, model {model_degrees}"
        )
    b, c, h, w = images.shape
    ratio = model_degrees / stimulus_degrees
    out = images
    if not np.isclose(ratio, 1.0):
        th, tw = int(round(ratio * h)), int(round(ratio * w))
        if th < 1 or tw < 1:
            raise ValueError(
                f"a {stimulus_degrees} deg stimulus of {w} px shown to a {model_degrees} deg model "
                f"leaves less than one pixel; use larger images"
            )
        if ratio > 1:  # enlarge the canvas: paste on gray
            canvas = torch.full((b, c, th, tw), float(background), dtype=images.dtype, device=images.device)
            top, left = int(round((th - h) / 2)), int(round((tw - w) / 2))
            canvas[:, :, top : top + h, left : left + w] = images
            out = canvas
        else:  # the model sees only the central part
            top, left = int(round((h - th) / 2)), int(round((w - tw) / 2))
            out = images[:, :, top : top + th, left : left + tw]
    size = w if image_size is None else int(image_size)
    if out.shape[-2:] != (size, size):
        out = F.interpolate(out, size=(size, size), mode="bilinear", align_corners=False,
                            antialias=True)
    return out


class StimulusImages(torch.utils.data.Dataset):
    """A stimulus set as a torch ``Dataset``: item ``i`` is image ``i`` as a float32
    ``(C, H, W)`` tensor, converted to ``color`` (see :func:`analysis.images.as_image`).

    Images are read one at a time (from memory or from the set's files), so a
    ``DataLoader`` over it holds only its batches.

    Examples
    --------
    >>> import numpy as np
    >>> from analysis.stimuli import StimulusSet
    >>> data = StimulusImages(StimulusSet.from_images(np.zeros((2, 8, 8))), color="rgb")
    >>> tuple(data[1].shape)
    (3, 8, 8)
    """

    def __init__(self, stimulus_set: StimulusSet, color: str | None = None):
        self.stimulus_set = stimulus_set
        self.color = color

    def __len__(self) -> int:
        return len(self.stimulus_set)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.stimulus_set.image(index, self.color)))


def _collate(images: list[torch.Tensor]) -> torch.Tensor:
    """Stack one batch; a batch that mixes gray and RGB images becomes RGB."""
    if len({im.shape[0] for im in images}) > 1:
        images = [torch.from_numpy(convert_color(im.numpy(), "rgb")) for im in images]
    shapes = {tuple(im.shape) for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"stimuli of one batch differ in size {sorted(shapes)[:3]}; extract needs images of "
            f"one size (resize them, e.g. with analysis.images.resize_square)"
        )
    return torch.stack(images)


def _model_color(model: torch.nn.Module, stimulus_set: StimulusSet) -> str | None:
    in_channels = getattr(model, "in_channels", None)
    if in_channels == 1:
        return "gray"
    if in_channels == 3:
        return "rgb"
    if isinstance(in_channels, int):
        raise ValueError(
            f"the model takes {in_channels}-channel input; extract can show it grayscale (1) or "
            f"RGB (3) stimuli"
        )
    return "rgb" if stimulus_set.images is None and stimulus_set.is_rgb else None


def extract(
    model: torch.nn.Module,
    stimulus_set: StimulusSet,
    layers: Sequence[str] | str,
    batch_size: int = 32,
    device=None,
    max_features: int | None = None,
    *,
    reduction: str = "random",
    seed: int = 0,
    model_degrees: float | None = None,
    image_size: int | None = None,
    background: float = 0.5,
    num_workers: int = 0,
    out_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict:
    """Activations of ``layers`` of ``model`` on every stimulus of ``stimulus_set``.

    Parameters
    ----------
    model : torch.nn.Module
        Any module taking ``(B, C, H, W)`` images; kept on its device, run in eval
        mode under ``torch.no_grad()`` (its training flag is restored afterwards).
    stimulus_set : StimulusSet
        Images in [0, 1] (in memory or files) with ``visual_degrees``. Gray images
        are repeated to 3 channels when ``model.in_channels == 3``; RGB images are
        converted to luminance when ``model.in_channels == 1``.
    layers : str or sequence of str
        Dotted module names (see :func:`layer_names`).
    batch_size : int
        Stimuli per forward pass (and per read).
    device : torch device, optional
        Where to run; default: the device of the model's first parameter or buffer
        (CPU for a parameter-free model). The model is not moved.
    max_features : int, optional
        Feature budget per layer. Larger layers are reduced by ``reduction``.
    reduction : {'random', 'pool'}
        ``'random'``: keep ``max_features`` units drawn without replacement with
        ``seed`` (the same units for every stimulus); ``'pool'``: adaptive average
        pooling over space to the largest grid with ``C·h·w <= max_features``
        (then random channels if ``C`` alone exceeds the budget).
    seed : int
        Seed of the random unit subset.
    model_degrees : float, optional
        Field of view of the model's input (default ``model.visual_degrees``, else
        the stimuli's own size, i.e. no placement).
    image_size : int, optional
        Model input side in pixels (default ``model.image_size`` if present, else
        the stimuli's width).
    background : float
        Gray level of the screen around small stimuli.
    num_workers : int
        Worker processes that read images (``torch.utils.data.DataLoader``); 0 reads
        them in this process. Batches go to pinned memory when ``device`` is CUDA.
    out_dir : path, optional
        Write each layer's features batch by batch to ``out_dir/<layer>.nc`` (netCDF,
        readable with :func:`analysis.assemblies.load`; written under a temporary name
        and renamed when complete) instead of holding them in memory.
    progress : bool
        Progress bar over batches.

    Returns
    -------
    dict of str to xarray.DataArray (or to pathlib.Path with ``out_dir``)
        One assembly per layer (presentation × neuroid), presentation coords
        ``stimulus_id`` and the stimulus table's metadata, neuroid coords ``layer``,
        ``channel``, ``channel_x``, ``channel_y`` (position on the layer's grid,
        pooled grid for ``'pool'``; 0 for flat outputs), attrs ``source``,
        ``layer``, ``visual_degrees``, ``model_degrees``, ``simulated=0``.

    Raises
    ------
    ValueError
        Unknown layer names (the valid ones are listed), images of the wrong shape,
        an unknown reduction.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(stimulus_set, StimulusSet):
        raise TypeError(f"stimulus_set must be an analysis.stimuli.StimulusSet; got {type(stimulus_set).__name__}")
    layers = [layers] if isinstance(layers, str) else list(layers)
    if not layers:
        raise ValueError("give at least one layer name")
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules or not name]
    if unknown:
        valid = layer_names(model)
        shown = valid if len(valid) <= 40 else valid[:40] + [f"... ({len(valid) - 40} more)"]
        raise ValueError(f"unknown layer name(s) {unknown}; valid layer names: {shown}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layer names repeat: {layers}")
    if reduction not in ("random", "pool"):
        raise ValueError(f"reduction must be 'random' or 'pool'; got {reduction!r}")
    if max_features is not None and (int(max_features) < 1):
        raise ValueError(f"max_features must be a positive integer; got {max_features}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    if len(stimulus_set) == 0:
        raise ValueError("the stimulus set is empty")
    color = _model_color(model, stimulus_set)
    first = stimulus_set.image(0, color)
    if first.shape[-1] < 2 or first.shape[-2] < 2:
        raise ValueError(f"stimuli must be at least 2x2 pixels; got {first.shape}")
    model_degrees = model_degrees if model_degrees is not None else getattr(model, "visual_degrees", None)
    model_degrees = float(model_degrees) if model_degrees is not None else float(stimulus_set.visual_degrees)
    image_size = image_size if image_size is not None else getattr(model, "image_size", None)

    ref = next(iter(model.parameters()), None)
    if ref is None:
        ref = next(iter(model.buffers()), None)
    if device is None:
        device = ref.device if ref is not None else torch.device("cpu")
    device = torch.device(device)
    dtype = ref.dtype if ref is not None and ref.dtype.is_floating_point else torch.float32
    loader = torch.utils.data.DataLoader(
        StimulusImages(stimulus_set, color), batch_size=int(batch_size), shuffle=False,
        num_workers=int(num_workers), collate_fn=_collate, pin_memory=device.type == "cuda",
    )

    captured: dict[str, torch.Tensor] = {}

    def make_hook(name):
        def hook(_module, _inputs, output):
            captured[name] = hooked_tensor(output, name)
        return hook

    handles = [modules[name].register_forward_hook(make_hook(name)) for name in layers]
    sinks = {name: (FileSink(Path(out_dir), name) if out_dir is not None else MemorySink())
             for name in layers}
    plan: dict[str, dict] = {}
    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    start = 0
    try:
        with torch.no_grad():
            for batch in progress_bar(loader, progress, "activations"):
                x = batch.to(device=device, dtype=dtype, non_blocking=True)
                x = place_on_screen(x, float(stimulus_set.visual_degrees), model_degrees,
                                    image_size, background)
                captured.clear()
                try:
                    model(x)
                except RuntimeError as err:
                    raise ValueError(
                        f"the model failed on input of shape {tuple(x.shape)} (stimuli "
                        f"{tuple(batch.shape[1:])} placed on a {model_degrees} deg screen of "
                        f"{x.shape[-1]} px); check image_size / in_channels. Model error: {err}"
                    ) from err
                for name in layers:
                    if name not in captured:
                        raise RuntimeError(
                            f"layer {name!r} was not called during the forward pass; it cannot be hooked"
                        )
                    out = captured[name].detach()
                    if name not in plan:
                        plan[name] = reduction_plan(out.shape[1:], max_features, reduction, rng, name)
                    sinks[name].write(start, reduce_features(out, plan[name]), len(stimulus_set), plan[name])
                start += len(batch)
        table = stimulus_set.table
        meta = {c: table[c].to_numpy() for c in table.columns if c not in ("stimulus_id", "path")}
        source = getattr(model, "name", None) or type(model).__name__
        result = {}
        for name in layers:
            p = plan[name]
            coords = {
                "stimulus_id": stimulus_set.stimulus_ids,
                "neuroid_id": np.array([f"{name}.{c}.{y}.{x}" for c, y, x in zip(p["channel"], p["y"], p["x"])]),
                "presentation": meta,
                "neuroid": {"layer": np.full(len(p["channel"]), name), "channel": p["channel"],
                            "channel_x": p["x"], "channel_y": p["y"]},
            }
            attrs = {"source": str(source), "layer": name, "stimulus_set": stimulus_set.name,
                     "visual_degrees": float(stimulus_set.visual_degrees),
                     "model_degrees": model_degrees, "reduction": reduction if p["reduced"] else "none",
                     "simulated": 0}
            result[name] = sinks[name].finish(coords, attrs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
        for sink in sinks.values():
            sink.discard()
    return result
