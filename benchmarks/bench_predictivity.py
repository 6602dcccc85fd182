"""Neural predictivity: kernel PLS vs Brain-Score's own ``pls`` metric; many layers: ridge vs a PLS loop.

Part 1 (default): one feature matrix (450 stimuli × 10,000 features, float32) → 100
neuroids, 10 stratified splits. Brain-Score 2.4.2's registered ``pls`` metric runs in
its own environment (``.venv-brainscore``, a subprocess on the same arrays saved to
``.npy``; ``benchmarks/_brainscore_pls.py``); ours is ``neural_predictivity(...,
regression='pls')`` (kernel PLS, all splits batched, float64). Both times, both scores,
their difference per split and the peak resident-memory growth of each call are printed.

Part 2 (``--layers K``):

Baseline, as Brain-Score's ``pls`` metric runs it for each candidate layer: 10
``StratifiedShuffleSplit`` splits (train 0.9, ``random_state=1``), one
``PLSRegression(n_components=25, scale=False)`` fitted per split on all neuroids,
``scipy.stats.pearsonr`` per neuroid on the held-out stimuli, median over
neuroids, mean over splits.

Ours, in the same process on the same data:

- ``ridge, same splits``: ``neural_predictivity(regression='ridge')`` per layer
  (the same 10 splits; α per neuroid by GCV);
- ``score_layers``: all layers at once *with* held-out layer selection (3 inner
  splits per outer split, i.e. 4× the fits of the baseline).

Peak memory is the largest resident-set growth over the start of each method,
sampled every 5 ms (covers numpy and torch allocations). The PLS baseline can be
run on fewer layers than ours (``--baseline-layers``); its time is then scaled to
all layers (each layer costs the same) and the table says so.

``python -m benchmarks.bench_predictivity [--stimuli 450 --features 10000 --neuroids 100]
[--layers 20 --baseline-layers K] [--device cuda]``
"""
from __future__ import annotations

import argparse
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.bench_rsa import machine_line, write_table

RESULTS = Path(__file__).resolve().parent / "results" / "predictivity.md"


class PeakRSS:
    """Peak resident-set growth (bytes) of this process while the block runs."""

    def __enter__(self):
        self._page = os.sysconf("SC_PAGE_SIZE")
        self.start = self._rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self._page

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())
        self.growth = self.peak - self.start


def make_data(n_layers, n_stimuli, n_features, n_neuroids, seed=0):
    """Layers share a 40-D latent stimulus code with the neuroids, mixed differently per layer."""
    from analysis.assemblies import make_assembly

    rng = np.random.default_rng(seed)
    ids = np.array([f"img{i:04d}" for i in range(n_stimuli)])
    ttype = np.array(["texture", "noise"])[np.arange(n_stimuli) % 2]
    latent = rng.normal(size=(n_stimuli, 40)) * (1.0 / np.arange(1, 41)) ** 0.5
    target = make_assembly(
        latent @ rng.normal(size=(40, n_neuroids)) + 0.5 * rng.normal(size=(n_stimuli, n_neuroids)),
        stimulus_id=ids, presentation_coords={"texture_type": ttype},
        neuroid_coords={"region": ["IT"] * n_neuroids}, attrs={"simulated": 1})
    layers = {}
    for k in range(n_layers):
        share = 0.2 + 0.8 * np.exp(-((k - n_layers / 2) ** 2) / (n_layers / 3) ** 2)  # peaks mid-depth
        x = share * latent @ rng.normal(size=(40, n_features)) + rng.normal(size=(n_stimuli, n_features))
        layers[f"layer{k:02d}"] = make_assembly(
            np.maximum(x, 0).astype(np.float32), stimulus_id=ids,
            presentation_coords={"texture_type": ttype},
            neuroid_coords={"layer": [f"layer{k:02d}"] * n_features}, attrs={"simulated": 1})
    return layers, target


def brainscore_pls_loop(layers, target, names):
    """Brain-Score's pls metric per layer (sklearn + scipy, exactly as it runs)."""
    import scipy.stats
    from sklearn.cross_decomposition import PLSRegression
    from sklearn.model_selection import StratifiedShuffleSplit

    Y = target.values
    labels = target["texture_type"].values
    scores = {}
    for name in names:
        X = layers[name].values
        medians = []
        splitter = StratifiedShuffleSplit(n_splits=10, train_size=0.9, test_size=None, random_state=1)
        for train, test in splitter.split(np.zeros(len(Y)), labels):
            pred = PLSRegression(n_components=25, scale=False).fit(X[train], Y[train]).predict(X[test])
            medians.append(np.median([scipy.stats.pearsonr(Y[test][:, j], pred[:, j])[0]
                                      for j in range(Y.shape[1])]))
        scores[name] = float(np.mean(medians))
    return scores


