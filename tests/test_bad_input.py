"""Probes of bad input: one parametrized test per boundary, one row per probe.

Every row gives something a user will one day pass (a config, an override, an image
folder, a checkpoint, export arguments, a command line) and the error it must meet:
the exception type (or the exit status of a command) and a regular expression the
message must match — the message names the input and says what was expected. The
next bad input is one line to add to the right table.
"""
from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import neuromodels
from neuromodels.brainscore import PluginExportError, export_plugin
from neuromodels.training import ConfigError, CorruptCheckpointError, load_config, read_checkpoint, train
from neuromodels.training.checkpoints import UnsafeCheckpointError

CONFIGS = Path(neuromodels.__file__).parent / "configs"
QUICK = CONFIGS / "lcl_v2_quick.yaml"
TINY = ["model_config.channels=[4, 8]", "data.batch_size=4", "data.image_size=48", "data.patch_size=16",
        "run.progress=false", "schedule.steps=1", "run.count_flops=false"]


# ------------------------------------------------------------------------------ configs
def _yaml(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


CONFIG_PROBES = [
    # (id, YAML text of the config file, message regex)
    ("yaml syntax", "model: lcl_v2\nschedule: {kind: layerwise, steps: [1,\n", r"bad\.yaml.*not valid YAML at line"),
    ("tab indentation", "model: lcl_v2\nschedule:\n\tsteps: 3\n", r"bad\.yaml.*not valid YAML"),
    ("top level list", "- model\n- lcl_v2\n", r"bad\.yaml.*must hold a mapping"),
    ("unknown section", "model: lcl_v2\nschedul: {steps: 3}\n", r"unknown key\(s\) \['schedul'\].*valid keys"),
    ("negative lr", "optim: {lr: -1}\n", r"optim\.lr must be a positive learning rate"),
    ("binary file", None, r"bad\.yaml.*not a text file"),
    ("text for an int", "data: {patch_size: abc}\n", r"bad\.yaml': data\.patch_size must be an integer; got 'abc'"),
    ("list for a mapping", "model_config: [4, 8]\n", r"bad\.yaml': model_config must be a mapping; got \[4, 8\]"),
    ("unresolvable interpolation", "run: {out_dir: 'runs/${nope}'}\n", r"run\.out_dir: cannot resolve the interpolation"),
]


@pytest.mark.parametrize("text,message", [p[1:] for p in CONFIG_PROBES], ids=[p[0] for p in CONFIG_PROBES])
def test_config_files(tmp_path, text, message):
    path = _yaml(tmp_path, text) if text is not None else tmp_path / "bad.yaml"
    if text is None:
        path.write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


# ---------------------------------------------------------------------------- overrides
OVERRIDE_PROBES = [
    # (id, override, message regex) — the same parser serves training and reproduction configs
    ("unclosed list", "model_config.channels=[16,", r"'\[16,' is not valid YAML.*quote text"),
    ("unclosed mapping", "loss.options={a: 1", r"not valid YAML"),
    ("unclosed quote", 'run.out_dir="runs/x', r"not valid YAML"),
    ("no equals sign", "optim.lr", r"not of the form key=value"),
    ("empty key part", "optim..lr=1", r"empty part"),
    ("unknown key", "optim.learning_rate=0.1", r"unknown key 'learning_rate' in optim; valid keys are: name, lr"),
    ("string for int", "schedule.steps=many", r"schedule\.steps must be a positive integer; got 'many'"),
    ("string for typed int", "data.patch_size=many", r"data\.patch_size must be an integer; got 'many' \(str\)"),
    ("key below a value", "model.name=lcl_v2", r"model holds a value \('lcl_v2'\), not a section"),
    ("unresolvable interpolation", "run.out_dir=${nope}", r"cannot resolve the interpolation"),
]


@pytest.mark.parametrize("override,message", [p[1:] for p in OVERRIDE_PROBES], ids=[p[0] for p in OVERRIDE_PROBES])
def test_training_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(QUICK, [override])


@pytest.mark.parametrize("override,message", [p[1:] for p in OVERRIDE_PROBES[:5]], ids=[p[0] for p in OVERRIDE_PROBES[:5]])
def test_reproduction_overrides_share_the_parser(override, message):
    from experiments.config import apply_overrides

    with pytest.raises(ValueError, match=message):
        apply_overrides({"model_config": {"channels": [1]}, "loss": {"options": {}}, "run": {"out_dir": "x"},
                         "optim": {"lr": 1.0}}, [override])


# --------------------------------------------------------------------- the trainer's inputs
def _image_folder(tmp_path, kind):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray((rng.random((64, 64)) * 255).astype(np.uint8)).save(folder / f"ok{i}.png")
    if kind == "not an image":
        (folder / "notes.png").write_text("this is text, not a PNG")
    elif kind == "empty":
        for p in folder.iterdir():
            p.unlink()
    return folder


TRAINER_PROBES = [
    # (id, overrides (after TINY), message regex)
    ("unknown model kwarg", ["model_config.chanels=[4, 8]"], r"model_config: model 'lcl_v2' does not accept.*chanels"),
    ("missing data.folder", ["data.source=folder", "data.folder={tmp}/nowhere"], r"data\.folder: image folder .*nowhere.* does not exist"),
    ("data.folder is a file", ["data.source=folder", "data.folder={tmp}/file.txt"], r"data\.folder: .*is a file"),
    ("empty data.folder", ["data.source=folder", "data.folder={tmp}/empty"], r"data\.folder: no images"),
    ("non-image in data.folder", ["data.source=folder", "data.folder={tmp}/bad"], r"data\.folder: 1 of 4 files .*notes\.png"),
]


@pytest.mark.parametrize("overrides,message", [p[1:] for p in TRAINER_PROBES], ids=[p[0] for p in TRAINER_PROBES])
def test_trainer_inputs(tmp_path, overrides, message):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    _image_folder(tmp_path, "not an image").rename(tmp_path / "bad")
    overrides = [o.replace("{tmp}", str(tmp_path)) for o in overrides]
    with pytest.raises(ConfigError, match=message):
        train(QUICK, [*TINY, f"run.out_dir={tmp_path / 'run'}", *overrides])
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before any work


@pytest.mark.skipif(torch.cuda.is_available(), reason="probes a machine without CUDA")
def test_cuda_without_a_gpu(tmp_path):
    with pytest.raises(ConfigError, match=r"run\.device=cuda, but this torch .* sees no CUDA GPU; use run\.device=auto"):
        train(QUICK, [*TINY, f"run.out_dir={tmp_path}", "run.device=cuda"])


def test_truncated_image_is_skipped_named_and_counted(tmp_path, caplog):
    from neuromodels.data import ImageFolder

    folder = _image_folder(tmp_path, "ok")
    good = (folder / "ok1.png").read_bytes()
    (folder / "ok1.png").write_bytes(good[: len(good) // 2])  # the header is fine, the pixels are cut
    images = ImageFolder(folder, size=32)
    assert len(images) == 3  # indexing (headers) accepts it
    with caplog.at_level("WARNING", logger="neuromodels.data"):
        x = images[1]
    assert images.skipped == [folder / "ok1.png"]
    assert "ok1.png" in caplog.text and "1 skipped so far" in caplog.text
    torch.testing.assert_close(x, images[2])  # the next readable image, deterministically


# --------------------------------------------------------------------------- checkpoints
class _Payload:
    """Unpickling this runs code (here: creates a file)."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


def _save(path, obj):
    torch.save(obj, path)
    return path


CHECKPOINT_PROBES = [
    # (id, maker(tmp_path) -> path, exception, message regex)
    ("code in the pickle", lambda t: _save(t / "evil.pt", {"model": {}, "x": _Payload(t / "pwned")}),
     UnsafeCheckpointError, r"names Python objects that loading would execute: .*pathlib.*refused"),
    ("not a torch file", lambda t: (t / "x.pt").write_bytes(b"hello") and t / "x.pt",
     CorruptCheckpointError, r"x\.pt cannot be loaded"),
    ("plain pickle", lambda t: (t / "p.pt").write_bytes(pickle.dumps({"model": {}})) and t / "p.pt",
     CorruptCheckpointError, r"p\.pt cannot be loaded"),
    ("a list, not a dict", lambda t: _save(t / "l.pt", [torch.zeros(1)]),
     CorruptCheckpointError, r"holds a list, expected a dict"),
    ("no model entry", lambda t: _save(t / "n.pt", {"weights": torch.zeros(1)}),
     CorruptCheckpointError, r"lacks \['model'\]"),
    ("missing file", lambda t: t / "absent.pt", FileNotFoundError, r"absent\.pt.*does not exist"),
    ("a folder", lambda t: t, FileNotFoundError, r"it is a folder"),
]


@pytest.mark.parametrize("make,exc,message", [p[1:] for p in CHECKPOINT_PROBES], ids=[p[0] for p in CHECKPOINT_PROBES])
def test_checkpoints(tmp_path, make, exc, message):
    path = make(tmp_path)
    with pytest.raises(exc, match=message):
        read_checkpoint(path, require_checksum=False)
    assert not (tmp_path / "pwned").exists()


def test_numpy_rng_state_is_accepted_without_unpickling_code(tmp_path):
    state = {"model": {"w": torch.ones(2)}, "rng": np.random.RandomState(3).get_state(), "n": np.float64(2.5)}
    loaded = read_checkpoint(_save(tmp_path / "np.pt", state), require_checksum=False)
    np.testing.assert_array_equal(loaded["rng"][1], state["rng"][1])
    assert loaded["n"] == 2.5


# ----------------------------------------------------------------------- export arguments
def _ckpt(tmp_path):
    torch.manual_seed(0)
    model = neuromodels.build_model("lcl_v2", channels=[4, 8])
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "model_name": "lcl_v2", "model_config": {"channels": [4, 8]}}, path)
    return path


def _trainer_ckpt(tmp_path):
    run = tmp_path / "run" / "checkpoints"
    run.mkdir(parents=True)
    path = _ckpt(tmp_path)
    target = run / "ckpt-00000010.pt"
    path.rename(target)
    return target


EXPORT_PROBES = [
    # (id, setup(tmp_path) -> kwargs of export_plugin, message regex); all refused before any file is written
    ("weights file exists", lambda t: {"weights_file": (t / "w.pt").write_bytes(b"old") and t / "w.pt"},
     r"weights file .*w\.pt already exists; pass --force"),
    ("zip exists", lambda t: {"make_zip": True, "out": t / "plug", "_touch": t / "plug.zip"},
     r"zip .*plug\.zip already exists; pass --force"),
    ("weights over the checkpoint", lambda t: {"weights_file": "{ckpt}", "force": True},
     r"would overwrite a training checkpoint; the exporter never does that \(not even with --force\)"),
    ("weights over another trainer checkpoint", lambda t: {"checkpoint": _trainer_ckpt(t), "force": True,
                                                           "weights_file": "{ckpt}"},
     r"would overwrite a training checkpoint"),
    ("bad identifier", lambda t: {"identifier": "has space"}, r"identifier 'has space' is not usable"),
    ("folder name not an identifier", lambda t: {"out": t / "my-plugin"}, r"must be a Python identifier"),
    ("weights url not http", lambda t: {"weights_url": "ftp://x"}, r"weights_url must be an http\(s\) URL"),
    ("unsafe checkpoint", lambda t: {"checkpoint": _save(t / "evil.pt", {"model": {}, "model_name": "lcl_v2",
                                                                        "model_config": {}, "x": _Payload(t / "pwned")})},
     r"cannot export from this checkpoint: .*would execute"),
    ("unknown region", lambda t: {"region_layer_map": {"MT": "stages.0"}, "image_size": 32}, r"unknown regions \['MT'\]"),
]


@pytest.mark.parametrize("setup,message", [p[1:] for p in EXPORT_PROBES], ids=[p[0] for p in EXPORT_PROBES])
def test_export_arguments(tmp_path, setup, message):
    kwargs = {"checkpoint": None, "identifier": "probe", "out": tmp_path / "plug"}
    kwargs.update(setup(tmp_path))
    kwargs["checkpoint"] = kwargs["checkpoint"] or _ckpt(tmp_path)
    if kwargs.get("weights_file") == "{ckpt}":
        kwargs["weights_file"] = kwargs["checkpoint"]
    if "_touch" in kwargs:
        kwargs.pop("_touch").write_bytes(b"old zip")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(PluginExportError, match=message):
        export_plugin("lcl_v2", kwargs.pop("checkpoint"), kwargs.pop("identifier"), kwargs.pop("out"), **kwargs)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # nothing touched
    assert not (tmp_path / "pwned").exists()


# -------------------------------------------------------------------------- command lines
def _cli(module):
    import importlib

    return importlib.import_module(module).main


CLI_PROBES = [
    # (id, module, argv (with {tmp}), message regex); each exits 2 with one "error:" line, no traceback
    ("train: missing config", "neuromodels.training.__main__", ["{tmp}/none.yaml"], r"error: config file .*none\.yaml.* does not exist"),
    ("train: malformed override", "neuromodels.training.__main__", [str(QUICK), "model_config.channels=[16,"],
     r"error: override .* is not valid YAML"),
    ("train: yaml syntax", "neuromodels.training.__main__", ["{tmp}/broken.yaml"], r"error: config file .*broken\.yaml.* is not valid YAML at line 3"),
    ("export: bad region map JSON", "neuromodels.brainscore.__main__",
     ["export", "lcl_v2", "--checkpoint", "{tmp}/ckpt.pt", "--identifier", "x", "--out", "{tmp}/plug",
      "--region-layer-map", "{tmp}/map.json"], r"error: --region-layer-map .*map\.json is not valid JSON"),
    ("export: missing checkpoint", "neuromodels.brainscore.__main__",
     ["export", "lcl_v2", "--checkpoint", "{tmp}/none.pt", "--identifier", "x", "--out", "{tmp}/plug"],
     r"error: checkpoint .*none\.pt does not exist"),
    ("zip: existing zip", "neuromodels.brainscore.__main__", ["zip", "{tmp}/plugdir"], r"error: .*(not a plugin folder|already exists)"),
    ("experiments: malformed override", "experiments.__main__", ["run", "quickstart", "--quick", "seed=[1,"],
     r"error: override 'seed=\[1,'.* not valid YAML"),
    ("experiments: unknown reproduction", "experiments.__main__", ["run", "nothing"], r"error: unknown reproduction 'nothing'"),
]


@pytest.mark.parametrize("module,argv,message", [p[1:] for p in CLI_PROBES], ids=[p[0] for p in CLI_PROBES])
def test_command_lines(tmp_path, capsys, module, argv, message):
    (tmp_path / "broken.yaml").write_text("model: lcl_v2\nschedule: [1,\n")
    (tmp_path / "map.json").write_text("{'V1': 'stages.0'}")
    (tmp_path / "plugdir").mkdir()
    _ckpt(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert _cli(module)(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ") and "Traceback" not in "\n".join(err), err
    assert any(__import__("re").search(message, line) for line in err), err
    with pytest.raises(Exception):  # --debug: the traceback of the same error
        _cli(module)([*argv, "--debug"])


# --------------------------------------------------------- assemblies (analysis.assemblies)
def _assembly(values=None, stimulus_ids=("a", "b"), neuroid_ids=("n0", "n1", "n2")):
    import xarray as xr

    values = np.ones((len(stimulus_ids), len(neuroid_ids))) if values is None else values
    return xr.DataArray(values, dims=("presentation", "neuroid"),
                        coords={"stimulus_id": ("presentation", list(stimulus_ids)),
                                "neuroid_id": ("neuroid", list(neuroid_ids))})


ASSEMBLY_PROBES = [
    # (id, maker(tmp_path) -> assembly or path, exception, message regex)
    ("no presentations", lambda t: _assembly(np.ones((0, 3)), stimulus_ids=()), ValueError, r"has no presentations"),
    ("boolean values", lambda t: _assembly(np.ones((2, 3), bool)), ValueError, r"values are boolean"),
    ("None stimulus id", lambda t: _assembly(stimulus_ids=("a", None)), ValueError, r"stimulus_id"),
    ("duplicated neuroid", lambda t: _assembly(neuroid_ids=("n0", "n0", "n1")), ValueError, r"neuroid_id must be unique"),
    ("NaN values", lambda t: _assembly(np.full((2, 3), np.nan)), ValueError, r"6 non-finite value\(s\) \(6 NaN"),
    ("wrong dims", lambda t: _assembly().rename(neuroid="unit"), ValueError, r"dims must be"),
    ("truncated .nc", lambda t: _truncated_nc(t), OSError, r"cut\.nc is not a readable assembly file"),
    ("missing .nc", lambda t: t / "absent.nc", FileNotFoundError, r"absent\.nc"),
]


def _truncated_nc(tmp_path):
    from analysis.assemblies import save

    path = tmp_path / "whole.nc"
    save(_assembly(), path)
    cut = tmp_path / "cut.nc"
    cut.write_bytes(path.read_bytes()[:200])
    return cut


@pytest.mark.parametrize("make,exc,message", [p[1:] for p in ASSEMBLY_PROBES], ids=[p[0] for p in ASSEMBLY_PROBES])
def test_assemblies(tmp_path, make, exc, message):
    from analysis.assemblies import load, validate

    item = make(tmp_path)
    with pytest.raises(exc, match=message):
        load(item) if isinstance(item, Path) else validate(item)


# ----------------------------------------------------------- manifests (analysis.datasets)
_MANIFEST = "name: Probe\nsource: {{kind: local}}\nfiles:\n  - name: {name}\n"

MANIFEST_PROBES = [
    # (id, manifest text, message regex)
    ("parent folder", _MANIFEST.format(name="../x"), r"'\.\./x' would leave the dataset folder"),
    ("absolute path", _MANIFEST.format(name="/etc/passwd"), r"'/etc/passwd' would leave the dataset folder"),
    ("yaml syntax", "name: [Probe\n", r"probe\.yaml is not valid YAML"),
    ("not a mapping", "- a\n- b\n", r"must be a YAML mapping"),
    ("unknown source kind", "name: P\nsource: {kind: ftp}\nfiles: []\n", r"source\.kind must be one of"),
]


@pytest.mark.parametrize("text,message", [p[1:] for p in MANIFEST_PROBES], ids=[p[0] for p in MANIFEST_PROBES])
def test_manifests(tmp_path, text, message):
    from analysis.datasets.manifest import DatasetError, read_manifest

    path = tmp_path / "probe.yaml"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_manifest(path)
