"""Why the texture model's ``cpu`` preset classifies the held-out textures worse than its untrained architecture.

The ``cpu``-preset run of the texture-model reproduction (docs/texture_robustness.md,
"The texture model's `cpu` preset, measured") found the trained V2 far more
texture-modulated than the untrained architecture but *worse* at classifying the
held-out families from one image each, with ~60 % of its V2 units dead. Two
explanations predict different things:

- **the objective collapses the representation**: the trained V2 loses family
  information *in distribution too* — fresh samples of its own training families
  are classified worse than by the untrained architecture, and live channels fall;
- **poor transfer**: the training families stay well separated while the held-out
  families (natural texture photographs, never seen) do not.

This study trains ``neuromodels/configs/texture_model_cpu.yaml`` (the trainer,
unchanged; checkpoints every 10 steps, kept at :data:`STEPS`) and measures, at step 0
(the untrained architecture: the trainer builds the model after
``torch.manual_seed(seed)``, as the reproduction's control does) and at each kept
step, on two stimulus sets:

- **held out**: the reproduction's ``cpu`` stimuli (bundled brick, grass, gravel,
  reptile_skin; 16 source crops per family at 64 px, texture + spectrally matched
  noise, :func:`analysis.texture_stimuli.texture_stimulus_set`, seed 0);
- **training families**: :data:`TRAIN_SAMPLES` *fresh* Portilla–Simoncelli syntheses
  of each of the 18 training families (the trainer's own synthesis,
  :func:`neuromodels.texture_families.texture_family_images`, with synthesis seeds
  1…N; seed 0 made the training image itself, so no evaluated image was trained
  on), each with its phase-randomized noise and the same mean/contrast
  normalization as the held-out set;
- **training-image crops**: random 48-px crops of the 18 images trained on (the
  loss's own task), :func:`trained_image_crops`.

(``*_raw`` sets: the same without the mean/contrast normalization.) ``--variants
families72`` trains the remedy of the write-up (4x as many distinct training images,
:data:`REMEDIES`); ``--sparsity`` measures how sparse V2 becomes
(:func:`active_fraction`).

Measures (the reproduction's, :func:`experiments.reproductions.texture_measures.measure_layers`):
texture-family accuracy of the spatially averaged V2 with 1 (and 4) training images
per family (:func:`analysis.few_shot.data_efficiency`, shrinkage LDA, 20 draws,
draws seeded by the training seed), V1 energy (the fixed front end) as the
reference; live V2 channels (:func:`live_channels`: a channel is dead when every
one of its units is dead by :func:`analysis.texture.live_units`, i.e. constant over
every stimulus); the participation ratio of the spatially averaged V2 over the
texture images (:func:`participation_ratio`, effective dimensionality); the mean
modulation index of live units.

Run::

    OMP_NUM_THREADS=1 python -m experiments.studies.texture_collapse --out results/texture_collapse

Resumable: a finished training (its last checkpoint) and every evaluated checkpoint
(``eval/<variant>_seed<s>_step<n>.json``) are skipped; files are written atomically.
``--figures-dir docs/figures`` also writes ``texture_collapse.csv``/``.png`` there
(``docs/figures/texture_collapse.py`` does exactly that).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from neurocommon.files import atomic_path, atomic_write_text
from neurocommon.progress import progress_bar

__all__ = ["live_channels", "participation_ratio", "active_fraction", "training_family_stimuli", "held_out_stimuli",
           "train_run", "evaluate_checkpoint", "collect", "plot", "main", "STEPS", "REMEDIES"]

ROOT = Path(__file__).resolve().parents[2]
TRAIN_CONFIG = ROOT / "neuromodels" / "configs" / "texture_model_cpu.yaml"
EVAL_CONFIG = ROOT / "experiments" / "configs" / "texture_model_cpu.yaml"
#: training steps evaluated (besides step 0, the untrained architecture)
STEPS = (60, 250, 500, 1000, 2000)
CHECKPOINT_EVERY = 10
#: fresh syntheses per training family (synthesis seeds 1..N)
TRAIN_SAMPLES = 8
N_TRAIN = (1, 4)
#: training families of the remedy: 8 homogeneous crops of each of the 9 bundled natural images (72; the
#: cpu preset's 18 are the first 2 of each)
FAMILIES_72 = [f"{s}_{k}" for k in range(8) for s in ("camera", "astronaut", "coffee", "chelsea", "moon", "rocket",
                                                        "einstein", "curie", "parrot")]
#: training variants: extra trainer overrides (``baseline``: the cpu preset unchanged). The remedy tried
#: (docs/texture_robustness.md): 4x as many distinct training images, nothing else changed.
REMEDIES = {
    "baseline": [],
    "families72": ["data.images=[" + ",".join(FAMILIES_72) + "]"],
}


# ------------------------------------------------------------------ reusable measures
def live_channels(assembly, tol: float = 1e-8) -> tuple[int, int]:
    """(live channels, all channels) of a layer's assembly (presentation × neuroid with a ``channel`` coord).

    A channel is dead when every one of its units (positions) is dead by
    :func:`analysis.texture.live_units` — silent, or constant across all stimuli — the
    definition the reproduction uses for units, taken per channel.
    """
    from analysis.texture import live_units

    if "channel" not in assembly.coords:
        raise ValueError("live_channels needs a 'channel' coordinate on the neuroid axis")
    live, _ = live_units(assembly, tol=tol)
    return int(np.unique(live["channel"].values).size), int(np.unique(assembly["channel"].values).size)


def participation_ratio(features, standardize: bool = True) -> float:
    """Effective dimensionality (Σλ)² / Σλ² of ``features`` (samples × dimensions).

    λ are the eigenvalues of the covariance — of the correlation matrix with
    ``standardize`` (default: the z-scored features a shrinkage-LDA decoder reads;
    constant dimensions are dropped). 1 when the features vary along one direction,
    D for D independent dimensions of equal weight; 0 when nothing varies.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"participation_ratio needs a (samples >= 2, dimensions) array; got shape {x.shape}")
    x = x - x.mean(0)
    sd = x.std(0)
    scale = float(sd.max(initial=0.0))
    if scale == 0:
        return 0.0
    if standardize:
        x = x[:, sd > 1e-8 * scale] / sd[sd > 1e-8 * scale]
    lam = np.clip(np.linalg.eigvalsh(x.T @ x / (x.shape[0] - 1)), 0, None)
    s2 = float((lam ** 2).sum())
    return float(lam.sum() ** 2 / s2) if s2 > 0 else 0.0


