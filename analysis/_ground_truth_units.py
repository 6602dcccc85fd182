"""Ground-truth units of the simulated populations (:mod:`analysis.simulate`).

* **V1-like LN units** (:func:`v1_units`) — one oriented linear filter each (a Gabor
  with random orientation, spatial frequency, receptive-field position, phase and
  envelope; Ringach 2002 envelopes of 0.3–0.6 cycles), followed by *half-squaring*
  (simple cells, ``relu(L)²``) or *energy* (complex cells, ``L₀² + L₁²`` of a
  quadrature pair), receptive fields spread uniformly over the periodic image plane.
* **V2-like LN-LN units** (:func:`v2_units`) — a second linear–nonlinear stage over
  the V1-like energy maps of a fixed bank (:func:`energy_bank`: 4 orientations × 3
  octave-spaced scales; :func:`energy_maps` divides them by the image's mean energy),
  pooled by a Gaussian receptive field about twice V1's size: a rectified
  first-order sum of pooled energies and a rectified second-order co-activation
  term ``Σ_ab W_ab ⟨E_a E_b⟩ / Σ_ab |W_ab| ⟨E_a⟩⟨E_b⟩``.

:func:`unit_drives` evaluates both on contrast images; :class:`analysis.simulate.SimulatedPopulation`
turns the drives into calibrated rates (spikes/s) and trial noise. Positions and
sizes are in degrees of visual angle, spatial frequencies in cycles/degree. Only
numpy is needed (importable in the Brain-Score environment).
"""
from __future__ import annotations

import numpy as np

from neurocommon.progress import progress_bar

__all__ = ["BANK_ORIENTATIONS", "BANK_SCALES", "wrap", "gabor", "pink_noise", "rf_center", "v1_units",
           "energy_bank", "energy_maps", "v2_units", "unit_drives"]

#: Orientations and octave-spaced scales of the V1 energy bank under the V2-like units.
BANK_ORIENTATIONS = 4
BANK_SCALES = 3


def wrap(d, period):
    """Signed distance on a circle of circumference ``period`` (periodic image plane)."""
    return (d + period / 2) % period - period / 2


def gabor(xx, yy, x0, y0, theta, freq, sigma, aspect, phase, period):
    """Gabor on a periodic grid in degrees: carrier cos(2π f u + φ) under a Gaussian
    envelope with σ across and ``aspect``·σ along the bars. Zero-mean, unit L2 norm."""
    dx, dy = wrap(xx - x0, period), wrap(yy - y0, period)
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    env = np.exp(-0.5 * (u**2 / sigma**2 + v**2 / (aspect * sigma) ** 2))
    g = env * np.cos(2 * np.pi * freq * u + phase)
    g = g - env * (g.sum() / env.sum())  # remove the DC response under the envelope
    return g / np.linalg.norm(g)


def pink_noise(rng, n: int, size: int, contrast: float = 0.2) -> np.ndarray:
    """1/f-amplitude (pink) noise images, mean 0.5 and RMS ``contrast`` (clipped to [0, 1])."""
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij"))
    f[0, 0] = np.inf
    spec = np.fft.fft2(rng.standard_normal((n, size, size))) / (f * size)
    img = np.fft.ifft2(spec).real
    img = (img - img.mean(axis=(1, 2), keepdims=True)) / img.std(axis=(1, 2), keepdims=True)
    return np.clip(0.5 + contrast * img, 0, 1)


def rf_center(rng, visual_degrees: float) -> tuple[float, float]:
    """A receptive-field centre drawn uniformly over the (periodic) image plane, in degrees.

    Averaged over units, responses sample every position alike, so no position is
    favoured by the stimuli.
    """
    half = visual_degrees / 2
    return float(rng.uniform(-half, half)), float(rng.uniform(-half, half))


def v1_units(rng, n: int, xx, yy, visual_degrees: float, sf_range: tuple[float, float],
             complex_fraction: float) -> tuple[dict, list[dict]]:
    """``n`` V1-like LN units on the pixel grid ``xx, yy`` (degrees).

    Returns the units (``filters``: quadrature pairs ``(n, 2, H·W)``; ``complex``: which
    units are complex) and one table row per unit (``neuroid_id``, ``region``,
    ``unit_type``, ``orientation`` in degrees, ``sf`` in c/deg, ``rf_x``, ``rf_y``,
    ``rf_sigma`` in degrees, ``second_order_weight``).
    """
    image_size = xx.shape[0]
    filters = np.zeros((n, 2, image_size, image_size))
    is_complex = np.zeros(n, dtype=bool)
    lo, hi = sf_range
    rows = []
    for i in range(n):
        theta = rng.uniform(0, np.pi)
        freq = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        sigma = rng.uniform(0.3, 0.6) / freq  # envelope in cycles (Ringach 2002: nx ~ 0.2-0.6)
        aspect = rng.uniform(1.0, 2.0)
        phase = rng.uniform(0, 2 * np.pi)
        x0, y0 = rf_center(rng, visual_degrees)
        is_complex[i] = rng.random() < complex_fraction
        for q in range(2):
            filters[i, q] = gabor(xx, yy, x0, y0, theta, freq, sigma, aspect,
                                  phase + q * np.pi / 2, visual_degrees)
        rows.append({
            "neuroid_id": f"V1_{i:03d}", "region": "V1",
            "unit_type": "complex" if is_complex[i] else "simple",
            "orientation": float(np.degrees(theta)), "sf": freq,
            "rf_x": x0, "rf_y": y0, "rf_sigma": float(sigma), "second_order_weight": 0.0,
        })
    return {"filters": filters.reshape(n, 2, image_size**2), "complex": is_complex}, rows


