"""Texture model (Parthasarathy & Simoncelli 2020): data efficiency, texture selectivity, V1/V2 similarity.

Stages: stimuli → recordings → train → activations → data efficiency →
modulation index → predictivity and RSA.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..runner import Run, Section
from . import register_reproduction
from . import stages as S

TITLE = "Texture model (Parthasarathy & Simoncelli 2020)"
CONVENTION = "r2/c"  # ceiled score = r² / c (Brain-Score's explained_variance since December 2025)


def models_to_compare(run: Run, cfg: dict):
    """The run's :func:`comparison_models` (its trained checkpoint, its seed)."""
    return comparison_models(cfg, run.records["train"]["checkpoint"], int(run.config.get("seed", 0)), run.log)


def comparison_models(cfg: dict, checkpoint: str, seed: int, log=print, resnet: bool = True) -> dict:
    """{name: (model, layers)}: the texture model (trained), the same architecture untrained (initialized
    with ``seed``), its V1 front end alone, and (``resnet``) ResNet-50 (random, ``seed``; ImageNet-pretrained
    too when its weights are already cached)."""
    import torch

    import neuromodels

    trained = S.load_trained(checkpoint)
    out = {"texture_model": (trained, list(trained.layers))}
    train_cfg = S.resolve_train_config(cfg["train"])
    torch.manual_seed(int(seed))
    untrained = neuromodels.build_model(train_cfg["model"], **train_cfg.get("model_config", {}))
    out["texture_model_untrained"] = (untrained, list(untrained.layers))
    v1 = neuromodels.build_model("steerable_v1", **cfg.get("v1_config", {}))
    out["v1_front_end"] = (v1, list(v1.layers))
    if not resnet:
        return out
    resnet_layers = cfg.get("resnet_layers", ["backbone.layer1", "backbone.layer2"])
    torch.manual_seed(int(seed))
    out["resnet50_random"] = (neuromodels.build_model("resnet50", pretrained=False), resnet_layers)
    pretrained = cached_pretrained_resnet50(log)
    if pretrained is not None:
        out["resnet50_pretrained"] = (pretrained, resnet_layers)
    return out


def cached_pretrained_resnet50(log=print):
    """ImageNet ResNet-50 only when its weights are already in the torch hub cache (never downloads).

    The file looked for is exactly the one ``build_model("resnet50", pretrained=True)``
    loads (torchvision's ``IMAGENET1K_V1``, ``<torch hub dir>/checkpoints/resnet50-0676ba61.pth``);
    another cached ResNet-50 file (e.g. ``IMAGENET1K_V2``) does not count, since loading
    would then download.
    """
    from pathlib import Path
    from urllib.parse import urlparse

    import torch
    import torchvision

    url = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    if not cached.is_file():
        log(f"no cached ImageNet ResNet-50 weights ({cached}): comparing against a randomly initialized "
            "ResNet-50 only")
        return None
    import neuromodels

    return neuromodels.build_model("resnet50", pretrained=True)


def _fov_measures(run: Run, cfg: dict, device, models: dict | None = None) -> dict:
    """{model: {layer: measures}} on the run's stimuli scaled to fill each model's field of view
    (:func:`texture_measures.measure_layers`: live units, dead counted, spatial averages)."""
    from .texture_measures import measure_layers

    stim = S.load_stimuli(run)
    models = models or models_to_compare(run, cfg)
    return {name: measure_layers(model, layers, stim, device) for name, (model, layers) in models.items()}


