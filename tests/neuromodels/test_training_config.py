"""Configs: YAML + overrides, validation before any work, schedules as phases."""
from pathlib import Path

import pytest

import neuromodels
from neuromodels.losses import list_losses
from neuromodels.training.__main__ import main
from neuromodels.training import ConfigError, build_phases, load_config, train, validate
from neuromodels.training.config import apply_overrides, config_to_dict

CONFIGS = Path(neuromodels.__file__).parent / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_validate_against_their_model(path):
    cfg = load_config(path)
    validate(cfg, neuromodels.build_model(cfg.model, **cfg.model_config))


def test_overrides_are_parsed_as_yaml_and_nested():
    cfg = load_config(CONFIGS / "lcl_v2_quick.yaml",
                      ["optim.lr=1e-2", "schedule.steps=7", "model_config.channels=[4, 8]", "run.progress=false"])
    assert cfg.optim.lr == 0.01 and cfg.schedule.steps == 7
    assert cfg.model_config["channels"] == [4, 8] and cfg.run.progress is False
    # the file's other values are kept
    assert cfg.augment.c == 0.1 and cfg.schedule.kind == "layerwise"
    # round trip through the resolved dict
    again = load_config(None, [f"{k}={v}" for k, v in [("model", "lcl_v2")]])
    assert config_to_dict(again)["model"] == "lcl_v2"


def test_unknown_keys_list_the_valid_ones():
    with pytest.raises(ConfigError, match="valid keys are: .*lr"):
        load_config(CONFIGS / "lcl_v2_quick.yaml", ["optim.learning_rate=0.1"])
    with pytest.raises(ConfigError, match="valid keys are: .*schedule"):
        apply_overrides({}, ["shedule.kind=layerwise"])
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["optim.lr"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("model=lcl_v3", "unknown model 'lcl_v3'; registered models are: .*lcl_v2"),
        ("loss.name=triplet", "unknown loss 'triplet'.*registered losses are: .*barlow_twins.*"),
        ("optim.lr=-0.1", "optim.lr must be a positive learning rate; got -0.1"),
        ("schedule.stages=[stages.0, stages.7]", r"stage\(s\) \['stages.7'\].*its stages are: stages.0, stages.1"),
        ("schedule.kind=greedy", "choose one of: layerwise, end_to_end, progressive_freezing"),
        ("data.images=[camera, lena]", "unknown bundled image"),
    ],
)
def test_bad_configs_fail_before_any_work(tmp_path, override, message):
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=message):
        train(CONFIGS / "lcl_v2_quick.yaml", [override, f"run.out_dir={out}"])
    assert not out.exists()  # nothing was written


def test_every_registered_loss_is_listed_in_the_error():
    with pytest.raises(ConfigError) as err:
        validate(load_config(None, ["loss.name=nope"]))
    for name in list_losses():
        assert name in str(err.value)


def test_cli_reports_a_bad_config_with_exit_status_2(tmp_path, capsys):
    status = main([str(CONFIGS / "lcl_v2_quick.yaml"), "optim.lr=-1", f"run.out_dir={tmp_path / 'r'}"])
    assert status == 2
    assert "optim.lr must be a positive learning rate" in capsys.readouterr().err


def test_progressive_freezing_needs_fewer_freezes_than_stages():
    cfg = load_config(CONFIGS / "lcl_v2_progressive_freezing_quick.yaml", ["schedule.freeze_steps=[10, 20]"])
    with pytest.raises(ConfigError, match="at most one fewer than the stages"):
        validate(cfg, neuromodels.build_model(cfg.model, **cfg.model_config))
    with pytest.raises(ConfigError, match="strictly increasing"):
        load_config(CONFIGS / "lcl_v2_progressive_freezing_quick.yaml", ["schedule.freeze_steps=[20, 10]"])


def test_phases_cover_the_schedule_without_gaps():
    names = ["a", "b", "c"]
    lw = build_phases("layerwise", names, {"a": 2, "b": 3, "c": 4})
    assert [(p.start, p.stop) for p in lw] == [(0, 2), (2, 5), (5, 9)]
    assert [(p.first_trainable, p.loss_stage, p.optimizer_key) for p in lw] == [(0, 0, 0), (1, 1, 1), (2, 2, 2)]
    e2e = build_phases("end_to_end", names, 9)
    assert [(p.start, p.stop, list(p.trainable)) for p in e2e] == [(0, 9, [0, 1, 2])]
    pf = build_phases("progressive_freezing", names, 9, freeze_steps=[3, 6])
    assert [list(p.trainable) for p in pf] == [[0, 1, 2], [1, 2], [2]]
    assert {p.optimizer_key for p in pf} == {0} and {p.loss_stage for p in pf} == {2}
    assert [(p.start, p.stop) for p in pf] == [(0, 3), (3, 6), (6, 9)]
