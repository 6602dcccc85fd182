"""Configs: OmegaConf structured configs from YAML + dotlist overrides, validation before any work, phases."""
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

import neuromodels
from neuromodels.losses import list_losses
from neuromodels.training.__main__ import main
from neuromodels.training import ConfigError, build_phases, load_config, train, validate
from neuromodels.training.config import OptimConfig, TrainConfig, apply_overrides, config_to_dict, structured_config

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


# ------------------------------------------------------------------ OmegaConf structured configs
def _merged_by_hand(defaults: dict, values: dict) -> dict:
    """Defaults updated section by section with a file's values (the reference the OmegaConf merge must equal)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in defaults.items()}
    for key, value in values.items():
        if key in ("schedule", "loss", "augment", "data", "optim", "run"):
            out[key].update(value or {})
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_structured_merge_equals_the_file_over_the_dataclass_defaults(path):
    values = yaml.safe_load(path.read_text())
    expected = _merged_by_hand(dataclasses.asdict(TrainConfig()), values)
    assert config_to_dict(load_config(path)) == expected
    # float fields hold floats, whatever the file wrote (8 -> 8.0); int and bool fields keep their types
    cfg = load_config(path)
    for section in (cfg.augment, cfg.optim):
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            assert type(value) is {"float": float, "int": int, "bool": bool, "str": str}[f.type], (f.name, value)


def test_the_schema_is_the_dataclasses():
    node = structured_config()
    assert OmegaConf.get_type(node) is TrainConfig and OmegaConf.get_type(node.optim) is OptimConfig
    assert OmegaConf.to_object(node) == TrainConfig()
    with pytest.raises(Exception):  # struct mode: a key the schema lacks cannot be added
        node.optim.learning_rate = 0.1


@pytest.mark.parametrize(
    "text, message",
    [
        ("data: {patch_size: abc}\n",
         r"config file '.*bad\.yaml': data\.patch_size must be an integer; got 'abc' \(str\); write e\.g\. data\.patch_size=8"),
        ("data: {batch_size: 1.5}\n", r"data\.batch_size must be an integer; got 1\.5 \(float\)"),
        ("data: {patch_size: true}\n", r"data\.patch_size must be an integer; got True \(bool\)"),
        ("optim: {lr: fast}\n", r"optim\.lr must be a number; got 'fast' \(str\)"),
        ("run: {progress: maybe}\n", r"run\.progress must be true or false; got 'maybe'"),
        ("schedule: {freeze_steps: [10, x]}\n", r"schedule\.freeze_steps\[1\] must be an integer; got 'x'"),
        ("data: {images: camera}\n", r"data\.images must be a list of strings or null; got 'camera'"),
        ("model_config: [4, 8]\n", r"model_config must be a mapping; got \[4, 8\]"),
        ("loss: {options: [1]}\n", r"loss\.options must be a mapping; got \[1\] \(list\)"),
        ("schedule: {freeze_steps: {a: 1}}\n", r"schedule\.freeze_steps must be a list of integers; got \{'a': 1\}"),
        ("optim: 0.1\n", r"config section 'optim' must be a mapping; got 0\.1"),
        ("optim: {lrr: 1, mom: 0.9}\n", r"bad\.yaml': unknown key\(s\) \['lrr', 'mom'\] in config section 'optim'; "
                                        r"valid keys are: name, lr, weight_decay, momentum"),
        ("model_config: {when: 2020-01-01}\n", r"model_config\.when is datetime\.date.*quote it"),
    ],
)
def test_typed_errors_name_the_file_the_key_the_type_and_what_came(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_lossless_conversions_to_the_declared_type(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim: {lr: 1e-3, grad_clip: 1}\ndata: {patch_size: '16'}\naugment: {c: 1}\n")
    cfg = load_config(path)  # YAML 1.1 reads 1e-3 as text; the float field reads it as 0.001
    assert (cfg.optim.lr, cfg.optim.grad_clip, cfg.data.patch_size, cfg.augment.c) == (0.001, 1.0, 16, 1.0)
    assert isinstance(cfg.optim.grad_clip, float) and isinstance(cfg.data.patch_size, int)


def test_dotlist_overrides_typed_lists_sections_and_free_form_mappings():
    base = load_config(CONFIGS / "lcl_v2_quick.yaml")
    cfg = load_config(CONFIGS / "lcl_v2_quick.yaml", [
        "data.images=[camera, astronaut]",
        "schedule.stages=[stages.1]",
        "optim={name: sgd, momentum: 0.5}",              # a section: merged into the file's values
        "loss.options={variant: contrastive}",           # a free-form mapping: replaced
        "loss.per_stage.stages.1.name=barlow_twins",     # nested keys inside a free-form mapping
    ])
    assert cfg.data.images == ["camera", "astronaut"] and cfg.schedule.stages == ["stages.1"]
    assert (cfg.optim.name, cfg.optim.momentum) == ("sgd", 0.5)
    assert (cfg.optim.lr, cfg.optim.lr_schedule, cfg.optim.warmup_steps) == (
        base.optim.lr, base.optim.lr_schedule, base.optim.warmup_steps)
    assert cfg.loss.options == {"variant": "contrastive"}
    assert cfg.loss.per_stage == {"stages": {"1": {"name": "barlow_twins"}}}
    assert type(cfg.data.images) is list and type(cfg.loss.options) is dict  # plain containers for the trainer


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.patch_size=abc", r"override 'data\.patch_size=abc': data\.patch_size must be an integer; got 'abc' \(str\)"),
        ("run.deterministic=perhaps", r"run\.deterministic must be true or false; got 'perhaps'"),
        ("optim={lr: fast}", r"override 'optim=\{lr: fast\}': optim\.lr must be a number; got 'fast'"),
        ("optim={lrr: 1}", r"unknown key 'lrr' in optim; valid keys are: name, lr"),
        ("optim=3", r"optim must be a mapping \(a config section\); got 3"),
        ("model.name=x", r"override 'model\.name=x': model holds a value \('lcl_v2'\), not a section"),
        ("shedule.steps=3", r"unknown key 'shedule' in top level; valid keys are: model, model_config, schedule"),
        ("model_config.channels=[16,", r"not valid YAML"),
    ],
)
def test_override_errors_name_the_override(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(CONFIGS / "lcl_v2_quick.yaml", [override])


def test_interpolations_resolve_after_the_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: lcl_v2\nrun: {out_dir: 'runs/${model}_seed${run.seed}', seed: 1}\n"
                    "data: {image_size: '${data.patch_size}', patch_size: 24}\n")
    cfg = load_config(path, ["run.seed=3"])
    assert cfg.run.out_dir == "runs/lcl_v2_seed3" and cfg.data.image_size == 24
    assert config_to_dict(cfg)["run"]["out_dir"] == "runs/lcl_v2_seed3"  # what the run folder stores is resolved
    with pytest.raises(ConfigError, match=r"run\.out_dir: cannot resolve the interpolation 'runs/\$\{nope\}'"):
        load_config(path, ["run.out_dir=runs/${nope}"])


def test_omegaconf_is_not_imported_by_the_model_code():
    """Brain-Score plugins vendor the model code and its environment has no omegaconf."""
    code = ("import sys, neuromodels, neuromodels.training; neuromodels.build_model('lcl_v2'); "
            "neuromodels.build_model('texture_model'); print('omegaconf' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
