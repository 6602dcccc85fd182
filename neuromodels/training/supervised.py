"""Supervised (cross-entropy) training of the registry's classifiers on labelled images.

Used for LCL-V2Net (frozen LCL-V2 front end + ResNet-50 back end) and its baselines
(VOneNet-like ``vonenet_resnet50``, plain ``resnet50``). It shares the trainer's
checkpoints (atomic, checksummed, resumable) and per-step metrics files; batches
are drawn from a generator seeded by ``(seed, step)``, so a resumed run sees the
same batches as an uninterrupted one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from neurocommon.progress import progress_bar

from .checkpoints import latest_good_checkpoint, save_checkpoint
from .metrics import MetricsLogger

__all__ = ["train_classifier", "SupervisedResult"]


@dataclass
class SupervisedResult:
    """What :func:`train_classifier` returns (the model in eval mode, on ``device``)."""

    model: nn.Module
    steps: int
    history: list[dict] = field(default_factory=list)
    checkpoint: Path | None = None
    flops_per_step: float = 0.0

    @property
    def flops_total(self) -> float:
        """FLOPs of one measured step (forward + backward) × steps."""
        return float(self.flops_per_step * self.steps)


def _batch(images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int, step: int, flip: bool):
    g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, step]).generate_state(1)[0]))
    idx = torch.randint(0, len(images), (batch_size,), generator=g)
    x, y = images[idx], labels[idx]
    if flip:
        mask = torch.rand(batch_size, generator=g) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(-1), x)
    return x, y


def train_classifier(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, steps: int,
                     batch_size: int = 32, lr: float = 0.01, weight_decay: float = 1e-4, seed: int = 0,
                     device=None, out_dir: str | Path, checkpoint_every: int = 0, flip: bool = True,
                     model_name: str | None = None, model_config: dict | None = None,
                     progress: bool = True) -> SupervisedResult:
    """Train ``model`` to classify ``images`` by minimizing cross-entropy (SGD, momentum, cosine lr).

    Parameters
    ----------
    model
        Any module mapping (B, C, H, W) images to (B, n_classes) logits. Parameters
        with ``requires_grad=False`` (a frozen front end) are not trained.
    images, labels
        (N, 1, H, W) float images in [0, 1] and (N,) integer class indices.
    steps, batch_size, lr, weight_decay
        Optimizer steps, images per step, peak learning rate, L2 penalty.
    seed
        Seeds the batches and horizontal flips (``flip``).
    out_dir
        Run folder: ``checkpoints/``, ``metrics.csv``/``metrics.jsonl``. A run folder
        holding a checkpoint is resumed from it.
    checkpoint_every
        Also checkpoint every this many steps (0: only at the end).

    Returns
    -------
    SupervisedResult
    """
    if images.ndim != 4 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"images must be (N, C, H, W) with one label each; got {tuple(images.shape)} "
                         f"and {tuple(labels.shape)} labels")
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"steps and batch_size must be ≥ 1 and lr > 0; got {steps}, {batch_size}, {lr}")
    labels = labels.long()
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model.to(device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    start, flops = 0, 0.0
    found = latest_good_checkpoint(out_dir / "checkpoints", map_location=device)
    if found is not None:
        _, state = found
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start, flops = int(state["step"]), float(state.get("flops_per_step", 0.0))
    logger = MetricsLogger(out_dir, keep_until=start)
    history, ckpt = [], None
    bar = progress_bar(range(start, steps), progress, "supervised", total=steps, updates=True, initial=start)
    try:
        for step in bar:
            model.train()
            x, y = _batch(images, labels, batch_size, seed, step, flip)
            x, y = x.to(device), y.to(device)
            t0 = time.perf_counter()

            def _step():
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                return loss

            if not flops:
                from torch.utils.flop_counter import FlopCounterMode

                with FlopCounterMode(display=False) as fc:
                    loss = _step()
                flops = float(fc.get_total_flops())
            else:
                loss = _step()
            value = float(loss.detach())
            if not np.isfinite(value):
                raise FloatingPointError(f"supervised training diverged: loss {value} at step {step + 1}")
            opt.step()
            sched.step()
            dt = time.perf_counter() - t0
            row = {"step": step + 1, "phase": 0, "stage": "supervised", "loss": value,
                   "lr": sched.get_last_lr()[0], "step_time_s": dt, "samples_per_s": batch_size / max(dt, 1e-9)}
            logger.log(row)
            history.append(row)
            bar.set_postfix(loss=f"{value:.3f}")
            last = step + 1 == steps
            if last or (checkpoint_every and (step + 1) % checkpoint_every == 0):
                state = {"model": model.state_dict(), "optimizer": opt.state_dict(),
                         "scheduler": sched.state_dict(), "step": step + 1, "flops_per_step": flops,
                         "model_name": model_name, "model_config": model_config or {}}
                ckpt = save_checkpoint(out_dir / "checkpoints", state, step + 1)
    finally:
        logger.close()
    if ckpt is None and found is not None:
        ckpt = found[0]
    model.eval()
    return SupervisedResult(model, steps, history, ckpt, flops)
