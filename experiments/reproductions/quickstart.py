"""Every reproduction in its quick variant, with one combined report.

The texture model, LCL-V2 (with its ablation, baseline and LCL-V2Net), manifold
geometry (reusing the models trained by the first two) and normalizing-flow
components, each in its own sub-folder; this report collects their headline
numbers and every figure.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..config import load_config
from ..runner import Run, Section

TITLE = "Quickstart: the toolkit's reproductions on bundled data"
PARTS = ["texture_model", "lcl_v2", "manifolds", "flows"]


def run(run: Run, cfg: dict, device) -> None:
    from . import REPRODUCTIONS, run_reproduction

    for name in cfg.get("parts", PARTS):
        run.stage(name, lambda r, n=name: _part(r, n, cfg, device, REPRODUCTIONS, run_reproduction))
    _drop_repeated_sections(run)


def _drop_repeated_sections(run: Run) -> None:
    """Parts that build the same stimuli and recordings say so once in the combined report."""
    seen = set()
    for record in run.records.values():
        kept = []
        for sec in record.get("sections", []):
            key = (sec.title.split(" — ")[-1], sec.reading, sec.table)
            if key not in seen:
                seen.add(key)
                kept.append(sec)
        record["sections"] = kept


def _part(run: Run, name: str, cfg: dict, device, registry, run_reproduction) -> dict:
    sub_cfg = load_config(name, quick=True)
    for key, value in (cfg.get("overrides", {}).get(name) or {}).items():
        sub_cfg[key] = value
    if name == "manifolds":
        # reuse the models the other parts trained instead of training them again
        ckpts = {}
        for rec_name, stage, key in (("texture_model", "train", "texture_model"),
                                     ("lcl_v2", "train_matched", "lcl_v2")):
            rec = run.records.get(rec_name, {}).get("sub_records", {}).get(stage)
            if rec:
                ckpts[key] = rec["checkpoint"]
        # the supervised ResNet-50 that lcl_v2 trained on bundled-image classes
        cls = run.records.get("lcl_v2", {}).get("sub_records", {}).get("classification", {})
        if cls.get("checkpoints", {}).get("resnet50"):
            ckpts["resnet50"] = cls["checkpoints"]["resnet50"]
        sub_cfg.setdefault("checkpoints", {}).update(ckpts)
    out = run.path(name)
    report = run_reproduction(name, quick=True, device=str(device), out=out, config=sub_cfg)
    sub = Run.open_finished(out, name)
    headlines = sub.headlines()
    for h in headlines:
        h.name = f"[{name}] {h.name}"
        h.compute = h.compute or _compute(sub, name)
    sections = []
    for s in sub.sections():
        figs = [os.path.relpath(Path(f).resolve(), run.out) for f in s.figures]
        sections.append(Section(f"{registry[name].TITLE} — {s.title}", s.reading, figs, s.table))
    claims = [{**c, "claim": f"[{name}] {c['claim']}"} for r in sub.records.values() for c in r.get("claims", [])]
    return {"headlines": headlines, "sections": sections, "report": str(report), "claims": claims,
            "sub_records": {k: {kk: vv for kk, vv in v.items() if kk in ("checkpoint", "checkpoints", "source")}
                            for k, v in sub.records.items()},
            "_flops": float(sum(sub.flops.values())),
            # the part's own stage becomes `part_stage`; `stage` is this run's (the part's name)
            "metrics": [{"part": name, "part_stage": m.pop("stage"), **m} for m in sub.metrics_rows()]}


def _compute(sub: Run, name: str) -> str:
    from ..provenance import format_flops

    flops = sum(sub.flops.values())
    wall = sum(sub.timings.values())
    return f"{wall:.0f} s" + (f", {format_flops(flops)} training" if flops else "")
