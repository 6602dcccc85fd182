"""The quick reproduction suite (the README's main job) runs end to end and reports honestly."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

PARTS = ["texture_model", "lcl_v2", "manifolds", "flows"]
pytestmark = pytest.mark.slow


def _metric(folder: Path, metric: str, **where) -> pd.DataFrame:
    df = pd.read_csv(folder / "metrics.csv")
    sel = df[df["metric"] == metric]
    for k, v in where.items():
        sel = sel[sel[k] == v]
    return sel


def test_combined_report_has_every_part_and_every_figure_exists(quickstart_dir):
    text = (quickstart_dir / "report.md").read_text()
    assert text.startswith("# Quickstart")
    table = text.split("## Headline numbers", 1)[1].split("\n\n")[1]
    rows = [r for r in table.splitlines()[2:] if r.startswith("|")]
    for part in PARTS:
        assert any(f"[{part}]" in r for r in rows), part
    # every headline row says where its data came from and what it cost
    for r in rows:
        cells = [c.strip() for c in r.strip("|").split("|")]
        assert cells[2], r
        assert cells[3], r
    assert "**Simulated data.**" in text
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(figures) >= 12
    for fig in figures:
        assert (quickstart_dir / fig).is_file(), fig
    combined = pd.read_csv(quickstart_dir / "metrics.csv")
    assert set(combined["stage"]) == set(PARTS) and set(combined["part"]) == set(PARTS)
    assert "linear_theory" in set(combined["part_stage"])
    prov = json.loads((quickstart_dir / "provenance.json").read_text())
    assert prov["training_flops"] > 0 and prov["wall_time_s"] > 0


def test_planted_structure_is_recovered(quickstart_dir):
    tm = quickstart_dir / "texture_model"
    mi = _metric(tm, "modulation_index").set_index("population")["value"]
    assert mi["recording:V2"] > mi["recording:V1"] + 0.03       # simulated V2 prefers textures
    ceil = _metric(tm, "ceiling").set_index("region")["value"]
    assert 0 < ceil["V1"] < 1 and 0 < ceil["V2"] < 1
    # what is planted: texture families differ in their statistics, so a model's texture representation
    # (trained or untrained: the untrained V2 still pools V1 energy) classifies them above chance (1/4)
    # once it has the most training images; the controls (random ResNet-50, few images) need not
    acc = _metric(tm, "family_accuracy")
    largest = acc[acc["n_train"] == acc["n_train"].max()].set_index("model")["value"]
    texture_models = largest[largest.index.str.startswith(("trained V2", "untrained V2"))]
    assert len(texture_models) == 2, largest
    assert (texture_models > 1 / 4).all(), largest
    assert acc["value"].between(0, 1).all()
    fl = quickstart_dir / "flows"
    assert _metric(fl, "jtj_relative_error")["value"].iloc[0] < 0.05
    assert _metric(fl, "top_component_cos")["value"].iloc[0] > 0.99
    assert _metric(fl, "s_curve_tangent_cos")["value"].iloc[0] > 0.8


def test_lcl_variants_share_the_budget_and_losses_fall(quickstart_dir):
    lcl = quickstart_dir / "lcl_v2"
    steps = {v: json.loads((lcl / "stages" / f"train_{v}.json").read_text())["steps"]
             for v in ("matched", "unmatched", "unmatched_large", "end_to_end")}
    assert len(set(steps.values())) == 1, steps
    first = _metric(lcl, "loss_first").set_index(["model", "model_stage"])["value"]
    last = _metric(lcl, "loss_last").set_index(["model", "model_stage"])["value"]
    assert (last < first).all(), pd.concat([first, last], axis=1)
    by_stage = pd.read_csv(lcl / "by_stage.csv")
    assert set(by_stage["model"]) == {"lcl_v2_matched", "lcl_v2_unmatched", "lcl_v2_unmatched_large",
                                      "lcl_v2_end_to_end", "lcl_v2_untrained"}
    assert set(by_stage["convention"]) == {"r2/c"}                 # the ceiling convention is named
    assert by_stage["capacity"].gt(0).all()
    ood = pd.read_csv(lcl / "ood_accuracy.csv")
    assert set(ood["subj"]) == {"lcl_v2net", "lcl_v2net_untrained", "vonenet_resnet50", "resnet50"}
    assert ood["accuracy"].between(0, 1).all()


def test_manifolds_cover_models_and_regions(quickstart_dir):
    geo = pd.read_csv(quickstart_dir / "manifolds" / "geometry.csv")
    assert {"steerable_v1", "gabor_v1", "texture_model", "lcl_v2", "resnet50"} <= set(geo["model"])
    assert any(m.startswith("recording") for m in geo["model"])
    assert geo[["capacity", "radius", "dimension"]].notna().all().all()


def test_rerun_reuses_finished_stages(quickstart_dir, tmp_path):
    from experiments.reproductions import run_reproduction

    before = (quickstart_dir / "report.md").read_text().split("## Provenance")[0]
    records = sorted((quickstart_dir / "flows" / "stages").glob("*.json"))
    stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in records}
    run_reproduction("flows", quick=True, device="cpu", out=quickstart_dir / "flows")
    # nothing recomputed: every finished stage record is the same file, untouched
    assert records and stamps == {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in records}
    after_parts = (quickstart_dir / "flows" / "report.md").read_text()
    assert "S-curve" in after_parts and "S-curve" in before


def test_cli_takes_overrides_after_the_options(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "experiments", "run", "flows", "--quick", "--out", str(tmp_path),
                          "linear.nope=1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown key 'nope'" in bad.stderr


def test_cli_lists_reproductions_and_refuses_unknown_names():
    out = subprocess.run([sys.executable, "-m", "experiments", "list"], capture_output=True, text=True, check=True)
    for name in PARTS + ["quickstart"]:
        assert name in out.stdout
    bad = subprocess.run([sys.executable, "-m", "experiments", "run", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "available:" in bad.stderr


def test_claims_table_leads_the_report_with_computed_verdicts(quickstart_dir):
    from experiments.claims import CONTRADICTED, NOT_SHOWN, SHOWN

    text = (quickstart_dir / "report.md").read_text()
    assert text.index("## Claims") < text.index("## Headline numbers")
    table = text.split("## Claims", 1)[1].split("## Headline numbers")[0]
    rows = [r for r in table.splitlines() if r.startswith("| [")]
    for part in ("texture_model", "lcl_v2"):
        assert any(r.startswith(f"| [{part}]") for r in rows), part
    for r in rows:
        cells = [c.strip() for c in r.strip("|").split("|")]
        assert cells[-1].strip("*") in {SHOWN, NOT_SHOWN, CONTRADICTED}, r
        assert int(cells[-2]) >= 3 or "LCL-V2Net" in cells[0], r      # every seeded claim has >= 3 seeds
    tm = pd.read_csv(quickstart_dir / "texture_model" / "metrics.csv")
    assert set(tm[tm["metric"] == "claims_mi_v2"]["seed"]) == {0, 1, 2}


def test_pretrained_resnet50_row_reads_only_the_exact_cached_file(tmp_path, monkeypatch):
    """The ImageNet ResNet-50 control loads from the torch hub cache and never downloads.

    A state dict saved under torchvision's IMAGENET1K_V1 file name stands in for the real
    weights (no network here): the model built must carry exactly those values; another
    ResNet-50 file name (IMAGENET1K_V2's) must not count, and nothing is fetched.
    """
    import torch
    import torchvision

    from experiments.reproductions.texture_model import cached_pretrained_resnet50

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # torch.hub.get_dir() -> tmp_path/hub
    ckpt = tmp_path / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.manual_seed(3)
    stand_in = torchvision.models.resnet50(weights=None).state_dict()
    torch.save(stand_in, ckpt / "resnet50-11ad3fa6.pth")  # IMAGENET1K_V2: not the file loaded
    logged = []
    assert cached_pretrained_resnet50(logged.append) is None
    assert "no cached ImageNet ResNet-50 weights" in logged[0]
    torch.save(stand_in, ckpt / "resnet50-0676ba61.pth")
    model = cached_pretrained_resnet50(logged.append)
    loaded = model.state_dict()
    prefix = next(k[: -len("conv1.weight")] for k in loaded if k.endswith("conv1.weight"))
    for name in ("conv1.weight", "layer2.0.conv2.weight", "fc.bias"):
        assert torch.equal(loaded[prefix + name], stand_in[name])
