"""View agreement vs deformation amplitude: global mean vs local features (LCL-V2 at init).

For stage 1 and stage 2 of an untrained ``lcl_v2`` (default architecture, luminance
and contrast gain control on, seed 0), two independently deformed views of the same
64 × 64 patches of the bundled images are made with
:class:`neuromodels.augment.LocalDeformation` (cell size 0.5 RF) at amplitudes
``c × RF`` of the stage; ``1 − r`` (Pearson correlation across samples between the
two views' values of one feature, averaged over features) is computed for

- the global spatial mean of each channel (``embedding="global"``, the form before issue 14),
- cells one receptive field wide (``embedding_cell=1``),
- every position (``embedding_cell=0``, the default).

Run ``python docs/figures/view_agreement.py``; it writes ``view_agreement.png`` and
``view_agreement.csv`` beside itself (atomically) and prints the table.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from neuromodels import build_model
from neuromodels.augment import LocalDeformation
from neuromodels.data import PatchSampler, bundled_images

HERE = Path(__file__).resolve().parent
C_VALUES = (0.0, 0.025, 0.05, 0.1, 0.2, 0.3)
FORMS = {"global mean": ("global", 0.0), "RF-wide cells": ("local", 1.0), "per position": ("local", 0.0)}


def one_minus_r(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over features of 1 − Pearson r across samples; a, b are (N, D)."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    r = (a * b).sum(0) / (a.norm(dim=0) * b.norm(dim=0) + 1e-12)
    return float(1 - r.mean())


def measure(n_patches: int = 128, patch: int = 64, seed: int = 0) -> list[dict]:
    torch.manual_seed(seed)
    base = build_model("lcl_v2")
    models = {}
    for name, (mode, cell) in FORMS.items():
        m = build_model("lcl_v2", embedding=mode, embedding_cell=cell).eval()
        m.load_state_dict(base.state_dict())
        models[name] = m
    x = PatchSampler(bundled_images(size=160), patch, n_patches, seed=seed).batch(0)[:, 0]
    rows = []
    for k, stage in enumerate(base.stage_names):
        rf = base.receptive_fields()[stage].size
        for c in C_VALUES:
            deform = LocalDeformation(amplitude=c * rf, cell_size=max(2.0, 0.5 * rf))
            va = deform(x, torch.Generator().manual_seed(1))
            vb = deform(x, torch.Generator().manual_seed(2))
            with torch.no_grad():
                ha = base.stage_outputs(va, upto=k + 1)[k]
                hb = base.stage_outputs(vb, upto=k + 1)[k]
                for name, m in models.items():
                    za, zb = m.embedding(ha, stage), m.embedding(hb, stage)
                    za, zb = za.reshape(-1, za.shape[-1]), zb.reshape(-1, zb.shape[-1])
                    rows.append({"stage": k + 1, "rf_px": rf, "c": c, "amplitude_px": c * rf, "form": name,
                                 "one_minus_r": one_minus_r(za, zb)})
    return rows


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def plot(rows: list[dict], ax=None):
    """Two panels (stage 1, stage 2): 1 − r vs amplitude for each form; returns the axes."""
    import matplotlib.pyplot as plt

    from analysis.plot.style import figure_style

    with figure_style():
        if ax is None:
            _, ax = plt.subplots(1, 2, figsize=(9, 3.6))
        for k, a in enumerate(np.atleast_1d(ax)):
            for name in FORMS:
                pts = [(r["amplitude_px"], r["one_minus_r"]) for r in rows if r["stage"] == k + 1 and r["form"] == name]
                a.plot(*zip(*pts), marker="o", label=name)
            rf = next(r["rf_px"] for r in rows if r["stage"] == k + 1)
            a.axvline(0.1 * rf, color="gray", ls=":", lw=1)
            a.set(title=f"stage {k + 1} (RF {rf:.0f} px), untrained", xlabel="deformation amplitude (px RMS)",
                  ylabel="1 − r between the two views")
        np.atleast_1d(ax)[0].legend(frameon=False)
        np.atleast_1d(ax)[0].figure.tight_layout()
    return ax


def main() -> None:
    rows = measure()
    print(f"{'stage':>5} {'c':>6} {'amp px':>7}  " + "  ".join(f"{n:>14}" for n in FORMS))
    for k in (1, 2):
        for c in C_VALUES:
            vals = {r["form"]: r for r in rows if r["stage"] == k and r["c"] == c}
            amp = next(iter(vals.values()))["amplitude_px"]
            print(f"{k:>5} {c:>6} {amp:>7.2f}  " + "  ".join(f"{vals[n]['one_minus_r']:>14.3f}" for n in FORMS))
    import csv

    def write_csv(tmp):
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)

    _atomic(HERE / "view_agreement.csv", write_csv)
    ax = plot(rows)
    _atomic(HERE / "view_agreement.png", lambda tmp: np.atleast_1d(ax)[0].figure.savefig(tmp, dpi=120, format="png"))


if __name__ == "__main__":
    main()
