"""The reproduction registry: every registered reproduction is tested here without a test of its own."""
import importlib
import pkgutil
import sys
import types

import pytest

import experiments.reproductions as reproductions
from experiments.__main__ import main
from experiments.config import CONFIG_DIR, available, load_config
from experiments.reproductions import get_reproduction, list_reproductions, register_reproduction, run_reproduction
from experiments.reproductions.quickstart import trained_checkpoints, default_parts
from experiments.runner import Run

NAMES = list_reproductions()


@pytest.mark.parametrize("name", NAMES)
def test_every_reproduction_has_title_description_and_full_and_quick_configs(name):
    rep = get_reproduction(name)
    assert rep.name == name and rep.title.strip() and rep.description.strip()
    # the module docstring (the report's introduction) is the registry's text
    assert rep.doc == importlib.import_module(rep.run.__module__).__doc__.strip()
    assert "quick" in rep.presets
    for preset in (None, *rep.presets):
        assert rep.config_path(preset).exists()
        cfg = rep.load_config(preset=preset)
        assert isinstance(cfg, dict) and cfg == load_config(name, preset=preset)


@pytest.mark.parametrize("name", NAMES)
def test_every_trained_model_names_a_stage_of_the_reproduction(name):
    rep = get_reproduction(name)
    for model, where in rep.trains.items():
        stage, *keys = where.split(".")
        assert stage and keys, f"{name}: {model} -> {where!r} must be 'stage.key[.key]'"
        # a planted record at that path is found, an absent one is None
        record = value = {}
        for k in [stage, *keys[:-1]]:
            value[k] = {}
            value = value[k]
        value[keys[-1]] = f"/ckpt/{model}.pt"
        assert rep.checkpoint_of(model, record) == f"/ckpt/{model}.pt"
        assert rep.checkpoint_of(model, {}) is None


def test_every_module_with_a_run_function_is_registered():
    """A reproduction module that forgot its decorator would be invisible to `list` and `run`."""
    registered = {get_reproduction(n).run.__module__ for n in NAMES}
    for info in pkgutil.iter_modules(reproductions.__path__):
        module = importlib.import_module(f"experiments.reproductions.{info.name}")
        if callable(getattr(module, "run", None)) and hasattr(module, "TITLE"):
            assert module.__name__ in registered, f"{module.__name__} has run() and TITLE but is not registered"


def test_every_config_file_belongs_to_a_registered_reproduction():
    owners = {p.stem: n for n in NAMES for p in [get_reproduction(n).config_path(x)
                                                   for x in (None, *get_reproduction(n).presets)]}
    orphans = sorted(p.name for p in CONFIG_DIR.glob("*.yaml") if p.stem not in owners)
    assert not orphans, f"config files without a registered reproduction: {orphans}"


def test_list_and_run_read_the_registry(capsys):
    assert available() == NAMES
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == NAMES
    for line, name in zip(lines, NAMES):
        assert get_reproduction(name).description in line


def test_unknown_names_and_presets_are_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="unknown reproduction 'nope'; available: .*lcl_v2"):
        get_reproduction("nope")
    with pytest.raises(FileNotFoundError, match="no gpu8 config for 'flows'.*presets of 'flows': quick"):
        load_config("flows", preset="gpu8")
    with pytest.raises(ValueError, match="either quick=True or preset='cpu'"):
        load_config("flows", quick=True, preset="cpu")
    with pytest.raises(ValueError, match="must be an identifier"):
        register_reproduction("has space", title="x")


