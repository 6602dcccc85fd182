"""The trainer with other people's files and interruptions: SIGTERM, honest resume, stale temporary files.

Budgets are tiny (a few steps of a small LCL-V2 on the bundled images).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

import neuromodels
from neuromodels.training import ConfigError, list_checkpoints, read_checkpoint, train

CONFIGS = Path(neuromodels.__file__).parent / "configs"
SMALL = ["model_config.channels=[8, 16]", "data.batch_size=16", "data.image_size=96", "run.progress=false",
         "optim.warmup_steps=0", "optim.lr_schedule=constant", "run.keep_checkpoints=10", "run.count_flops=false"]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _run(tmp_path, *extra, out="run", **kw):
    return train(CONFIGS / "lcl_v2_quick.yaml", [*SMALL, f"run.out_dir={tmp_path / out}", *extra], **kw)


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# The child trains through the real command line; at step K it waits (at most 2 min) for
# the parent's SIGTERM, so the signal lands mid-run whatever the machine's speed.
_CHILD = """
import signal, sys, time, pathlib
from neuromodels.training import metrics
marker, k = pathlib.Path(sys.argv[1]), int(sys.argv[2])
log = metrics.MetricsLogger.log
def waiting_log(self, row):
    log(self, row)
    if row["step"] == k:
        marker.touch()
        trainer = signal.getsignal(signal.SIGTERM).__self__
        deadline = time.time() + 120
        while trainer.stop_signal is None and time.time() < deadline:
            time.sleep(0.02)
metrics.MetricsLogger.log = waiting_log
from neuromodels.training.__main__ import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.slow
def test_sigterm_checkpoints_at_the_step_boundary_and_resumes_bitwise(tmp_path):
    steps = ["schedule.steps=5", "run.checkpoint_every=4"]
    reference = _run(tmp_path, *steps, out="ref")
    run = tmp_path / "killed"
    marker = tmp_path / "at_step"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    argv = [str(CONFIGS / "lcl_v2_quick.yaml"), *SMALL, *steps, f"run.out_dir={run}"]
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(marker), "7", *argv], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not marker.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), child.communicate()[1][-2000:]
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=300)
    assert child.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "SIGTERM received: stopped after step 7 of 10" in err
    assert "resume with: python -m neuromodels.training" in err and "--resume" in err
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["ckpt-00000004.pt", "ckpt-00000007.pt"]
    resumed = _run(tmp_path, *steps, out="killed", resume=True)
    assert _equal(resumed.model.state_dict(), reference.model.state_dict())
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in reference.history]


def test_sigint_in_process_stops_with_a_checkpoint(tmp_path, monkeypatch):
    from neuromodels.training import TrainingInterrupted, metrics

    log = metrics.MetricsLogger.log

    def interrupting_log(self, row):
        log(self, row)
        if row["step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(metrics.MetricsLogger, "log", interrupting_log)
    with pytest.raises(TrainingInterrupted, match=r"SIGINT received: stopped after step 2 of 4.*--resume") as info:
        _run(tmp_path, "schedule.steps=2", "run.checkpoint_every=0")
    assert info.value.checkpoint.name == "ckpt-00000002.pt" and info.value.step == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


@pytest.mark.parametrize("change,key", [("schedule.steps=4", "schedule.steps"), ("optim.lr=0.5", "optim.lr"),
                                        ("augment.c=0.2", "augment.c"), ("run.seed=3", "run.seed")])
def test_resume_refuses_a_changed_config_and_leaves_the_run_alone(tmp_path, change, key):
    _run(tmp_path, "schedule.steps=2", "run.checkpoint_every=1")
    config_before = (tmp_path / "run" / "config.yaml").read_text()
    with pytest.raises(ConfigError, match=rf"cannot resume .*differs .* in {key}: .*--allow-change {key}"):
        _run(tmp_path, "schedule.steps=2", "run.checkpoint_every=1", change, resume=True)
    assert (tmp_path / "run" / "config.yaml").read_text() == config_before


def test_resume_accepts_an_allowed_change_and_records_it(tmp_path):
    _run(tmp_path, "schedule.steps=2", "run.checkpoint_every=1")
    result = _run(tmp_path, "schedule.steps=3", "run.checkpoint_every=1", resume=True,
                  allow_change=["schedule.steps"])
    assert result.steps == 6  # stage 2 trained to the new length
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert prov["config_changes"] == [{"key": "schedule.steps", "old": 2, "new": 3, "at_step": 4,
                                       "allowed_by": "--allow-change"}]
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["schedule"]["steps"] == 3
    assert read_checkpoint(list_checkpoints(tmp_path / "run" / "checkpoints")[-1])["config"]["schedule"]["steps"] == 3


def test_resume_may_change_what_does_not_alter_the_run(tmp_path):
    _run(tmp_path, "schedule.steps=2", "run.checkpoint_every=2")
    result = _run(tmp_path, "schedule.steps=2", "run.checkpoint_every=1", "run.keep_checkpoints=5", resume=True)
    assert result.steps == 4


def test_stale_temporary_files_of_the_trainer_are_removed_on_start(tmp_path):
    _run(tmp_path, "schedule.steps=1", "run.checkpoint_every=1")
    ck, run = tmp_path / "run" / "checkpoints", tmp_path / "run"
    stale = [ck / ".ckpt-00000003.pt.k2j4h5g1.tmp", ck / ".ckpt-00000003.pt.sha256.ab_cd123.tmp",
             run / ".config.yaml.x1y2z3w4.tmp", run / ".metrics.jsonl.q9w8e7r6.tmp"]
    others = [ck / ".my-notes.txt.abcdefgh.tmp", ck / "ckpt-00000003.pt.tmp", run / ".results.json.abcdefgh.tmp",
              run / "notes.tmp"]
    for p in stale + others:
        p.write_bytes(b"partial")
        p.chmod(0o600)
    _run(tmp_path, "schedule.steps=1", "run.checkpoint_every=1", resume=True)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in others)  # never someone else's file
