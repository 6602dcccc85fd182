"""Peak memory of activation extraction: streamed (``extract`` reading image files a batch
at a time, features written to netCDF) vs all at once (every image loaded into memory
first, features held in memory: what ``extract`` did before it streamed).

Each measurement runs in its own subprocess (``ru_maxrss`` is a process-lifetime
peak), on the same image files, for 1k and 10k stimuli; the table reports the peak
resident memory of each, the growth from 1k to 10k, and the largest difference
between the two paths' features on the 1k set. Each subprocess is a whole process, so
its wall time (timed from outside) is printed beside the call's own time (``extract``,
timed inside) and its imports.

``python -m benchmarks.bench_activations [--sizes 1000 10000] [--pixels 96]``
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "activations.md"
LAYER = "pool"

_CHILD = r"""
import time
t0 = time.perf_counter()
import json, resource, sys
import numpy as np, pandas as pd, torch
from analysis.activations import extract
from analysis.assemblies import load
from analysis.stimuli import StimulusSet

folder, n, mode, out, keep = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "1"
torch.set_num_threads(1)
torch.manual_seed(0)
model = torch.nn.Sequential()
model.add_module("conv", torch.nn.Conv2d(1, 16, 5, stride=2))
model.add_module("relu", torch.nn.ReLU())
model.add_module("pool", torch.nn.AdaptiveAvgPool2d(4))
model.in_channels = 1
paths = [f"{folder}/s{i:05d}.png" for i in range(n)]
table = pd.DataFrame({"stimulus_id": [f"s{i:05d}" for i in range(n)], "path": paths})
stim = StimulusSet(table, visual_degrees=8.0)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
if mode == "all_at_once":
    stim = StimulusSet(table.drop(columns="path"), stim.load_images(), visual_degrees=8.0)
    values = extract(model, stim, ["pool"], batch_size=64, progress=False)["pool"].values
else:
    path = extract(model, stim, ["pool"], batch_size=64, out_dir=out, progress=False)["pool"]
    values = load(path).values if keep else None
call_s = time.perf_counter() - t1
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if keep:
    np.save(f"{out}/{mode}.npy", values)
print(json.dumps({"peak_kib": peak, "after_import_kib": base, "import_s": t1 - t0, "call_s": call_s}))
"""


def _write_images(folder: Path, n: int, pixels: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        path = folder / f"s{i:05d}.png"
        if not path.exists():
            Image.fromarray(rng.integers(0, 256, (pixels, pixels), dtype=np.uint8)).save(path)


def _measure(folder: Path, n: int, mode: str, out: Path, keep: bool) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", _CHILD, str(folder), str(n), mode, str(out), str(int(keep))],
                         capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - t0
    return {**json.loads(res.stdout.strip().splitlines()[-1]), "wall_s": wall}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[1000, 10000])
    parser.add_argument("--pixels", type=int, default=96)
    args = parser.parse_args(argv)
    small, large = args.sizes
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "images", Path(tmp) / "out"
        folder.mkdir()
        out.mkdir()
        _write_images(folder, large, args.pixels)
        peaks = {(mode, n): _measure(folder, n, mode, out, keep=n == small)
                 for n in (small, large) for mode in ("streamed", "all_at_once")}
        a, b = np.load(out / "streamed.npy"), np.load(out / "all_at_once.npy")
        agreement = float(np.abs(a - b).max())
    mib = {k: v["peak_kib"] / 1024 for k, v in peaks.items()}
    base = {k: v["after_import_kib"] / 1024 for k, v in peaks.items()}
    image_mib = {n: n * args.pixels ** 2 * 4 / 2 ** 20 for n in (small, large)}
    lines = [
        "## activations: streamed extraction vs all images at once (peak memory)",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} · {platform.node()} · {platform.machine()} · "
        f"{os.cpu_count()} CPUs (1 torch thread, load average {os.getloadavg()[0]:.1f}) · device cpu",
        "",
        f"{args.pixels}×{args.pixels} gray PNG files, conv 5×5/2 (16) → ReLU → 4×4 average pool "
        f"(256 features), batches of 64; peak resident memory (`ru_maxrss`) of one subprocess per "
        f"cell (memory after imports in brackets). Streamed: `extract` on the files with `out_dir` "
        f"(DataLoader, features written to netCDF batch by batch); all at once: "
        f"`load_images()` first (float32 images: {image_mib[small]:.0f} MiB at {small}, "
        f"{image_mib[large]:.0f} MiB at {large}), features in memory, as `extract` did before.",
        "",
        f"| path | {small} stimuli (MiB) | {large} stimuli (MiB) | growth |",
        "|---|---:|---:|---:|",
    ]
    for mode, label in (("streamed", "streamed (ours)"), ("all_at_once", "all at once (baseline)")):
        lines.append(f"| {label} | {mib[mode, small]:.0f} ({base[mode, small]:.0f}) | "
                     f"{mib[mode, large]:.0f} ({base[mode, large]:.0f}) | "
                     f"{mib[mode, large] / mib[mode, small]:.2f}× |")
    extra = {n: (mib["all_at_once", n] - base["all_at_once", n]) / max(1.0, mib["streamed", n] - base["streamed", n])
             for n in (small, large)}
    lines += ["", f"**memory above imports, baseline / ours: {extra[small]:.1f}× at {small}, "
                  f"{extra[large]:.1f}× at {large}.** Features of the two paths on the {small}-stimulus set: "
                  f"max |Δ| = {agreement:.2e}."]
    lines += ["", "Time of the same subprocesses: the call (`extract`, timed inside), the imports and model, and "
                  "the whole process (timed from outside; includes writing the features).", "",
              "| path | stimuli | call (s) | imports + model (s) | whole process (s) |", "|---|---:|---:|---:|---:|"]
    for mode, label in (("streamed", "streamed (ours)"), ("all_at_once", "all at once (baseline)")):
        for n in (small, large):
            r = peaks[mode, n]
            lines.append(f"| {label} | {n} | {r['call_s']:.2f} | {r['import_s']:.2f} | {r['wall_s']:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
