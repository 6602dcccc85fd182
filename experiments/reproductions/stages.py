"""Stages shared by several reproductions: stimuli, recordings, training, activations, scores.

Each function here is a stage body for :meth:`experiments.runner.Run.stage` or a
loader of what such a stage wrote, so every reproduction builds, trains and scores
the same way.
"""
from __future__ import annotations

import copy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import assemblies  # noqa: E402

from ..result_files import load_stimulus_set, save_stimulus_set  # noqa: E402
from ..provenance import format_flops  # noqa: E402
from ..runner import Headline, Run, Section  # noqa: E402

__all__ = [
    "stimuli_stage", "recordings_stage", "train_stage", "load_trained", "activations_stage",
    "load_activations", "source_label", "stimulus_label", "savefig", "load_recording", "by_region", "ceilings",
    "textures_only", "load_real_dataset", "texture_sources",
]


def savefig(fig, path: Path) -> str:
    """Save a figure as PNG (atomically) and close it; return its path."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    tmp.replace(path)
    plt.close(fig)
    return str(path)


# ----------------------------------------------------------------------- real datasets
#: Dataset name (a reproduction config's ``recordings.dataset``) → name of its loader in
#: :mod:`analysis.datasets` (each returns ``(assembly, StimulusSet)`` from Brain-Score files).
REAL_LOADERS = {"FreemanZiemba2013": "load_freemanziemba2013", "MajajHong2015": "load_majajhong2015"}


def load_real_dataset(name: str | None, log=print, fallback: str = "using simulated recordings", **kwargs):
    """``(recording, stimulus set)`` of dataset ``name`` when its files are present, else ``None``.

    ``name`` is a key of :data:`REAL_LOADERS`; the files are looked up where the
    dataset's manifest says (``$NEUROMODELS_DATA/<name>/``, see ``docs/datasets.md``).
    A missing dataset is logged (with the loader's message naming the file) and gives
    ``None``, so the caller falls back to simulated recordings; a present but broken
    one raises. ``fallback`` ends the log line of a missing dataset.
    """
    if not name:
        return None
    if name not in REAL_LOADERS:
        raise ValueError(f"unknown dataset {name!r} in the config; real recordings come from "
                         f"{sorted(REAL_LOADERS)} (or leave the key empty for simulated recordings)")
    from analysis import datasets

    try:
        recording, stimuli = getattr(datasets, REAL_LOADERS[name])(**kwargs)
    except datasets.DatasetError as err:
        log(f"{name} not available locally ({str(err).splitlines()[0]}); {fallback}")
        return None
    recording.attrs["source"] = name
    stimuli.attrs["source"] = name
    log(f"{name} found locally: its recordings and its {len(stimuli)} stimuli drive every stage")
    return recording, stimuli


def texture_sources(spec, size: int):
    """The ``sources`` of :func:`analysis.texture_stimuli.texture_stimulus_set` for a config's
    ``stimuli.sources``: ``'bundled'`` (or empty), ``'DTD'`` (the fetched Describable Textures
    Dataset, first image of each category) or a folder (one image per family, or one
    sub-folder of images per family). Returns ``(sources, label)``."""
    if sources_is_bundled(spec):
        return None, "bundled textures"
    from analysis.datasets import load, load_texture_folder

    if str(spec) == "DTD":
        return load("DTD", size=max(2 * size, 64), max_per_class=1), "DTD"
    folder = Path(str(spec)).expanduser()
    if folder.is_dir() and any(p.is_dir() for p in folder.iterdir()):
        return load_texture_folder(folder, size=max(2 * size, 64), max_per_class=1), f"textures from {folder}"
    return folder, f"textures from {folder}"


def sources_is_bundled(spec) -> bool:
    return spec in (None, "", "bundled")


# --------------------------------------------------------------------------- stimuli
def _dataset_name(run: Run, cfg: dict) -> str | None:
    """The dataset named by the config (``stimuli.dataset`` or ``recordings.dataset``)."""
    return cfg.get("dataset") or (run.config.get("recordings") or {}).get("dataset")


def stimuli_stage(run: Run, cfg: dict) -> dict:
    """The stimuli: the named dataset's own stimulus set when its files are present (its
    recordings are saved alongside, for :func:`recordings_stage`), else a
    FreemanZiemba2013-layout texture set built from ``cfg['sources']``."""
    real = load_real_dataset(_dataset_name(run, cfg), run.log)
    if real is not None:
        recording, stim = real
        assemblies.save(recording, run.path("real_recordings.nc"))
        save_stimulus_set(stim, run.path("stimuli"))
        fig = _plot_examples(stim)
        source = stim.attrs["source"]
        groups = stim.table["texture_family"].nunique() if "texture_family" in stim.table else None
        return {
            "source": source, "image_size": int(cfg["size"]),
            "metrics": [{"metric": "n_stimuli", "value": len(stim), "source": source}],
            "sections": [Section(
                "Stimuli",
                f"The {len(stim)} stimuli of {source} ({stim.visual_degrees}°"
                + (f", {groups} texture families" if groups else "") + "), the images its recordings were "
                f"made with. Each is shown to the models as Brain-Score shows it: placed on a gray screen "
                f"spanning the model's field of view (a {stim.visual_degrees}° image on an 8° model fills "
                f"the central half), resampled to {int(cfg['size'])} px.",
                [savefig(fig, run.figure_path("stimuli"))])],
        }
    from analysis.texture_stimuli import texture_stimulus_set

    sources, label = texture_sources(cfg.get("sources"), cfg["size"])
    stim = texture_stimulus_set(
        sources, samples_per_family=cfg["samples_per_family"], size=cfg["size"], n_iter=cfg.get("n_iter", 0),
        seed=run.config.get("seed", 0), progress=True,
    )
    stim.attrs["source"] = label
    save_stimulus_set(stim, run.path("stimuli"))
    fig = _plot_examples(stim)
    fam = stim.table["texture_family"].unique()
    method = stim.attrs.get("texture_method", "synthesized" if cfg.get("n_iter", 0) else "source crops")
    return {
        "source": label, "image_size": None,
        "metrics": [{"metric": "n_stimuli", "value": len(stim)}, {"metric": "n_families", "value": len(fam)}],
        "sections": [Section(
            "Stimuli",
            f"{len(fam)} texture families ({label}) × {{texture, spectrally matched noise}} × "
            f"{cfg['samples_per_family']} samples at {cfg['size']} px ({stim.visual_degrees}°), laid out "
            f"like FreemanZiemba2013. 'Texture' images: {method}; noise images are phase-randomized "
            f"copies with the same amplitude spectrum.",
            [savefig(fig, run.figure_path("stimuli"))])],
    }


def _plot_examples(stim, n_samples: int = 3):
    """Example stimuli: per texture family, textures then noise (or the first images of a set
    without that layout)."""
    from analysis.plot.style import figure_style

    table = stim.table
    if {"texture_family", "texture_type"} <= set(table.columns):
        families = list(pd.unique(table["texture_family"]))[:8]
        grid = [[np.flatnonzero((table["texture_family"] == fam) & (table["texture_type"] == kind))[:n_samples]
                 for kind in ("texture", "noise")] for fam in families]
        labels = [str(f) for f in families]
    else:
        families, labels = [None], [stim.name]
        grid = [[np.arange(min(len(table), 2 * n_samples))[:n_samples],
                 np.arange(min(len(table), 2 * n_samples))[n_samples:]]]
    with figure_style("white"):
        fig, axes = plt.subplots(len(grid), 2 * n_samples, figsize=(1.4 * 2 * n_samples, 1.5 * len(grid)),
                                 squeeze=False)
        for i, row in enumerate(grid):
            for j, (kind, rows) in enumerate(zip(("texture", "noise"), row)):
                for k in range(n_samples):
                    ax = axes[i, j * n_samples + k]
                    ax.set_xticks([]), ax.set_yticks([])
                    if k >= len(rows):
                        ax.axis("off")
                        continue
                    img = stim.image(int(rows[k]))
                    ax.imshow(img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1), cmap="gray", vmin=0, vmax=1)
                    if i == 0 and families[0] is not None:
                        ax.set_title(f"{kind} {k + 1}", fontsize=8)
            axes[i, 0].set_ylabel(labels[i], fontsize=8)
        fig.suptitle(f"Example stimuli ({stim.attrs.get('source', stim.name)})", fontsize=9)
        fig.tight_layout()
    return fig


def load_stimuli(run: Run):
    return load_stimulus_set(run.path("stimuli"))


def stimulus_label(run: Run) -> str:
    """What the stimuli are: the dataset's name, or the texture sources of a built set."""
    return run.records["stimuli"].get("source") or "bundled textures"


