"""The trainer: one loop for every staged model of the registry and every schedule.

One optimizer step at global step ``t`` (0-based) of phase ``p``:

1. the sampler's shard of global batch ``t`` (patches, (b, V0, 1, P, P)) is moved
   to the device;
2. the views are made there: each patch is deformed ``augment.views`` times by
   :class:`neuromodels.augment.LocalDeformation` with the phase's amplitude
   (complexity-matched to the loss stage's receptive field, or one unmatched
   value), the random draws of every chunk of images seeded by ``(seed, t, chunk)``;
   without deformation the views are the ``V0`` crops of each image;
3. the front end and the frozen stages run under ``torch.no_grad`` in eval mode,
   the trainable stages with gradients (bf16 autocast on CUDA), the loss stage's
   embedding ``model.embedding(h, k)`` is reshaped to ``z`` (b, V, D);
4. with several processes ``z`` is gathered over them (differentiably), so the
   loss — evaluated in float32 — sees the whole global batch;
5. a non-finite loss stops the run (:class:`TrainingDiverged`) before the weights
   change; otherwise backward (DDP averages gradients), optional clipping,
   optimizer and learning-rate steps, one metrics row, and a checkpoint every
   ``run.checkpoint_every`` steps and at the end.

Everything random is a function of ``(seed, t)`` or saved in the checkpoint, so a
resumed run repeats the uninterrupted one exactly (bitwise on CPU with
``run.deterministic``).
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import random
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import yaml

from neurocommon.files import atomic_write_bytes
from neurocommon.progress import progress_bar

from .checkpoints import (
    latest_good_checkpoint,
    list_checkpoints,
    remove_stale_temp_files,
    save_checkpoint,
)
from .config import ConfigError, TrainConfig, config_from_dict, config_to_dict, load_config, validate
from .distributed import DistributedContext, all_gather_with_grad, cleanup, init_distributed
from .metrics import MetricsLogger, read_metrics
from .provenance import collect_provenance
from .schedules import Phase, build_phases, phase_at

__all__ = ["train", "Trainer", "RunResult", "TrainingDiverged", "TrainingInterrupted", "build_data",
           "stage_deformation", "seed_of", "config_changes", "RUN_NEUTRAL_KEYS"]

log = logging.getLogger("neuromodels.training")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step and the stage."""


class TrainingInterrupted(RuntimeError):
    """SIGTERM or SIGINT arrived; a checkpoint was written at the step boundary (see ``checkpoint``).

    Attributes
    ----------
    signum
        The signal received.
    step
        Steps completed (the checkpoint's step).
    checkpoint
        The checkpoint written (rank 0), from which ``--resume`` continues.
    """

    def __init__(self, message: str, signum: int, step: int, checkpoint: Path | None):
        super().__init__(message)
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


#: config keys that a resumed run may change freely: they do not change what is computed
RUN_NEUTRAL_KEYS = ("run.out_dir", "run.progress", "run.count_flops", "run.checkpoint_every",
                    "run.keep_checkpoints", "run.tensorboard", "data.num_workers")


def _flatten(values, prefix: str = "") -> dict:
    out = {}
    for k, v in (values or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and key not in ("model_config", "loss.options", "loss.per_stage"):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_changes(old: dict, new: dict) -> dict:
    """Dotted keys whose value differs between two resolved configs: ``{key: (old, new)}``.

    ``model_config``, ``loss.options`` and ``loss.per_stage`` are compared as whole values.

    Examples
    --------
    >>> config_changes({"optim": {"lr": 0.1}, "run": {"seed": 0}}, {"optim": {"lr": 0.2}, "run": {"seed": 0}})
    {'optim.lr': (0.1, 0.2)}
    """
    a, b = _flatten(old), _flatten(new)
    missing = object()
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b))
            if a.get(k, missing) != b.get(k, missing)}


@dataclass
class RunResult:
    """What :func:`train` returns.

    Attributes
    ----------
    run_dir
        The run folder (config.yaml, provenance.json, metrics.csv/jsonl, summary.json, checkpoints/).
    model
        The trained model, in eval mode, on the training device.
    steps
        Optimizer steps completed (over the whole schedule).
    history
        One dict per step (the rows of ``metrics.jsonl``; on rank 0 only).
    checkpoint
        The final checkpoint file.
    flops_per_step
        FLOPs of one training step (global batch, forward + backward) per phase name.
    """

    run_dir: Path
    model: nn.Module
    steps: int
    history: list[dict] = field(default_factory=list)
    checkpoint: Path | None = None
    flops_per_step: dict = field(default_factory=dict)

    def losses(self, stage: str | None = None) -> list[float]:
        """Loss per step (optionally of one stage's phase)."""
        return [r["loss"] for r in self.history if stage is None or r["stage"] == stage]


