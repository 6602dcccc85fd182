"""Tests of the complexity-matched local deformations.

The displacement field and the warp they use are tested in ``tests/neurocommon/test_deformations.py``.
"""
import math
from pathlib import Path

import pytest
import torch
import yaml

import neuromodels
from neuromodels import build_model
from neuromodels.augment import LocalDeformation, matched_amplitude


CONFIGS = Path(neuromodels.__file__).parent / "configs"


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_zero_amplitude_is_exact_identity():
    x = torch.rand(4, 1, 32, 32)
    assert torch.equal(LocalDeformation(0.0, 8.0)(x, generator=gen()), x)


def test_translation_is_uniform_within_bounds():
    d = LocalDeformation(0.0, 8.0, translation=3.0)
    f = d.field(torch.zeros(500, 1, 16, 16), gen(3))
    shift = f[:, :, 0, 0]
    assert torch.allclose(f, shift[:, :, None, None].expand_as(f))
    assert float(shift.abs().max()) <= 3.0
    assert float(shift.var()) == pytest.approx(36 / 12, rel=0.15)  # Var U(-a, a) = a^2 / 3


def test_deterministic_under_seed_and_varies_across_seeds():
    x = torch.rand(3, 1, 32, 32)
    d = LocalDeformation(1.5, 8.0, translation=1.0)
    assert torch.equal(d(x, generator=gen(5)), d(x, generator=gen(5)))
    assert not torch.allclose(d(x, generator=gen(5)), d(x, generator=gen(6)))


def test_matched_amplitude_is_c_times_receptive_field():
    model = build_model("lcl_v2")
    rf = model.receptive_fields()
    assert matched_amplitude(model, "stages.1", 0.1) == pytest.approx(0.1 * rf["stages.1"].size)
    assert matched_amplitude(model, 0, 0.1) == pytest.approx(0.1 * rf["stages.0"].size)
    d = LocalDeformation.matched(model, "stages.1", c=0.1, cell_c=0.5)
    assert d.amplitude == pytest.approx(2.4) and d.cell_size == pytest.approx(12.0)
    with pytest.raises(ValueError, match="unknown stage"):
        matched_amplitude(model, "stages.5", 0.1)


def test_bad_input_and_parameters():
    with pytest.raises(ValueError, match="float tensor"):
        LocalDeformation(1.0, 4.0)(torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match="cell_size"):
        LocalDeformation(1.0, 0.5)
    with pytest.raises(ValueError, match=">= 0"):
        LocalDeformation(-1.0, 4.0)
    assert math.isfinite(float(LocalDeformation(1.0, 4.0)(torch.rand(1, 1, 8, 8), gen()).sum()))


def test_global_shift_scales_with_the_receptive_field_like_the_deformation():
    model = build_model("lcl_v2")
    rf = {k: v.size for k, v in model.receptive_fields().items()}
    x = torch.rand(256, 1, 32, 32)
    shifts = {}
    for stage in model.stage_names:
        d = LocalDeformation.matched(model, stage, c=0.1, cell_c=0.5, translation_c=0.1)
        assert d.translation == pytest.approx(0.1 * rf[stage])
        no_local = LocalDeformation(0.0, d.cell_size, d.translation)
        field = no_local.field(x, gen(7))  # the shift alone: uniform in [-t, t] per axis
        shifts[stage] = float(field.pow(2).sum(1).mean().sqrt())
        assert shifts[stage] == pytest.approx(d.translation * (2 / 3) ** 0.5, rel=0.1)
    ratio = shifts["stages.1"] / shifts["stages.0"]
    assert ratio == pytest.approx(rf["stages.1"] / rf["stages.0"], rel=0.15)
    assert LocalDeformation.matched(model, 0, c=0.1).translation == 0.0  # default: no shift


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("lcl_v2*.yaml")))
def test_shipped_lcl_configs_add_no_unscaled_shift(name):
    cfg = yaml.safe_load((CONFIGS / name).read_text())
    assert cfg["augment"].get("translation", 0.0) == 0.0


def test_unmatched_ablation_both_ways():
    """'small': every stage at stage 1's matched amplitude; 'large': at the last stage's."""
    model = build_model("lcl_v2")
    matched = yaml.safe_load((CONFIGS / "lcl_v2.yaml").read_text())["augment"]
    for suffix in ("", "_quick"):
        for kind, stage in (("small", "stages.0"), ("large", "stages.1")):
            a = yaml.safe_load((CONFIGS / f"lcl_v2_unmatched_{kind}{suffix}.yaml").read_text())["augment"]
            assert a["matched"] is False
            assert a["amplitude"] == pytest.approx(matched_amplitude(model, stage, matched["c"]))
            assert a["cell_size"] == pytest.approx(matched_amplitude(model, stage, matched["cell_c"]))
    sweep = yaml.safe_load((CONFIGS / "sweeps" / "lcl_v2_c.yaml").read_text())
    assert (CONFIGS / sweep["config"]).is_file()
    cs = [float(o.split("=")[1]) for run in sweep["runs"] for o in run if o.startswith("augment.c=")]
    assert matched["c"] in cs and len(set(cs)) == len(sweep["runs"]) >= 4