# --------------------------------------------------------------------------- stimuli
def training_families() -> list[str]:
    import yaml

    return list(yaml.safe_load(TRAIN_CONFIG.read_text())["data"]["images"])


def held_out_stimuli():
    """The reproduction's ``cpu``-preset stimuli (its ``stimuli`` section, seed 0)."""
    import yaml

    from analysis.texture_stimuli import texture_stimulus_set

    cfg = yaml.safe_load(EVAL_CONFIG.read_text())["stimuli"]
    return texture_stimulus_set(None, samples_per_family=int(cfg["samples_per_family"]), size=int(cfg["size"]),
                                n_iter=int(cfg.get("n_iter", 0)), seed=0, progress=False)


def training_family_stimuli(families, samples: int, cache, size: int = 64, normalize: bool = True):
    """Fresh syntheses of the training families in the FreemanZiemba2013 layout (texture + noise).

    Sample ``j`` of family ``f`` is the trainer's own synthesis of ``f`` with synthesis
    seed ``j + 1`` (:func:`neuromodels.texture_families.texture_family_images`, cached
    in ``cache``); seed 0 is the training image, never used here. With ``normalize``,
    each (texture, noise) pair is mapped to mean 0.5 and RMS contrast 0.2 as the
    held-out stimuli are; without, textures are as trained and noise is clipped to [0, 1].
    """
    from neuromodels.texture_families import texture_family_images

    families = list(families)
    textures = {}
    for j in range(samples):
        for fam, img in zip(families, texture_family_images(families, size=size, seed=j + 1, cache=str(cache))):
            textures[fam, j] = np.asarray(img[0], dtype=np.float64)
    return texture_pairs(textures, normalize, "training_families" + ("" if normalize else "_raw"))


