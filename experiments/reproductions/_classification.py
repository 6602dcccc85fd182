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


def classification_stage(run: Run, cfg: dict, device) -> dict:
    from analysis.plot.robustness import plot_ood_accuracy
    from analysis.robustness import ood_accuracy
    from neuromodels.training.supervised import train_classifier

    ccfg = cfg["classification"]
    seed = run.config.get("seed", 0)
    train_x, train_y, test, names = labelled_patches(ccfg, seed)
    n_classes = len(names)
    frontend = run.records["train_matched"]["checkpoint"]
    tables, metrics, heads, total_flops = [], [], [], 0.0
    import neuromodels

    checkpoints = {}
    names = list(ccfg["models"])
    if "lcl_v2net" in names and UNTRAINED_FRONTEND not in names:  # the untrained row beside the trained model
        names.insert(names.index("lcl_v2net") + 1, UNTRAINED_FRONTEND)
    for name in names:
        front = _untrained_frontend(run, cfg, seed) if name == UNTRAINED_FRONTEND else frontend
        model_config = _model_config(name, n_classes, front)
        model = neuromodels.build_model("lcl_v2net" if name == UNTRAINED_FRONTEND else name, **model_config)
        result = train_classifier(model, train_x, train_y, steps=ccfg["steps"], batch_size=ccfg["batch_size"],
                                  lr=ccfg["lr"], seed=seed, device=device, out_dir=run.path("train", f"cls_{name}"),
                                  model_name="lcl_v2net" if name == UNTRAINED_FRONTEND else name,
                                  model_config=model_config)
        checkpoints[name] = str(result.checkpoint)
        total_flops += result.flops_total
        model = result.model.eval()
        # images are labelled by class index; the classifier's argmax is compared with it
        table = ood_accuracy(model, test, "label_index", kinds=list(ccfg["distortions"] or []) or None,
                             strengths=ccfg["distortions"], classes=list(range(n_classes)), name=name,
                             device=device, seed=seed)
        tables.append(table)
        clean = table[table["strength"] == 0.0]  # strength 0 is the identity for every kind
        acc0 = float(clean["accuracy"].mean()) if len(clean) else float("nan")
        mean_ood = float(table["accuracy"].mean())
        metrics += [{"metric": "clean_accuracy", "model": name, "value": acc0},
                    {"metric": "mean_distorted_accuracy", "model": name, "value": mean_ood},
                    {"metric": "training_flops", "model": name, "value": result.flops_total}]
        heads.append(S.headline(f"OOD accuracy (mean over distortions), {name}", mean_ood,
                                source="bundled images (real)", compute=_fmt_flops(result.flops_total)))
    full = pd.concat(tables, ignore_index=True)
    full.to_csv(run.path("ood_accuracy.csv"), index=False)
    fig = plot_ood_accuracy(full)
    path = S.savefig(fig, run.figure_path("ood_accuracy"))
    best = max(heads, key=lambda h: h.value)
    reading = (f"LCL-V2Net (the trained LCL-V2 frozen under a ResNet-50), the same with the untrained LCL-V2 "
               f"architecture frozen instead ({UNTRAINED_FRONTEND}, the control), the VOneNet-like Gabor front end "
               f"and a plain ResNet-50, each trained {ccfg['steps']} steps on {n_classes} classes of bundled-image "
               f"patches (chance {1 / n_classes:.2f}), tested on held-out patches under distortions. Highest "
               f"mean accuracy: {best.name.split(', ')[-1]} ({best.value:.2f}).")
    return {"metrics": metrics, "headlines": heads, "_flops": total_flops, "checkpoints": checkpoints,
            "sections": [Section("Robustness of LCL-V2Net and baselines", reading, [path])]}


def _fmt_flops(f: float) -> str:
    from ..provenance import format_flops

    return f"{format_flops(f)} training"
