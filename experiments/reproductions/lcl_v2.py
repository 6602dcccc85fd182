"""LCL-V2 (Parthasarathy, Hénaff & Simoncelli 2023): layerwise training with complexity-matched deformations.

Stages: stimuli → recordings → train (matched, unmatched ablation, end-to-end
baseline, same budget) → activations by stage → V1/V2 predictivity, texture
modulation and manifold capacity by stage → LCL-V2Net and baselines trained
briefly on a labelled set → OOD accuracy under distortions.
"""
from __future__ import annotations

import pandas as pd

from ..runner import Run, Section
from . import register_reproduction
from . import stages as S

TITLE = "LCL-V2 (Parthasarathy, Hénaff & Simoncelli 2023)"
CONVENTION = "r2/c"  # ceiled score = r² / c (Brain-Score's explained_variance since December 2025)

VARIANTS = {
    "matched": "layerwise, complexity-matched deformations",
    "unmatched": "layerwise, every stage at stage 1's matched amplitude (ablation)",
    "unmatched_large": "layerwise, every stage at the last stage's matched amplitude (ablation)",
    "end_to_end": "end-to-end, same loss and total budget",
}


def variant_config(cfg: dict, variant: str) -> dict:
    """The training config of one variant: same model, loss, data and total steps."""
    train = S.resolve_train_config(cfg["train"])
    steps = train["schedule"]["steps"]
    if variant == "unmatched":
        train["augment"].update(matched=False, **stage_deformation(train, 0))
    elif variant == "unmatched_large":
        train["augment"].update(matched=False, **stage_deformation(train, -1))
    elif variant == "end_to_end":
        n_stages = len(train["model_config"].get("channels", [0, 0]))
        total = sum(steps.values()) if isinstance(steps, dict) else int(steps) * n_stages
        train["schedule"] = {**train["schedule"], "kind": "end_to_end", "steps": total}
    elif variant != "matched":
        raise ValueError(f"unknown variant {variant!r}; valid: {list(VARIANTS)}")
    return train


def stage_deformation(train: dict, index: int) -> dict:
    """``{"amplitude", "cell_size"}`` (pixels) that complexity matching gives stage ``index`` of the
    config's architecture: ``c`` and ``cell_c`` × that stage's receptive-field size (as the trainer's
    ``stage_deformation``); the unmatched ablations train every stage with one of these."""
    import neuromodels
    from neuromodels.augment import matched_amplitude

    model = neuromodels.build_model(train["model"], **train.get("model_config", {}))
    stage = model.stage_names[index]
    a = train["augment"]
    rf = float(model.receptive_fields()[stage].size)
    return {"amplitude": float(matched_amplitude(model, stage, a["c"])), "cell_size": max(2.0, a["cell_c"] * rf)}


@register_reproduction("lcl_v2", title=TITLE,
                       trains={"lcl_v2": "train_matched.checkpoint", "resnet50": "classification.checkpoints.resnet50"})
def run(run: Run, cfg: dict, device) -> None:
    run.stage("stimuli", lambda r: S.stimuli_stage(r, cfg["stimuli"]))
    run.stage("recordings", lambda r: S.recordings_stage(r, cfg["recordings"]))
    for v in cfg.get("variants", list(VARIANTS)):
        run.stage(f"train_{v}", lambda r, v=v: S.train_stage(r, f"lcl_v2_{v}", variant_config(cfg, v), device))
    for v in [v for v in SEEDED_VARIANTS if v in cfg.get("variants", list(VARIANTS))]:
        for seed in seeds(run, cfg)[1:]:
            run.stage(f"train_{v}_seed{seed}", lambda r, v=v, s=seed: S.train_stage(
                r, f"lcl_v2_{v}_seed{s}", variant_config(cfg, v), device, seed=s))
    run.stage("training_summary", lambda r: _training_summary(r, cfg))
    run.stage("activations", lambda r: S.activations_stage(r, _trained_models(r, cfg), cfg["activations"], device))
    run.stage("by_stage", lambda r: _by_stage(r, cfg["analysis"], device, cfg))
    if cfg.get("classification", {}).get("enabled", True):
        from . import _classification as C

        run.stage("classification", lambda r: C.classification_stage(r, cfg, device))
    run.stage("claims", lambda r: _claims(r, cfg, device))


