"""Manifold capacity, radius, dimension and alignment across model layers and recorded regions.

Texture families are the manifolds (each family's naturalistic images = one
point cloud). Models: a supervised ResNet-50 (the classifier trained by the
``lcl_v2`` reproduction when its checkpoint is given, otherwise untrained), the
self-supervised LCL-V2 and texture model, and the fixed steerable and Gabor V1
front ends; recordings by region. One figure per quantity.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..runner import Run, Section
from . import stages as S

TITLE = "Manifold geometry across layers and regions (Chung, Lee & Sompolinsky 2018)"

QUANTITIES = {
    "capacity": "manifold capacity α (mean-field)",
    "radius": "manifold radius R_M",
    "dimension": "manifold dimension D_M",
    "center_alignment": "center alignment (mean |cos|)",
}


def run(run: Run, cfg: dict, device) -> None:
    run.stage("stimuli", lambda r: S.stimuli_stage(r, cfg["stimuli"]))
    run.stage("recordings", lambda r: S.recordings_stage(r, cfg["recordings"]))
    for name, train_cfg in cfg.get("train", {}).items():
        if not cfg.get("checkpoints", {}).get(name):
            run.stage(f"train_{name}", lambda r, n=name, c=train_cfg: S.train_stage(r, n, c, device))
    run.stage("activations", lambda r: S.activations_stage(r, _models(r, cfg), cfg["activations"], device))
    run.stage("geometry", lambda r: _geometry(r, cfg["analysis"], device))


def _models(run: Run, cfg: dict) -> dict:
    import neuromodels

    out = {}
    for name, spec in cfg["models"].items():
        ckpt = cfg.get("checkpoints", {}).get(name) or (
            run.records[f"train_{name}"]["checkpoint"] if f"train_{name}" in run.records else None)
        if ckpt:
            model = S.load_trained(ckpt)
        else:
            model = neuromodels.build_model(spec["model"], **spec.get("config", {}))
        out[name] = (model, spec.get("layers") or list(model.layers))
    return out


def _geometry(run: Run, cfg: dict, device) -> dict:
    from analysis.assemblies import average_repetitions
    from analysis.capacity import manifold_geometry_by_layer, manifold_geometry_by_region

    acts = S.load_activations(run)
    seed = run.config.get("seed", 0)
    tables = []
    for model, layers in acts.items():
        tex = {k: S.textures_only(v) for k, v in layers.items()}
        t = manifold_geometry_by_layer(tex, by="texture_family", n_t=cfg["n_t"], seed=seed, device=device)
        t["model"], t["depth"] = model, np.arange(1, len(t) + 1)
        tables.append(t)
    recording = average_repetitions(S.load_recording(run))
    t = manifold_geometry_by_region(S.textures_only(recording), by="texture_family", n_t=cfg["n_t"], seed=seed,
                                    device=device)
    src = S.source_label(run)
    t["model"], t["depth"] = f"recording ({src})", np.arange(1, len(t) + 1)
    tables.append(t)
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(run.path("geometry.csv"), index=False)
    figures = [_plot_quantity(table, q, label, run) for q, label in QUANTITIES.items() if q in table.columns]
    metrics = [{"metric": q, "model": r["model"], "layer": r["layer"], "value": float(r[q])}
               for _, r in table.iterrows() for q in QUANTITIES if q in table.columns]
    heads = []
    for model in table["model"].unique():
        top = table[table["model"] == model].iloc[-1]
        heads.append(S.headline(f"capacity, {model} {top['layer']}", top["capacity"],
                                source=src if model.startswith("recording") else "bundled textures"))
    rec = table[table["model"].str.startswith("recording")]
    given = run.config.get("checkpoints", {}) or {}
    trained = [m for m in acts if given.get(m) or f"train_{m}" in run.records]
    untrained = [m for m in acts if m not in trained and m not in ("steerable_v1", "gabor_v1")]
    reading = (f"Trained models: {', '.join(trained) or 'none'}; fixed front ends: steerable_v1, gabor_v1"
               + (f"; untrained (random weights): {', '.join(untrained)}" if untrained else "") + ". " +"Mean-field capacity, radius and dimension of the texture-family manifolds (naturalistic "
               "images only; centers decorrelated as in the reference method), and center alignment. "
               "Higher capacity means families are easier to separate linearly with few units. "
               + ("Recorded regions: " + ", ".join(f"{r['layer']} α = {r['capacity']:.3f}" for _, r in rec.iterrows())
                  + "." if len(rec) else ""))
    return {"metrics": metrics, "headlines": heads,
            "sections": [Section("Manifold capacity and geometry", reading, figures)]}


def _plot_quantity(table: pd.DataFrame, q: str, label: str, run: Run) -> str:
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    sns.lineplot(data=table, x="depth", y=q, hue="model", marker="o", ax=ax)
    ax.set(xlabel="layer depth (1 = first analysed layer / region V1, 2 = V2)", ylabel=label,
           title=label[0].upper() + label[1:], xticks=sorted(table["depth"].unique()))
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), title="model", fontsize=8)
    fig.tight_layout()
    return S.savefig(fig, run.figure_path(f"manifold_{q}"))
