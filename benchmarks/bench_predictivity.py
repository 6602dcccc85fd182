"""Neural predictivity of many layers: the ridge path vs Brain-Score's per-layer PLS loop.

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

``python -m benchmarks.bench_predictivity [--layers 20 --stimuli 450 --features 10000
--neuroids 100] [--baseline-layers K] [--device cuda]``
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


def main(n_layers=4, n_stimuli=450, n_features=2000, n_neuroids=100, baseline_layers=None,
         device=None, write=True):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from analysis.predictivity import neural_predictivity, score_layers

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
    if write:
        write_table(RESULTS, lines)
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--stimuli", type=int, default=450)
    ap.add_argument("--features", type=int, default=2000)
    ap.add_argument("--neuroids", type=int, default=100)
    ap.add_argument("--baseline-layers", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    main(a.layers, a.stimuli, a.features, a.neuroids, a.baseline_layers, a.device, not a.no_write)