@register_reproduction("texture_model", title=TITLE, trains={"texture_model": "train.checkpoint"})
def run(run: Run, cfg: dict, device) -> None:
    run.stage("stimuli", lambda r: S.stimuli_stage(r, cfg["stimuli"]))
    run.stage("recordings", lambda r: S.recordings_stage(r, cfg["recordings"]))
    run.stage("train", lambda r: _train(r, cfg, device))
    for seed in seeds(run, cfg)[1:]:
        run.stage(f"train_seed{seed}", lambda r, s=seed: S.train_stage(r, f"texture_model_seed{s}", cfg["train"],
                                                                       device, seed=s))
    run.stage("activations", lambda r: S.activations_stage(r, models_to_compare(r, cfg), cfg["activations"], device))
    run.stage("data_efficiency", lambda r: _data_efficiency(r, cfg, device))
    run.stage("modulation", lambda r: _modulation(r, cfg, device))
    run.stage("predictivity", lambda r: _predictivity(r, cfg["analysis"], device))
    run.stage("claims", lambda r: _claims(r, cfg, device))


def seeds(run: Run, cfg: dict) -> list[int]:
    """The training seeds: the run's seed first (its model feeds every other stage), then the others."""
    first = int(run.config.get("seed", 0))
    return [first] + [int(s) for s in cfg.get("seeds", [first]) if int(s) != first]


def _train_record(run: Run, seed: int) -> dict:
    return run.records["train"] if seed == int(run.config.get("seed", 0)) else run.records[f"train_seed{seed}"]


