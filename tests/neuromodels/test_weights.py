"""Pretrained weights: entries with provenance, hash-checked loading through build_model."""
import pytest
import torch

from neuromodels import build_model
from neuromodels.weights import (LCLV2Weights, TextureModelWeights, Weights, WeightsEnum, WeightsHashError,
                                 resolve_weights, save_weights, sha256_of)

CONFIG = {"channels": [4, 8], "kernel_sizes": [5, 3]}


@pytest.fixture
def tiny(tmp_path):
    torch.manual_seed(3)
    model = build_model("lcl_v2", **CONFIG)
    path = tmp_path / "lcl_v2_tiny.pt"
    digest = save_weights(model, "lcl_v2", CONFIG, path)
    entry = Weights(file=str(path), sha256=digest, model="lcl_v2", config=CONFIG,
                    train_config="lcl_v2_quick.yaml", command="python -m neuromodels.training lcl_v2_quick.yaml",
                    seed=0, meta={"steps": 0})
    return model, entry


def test_hash_is_the_files_sha256(tiny):
    import hashlib

    _, entry = tiny
    assert entry.sha256 == hashlib.sha256(entry.path.read_bytes()).hexdigest() == sha256_of(entry.path)


def test_build_model_with_weights_reproduces_the_saved_model(tiny):
    model, entry = tiny
    loaded = build_model("lcl_v2", weights=entry)
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    assert loaded.pretrained_weights is entry and not loaded.training
    # an enum member works like the entry, and its fields are readable on the member
    Enum = WeightsEnum("TinyWeights", {"CPU": entry})
    assert Enum.CPU.sha256 == entry.sha256 and resolve_weights("lcl_v2", Enum.CPU) is entry


def test_a_changed_file_is_refused(tiny):
    _, entry = tiny
    data = bytearray(entry.path.read_bytes())
    data[-10] ^= 0xFF
    entry.path.write_bytes(bytes(data))
    with pytest.raises(WeightsHashError, match="SHA-256"):
        build_model("lcl_v2", weights=entry)


def test_errors_name_the_fix(tiny, tmp_path):
    _, entry = tiny
    with pytest.raises(ValueError, match="contradict"):
        build_model("lcl_v2", weights=entry, channels=[4, 16])
    with pytest.raises(ValueError, match="belong to model 'lcl_v2'"):
        build_model("texture_model", weights=entry)
    with pytest.raises(ValueError, match="no pretrained weights named 'LCLV2Weights.FULL'; available: QUICK, CPU"):
        build_model("lcl_v2", weights="LCLV2Weights.FULL")
    missing = Weights(**{**entry.__dict__, "file": str(tmp_path / "gone.pt")})
    with pytest.raises(FileNotFoundError, match="made by `python -m neuromodels.training"):
        build_model("lcl_v2", weights=missing)


def test_weights_file_is_a_checkpoint_for_everything_that_takes_one(tiny):
    from neuromodels.lcl import load_lcl_v2

    model, entry = tiny
    front = load_lcl_v2(str(entry.verify()))
    assert all(torch.equal(a, b) for a, b in zip(front.state_dict().values(), model.state_dict().values()))


SHIPPED = [(m, "lcl_v2") for m in LCLV2Weights] + [(m, "texture_model") for m in TextureModelWeights]


@pytest.mark.parametrize("member,model", SHIPPED, ids=[f"{m.__class__.__name__}.{m.name}" for m, _ in SHIPPED])
def test_shipped_entries_load_and_reproduce_their_documented_numbers(member, model):
    """Every shipped entry: file present, hash right, loads, and gives its documented quick-stimulus numbers."""
    from pathlib import Path
    import importlib.util

    spec = importlib.util.spec_from_file_location("quick_claims", Path(__file__).with_name("quick_claims.py"))
    quick = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quick)
    entry = member.value
    assert entry.command and entry.train_config and isinstance(entry.seed, int)
    net = build_model(model, weights=member)
    assert net.pretrained_weights == entry
    measured = quick.quick_claims(net)
    documented = entry.meta["quick_claims"]
    assert measured == pytest.approx(documented["trained"], abs=1e-4)
    # and the claims they document: stage 2 more modulated than stage 1 and than untrained
    names = list(net.stage_names)
    if len(names) > 1:
        assert measured[f"mi_{names[-1]}"] > measured[f"mi_{names[0]}"]
    assert measured[f"mi_{names[-1]}"] > documented["untrained"][f"mi_{names[-1]}"]
    cv = "circular_variance_stages.0"  # LCL-V2: stage-1 filters more orientation-tuned than untrained
    if cv in measured:
        assert measured[cv] < documented["untrained"][cv]


def test_default_and_names_resolve_to_the_shipped_entry():
    assert LCLV2Weights.DEFAULT is LCLV2Weights.CPU
    for spec in ("DEFAULT", "CPU", "LCLV2Weights.CPU", LCLV2Weights.CPU):
        assert resolve_weights("lcl_v2", spec) is LCLV2Weights.CPU.value
    assert resolve_weights("lcl_v2", "QUICK") is LCLV2Weights.QUICK.value
    assert LCLV2Weights.CPU.path.is_file() and LCLV2Weights.CPU.path.parent.name == "pretrained"