def trained_image_crops(families, crops: int, crop_size: int = 48, size: int = 64, seed: int = 0,
                        normalize: bool = True):
    """Random ``crop_size`` crops of the very images the trainer trained on (synthesis seed 0).

    The trainer's views are such crops (``data.patch_size`` of ``data.image_size``
    images), so classifying them tests what the objective optimizes: telling the
    training *images* apart. Images from the trainer's default cache (made there when
    absent, identically: the synthesis is seeded).
    """
    from neuromodels.texture_families import texture_family_images

    families = list(families)
    rng = np.random.default_rng(seed)
    textures = {}
    for fam, img in zip(families, texture_family_images(families, size=size, seed=0)):
        im = np.asarray(img[0], dtype=np.float64)
        for j in range(crops):
            r, c = rng.integers(0, size - crop_size + 1, size=2)
            textures[fam, j] = im[r:r + crop_size, c:c + crop_size]
    return texture_pairs(textures, normalize, "trained_image_crops" + ("" if normalize else "_raw"))


def texture_pairs(textures: dict, normalize: bool = True, name: str = "textures"):
    """A FreemanZiemba2013-layout StimulusSet from {(family, sample): texture image (H, W) in [0, 1]}.

    Each texture gets its phase-randomized noise (:func:`analysis.spectral_noise.phase_randomize`);
    with ``normalize`` the pair is mapped to mean 0.5, RMS contrast 0.2 (as
    :func:`analysis.texture_stimuli.texture_stimulus_set` does), else the noise is clipped to [0, 1].
    """
    from analysis.spectral_noise import phase_randomize
    from analysis.stimuli import StimulusSet
    from analysis.texture_stimuli import _fit_pair_to_unit_range

    families = list(dict.fromkeys(f for f, _ in textures))
    samples = sorted({j for _, j in textures})
    pairs = {}
    for (fam, j), tex in textures.items():
        noise = phase_randomize(tex, seed=1000 * (j + 1) + families.index(fam))
        pairs[fam, j] = (_fit_pair_to_unit_range(tex, noise, 0.5, 0.2)[:2] if normalize
                         else (tex.astype(np.float32), np.clip(noise, 0, 1).astype(np.float32)))
    rows, images = [], []
    for fam in families:
        for kind, k in (("texture", 0), ("noise", 1)):
            for j in samples:
                images.append(pairs[fam, j][k][None])
                rows.append({"stimulus_id": f"{fam}-{kind}-{j:02d}", "texture_family": fam, "texture_type": kind,
                             "sample": j})
    return StimulusSet(pd.DataFrame(rows), np.stack(images).astype(np.float32), visual_degrees=4.0, name=name)


# --------------------------------------------------------------------------- training
def run_dir(out: Path, variant: str, seed: int) -> Path:
    return Path(out) / "runs" / (f"seed{seed}" if variant == "baseline" else f"{variant}_seed{seed}")


def checkpoint_path(out: Path, variant: str, seed: int, step: int) -> Path:
    return run_dir(out, variant, seed) / "checkpoints" / f"ckpt-{step:08d}.pt"


def train_run(out: Path, variant: str, seed: int) -> Path:
    """Train the cpu preset (``variant``'s overrides) for ``seed``, keeping the checkpoints at :data:`STEPS`.

    Skipped when the last checkpoint exists; an interrupted run resumes from its newest
    checkpoint. Checkpoints at other steps are removed once training has finished.
    """
    from neuromodels.training import train

    folder = run_dir(out, variant, seed)
    final = checkpoint_path(out, variant, seed, max(STEPS))
    if not final.is_file():
        overrides = [f"run.seed={seed}", f"run.checkpoint_every={CHECKPOINT_EVERY}", "run.keep_checkpoints=100000",
                     "run.progress=false", *REMEDIES[variant]]
        result = train(str(TRAIN_CONFIG), overrides, resume=True, device="cpu", out_dir=str(folder))
        if int(result.steps) != max(STEPS):
            raise RuntimeError(f"the config trains {result.steps} steps; this study evaluates up to {max(STEPS)}")
    keep = {checkpoint_path(out, variant, seed, s).name for s in STEPS}
    for p in (folder / "checkpoints").glob("ckpt-*.pt"):
        if p.name not in keep:
            p.unlink(missing_ok=True)
            p.with_name(p.name + ".sha256").unlink(missing_ok=True)
    return folder