def _claims(run: Run, cfg: dict, device) -> dict:
    """The paper's claims, each measured on every seed: trained vs untrained V2, V1 energy, ResNet-50."""
    import torch

    import neuromodels
    from analysis.few_shot import data_efficiency

    from ..claims import evaluate_claim
    from .texture_measures import measure_layers, summary_rows

    stim = S.load_stimuli(run)
    train_cfg = S.resolve_train_config(cfg["train"])
    acfg = cfg["analysis"]
    n0 = int(min(acfg["n_train"]))
    resnet_layer = cfg.get("resnet_layers", ["backbone.layer2"])[-1]
    pretrained = cached_pretrained_resnet50(run.log)
    m_pre = measure_layers(pretrained, [resnet_layer], stim, device)[resnet_layer] if pretrained is not None else None
    per_seed = {k: [] for k in ("mi_v2", "mi_v2_untrained", "mi_v1", "acc_v2", "acc_v2_untrained", "acc_v1",
                                "acc_resnet", "dead_v2", "dead_v2_untrained", "units_v2")}
    if m_pre is not None:
        per_seed["acc_resnet_pretrained"] = []
    for seed in seeds(run, cfg):
        trained = S.load_trained(_train_record(run, seed)["checkpoint"])
        torch.manual_seed(seed)
        untrained = neuromodels.build_model(train_cfg["model"], **train_cfg.get("model_config", {}))
        torch.manual_seed(seed)
        resnet = neuromodels.build_model("resnet50", pretrained=False)
        v1_layer, v2_layer = list(trained.layers)[0], list(trained.layers)[-1]
        m_tr = measure_layers(trained, [v1_layer, v2_layer], stim, device)
        m_un = measure_layers(untrained, [v2_layer], stim, device)
        m_rn = measure_layers(resnet, [resnet_layer], stim, device)
        reps = {"trained V2": m_tr[v2_layer]["texture_statistics"],
                "untrained V2": m_un[v2_layer]["texture_statistics"],
                "V1 energy": m_tr[v1_layer]["texture_statistics"],
                "ResNet-50 (random)": m_rn[resnet_layer]["texture_statistics"]}
        if m_pre is not None:  # the same weights every seed; the seed draws the training images
            reps["ResNet-50 (ImageNet)"] = m_pre["texture_statistics"]
        eff = data_efficiency(reps, n_train=[n0], n_draws=acfg["n_draws"], seed=seed, device=device,
                              progress=False)
        acc = eff.groupby("model")["accuracy"].mean()
        per_seed["mi_v2"].append(m_tr[v2_layer]["modulation_index"])
        per_seed["mi_v2_untrained"].append(m_un[v2_layer]["modulation_index"])
        per_seed["mi_v1"].append(m_tr[v1_layer]["modulation_index"])
        per_seed["dead_v2"].append(m_tr[v2_layer]["n_dead"])
        per_seed["dead_v2_untrained"].append(m_un[v2_layer]["n_dead"])
        per_seed["units_v2"].append(m_tr[v2_layer]["n_live"] + m_tr[v2_layer]["n_dead"])
        for key, name in (("acc_v2", "trained V2"), ("acc_v2_untrained", "untrained V2"), ("acc_v1", "V1 energy"),
                          ("acc_resnet", "ResNet-50 (random)"), ("acc_resnet_pretrained", "ResNet-50 (ImageNet)")):
            if key in per_seed:
                per_seed[key].append(float(acc[name]))
    mi = "mean modulation index, live units, stimuli filling the field of view"
    ac = f"texture-family accuracy, {n0} training image/family, spatially averaged features"
    rows = [
        evaluate_claim("V2 more texture-modulated than V1", mi, per_seed["mi_v2"], per_seed["mi_v1"],
                       "trained V2", "V1 front end"),
        evaluate_claim("learned V2 more modulated than untrained", mi, per_seed["mi_v2"],
                       per_seed["mi_v2_untrained"], "trained V2", "untrained V2"),
        evaluate_claim("data-efficiency advantage over V1 energy", ac, per_seed["acc_v2"], per_seed["acc_v1"],
                       "trained V2", "V1 energy"),
        evaluate_claim("data-efficiency advantage over the untrained architecture", ac, per_seed["acc_v2"],
                       per_seed["acc_v2_untrained"], "trained V2", "untrained V2"),
        evaluate_claim("data-efficiency advantage over ResNet-50 (random)", ac, per_seed["acc_v2"],
                       per_seed["acc_resnet"], "trained V2", "ResNet-50 (random)"),
    ]
    if m_pre is not None:
        rows.append(evaluate_claim("data-efficiency advantage over ResNet-50 (ImageNet, cached weights)", ac,
                                   per_seed["acc_v2"], per_seed["acc_resnet_pretrained"], "trained V2",
                                   "ResNet-50 (ImageNet)"))
    detail = ["| model | measured | mean [95% interval] | seeds |", "|---|---|---|---|"]
    detail += summary_rows({"trained V2": per_seed["mi_v2"], "untrained V2": per_seed["mi_v2_untrained"],
                            "V1 front end": per_seed["mi_v1"]}, "modulation index")
    detail += summary_rows({"trained V2": per_seed["acc_v2"], "untrained V2": per_seed["acc_v2_untrained"],
                            "V1 energy": per_seed["acc_v1"], "ResNet-50 (random)": per_seed["acc_resnet"],
                            **({"ResNet-50 (ImageNet)": per_seed["acc_resnet_pretrained"]} if m_pre is not None
                               else {})},
                           f"accuracy, {n0} image/family")
    dead = (f"Dead V2 units excluded (trained / untrained, per seed): {per_seed['dead_v2']} / "
            f"{per_seed['dead_v2_untrained']} of {per_seed['units_v2'][0]}.")
    metrics = [{"metric": f"claims_{k}", "seed": s, "value": float(v)}
               for k, vals in per_seed.items() for s, v in zip(seeds(run, cfg), vals)]
    train_rec = run.records["train"]
    trained_on = train_rec.get("training_families") or []
    held_txt = (f"{len(trained_on)} texture families ({', '.join(trained_on)}); evaluated on the held-out families "
                f"{', '.join(train_rec.get('held_out_families', []))}" if trained_on
                else f"{train_cfg.get('data', {}).get('source', '?')} images")
    resnet_txt = ("ImageNet ResNet-50 weights found in the torch cache: compared. " if m_pre is not None else
                  "No cached ImageNet ResNet-50 weights (nothing is downloaded): the pretrained row is absent. ")
    return {"claims": [r.to_dict() for r in rows], "metrics": metrics, "sections": [Section(
        "Claims, measured per seed",
        f"{len(seeds(run, cfg))} training seeds; each claim is the paired difference across seeds with its 95% "
        f"t interval (verdicts computed by `experiments.claims`). Texture measures use stimuli scaled to fill "
        f"each model's field of view; classification reads spatially averaged responses. Trained on "
        f"{held_txt}. {resnet_txt}{dead} The claims table is at the top of the report; per-model means below."
        , [], table="\n".join(detail))]}


