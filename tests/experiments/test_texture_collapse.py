"""The reusable measures of experiments.studies.texture_collapse, on planted data (no training)."""
import numpy as np
import pandas as pd
import pytest

from analysis.assemblies import make_assembly
from experiments.studies.texture_collapse import collect, live_channels, participation_ratio, texture_pairs


def _layer(values, channels):
    n = values.shape[0]
    return make_assembly(values, stimulus_id=[f"s{i}" for i in range(n)],
                         neuroid_coords={"channel": channels, "channel_x": np.tile([0, 1, 2], len(channels) // 3)})


def test_live_channels_counts_channels_with_any_live_unit():
    rng = np.random.default_rng(0)
    n_stim, n_pos = 10, 3
    channels = np.repeat(np.arange(5), n_pos)
    v = np.zeros((n_stim, 5 * n_pos))
    v[:, 0:3] = rng.random((n_stim, 3))            # channel 0: live at every position
    v[:, 3:6] = 0.0                                # channel 1: silent (dead)
    v[:, 6] = rng.random(n_stim)                   # channel 2: live at one position, silent elsewhere
    v[:, 9:12] = np.array([0.5, 1.0, 2.0])         # channel 3: constant over stimuli (differs by position): dead
    v[:, 12:15] = rng.random((n_stim, 3)) + 1.0    # channel 4: live
    assert live_channels(_layer(v, channels)) == (3, 5)


def test_live_channels_tolerance_is_relative_to_the_population():
    channels = np.repeat(np.arange(2), 3)
    v = np.ones((6, 6))
    v[:, :3] += np.arange(6)[:, None] * 1.0
    v[:, 3:] += np.arange(6)[:, None] * 1e-12      # varies, but far below tol x the largest range
    assert live_channels(_layer(v, channels)) == (1, 2)
    with pytest.raises(ValueError, match="channel"):
        live_channels(make_assembly(v, stimulus_id=[f"s{i}" for i in range(6)]))


def test_participation_ratio_on_planted_dimensions():
    rng = np.random.default_rng(1)
    iso = rng.standard_normal((4000, 5))
    assert participation_ratio(iso) == pytest.approx(5, rel=0.05)
    one = rng.standard_normal((500, 1)) * np.array([[1.0, 2.0, -3.0]])
    assert participation_ratio(one) == pytest.approx(1.0, abs=1e-6)
    # scaled dimensions: raw covariance sees one dominant direction, the standardized features three
    scaled = rng.standard_normal((4000, 3)) * np.array([100.0, 1.0, 1.0])
    assert participation_ratio(scaled, standardize=False) == pytest.approx(1.0, abs=0.01)
    assert participation_ratio(scaled) == pytest.approx(3, rel=0.05)
    # constant dimensions are dropped; nothing varying gives 0
    assert participation_ratio(np.c_[iso[:, :2], np.ones(4000)]) == pytest.approx(2, rel=0.05)
    assert participation_ratio(np.ones((5, 3))) == 0.0
    with pytest.raises(ValueError):
        participation_ratio(np.ones(5))


def test_texture_pairs_layout_and_normalization():
    rng = np.random.default_rng(2)
    tex = {(fam, j): rng.random((16, 16)) for fam in ("a", "b") for j in range(3)}
    s = texture_pairs(tex, name="planted")
    t = s.table
    assert len(s) == 12 and list(t["texture_family"].unique()) == ["a", "b"]
    assert (t.groupby(["texture_family", "texture_type"]).size() == 3).all()
    imgs = s.images[:, 0]
    assert imgs.shape == (12, 16, 16) and imgs.min() >= 0 and imgs.max() <= 1
    assert np.allclose(imgs.mean((1, 2)), 0.5, atol=0.02)
    raw = texture_pairs(tex, normalize=False)
    first = raw.table.index[(raw.table["stimulus_id"] == "a-texture-00")][0]
    assert np.allclose(raw.images[first, 0], tex["a", 0], atol=1e-6)


def test_collect_reads_evaluated_checkpoints(tmp_path):
    import json

    (tmp_path / "eval").mkdir()
    for step in (60, 0):
        rows = [{"representation": "V2", "stimuli": "held_out", "acc_n1": 0.5 + step / 1000, "variant": "baseline",
                 "seed": 0, "step": step}]
        (tmp_path / "eval" / f"baseline_seed0_step{step}.json").write_text(json.dumps({"rows": rows}))
    df = collect(tmp_path)
    assert isinstance(df, pd.DataFrame) and df["step"].tolist() == [0, 60]
    assert list(df.columns[:5]) == ["variant", "seed", "step", "representation", "stimuli"]
    assert collect(tmp_path / "none").empty


def test_active_fraction_of_a_small_untrained_model():
    import torch

    import neuromodels
    from experiments.studies.texture_collapse import active_fraction

    rng = np.random.default_rng(3)
    stim = texture_pairs({(fam, j): rng.random((32, 32)) for fam in ("a", "b") for j in range(2)})
    torch.manual_seed(0)
    model = neuromodels.build_model("texture_model", n_scales=2, channels=4)
    out = active_fraction(model, stim)
    assert set(out) == {"active", "active_live", "dead_border", "dead_center"}
    assert 0.0 < out["active"] <= out["active_live"] <= 1.0
    with torch.no_grad():
        model.stages[0].conv.bias.fill_(-1e6)  # every V2 unit silenced: nothing active, everything dead
    assert active_fraction(model, stim) == {"active": 0.0, "active_live": 0.0, "dead_border": 1.0,
                                            "dead_center": 1.0}