def _loss_near(folder: Path, step: int, window: int = 25) -> float:
    from neuromodels.training import read_metrics

    vals = [r["loss"] for r in read_metrics(folder) if step - window < r.get("step", -1) <= step]
    return float(np.mean(vals)) if vals else float("nan")


# ------------------------------------------------------------------------- evaluation
def _model(out: Path, variant: str, seed: int, step: int):
    import torch

    import neuromodels
    from neuromodels.training import load_model
    from neuromodels.training.config import config_to_dict, load_config

    if step == 0:
        cfg = config_to_dict(load_config(TRAIN_CONFIG, []))
        torch.manual_seed(int(seed))  # the trainer's own initialization (and the reproduction's control)
        return neuromodels.build_model(cfg["model"], **cfg.get("model_config", {}))
    return load_model(str(checkpoint_path(out, variant, seed, step)))


def _texture_rows(asm):
    return asm.isel(presentation=np.flatnonzero(asm["texture_type"].values.astype(str) == "texture"))


def evaluate_checkpoint(model, stimuli: dict, seed: int, with_v1: bool = False) -> list[dict]:
    """Rows {representation, stimuli, acc_n1, acc_n4, live_channels, ...} of ``model``'s V2 (and V1 energy)."""
    from analysis.few_shot import data_efficiency
    from experiments.reproductions.texture_measures import measure_layers

    v1, v2 = list(model.layers)[0], list(model.layers)[-1]
    rows = []
    for set_name, stim in stimuli.items():
        measured = measure_layers(model, [v1, v2] if with_v1 else [v2], stim, "cpu")
        reps = {"V2": v2} if not with_v1 else {"V1 energy": v1}
        for rep, layer in reps.items():
            m = measured[layer]
            stats = m["texture_statistics"]
            per_family = int(pd.Series(_texture_rows(stats)["texture_family"].values).value_counts().min())
            n_train = [n for n in N_TRAIN if n < per_family]  # at least one test image per family
            eff = data_efficiency({rep: stats}, n_train=n_train, n_draws=20, seed=seed, progress=False)
            acc = eff.groupby("n_train")["accuracy"].mean().reindex(list(N_TRAIN))
            # measure_layers keeps the live units only; their channels are the live channels (the same
            # count as live_channels on the full layer: dead units never set the population's range)
            n_live = live_channels(m["live"])[0] if m["live"].sizes["neuroid"] else 0
            n_ch = int(stats.sizes["neuroid"])  # the spatial average: one value per channel
            rows.append({
                "representation": rep, "stimuli": set_name,
                **{f"acc_n{n}": float(acc[n]) for n in N_TRAIN},
                "chance": float(eff["chance"].iloc[0]),
                "live_channels": n_live, "channels": n_ch,
                "dead_units": int(m["n_dead"]), "units": int(m["n_dead"] + m["n_live"]),
                "modulation_index": float(m["modulation_index"]),
                "participation_ratio": participation_ratio(_texture_rows(stats).values),
            })
    return rows


def active_fraction(model, stimuli, tol: float = 1e-8) -> dict:
    """How sparse V2 is on ``stimuli``: {"active": fraction of (stimulus, unit) responses > ``tol``,
    "active_live": the same over live units only, "dead_border" / "dead_center": fraction of dead units
    within 3 positions of the map's edge / elsewhere}."""
    from analysis.activations import extract
    from analysis.texture import live_units

    layer = list(model.layers)[-1]
    a = extract(model.eval(), stimuli, [layer], batch_size=32, device="cpu", model_degrees=stimuli.visual_degrees,
                progress=False)[layer]
    live, _ = live_units(a, tol=tol)
    dead = ~np.isin(a["neuroid_id"].values, live["neuroid_id"].values)
    x, y = a["channel_x"].values, a["channel_y"].values
    edge = (x < 3) | (y < 3) | (x > x.max() - 3) | (y > y.max() - 3)
    on = a.values > tol
    return {"active": float(on.mean()), "active_live": float(on[:, ~dead].mean()) if (~dead).any() else 0.0,
            "dead_border": float(dead[edge].mean()), "dead_center": float(dead[~edge].mean())}


