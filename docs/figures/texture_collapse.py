"""The texture model's cpu preset against training step: why its data efficiency is lost.

1-image texture-family accuracy of the spatially averaged V2 on the held-out families,
on fresh syntheses of the training families and on crops of the training images
themselves; live V2 channels, effective dimension and modulation index, at steps
0 (untrained), 60, 250, 500, 1000, 2000 of ``neuromodels/configs/texture_model_cpu.yaml``
(and of the remedy run, when made). The study is
:mod:`experiments.studies.texture_collapse` (training ~15-40 min per seed on one
thread, resumable); see docs/texture_robustness.md.

Run ``OMP_NUM_THREADS=1 python docs/figures/texture_collapse.py [study options]``
from the repository root; it runs (or resumes) the study into
``results/texture_collapse`` and writes ``texture_collapse.png`` and
``texture_collapse.csv`` beside itself (atomically) and prints the table. Options
are the study's (``--seeds 0``, ``--variants baseline families72``, ``--report-only``).
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from experiments.studies.texture_collapse import main  # noqa: E402

if __name__ == "__main__":
    main(["--out", "results/texture_collapse", *sys.argv[1:], "--figures-dir", str(HERE)])
