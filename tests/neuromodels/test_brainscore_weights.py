"""``python -m neuromodels.brainscore export MODEL --weights NAME``: shipped weights exported like a checkpoint."""
import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
import torch
import yaml

import neuromodels
from neuromodels.brainscore.__main__ import main
from neuromodels.weights import LCLV2Weights


def _plugin_model(folder: Path):
    spec = importlib.util.spec_from_file_location(f"_plugin_{folder.name}_model", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_export_with_the_shipped_quick_weights(tmp_path, capsys):
    entry = LCLV2Weights.QUICK.value
    out = tmp_path / "lcl_v2_quick"
    assert main(["export", "lcl_v2", "--weights", "QUICK", "--identifier", "lcl_v2_quick", "--out", str(out)]) == 0
    manifest = json.loads((out / "export.json").read_text())
    # the entry is recorded with its provenance, and the shipped file is the one its hash names
    shipped = manifest["pretrained_weights"]
    assert shipped["entry"] == "LCLV2Weights.QUICK" and shipped["sha256"] == entry.sha256
    assert hashlib.sha256(entry.path.read_bytes()).hexdigest() == entry.sha256
    assert (shipped["command"], shipped["seed"], shipped["config"]) == (entry.command, entry.seed, entry.config)
    # the input size is the one the weights were trained at (their training config, read here independently)
    trained = yaml.safe_load((Path(neuromodels.__file__).parent / "configs" / entry.train_config).read_text())
    assert manifest["image_size"] == trained["data"]["image_size"]
    # the plugin rebuilds exactly the shipped model
    rebuilt = _plugin_model(out).build_model()
    reference = neuromodels.build_model("lcl_v2", weights=LCLV2Weights.QUICK).state_dict()
    assert set(rebuilt.state_dict()) == set(reference)
    assert all(torch.equal(v, reference[k]) for k, v in rebuilt.state_dict().items())
    assert "weights file" in capsys.readouterr().out


def test_weights_and_checkpoint_are_one_or_the_other(tmp_path, capsys):
    base = ["export", "lcl_v2", "--identifier", "x", "--out", str(tmp_path / "x")]
    assert main(base) == 2
    assert "either --checkpoint" in capsys.readouterr().err
    assert main(base + ["--weights", "QUICK", "--checkpoint", str(tmp_path / "c.pt")]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(base + ["--weights", "FULL"]) == 2
    assert "no pretrained weights named 'FULL'; available: QUICK, CPU" in capsys.readouterr().err
    assert main(["export", "gabor_v1", "--weights", "QUICK", "--identifier", "x", "--out", str(tmp_path / "x")]) == 2
    assert "none yet" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
