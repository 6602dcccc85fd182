"""Training engine benchmarks: layerwise vs end-to-end stage-2 steps; input pipeline vs pre-made tensors.

1. **Layerwise vs end to end** (same two-stage LCL-V2, same batch of views): a
   layerwise stage-2 step runs stage 1 under ``no_grad`` and back-propagates
   through stage 2 only; an end-to-end step keeps stage 1's activations for the
   backward pass and computes its gradients too. Reported: peak memory allocated
   during one step (tensors created inside the step, tracked by a
   ``TorchDispatchMode`` that follows every storage until it is freed; on CUDA
   ``torch.cuda.max_memory_allocated``), median time per step, and FLOPs per step
   (``FlopCounterMode``). Targets: layerwise ≤ 0.6× the memory and ≤ 0.7× the time.
2. **Input pipeline**: optimizer steps per second with the real pipeline (patch
   sampling from the bundled images on the CPU, transfer, deformed views made on
   the device) vs the same steps on views made beforehand. Target ≥ 0.9.

Beside the in-process step times, the whole-process time of one layerwise stage-2 step:
a fresh interpreter that imports the toolkit, builds the same trainer and views and
takes one step (cold), timed from outside (:func:`whole_process`).

Run ``python -m benchmarks.bench_training [--batch 32 --patch 64 --steps 5 --device cpu]``;
the table is printed and written to ``benchmarks/results/training.md``.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from neurocommon.files import atomic_write_text

RESULTS = Path(__file__).parent / "results" / "training.md"
CONFIGS = Path(__file__).resolve().parents[1] / "neuromodels" / "configs"


class _PeakMemory(TorchDispatchMode):
    """Bytes of tensor storage created inside the mode and still alive; ``peak`` is its maximum."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, int] = {}
        self.current = 0
        self.peak = 0

    def _free(self, key: int) -> None:
        self.current -= self.live.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                st = t.untyped_storage()
                key = id(st)
                if key not in self.live:
                    self.live[key] = st.nbytes()
                    self.current += st.nbytes()
                    weakref.finalize(st, self._free, key)
        self.peak = max(self.peak, self.current)
        return out


def make_trainer(kind: str, batch: int, patch: int, device: str, out: str, precision: str = "auto"):
    from neuromodels.training.config import load_config
    from neuromodels.training.loop import Trainer

    name = "lcl_v2_quick.yaml" if kind == "layerwise" else "lcl_v2_end_to_end_quick.yaml"
    cfg = load_config(CONFIGS / name, [
        "model_config.channels=[32, 64]", f"data.batch_size={batch}", f"data.patch_size={patch}",
        f"data.image_size={max(256, patch)}", f"run.device={device}", f"run.out_dir={out}", "run.progress=false",
        f"run.precision={precision}", "run.deterministic=false",
    ])
    tr = Trainer(cfg, resume=False)
    tr.model.to(tr.ctx.device)
    if tr.channels_last:
        tr.model.to(memory_format=torch.channels_last)
    return tr


def train_step(tr, views):
    loss = tr.step_module(views)
    tr.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    tr.optimizer.step()
    return loss


