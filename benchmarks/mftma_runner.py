"""Run the reference ``mftma`` (Chung lab) in its own environment and print its values as JSON.

Called by :mod:`benchmarks.bench_capacity` with the interpreter of a separate
virtual environment where ``mftma`` and its dependencies (numpy < 2, cvxopt,
pymanopt 0.2.x, autograd) are installed; ``MFTMA_PATH`` points at an exported
copy of github.com/schung039/neural_manifolds_replicaMFT (never committed here).
This file only calls mftma's public functions.

Modes
-----
``full DATA.npz KAPPA N_T SEED [SEED ...]``
    ``manifold_analysis_corr`` on the manifolds ``m0, m1, ...`` (each (M, N)),
    once per seed (``np.random.seed``); prints capacity 1/mean(1/α), mean R_M, mean
    D_M, K and the call time per seed, and the import time.
``anchors DATA.npz KAPPA``
    ``each_manifold_analysis_D1`` on injected prepared manifolds ``S0, S1, ...``
    (rows: center coordinate first, as in analysis._manifolds) and Gaussian samples
    ``t0, t1, ...``; prints α, R_M, D_M per manifold.
"""
import json
import os
import sys
import time

t_import = time.perf_counter()
sys.path.insert(0, os.environ.get("MFTMA_PATH", "/work/mftma"))
import numpy as np  # noqa: E402
from mftma.manifold_analysis_correlation import (  # noqa: E402
    each_manifold_analysis_D1,
    manifold_analysis_corr,
)

t_import = time.perf_counter() - t_import


def _load(path, prefix):
    data = np.load(path)
    n = len([k for k in data.files if k.startswith(prefix) and k[len(prefix):].isdigit()])
    return [data[f"{prefix}{i}"] for i in range(n)]


def main(argv):
    mode, path, kappa = argv[0], argv[1], float(argv[2])
    out = {"import_s": t_import}
    if mode == "full":
        n_t = int(argv[3])
        X = [m.T for m in _load(path, "m")]  # mftma wants (N, M)
        runs = []
        for seed in argv[4:]:
            np.random.seed(int(seed))
            t0 = time.perf_counter()
            a, r, d, rho, K = manifold_analysis_corr(X, kappa, n_t)
            runs.append({"seed": int(seed), "call_s": time.perf_counter() - t0,
                         "capacity": float(1 / np.mean(1 / a)), "radius": float(np.mean(r)),
                         "dimension": float(np.mean(d)), "K": int(K), "rho_c": float(rho)})
        out["runs"] = runs
    elif mode == "anchors":
        S, T = _load(path, "S"), _load(path, "t")
        res = []
        for s, t in zip(S, T):
            sD1 = np.concatenate([s[1:], s[:1]])  # mftma: center coordinate last
            tv = np.concatenate([t[1:], t[:1]])
            res.append(each_manifold_analysis_D1(sD1, kappa, tv.shape[1], t_vec=tv))
        out["alpha"], out["radius"], out["dimension"] = (list(map(float, c)) for c in zip(*res))
    else:
        raise SystemExit(f"unknown mode {mode!r}; use 'full' or 'anchors'")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
