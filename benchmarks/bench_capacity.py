"""Benchmark: ``analysis.capacity.manifold_capacity`` vs the reference ``mftma`` itself, side by side.

Both run on the same data (Gaussian clouds around correlated centers, written to
one temporary ``.npz``), with center removal, κ = 0:

- **mftma** (``manifold_analysis_corr``, github.com/schung039/neural_manifolds_replicaMFT)
  runs in its own virtual environment (numpy < 2, cvxopt, pymanopt 0.2.x, autograd)
  through :mod:`benchmarks.mftma_runner`, once per seed; its call time and the
  whole process time (interpreter start and imports included) are measured;
- **ours**: the analysis call in a fresh process of this environment (call time and
  whole-process time, peak resident memory from ``getrusage``).

Values: our α, R_M, D_M against mftma's mean ± standard deviation over its seeds
(its own seed spread: Gaussian samples and center-subspace restarts), and — on
*injected anchors* (our prepared manifolds and Gaussian samples handed to mftma's
``each_manifold_analysis_D1``, its cvxopt QP and estimators) — the largest
difference per manifold, which must be at solver precision.

Set ``MFTMA_PYTHON`` (interpreter of the mftma environment, default
``/work/mftma/venv/bin/python``) and ``MFTMA_PATH`` (the exported repository,
default ``/work/mftma``); ``--skip-mftma`` times ours alone (e.g. P = 1000, where
mftma takes many minutes).

Both sides run interleaved (ours seed s, then mftma seed s), each in a fresh process, with
``--threads`` (default 1) OMP/MKL/OpenBLAS threads.

Run ``python -m benchmarks.bench_capacity [--P 100 --M 100 --N 2000 --n_t 200 --seeds 3]``;
the table is printed and written to ``benchmarks/results/capacity.md``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from neurocommon.files import atomic_write_text

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_OURS = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np, torch
from analysis.capacity import manifold_capacity
t_imp = time.perf_counter() - t0
d = np.load(sys.argv[1]); X = [d[f"m{i}"] for i in range(int(sys.argv[2]))]
t1 = time.perf_counter()
r = manifold_capacity(X, kappa=float(sys.argv[3]), n_t=int(sys.argv[4]), seed=int(sys.argv[5]),
                      device=sys.argv[6])
if sys.argv[6] != "cpu":
    torch.cuda.synchronize()
t_call = time.perf_counter() - t1
print(json.dumps({"import_s": t_imp, "call_s": t_call, "capacity": r.capacity, "radius": r.radius,
                  "dimension": r.dimension, "K": r.K, "rho_c": r.center_correlation,
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def make_data(P: int, M: int, N: int, seed: int = 0) -> list[np.ndarray]:
    """Simulated manifolds: Gaussian clouds (radius ≈ 0.3·√N per point) around centers with a shared
    3-dimensional component (correlated centers, as in real layers)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((P, N)) + 0.5 * rng.standard_normal((P, 3)) @ rng.standard_normal((3, N))
    return [c + 0.3 * rng.standard_normal((M, N)) for c in centers]


