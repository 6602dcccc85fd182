"""Training schedules as a list of phases: which stages learn, which carry the loss.

A *phase* is a contiguous range of global steps in which the set of trainable
stages and the stage whose output feeds the loss do not change. Stages below the
first trainable one are frozen: they run under ``torch.no_grad`` in eval mode.

- ``layerwise`` (Parthasarathy, Hénaff & Simoncelli 2023): one phase per stage;
  stage k is trained with its own local loss on the outputs of the frozen stages
  1..k-1; each phase has its own optimizer (no backpropagation across stages).
- ``end_to_end``: one phase, every stage trainable, one loss at the top stage.
- ``progressive_freezing`` (LayerLock-style): like ``end_to_end`` with one
  optimizer, but after each entry of ``freeze_steps`` the next stage in depth order
  is frozen; the loss stays at the top.

Examples
--------
>>> [p.stage for p in build_phases("layerwise", ["v2a", "v2b"], steps=3)]
['v2a', 'v2b']
>>> [(p.start, p.stop, p.first_trainable) for p in
...  build_phases("progressive_freezing", ["a", "b"], steps=10, freeze_steps=[4])]
[(0, 4, 0), (4, 10, 1)]
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Phase", "build_phases", "phase_at"]


@dataclass(frozen=True)
class Phase:
    """One phase of a schedule.

    Attributes
    ----------
    index
        Position in the schedule (0-based).
    start, stop
        Global steps ``start <= t < stop`` of this phase.
    first_trainable
        Index (into ``model.stages``) of the lowest trainable stage; stages below are frozen.
    loss_stage
        Index of the stage whose embedding feeds the loss (the highest one run).
    stage
        Name of the loss stage.
    optimizer_key
        Phases with the same key share one optimizer and learning-rate schedule.
    """

    index: int
    start: int
    stop: int
    first_trainable: int
    loss_stage: int
    stage: str
    optimizer_key: int

    @property
    def trainable(self) -> range:
        """Indices of the trainable stages."""
        return range(self.first_trainable, self.loss_stage + 1)


def build_phases(kind: str, stages: list[str], steps, freeze_steps=(), stage_names=None) -> list[Phase]:
    """Turn a schedule description into phases.

    Parameters
    ----------
    kind
        ``"layerwise"``, ``"end_to_end"`` or ``"progressive_freezing"``.
    stages
        Names of the stages to train (in depth order).
    steps
        Layerwise: steps per stage (int) or ``{stage: steps}``; otherwise total steps.
    freeze_steps
        progressive_freezing: steps after which stage 1, 2, ... of ``stages`` freeze.
    stage_names
        All of the model's stage names (default ``stages``), to map names to indices.

    Returns
    -------
    list of Phase
        Contiguous, covering ``0 .. total steps``.
    """
    stage_names = list(stage_names or stages)
    idx = [stage_names.index(s) for s in stages]
    phases: list[Phase] = []
    if kind == "layerwise":
        t = 0
        for i, (name, k) in enumerate(zip(stages, idx)):
            n = steps[name] if isinstance(steps, dict) else steps
            if isinstance(steps, dict) and name not in steps:
                raise ValueError(f"schedule.steps has no entry for stage {name!r}; it has {list(steps)}")
            phases.append(Phase(i, t, t + n, k, k, name, i))
            t += n
    elif kind == "end_to_end":
        phases.append(Phase(0, 0, int(steps), idx[0], idx[-1], stages[-1], 0))
    elif kind == "progressive_freezing":
        bounds = [0, *freeze_steps, int(steps)]
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            phases.append(Phase(i, a, b, idx[i], idx[-1], stages[-1], 0))
    else:
        raise ValueError(f"unknown schedule kind {kind!r}; choose layerwise, end_to_end or progressive_freezing")
    return phases


def phase_at(phases: list[Phase], step: int) -> Phase:
    """The phase that contains global step ``step`` (0-based)."""
    for p in phases:
        if p.start <= step < p.stop:
            return p
    raise IndexError(f"step {step} is outside the schedule (0 .. {phases[-1].stop - 1})")