SEEDED_VARIANTS = ("matched", "unmatched", "unmatched_large")  # trained on every seed for the claims


def seeds(run: Run, cfg: dict) -> list[int]:
    """The training seeds: the run's seed first (its models feed every other stage), then the others."""
    first = int(run.config.get("seed", 0))
    return [first] + [int(s) for s in cfg.get("seeds", [first]) if int(s) != first]


def trained_checkpoint(run: Run, variant: str, seed: int) -> str:
    """The checkpoint of ``variant`` (e.g. ``"matched"``) trained with ``seed`` in this run."""
    first = int(run.config.get("seed", 0))
    return run.records[f"train_{variant}" if seed == first else f"train_{variant}_seed{seed}"]["checkpoint"]


def _stage1_filters(model):
    return dict(model.named_parameters())[f"{model.stage_names[0]}.conv.weight"].detach()


def _claims(run: Run, cfg: dict, device) -> dict:
    """Stage-2 vs stage-1 vs untrained modulation, stage-1 orientation tuning, matched vs unmatched, per seed."""
    from analysis.plot.tuning import plot_circular_variance, plot_filters
    from analysis.tuning import grating_responses, orientation_tuning

    from ..claims import evaluate_claim
    from .texture_measures import measure_layers, summary_rows

    stim = S.load_stimuli(run)
    ablations = [a for a in ("unmatched", "unmatched_large") if a in cfg.get("variants", list(VARIANTS))]
    v = {k: [] for k in ("s1", "s2", "s1_untrained", "s2_untrained", "cv", "cv_untrained",
                         *(f"s2_{a}" for a in ablations))}
    tuning_rows, filters = [], {}
    for seed in seeds(run, cfg):
        matched = S.load_trained(trained_checkpoint(run, "matched", seed))
        untrained = untrained_model(cfg, seed)
        names = list(matched.stage_names)
        m_tr = measure_layers(matched, names, stim, device)
        m_un = measure_layers(untrained, names, stim, device)
        v["s1"].append(m_tr[names[0]]["modulation_index"])
        v["s2"].append(m_tr[names[-1]]["modulation_index"])
        v["s1_untrained"].append(m_un[names[0]]["modulation_index"])
        v["s2_untrained"].append(m_un[names[-1]]["modulation_index"])
        for a in ablations:
            ablated = S.load_trained(trained_checkpoint(run, a, seed))
            v[f"s2_{a}"].append(measure_layers(ablated, names[-1:], stim, device)[names[-1]]["modulation_index"])
        for label, model, key in (("trained (matched)", matched, "cv"), ("untrained", untrained, "cv_untrained")):
            w = _stage1_filters(model)
            t = orientation_tuning(grating_responses(w)).assign(model=label, seed=seed)
            tuning_rows.append(t)
            v[key].append(float(t["circular_variance"].median()))
            filters.setdefault(label, w)
    mi = "mean modulation index, live units, stimuli filling the field of view"
    rows = [
        evaluate_claim("LCL stage 2 more texture-modulated than stage 1", mi, v["s2"], v["s1"],
                       "stage 2", "stage 1"),
        evaluate_claim("LCL stage 2 more modulated than untrained", mi, v["s2"], v["s2_untrained"],
                       "stage 2", "untrained stage 2"),
        evaluate_claim("learned stage 1 more orientation-tuned than untrained",
                       "median circular variance of stage-1 filters from gratings (lower = sharper)",
                       v["cv_untrained"], v["cv"], "untrained", "trained"),
    ]
    what = {"unmatched": "every stage at stage 1's amplitude", "unmatched_large": "every stage at the last stage's"}
    for a in ablations:
        rows.append(evaluate_claim(f"complexity-matched beats unmatched ({what[a]})", f"stage-2 {mi}", v["s2"],
                                   v[f"s2_{a}"], "matched", a))
    cls = run.records.get("classification")
    if cls:
        ood: dict[str, dict[int, float]] = {}
        for m in cls["metrics"]:
            if m["metric"] == "mean_distorted_accuracy":
                ood.setdefault(m["model"], {})[int(m.get("seed", seeds(run, cfg)[0]))] = m["value"]
        paired = sorted(set(ood.get("lcl_v2net", {})) & set(ood.get("resnet50", {})))
        n = len(paired)
        what = f"mean accuracy over distortions ({n} classifier seed{'s' if n != 1 else ''}, paired)"
        for other, label in (("resnet50", "ResNet-50"), ("lcl_v2net_untrained", "LCL-V2Net, untrained LCL-V2")):
            common = [s for s in paired if s in ood.get(other, {})]
            if common:
                rows.append(evaluate_claim(
                    "LCL-V2Net more robust" + ("" if other == "resnet50" else " than with its untrained front end"),
                    what, [ood["lcl_v2net"][s] for s in common], [ood[other][s] for s in common],
                    "LCL-V2Net", label))
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    for ax, (label, w) in zip(axes[:2], filters.items()):
        plot_filters(w, ax=ax, title=f"stage-1 filters, {label} (seed {seeds(run, cfg)[0]})")
    plot_circular_variance(pd.concat(tuning_rows, ignore_index=True), ax=axes[2])
    fig.tight_layout()
    path = S.savefig(fig, run.figure_path("stage1_filters"))
    detail = ["| model | measured | mean [95% interval] | seeds |", "|---|---|---|---|"]
    detail += summary_rows({"matched stage 1": v["s1"], "matched stage 2": v["s2"], "untrained stage 1":
                            v["s1_untrained"], "untrained stage 2": v["s2_untrained"],
                            **{f"{a} stage 2": v[f"s2_{a}"] for a in ablations}}, "modulation index")
    detail += summary_rows({"trained stage 1": v["cv"], "untrained stage 1": v["cv_untrained"]},
                           "median circular variance")
    metrics = [{"metric": f"claims_{k}", "seed": s, "value": float(x)}
               for k, vals in v.items() for s, x in zip(seeds(run, cfg), vals)]
    return {"claims": [r.to_dict() for r in rows], "metrics": metrics, "sections": [Section(
        "Claims, measured per seed",
        f"{len(seeds(run, cfg))} training seeds of the matched model and the unmatched ablations; each claim is the paired "
        f"difference across seeds with its 95% t interval (verdicts computed by `experiments.claims`). Texture "
        f"measures use stimuli scaled to fill each model's field of view, dead units excluded; orientation "
        f"tuning from gratings (12 orientations, 8 frequencies, 8 phases) on the stage-1 filters. The claims table is at the top of the report; per-model means below."
        , [path], table="\n".join(detail))]}