def sparsity_table(out: Path, seed: int = 0) -> pd.DataFrame:
    """:func:`active_fraction` of seed ``seed`` at every evaluated step (baseline and remedies), on the held-out
    stimuli and the fresh training-family syntheses."""
    sets = {"held_out": held_out_stimuli(),
            "training": training_family_stimuli(training_families(), TRAIN_SAMPLES, Path(out) / "families")}
    rows = []
    for variant in REMEDIES:
        for step in (0,) + STEPS if variant == "baseline" else STEPS:
            if step and not checkpoint_path(out, variant, seed, step).is_file():
                continue
            model = _model(out, variant, seed, step)
            for name, stim in sets.items():
                rows.append({"variant": variant, "seed": seed, "step": step, "stimuli": name,
                             **active_fraction(model, stim)})
    return pd.DataFrame(rows)


def eval_path(out: Path, variant: str, seed: int, step: int) -> Path:
    return Path(out) / "eval" / f"{variant}_seed{seed}_step{step}.json"


def eval_job(out: Path, variant: str, seed: int, step: int, stimuli: dict) -> Path:
    """Evaluate one checkpoint (step 0: the untrained architecture, plus V1 energy); skipped when done."""
    path = eval_path(out, variant, seed, step)
    if path.is_file():
        return path
    tic = time.perf_counter()
    model = _model(out, variant, seed, step)
    rows = evaluate_checkpoint(model, stimuli, seed)
    if step == 0:
        rows += evaluate_checkpoint(model, stimuli, seed, with_v1=True)
    loss = _loss_near(run_dir(out, variant, seed), step) if step else float("nan")
    for r in rows:
        r.update({"variant": variant, "seed": seed, "step": step, "loss": loss})
    atomic_write_text(path, json.dumps({"rows": rows, "seconds": time.perf_counter() - tic}, indent=1))
    return path