def energy_bank(image_size: int, visual_degrees: float, sf_cap: float) -> dict:
    """Fourier-domain quadrature filters of the V1 energy bank (log-Gabor-like).

    :data:`BANK_SCALES` octave-spaced peak frequencies from ``min(4, sf_cap)`` c/deg
    down, about one octave wide, × :data:`BANK_ORIENTATIONS` one-sided (analytic)
    orientation bands.
    """
    n = image_size
    px_per_deg = n / visual_degrees
    fy, fx = np.meshgrid(np.fft.fftfreq(n) * px_per_deg, np.fft.fftfreq(n) * px_per_deg,
                         indexing="ij")
    radius = np.hypot(fx, fy)
    angle = np.arctan2(fy, fx)
    top = min(4.0, sf_cap)
    freqs = top / 2.0 ** np.arange(BANK_SCALES)
    thetas = np.arange(BANK_ORIENTATIONS) * np.pi / BANK_ORIENTATIONS
    bank = []
    with np.errstate(divide="ignore"):
        log_r = np.log(radius)
    for f in freqs:
        radial = np.exp(-((log_r - np.log(f)) ** 2) / (2 * np.log(2) ** 2 / 2))  # ~1 octave
        radial[0, 0] = 0.0
        for t in thetas:
            d = np.angle(np.exp(1j * (angle - t)))  # one-sided: analytic (quadrature) filter
            angular = np.cos(np.clip(d, -np.pi / 2, np.pi / 2)) ** 2 * (np.abs(d) < np.pi / 2)
            bank.append(radial * angular)
    return {"filters": np.stack(bank), "freqs": freqs, "thetas": thetas}


def energy_maps(images: np.ndarray, bank: dict) -> np.ndarray:
    """(n, K, H, W) V1-like energy maps |analytic filter output|², divided by the
    image's mean energy over maps and positions (gain control)."""
    spec = np.fft.fft2(images)
    out = np.fft.ifft2(spec[:, None] * bank["filters"][None])
    energy = np.abs(out) ** 2
    norm = energy.mean(axis=(1, 2, 3), keepdims=True)
    return energy / (norm + 1e-12)