BRAINSCORE_PYTHON = Path(__file__).resolve().parents[1] / ".venv-brainscore" / "bin" / "python"


_WHOLE = """
import time
t0 = time.perf_counter()
import torch
torch.set_num_threads(1)
from analysis.predictivity import neural_predictivity
from benchmarks.bench_predictivity import make_data
t1 = time.perf_counter()
layers, target = make_data(1, {n}, {p}, {q})
t2 = time.perf_counter()
neural_predictivity(next(iter(layers.values())), target, regression="pls", stratify_on="texture_type",
                    progress=False)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def whole_process(n_stimuli, n_features, n_neuroids):
    """Wall time of a fresh interpreter running ours end to end, and (imports, data, call) inside it."""
    import subprocess
    import sys

    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _WHOLE.format(n=n_stimuli, p=n_features, q=n_neuroids)],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    return (wall, *map(float, out.stdout.split()))


def pls_vs_brainscore(n_stimuli=450, n_features=10000, n_neuroids=100, device=None):
    """Part 1: Brain-Score's pls metric (its own venv) vs our kernel PLS on the same arrays."""
    import json
    import subprocess
    import tempfile

    from analysis.predictivity import neural_predictivity

    layers, target = make_data(1, n_stimuli, n_features, n_neuroids)
    source = next(iter(layers.values()))
    lines = ["## Neural predictivity: kernel PLS vs Brain-Score 2.4.2's `pls` metric", "",
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {machine_line()}", "",
             f"{n_stimuli} stimuli × {n_features} features (float32) → {n_neuroids} neuroids, 10 splits stratified "
             "on texture_type (simulated data).", ""]
    bs = None
    if BRAINSCORE_PYTHON.exists():
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "X.npy", source.values)
            np.save(Path(tmp) / "Y.npy", target.values)
            (Path(tmp) / "meta.json").write_text(json.dumps({
                "stimulus_id": target["stimulus_id"].values.tolist(),
                "texture_type": target["texture_type"].values.tolist()}))
            env = {**os.environ, "BS_INSTALL_DEPENDENCIES": "no"}
            proc = subprocess.run([str(BRAINSCORE_PYTHON), str(Path(__file__).with_name("_brainscore_pls.py")), tmp],
                                  capture_output=True, text=True, env=env, timeout=3600)
            if proc.returncode == 0:
                bs = json.loads(proc.stdout.strip().splitlines()[-1])
            else:
                lines.append(f"Brain-Score run failed: {proc.stderr.strip().splitlines()[-1:]}")
    else:
        lines.append(f"{BRAINSCORE_PYTHON} is missing (make brainscore-env); Brain-Score's column is empty.")
    with PeakRSS() as mem:
        t = time.perf_counter()
        ours = neural_predictivity(source, target, regression="pls", stratify_on="texture_type", device=device,
                                   progress=False)
        t_ours = time.perf_counter() - t
    lines += ["| method | time (s) | peak RSS growth (MiB) | score | error |", "| --- | --- | --- | --- | --- |"]
    if bs is not None:
        lines.append(f"| Brain-Score `load_metric('pls')` (scikit-learn NIPALS, split by split) | {bs['time']:.2f} | "
                     f"{bs['peak_growth'] / 2**20:.0f} | {bs['score']:.9f} | {bs['error']:.6f} |")
    lines.append(f"| ours: `neural_predictivity(regression='pls')` (kernel PLS, splits batched, "
                 f"{device or 'cpu'}) | {t_ours:.2f} | {mem.growth / 2**20:.0f} | {ours.score:.9f} | "
                 f"{ours.error:.6f} |")
    lines.append("")
    if bs is not None:
        diff = (np.abs(np.asarray(bs["per_split"]) - ours.per_split).max() if bs["per_split"] is not None
                else float("nan"))
        lines.append(f"**speed-up: {bs['time'] / t_ours:.1f}×** (target ≥ 10×); memory ratio (ours / Brain-Score): "
                     f"{mem.growth / max(bs['peak_growth'], 1):.2f}; |Δscore| = {abs(bs['score'] - ours.score):.1e}, "
                     f"max |Δ| per split = {diff:.1e} (target ≤ 1e-6).")
    wall, t_imp, t_data, t_call = whole_process(n_stimuli, n_features, n_neuroids)
    lines.append(f"Our whole process (a fresh interpreter: imports {t_imp:.1f} s, simulated data {t_data:.1f} s, "
                 f"the call {t_call:.1f} s): {wall:.1f} s of wall time.")
    return lines


