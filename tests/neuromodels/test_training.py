"""The trainer on the registry's real models: schedules, views, FLOPs, reliability, run folder.

Budgets are tiny (a few dozen steps of small models on the bundled images); the
quick configs themselves are the same files with more steps.
"""
import json
import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import neuromodels
from neuromodels.augment import LocalDeformation
from neuromodels.training import (
    CorruptCheckpointError,
    TrainingDiverged,
    list_checkpoints,
    load_config,
    load_model,
    read_checkpoint,
    read_metrics,
    stage_deformation,
    train,
)
from neuromodels.training.loop import Trainer, seed_of

CONFIGS = Path(neuromodels.__file__).parent / "configs"
SMALL = ["model_config.channels=[8, 16]", "data.batch_size=16", "data.image_size=96", "run.progress=false",
         "optim.warmup_steps=0", "optim.lr_schedule=constant", "run.keep_checkpoints=10"]


@pytest.fixture(autouse=True)
def _one_thread():
    # bitwise comparisons between runs need the same reduction order
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _lcl(tmp_path, *extra, name="lcl_v2_quick.yaml", out="run"):
    return train(CONFIGS / name, [*SMALL, f"run.out_dir={tmp_path / out}", *extra])


def _state(path):
    return read_checkpoint(path)["model"]


def _stage(sd, k):
    return {n: v for n, v in sd.items() if n.startswith(f"stages.{k}.")}


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _decreased(losses, k=4):
    return float(np.mean(losses[-k:])) < float(np.mean(losses[:k]))


def test_layerwise_trains_each_stage_on_frozen_earlier_stages(tmp_path):
    r = _lcl(tmp_path, "schedule.steps=16", "run.checkpoint_every=16")
    assert r.steps == 32
    for stage in ("stages.0", "stages.1"):
        assert len(r.losses(stage)) == 16 and _decreased(r.losses(stage)), r.losses(stage)
    after_stage1, final = (_state(p) for p in list_checkpoints(tmp_path / "run" / "checkpoints"))
    torch.manual_seed(0)  # the trainer seeds with run.seed before building the model
    init = neuromodels.build_model("lcl_v2", channels=[8, 16]).state_dict()
    # phase 1 changed only stage 1; phase 2 changed only stage 2
    assert not _equal(_stage(after_stage1, 0), _stage(init, 0))
    assert _equal(_stage(after_stage1, 1), _stage(init, 1))
    assert _equal(_stage(final, 0), _stage(after_stage1, 0))
    assert not _equal(_stage(final, 1), _stage(after_stage1, 1))


def test_complexity_matched_amplitudes_follow_the_receptive_fields():
    cfg = load_config(CONFIGS / "lcl_v2_quick.yaml", ["augment.c=0.1", "augment.cell_c=0.5"])
    model = neuromodels.build_model(cfg.model, **cfg.model_config)
    # receptive fields by hand: conv 7 -> 7, pool 4 / stride 2 -> 10 (jump 2);
    # conv 5 -> 10 + 4*2 = 18, pool 4 / stride 2 -> 18 + 3*2 = 24 pixels
    d1, d2 = (stage_deformation(cfg, model, s) for s in ("stages.0", "stages.1"))
    assert (d1.amplitude, d1.cell_size) == pytest.approx((1.0, 5.0))
    assert (d2.amplitude, d2.cell_size) == pytest.approx((2.4, 12.0))
    unmatched = load_config(CONFIGS / "lcl_v2_unmatched_quick.yaml")
    u1, u2 = (stage_deformation(unmatched, model, s) for s in ("stages.0", "stages.1"))
    assert u1.amplitude == u2.amplitude == 1.5 and u1.cell_size == u2.cell_size == 8.0


