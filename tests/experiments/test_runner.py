"""Run folders: stages resume instead of recomputing, records and reports are written whole."""
import json

import pytest

from experiments.config import apply_overrides, available, load_config
from experiments.report import headline_table, write_report
from experiments.runner import Headline, Run, Section


def test_finished_stage_is_reused_not_recomputed(tmp_path):
    calls = []

    def body(run):
        calls.append(1)
        return {"metrics": [{"metric": "x", "value": 3.0}], "_flops": 10.0}

    Run(tmp_path, {"seed": 0}, "demo").stage("a", body)
    again = Run(tmp_path, {"seed": 0}, "demo")
    rec = again.stage("a", body)
    assert calls == [1]
    assert rec["metrics"] == [{"metric": "x", "value": 3.0}]
    assert again.flops["a"] == 10.0


def test_failed_stage_leaves_no_record_and_runs_again(tmp_path):
    def boom(run):
        raise RuntimeError("interrupted")

    run = Run(tmp_path, {}, "demo")
    with pytest.raises(RuntimeError):
        run.stage("a", boom)
    assert not (tmp_path / "stages" / "a.json").exists()
    assert run.stage("a", lambda r: {"ok": 1})["ok"] == 1


def test_report_has_headline_table_with_sources_and_simulated_warning(tmp_path):
    run = Run(tmp_path, {}, "demo")
    run.stage("s", lambda r: {"headlines": [Headline("V2 score", 0.5, 0.1, "simulated", "1 GFLOP")],
                              "sections": [Section("Part", "Reading.", [str(r.figure_path("f"))])],
                              "metrics": [{"metric": "m", "value": 1.0}]})
    path = write_report(run, "Title", "Intro.", {"device": "cpu"})
    text = path.read_text()
    assert "| V2 score | 0.5 ± 0.1 | simulated | 1 GFLOP |" in text
    assert "**Simulated data.**" in text
    assert "![Part](figures/f.png)" in text
    assert json.loads((tmp_path / "metrics.json").read_text())[0]["metric"] == "m"
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0] == "stage,metric,value"


def test_headline_table_formats_missing_values():
    assert "| a | n/a | real |  |" in headline_table([Headline("a", float("nan"), source="real")])


def test_every_reproduction_has_a_full_and_a_quick_config():
    names = available()
    assert set(names) == {"texture_model", "lcl_v2", "manifolds", "flows", "quickstart"}
    for name in names:
        assert load_config(name) and load_config(name, quick=True)


def test_overrides_are_parsed_as_yaml_and_unknown_keys_refused():
    cfg = {"seed": 0, "train": {"steps": 10}}
    out = apply_overrides(cfg, ["seed=3", "train.steps=20"])
    assert out == {"seed": 3, "train": {"steps": 20}} and cfg["seed"] == 0
    with pytest.raises(ValueError, match="unknown key 'stepz'.*valid keys: \\['steps'\\]"):
        apply_overrides(cfg, ["train.stepz=1"])
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides(cfg, ["seed"])


def test_unknown_reproduction_is_refused_with_the_list():
    with pytest.raises(ValueError, match="available: .*lcl_v2"):
        load_config("nope")


def test_resuming_with_another_config_is_refused(tmp_path):
    Run(tmp_path, {"seed": 0}, "demo").stage("a", lambda r: {})
    Run(tmp_path, {"seed": 0}, "demo")  # same config: fine
    with pytest.raises(ValueError, match=r"different config \(differs in \['seed'\]\)"):
        Run(tmp_path, {"seed": 1}, "demo")


def test_stimulus_set_round_trips_through_its_folder(tmp_path):
    import numpy as np

    from analysis.stimuli import StimulusSet
    from experiments.result_files import load_stimulus_set, save_stimulus_set

    imgs = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    stim = StimulusSet.from_images(imgs, stimulus_ids=["a", "b", "c"], visual_degrees=2.5, name="s",
                                   texture_family=["x", "y", "x"])
    back = load_stimulus_set(save_stimulus_set(stim, tmp_path / "stim"))
    assert np.array_equal(back.load_images(), stim.load_images())
    assert list(back.table["texture_family"]) == ["x", "y", "x"] and back.visual_degrees == 2.5


def test_metric_rows_may_not_hide_the_run_stage(tmp_path):
    run = Run(tmp_path, {}, "demo")
    run.stage("a", lambda r: {"metrics": [{"metric": "m", "stage": 2, "value": 1.0}]})
    with pytest.raises(ValueError, match="must not use the key 'stage'"):
        run.metrics_rows()


def test_stage_made_with_another_config_is_recomputed_even_without_config_json(tmp_path):
    """`run ... seed=1` after config.json was deleted must not relabel seed 0's stages as seed 1's."""
    seen = []

    def body(run):
        seen.append(run.config["seed"])
        return {"metrics": [{"metric": "seed", "value": float(run.config["seed"])}]}

    Run(tmp_path, {"seed": 0}, "demo").stage("a", body)
    (tmp_path / "config.json").unlink()
    logs = []
    rec = Run(tmp_path, {"seed": 1}, "demo", log=logs.append).stage("a", body)
    assert seen == [0, 1] and rec["metrics"][0]["value"] == 1.0
    assert any("made with another configuration; recomputing" in m for m in logs), logs
    # the same config again: reused, and the record names the config it was made with
    again = Run(tmp_path, {"seed": 1}, "demo")
    assert again.stage("a", body)["_config_sha256"] == again.config_sha256 and seen == [0, 1]


def test_record_without_a_config_hash_is_not_trusted(tmp_path):
    (tmp_path / "stages").mkdir(parents=True)
    (tmp_path / "stages" / "a.json").write_text(json.dumps({"metrics": [], "_wall_s": 1.0}))
    logs = []
    Run(tmp_path, {"seed": 0}, "demo", log=logs.append).stage("a", lambda r: {"fresh": True})
    assert any("records no configuration hash; recomputing" in m for m in logs), logs