def main(n_layers=0, n_stimuli=450, n_features=10000, n_neuroids=100, baseline_layers=None,
         device=None, write=True):
    lines = pls_vs_brainscore(n_stimuli, n_features, n_neuroids, device)
    print("\n".join(lines))
    if n_layers:
        lines += [""] + layers_vs_pls_loop(n_layers, n_stimuli, n_features, n_neuroids, baseline_layers, device)
    if write:
        write_table(RESULTS, lines)
    return lines


def layers_vs_pls_loop(n_layers, n_stimuli, n_features, n_neuroids, baseline_layers, device):
    """Part 2: ridge over layers vs Brain-Score's per-layer PLS loop (scikit-learn, same process)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from analysis.layer_mapping import score_layers
    from analysis.predictivity import neural_predictivity

    layers, target = make_data(n_layers, n_stimuli, n_features, n_neuroids)
    names = list(layers)
    k_base = n_layers if baseline_layers is None else min(int(baseline_layers), n_layers)
    rows = []

    with PeakRSS() as mem, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t = time.perf_counter()
        base_scores = brainscore_pls_loop(layers, target, names[:k_base])
        t_base = (time.perf_counter() - t) * n_layers / k_base
    scaled = k_base < n_layers
    rows.append(("Brain-Score PLS loop (sklearn)" + (f", timed on {k_base} of {n_layers} layers and scaled"
                                                     if scaled else ""),
                 t_base, mem.growth, "— (not all layers run)" if scaled else max(base_scores, key=base_scores.get)))

    with PeakRSS() as mem:
        t = time.perf_counter()
        ridge_scores = {n: neural_predictivity(layers[n], target, regression="ridge", stratify_on="texture_type",
                                               device=device, progress=False).score for n in names}
        t_ridge = time.perf_counter() - t
    rows.append((f"ours: ridge, same 10 splits per layer ({device or 'cpu'})", t_ridge, mem.growth,
                 max(ridge_scores, key=ridge_scores.get)))

    with PeakRSS() as mem:
        t = time.perf_counter()
        res = score_layers(layers, target, regression="ridge", stratify_on="texture_type", device=device,
                           progress=False)
        t_layers = time.perf_counter() - t
    rows.append((f"ours: score_layers, ridge + held-out layer selection ({device or 'cpu'})", t_layers,
                 mem.growth, res.best_layers["IT"]))

    both = ", ".join(f"{n}: {base_scores[n]:.3f} / {ridge_scores[n]:.3f}" for n in names[:k_base])
    lines = [
        "## Neural predictivity over layers (ridge path vs Brain-Score's per-layer PLS loop)",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {machine_line()}",
        "",
        f"{n_layers} layers × {n_stimuli} stimuli × {n_features} features (float32) → {n_neuroids} neuroids, "
        "10 stratified splits (simulated data).",
        "",
        "| method | time (s) | speed-up vs PLS loop | peak RSS growth (MiB) | best layer |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, secs, growth, best in rows:
        lines.append(f"| {label} | {secs:.1f} | {t_base / secs:.1f}× | {growth / 2**20:.0f} | {best} |")
    lines += ["", f"Scores (median r, PLS / ridge) on the layers both ran: {both}.",
              "Peak RSS growth is measured over the already loaded activations "
              f"({sum(a.values.nbytes for a in layers.values()) / 2**20:.0f} MiB). "
              "Target: ridge ≥ 10× faster than the PLS loop."]
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--stimuli", type=int, default=450)
    ap.add_argument("--features", type=int, default=10000)
    ap.add_argument("--neuroids", type=int, default=100)
    ap.add_argument("--baseline-layers", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    main(a.layers, a.stimuli, a.features, a.neuroids, a.baseline_layers, a.device, not a.no_write)
