"""LCL-V2 (Parthasarathy, Hénaff & Simoncelli 2023): layerwise training with complexity-matched deformations.

Stages: stimuli → recordings → train (matched, unmatched ablation, end-to-end
baseline, same budget) → activations by stage → V1/V2 predictivity, texture
modulation and manifold capacity by stage → LCL-V2Net and baselines trained
briefly on a labelled set → OOD accuracy under distortions.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..runner import Run, Section
from . import stages as S

TITLE = "LCL-V2 (Parthasarathy, Hénaff & Simoncelli 2023)"

VARIANTS = {
    "matched": "layerwise, complexity-matched deformations",
    "unmatched": "layerwise, one deformation amplitude for both stages (ablation)",
    "end_to_end": "end-to-end, same loss and total budget",
}


def variant_config(cfg: dict, variant: str) -> dict:
    """The training config of one variant: same model, loss, data and total steps."""
    train = S.resolve_train_config(cfg["train"])
    steps = train["schedule"]["steps"]
    if variant == "unmatched":
        train["augment"]["matched"] = False
    elif variant == "end_to_end":
        n_stages = len(train["model_config"].get("channels", [0, 0]))
        total = sum(steps.values()) if isinstance(steps, dict) else int(steps) * n_stages
        train["schedule"] = {**train["schedule"], "kind": "end_to_end", "steps": total}
    elif variant != "matched":
        raise ValueError(f"unknown variant {variant!r}; valid: {list(VARIANTS)}")
    return train


def run(run: Run, cfg: dict, device) -> None:
    run.stage("stimuli", lambda r: S.stimuli_stage(r, cfg["stimuli"]))
    run.stage("recordings", lambda r: S.recordings_stage(r, cfg["recordings"]))
    for v in cfg.get("variants", list(VARIANTS)):
        run.stage(f"train_{v}", lambda r, v=v: S.train_stage(r, f"lcl_v2_{v}", variant_config(cfg, v), device))
    run.stage("training_summary", lambda r: _training_summary(r, cfg))
    run.stage("activations", lambda r: S.activations_stage(r, _trained_models(r, cfg), cfg["activations"], device))
    run.stage("by_stage", lambda r: _by_stage(r, cfg["analysis"], device))
    if cfg.get("classification", {}).get("enabled", True):
        from . import _classification as C

        run.stage("classification", lambda r: C.classification_stage(r, cfg, device))


def _trained_models(run: Run, cfg: dict) -> dict:
    out = {}
    for v in cfg.get("variants", list(VARIANTS)):
        model = S.load_trained(run.records[f"train_{v}"]["checkpoint"])
        out[f"lcl_v2_{v}"] = (model, list(model.stage_names))
    return out


def _training_summary(run: Run, cfg: dict) -> dict:
    figs, lines = [], []
    for v in cfg.get("variants", list(VARIANTS)):
        rec = run.records[f"train_{v}"]
        figs.append(rec["figure"])
        lines.append(f"{v} ({VARIANTS[v]}): {rec['steps']} steps, {rec['compute']}; {S.loss_change(rec)}")
    flops = sum(run.flops.get(f"train_{v}", 0.0) for v in cfg.get("variants", list(VARIANTS)))
    return {"sections": [Section(
        "Training LCL-V2 and its baselines",
        "Three models of the same architecture on the same patches, loss and total number of steps: "
        + " ".join(lines), figs)],
        "total_flops": flops}


def _by_stage(run: Run, cfg: dict, device) -> dict:
    from analysis.capacity import manifold_capacity
    from analysis.predictivity import ceiled_score, score_layers
    from analysis.texture import modulation_index

    acts = S.load_activations(run)
    recording = S.load_recording(run)
    src = S.source_label(run)
    ceilings = S.ceilings(run)
    rows, metrics = [], []
    for model, layers in acts.items():
        scores = score_layers(layers, recording, regression=cfg["regression"], n_splits=cfg["n_splits"],
                              stratify_on="texture_type", device=device).to_dataframe()
        for stage_idx, (layer, asm) in enumerate(layers.items(), start=1):
            mi = modulation_index(asm, undefined="nan").values
            cap = manifold_capacity(S.textures_only(asm), by="texture_family", n_t=cfg.get("n_t", 100),
                                    seed=run.config.get("seed", 0), device=device)
            row = {"model": model, "stage": stage_idx, "layer": layer,
                   "modulation_index": float(np.nanmean(mi)), "capacity": cap.capacity,
                   "radius": cap.radius, "dimension": cap.dimension}
            for region, c in ceilings.items():
                s = scores[(scores["layer"] == layer) & (scores["region"] == region)]["score"]
                row[f"{region}_predictivity"] = float(s.mean())
                row[f"{region}_ceiled"] = float(ceiled_score(float(s.mean()), c))
            rows.append(row)
    table = pd.DataFrame(rows)
    table.to_csv(run.path("by_stage.csv"), index=False)
    for _, r in table.iterrows():
        for k in table.columns:
            if k not in ("model", "stage", "layer"):
                metrics.append({"metric": k, "model": r["model"], "model_stage": int(r["stage"]),
                                "layer": r["layer"], "value": float(r[k])})
    fig = _plot_by_stage(table, list(ceilings))
    path = S.savefig(fig, run.figure_path("lcl_by_stage"))
    heads = []
    for model in table["model"].unique():
        t = table[table["model"] == model].set_index("stage")
        top = t.index.max()
        if "V2_ceiled" in t:
            heads.append(S.headline(f"V2 predictivity (ceiled), {model} stage {top}", t.loc[top, "V2_ceiled"],
                                    source=src))
        heads.append(S.headline(f"texture modulation, {model} stage {top}", t.loc[top, "modulation_index"],
                                source="bundled textures"))
    m = table[table["model"] == "lcl_v2_matched"].set_index("stage") if "lcl_v2_matched" in set(table["model"]) \
        else table.set_index("stage")
    reading = (f"Per stage and model: predictivity of {', '.join(ceilings)} ({src}; ceiled), mean texture "
               f"modulation index, and mean-field capacity of the texture-family manifolds. For the matched "
               f"model, modulation goes from {m['modulation_index'].iloc[0]:.3f} (stage 1) to "
               f"{m['modulation_index'].iloc[-1]:.3f} (stage 2) and capacity from {m['capacity'].iloc[0]:.3f} "
               f"to {m['capacity'].iloc[-1]:.3f}.")
    return {"metrics": metrics, "headlines": heads,
            "sections": [Section("Matched vs unmatched vs end-to-end, by stage", reading, [path],
                                 table=_markdown(table))]}


def _markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table.iterrows():
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(lines)


def _plot_by_stage(table: pd.DataFrame, regions: list[str]):
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    panels = [(f"{r}_ceiled", f"{r} predictivity (ceiled r²)") for r in regions]
    panels += [("modulation_index", "texture modulation index"), ("capacity", "manifold capacity α")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0))
    for ax, (col, label) in zip(axes, panels):
        sns.lineplot(data=table, x="stage", y=col, hue="model", marker="o", ax=ax, legend=ax is axes[-1])
        ax.set(xlabel="stage", ylabel=label, xticks=sorted(table["stage"].unique()))
    if axes[-1].get_legend():
        sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1.02, 1), title="model")
    fig.tight_layout()
    return fig