# ------------------------------------------------------------------------ recordings
def recordings_stage(run: Run, cfg: dict) -> dict:
    """The real recordings of the dataset whose stimuli the ``stimuli`` stage loaded; simulated
    responses to the built stimuli when no real dataset is present."""
    stim = load_stimuli(run)
    real = run.path("real_recordings.nc")
    if real.exists():
        recording = assemblies.load(real)
        source = recording.attrs["source"]
    else:
        from analysis.simulate import simulate_recordings

        recording = simulate_recordings(
            stim, n_units=dict(cfg["n_units"]), n_repetitions=cfg["n_repetitions"],
            noise=cfg.get("noise", 1.0), seed=run.config.get("seed", 0), image_size=cfg.get("image_size", 64),
        )
        source = "simulated"
    assemblies.save(recording, run.path("recordings.nc"))
    from analysis.ceilings import internal_consistency

    metrics, rows = [], []
    for region, sub in by_region(recording).items():
        ceiling = internal_consistency(sub)
        metrics.append({"metric": "ceiling", "region": str(region), "value": float(ceiling),
                        "error": float(getattr(ceiling, "error", np.nan)), "source": source})
        rows.append(f"| {region} | {sub.sizes['neuroid']} | {float(ceiling):.3f} |")
    table = "| region | units | internal consistency (Spearman–Brown) |\n|---|---|---|\n" + "\n".join(rows)
    what = ("simulated recordings from `analysis.simulate` (V1-like LN units and V2-like LN-LN units "
            "with Poisson-like trial noise; a known ground truth, **not macaque data**)"
            if source == "simulated" else f"{source} recordings (macaque, Brain-Score's files)")
    return {
        "source": source,
        "metrics": metrics,
        "sections": [Section(
            "Recordings",
            f"Neural data: {what}, {recording.sizes['presentation']} presentations. The ceilings below "
            f"bound every predictivity score that follows.", table=table)],
    }


