"""Manifold capacity, radius, dimension and alignment across model layers and recorded regions.

Texture families are the manifolds (each family's naturalistic images = one
point cloud). Models: a supervised ResNet-50 (the classifier trained by the
``lcl_v2`` reproduction when its checkpoint is given, otherwise untrained), the
self-supervised LCL-V2 and texture model, and the fixed steerable and Gabor V1
front ends; recordings by region. One figure per quantity.

Data: the stimuli and recordings of ``recordings.dataset`` (FreemanZiemba2013 V1/V2)
when its files are present, otherwise texture stimuli and simulated recordings; and,
when ``object_recordings.dataset`` (MajajHong2015) is present, object-category
manifolds of its V4 and IT recordings and of every model on its own stimuli (no
simulated stand-in: without the files that part is skipped and the report says so).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..runner import Run, Section
from . import register_reproduction
from . import stages as S

TITLE = "Manifold geometry across layers and regions (Chung, Lee & Sompolinsky 2018)"

QUANTITIES = {
    "capacity": "manifold capacity α (mean-field)",
    "radius": "manifold radius R_M",
    "dimension": "manifold dimension D_M",
    "center_alignment": "center alignment (mean |cos|)",
    "axis_alignment": "axis alignment (covariance overlap)",
    "center_axis_alignment": "center–axis alignment",
}


@register_reproduction("manifolds", title=TITLE)
def run(run: Run, cfg: dict, device) -> None:
    run.stage("stimuli", lambda r: S.stimuli_stage(r, cfg["stimuli"]))
    run.stage("recordings", lambda r: S.recordings_stage(r, cfg["recordings"]))
    for name, train_cfg in cfg.get("train", {}).items():
        if not cfg.get("checkpoints", {}).get(name):
            run.stage(f"train_{name}", lambda r, n=name, c=train_cfg: S.train_stage(r, n, c, device))
    run.stage("activations", lambda r: S.activations_stage(r, _models(r, cfg), cfg["activations"], device))
    run.stage("geometry", lambda r: _geometry(r, cfg["analysis"], device))
    if (cfg.get("object_recordings") or {}).get("dataset"):
        run.stage("object_manifolds", lambda r: _object_manifolds(r, cfg, device))


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
    stim_src = S.stimulus_label(run)
    t["model"], t["depth"] = f"recording ({src})", np.arange(1, len(t) + 1)
    tables.append(t)
    table = pd.concat(tables, ignore_index=True)
    table["source"] = [src if m.startswith("recording") else stim_src for m in table["model"]]
    table.to_csv(run.path("geometry.csv"), index=False)
    figures = [_plot_quantity(table, q, label, run) for q, label in QUANTITIES.items() if q in table.columns]
    metrics = [{"metric": q, "model": r["model"], "layer": r["layer"], "value": float(r[q]), "source": r["source"]}
               for _, r in table.iterrows() for q in QUANTITIES if q in table.columns]
    heads = []
    for model in table["model"].unique():
        top = table[table["model"] == model].iloc[-1]
        heads.append(S.headline(f"capacity, {model} {top['layer']}", top["capacity"], source=top["source"]))
    rec = table[table["model"].str.startswith("recording")]
    given = run.config.get("checkpoints", {}) or {}
    trained = [m for m in acts if given.get(m) or f"train_{m}" in run.records]
    untrained = [m for m in acts if m not in trained and m not in ("steerable_v1", "gabor_v1")]
    reading = (f"Trained models: {', '.join(trained) or 'none'}; fixed front ends: steerable_v1, gabor_v1"
               + (f"; untrained (random weights): {', '.join(untrained)}" if untrained else "") + ". " +"Mean-field capacity, radius and dimension of the texture-family manifolds (naturalistic "
               "images only; centers decorrelated as in the reference method), and their alignment. "
               "Higher capacity means families are easier to separate linearly with few units. "
               "Center alignment is the mean |cos| between family centers (1: collinear, 0: orthogonal); "
               "axis alignment is the normalised overlap of two families' covariances, "
               "⟨C_μ, C_ν⟩_F / (‖C_μ‖_F‖C_ν‖_F) (1: they vary along the same directions with the same relative "
               "variances, 0: in orthogonal subspaces; independent of any choice of axes); center–axis alignment "
               "is the share of one family's variance along another family's center direction, "
               "ĉ_μᵀC_νĉ_μ / tr C_ν (high values: variability that moves families toward each other). "
               + ("Recorded regions: " + ", ".join(f"{r['layer']} α = {r['capacity']:.3f}" for _, r in rec.iterrows())
                  + "." if len(rec) else ""))
    return {"metrics": metrics, "headlines": heads,
            "sections": [Section("Manifold capacity and geometry", reading, figures)]}


def _object_manifolds(run: Run, cfg: dict, device) -> dict:
    """Object-category manifolds of MajajHong2015 V4/IT and of every model on its stimuli."""
    from analysis.assemblies import average_repetitions
    from analysis.capacity import manifold_geometry_by_layer, manifold_geometry_by_region

    spec = cfg["object_recordings"]
    name, by = spec["dataset"], spec.get("by", "category_name")
    real = S.load_real_dataset(name, run.log, fallback="no object-manifold rows")
    if real is None:
        return {"source": None, "sections": [Section(
            "Object manifolds (V4, IT)",
            f"{name} is not present locally, so no object-manifold rows are reported (no simulated "
            f"stand-in). Put its Brain-Score files where `python -m analysis.datasets info {name}` says.")]}
    recording, stim = real
    if by not in stim.table.columns:
        raise ValueError(f"{name}'s stimuli have no {by!r} column to group manifolds by; columns: "
                         f"{list(stim.table.columns)} (set object_recordings.by)")
    seed = run.config.get("seed", 0)
    keep = spec.get("max_per_class")
    if keep:
        rng = np.random.default_rng(seed)
        chosen = []
        for _, rows in stim.table.groupby(by, sort=False).indices.items():
            chosen += sorted(rng.choice(rows, size=min(int(keep), len(rows)), replace=False).tolist())
        stim = stim.subset(stim.stimulus_ids[np.sort(chosen)].tolist())
    ids = set(stim.stimulus_ids)
    recording = recording.isel(presentation=np.flatnonzero([s in ids for s in recording["stimulus_id"].values]))
    acts_cfg = {**cfg["activations"], "image_size": spec.get("image_size") or cfg["stimuli"]["size"]}
    index = S.activations_stage(run, _models(run, cfg), acts_cfg, device, stimuli=stim,
                                folder="object_activations")["activations"]
    tables = []
    for model, layers in index.items():
        from analysis.assemblies import load

        t = manifold_geometry_by_layer({k: load(v) for k, v in layers.items()}, by=by, n_t=cfg["analysis"]["n_t"],
                                       seed=seed, device=device)
        t["model"], t["depth"] = model, np.arange(1, len(t) + 1)
        tables.append(t)
    avg = average_repetitions(recording)
    meta = stim.table.set_index("stimulus_id")[by]
    if by not in avg.coords:
        avg = avg.assign_coords({by: ("presentation", meta.loc[avg["stimulus_id"].values].to_numpy())})
    t = manifold_geometry_by_region(avg, by=by, n_t=cfg["analysis"]["n_t"], seed=seed, device=device)
    t["model"], t["depth"] = f"recording ({name})", np.arange(1, len(t) + 1)
    tables.append(t)
    table = pd.concat(tables, ignore_index=True)
    table["source"] = name
    table.to_csv(run.path("object_geometry.csv"), index=False)
    figures = [_plot_quantity(table, q, label, run, prefix="object_", depth_label="V4, 2 = IT")
               for q, label in QUANTITIES.items() if q in table.columns]
    metrics = [{"metric": f"object_{q}", "model": r["model"], "layer": r["layer"], "value": float(r[q]),
                "source": name} for _, r in table.iterrows() for q in QUANTITIES if q in table.columns]
    heads = [S.headline(f"object-manifold capacity, {m} {table[table['model'] == m].iloc[-1]['layer']}",
                        table[table["model"] == m].iloc[-1]["capacity"], source=name)
             for m in table["model"].unique()]
    rec = table[table["model"].str.startswith("recording")]
    reading = (f"{name}: {len(stim)} stimuli ({stim.table[by].nunique()} {by} manifolds"
               + (f", at most {keep} images each" if keep else "") + f"), shown at {stim.visual_degrees}°; "
               f"every model's layers and the recorded regions, averaged over repetitions. Recorded: "
               + ", ".join(f"{r['layer']} α = {r['capacity']:.3f}" for _, r in rec.iterrows()) + ".")
    return {"source": name, "metrics": metrics, "headlines": heads,
            "sections": [Section(f"Object manifolds ({name} V4, IT)", reading, figures)]}


def _plot_quantity(table: pd.DataFrame, q: str, label: str, run: Run, prefix: str = "",
                   depth_label: str = "V1, 2 = V2") -> str:
    import matplotlib.pyplot as plt
    import seaborn as sns

    from analysis.plot.style import figure_style

    with figure_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
        sns.lineplot(data=table, x="depth", y=q, hue="model", marker="o", ax=ax)
        ax.set(xlabel=f"layer depth (1 = first analysed layer / region {depth_label})", ylabel=label,
               title=label[0].upper() + label[1:], xticks=sorted(table["depth"].unique()))
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), title="model", fontsize=8)
        fig.tight_layout()
    return S.savefig(fig, run.figure_path(f"{prefix}manifold_{q}"))
