"""Jacobians + SVD of a RealNVP at many points: batched ``torch.func`` vs a per-point loop.

Ours: :func:`analysis.flows.jacobians` (``vmap(jacrev)`` in chunks) followed by one
batched ``torch.linalg.svd``. Baseline: a Python loop calling
``torch.autograd.functional.jacobian`` and ``torch.linalg.svd`` point by point.
The baseline is timed on ``loop_points`` points and extrapolated linearly to all
points (it is a loop of identical, independent calls), and the table says so.

Run: ``python -m benchmarks flows`` or ``python benchmarks/bench_flows.py
[--points 10000] [--loop-points 200] [--device cpu]``.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from analysis.flows import digits, fit_flow, jacobians

RESULTS = Path(__file__).resolve().parent / "results" / "flows.md"


def _points(n: int, seed: int = 0) -> np.ndarray:
    """``n`` dequantized 8x8 digits (resampled with fresh dequantization noise)."""
    rng = np.random.default_rng(seed)
    base = digits(dequantize=False).x * 16.0
    idx = rng.integers(0, len(base), size=n)
    return (base[idx] + rng.uniform(size=(n, base.shape[1]))) / 17.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--loop-points", type=int, default=200)
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv or [])
    device = torch.device(args.device)

    x_np = _points(args.points)
    x = torch.as_tensor(x_np, dtype=torch.float32, device=device)
    # a RealNVP as fit_flow builds it (4 couplings, 64-64 hidden), briefly trained on digits
    flow = fit_flow(x[:2000], "realnvp", max_epochs=3, progress=False)
    d = x.shape[1]

    def ours(pts: torch.Tensor):
        J = jacobians(flow, pts, chunk_size=args.chunk_size)
        return J, torch.linalg.svd(J)

    def loop(pts: torch.Tensor):
        out = []
        for xi in pts:
            Ji = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0], xi)
            out.append((Ji, torch.linalg.svd(Ji)))
        return out

    ours(x[:64])  # warm-up (torch.func tracing caches, allocator)
    loop(x[:4])

    _sync(device)
    t0 = time.perf_counter()
    J, (_, s, _) = ours(x)
    _sync(device)
    t_ours = time.perf_counter() - t0

    m = min(args.loop_points, args.points)
    _sync(device)
    t0 = time.perf_counter()
    ref = loop(x[:m])
    _sync(device)
    t_loop_subset = time.perf_counter() - t0
    t_loop = t_loop_subset * args.points / m

    max_dj = max(float((J[i] - r[0]).abs().max()) for i, r in enumerate(ref))
    max_ds = max(float((s[i] - r[1][1]).abs().max()) for i, r in enumerate(ref))
    ratio = t_loop / t_ours

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        load = "load average %.1f" % os.getloadavg()[0]
    except OSError:
        load = "load average n/a"
    machine = (f"{platform.node()} · {platform.processor() or platform.machine()} · "
               f"{os.cpu_count()} CPUs ({torch.get_num_threads()} torch threads, {load}) · "
               f"device {device}" + (f" ({torch.cuda.get_device_name(device)})"
                                     if device.type == "cuda" else "")
               + f" · torch {torch.__version__}")
    extrapolated = m < args.points
    rows = [
        "| method | points | time (s) | per point (ms) |",
        "|---|---:|---:|---:|",
        f"| batched `torch.func` vmap(jacrev) + batched SVD (ours) | {args.points} | "
        f"{t_ours:.2f} | {1e3 * t_ours / args.points:.3f} |",
        f"| per-point `torch.autograd.functional.jacobian` + SVD loop (baseline) | "
        f"{args.points} | {t_loop:.2f}{' (extrapolated from %d points)' % m if extrapolated else ''}"
        f" | {1e3 * t_loop / args.points:.3f} |",
    ]
    text = "\n".join([
        "## flows: Jacobians + SVD of a RealNVP",
        "",
        f"{stamp} · {machine}",
        "",
        f"RealNVP (zuko, 4 affine couplings, hidden 64-64) on {args.points} dequantized 8x8 "
        f"digits in R^{d}, float32, chunks of {args.chunk_size}. The loop was timed on {m} "
        f"points ({t_loop_subset:.2f} s)"
        + (" and extrapolated linearly." if extrapolated else "."),
        "",
        *rows,
        "",
        f"**speed-up (baseline / ours): {ratio:.1f}x** (target >= 10x). Agreement on the "
        f"{m} common points: max |dJ| = {max_dj:.2e}, max |ds| = {max_ds:.2e}.",
        "",
    ])
    print(text)
    _write_atomic(RESULTS, text)
    return text


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
