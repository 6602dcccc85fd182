"""The metrics logger's optional TensorBoard hook (run.tensorboard), with a stand-in SummaryWriter.

tensorboard is an optional extra and is not installed in the test environment: a stand-in
module ``torch.utils.tensorboard`` records what the logger writes, and the scalars are
checked against the rows of ``metrics.jsonl`` (the files the logger writes independently).
"""
import sys
import types
from pathlib import Path

import pytest

import neuromodels
from neuromodels.training import ConfigError, train
from neuromodels.training.metrics import TENSORBOARD_SCALARS, MetricsLogger, read_metrics

CONFIGS = Path(neuromodels.__file__).parent / "configs"


class StandInWriter:
    """Records the calls a ``SummaryWriter`` receives."""

    made = []

    def __init__(self, log_dir, purge_step=None):
        self.log_dir, self.purge_step = log_dir, purge_step
        self.scalars, self.flushed, self.closed = [], 0, False
        StandInWriter.made.append(self)

    def add_scalar(self, tag, value, global_step=None):
        self.scalars.append((tag, value, global_step))

    def flush(self):
        self.flushed += 1

    def close(self):
        self.closed = True


@pytest.fixture
def stand_in(monkeypatch):
    StandInWriter.made = []
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=StandInWriter))
    return StandInWriter


ROWS = [{"step": 1, "phase": 0, "stage": "stages.0", "loss": 2.5, "lr": 0.1, "step_time_s": 0.2,
         "samples_per_s": 80.0, "wall_time_s": 0.2},
        {"step": 2, "phase": 0, "stage": "stages.0", "loss": 2.0, "lr": 0.1, "step_time_s": 0.25,
         "samples_per_s": 64.0, "wall_time_s": 0.45},
        {"step": 3, "phase": 1, "stage": "stages.1", "loss": 1.5, "lr": 0.05, "step_time_s": None,
         "samples_per_s": 70.0, "wall_time_s": 0.7}]


def _expected(rows):
    return [(f"{k}/{r['stage']}", float(r[k]), r["step"]) for r in rows for k in TENSORBOARD_SCALARS
            if r[k] is not None]


def test_scalars_equal_the_logged_rows(tmp_path, stand_in):
    log = MetricsLogger(tmp_path, tensorboard=True)
    for row in ROWS:
        log.log(row)
    log.close()
    (writer,) = stand_in.made
    assert Path(writer.log_dir) == tmp_path / "tensorboard" and writer.purge_step is None
    assert writer.scalars == _expected(read_metrics(tmp_path))  # the same numbers as metrics.jsonl
    assert writer.flushed == len(ROWS) and writer.closed


def test_resume_purges_events_after_the_checkpoint_step(tmp_path, stand_in):
    log = MetricsLogger(tmp_path, tensorboard=True)
    for row in ROWS:
        log.log(row)
    log.close()
    MetricsLogger(tmp_path, keep_until=2, tensorboard=True).close()
    assert stand_in.made[-1].purge_step == 3  # events from step 3 on are recomputed
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]


def test_off_by_default_and_on_non_zero_ranks(tmp_path, stand_in):
    MetricsLogger(tmp_path).close()
    MetricsLogger(tmp_path / "rank1", enabled=False, tensorboard=True).close()
    assert stand_in.made == []


def test_missing_tensorboard_is_one_clear_error_before_any_file(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as when not installed
    with pytest.raises(ConfigError, match=r"needs the tensorboard package.*pip install -e \.\[tensorboard\]"
                                          r".*run\.tensorboard=false"):
        MetricsLogger(tmp_path, tensorboard=True)
    assert not (tmp_path / "metrics.csv").exists()


def test_trainer_writes_every_step_to_tensorboard(tmp_path, stand_in):
    result = train(CONFIGS / "lcl_v2_quick.yaml",
                   ["model_config.channels=[4, 8]", "data.batch_size=8", "data.image_size=64", "run.progress=false",
                    "schedule.steps=2", "run.checkpoint_every=0", "run.count_flops=false",
                    f"run.out_dir={tmp_path / 'run'}", "run.tensorboard=true"])
    (writer,) = stand_in.made
    rows = read_metrics(tmp_path / "run")
    assert len(rows) == result.steps == 4
    assert writer.scalars == _expected(rows) and writer.closed
    assert {tag.split("/")[1] for tag, _, _ in writer.scalars} == {r["stage"] for r in rows}
