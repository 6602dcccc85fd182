"""The quick-stimulus numbers that a shipped weights entry documents (``meta["quick_claims"]``).

Stimuli that fill the field of view: 12 random 64-px crops of each bundled texture
(brick, grass, gravel, reptile_skin; short side resized to 512 px) and a
phase-randomized copy of each (same amplitude spectrum); a unit's response is its
channel averaged over positions; texture modulation index (n − s)/(n + s) per unit
and family, averaged over both (Freeman et al. 2013). Stage-1 orientation tuning:
circular variance of the phase-averaged responses of central units to gratings
(12 orientations, the best of 5 frequencies). The same procedure as the quick check
in ``docs/models.md``. Run ``python tests/neuromodels/quick_claims.py MODEL WEIGHTS.pt``
to print the numbers of a weights file.
"""
from __future__ import annotations

import math

import torch

FAMILIES = ("brick", "grass", "gravel", "reptile_skin")


def _phase_randomize(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    f = torch.fft.rfft2(x)
    noise_phase = torch.angle(torch.fft.rfft2(torch.rand(x.shape, generator=g)))
    return torch.fft.irfft2(torch.abs(f) * torch.exp(1j * (torch.angle(f) + noise_phase)), s=x.shape[-2:])


def stimuli(load: int = 512, size: int = 64, n: int = 12, seed: int = 0):
    """(naturalistic, noise, family index): (4n, 1, size, size) each."""
    from neuromodels.data import load_bundled

    g = torch.Generator().manual_seed(seed)
    nat, noise, fam = [], [], []
    for k, name in enumerate(FAMILIES):
        im = load_bundled(name, size=load)
        for _ in range(n):
            t = int(torch.randint(0, im.shape[-2] - size + 1, (1,), generator=g))
            left = int(torch.randint(0, im.shape[-1] - size + 1, (1,), generator=g))
            crop = im[:, t:t + size, left:left + size]
            nat.append(crop)
            noise.append((_phase_randomize(crop - crop.mean(), g) + crop.mean()).clamp(0, 1))
            fam.append(k)
    return torch.stack(nat), torch.stack(noise), torch.tensor(fam)


def modulation_index(nat: torch.Tensor, noise: torch.Tensor, fam: torch.Tensor) -> float:
    """Mean over units and families of (n − s)/(n + s); responses (N, units)."""
    out = []
    for k in fam.unique():
        n, s = nat[fam == k].mean(0), noise[fam == k].mean(0)
        out.append((n - s) / (n + s).clamp_min(1e-12))
    return float(torch.stack(out).mean())


def circular_variance(model) -> float:
    """Mean circular variance of stage-1 channels (central units) over orientation."""
    size, n_or, freqs = 64, 12, (1 / 16, 1 / 10, 1 / 8, 1 / 6, 1 / 4)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    ims = [0.5 + 0.4 * torch.cos(2 * math.pi * f * (xx * math.cos(math.pi * o / n_or) + yy * math.sin(math.pi * o / n_or)) + ph)
           for f in freqs for o in range(n_or) for ph in (0, math.pi / 2, math.pi, 3 * math.pi / 2)]
    with torch.no_grad():
        r = model.stage_outputs(torch.stack(ims)[:, None], upto=1)[0][:, :, 8:-8, 8:-8].mean((2, 3))
    r = r.reshape(len(freqs), n_or, 4, -1).mean(2)
    best = r.amax(1).argmax(0)
    ro = r[best, :, torch.arange(r.shape[-1])]
    theta = torch.arange(n_or) * math.pi / n_or
    resultant = (ro * torch.exp(2j * theta)).sum(1).abs() / ro.sum(1).clamp_min(1e-12)
    return float((1 - resultant).mean())


def quick_claims(model) -> dict:
    """The documented numbers of a staged model: MI per stage (and CV of stage 1 for LCL-V2)."""
    nat, noise, fam = stimuli()
    model = model.eval()
    with torch.no_grad():
        a, b = model.stage_outputs(nat), model.stage_outputs(noise)
    out = {f"mi_{name}": modulation_index(x.mean((2, 3)), y.mean((2, 3)), fam)
           for name, x, y in zip(model.stage_names, a, b)}
    if model.frontend is None:
        out["circular_variance_stages.0"] = circular_variance(model)
    return out


if __name__ == "__main__":  # pragma: no cover
    import sys

    from neuromodels import build_model
    from neuromodels.training.checkpoints import read_checkpoint

    state = read_checkpoint(sys.argv[2], require_checksum=False, required=("model", "model_config"))
    net = build_model(sys.argv[1], **state["model_config"])
    net.load_state_dict(state["model"])
    torch.manual_seed(0)
    print({"trained": quick_claims(net), "untrained_seed0": quick_claims(build_model(sys.argv[1], **state["model_config"]))})