def v2_units(rng, n: int, xx, yy, visual_degrees: float, bank: dict) -> tuple[dict, list[dict]]:
    """``n`` V2-like LN-LN units over the energy maps of ``bank`` (see the module docstring).

    Returns the units (RF pooling over pixel blocks, first-order weights ``w1``,
    second-order weights ``w2`` and their upper-triangle ``w2_pairs``, the mixing
    ``beta`` of the two terms) and one table row per unit, as :func:`v1_units`.
    """
    image_size = xx.shape[0]
    n_ori, n_sc = BANK_ORIENTATIONS, BANK_SCALES
    k = n_ori * n_sc
    ori = np.arange(k) % n_ori
    scale = np.arange(k) // n_ori
    pool = np.zeros((n, image_size * image_size))
    w1 = np.zeros((n, k))
    w2 = np.zeros((n, k, k))
    beta = np.zeros(n)
    rows = []
    for i in range(n):
        x0, y0 = rf_center(rng, visual_degrees)
        sigma = rng.uniform(0.5, 0.8) * visual_degrees / 4  # V2 RFs ~2x V1's
        dx = wrap(xx - x0, visual_degrees)
        dy = wrap(yy - y0, visual_degrees)
        env = np.exp(-0.5 * (dx**2 + dy**2) / sigma**2)
        pool[i] = (env / env.sum()).ravel()
        pref_o = int(rng.integers(n_ori))
        pref_s = int(rng.integers(n_sc))
        # first order: mixed-sign weights over pooled energy, positive on the preferred
        # orientation, negative (suppressive) on the orthogonal one
        d_ori = np.minimum(np.abs(ori - pref_o), n_ori - np.abs(ori - pref_o))
        w1[i] = np.where(d_ori == 0, 1.0, np.where(d_ori == n_ori // 2, -0.5, 0.2))
        w1[i] *= np.exp(-0.5 * (scale - pref_s) ** 2) * rng.uniform(0.5, 1.5, k)
        # second order: products of energies across scale (same orientation) and across
        # neighbouring orientations (same scale) around the preference, plus small
        # mixed-sign weights on every other pair
        near = (d_ori <= 1) & (np.abs(scale - pref_s) <= 1)
        structured = near[:, None] & near[None, :]
        w = np.where(structured, 1.0, 0.0) + 0.15 * rng.standard_normal((k, k))
        w2[i] = (np.triu(w) + np.triu(w, 1).T) / 2 + np.diag(np.diag(w)) / 2
        beta[i] = rng.uniform(0.5, 1.0)
        rows.append({
            "neuroid_id": f"V2_{i:03d}", "region": "V2", "unit_type": "v2",
            "orientation": float(np.degrees(bank["thetas"][pref_o])),
            "sf": float(bank["freqs"][pref_s]), "rf_x": x0, "rf_y": y0,
            "rf_sigma": float(sigma), "second_order_weight": float(beta[i]),
        })
    # RF pooling is evaluated on blocks of f x f pixels (f <= sigma / 3 for the
    # smallest V2 receptive field): the pooling Gaussian is nearly constant within a block
    f = 1
    while image_size % (2 * f) == 0 and 2 * f <= image_size / 24:
        f *= 2
    m = image_size // f
    pool_blocks = pool.reshape(n, m, f, m, f).sum(axis=(2, 4)).reshape(n, m * m)
    ia, ib = np.triu_indices(k)
    # symmetric W: sum_ab W_ab M_ab = sum_{a<=b} (2 - [a == b]) W_ab M_ab
    w2_pairs = w2[:, ia, ib] * np.where(ia == ib, 1.0, 2.0)
    return {"pool": pool_blocks, "block": f, "pairs": (ia, ib), "w1": w1, "w2": w2,
            "w2_pairs": w2_pairs, "beta": beta}, rows


def unit_drives(images: np.ndarray, v1: dict, v2: dict, bank: dict, batch_size: int = 16,
                progress: bool = False) -> np.ndarray:
    """Uncalibrated drives (n_images, n_units, 2) of the V1 then V2 units for images (n, H, W).

    Column 0 is the first-order drive (V1: half-squared or energy response; V2:
    pooled energy), column 1 the second-order drive (V2 only; equal to column 0
    for V1 units). Images are made contrast images first (their mean subtracted):
    responses ignore mean luminance.
    """
    n_v1, n_v2 = len(v1["complex"]), len(v2["beta"])
    out = []
    starts = progress_bar(range(0, len(images), batch_size), progress, "simulated responses", unit="batch")
    for start in starts:
        x = images[start : start + batch_size]
        x = x - x.mean(axis=(1, 2), keepdims=True)  # contrast image: responses ignore mean luminance
        flat = x.reshape(len(x), -1)
        parts = []
        if n_v1:
            f = v1["filters"]
            lin = (flat @ f.reshape(-1, f.shape[-1]).T).reshape(len(x), f.shape[0], 2)
            simple = np.maximum(lin[..., 0], 0) ** 2
            energy = (lin**2).sum(-1)
            v1_drive = np.where(v1["complex"][None], energy, simple)
            parts.append(np.stack([v1_drive, v1_drive], axis=-1))
        if n_v2:
            emaps = energy_maps(x, bank)  # (n, K, H, W)
            f, (ia, ib) = v2["block"], v2["pairs"]
            n_img, k, h, w = emaps.shape

            def blocks(maps):  # sum over f x f pixel blocks, flattened
                return maps.reshape(n_img, -1, h // f, f, w // f, f).sum(axis=(3, 5)).reshape(
                    n_img, maps.shape[1], -1)

            pooled = blocks(emaps) @ v2["pool"].T  # (n, K, U): RF-pooled energy
            first = np.maximum(np.einsum("nku,uk->nu", pooled, v2["w1"]), 0)
            # RF-weighted second moments of the energy maps, one per channel pair (a <= b)
            moments = blocks(emaps[:, ia] * emaps[:, ib]) @ v2["pool"].T  # (n, pairs, U)
            # co-activation relative to what the pooled energies alone predict: for
            # independent channels the ratio is 1, whatever the contrast
            expected = np.einsum("nau,nbu,uab->nu", pooled, pooled, np.abs(v2["w2"]))
            second = np.maximum(np.einsum("npu,up->nu", moments, v2["w2_pairs"]), 0) / (
                expected + 1e-12)
            parts.append(np.stack([first, second], axis=-1))
        out.append(np.concatenate(parts, axis=1))
    return np.concatenate(out, axis=0)
