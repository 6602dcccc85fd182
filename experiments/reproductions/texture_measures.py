"""Texture measurements of one model on stimuli that fill its field of view, shared by the reproductions.

Every texture number in the claims tables comes from here: activations on the
texture stimuli shown over the model's **whole field of view** (the stimulus is
scaled to the model's input, so no unit sees only the gray surround), all
positions kept; dead units (silent or constant over every stimulus) are
excluded from the modulation index and counted; classification reads each
layer's **spatial average** (the model's texture statistics).
"""
from __future__ import annotations

import numpy as np

__all__ = ["measure_layers", "summary_rows", "training_families", "check_held_out"]


def measure_layers(model, layers: list[str], stimuli, device, batch_size: int = 32) -> dict:
    """{layer: {"modulation_index", "n_live", "n_dead", "texture_statistics", "live"}} of ``model`` on ``stimuli``.

    ``modulation_index`` is the mean over live units (Freeman et al. 2013,
    (r_texture − r_noise)/(r_texture + r_noise)); ``live`` the live units' responses
    (all positions); ``texture_statistics`` the layer's spatial average (one value per
    channel).
    """
    from analysis.activations import extract
    from analysis.texture import live_units, modulation_index, spatial_average

    acts = extract(model.to(device).eval(), stimuli, layers, batch_size=batch_size, device=device,
                   model_degrees=stimuli.visual_degrees, progress=False)
    out = {}
    for layer, asm in acts.items():
        live, n_dead = live_units(asm)
        mi = modulation_index(live, undefined="nan").values if live.sizes["neuroid"] else np.array([np.nan])
        out[layer] = {"modulation_index": float(np.nanmean(mi)) if np.isfinite(mi).any() else float("nan"),
                      "n_live": int(live.sizes["neuroid"]), "n_dead": int(n_dead),
                      "texture_statistics": spatial_average(asm), "live": live}
    return out


def training_families(train_cfg: dict) -> tuple[list[str], str]:
    """The texture families a training config trains on, and what they are in words.

    ``data.source: texture_families`` trains on the named syntheses (``data.images``);
    ``folder`` on the folder's sub-folders (one family each, e.g. DTD's categories);
    ``bundled_textures`` on the bundled textures themselves; ``bundled`` on natural
    photographs (no texture families).
    """
    from pathlib import Path

    data = train_cfg.get("data", {})
    source = data.get("source", "bundled")
    if source == "texture_families":
        from neuromodels.texture_families import default_train_families

        names = list(data.get("images") or default_train_families())
        return names, (f"{len(names)} homogeneous families synthesized (Portilla-Simoncelli) from crops of the "
                       f"bundled natural images")
    if source == "folder":
        folder = Path(str(data.get("folder", ""))).expanduser()
        names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        return names, f"the texture images in {folder} ({len(names) or 'no'} family sub-folders)"
    if source == "bundled_textures":
        from neuromodels.data import BUNDLED_TEXTURES

        names = list(data.get("images") or BUNDLED_TEXTURES)
        return names, "the bundled texture photographs"
    return [], "the bundled natural photographs (not textures)"


def check_held_out(train_names: list[str], eval_names) -> None:
    """Refuse a run whose evaluation texture families were seen in training."""
    seen = sorted(set(map(str, train_names)) & set(map(str, eval_names)))
    if seen:
        raise ValueError(
            f"the texture model would be evaluated on families it was trained on: {', '.join(seen)}. The "
            f"evaluation families ({', '.join(sorted(map(str, eval_names)))}) must be held out: drop them from the "
            f"training config's data.images (or data.folder), or evaluate on other stimuli (stimuli.sources)")


def summary_rows(values: dict[str, list[float]], what: str) -> list[str]:
    """Markdown rows ``| name | mean [95% interval] | seeds |`` for {name: per-seed values}."""
    from ..claims import mean_interval

    rows = []
    for name, v in values.items():
        m, lo, hi, n = mean_interval(v)
        interval = f"[{lo:.3g}, {hi:.3g}]" if np.isfinite(lo) else "(one seed: no interval)"
        rows.append(f"| {name} | {what} | {m:.3g} {interval} | {n} |")
    return rows
