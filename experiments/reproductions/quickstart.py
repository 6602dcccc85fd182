"""Every reproduction in its quick variant, with one combined report.

The texture model, LCL-V2 (with its ablation, baseline and LCL-V2Net), manifold
geometry (reusing the models trained by the first two) and normalizing-flow
components, each in its own sub-folder; this report collects their headline
numbers and every figure.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..runner import Run, Section
from . import get_reproduction, list_reproductions, register_reproduction, run_reproduction

TITLE = "Quickstart: the toolkit's reproductions on bundled data"


@register_reproduction("quickstart", title=TITLE)
def run(run: Run, cfg: dict, device) -> None:
    parts = cfg.get("parts") or default_parts()
    unknown = sorted(set(parts) - set(list_reproductions()) | ({"quickstart"} & set(parts)))
    if unknown:
        raise ValueError(f"quickstart parts {unknown} are not reproductions it can run; registered: "
                         f"{', '.join(default_parts())}")
    for name in parts:
        run.stage(name, lambda r, n=name: _part(r, n, cfg, device))
    _drop_repeated_sections(run)


def default_parts() -> list[str]:
    """Every registered reproduction but this one, in an order that lets later parts reuse trained models.

    Parts that train models others reuse (``trains=`` in their registration) come first,
    parts whose quick config has a ``checkpoints:`` mapping (they reuse models) last;
    alphabetical within each group. The quickstart configs may list ``parts:`` instead.
    """
    def group(name: str) -> int:
        rep = get_reproduction(name)
        if rep.trains:
            return 0
        return 2 if isinstance(rep.load_config(quick=True).get("checkpoints"), dict) else 1

    return sorted((n for n in list_reproductions() if n != "quickstart"), key=group)


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


def _part(run: Run, name: str, cfg: dict, device) -> dict:
    rep = get_reproduction(name)
    sub_cfg = rep.load_config(quick=True)
    for key, value in (cfg.get("overrides", {}).get(name) or {}).items():
        sub_cfg[key] = value
    if isinstance(sub_cfg.get("checkpoints"), dict):
        # the models it leaves null come from earlier parts (their registrations say where) instead of being trained again
        trained = trained_checkpoints(run)
        sub_cfg["checkpoints"] = {k: v or trained.get(k) for k, v in sub_cfg["checkpoints"].items()}
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
        sections.append(Section(f"{rep.title} — {s.title}", s.reading, figs, s.table))
    claims = [{**c, "claim": f"[{name}] {c['claim']}"} for r in sub.records.values() for c in r.get("claims", [])]
    return {"headlines": headlines, "sections": sections, "report": str(report), "claims": claims,
            "sub_records": {k: {kk: vv for kk, vv in v.items() if kk in ("checkpoint", "checkpoints", "source")}
                            for k, v in sub.records.items()},
            "_flops": float(sum(sub.flops.values())),
            # the part's own stage becomes `part_stage`; `stage` is this run's (the part's name)
            "metrics": [{"part": name, "part_stage": m.pop("stage"), **m} for m in sub.metrics_rows()]}


def trained_checkpoints(run: Run) -> dict:
    """Model name → checkpoint of every model that the finished parts of ``run`` trained."""
    out = {}
    for part, record in run.records.items():
        if part not in list_reproductions():
            continue
        rep = get_reproduction(part)
        for model in rep.trains:
            ckpt = rep.checkpoint_of(model, record.get("sub_records", {}))
            if ckpt:
                out[model] = ckpt
    return out


def _compute(sub: Run, name: str) -> str:
    from ..provenance import format_flops

    flops = sum(sub.flops.values())
    wall = sum(sub.timings.values())
    return f"{wall:.0f} s" + (f", {format_flops(flops)} training" if flops else "")