def test_views_are_deformed_on_the_device_with_chunk_seeds(tmp_path):
    cfg = load_config(CONFIGS / "lcl_v2_quick.yaml",
                      [*SMALL, "augment.chunk_size=4", f"run.out_dir={tmp_path}"])
    trainer = Trainer(cfg, resume=False)
    x = trainer.sampler.batch(5)  # (16, 1, 1, 32, 32)
    views = trainer.make_views(x, step=5, phase=trainer.phases[1])
    assert views.shape == (32, 1, 32, 32) and views.device == x.device
    deform = trainer.deforms[1]
    assert isinstance(deform, LocalDeformation) and deform.amplitude == pytest.approx(2.4)
    # independent reconstruction: chunk c of 4 images (8 views) drawn from seed (seed, 3, step, c)
    for c in range(4):
        g = torch.Generator().manual_seed(seed_of(0, 3, 5, c))
        part = x[4 * c : 4 * c + 4].expand(-1, 2, -1, -1, -1).flatten(0, 1)
        torch.testing.assert_close(views[8 * c : 8 * c + 8], deform(part, generator=g), rtol=0, atol=0)
    # the two views of a patch differ from each other and from the patch
    assert not torch.equal(views[0], views[1]) and not torch.equal(views[0], x[0, 0])


def test_end_to_end_and_progressive_freezing(tmp_path):
    e2e = _lcl(tmp_path, "schedule.steps=20", "run.checkpoint_every=0",
               name="lcl_v2_end_to_end_quick.yaml", out="e2e")
    assert set(e2e.losses()) and {r["stage"] for r in e2e.history} == {"stages.1"}
    assert _decreased(e2e.losses())
    torch.manual_seed(0)
    init = neuromodels.build_model("lcl_v2", channels=[8, 16]).state_dict()
    final = e2e.model.state_dict()
    assert not _equal(_stage(final, 0), _stage(init, 0)) and not _equal(_stage(final, 1), _stage(init, 1))

    pf = _lcl(tmp_path, "schedule.steps=20", "schedule.freeze_steps=[10]", "run.checkpoint_every=10",
              name="lcl_v2_progressive_freezing_quick.yaml", out="pf")
    at_freeze, end = (_state(p) for p in list_checkpoints(tmp_path / "pf" / "checkpoints"))
    assert not _equal(_stage(at_freeze, 0), _stage(init, 0))  # stage 1 learned before freezing
    assert _equal(_stage(end, 0), _stage(at_freeze, 0))  # and not after
    assert not _equal(_stage(end, 1), _stage(at_freeze, 1))
    assert [r["phase"] for r in pf.history] == [0] * 10 + [1] * 10
    # one optimizer over the whole schedule: its state continues across the freeze
    assert read_checkpoint(list_checkpoints(tmp_path / "pf" / "checkpoints")[-1])["optimizer_key"] == 0


