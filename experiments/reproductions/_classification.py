"""LCL-V2Net and its baselines trained on a labelled set, then OOD accuracy under distortions.

Offline the labelled set is built from the bundled natural images: each image is
a class; training patches come from the left 70% of the image and test patches
from the right 30%, so no test pixel was seen in training. With ImageNet present
(its manifest), use the full config instead.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..runner import Run, Section
from . import stages as S

TRAIN_FRACTION = 0.7


def labelled_patches(cfg: dict, seed: int):
    """(train images, train labels, test StimulusSet, class names) from bundled images."""
    from analysis.bundled import bundled_images
    from analysis.stimuli import StimulusSet

    src = bundled_images(cfg.get("classes"), size=cfg.get("source_size", 256))
    imgs = src.load_images()[:, 0]
    names = [str(n) for n in src.table.get("image_name", src.table["stimulus_id"])]
    p = cfg["patch_size"]
    rng = np.random.default_rng(seed)
    train_x, train_y, test_x, test_y = [], [], [], []
    for label, img in enumerate(imgs):
        h, w = img.shape
        split = int(TRAIN_FRACTION * w)
        if split < p or w - split < p or h < p:
            raise ValueError(f"bundled image {names[label]!r} ({h}×{w}) too small for {p}-px patches on both sides")
        for _ in range(cfg["train_patches_per_class"]):
            y, x = rng.integers(0, h - p + 1), rng.integers(0, split - p + 1)
            train_x.append(img[y:y + p, x:x + p]), train_y.append(label)
        for _ in range(cfg["test_patches_per_class"]):
            y, x = rng.integers(0, h - p + 1), rng.integers(split, w - p + 1)
            test_x.append(img[y:y + p, x:x + p]), test_y.append(label)
    test = StimulusSet.from_images(np.stack(test_x), name="bundled_patches_test", visual_degrees=8.0,
                                   image_label=[names[i] for i in test_y], label_index=test_y)
    return (torch.as_tensor(np.stack(train_x))[:, None], torch.as_tensor(np.array(train_y)), test, names)


UNTRAINED_FRONTEND = "lcl_v2net_untrained"  # LCL-V2Net on the untrained LCL-V2 architecture (the control)


def _model_config(name: str, n_classes: int, frontend_checkpoint: str) -> dict:
    if name in ("lcl_v2net", UNTRAINED_FRONTEND):
        return {"frontend_checkpoint": frontend_checkpoint, "num_classes": n_classes}
    return {"num_classes": n_classes}


def _untrained_frontend(run: Run, cfg: dict, seed: int) -> str:
    """The untrained LCL-V2 (the matched config's architecture, ``seed``) written as a weights file."""
    from neuromodels.weights import save_weights

    from .lcl_v2 import untrained_model, variant_config

    path = run.path("train", "lcl_v2_untrained.pt")
    train = variant_config(cfg, "matched")
    save_weights(untrained_model(cfg, seed), train["model"], train.get("model_config", {}), path)
    return str(path)


def seed_mean_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per-seed OOD accuracy (``seed`` column) → mean over seeds with its 95% t interval.

    The interval is across seeds (the classifiers' training variability); with one
    seed the table is returned as is (its binomial interval over test images).

    Examples
    --------
    >>> t = pd.DataFrame({"subj": "m", "kind": "blur", "strength": 0.0, "chance": 0.5,
    ...                   "accuracy": [0.6, 0.8, 0.7], "ci_low": 0.0, "ci_high": 1.0, "seed": [0, 1, 2]})
    >>> row = seed_mean_table(t).iloc[0]
    >>> round(float(row["accuracy"]), 3), round(float(row["ci_high"] - row["accuracy"]), 3)  # t(2) 4.303 x 0.1/sqrt(3)
    (0.7, 0.248)
    """
    from ..claims import mean_interval

    if table["seed"].nunique() < 2:
        return table.drop(columns="seed")
    rows = []
    for (subj, kind, strength), d in table.groupby(["subj", "kind", "strength"], sort=False):
        mean, low, high, n = mean_interval(d["accuracy"].to_numpy())
        rows.append({"subj": subj, "kind": kind, "strength": strength, "accuracy": mean, "ci_low": low,
                     "ci_high": high, "chance": float(d["chance"].iloc[0]), "n_seeds": n})
    return pd.DataFrame(rows)


def classification_stage(run: Run, cfg: dict, device) -> dict:
    from analysis.plot.robustness import plot_ood_accuracy
    from analysis.robustness import ood_accuracy
    from neuromodels.training.supervised import train_classifier

    from .lcl_v2 import seeds, trained_checkpoint

    ccfg = cfg["classification"]
    tables, metrics, total_flops = [], [], 0.0
    import neuromodels

    checkpoints = {}
    names = list(ccfg["models"])
    if "lcl_v2net" in names and UNTRAINED_FRONTEND not in names:  # the untrained row beside the trained model
        names.insert(names.index("lcl_v2net") + 1, UNTRAINED_FRONTEND)
    # every training seed: each seed's LCL-V2Net reads that seed's matched LCL-V2 (its control that
    # seed's untrained architecture) and all models of a seed see the same patches, so the
    # robustness claims are paired differences across seeds with an interval
    run_seeds = seeds(run, cfg)
    first = run_seeds[0]
    for seed in run_seeds:
        train_x, train_y, test, classes = labelled_patches(ccfg, seed)
        n_classes = len(classes)
        frontend = trained_checkpoint(run, "matched", seed)
        for name in names:
            front = _untrained_frontend(run, cfg, seed) if name == UNTRAINED_FRONTEND else frontend
            model_config = _model_config(name, n_classes, front)
            model = neuromodels.build_model("lcl_v2net" if name == UNTRAINED_FRONTEND else name, **model_config)
            folder = f"cls_{name}" if seed == first else f"cls_{name}_seed{seed}"
            result = train_classifier(model, train_x, train_y, steps=ccfg["steps"], batch_size=ccfg["batch_size"],
                                      lr=ccfg["lr"], seed=seed, device=device, out_dir=run.path("train", folder),
                                      model_name="lcl_v2net" if name == UNTRAINED_FRONTEND else name,
                                      model_config=model_config)
            if seed == first:
                checkpoints[name] = str(result.checkpoint)
            total_flops += result.flops_total
            model = result.model.eval()
            # images are labelled by class index; the classifier's argmax is compared with it
            table = ood_accuracy(model, test, "label_index", kinds=list(ccfg["distortions"] or []) or None,
                                 strengths=ccfg["distortions"], classes=list(range(n_classes)), name=name,
                                 device=device, seed=seed)
            tables.append(table.assign(seed=seed))
            clean = table[table["strength"] == 0.0]  # strength 0 is the identity for every kind
            acc0 = float(clean["accuracy"].mean()) if len(clean) else float("nan")
            mean_ood = float(table["accuracy"].mean())
            metrics += [{"metric": "clean_accuracy", "model": name, "seed": seed, "value": acc0},
                        {"metric": "mean_distorted_accuracy", "model": name, "seed": seed, "value": mean_ood},
                        {"metric": "training_flops", "model": name, "seed": seed, "value": result.flops_total}]
    full = pd.concat(tables, ignore_index=True)
    full.to_csv(run.path("ood_accuracy.csv"), index=False)
    fig = plot_ood_accuracy(seed_mean_table(full))
    path = S.savefig(fig, run.figure_path("ood_accuracy"))
    per_model = pd.DataFrame([m for m in metrics if m["metric"] == "mean_distorted_accuracy"])
    heads = [S.headline(f"OOD accuracy (mean over distortions and {len(run_seeds)} seeds), {name}",
                        float(per_model.loc[per_model["model"] == name, "value"].mean()),
                        source="bundled images (real)",
                        compute=_fmt_flops(sum(m["value"] for m in metrics
                                               if m["metric"] == "training_flops" and m["model"] == name)))
             for name in names]
    best = max(heads, key=lambda h: h.value)
    spread = ("the curves are means over seeds with their 95% t interval across seeds" if len(run_seeds) > 1
              else "one seed: the bars are binomial intervals over test images")
    reading = (f"LCL-V2Net (the trained LCL-V2 frozen under a ResNet-50), the same with the untrained LCL-V2 "
               f"architecture frozen instead ({UNTRAINED_FRONTEND}, the control), the VOneNet-like Gabor front end "
               f"and a plain ResNet-50, each trained {ccfg['steps']} steps on {n_classes} classes of bundled-image "
               f"patches (chance {1 / n_classes:.2f}) with each of the seeds {run_seeds} (LCL-V2Net on that seed's "
               f"LCL-V2), tested on held-out patches under distortions; {spread}. Highest mean accuracy: "
               f"{best.name.split(', ')[-1]} ({best.value:.2f}).")
    return {"metrics": metrics, "headlines": heads, "_flops": total_flops, "checkpoints": checkpoints,
            "sections": [Section("Robustness of LCL-V2Net and baselines", reading, [path])]}


def _fmt_flops(f: float) -> str:
    from ..provenance import format_flops

    return f"{format_flops(f)} training"