def seed_of(*parts: int) -> int:
    """A 63-bit seed that is a function of the integers ``parts`` only (``numpy.random.SeedSequence``).

    The trainer seeds every random draw by what it belongs to, e.g. the views of
    chunk ``c`` of global step ``t``: ``seed_of(run.seed, 3, t, c)``, so a resumed
    run draws what the uninterrupted one drew.

    Examples
    --------
    >>> seed_of(0, 3, 5, 1) == seed_of(0, 3, 5, 1) != seed_of(0, 3, 5, 2)
    True
    """
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def stage_deformation(cfg: TrainConfig, model, stage: str):
    """The ``LocalDeformation`` for training ``stage`` (complexity-matched or unmatched).

    Matched (Parthasarathy et al. 2023): amplitude ``matched_amplitude(model, stage,
    augment.c)`` (= ``c`` × the stage's receptive-field size, pixels), cell size of
    the random grid ``augment.cell_c`` × that receptive-field size. Unmatched:
    ``augment.amplitude`` and ``augment.cell_size`` for every stage.
    """
    from .. import augment

    a = cfg.augment
    if not a.deform:
        return None
    if a.matched:
        amplitude = float(augment.matched_amplitude(model, stage, a.c))
        rf = model.receptive_fields()[stage].size
        if not math.isfinite(rf):
            raise ConfigError(f"stage {stage!r} has a global receptive field; use augment.matched=false")
        cell = max(2.0, a.cell_c * float(rf))
    else:
        amplitude, cell = float(a.amplitude), float(a.cell_size)
    return augment.LocalDeformation(amplitude=amplitude, cell_size=cell, translation=float(a.translation))


def build_data(cfg: TrainConfig, rank: int = 0, world_size: int = 1):
    """The image source and the :class:`neuromodels.data.PatchSampler` of a config."""
    from .. import data

    d = cfg.data
    if d.source == "folder":
        try:
            images = data.ImageFolder(d.folder, size=d.image_size)
        except (FileNotFoundError, NotADirectoryError, ValueError) as err:
            raise ConfigError(f"data.folder: {err}") from err
    elif d.source == "texture_families":
        from .. import texture_families

        try:
            images = texture_families.texture_family_images(d.images, size=d.image_size or 64, cache=d.folder)
        except ValueError as err:
            raise ConfigError(f"data.images: {err}") from err
    else:
        names = d.images or (data.BUNDLED if d.source == "bundled" else data.BUNDLED_TEXTURES)
        bad = [n for n in names if n not in data.BUNDLED]
        if bad:
            raise ConfigError(f"data.images names unknown bundled image(s) {bad}; bundled: {', '.join(data.BUNDLED)}")
        images = data.bundled_images(names, size=d.image_size)
    try:
        sampler = data.PatchSampler(
            images, d.patch_size, d.batch_size, crops_per_image=d.crops_per_image,
            seed=cfg.run.seed, rank=rank, world_size=world_size,
        )
    except ValueError as err:
        raise ConfigError(str(err)) from err
    return sampler


class _StepModule(nn.Module):
    """Forward of one training step for one phase: frozen prefix, trainable stages, gathered loss."""

    def __init__(self, model: nn.Module, loss: nn.Module, phase: Phase, views: int, autocast: bool):
        super().__init__()
        self.model, self.loss = model, loss
        self.first, self.top, self.views = phase.first_trainable, phase.loss_stage, views
        self.autocast = autocast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        dev = x.device.type
        with torch.autocast(device_type=dev, dtype=torch.bfloat16, enabled=self.autocast):
            with torch.no_grad():
                h = m.prepare(x) if hasattr(m, "prepare") else x
                if m.frontend is not None:
                    h = m.frontend(h)
                for i in range(self.first):
                    h = m.stages[i](h)
            for i in range(self.first, self.top + 1):
                h = m.stages[i](h)
            z = m.embedding(h, m.stage_names[self.top])
        z = z.float().reshape(-1, self.views, *z.shape[1:])  # (b, V, D) or local (b, V, P, D)
        z = all_gather_with_grad(z)
        return self.loss(z)