@pytest.fixture
def toy_reproduction(tmp_path, monkeypatch):
    """A reproduction added the documented way: one module + its configs (here in a temporary folder)."""
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "toy.yaml").write_text("seed: 1\nsize: 100\n")
    (configs / "toy_quick.yaml").write_text("seed: 1\nsize: 3\n")
    (configs / "toy_cpu.yaml").write_text("seed: 2\nsize: 10\n")
    monkeypatch.setattr(reproductions, "CONFIG_DIR", configs)
    module = types.ModuleType("toy_reproduction_module", "A toy reproduction: sums a range.\n\nMore text.")
    monkeypatch.setitem(sys.modules, module.__name__, module)

    def run(run, cfg, device):
        run.stage("sum", lambda r: {"metrics": [{"metric": "sum", "value": float(sum(range(cfg["size"])))}]})

    run.__module__ = module.__name__
    module.run = register_reproduction("toy", title="Toy (Nobody 2024)", trains={"toy": "sum.checkpoint"})(run)
    yield get_reproduction("toy")
    reproductions.unregister_reproduction("toy")


def test_a_new_module_is_listed_with_its_presets_and_runs(toy_reproduction, tmp_path, capsys):
    assert "toy" in list_reproductions() and toy_reproduction.presets == ["cpu", "quick"]
    assert toy_reproduction.description == "A toy reproduction: sums a range."
    assert main(["list"]) == 0
    assert "toy             A toy reproduction: sums a range.  [presets: cpu, quick]" in capsys.readouterr().out
    for preset, size in ((None, 100), ("quick", 3), ("cpu", 10)):
        out = tmp_path / f"out_{preset}"
        report = run_reproduction("toy", preset=preset, device="cpu", out=out)
        text = report.read_text()
        assert text.startswith("# Toy (Nobody 2024)") and "A toy reproduction" in text
        assert ("**quick** variant" in text) == (preset == "quick")
        rows = Run.open_finished(out, "toy").metrics_rows()
        assert rows[0]["value"] == sum(range(size))  # the preset's config was the one run
    assert main(["run", "toy", "--preset", "cpu", "--device", "cpu", "--out", str(tmp_path / "cli"), "size=4"]) == 0
    assert Run.open_finished(tmp_path / "cli", "toy").metrics_rows()[0]["value"] == sum(range(4))


def test_quickstart_hands_later_parts_the_checkpoints_earlier_parts_recorded(tmp_path):
    run = Run(tmp_path, {}, "quickstart")
    run.records = {
        "texture_model": {"sub_records": {"train": {"checkpoint": "/t.pt"}}},
        "lcl_v2": {"sub_records": {"train_matched": {"checkpoint": "/l.pt"},
                                   "classification": {"checkpoints": {"resnet50": "/r.pt"}}}},
        "flows": {"sub_records": {}},
    }
    expected = {"texture_model": "/t.pt", "lcl_v2": "/l.pt", "resnet50": "/r.pt"}
    assert trained_checkpoints(run) == expected
    # manifolds leaves exactly those models null: it is handed all three
    assert {k for k, v in load_config("manifolds", quick=True)["checkpoints"].items() if v is None} <= set(expected)


def test_quickstart_runs_registered_parts_producers_before_consumers():
    parts = default_parts()
    assert sorted(parts) == sorted(n for n in NAMES if n != "quickstart")
    for consumer in parts:
        wanted = load_config(consumer, quick=True).get("checkpoints")
        if isinstance(wanted, dict):  # every part that trains one of the models it reuses runs before it
            for producer in parts:
                if set(get_reproduction(producer).trains) & set(wanted):
                    assert parts.index(producer) < parts.index(consumer), (producer, consumer)
    for preset in ("quick", None):  # the configured lists name registered parts, in a workable order too
        listed = load_config("quickstart", preset=preset).get("parts") or parts
        assert set(listed) <= set(parts)
        assert listed.index("manifolds") > max(listed.index("texture_model"), listed.index("lcl_v2"))


def test_quickstart_refuses_unknown_parts(tmp_path):
    with pytest.raises(ValueError, match=r"quickstart parts \['nope'\] are not reproductions"):
        run_reproduction("quickstart", device="cpu", out=tmp_path, config={"seed": 0, "parts": ["nope"]})