def source_label(run: Run) -> str:
    return run.records["recordings"]["source"]


def load_recording(run: Run):
    """The recording the ``recordings`` stage saved."""
    return assemblies.load(run.path("recordings.nc"))


def by_region(assembly) -> dict:
    """{region: the assembly's neuroids of that region}, regions in order of appearance."""
    regions = assembly["region"].values
    return {str(r): assembly.isel(neuroid=np.flatnonzero(regions == r)) for r in pd.unique(regions)}


def textures_only(assembly):
    """The naturalistic-texture presentations (all of them when there is no ``texture_type``)."""
    if "texture_type" in assembly.coords:
        return assembly.isel(presentation=np.flatnonzero(assembly["texture_type"].values == "texture"))
    return assembly


def ceilings(run: Run) -> dict:
    """{region: internal consistency} as computed once by the ``recordings`` stage."""
    return {m["region"]: m["value"] for m in run.records["recordings"]["metrics"] if m["metric"] == "ceiling"}


# -------------------------------------------------------------------------- training
def resolve_train_config(spec: dict) -> dict:
    """A trainer config as nested dicts from ``{"config": FILE, "overrides": [...]}``.

    ``FILE`` is a path or the name of a file in ``neuromodels/configs``; a spec
    without ``config`` is taken as an inline trainer config.
    """
    from neuromodels.training.config import config_to_dict, load_config

    if "config" not in spec:
        return copy.deepcopy(spec)
    path = Path(spec["config"])
    if not path.exists():
        import neuromodels

        path = Path(neuromodels.__file__).resolve().parent / "configs" / spec["config"]
    return config_to_dict(load_config(path, list(spec.get("overrides", []))))