class _ViewStream:
    """Iterator over the views of steps ``start .. stop-1``, one step made ahead in a thread."""

    def __init__(self, produce, start: int, stop: int):
        from concurrent.futures import ThreadPoolExecutor

        self.produce, self.step, self.stop = produce, start, stop
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="views")
        self.future = self.pool.submit(produce, start) if start < stop else None

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor:
        if self.future is None:
            raise StopIteration
        views = self.future.result()
        self.step += 1
        self.future = self.pool.submit(self.produce, self.step) if self.step < self.stop else None
        return views

    def wait(self) -> None:
        """Block until the views of the next step are ready (for benchmarks)."""
        if self.future is not None:
            self.future.result()

    def close(self) -> None:
        self.future = None
        self.pool.shutdown(wait=True, cancel_futures=True)


class Trainer:
    """The training loop of one run (:func:`train` builds one and calls :meth:`run`).

    Besides :meth:`run`, a small public surface lets benchmarks and tests drive single
    steps: :attr:`phases` (the schedule), :meth:`set_phase` (make a phase current:
    trainable stages, optimizer, ``step_module``), :meth:`make_views` (the views of a
    batch of a step), :meth:`view_stream`, and the attributes ``model``, ``sampler``,
    ``step_module`` (``step_module(views)`` is the loss of one step), ``optimizer``,
    ``ctx`` (device, rank), ``bf16``, ``channels_last`` and ``total`` (steps).

    Parameters
    ----------
    cfg : TrainConfig
        A validated training config.
    resume : bool
        Continue from the run folder's last good checkpoint.
    allow_change : list of str, optional
        Config keys that may differ from the checkpoint's on resume.
    """

    def __init__(self, cfg: TrainConfig, resume: bool, allow_change: list[str] | None = None):
        from .. import losses as losses_pkg
        from ..registry import build_model

        self.cfg, self.resume, self.allow_change = cfg, resume, list(allow_change or [])
        self.stop_signal: int | None = None
        validate(cfg)  # registries: model and loss names, before anything is built
        if cfg.run.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError(
                f"run.device=cuda, but this torch ({torch.__version__}) sees no CUDA GPU; "
                "use run.device=auto (GPU when there is one) or --device cpu"
            )
        self.ctx: DistributedContext = init_distributed(cfg.run.device)
        dev = self.ctx.device
        self.bf16 = cfg.run.precision == "bf16" or (cfg.run.precision == "auto" and dev.type == "cuda")
        if self.bf16 and dev.type == "cpu" and cfg.run.precision == "bf16":
            log.info("bf16 autocast on CPU is slow; it is meant for CUDA")
        self.channels_last = cfg.run.channels_last if cfg.run.channels_last is not None else dev.type == "cuda"
        torch.manual_seed(cfg.run.seed)
        try:
            self.model = build_model(cfg.model, **cfg.model_config)
        except TypeError as err:
            raise ConfigError(f"model_config: {err}") from err
        validate(cfg, self.model)
        for name in ("frontend", "stages", "stage_names", "embedding"):
            if not hasattr(self.model, name):
                raise ConfigError(f"model {cfg.model!r} has no {name!r}; the trainer needs a staged model (docs/interfaces.md)")
        self.stage_names = list(self.model.stage_names)
        stages = cfg.schedule.stages or self.stage_names
        self.phases = build_phases(cfg.schedule.kind, stages, cfg.schedule.steps, cfg.schedule.freeze_steps, self.stage_names)
        self.total = self.phases[-1].stop
        # the model author's own choice of fixed parameters is kept
        self.learnable = {id(p): p.requires_grad for p in self.model.parameters()}
        self.losses, self.deforms = {}, {}
        for ph in self.phases:
            spec = dict(cfg.loss.per_stage.get(ph.stage, {"name": cfg.loss.name, **cfg.loss.options}))
            name = spec.pop("name")
            try:
                self.losses[ph.index] = losses_pkg.build_loss(name, **spec)
            except (TypeError, ValueError) as err:
                raise ConfigError(f"loss {name!r} for stage {ph.stage!r} rejects its options {spec}: {err}") from err
            self.deforms[ph.index] = stage_deformation(cfg, self.model, ph.stage)
        self.sampler = build_data(cfg, self.ctx.rank, self.ctx.world_size)
        self.views = cfg.data.crops_per_image if (cfg.data.crops_per_image > 1 or not cfg.augment.deform) else cfg.augment.views
        chunk = cfg.augment.chunk_size or self.sampler.local_batch
        if self.sampler.local_batch % chunk:
            raise ConfigError(
                f"augment.chunk_size={chunk} must divide the per-process batch {self.sampler.local_batch}"
            )
        self.chunk = chunk
        self.run_dir = Path(cfg.run.out_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.opt_key, self.phase = None, None  # no phase set up yet (run() starts from here too)

    # -- set-up of one phase -------------------------------------------------------
    def set_phase(self, ph: Phase, state: dict | None = None) -> None:
        """Make phase ``ph`` (one of :attr:`phases`) the current one, as the loop does on reaching it.

        The phase's stages become trainable (in train mode; the others and the front
        end frozen, in eval mode), its optimizer and learning-rate schedule are built
        when it starts a new optimizer span (restored from ``state``, a checkpoint, when
        that holds the same span), and ``step_module`` (DDP-wrapped under
        ``torch.distributed``) computes the phase's loss from views. The model must
        already be on ``ctx.device``.
        """
        m = self.model
        trainable = set(ph.trainable)
        for i, stage in enumerate(m.stages):
            on = i in trainable
            for p in stage.parameters():
                p.requires_grad_(on and self.learnable[id(p)])
            stage.train(on)
        if m.frontend is not None:
            m.frontend.eval()
            for p in m.frontend.parameters():
                p.requires_grad_(False)
        loss = self.losses[ph.index].to(self.ctx.device)
        new_opt = self.opt_key != ph.optimizer_key
        if new_opt:
            span = [q for q in self.phases if q.optimizer_key == ph.optimizer_key]
            params = [p for q in span for i in q.trainable for p in m.stages[i].parameters() if self.learnable[id(p)]]
            params = list({id(p): p for p in params}.values()) + list(loss.parameters())
            if not params:
                raise ConfigError(f"stage {ph.stage!r} of model {self.cfg.model!r} has no trainable parameters")
            self.optimizer = self._optimizer(params)
            self.scheduler = self._scheduler(self.optimizer, span[0].start, span[-1].stop)
            self.opt_key = ph.optimizer_key
            if state is not None and state.get("optimizer_key") == ph.optimizer_key:
                self.optimizer.load_state_dict(state["optimizer"])
                self.scheduler.load_state_dict(state["scheduler"])
        if self.ctx.distributed and getattr(self, "step_module", None) is not None:
            # the previous DDP wrapper's gradient hooks must be gone before a new one is made
            del self.step_module
            import gc

            gc.collect()
        step_module = _StepModule(m, loss, ph, self.views, self.bf16)
        if self.ctx.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            dev = self.ctx.device
            self.step_module = DDP(step_module, device_ids=[dev.index] if dev.type == "cuda" else None)
        else:
            self.step_module = step_module
        self.phase = ph

    def _optimizer(self, params):
        o = self.cfg.optim
        if o.name == "sgd":
            return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
        cls = torch.optim.AdamW if o.name == "adamw" else torch.optim.Adam
        return cls(params, lr=o.lr, weight_decay=o.weight_decay)

    def _scheduler(self, optimizer, start: int, stop: int):
        o, n = self.cfg.optim, stop - start

        def factor(i: int) -> float:
            if o.warmup_steps and i < o.warmup_steps:
                return (i + 1) / o.warmup_steps
            if o.lr_schedule == "cosine":
                t = (i - o.warmup_steps) / max(1, n - o.warmup_steps)
                return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
            return 1.0

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    # -- views on the device -------------------------------------------------------
    def make_views(self, x: torch.Tensor, step: int, phase: Phase | None = None) -> torch.Tensor:
        """The (b·V, C, P, P) views of this process's batch ``x`` (b, V0, C, P, P) of global step ``step``.

        Deformed by the stage deformation of ``phase`` (default: the phase of ``step``),
        each chunk of ``augment.chunk_size`` images with its own generator seeded by
        :func:`seed_of` ``(run.seed, 3, step, chunk)``; channels-last when the trainer
        uses it.
        """
        b = x.shape[0]
        deform = self.deforms[(phase or phase_at(self.phases, step)).index]
        if deform is None:
            views = x.flatten(0, 1)
        else:
            if x.shape[1] == 1 and self.views > 1:
                x = x.expand(-1, self.views, -1, -1, -1)
            out = []
            with torch.no_grad():
                for s in range(0, b, self.chunk):
                    part = x[s : s + self.chunk].flatten(0, 1)
                    g = torch.Generator(device=x.device)
                    g.manual_seed(seed_of(self.cfg.run.seed, 3, step, (self.ctx.rank * b + s) // self.chunk))
                    out.append(deform(part, generator=g))
            views = torch.cat(out, 0)
        if self.channels_last:
            views = views.contiguous(memory_format=torch.channels_last)
        return views

    def view_stream(self, start: int) -> "_ViewStream":
        """Views of steps ``start, start+1, ...``; step t+1's are made (in one background
        thread) while step t trains, so sampling and deformation overlap the step.

        The views of step t depend only on ``(seed, t)``, so prefetching changes nothing
        in the results.
        """
        batches = _batches(self.sampler, start, self.cfg.data.num_workers, self.ctx.device)
        return _ViewStream(lambda step: self.make_views(next(batches), step), start, self.total)

    # -- state ---------------------------------------------------------------------
    def _rng_state(self) -> dict:
        np_state = np.random.get_state()
        mine = {
            "torch": torch.get_rng_state(),
            "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                      "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
            "python": random.getstate(),
        }
        if self.ctx.device.type == "cuda":
            mine["cuda"] = torch.cuda.get_rng_state(self.ctx.device)
        if self.ctx.distributed:
            import torch.distributed as dist

            allstates = [None] * self.ctx.world_size
            dist.all_gather_object(allstates, mine)
            return {"per_rank": allstates}
        return {"per_rank": [mine]}

    def _set_rng_state(self, rng: dict) -> None:
        states = rng["per_rank"]
        if len(states) != self.ctx.world_size:
            log.warning("checkpoint holds RNG states of %d processes, this run has %d; using rank 0's",
                        len(states), self.ctx.world_size)
        s = states[self.ctx.rank] if len(states) == self.ctx.world_size else states[0]
        torch.set_rng_state(s["torch"])
        n = s["numpy"]
        np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
        random.setstate(s["python"])
        if "cuda" in s and self.ctx.device.type == "cuda":
            torch.cuda.set_rng_state(s["cuda"], self.ctx.device)

    def _checkpoint(self, step: int) -> Path | None:
        rng = self._rng_state()  # collective: every rank takes part
        if not self.ctx.is_main:
            return None
        state = {
            "format": 1,
            "model": {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
            "model_name": self.cfg.model,
            "model_config": self.cfg.model_config,
            "config": config_to_dict(self.cfg),
            "step": step,
            "phase": self.phase.index,
            "schedule": {"kind": self.cfg.schedule.kind, "phase": self.phase.index, "stage": self.phase.stage,
                         "total_steps": self.total},
            "optimizer_key": self.opt_key,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "losses": {i: l.state_dict() for i, l in self.losses.items()},
            "rng": rng,
            "data": self.sampler.state_dict(),
            "world_size": self.ctx.world_size,
            "flops_per_step": dict(self.flops),
        }
        return save_checkpoint(self.ckpt_dir, state, step, keep=self.cfg.run.keep_checkpoints)

    def _write_run_files(self, config: dict) -> None:
        if not self.ctx.is_main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.run_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False).encode())
        self.provenance = collect_provenance(config, self.cfg.run.seed, self.ctx.device, self.ctx.world_size)
        self.provenance["precision"] = "bf16" if self.bf16 else "fp32"
        self.provenance["channels_last"] = bool(self.channels_last)
        self.provenance["config_changes"] = self.recorded_changes
        self._write_provenance()

    def _write_provenance(self) -> None:
        if not self.ctx.is_main:
            return
        prov = dict(self.provenance)
        prov["flops_per_step"] = dict(self.flops)
        prov["flops_total"] = self._flops_total()
        atomic_write_bytes(self.run_dir / "provenance.json", json.dumps(prov, indent=2, default=str).encode())

    def _flops_total(self) -> float | None:
        if not all(self._phase_key(p) in self.flops for p in self.phases):
            return None
        return float(sum(self.flops[self._phase_key(p)] * (p.stop - p.start) for p in self.phases))

    @staticmethod
    def _phase_key(ph: Phase) -> str:
        return f"{ph.index}:{ph.stage}"

    # -- the loop ------------------------------------------------------------------
    def _check_resume_config(self, path: Path, state: dict) -> None:
        """Refuse a resume whose config changes the run, unless each change is allowed (and recorded)."""
        cfg = self.cfg
        if state["model_name"] != cfg.model or state["model_config"] != cfg.model_config:
            raise ConfigError(
                f"cannot resume from {path}: it holds model {state['model_name']!r} with "
                f"{state['model_config']}, the config asks for {cfg.model!r} with {cfg.model_config}"
            )
        old = state.get("config")
        source = f"the checkpoint {path.name}"
        if not isinstance(old, dict) and (self.run_dir / "config.yaml").is_file():
            old = yaml.safe_load((self.run_dir / "config.yaml").read_text())
            source = f"{self.run_dir / 'config.yaml'}"
        if not isinstance(old, dict):
            log.warning("--resume: no config recorded with %s; cannot check that the run is unchanged", path.name)
            return
        changes = config_changes(old, config_to_dict(cfg))
        if "run.device" in changes:  # 'auto' and the device it picks here are the same device
            here = "cuda" if torch.cuda.is_available() else "cpu"
            a, b = (here if d == "auto" else d for d in changes["run.device"])
            if a == b:
                del changes["run.device"]

        def allowed(key: str) -> bool:
            return any(key == a or key.startswith(a + ".") for a in (*RUN_NEUTRAL_KEYS, *self.allow_change))
        refused = {k: v for k, v in changes.items() if not allowed(k)}
        if refused:
            listing = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in refused.items())
            flags = " ".join(f"--allow-change {k}" for k in refused)
            raise ConfigError(
                f"cannot resume {self.run_dir}: the config differs from the one it was trained with "
                f"({source}) in {listing}. A resumed run must be the same run; use the original values, "
                f"start a new run.out_dir, or accept the change explicitly with {flags} (recorded in "
                "provenance.json)"
            )
        prov_path = self.run_dir / "provenance.json"
        try:
            earlier = json.loads(prov_path.read_text()).get("config_changes", []) if prov_path.is_file() else []
        except (OSError, ValueError):
            earlier = []
        step = int(state.get("step", 0))
        self.recorded_changes = list(earlier) + [
            {"key": k, "old": a, "new": b, "at_step": step, "allowed_by": "--allow-change"}
            for k, (a, b) in changes.items() if k not in RUN_NEUTRAL_KEYS
        ]
        for item in self.recorded_changes[len(earlier):]:
            log.warning("--resume with an allowed change at step %d: %s %r -> %r", step, item["key"], item["old"],
                        item["new"])

    def _on_signal(self, signum, frame) -> None:
        if self.stop_signal is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.stop_signal = signum
        log.warning("%s received: writing a checkpoint at the end of this step, then stopping",
                    signal.Signals(signum).name)

    @contextlib.contextmanager
    def _stop_on_signals(self):
        """SIGTERM (cluster schedulers, SLURM preemption) and SIGINT stop the run at the next step boundary."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    def _stop_requested(self) -> bool:
        flag = self.stop_signal is not None
        if self.ctx.distributed:  # every rank stops at the same step
            import torch.distributed as dist

            t = torch.tensor([float(self.stop_signal or 0)], device=self.ctx.device)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            self.stop_signal = int(t.item()) or None
            flag = self.stop_signal is not None
        return flag

    def run(self) -> RunResult:
        with self._stop_on_signals():
            return self._run()

    def _run(self) -> RunResult:
        cfg, ctx = self.cfg, self.ctx
        start, state, path = 0, None, None
        self.recorded_changes: list = []
        if ctx.is_main:
            remove_stale_temp_files(self.ckpt_dir, [r"ckpt-\d+\.pt(?:\.sha256)?"])
            remove_stale_temp_files(self.run_dir, [re.escape(n) for n in _RUN_FILES])
        existing = list_checkpoints(self.ckpt_dir)
        if self.resume:
            found = latest_good_checkpoint(self.ckpt_dir)
            if found is None:
                log.warning("--resume: no usable checkpoint in %s; starting from step 0", self.ckpt_dir)
            else:
                path, state = found
                self._check_resume_config(path, state)
                self.model.load_state_dict(state["model"])
                for i, sd in state.get("losses", {}).items():
                    if int(i) in self.losses:
                        self.losses[int(i)].load_state_dict(sd)
                self.sampler.load_state_dict(state["data"])
                start = int(state["step"])
                log.info("resuming from %s at step %d", path.name, start)
        elif existing and ctx.is_main:
            raise ConfigError(
                f"run folder {self.run_dir} already holds checkpoints ({existing[-1].name}); "
                "pass --resume (resume=True) to continue it, or choose another run.out_dir"
            )
        self.flops: dict = dict(state.get("flops_per_step", {})) if state else {}
        self._write_run_files(config_to_dict(cfg))
        dev = ctx.device
        self.model.to(dev)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        if state is not None:
            self._set_rng_state(state["rng"])
        else:
            torch.manual_seed(cfg.run.seed + ctx.rank)
            np.random.seed((cfg.run.seed + ctx.rank) % 2**32)
            random.seed(cfg.run.seed + ctx.rank)
        self.opt_key, self.phase = None, None
        metrics = MetricsLogger(self.run_dir, keep_until=start if state else None, enabled=ctx.is_main,
                                tensorboard=cfg.run.tensorboard)
        history = read_metrics(self.run_dir) if ctx.is_main else []
        last_ckpt = path if state is not None else None
        counted = set()
        stream = self.view_stream(start)
        bar = progress_bar(None, cfg.run.progress and ctx.is_main, total=self.total, initial=start, unit="step",
                           dynamic_ncols=True)
        t0 = time.perf_counter()
        global_batch = cfg.data.batch_size
        try:
            for step in range(start, self.total):
                ph = phase_at(self.phases, step)
                if ph is not self.phase:
                    self.set_phase(ph, state)
                    bar.set_description(ph.stage)
                tic = time.perf_counter()
                views = next(stream)
                key = self._phase_key(ph)
                counting = cfg.run.count_flops and ph.index not in counted and key not in self.flops
                fc = _flop_counter() if counting else contextlib.nullcontext()
                with fc:
                    loss = self.step_module(views)
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        raise TrainingDiverged(
                            f"the loss became {value} at step {step + 1} (stage {ph.stage!r}, phase {ph.index} of "
                            f"schedule {cfg.schedule.kind!r}); the weights of that step were not applied. "
                            f"Last good checkpoint: {last_ckpt if last_ckpt else 'none written yet'}. "
                            "Lower optim.lr, add optim.grad_clip or check the data."
                        )
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                if counting:
                    self.flops[key] = float(fc.get_total_flops()) * ctx.world_size
                    counted.add(ph.index)
                    self._write_provenance()
                if cfg.optim.grad_clip:
                    torch.nn.utils.clip_grad_norm_(
                        [p for g in self.optimizer.param_groups for p in g["params"]], cfg.optim.grad_clip
                    )
                lr = self.optimizer.param_groups[0]["lr"]
                self.optimizer.step()
                self.scheduler.step()
                dt = time.perf_counter() - tic
                row = {"step": step + 1, "phase": ph.index, "stage": ph.stage, "loss": value, "lr": lr,
                       "step_time_s": dt, "samples_per_s": global_batch / dt if dt > 0 else float("nan"),
                       "wall_time_s": time.perf_counter() - t0}
                metrics.log(row)
                if ctx.is_main:
                    history.append(row)
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4g}", img_s=f"{row['samples_per_s']:.0f}", refresh=False)
                every = cfg.run.checkpoint_every
                saved_now = step + 1 == self.total or (every and (step + 1) % every == 0)
                if saved_now:
                    saved = self._checkpoint(step + 1)
                    last_ckpt = saved or last_ckpt
                if step + 1 < self.total and self._stop_requested():
                    if not saved_now:
                        last_ckpt = self._checkpoint(step + 1) or last_ckpt
                    name = signal.Signals(self.stop_signal).name
                    raise TrainingInterrupted(
                        f"{name} received: stopped after step {step + 1} of {self.total}; checkpoint "
                        f"{last_ckpt if ctx.is_main else '(written by rank 0)'}. Resume with the same config, "
                        f"overrides and run folder ({self.run_dir}) plus --resume (resume=True).",
                        self.stop_signal, step + 1, last_ckpt,
                    )
        finally:
            stream.close()
            bar.close()
            metrics.close()
        if ctx.is_main:
            self._write_provenance()
            summary = {
                "steps": self.total,
                "final_loss": history[-1]["loss"] if history else None,
                "phases": [
                    {"phase": p.index, "stage": p.stage, "start": p.start, "stop": p.stop,
                     "first_loss": next((r["loss"] for r in history if r["phase"] == p.index), None),
                     "last_loss": next((r["loss"] for r in reversed(history) if r["phase"] == p.index), None)}
                    for p in self.phases
                ],
                "flops_per_step": dict(self.flops),
                "flops_total": self._flops_total(),
                "checkpoint": str(last_ckpt) if last_ckpt else None,
                "wall_time_s": time.perf_counter() - t0,
            }
            atomic_write_bytes(self.run_dir / "summary.json", json.dumps(summary, indent=2).encode())
        self.model.eval()
        return RunResult(self.run_dir, self.model, self.total, history, last_ckpt, dict(self.flops))


#: the files the trainer writes in a run folder (their stale temporary files are removed on start)
_RUN_FILES = ("config.yaml", "provenance.json", "summary.json", "metrics.csv", "metrics.jsonl")


def _flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    return FlopCounterMode(display=False)


def _batches(sampler, start: int, num_workers: int, device: torch.device):
    from ..data import batch_iterator

    pin = device.type == "cuda"
    for batch in batch_iterator(sampler, start, num_workers=num_workers, pin_memory=pin):
        yield batch.to(device, non_blocking=pin)


@contextlib.contextmanager
def _deterministic(enabled: bool, cuda: bool):
    before = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    benchmark = torch.backends.cudnn.benchmark
    if enabled:
        if cuda:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=cuda)
    elif cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=warn_only)
        torch.backends.cudnn.benchmark = benchmark


def train(config, overrides: list[str] | None = None, *, resume: bool = False, device: str | None = None,
          out_dir: str | None = None, allow_change: list[str] | None = None) -> RunResult:
    """Train a staged model of the registry as a config describes.

    Parameters
    ----------
    config
        A :class:`~neuromodels.training.config.TrainConfig`, a nested dict, or the path of a YAML file.
    overrides
        ``key=value`` strings applied on top (``optim.lr=0.01``).
    resume
        Continue from the newest good checkpoint of the run folder. The config must be
        the one the run was made with (checked against the checkpoint's config), except
        for :data:`RUN_NEUTRAL_KEYS` and the keys in ``allow_change``.
    device
        Overrides ``run.device`` (``"cpu"``, ``"cuda"``, ``"auto"``).
    out_dir
        Overrides ``run.out_dir``.
    allow_change
        Dotted config keys (or sections) a resumed run may change; each change is
        recorded in ``provenance.json`` (``config_changes``).

    Returns
    -------
    RunResult

    Raises
    ------
    ConfigError
        Before any work, for an invalid config (the message lists the valid choices).
    TrainingDiverged
        When the loss becomes NaN or infinite (the last good checkpoint is kept).
    TrainingInterrupted
        After SIGTERM or SIGINT, once the checkpoint of the current step is written.

    Examples
    --------
    Not run as a doctest: it trains and writes a run folder (``tests/neuromodels/test_training.py`` does).

    >>> result = train("neuromodels/configs/lcl_v2_quick.yaml", ["schedule.steps=2"])  # doctest: +SKIP
    >>> result.losses()[-1] < result.losses()[0]                                       # doctest: +SKIP
    True
    """
    if isinstance(config, TrainConfig):
        from .config import apply_overrides

        cfg = config_from_dict(apply_overrides(config_to_dict(config), overrides or []))
    elif isinstance(config, dict):
        from .config import apply_overrides

        cfg = config_from_dict(apply_overrides(config, overrides or []))
    else:
        cfg = load_config(config, overrides)
    if device is not None:
        cfg = replace(cfg, run=replace(cfg.run, device=device))
    if out_dir is not None:
        cfg = replace(cfg, run=replace(cfg.run, out_dir=str(out_dir)))
    cuda = cfg.run.device == "cuda" or (cfg.run.device == "auto" and torch.cuda.is_available())
    with _deterministic(cfg.run.deterministic, cuda):
        try:
            return Trainer(cfg, resume, allow_change).run()
        finally:
            cleanup()
