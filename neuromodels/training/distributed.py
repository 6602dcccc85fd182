"""Data-parallel helpers: process-group set-up from ``torchrun`` and a differentiable all-gather.

Losses that use batch statistics (covariances in Barlow Twins / VICReg / LCL,
negatives in SimCLR, the Gaussian-information texture loss) depend on the whole
batch. With data parallelism every process sees only its slice, so the features
are gathered across processes before the loss: :func:`all_gather_with_grad`
concatenates them in rank order (the order of the global batch) and routes the
gradient of each slice back to the process that produced it. Every process then
evaluates the same loss on the same global batch, and DDP's gradient averaging
yields the gradient of that single loss — the same as one process with the whole
batch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistributedContext", "init_distributed", "all_gather_with_grad", "barrier", "cleanup"]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the job.

    Attributes
    ----------
    rank, world_size, local_rank
        As set by ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); 0, 1, 0 alone.
    device
        The device this process trains on.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the process that writes files and shows progress)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` → CUDA (this process's local GPU) when available, else CPU.

    Raises
    ------
    RuntimeError
        If ``"cuda"`` is asked for and no GPU is visible.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was requested but torch.cuda.is_available() is False; use --device cpu")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device(name)


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the process group ``torchrun`` describes in the environment (if any).

    NCCL on GPUs, gloo on CPU. Without ``WORLD_SIZE`` > 1 nothing is initialized.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistributedContext(rank=rank, world_size=world, local_rank=local, device=dev)


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        world = dist.get_world_size()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        return torch.cat(parts, 0)

    @staticmethod
    def backward(ctx, grad):
        # every process holds dL/d(all features) of its own copy of the loss; the
        # sum over processes, sliced to this process's rows, is what DDP's
        # averaging turns back into the single-loss gradient
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (same shape on every process) over processes along dim 0, differentiably.

    Parameters
    ----------
    x
        Tensor (n, ...) on this process.

    Returns
    -------
    torch.Tensor
        (world_size · n, ...), rows of rank 0 first. Without an initialized process
        group (or with one process) ``x`` itself.

    Notes
    -----
    The backward pass sums the incoming gradient over processes and returns this
    process's rows, so that after DDP averages parameter gradients over the
    ``world_size`` processes the result equals the gradient of the loss of the
    gathered batch computed by one process.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


def barrier() -> None:
    """Wait for every process (no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def cleanup() -> None:
    """Leave the process group if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