def train_stage(run: Run, name: str, train_cfg: dict, device, seed: int | None = None) -> dict:
    """Train one model with the toolkit's trainer (``seed``: default the run's); return checkpoint, FLOPs, loss figure."""
    from neuromodels.training import train

    cfg = resolve_train_config(train_cfg)
    cfg.setdefault("run", {})
    cfg["run"]["out_dir"] = str(run.path("train", name))
    cfg["run"]["seed"] = run.config.get("seed", 0) if seed is None else int(seed)
    result = train(cfg, device=str(device), resume=True)
    flops = _training_flops(result)
    hist = pd.DataFrame(result.history)
    first = hist.groupby("stage")["loss"].apply(lambda s: s.iloc[: max(1, len(s) // 10)].mean())
    last = hist.groupby("stage")["loss"].apply(lambda s: s.iloc[-max(1, len(s) // 10):].mean())
    fig = _plot_losses(hist, name)
    metrics = [{"metric": "loss_first", "model": name, "model_stage": s, "value": float(first[s])} for s in first.index]
    metrics += [{"metric": "loss_last", "model": name, "model_stage": s, "value": float(last[s])} for s in last.index]
    return {
        "checkpoint": str(result.checkpoint),
        "steps": int(result.steps),
        "_flops": float(flops),
        "metrics": metrics + [{"metric": "training_flops", "model": name, "value": float(flops)}],
        "figure": savefig(fig, run.figure_path(f"loss_{name}")),
        "compute": format_flops(flops),
    }


def loss_change(rec: dict) -> str:
    """One sentence: mean loss over the first and the last tenth of each stage's steps."""
    first = {m["model_stage"]: m["value"] for m in rec["metrics"] if m["metric"] == "loss_first"}
    last = {m["model_stage"]: m["value"] for m in rec["metrics"] if m["metric"] == "loss_last"}
    parts = [f"{s}: {first[s]:.3g} → {last[s]:.3g}" for s in first]
    return "Mean loss over the first → last tenth of steps: " + "; ".join(parts) + "."


def _training_flops(result) -> float:
    """FLOPs of one measured step of each phase × that phase's steps (the trainer's summary)."""
    import json

    summary = Path(result.run_dir) / "summary.json"
    total = json.loads(summary.read_text()).get("flops_total") if summary.exists() else None
    return float(total or 0.0)


def _plot_losses(hist: pd.DataFrame, name: str):
    import seaborn as sns

    from analysis.plot.style import figure_style

    with figure_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(5, 3))
        x = "step" if "step" in hist else hist.index
        sns.lineplot(data=hist, x=x, y="loss", hue="stage", ax=ax, linewidth=1)
        ax.set(xlabel="optimizer step", ylabel="local loss", title=f"Training loss: {name}")
        fig.tight_layout()
    return fig


def load_trained(checkpoint: str):
    from neuromodels.training import load_model

    return load_model(checkpoint)


# ------------------------------------------------------------------------ activations
def activations_stage(run: Run, models: dict, cfg: dict, device, stimuli=None,
                      folder: str = "activations") -> dict:
    """Extract activations of ``models`` = {name: (model, layers)} on the stimuli; save them.

    The stimuli are the run's (a real dataset's own when present); each is placed on the
    screen as Brain-Score places it (:func:`analysis.activations.place_on_screen`) and
    resampled to ``cfg['image_size']`` (default: the size the ``stimuli`` stage recorded
    for a real set, else the model's or the stimuli's own)."""
    from analysis.activations import extract

    stim = stimuli or load_stimuli(run)
    recorded_size = run.records.get("stimuli", {}).get("image_size")
    index = {}
    for name, (model, layers) in models.items():
        model = model.to(device).eval()
        # Brain-Score's placement: stimulus degrees vs the model's, on a gray (128) screen
        acts = extract(model, stim, layers, batch_size=cfg.get("batch_size", 32), device=device,
                       max_features=cfg.get("max_features"), seed=run.config.get("seed", 0),
                       image_size=cfg.get("image_size") or getattr(model, "image_size", None) or recorded_size,
                       background=128 / 255, num_workers=cfg.get("num_workers", 0))
        index[name] = {}
        for layer, asm in acts.items():
            path = run.path(folder, name, f"{layer}.nc")
            assemblies.save(asm, path)
            index[name][layer] = str(path)
    return {"activations": index}


def load_activations(run: Run, stage: str = "activations") -> dict:
    """{model: {layer: assembly}} written by an activations stage."""
    index = run.records[stage]["activations"]
    return {m: {layer: assemblies.load(p) for layer, p in layers.items()} for m, layers in index.items()}


def headline(name: str, value, error=None, source="simulated", compute="", unit="") -> Headline:
    return Headline(name=name, value=float(value), error=None if error is None else float(error),
                    source=source, compute=compute, unit=unit)
