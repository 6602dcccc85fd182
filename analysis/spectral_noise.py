"""Spectrally matched noise: phase randomization (Freeman et al. 2013) of periodic images.

- :func:`phase_randomize`: an image's Fourier amplitudes with random phases, the
  "spectrally matched noise" of Freeman et al. (2013, Nat. Neurosci. 16:974);
- :func:`periodic_component`: the periodic part of the periodic + smooth
  decomposition (Moisan 2011), which removes the border discontinuity whose
  spectral "cross" phase randomization would otherwise spread over the noise.

Both work on pixel arrays (no units beyond pixels); :func:`analysis.texture_stimuli.texture_stimulus_set`
uses them to pair each naturalistic texture with its matched noise.
"""
from __future__ import annotations

import numpy as np

__all__ = ["phase_randomize", "periodic_component"]


def phase_randomize(image, seed: int | np.random.Generator | None = 0):
    """Spectrally matched noise: the image's Fourier amplitudes with random phases.

    The 2-D DFT ``F = |F| e^{iφ}`` of each image (last two axes) keeps its amplitude
    spectrum ``|F|`` and gets the phases of the DFT of white Gaussian noise, which
    are Hermitian-symmetric so the result is real; the DC phase is kept, so mean and
    (by Parseval) variance are preserved exactly. This is the "spectrally matched
    noise" of Freeman et al. (2013, Nat. Neurosci. 16:974), there matched to each
    naturalistic texture. The output is not clipped: it can leave [0, 1] slightly
    (see :func:`texture_stimulus_set`, which rescales pairs jointly).

    Parameters
    ----------
    image : numpy.ndarray or torch.Tensor, shape (..., H, W)
        One or several images (each gets its own random phases).
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    Same type, shape, dtype (and device, for tensors) as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(1).random((32, 32))
    >>> noise = phase_randomize(img, seed=0)
    >>> bool(np.allclose(np.abs(np.fft.fft2(noise)), np.abs(np.fft.fft2(img))))
    True
    """
    tensor = None
    if type(image).__module__.startswith("torch"):
        tensor = image
        arr = image.detach().cpu().double().numpy()
    else:
        arr = np.asarray(image)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"phase_randomize takes a real image array; got dtype {arr.dtype}")
    if arr.ndim < 2 or min(arr.shape[-2:]) < 2:
        raise ValueError(f"phase_randomize takes images of shape (..., H, W); got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("phase_randomize: image holds NaN or inf values")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    x = arr.astype(np.float64)
    spectrum = np.fft.fft2(x)
    noise_phase = np.angle(np.fft.fft2(rng.standard_normal(x.shape)))
    noise_phase[..., 0, 0] = np.angle(spectrum[..., 0, 0])
    out = np.fft.ifft2(np.abs(spectrum) * np.exp(1j * noise_phase)).real
    if tensor is not None:
        import torch

        return torch.as_tensor(out, dtype=tensor.dtype, device=tensor.device)
    return out.astype(arr.dtype if arr.dtype.kind == "f" else np.float64)


def periodic_component(image: np.ndarray) -> np.ndarray:
    """Periodic component of an image (Moisan 2011, "Periodic plus smooth image
    decomposition", J. Math. Imaging Vis. 39:161).

    ``image = periodic + smooth``, where ``smooth`` is the harmonic-like image that
    absorbs the jumps across the image borders; the periodic part has no border
    discontinuity, so its Fourier spectrum lacks the "cross" artefact of a
    non-periodic crop and phase randomization does not spread that artefact over
    the whole noise image. Mean is preserved.

    Parameters
    ----------
    image : numpy.ndarray, (H, W)

    Returns
    -------
    numpy.ndarray, (H, W), float64

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.tile(np.linspace(0, 1, 16), (16, 1))
    >>> p = periodic_component(ramp)
    >>> bool(abs(p[:, 0] - p[:, -1]).max() < abs(ramp[:, 0] - ramp[:, -1]).max())
    True
    """
    u = np.asarray(image, dtype=np.float64)
    if u.ndim != 2:
        raise ValueError(f"periodic_component takes a 2-D image; got shape {u.shape}")
    h, w = u.shape
    v = np.zeros_like(u)
    v[0, :] += u[-1, :] - u[0, :]
    v[-1, :] += u[0, :] - u[-1, :]
    v[:, 0] += u[:, -1] - u[:, 0]
    v[:, -1] += u[:, 0] - u[:, -1]
    q = np.arange(h)[:, None]
    r = np.arange(w)[None, :]
    denom = 2 * np.cos(2 * np.pi * q / h) + 2 * np.cos(2 * np.pi * r / w) - 4
    denom[0, 0] = 1.0
    s_hat = np.fft.fft2(v) / denom
    s_hat[0, 0] = 0.0
    return u - np.fft.ifft2(s_hat).real
