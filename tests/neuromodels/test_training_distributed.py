"""Process-level reliability: 2-process DDP (torchrun, gloo) equals one process; SIGKILL then resume.

Both tests start real subprocesses (a few seconds each of interpreter and torch
start-up), hence ``slow``.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import neuromodels
from neuromodels.training import list_checkpoints, read_checkpoint, read_metrics, train

pytestmark = pytest.mark.slow

CONFIG = Path(neuromodels.__file__).parent / "configs" / "lcl_v2_quick.yaml"
SMALL = ["model_config.channels=[8, 16]", "data.batch_size=16", "data.image_size=96", "run.progress=false",
         "optim.warmup_steps=0", "optim.lr_schedule=constant", "run.keep_checkpoints=10"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    # the LCL loss standardizes features over the batch and decorrelates them: without
    # the differentiable all-gather each process would see only its half
    args = [*SMALL, "schedule.steps=3", "optim.name=sgd", "optim.lr=0.05", "augment.chunk_size=4",
            "run.checkpoint_every=0"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           "-m", "neuromodels.training", str(CONFIG), *args, f"run.out_dir={tmp_path / 'ddp'}", "--device", "cpu"]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    single = train(CONFIG, [*args, f"run.out_dir={tmp_path / 'one'}"], device="cpu")
    ddp = read_checkpoint(list_checkpoints(tmp_path / "ddp" / "checkpoints")[-1])
    assert ddp["world_size"] == 2
    torch.manual_seed(0)
    init = neuromodels.build_model("lcl_v2", channels=[8, 16]).state_dict()
    for name, value in single.model.state_dict().items():
        # float32 reduction-order noise is ~1e-6; the training moved every tensor by far more
        assert (value - init[name]).abs().max() > 1e-2, name
        torch.testing.assert_close(ddp["model"][name], value, rtol=1e-4, atol=1e-5, msg=name)
    for a, b in zip(read_metrics(tmp_path / "ddp"), single.history):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    prov = json.loads((tmp_path / "ddp" / "provenance.json").read_text())
    assert prov["world_size"] == 2
    # FLOPs are what all processes spend on one step of the global batch: the model's
    # work is split between them, the loss on the gathered batch runs on every process,
    # so DDP = one process + (world_size - 1) x the loss's own FLOPs (measured here)
    loss_flops = _loss_flops_per_phase(CONFIG, [*args, f"run.out_dir={tmp_path / 'probe'}"])
    assert set(single.flops_per_step) == set(loss_flops)
    for key, value in single.flops_per_step.items():
        assert 0 < loss_flops[key] < value
        assert prov["flops_per_step"][key] == pytest.approx(value + loss_flops[key], rel=0.01)


def _loss_flops_per_phase(config, overrides) -> dict:
    """FLOPs of the loss alone (forward + backward) on one step's embeddings, per phase key."""
    from torch.utils.flop_counter import FlopCounterMode

    from neuromodels.training.config import load_config
    from neuromodels.training.loop import Trainer

    tr = Trainer(load_config(config, [*overrides, "run.device=cpu"]), resume=False)
    out = {}
    for ph in tr.phases:
        tr.set_phase(ph)
        seen, loss_fn = {}, tr.step_module.loss
        hook = loss_fn.register_forward_pre_hook(lambda mod, args: seen.update(z=args[0].detach()))
        tr.step_module(tr.make_views(tr.sampler.batch(ph.start).to(tr.ctx.device), ph.start))
        hook.remove()
        z = seen["z"].clone().requires_grad_(True)
        with FlopCounterMode(display=False) as fc:
            loss_fn(z).backward()
        out[f"{ph.index}:{ph.stage}"] = float(fc.get_total_flops())   # the keys of flops_per_step
    return out


def test_sigkill_between_checkpoints_then_resume_is_bitwise_identical(tmp_path):
    args = [*SMALL, "schedule.steps=10", "run.checkpoint_every=4"]
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "neuromodels.training", str(CONFIG), *args, f"run.out_dir={out}", "--device", "cpu"]
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            rows = read_metrics(out)
            if rows and rows[-1]["step"] >= 5:
                proc.send_signal(signal.SIGKILL)
                break
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it could be killed: {log.read_text()[-2000:]}")
            time.sleep(0.005)
        else:
            pytest.fail("the run did not reach step 5 in time")
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = [read_checkpoint(p)["step"] for p in list_checkpoints(out / "checkpoints")]
    done = read_metrics(out)[-1]["step"]
    assert saved and saved[-1] < done < 20  # killed between checkpoints, before the end
    assert not (out / "summary.json").exists()

    resumed = train(CONFIG, args, resume=True, out_dir=str(out))
    uninterrupted = train(CONFIG, args, out_dir=str(tmp_path / "whole"))
    a, b = resumed.model.state_dict(), uninterrupted.model.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # the metrics history has every step exactly once, and the same losses
    assert [r["step"] for r in read_metrics(out)] == list(range(1, 21))
    assert [r["loss"] for r in read_metrics(out)] == [r["loss"] for r in uninterrupted.history]