def collect(out: Path) -> pd.DataFrame:
    """Every evaluated checkpoint of ``out`` as one table (sorted by variant, seed, step)."""
    rows = []
    for p in sorted((Path(out) / "eval").glob("*.json")):
        rows += json.loads(p.read_text())["rows"]
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    first = ["variant", "seed", "step", "representation", "stimuli"]
    df = df[first + [c for c in df.columns if c not in first]]
    order = ["variant", "representation", "stimuli", "seed", "step"]
    return df.sort_values(order, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- figure
#: stimulus sets drawn (colors) and their short labels
PLOTTED = {"held_out": ("C0", "held-out families"), "training": ("C3", "training families, fresh syntheses"),
           "trained_crops": ("C1", "training images (crops trained on)")}


def plot(df: pd.DataFrame):
    """Four panels against training step: 1-image accuracy; live channels and units; effective dimension;
    modulation index. Baseline solid (thin lines: seeds), remedy variants dashed; step 0 is the untrained
    architecture (shared by every variant), dotted lines V1 energy, gray dots chance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.plot.style import figure_style

    v2 = df[df["representation"] == "V2"]
    v1 = df[df["representation"] == "V1 energy"]
    steps = sorted(v2["step"].unique())
    xpos = {s: i for i, s in enumerate(steps)}
    variants = [v for v in REMEDIES if v in set(v2["variant"])]

    def lines(ax, column, name, color, label, per_seed=True, scale=1.0, marker="o"):
        for variant in variants:
            sub = v2[(v2["stimuli"] == name) & ((v2["variant"] == variant) | (v2["step"] == 0))]
            if sub.empty:
                continue
            ls = "-" if variant == "baseline" else "--"
            mean = sub.groupby("step")[column].mean() * scale
            tag = "" if variant == "baseline" else f" [{variant}]"
            ax.plot([xpos[s] for s in mean.index], mean.values, marker=marker, ls=ls, color=color, label=label + tag)
            if per_seed and sub["seed"].nunique() > 1:
                for _, one in sub.groupby("seed"):
                    one = one.sort_values("step")
                    ax.plot([xpos[s] for s in one["step"]], one[column] * scale, lw=0.6, alpha=0.35, ls=ls,
                            color=color)

    ticks = dict(xticks=range(len(steps)), xticklabels=["0\nuntrained" if s == 0 else str(s) for s in steps],
                 xlabel="training step")
    with figure_style():
        fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
        ax = axes[0]
        for name, (color, label) in PLOTTED.items():
            lines(ax, "acc_n1", name, color, f"V2, {label}")
            ref = v1[v1["stimuli"] == name]
            if len(ref):
                ax.axhline(ref["acc_n1"].mean(), ls=":", lw=1.5, color=color, label=f"V1 energy, {label}")
                ax.axhline(ref["chance"].iloc[0], ls=(0, (1, 4)), lw=0.8, color="gray")
        ax.set(ylabel="family accuracy, 1 training image/family", ylim=(0, 1.02),
               title="Spatially averaged V2: 1-image accuracy", **ticks)
        ax.legend(fontsize=6.5, frameon=False, loc="lower left")
        ax = axes[1]
        v2 = v2.assign(live_unit_fraction=1 - v2["dead_units"] / v2["units"],
                       live_channel_fraction=v2["live_channels"] / v2["channels"])
        lines(ax, "live_channel_fraction", "held_out", "k", "live V2 channels", marker="s")
        lines(ax, "live_unit_fraction", "held_out", "0.5", "live V2 units (channel x position)", marker="D")
        ax.set(ylabel="fraction live (held-out stimuli)", ylim=(0, 1.05), title="Live channels and units", **ticks)
        ax.legend(fontsize=7, frameon=False, loc="lower left")
        ax = axes[2]
        for name, (color, label) in PLOTTED.items():
            lines(ax, "participation_ratio", name, color, label, per_seed=False)
        ax.set(ylabel="participation ratio (z-scored averaged V2)", title="Effective dimension of the representation",
               **ticks)
        ax.legend(fontsize=7, frameon=False)
        ax = axes[3]
        for name, (color, label) in PLOTTED.items():
            lines(ax, "modulation_index", name, color, label, per_seed=False)
        ax.axhline(0, color="gray", lw=0.8)
        ax.set(ylabel="mean modulation index (live units)", title="Texture modulation of V2", **ticks)
        ax.legend(fontsize=7, frameon=False)
        seeds = {v: v2[v2["variant"] == v]["seed"].nunique() for v in variants}
        fig.suptitle("Texture model, cpu preset, against training step (solid: the preset, dashed: remedy; mean of "
                     + ", ".join(f"{n} seed{'s' if n > 1 else ''} ({v})" for v, n in seeds.items())
                     + "; thin lines: seeds)", fontsize=10)
        fig.tight_layout()
    return fig


def summary_table(df: pd.DataFrame) -> str:
    """Markdown: per variant and step, mean (seed range) over seeds of the main measures."""
    v2 = df[df["representation"] == "V2"]
    lines = ["| variant | step | seeds | acc. 1 img: held out | acc. 1 img: fresh training-family syntheses | "
             "acc. 1 img: training-image crops | acc. 4 img: held out / fresh | live channels (of 32) | "
             "live units | eff. dim. held out / fresh | mod. index, held out | loss |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for variant in [v for v in REMEDIES if v in set(v2["variant"])]:
        for step in sorted(v2["step"].unique()):
            if step == 0 and variant != "baseline":
                continue
            sel = v2[(v2["variant"] == variant) & (v2["step"] == step)]
            h, t, c = (sel[sel["stimuli"] == k] for k in ("held_out", "training", "trained_crops"))
            if h.empty:
                continue
            name = "untrained" if step == 0 else variant
            live_units = 1 - h["dead_units"] / h["units"]
            lines.append(
                f"| {name} | {step} | {h['seed'].nunique()} | {_ms(h['acc_n1'])} | {_ms(t['acc_n1'])} | "
                f"{_ms(c['acc_n1'])} | {h['acc_n4'].mean():.2f} / {t['acc_n4'].mean():.2f} | "
                f"{_ms(h['live_channels'], 1)} | {100 * live_units.mean():.0f} % | "
                f"{h['participation_ratio'].mean():.1f} / {t['participation_ratio'].mean():.1f} | "
                f"{_ms(h['modulation_index'])} | {'–' if step == 0 else format(h['loss'].mean(), '.1f')} |")
    v1 = df[df["representation"] == "V1 energy"]
    if len(v1):
        h, t, c = (v1[v1["stimuli"] == k] for k in ("held_out", "training", "trained_crops"))
        lines.append(f"| V1 energy (reference) | – | {h['seed'].nunique()} | {_ms(h['acc_n1'])} | "
                     f"{_ms(t['acc_n1'])} | "
                     f"{_ms(c['acc_n1'])} | {h['acc_n4'].mean():.2f} / {t['acc_n4'].mean():.2f} | – | – | "
                     f"{h['participation_ratio'].mean():.1f} / {t['participation_ratio'].mean():.1f} | "
                     f"{_ms(h['modulation_index'])} | – |")
    return "\n".join(lines)


def _ms(values, digits: int = 2) -> str:
    """'mean' (one seed) or 'mean (min–max)' over seeds."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return "–"
    if v.size == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ({v.min():.{digits}f}–{v.max():.{digits}f})"


# ----------------------------------------------------------------------------- main
def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results/texture_collapse", help="output folder (resumable)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=["baseline"], choices=sorted(REMEDIES),
                        help="training variants (baseline: the cpu preset unchanged)")
    parser.add_argument("--train-only", action="store_true", help="train (and keep the checkpoints) only")
    parser.add_argument("--report-only", action="store_true", help="no training or evaluation: table and figure "
                                                                   "from what is already evaluated")
    parser.add_argument("--figures-dir", default=None, help="also write texture_collapse.csv/.png here")
    parser.add_argument("--sparsity", action="store_true", help="only: how sparse V2 is at each step of the first "
                                                                "seed (active_fraction); writes sparsity.csv")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    if args.sparsity:
        table = sparsity_table(out, args.seeds[0])
        atomic_write_text(out / "sparsity.csv", table.to_csv(index=False, float_format="%.4g"))
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        return table
    if not args.report_only:
        jobs = []
        for variant in args.variants:
            for seed in args.seeds:
                jobs.append(("train", variant, seed, None))
                if not args.train_only:
                    jobs += [("eval", variant, seed, s) for s in ((0,) if variant == "baseline" else ()) + STEPS]
        stimuli = None
        bar = progress_bar(jobs, desc="texture_collapse", unit="job")
        for kind, variant, seed, step in bar:
            bar.set_postfix_str(f"{kind} {variant} seed {seed}" + ("" if step is None else f" step {step}"))
            if kind == "train":
                train_run(out, variant, seed)
                continue
            if eval_path(out, variant, seed, step).is_file():
                continue
            if stimuli is None:
                stimuli = {"held_out": held_out_stimuli(),
                           "training": training_family_stimuli(training_families(), TRAIN_SAMPLES,
                                                               out / "families"),
                           "training_raw": training_family_stimuli(training_families(), TRAIN_SAMPLES,
                                                                   out / "families", normalize=False),
                           "trained_crops": trained_image_crops(training_families(), TRAIN_SAMPLES),
                           "trained_crops_raw": trained_image_crops(training_families(), TRAIN_SAMPLES,
                                                                    normalize=False)}
            eval_job(out, variant, seed, step, stimuli)
        bar.close()
    df = collect(out)
    if df.empty:
        print("nothing evaluated yet", file=sys.stderr)
        return df
    csv = df.to_csv(index=False, float_format="%.6g")
    atomic_write_text(out / "texture_collapse.csv", csv)
    fig = plot(df)
    targets = [out] + ([Path(args.figures_dir)] if args.figures_dir else [])
    for folder in targets:
        if folder != out:
            atomic_write_text(folder / "texture_collapse.csv", csv)
        with atomic_path(folder / "texture_collapse.png", suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, format="png", bbox_inches="tight")
    print(summary_table(df))
    print(f"({time.perf_counter() - tic:.0f} s)")
    return df


if __name__ == "__main__":
    main()