def sync_device(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_interleaved(runs, steps: int) -> list[float]:
    """Median seconds per step of each ``(trainer, make_views, after)``, their steps alternated.

    Alternating the compared steps exposes both to the same machine load (this
    benchmark runs on shared machines); ``after`` runs inside the timed region (the
    real pipeline waits there for its prefetched next views, so none of its work
    leaks into the other measurement); the first round is a warm-up.
    """
    times = [[] for _ in runs]
    for t in range(steps + 1):
        for i, (tr, make_views, after) in enumerate(runs):
            dev = tr.ctx.device
            sync_device(dev)
            tic = time.perf_counter()
            train_step(tr, make_views(t))
            after()
            sync_device(dev)
            if t:
                times[i].append(time.perf_counter() - tic)
    return [statistics.median(ts) for ts in times]


def _nothing() -> None:
    pass


def _peak_bytes(tr, views) -> int:
    dev = tr.ctx.device
    train_step(tr, views)  # optimizer state exists before the measured step
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        train_step(tr, views)
        torch.cuda.synchronize(dev)
        return torch.cuda.max_memory_allocated(dev) - base
    with _PeakMemory() as mem:
        train_step(tr, views)
    return mem.peak


def _flops(tr, views) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        train_step(tr, views)
    return float(fc.get_total_flops())


def layerwise_vs_end_to_end(batch: int, patch: int, steps: int, device: str) -> list[tuple]:
    with tempfile.TemporaryDirectory() as tmp:
        lw = make_trainer("layerwise", batch, patch, device, os.path.join(tmp, "lw"))
        lw.set_phase(lw.phases[1])  # stage 2 on the frozen stage 1
        e2e = make_trainer("end_to_end", batch, patch, device, os.path.join(tmp, "e2e"))
        e2e.set_phase(e2e.phases[0])
        x = lw.sampler.batch(0).to(lw.ctx.device)
        views = lw.make_views(x, 0)  # the same views for both
        rows = []
        mem = (_peak_bytes(lw, views), _peak_bytes(e2e, views))
        rows.append(("peak memory in one step (MiB)", mem[0] / 2**20, mem[1] / 2**20, mem[0] / mem[1], "<= 0.6"))
        t = _time_interleaved([(lw, lambda i: views, _nothing), (e2e, lambda i: views, _nothing)], steps)
        rows.append(("time per step (ms, median)", 1e3 * t[0], 1e3 * t[1], t[0] / t[1], "<= 0.7"))
        f = (_flops(lw, views), _flops(e2e, views))
        rows.append(("FLOPs per step (G)", f[0] / 1e9, f[1] / 1e9, f[0] / f[1], "-"))
    return rows


def input_pipeline(batch: int, patch: int, steps: int, device: str) -> list[tuple]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for stage in (0, 1):
            tr = make_trainer("layerwise", batch, patch, device, os.path.join(tmp, f"s{stage}"))
            tr.set_phase(tr.phases[stage])
            dev = tr.ctx.device
            start = tr.phases[stage].start
            tr.total = start + steps + 1
            stream = tr.view_stream(start)  # the trainer's own pipeline (prefetching one step ahead)
            made = [tr.make_views(tr.sampler.batch(start + t).to(dev), start + t) for t in range(steps + 1)]
            t_made, t_real = _time_interleaved(
                [(tr, lambda t: made[t], _nothing), (tr, lambda t: next(stream), stream.wait)], steps)
            stream.close()
            rows.append((f"stage {stage + 1} steps/s", 1 / t_made, 1 / t_real, t_made / t_real, ">= 0.9"))
    return rows


_WHOLE = """
import sys, time
t0 = time.perf_counter()
import torch
sys.path.insert(0, sys.argv[1])
from benchmarks.bench_training import make_trainer, sync_device, train_step
batch, patch, device, out = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
torch.manual_seed(0)
t1 = time.perf_counter()
tr = make_trainer("layerwise", batch, patch, device, out)
tr.set_phase(tr.phases[1])
views = tr.make_views(tr.sampler.batch(0).to(tr.ctx.device), 0)
sync_device(tr.ctx.device)
t2 = time.perf_counter()
train_step(tr, views)
sync_device(tr.ctx.device)
print(t1 - t0, t2 - t1, time.perf_counter() - t2)
"""


def whole_process(batch: int, patch: int, device: str) -> tuple[float, float, float, float]:
    """(wall time, imports, trainer + views, the step) of a fresh interpreter taking one layerwise stage-2 step."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _WHOLE, str(Path(__file__).resolve().parents[1]), str(batch),
                              str(patch), device, tmp], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
    imports, setup, step = map(float, out.stdout.split())
    return wall, imports, setup, step


def machine_summary(device: str) -> str:
    dev = device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if dev == "cuda":
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (f"{platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs ({torch.get_num_threads()} torch "
            f"threads{load}) · torch {torch.__version__}")


def markdown_table(title, header, rows):
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    """Run both comparisons, print the tables, write ``benchmarks/results/training.md``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32, help="patches per step (two views each)")
    p.add_argument("--patch", type=int, default=64, help="patch side (pixels)")
    p.add_argument("--steps", type=int, default=5, help="timed steps per measurement (after one warm-up)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    a = p.parse_args([] if argv is None else argv)
    torch.manual_seed(0)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    size = f"LCL-V2 channels (32, 64), batch {a.batch} patches x 2 views, {a.patch}x{a.patch} px, {a.steps} timed steps"
    t1 = markdown_table("Layerwise vs end-to-end, training stage 2 (" + size + ")",
                        ["measure", "layerwise", "end_to_end", "ratio", "target"],
                        layerwise_vs_end_to_end(a.batch, a.patch, a.steps, a.device))
    t2 = markdown_table("Input pipeline: real (sampling + device deformations) vs pre-made views (" + size + ")",
                        ["measure", "pre-made", "real", "ratio", "target"],
                        input_pipeline(a.batch, a.patch, a.steps, a.device))
    wall, imports, setup, step = whole_process(a.batch, a.patch, a.device)
    whole = (f"Whole process of one layerwise stage-2 step (a fresh interpreter: imports {imports:.2f} s, trainer "
             f"and views {setup:.2f} s, the step once, cold, {step:.2f} s): **{wall:.2f} s** wall; in process the "
             "step's median is in the first table.")
    text = "\n".join([
        "## training: layerwise vs end-to-end steps; input pipeline vs pre-made views", "",
        f"{stamp} · {machine_summary(a.device)} · device {a.device}", "",
        "Peak memory counts tensors allocated during one optimizer step (parameters and inputs that exist "
        "before it are excluded); on CPU it is tracked storage by storage, on CUDA it is "
        "torch.cuda.max_memory_allocated minus the memory allocated before the step.", "",
        t1, "", t2, "", whole, "",
    ])
    print(text)
    atomic_write_text(RESULTS, text)
    return text


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
