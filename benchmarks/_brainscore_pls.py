"""Brain-Score 2.4.2's own ``pls`` metric on arrays saved by ``bench_predictivity`` (run in .venv-brainscore).

``python benchmarks/_brainscore_pls.py DIR`` reads ``DIR/{X,Y}.npy`` and ``DIR/meta.json``
(stimulus ids, texture types), scores with ``load_metric('pls',
crossvalidation_kwargs={'stratification_coord': 'texture_type'})`` and prints one JSON
line: time of the call, peak resident-memory growth during it, score, error, per-split
medians.
"""
import json
import os
import sys
import threading
import time
import warnings


def _rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main(folder):
    import numpy as np
    from brainscore_core.supported_data_standards.brainio.assemblies import NeuroidAssembly
    from brainscore_vision import load_metric

    X, Y = np.load(os.path.join(folder, "X.npy")), np.load(os.path.join(folder, "Y.npy"))
    meta = json.load(open(os.path.join(folder, "meta.json")))
    ids, ttype = np.array(meta["stimulus_id"]), np.array(meta["texture_type"])

    def assembly(values, prefix):
        return NeuroidAssembly(values, coords={
            "stimulus_id": ("presentation", ids), "texture_type": ("presentation", ttype),
            "neuroid_id": ("neuroid", [f"{prefix}{i}" for i in range(values.shape[1])]),
            "region": ("neuroid", ["IT"] * values.shape[1])}, dims=["presentation", "neuroid"])

    source, target = assembly(X, "f"), assembly(Y, "n")
    metric = load_metric("pls", crossvalidation_kwargs={"stratification_coord": "texture_type"})
    start = peak = _rss()
    stop = threading.Event()

    def watch():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _rss())
            time.sleep(0.005)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        score = metric(source, target)
        elapsed = time.perf_counter() - t
    stop.set()
    th.join()
    raw = score.attrs["raw"]
    per_split = raw.median("neuroid").values.tolist() if "neuroid" in raw.dims else None
    print(json.dumps({"time": elapsed, "peak_growth": max(peak, _rss()) - start, "score": float(score),
                      "error": float(score.attrs["error"]), "per_split": per_split}))


if __name__ == "__main__":
    main(sys.argv[1])