def _conv_flops(model, x, upto):
    """2 × multiply-adds of every Conv2d of stages 1..upto, from the output shapes (hooks)."""
    per_stage = {}
    hooks = []
    for k in range(upto):
        def hook(mod, inp, out, k=k):
            kh, kw = mod.kernel_size
            per_stage[k] = 2 * out.numel() * (mod.in_channels // mod.groups) * kh * kw
        hooks.append(model.stages[k].conv.register_forward_hook(hook))
    with torch.no_grad():
        model.stage_outputs(x, upto=upto)
    for h in hooks:
        h.remove()
    return [per_stage[k] for k in range(upto)]


def test_flops_per_step_match_the_convolution_count(tmp_path):
    # stage convolutions only: no input gain control (fixed convolutions), a global embedding (small loss products)
    plain = ["model_config.input_normalization=false", "model_config.embedding=global"]
    lw = _lcl(tmp_path, "schedule.steps=1", "run.checkpoint_every=0", "augment.deform=true", *plain, out="lw")
    e2e = _lcl(tmp_path, "schedule.steps=1", "run.checkpoint_every=0", *plain,
               name="lcl_v2_end_to_end_quick.yaml", out="e2e")
    model = neuromodels.build_model("lcl_v2", channels=[8, 16])
    f1, f2 = _conv_flops(model, torch.rand(32, 1, 32, 32), 2)  # 16 patches x 2 views
    # layerwise stage 1: forward + weight gradient (the input needs no gradient)
    # layerwise stage 2: frozen stage-1 forward + stage-2 forward + weight gradient
    # end to end: both forwards, stage-2 input and weight gradients, stage-1 weight gradient
    expected = {"0:stages.0": 2 * f1, "1:stages.1": f1 + 2 * f2}
    for key, value in expected.items():
        assert value <= lw.flops_per_step[key] <= 1.01 * value  # the rest: the loss's covariance products
    assert 2 * f1 + 3 * f2 <= e2e.flops_per_step["0:stages.1"] <= 1.01 * (2 * f1 + 3 * f2)
    prov = json.loads((tmp_path / "lw" / "provenance.json").read_text())
    assert prov["flops_per_step"] == lw.flops_per_step
    assert prov["flops_total"] == pytest.approx(sum(lw.flops_per_step.values()))


def test_texture_model_learns_with_the_gaussian_information_loss(tmp_path):
    r = train(CONFIGS / "texture_model_quick.yaml",
              ["schedule.steps=24", "run.checkpoint_every=0", "run.progress=false", "data.image_size=96",
               "model_config.channels=8", "optim.warmup_steps=0", f"run.out_dir={tmp_path}"])
    losses = r.losses("stages.0")
    assert len(losses) == 24 and _decreased(losses, k=6), losses
    z = r.model.embedding(r.model(torch.rand(2, 1, 32, 32)))
    assert z.shape == (2, 8)


def test_nan_loss_stops_naming_step_and_stage_then_resume_equals_uninterrupted(tmp_path, monkeypatch):
    reference = _lcl(tmp_path, "schedule.steps=5", "run.checkpoint_every=3", out="ref")
    import neuromodels.losses as losses

    real = losses.build_loss

    class Poisoned(torch.nn.Module):  # the real loss, but NaN from its 3rd call on (step 8)
        def __init__(self, inner):
            super().__init__()
            self.inner, self.calls = inner, 0

        def forward(self, z):
            self.calls += 1
            out = self.inner(z)
            return out * float("nan") if self.calls >= 3 else out

    calls = []

    def build(name, **kw):
        calls.append(name)
        loss = real(name, **kw)
        return Poisoned(loss) if len(calls) == 2 else loss  # the stage-2 loss

    monkeypatch.setattr(losses, "build_loss", build)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 8 \(stage 'stages.1'.*ckpt-00000006.pt"):
        _lcl(tmp_path, "schedule.steps=5", "run.checkpoint_every=3", out="nan")
    kept = list_checkpoints(tmp_path / "nan" / "checkpoints")
    assert [p.name for p in kept] == ["ckpt-00000003.pt", "ckpt-00000006.pt"]
    assert [r["step"] for r in read_metrics(tmp_path / "nan")] == list(range(1, 8))
    monkeypatch.setattr(losses, "build_loss", real)
    resumed = train(CONFIGS / "lcl_v2_quick.yaml",
                    [*SMALL, "schedule.steps=5", "run.checkpoint_every=3", f"run.out_dir={tmp_path / 'nan'}"],
                    resume=True)
    assert _equal(resumed.model.state_dict(), reference.model.state_dict())
    assert [r["step"] for r in read_metrics(tmp_path / "nan")] == list(range(1, 11))
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in reference.history]


def test_corrupted_checkpoint_is_detected_and_resume_falls_back(tmp_path, caplog):
    ref = _lcl(tmp_path, "schedule.steps=4", "run.checkpoint_every=2")
    ckpts = list_checkpoints(tmp_path / "run" / "checkpoints")
    assert [p.name for p in ckpts] == ["ckpt-00000002.pt", "ckpt-00000004.pt", "ckpt-00000006.pt", "ckpt-00000008.pt"]
    flipped = bytearray(ckpts[2].read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF
    ckpts[2].write_bytes(bytes(flipped))
    with pytest.raises(CorruptCheckpointError, match="SHA-256 .* does not match"):
        read_checkpoint(ckpts[2])
    data = ckpts[3].read_bytes()
    ckpts[3].write_bytes(data[: len(data) // 3])  # truncated, as by a full disk
    with pytest.raises(CorruptCheckpointError, match="corrupted"):
        read_checkpoint(ckpts[3])
    with caplog.at_level(logging.WARNING, logger="neuromodels.training"):
        resumed = train(CONFIGS / "lcl_v2_quick.yaml",
                        [*SMALL, "schedule.steps=4", "run.checkpoint_every=2", f"run.out_dir={tmp_path / 'run'}"],
                        resume=True)
    text = caplog.text
    assert "ckpt-00000008.pt is corrupted" in text and "ckpt-00000006.pt is corrupted" in text
    assert "resuming from ckpt-00000004.pt (skipped corrupted: ckpt-00000008.pt, ckpt-00000006.pt)" in text
    assert _equal(resumed.model.state_dict(), ref.model.state_dict())
    assert read_checkpoint(list_checkpoints(tmp_path / "run" / "checkpoints")[-1])["step"] == 8


def test_existing_run_folder_needs_resume(tmp_path):
    _lcl(tmp_path, "schedule.steps=1", "run.checkpoint_every=0")
    with pytest.raises(ValueError, match="already holds checkpoints.*--resume"):
        _lcl(tmp_path, "schedule.steps=1", "run.checkpoint_every=0")


def test_run_folder_metrics_provenance_and_load_model(tmp_path):
    r = _lcl(tmp_path, "schedule.steps=3", "run.checkpoint_every=0", "run.seed=7")
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} >= {"config.yaml", "provenance.json", "metrics.csv", "metrics.jsonl",
                                                "summary.json", "checkpoints"}
    resolved = load_config(run / "config.yaml")
    assert resolved.run.seed == 7 and resolved.model_config["channels"] == [8, 16]
    import pandas as pd

    table = pd.read_csv(run / "metrics.csv")
    assert list(table["step"]) == list(range(1, 7))
    np.testing.assert_allclose(table["loss"], [row["loss"] for row in read_metrics(run)], rtol=1e-12)
    assert list(table["stage"]) == ["stages.0"] * 3 + ["stages.1"] * 3
    assert (table["samples_per_s"] > 0).all()
    prov = json.loads((run / "provenance.json").read_text())
    assert prov["seed"] == 7 and prov["version"] == neuromodels.__version__ and prov["device"] == "cpu"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(neuromodels.__file__).parent,
                          capture_output=True, text=True)
    if head.returncode == 0:
        assert prov["git"]["revision"] == head.stdout.strip()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final_loss"] == table["loss"].iloc[-1]
    model = load_model(run)
    assert not model.training
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        for a, b in zip(model.stage_outputs(x), r.model.stage_outputs(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    state = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert {"model", "model_name", "model_config", "optimizer", "scheduler", "rng", "data", "step"} <= set(state)
    assert state["data"]["position"] == 6 and state["model_name"] == "lcl_v2"


def test_bf16_autocast_and_channels_last_path_agrees_with_fp32(tmp_path):
    # the CUDA settings, exercised on the CPU: one step, the same views, bf16 has ~3 significant digits
    fp32 = _lcl(tmp_path, "schedule.steps=1", "run.checkpoint_every=0", out="fp32")
    bf16 = _lcl(tmp_path, "schedule.steps=1", "run.checkpoint_every=0", "run.precision=bf16",
                "run.channels_last=true", out="bf16")
    for a, b in zip(fp32.losses(), bf16.losses()):
        assert b == pytest.approx(a, rel=0.05)
    prov = json.loads((tmp_path / "bf16" / "provenance.json").read_text())
    assert prov["precision"] == "bf16" and prov["channels_last"] is True


def test_device_autodetect_and_missing_cuda():
    from neuromodels.training.distributed import all_gather_with_grad, resolve_device

    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="use --device cpu"):
            resolve_device("cuda")
    x = torch.randn(3, 2, requires_grad=True)
    assert all_gather_with_grad(x) is x  # one process: nothing to gather


def test_progress_bar_shows_loss_and_throughput(tmp_path, capsys):
    _lcl(tmp_path, "schedule.steps=2", "run.checkpoint_every=0", "run.progress=true")
    err = capsys.readouterr().err
    assert "loss=" in err and "img_s=" in err and "4/4" in err


