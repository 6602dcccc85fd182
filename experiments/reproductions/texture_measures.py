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

__all__ = ["measure_layers", "summary_rows"]


def measure_layers(model, layers: list[str], stimuli, device, batch_size: int = 32) -> dict:
    """{layer: {"modulation_index", "n_live", "n_dead", "texture_statistics"}} of ``model`` on ``stimuli``."""
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
                      "texture_statistics": spatial_average(asm)}
    return out


def summary_rows(values: dict[str, list[float]], what: str) -> list[str]:
    """Markdown rows ``| name | mean [95% interval] | seeds |`` for {name: per-seed values}."""
    from ..claims import mean_interval

    rows = []
    for name, v in values.items():
        m, lo, hi, n = mean_interval(v)
        interval = f"[{lo:.3g}, {hi:.3g}]" if np.isfinite(lo) else "(one seed: no interval)"
        rows.append(f"| {name} | {what} | {m:.3g} {interval} | {n} |")
    return rows
