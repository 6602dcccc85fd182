"""The reference image and response fingerprint shared by the exporter and the plugin.

The exporter computes every layer's response to :func:`reference_image` with the
toolkit and stores :func:`fingerprint` of it (compared with :func:`fingerprints_match`) in the plugin's ``model.py``; the
plugin's ``test.py`` recomputes it through Brain-Score's ``PytorchWrapper`` in the
Brain-Score environment. The source of these three functions is copied verbatim into
``model.py`` so that both sides run the same code.
"""
import numpy as np


def reference_image(size):
    """A deterministic uint8 RGB test image (size, size, 3): an oblique grating under a Gaussian, coloured."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    envelope = np.exp(-((xx - 0.5) ** 2 + (yy - 0.45) ** 2) / 0.08)
    grating = 0.5 + 0.5 * np.sin(2 * np.pi * 6.0 * (0.8 * xx + 0.6 * yy)) * envelope
    rgb = np.stack([grating, 0.5 * grating + 0.25 * xx, 1.0 - grating * yy], axis=-1)
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def fingerprint(activations, indices):
    """[sum, sum of squares, values at ``indices``] of one image's flattened layer output (float64)."""
    flat = np.asarray(activations, dtype=np.float64).reshape(-1)
    return [float(flat.sum()), float((flat**2).sum())] + [float(flat[i]) for i in indices]


def fingerprints_match(got, want, n_features, rtol=1e-4, atol=1e-5):
    """Whether two fingerprints agree to a relative precision ``rtol`` of the layer's activations.

    Each activation may differ by ``rtol`` of its size (float32 rounding in a different
    batch or thread layout). The tolerance of each entry follows from that: values at the
    indices ``rtol (|v| + rms)``, the sum ``rtol · sqrt(n) · ‖x‖`` (Cauchy–Schwarz bound of
    ``rtol · Σ|x|``; a plain relative check of a sum of mixed signs fails on cancellation),
    the sum of squares ``2 rtol · Σx²``; ``atol`` is added to each.
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False
    norm = float(np.sqrt(max(want[1], 0.0)))
    rms = norm / np.sqrt(max(int(n_features), 1))
    tol = np.concatenate([[rtol * np.sqrt(max(int(n_features), 1)) * norm, 2.0 * rtol * abs(want[1])],
                          rtol * (np.abs(want[2:]) + rms)]) + atol
    return bool(np.all(np.abs(got - want) <= tol))


def reference_indices(n_features, count=8):
    """``count`` feature indices spread evenly over ``n_features`` (fewer when the layer is smaller)."""
    return sorted({int(i) for i in np.linspace(0, n_features - 1, num=min(count, n_features))})
