"""Verdict logic of experiments.claims on planted per-seed data, against scipy's t interval."""
import math

import numpy as np
import pytest
from scipy import stats

from experiments.claims import (CONTRADICTED, NOT_SHOWN, SHOWN, claims_table, evaluate_claim, mean_interval,
                                verdict)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_interval_is_scipys_t_interval(seed):
    x = np.random.default_rng(seed).normal(0.3, 1.0, size=5)
    m, lo, hi, n = mean_interval(x)
    ref = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert n == 5 and m == pytest.approx(x.mean())
    np.testing.assert_allclose([lo, hi], ref, rtol=1e-12)


def test_interval_covers_the_planted_mean_at_its_nominal_rate():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(2000):
        _, lo, hi, _ = mean_interval(rng.normal(1.0, 2.0, size=3))
        covered += lo <= 1.0 <= hi
    assert abs(covered / 2000 - 0.95) < 0.015   # binomial sd at 2000 trials ≈ 0.005


@pytest.mark.parametrize("effect, expected", [(1.0, SHOWN), (-1.0, CONTRADICTED), (0.0, NOT_SHOWN)])
def test_planted_effects_get_their_verdict(effect, expected):
    rng = np.random.default_rng(7)
    b = rng.normal(0.5, 0.3, size=4)            # seed-to-seed variation shared by A and B (paired)
    noise = np.array([0.01, -0.01, 0.005, -0.005])
    row = evaluate_claim("A beats B", "score", b + effect + noise, b, a_name="A", b_name="B")
    assert row.verdict == expected
    assert row.difference == pytest.approx(effect, abs=1e-12)
    assert row.n_seeds == 4


def test_pairing_matters_a_shared_seed_effect_does_not_hide_a_small_difference():
    shared = np.array([0.0, 10.0, -10.0])        # huge seed effect, identical in A and B
    row = evaluate_claim("A > B", "m", shared + 0.1 + np.array([0.0, 0.01, -0.01]), shared)
    assert row.verdict == SHOWN                  # unpaired intervals would overlap entirely


def test_one_seed_or_non_finite_values_are_never_shown():
    assert evaluate_claim("c", "m", [1.0], [0.0]).verdict == NOT_SHOWN
    row = evaluate_claim("c", "m", [1.0, np.nan, 2.0], [0.0, 0.0, np.nan])
    assert row.n_seeds == 1 and row.verdict == NOT_SHOWN and math.isnan(row.low)
    assert verdict(0.0, 1.0) == NOT_SHOWN        # touching zero is not shown


def test_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match="one value per seed"):
        evaluate_claim("c", "m", [1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match="confidence"):
        mean_interval([1.0, 2.0], confidence=95)


def test_table_rows_are_computed_from_the_numbers():
    rows = [evaluate_claim("up", "x [a.u.]", [2.0, 2.15, 2.2], [1, 1.1, 1.2], a_name="trained", b_name="untrained"),
            evaluate_claim("down", "y", [0, 0.1, 0.2], [1, 1.1, 1.2], note="quick budget")]
    lines = claims_table(rows).splitlines()
    assert lines[0].startswith("| claim |") and len(lines) == 4
    assert "trained 2.12" in lines[2] and "untrained 1.1" in lines[2] and lines[2].endswith("**shown** |")
    assert "(quick budget)" in lines[3] and lines[3].endswith(f"**{CONTRADICTED}** |")
    assert claims_table([r.to_dict() for r in rows]) == claims_table(rows)   # records read back from JSON


def test_evaluation_families_must_be_held_out_of_training(tmp_path):
    import pytest

    from experiments.reproductions.texture_measures import check_held_out, training_families
    from neuromodels.texture_families import HELD_OUT_FAMILIES

    names, what = training_families({"data": {"source": "texture_families", "images": ["camera_0", "moon_1"]}})
    assert names == ["camera_0", "moon_1"] and "synthesized" in what
    check_held_out(names, HELD_OUT_FAMILIES)                       # disjoint: accepted
    for family in ("banded", "dotted"):                            # a DTD-like folder: one family per sub-folder
        (tmp_path / family).mkdir()
    names, _ = training_families({"data": {"source": "folder", "folder": str(tmp_path)}})
    assert names == ["banded", "dotted"]
    with pytest.raises(ValueError, match="trained on: dotted") as err:
        check_held_out(names, ["dotted", "grass"])
    assert "data.images" in str(err.value)                         # says how to fix it
    assert training_families({"data": {"source": "bundled"}})[0] == []   # natural photographs: no families


def test_unmatched_ablations_use_the_first_and_last_stage_matched_amplitudes():
    import neuromodels
    from experiments.reproductions.lcl_v2 import variant_config

    cfg = {"train": {"config": "lcl_v2_quick.yaml", "overrides": []}}
    matched = variant_config(cfg, "matched")
    model = neuromodels.build_model(matched["model"], **matched["model_config"])
    rf = [model.receptive_fields()[s].size for s in model.stage_names]
    c, cell_c = matched["augment"]["c"], matched["augment"]["cell_c"]
    assert rf[0] < rf[-1]                                            # stages see more and more of the image
    for variant, size in (("unmatched", rf[0]), ("unmatched_large", rf[-1])):
        a = variant_config(cfg, variant)["augment"]
        assert a["matched"] is False                                 # one amplitude for every stage
        assert abs(a["amplitude"] - c * size) < 1e-9 and abs(a["cell_size"] - max(2.0, cell_c * size)) < 1e-9
    assert matched["augment"]["matched"] is True
    assert variant_config(cfg, "end_to_end")["schedule"]["kind"] == "end_to_end"


def test_texture_controls_are_the_seeded_untrained_architecture_and_the_v1_front_end(tmp_path):
    import torch

    import neuromodels
    from experiments.reproductions.texture_model import comparison_models
    from neuromodels.weights import save_weights

    cfg = {"train": {"config": "texture_model_quick.yaml", "overrides": []}, "v1_config": {"n_scales": 2}}
    model_config = {"n_scales": 2, "n_orientations": 4, "v1_cells": "both", "channels": 16}
    torch.manual_seed(123)
    trained = neuromodels.build_model("texture_model", **model_config)
    save_weights(trained, "texture_model", model_config, tmp_path / "trained.pt")
    a = comparison_models(cfg, str(tmp_path / "trained.pt"), seed=1, resnet=False)
    b = comparison_models(cfg, str(tmp_path / "trained.pt"), seed=1, resnet=False)
    c = comparison_models(cfg, str(tmp_path / "trained.pt"), seed=2, resnet=False)
    assert set(a) == {"texture_model", "texture_model_untrained", "v1_front_end"}

    def params(models, name):
        return torch.cat([p.detach().flatten() for p in models[name][0].parameters()])

    assert torch.equal(params(a, "texture_model"), params(b, "texture_model"))          # the checkpoint
    assert torch.equal(params(a, "texture_model_untrained"), params(b, "texture_model_untrained"))  # seeded
    assert not torch.equal(params(a, "texture_model_untrained"), params(c, "texture_model_untrained"))
    assert not torch.equal(params(a, "texture_model_untrained"), params(a, "texture_model"))
    assert a["texture_model"][1] == a["texture_model_untrained"][1]                     # same layers, same architecture