def _train(run: Run, cfg: dict, device) -> dict:
    from .texture_measures import check_held_out, training_families

    train_cfg = S.resolve_train_config(cfg["train"])
    trained_on, what = training_families(train_cfg)
    held_out = sorted(map(str, _families(run)))
    check_held_out(trained_on, held_out)  # before any training: evaluation families are never seen
    rec = S.train_stage(run, "texture_model", cfg["train"], device)
    rec["training_families"], rec["held_out_families"] = trained_on, held_out
    listed = f" ({', '.join(trained_on)})" if trained_on else ""
    rec["sections"] = [Section(
        "Training the texture model",
        f"The V2 stage was trained without labels on {what}{listed}, with the Gaussian-information loss "
        f"(crops of one texture close, textures apart) for {rec['steps']} steps ({rec['compute']}). "
        f"Held out: every analysis below evaluates on the families {', '.join(held_out)}, none of which was "
        f"seen in training. {S.loss_change(rec)}",
        [rec["figure"]])]
    return rec


def _last_layer(acts: dict) -> str:
    return list(acts)[-1]


#: how the report names each compared model
DISPLAY_NAMES = {"texture_model": "trained V2", "texture_model_untrained": "untrained V2",
           "v1_front_end": "V1 energy", "resnet50_random": "ResNet-50 (random)",
           "resnet50_pretrained": "ResNet-50 (ImageNet)"}


def _data_efficiency(run: Run, cfg: dict, device) -> dict:
    """Family classification from each model's texture representation (its top layer averaged over space)."""
    from analysis.few_shot import data_efficiency
    from analysis.plot.texture import plot_data_efficiency

    acfg = cfg["analysis"]
    measures = _fov_measures(run, cfg, device)
    chosen = {f"{DISPLAY_NAMES.get(m, m)} ({_last_layer(a)})": a[_last_layer(a)]["texture_statistics"]
              for m, a in measures.items()}
    table = data_efficiency(chosen, n_train=acfg["n_train"], n_draws=acfg["n_draws"],
                            seed=run.config.get("seed", 0), device=device)
    ax = plot_data_efficiency(table)
    path = S.savefig(ax.figure, run.figure_path("data_efficiency"))
    summary = table.groupby(["model", "n_train"])["accuracy"].mean().reset_index()
    metrics = [{"metric": "family_accuracy", "model": r["model"], "n_train": int(r["n_train"]),
                "value": float(r["accuracy"])} for _, r in summary.iterrows()]
    n0 = int(min(acfg["n_train"]))
    at_n0 = summary[summary["n_train"] == n0].set_index("model")["accuracy"]
    best = at_n0.idxmax()
    heads = [S.headline(f"texture-family accuracy, {n0} training image/family: {m}", v,
                        source=S.stimulus_label(run), compute="") for m, v in at_n0.items()]
    held_out = ", ".join(run.records["train"].get("held_out_families", [])) or "the stimulus families"
    return {"metrics": metrics, "headlines": heads, "sections": [Section(
        "Data efficiency of texture-family classification",
        f"Linear (shrinkage LDA) classification of texture family ({held_out}: held out from training) from "
        f"each model's texture representation — its top layer averaged over space, on stimuli filling the "
        f"model's field of view — against the number of training images per family ({acfg['n_draws']} random "
        f"draws each, bands = 95% interval over draws). The untrained architecture, the V1 front end's energy "
        f"and ResNet-50 are the controls. With {n0} image per family, {best} is the most data-efficient "
        f"({at_n0[best]:.2f} vs chance {1 / max(1, len(_families(run))):.2f}); this figure is one seed, the "
        f"claims table above tests the differences over seeds.", [path])]}