def _run(cmd, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(f"{cmd[:3]} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1]), wall


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--P", type=int, default=100)
    ap.add_argument("--M", type=int, default=100)
    ap.add_argument("--N", type=int, default=2000)
    ap.add_argument("--n_t", type=int, default=200)
    ap.add_argument("--kappa", type=float, default=0.0)
    ap.add_argument("--seeds", type=int, default=3, help="mftma runs (seeds 0, 1, ...) for its spread")
    ap.add_argument("--anchor_manifolds", type=int, default=5, help="manifolds for the injected-anchor check")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="OMP/MKL/OpenBLAS threads of both sides")
    ap.add_argument("--skip-mftma", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results" / "capacity.md"))
    args = ap.parse_args(argv)

    import torch

    from analysis._manifolds import anchor_geometry, anchor_points, as_manifolds, gaussian_samples, prepare_manifolds

    mpy = os.environ.get("MFTMA_PYTHON", "/work/mftma/venv/bin/python")
    threads = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    menv = dict(env, MFTMA_PATH=os.environ.get("MFTMA_PATH", "/work/mftma"))
    X = make_data(args.P, args.M, args.N)
    ours_runs, ref_runs, ref = [], [], None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "manifolds.npz"
        np.savez(data, **{f"m{i}": x for i, x in enumerate(X)})
        # interleaved, one fresh process per run and side: ours seed s, then mftma seed s
        for seed in range(args.seeds):
            o, wall = _run([sys.executable, "-c", _OURS, str(data), str(args.P), str(args.kappa),
                            str(args.n_t), str(seed), args.device], env=env)
            ours_runs.append(dict(o, wall_s=wall))
            if not args.skip_mftma:
                r, wall = _run([mpy, str(HERE / "mftma_runner.py"), "full", str(data), str(args.kappa),
                                str(args.n_t), str(seed)], env=menv)
                ref_runs.append(dict(r["runs"][0], wall_s=wall, import_s=r["import_s"]))
        if not args.skip_mftma:
            ref = ref_runs
            # injected anchors: our prepared manifolds and samples through mftma's solver and estimators
            nA = min(args.anchor_manifolds, args.P)
            Xs, labels, dev = as_manifolds(X, None, "cpu")
            prep = prepare_manifolds(Xs, True, 0)
            S = prep.S[:nA]
            t = gaussian_samples(S, labels[:nA], args.n_t, 0, dev)
            s_t, _ = anchor_points(S, args.kappa, t, dev)
            a, r, d = anchor_geometry([s.shape[0] - 1 for s in S], t, s_t, args.kappa)
            inj = Path(tmp) / "anchors.npz"
            np.savez(inj, **{f"S{i}": s.numpy() for i, s in enumerate(S)},
                     **{f"t{i}": t[i, : s.shape[0]].numpy() for i, s in enumerate(S)})
            anc, _ = _run([mpy, str(HERE / "mftma_runner.py"), "anchors", str(inj), str(args.kappa)], env=menv)
            d_anchor = {k: float(np.max(np.abs(np.asarray(anc[k]) - v) / np.abs(v).clip(1e-12)))
                        for k, v in (("alpha", a), ("radius", r), ("dimension", d))}

    machine = (f"{platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs, load "
               f"{os.getloadavg()[0]:.1f} · torch {torch.__version__} · "
               f"device {args.device}")
    def stats(runs, k):
        v = np.array([x[k] for x in runs], float)
        return v.mean(), (v.std(ddof=1) if len(v) > 1 else 0.0)

    def row(name, runs):
        (c, cs), (w, _) = stats(runs, "call_s"), stats(runs, "wall_s")
        vals = " | ".join(f"{stats(runs, k)[0]:.4f} ± {stats(runs, k)[1]:.4f}" for k in ("capacity", "radius", "dimension"))
        return (f"| {name} (mean ± sd over seeds {', '.join(str(i) for i in range(len(runs)))}) | {c:.2f} ± {cs:.2f} | "
                f"{w:.2f} | {vals} | {', '.join(str(x['K']) for x in runs)} |")

    lines = [
        "## capacity: manifold_capacity vs mftma (the reference implementation, its own environment)",
        "",
        f"date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}  ",
        f"machine: {machine}; OMP/MKL/OpenBLAS threads {threads} on both sides  ",
        f"size: P = {args.P} manifolds × M = {args.M} points × N = {args.N}, n_t = {args.n_t}, "
        f"κ = {args.kappa:g}, center removal on (simulated Gaussian clouds, correlated centers); "
        f"runs interleaved (ours seed s, mftma seed s, ...), each in a fresh process",
        "",
        "| | call (s) | whole process (s) | capacity α | radius R_M | dimension D_M | K |",
        "|---|---|---|---|---|---|---|",
        row("ours", ours_runs),
    ]
    if ref:
        lines.append(row("mftma", ref))
        call_ratio = stats(ref, "call_s")[0] / stats(ours_runs, "call_s")[0]
        wall_ratio = stats(ref, "wall_s")[0] / stats(ours_runs, "wall_s")[0]
        per_seed = [r["call_s"] / o["call_s"] for o, r in zip(ours_runs, ref)]
        within = {k: abs(stats(ours_runs, k)[0] - stats(ref, k)[0]) / max(stats(ref, k)[1], 1e-12)
                  for k in ("capacity", "radius", "dimension")}
        lines += [
            f"| **speed-up** | **{call_ratio:.1f}×** (per seed {', '.join(f'{x:.1f}' for x in per_seed)}) | "
            f"**{wall_ratio:.1f}×** | | | | |",
            "",
            "values: |ours mean − mftma mean| / mftma's seed sd = "
            + ", ".join(f"{k} {v:.2f}" for k, v in within.items())
            + f"; injected anchors ({min(args.anchor_manifolds, args.P)} manifolds through mftma's cvxopt QP and "
            "estimators), max relative difference: "
            + ", ".join(f"{k} {v:.1e}" for k, v in d_anchor.items()) + ".",
        ]
    peak = max(o["peak_rss_gb"] for o in ours_runs)
    imp = stats(ours_runs, "import_s")[0]
    lines += ["", f"ours: peak resident memory {peak:.2f} GB (whole process, data included), import {imp:.2f} s."]
    if ref:
        lines += [f"mftma: import {stats(ref, 'import_s')[0]:.2f} s."]
    lines.append("")
    text = "\n".join(lines)
    print(text)
    atomic_write_text(Path(args.out), text)
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