def untrained_model(cfg: dict, seed: int):
    """The LCL-V2 architecture of the matched config, initialized with ``seed`` and never trained."""
    import torch

    import neuromodels

    model_cfg = variant_config(cfg, "matched")
    torch.manual_seed(int(seed))
    return neuromodels.build_model(model_cfg["model"], **model_cfg.get("model_config", {}))


def _trained_models(run: Run, cfg: dict) -> dict:
    """Every trained variant (the run's seed) and, beside them, the same architecture untrained."""
    out = {}
    for v in cfg.get("variants", list(VARIANTS)):
        model = S.load_trained(run.records[f"train_{v}"]["checkpoint"])
        out[f"lcl_v2_{v}"] = (model, list(model.stage_names))
    untrained = untrained_model(cfg, int(run.config.get("seed", 0)))
    out["lcl_v2_untrained"] = (untrained, list(untrained.stage_names))
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
        f"{len(lines)} models of the same architecture on the same patches, loss and total number of steps: "
        + " ".join(lines), figs)],
        "total_flops": flops}


def _by_stage(run: Run, cfg: dict, device, full_cfg: dict) -> dict:
    from analysis.capacity import manifold_capacity
    from analysis.ceilings import ceiled_score
    from analysis.layer_mapping import score_layers
    from .texture_measures import measure_layers

    acts = S.load_activations(run)
    recording = S.load_recording(run)
    stim = S.load_stimuli(run)
    src = S.source_label(run)
    ceilings = S.ceilings(run)
    models = _trained_models(run, full_cfg)
    rows, metrics = [], []
    for model, layers in acts.items():
        scores = score_layers(layers, recording, regression=cfg["regression"], n_splits=cfg["n_splits"],
                              stratify_on="texture_type", device=device).to_dataframe()
        fov = measure_layers(models[model][0], list(layers), stim, device)  # stimuli filling the field of view
        for stage_idx, (layer, asm) in enumerate(layers.items(), start=1):
            cap = manifold_capacity(S.textures_only(asm), by="texture_family", n_t=cfg.get("n_t", 100),
                                    seed=run.config.get("seed", 0), device=device)
            row = {"model": model, "stage": stage_idx, "layer": layer,
                   "modulation_index": fov[layer]["modulation_index"], "dead_units": fov[layer]["n_dead"],
                   "units": fov[layer]["n_dead"] + fov[layer]["n_live"],
                   "capacity": cap.capacity, "radius": cap.radius, "dimension": cap.dimension}
            for region, c in ceilings.items():  # each region's score over that region's own ceiling
                s = scores[(scores["layer"] == layer) & (scores["region"] == region)]["score"]
                row[f"{region}_predictivity"] = float(s.mean())
                row[f"{region}_ceiled"] = float(ceiled_score(float(s.mean()), c, convention=CONVENTION))
            row["convention"] = CONVENTION
            rows.append(row)
    table = pd.DataFrame(rows)
    table.to_csv(run.path("by_stage.csv"), index=False)
    for _, r in table.iterrows():
        for k in table.columns:
            if k not in ("model", "stage", "layer", "convention"):
                metrics.append({"metric": k, "model": r["model"], "model_stage": int(r["stage"]),
                                "layer": r["layer"], "value": float(r[k])})
    fig = _plot_by_stage(table, list(ceilings))
    path = S.savefig(fig, run.figure_path("lcl_by_stage"))
    heads = []
    for model in table["model"].unique():
        t = table[table["model"] == model].set_index("stage")
        top = t.index.max()
        if "V2_ceiled" in t:
            heads.append(S.headline(f"V2 predictivity (ceiled, {CONVENTION}), {model} stage {top}", t.loc[top, "V2_ceiled"],
                                    source=src))
        heads.append(S.headline(f"texture modulation, {model} stage {top}", t.loc[top, "modulation_index"],
                                source=S.stimulus_label(run)))
    m = table[table["model"] == "lcl_v2_matched"].set_index("stage") if "lcl_v2_matched" in set(table["model"]) \
        else table.set_index("stage")
    reading = (f"Per stage and model, the untrained architecture (lcl_v2_untrained, seed "
               f"{run.config.get('seed', 0)}) beside the trained ones: predictivity of {', '.join(ceilings)} ({src}; "
               f"ceiled by each region's own internal consistency c, convention {CONVENTION}: r²/c), mean texture "
               f"modulation index over live units on stimuli filling the model's field of view (dead units "
               f"excluded, counted in dead_units of units: channels × positions), and mean-field capacity of the texture-family manifolds (on "
               f"the activations placed as Brain-Score places stimuli). One seed; the claims table tests the "
               f"differences over seeds. For the matched "
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

    from analysis.plot.style import figure_style

    panels = [(f"{r}_ceiled", f"{r} predictivity (ceiled, {CONVENTION})") for r in regions]
    panels += [("modulation_index", "texture modulation index"), ("capacity", "manifold capacity α")]
    with figure_style("whitegrid"):  # the style of this figure only, not the user's session
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0))
        for ax, (col, label) in zip(axes, panels):
            sns.lineplot(data=table, x="stage", y=col, hue="model", marker="o", ax=ax, legend=ax is axes[-1])
            ax.set(xlabel="stage", ylabel=label, xticks=sorted(table["stage"].unique()))
        if axes[-1].get_legend():
            sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1.02, 1), title="model")
        fig.tight_layout()
    return fig