def _families(run: Run):
    return S.load_stimuli(run).table["texture_family"].unique()


def _modulation(run: Run, cfg: dict, device) -> dict:
    """Modulation index of the recorded regions and of every layer of the trained and untrained texture model
    and the V1 front end (live units, stimuli filling the field of view)."""
    from analysis.plot.texture import plot_modulation_index
    from analysis.texture import modulation_index

    recording = S.load_recording(run)
    by_region = {f"recording:{k}": v for k, v in S.by_region(recording).items()}
    models = comparison_models(cfg, run.records["train"]["checkpoint"], int(run.config.get("seed", 0)), run.log,
                               resnet=False)
    measures = _fov_measures(run, cfg, device, models)
    live = {f"{m}:{layer}": v["live"] for m, layers in measures.items() for layer, v in layers.items()
            if v["n_live"]}
    dead = {f"{m}:{layer}": (v["n_dead"], v["n_live"] + v["n_dead"]) for m, layers in measures.items()
            for layer, v in layers.items()}
    rows = []
    for name, asm in {**by_region, **live}.items():
        mi = modulation_index(asm, undefined="nan")
        rows.append({"metric": "modulation_index", "population": name, "value": float(np.nanmean(mi.values)),
                     "error": float(np.nanstd(mi.values) / np.sqrt(max(1, np.isfinite(mi.values).sum())))})
    ax = plot_modulation_index({**by_region, **live})
    path = S.savefig(ax.figure, run.figure_path("modulation_index"))
    src = S.source_label(run)
    by_pop = {r["population"]: r for r in rows}
    rec = {k: v for k, v in by_pop.items() if k.startswith("recording:")}
    top = _last_layer(measures["texture_model"])
    heads = [S.headline(f"mean modulation index, {k.split(':')[1]} ({src})", v["value"], v["error"], source=src)
             for k, v in rec.items()]
    for m in ("texture_model", "texture_model_untrained"):
        r = by_pop.get(f"{m}:{top}")
        if r:
            heads.append(S.headline(f"mean modulation index, {DISPLAY_NAMES[m]} ({m}:{top})", r["value"], r["error"],
                                    source=S.stimulus_label(run)))
    model_txt = ", ".join(f"{k} {v['value']:.3f}" for k, v in by_pop.items() if not k.startswith("recording:"))
    dead_txt = "; ".join(f"{k} {d}/{n}" for k, (d, n) in dead.items())
    reading = ("Modulation index (r_texture − r_noise)/(r_texture + r_noise) per unit, mean over live units; "
               "model units respond to stimuli scaled to fill the model's field of view (no unit sees only the "
               "gray surround). Freeman et al. (2013) found V1 ≈ 0 and V2 clearly positive; here the recorded "
               "populations give " + ", ".join(f"{k.split(':')[1]} {v['value']:.3f}" for k, v in rec.items()) +
               f", and the models (one seed) {model_txt}. Dead units excluded (dead/all): {dead_txt}. The claims "
               f"table tests trained vs untrained over seeds.")
    return {"metrics": rows, "headlines": heads, "sections": [Section("Texture modulation", reading, [path])]}


