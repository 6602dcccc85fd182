"""Reproduction configs through OmegaConf: YAML files, dotlist overrides, plain dicts out."""
import pytest
import yaml

from experiments.config import CONFIG_DIR, apply_overrides, read_config
from neuromodels.training import ConfigError


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_read_as_the_plain_yaml(path):
    cfg = read_config(path)
    assert cfg == yaml.safe_load(path.read_text())  # no interpolation in the shipped files: unchanged values
    assert type(cfg) is dict


def test_overrides_are_typed_and_leave_the_input_alone():
    cfg = {"seed": 0, "train": {"steps": 10, "overrides": [], "sizes": {"a": 1}}}
    out = apply_overrides(cfg, ["train.overrides=[schedule.steps=20, optim.lr=1e-3]", "train.sizes={b: 2}",
                                "seed=3"])
    assert out == {"seed": 3, "train": {"steps": 10, "overrides": ["schedule.steps=20", "optim.lr=1e-3"],
                                        "sizes": {"b": 2}}}
    assert cfg == {"seed": 0, "train": {"steps": 10, "overrides": [], "sizes": {"a": 1}}}
    assert type(out["train"]) is dict and type(out["train"]["overrides"]) is list


@pytest.mark.parametrize(
    "override, error, message",
    [
        ("train.stepz=1", ConfigError, r"unknown key 'stepz'; valid keys: \['steps'\]"),
        ("sead=1", ConfigError, r"unknown key 'sead'; valid keys: \['seed', 'train'\]"),
        ("seed.x=1", ConfigError, r"'seed' is not a section; sections here: \['train'\]"),
        ("train.steps=[1,", ConfigError, r"not valid YAML"),
        ("train", ValueError, r"key=value"),
    ],
)
def test_bad_overrides_are_refused(override, error, message):
    with pytest.raises(error, match=message):
        apply_overrides({"seed": 0, "train": {"steps": 10}}, [override])


def test_interpolations_are_resolved_when_the_file_is_read(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("seed: 2\nout: 'results/seed${seed}'\ntrain: {steps: 10, warmup: '${train.steps}'}\n")
    cfg = read_config(path)
    assert cfg == {"seed": 2, "out": "results/seed2", "train": {"steps": 10, "warmup": 10}}
    # resolved at read time: an override changes the key it names only
    assert apply_overrides(cfg, ["seed=5"])["out"] == "results/seed2"
    path.write_text("out: 'results/${nope}'\n")
    with pytest.raises(ConfigError, match=r"r\.yaml'.*out: cannot resolve an interpolation"):
        read_config(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("seed: [1,\n", r"r\.yaml' is not valid YAML at line"),
        ("- a\n- b\n", r"r\.yaml' must hold a mapping at the top level"),
    ],
)
def test_bad_files_name_the_file(tmp_path, text, message):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_config(path)