def _predictivity(run: Run, cfg: dict, device) -> dict:
    from analysis.assemblies import average_repetitions
    from analysis.ceilings import ceiled_score
    from analysis.layer_mapping import score_layers
    from analysis.rsa import compare_rdms, rdm

    acts = S.load_activations(run)
    recording = S.load_recording(run)
    src = S.source_label(run)
    metrics, heads, figures = [], [], []
    tables, summaries = [], {}
    for model, layers in acts.items():
        res = score_layers(layers, recording, regression=cfg["regression"], n_splits=cfg["n_splits"],
                           stratify_on="texture_type", device=device)
        df = res.to_dataframe()
        df["model"] = model
        tables.append(df)
        summaries[model] = res.summary.set_index("region")
    full = pd.concat(tables, ignore_index=True)
    full.to_csv(run.path("predictivity.csv"), index=False)
    figures.append(_plot_predictivity(full, run))
    rsa_rows = []
    ceilings = S.ceilings(run)
    for region, region_avg in S.by_region(average_repetitions(recording)).items():
        ceiling = ceilings[region]
        reg_rdm = rdm(region_avg)
        for model, layers in acts.items():
            best = summaries[model].loc[region]  # layer chosen on training stimuli only (nested)
            metrics.append({"metric": "predictivity", "model": model, "region": str(region),
                            "layer": best["best_layer"], "value": float(best["score"]),
                            "error": float(best["error"])})
            cs = ceiled_score(float(best["score"]), ceiling, convention=CONVENTION)  # this region's own ceiling
            metrics.append({"metric": "ceiled_predictivity", "model": model, "region": str(region),
                            "value": float(cs), "ceiling": float(ceiling), "convention": cs.attrs["convention"]})
            heads.append(S.headline(f"{region} predictivity (ceiled, {cs.attrs['convention']}), {model}", float(cs),
                                    source=src))
            for layer, asm in layers.items():
                r = float(compare_rdms(rdm(asm), reg_rdm, method="spearman"))
                rsa_rows.append({"model": model, "layer": layer, "region": str(region), "rsa_spearman": r})
                metrics.append({"metric": "rsa_spearman", "model": model, "layer": layer, "region": str(region),
                                "value": r})
    rsa = pd.DataFrame(rsa_rows)
    figures.append(_plot_rsa(rsa, run))
    best_v2 = max((m for m in metrics if m["metric"] == "ceiled_predictivity" and m["region"] == "V2"),
                  key=lambda m: m["value"], default=None)
    reading = (f"Cross-validated {cfg['regression']} regression from each layer to each unit ({cfg['n_splits']} "
               f"splits stratified on texture type; layer chosen on training data only), ceiled by each "
               f"region's own split-half internal consistency c (Spearman–Brown) in Brain-Score's {CONVENTION} "
               f"convention (r²/c: explained variance relative to the ceiling), and RSA (Spearman between correlation-distance RDMs). "
               f"Data: {src}.")
    if best_v2:
        reading += f" The best V2 model here is {best_v2['model']} (ceiled score {best_v2['value']:.2f})."
    return {"metrics": metrics, "headlines": heads,
            "sections": [Section("Similarity to V1 and V2", reading, figures)]}


def _plot_by_layer(table: pd.DataFrame, y: str, ylabel: str, title: str, run: Run, name: str) -> str:
    """Bars of ``y`` per layer and region, one panel per model."""
    import seaborn as sns

    from analysis.plot.style import figure_style

    with figure_style("whitegrid"):  # the style of this figure only, not the user's session
        g = sns.catplot(data=table, x="layer", y=y, hue="region", col="model", kind="bar",
                        sharex=False, height=2.8, aspect=1.0, errorbar=None)
        g.set_axis_labels("layer", ylabel)
        g.set_titles("{col_name}")
        for ax in g.axes.flat:
            ax.tick_params(axis="x", rotation=45)
        g.figure.suptitle(title, y=1.03)
        return S.savefig(g.figure, run.figure_path(name))


def _plot_predictivity(full: pd.DataFrame, run: Run) -> str:
    return _plot_by_layer(full, "score", "predictivity (median Pearson r)", "Neural predictivity by layer",
                          run, "predictivity")


def _plot_rsa(rsa: pd.DataFrame, run: Run) -> str:
    return _plot_by_layer(rsa, "rsa_spearman", "RDM similarity (Spearman ρ)",
                          "Representational similarity with each region", run, "rsa")
