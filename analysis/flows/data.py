"""Toy data for the normalizing-flow analyses: seeded manifolds with their ground truth, digits.

Every generator returns a :class:`ToyData` whose ``attrs`` say it is simulated
(``simulated=1``) and record the generating parameters, so figures and reports can
label it honestly. Points are float64 NumPy arrays of shape ``(n, d)``; convert
with ``torch.as_tensor(data.x, dtype=..., device=...)`` to choose where the flow
runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "ToyData",
    "s_curve",
    "swiss_roll",
    "noisy_circle",
    "gaussian_mixture",
    "gaussian_plane",
    "digits",
    "image_points",
]


@dataclass
class ToyData:
    """Points sampled from a known generative model, with their ground truth.

    Attributes
    ----------
    x : np.ndarray
        Observed points, shape ``(n, d)`` (arbitrary units of the data space).
    latents : np.ndarray
        The latent variables each point was generated from, shape ``(n, k)``.
    tangents : np.ndarray or None
        Unit vectors, shape ``(n, d)``, along the manifold's leading analytic
        tangent at the noise-free point (``None`` where it has no meaning).
    labels : np.ndarray or None
        Integer class of each point (mixture component, digit), shape ``(n,)``.
    name : str
        Data-set name.
    attrs : dict
        ``simulated`` (1 for generated data, 0 for real images), ``source`` and the
        generating parameters.
    """

    x: np.ndarray
    latents: np.ndarray
    tangents: np.ndarray | None
    labels: np.ndarray | None
    name: str
    attrs: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.x)


def _check_n(n: int) -> int:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer number of points, got {n!r}.")
    return int(n)


def _check_noise(noise: float) -> float:
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise!r}.")
    return float(noise)


def s_curve(n: int = 2000, noise: float = 0.05, seed: int = 0) -> ToyData:
    """The 3-D S-curve of Feinman & Parthasarathy (2019).

    Latents ``eta0 ~ N(0, 0.15)`` (0.15 is the standard deviation) and
    ``eta1 ~ U(0, 1)``; ``t = 3*pi*eta0`` and
    ``x = (sin t, 2*eta1, sign(t)*(cos t - 1)) + noise * N(0, I)``.

    Parameters
    ----------
    n : int
        Number of points.
    noise : float
        Standard deviation of the isotropic Gaussian noise added to every
        coordinate (data units).
    seed : int
        Seed of the NumPy generator.

    Returns
    -------
    ToyData
        ``latents`` are ``(eta0, eta1)``; ``tangents`` is the unit vector
        ``dx/dt = (cos t, 0, -sign(t) sin t)`` along the curve (the direction of
        largest spread of the latent ``eta0``).

    Examples
    --------
    >>> data = s_curve(500, seed=1)
    >>> data.x.shape, data.attrs["simulated"]
    ((500, 3), 1)
    """
    n, noise = _check_n(n), _check_noise(noise)
    rng = np.random.default_rng(seed)
    eta0 = rng.normal(0.0, 0.15, size=n)
    eta1 = rng.uniform(0.0, 1.0, size=n)
    t = 3 * np.pi * eta0
    clean = np.stack([np.sin(t), 2 * eta1, np.sign(t) * (np.cos(t) - 1)], axis=1)
    x = clean + noise * rng.standard_normal((n, 3))
    tangent = np.stack([np.cos(t), np.zeros(n), -np.sign(t) * np.sin(t)], axis=1)
    return ToyData(x, np.stack([eta0, eta1], 1), tangent, None, "s_curve",
                   {"simulated": 1, "source": "toy:s_curve", "noise": noise, "seed": seed})


def swiss_roll(n: int = 2000, noise: float = 0.05, seed: int = 0) -> ToyData:
    """A Swiss roll in 3-D, scaled to unit order.

    ``t = 1.5*pi*(1 + 2u)``, ``u ~ U(0, 1)``, height ``h ~ U(0, 1)``;
    ``x = (t cos t / 10, 2h, t sin t / 10) + noise * N(0, I)``.

    Parameters
    ----------
    n, noise, seed
        As in :func:`s_curve`.

    Returns
    -------
    ToyData
        ``latents`` ``(t, h)``; ``tangents`` the unit vector along the spiral,
        ``d/dt (t cos t, 0, t sin t)`` normalized.
    """
    n, noise = _check_n(n), _check_noise(noise)
    rng = np.random.default_rng(seed)
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=n))
    h = rng.uniform(size=n)
    clean = np.stack([t * np.cos(t) / 10, 2 * h, t * np.sin(t) / 10], axis=1)
    x = clean + noise * rng.standard_normal((n, 3))
    tangent = np.stack([np.cos(t) - t * np.sin(t), np.zeros(n), np.sin(t) + t * np.cos(t)], 1)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    return ToyData(x, np.stack([t, h], 1), tangent, None, "swiss_roll",
                   {"simulated": 1, "source": "toy:swiss_roll", "noise": noise, "seed": seed})


def noisy_circle(n: int = 2000, radius: float = 1.0, noise: float = 0.1, seed: int = 0) -> ToyData:
    """Points on a circle in 2-D with Gaussian radial-and-tangential noise.

    ``x = radius * (cos a, sin a) + noise * N(0, I)``, ``a ~ U(0, 2 pi)``.

    Parameters
    ----------
    n : int
        Number of points.
    radius : float
        Circle radius (data units), > 0.
    noise : float
        Standard deviation of the isotropic noise (data units).
    seed : int
        Seed of the NumPy generator.

    Returns
    -------
    ToyData
        ``latents`` the angle ``a`` (radians); ``tangents`` ``(-sin a, cos a)``.
    """
    n, noise = _check_n(n), _check_noise(noise)
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius!r}.")
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 2 * np.pi, size=n)
    x = radius * np.stack([np.cos(a), np.sin(a)], 1) + noise * rng.standard_normal((n, 2))
    tangent = np.stack([-np.sin(a), np.cos(a)], 1)
    return ToyData(x, a[:, None], tangent, None, "noisy_circle",
                   {"simulated": 1, "source": "toy:noisy_circle", "radius": float(radius),
                    "noise": noise, "seed": seed})


def gaussian_mixture(n: int = 2000, means=None, covariances=None, weights=None,
                     seed: int = 0) -> ToyData:
    """Samples from a Gaussian mixture with known components.

    Parameters
    ----------
    n : int
        Number of points.
    means : array_like, shape (k, d), optional
        Component means. Default: three components in 2-D at the corners of a
        triangle of side ~3.
    covariances : array_like, shape (k, d, d) or (d, d), optional
        Component covariances (one shared matrix if 2-D). Default: anisotropic
        covariances with standard deviations 0.6 and 0.15 at different angles.
    weights : array_like, shape (k,), optional
        Mixing proportions (normalized here). Default: equal.
    seed : int
        Seed of the NumPy generator.

    Returns
    -------
    ToyData
        ``labels`` the component of each point, ``latents`` the standardized
        Gaussian draw of each point, ``tangents`` the leading eigenvector of the
        point's component covariance.
    """
    n = _check_n(n)
    if means is None:
        means = 1.5 * np.array([[0.0, 1.0], [-0.87, -0.5], [0.87, -0.5]])
    means = np.asarray(means, dtype=float)
    if means.ndim != 2:
        raise ValueError(f"means must have shape (k, d), got {means.shape}.")
    k, d = means.shape
    if covariances is None:
        if d != 2:
            raise ValueError("default covariances are 2-D; pass covariances for d != 2.")
        covs = []
        for angle in np.linspace(0, np.pi, k, endpoint=False):
            r = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            covs.append(r @ np.diag([0.6**2, 0.15**2]) @ r.T)
        covariances = np.stack(covs)
    covariances = np.asarray(covariances, dtype=float)
    if covariances.shape == (d, d):
        covariances = np.broadcast_to(covariances, (k, d, d))
    if covariances.shape != (k, d, d):
        raise ValueError(f"covariances must have shape ({k}, {d}, {d}) or ({d}, {d}), "
                         f"got {covariances.shape}.")
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (k,) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be {k} non-negative numbers, got {weights!r}.")
    w = w / w.sum()
    rng = np.random.default_rng(seed)
    labels = rng.choice(k, size=n, p=w)
    chol = np.linalg.cholesky(covariances)
    eps = rng.standard_normal((n, d))
    x = means[labels] + np.einsum("nij,nj->ni", chol[labels], eps)
    _, vecs = np.linalg.eigh(covariances)
    tangents = vecs[labels, :, -1]
    return ToyData(x, eps, tangents, labels, "gaussian_mixture",
                   {"simulated": 1, "source": "toy:gaussian_mixture", "n_components": k,
                    "seed": seed})


def gaussian_plane(n: int = 2000, scales=(1.0, 0.5), seed: int = 0) -> ToyData:
    """Degenerate Gaussian data: a 2-D plane in 3-D with zero variance off the plane.

    ``x = R @ (s0*e0, s1*e1, 0)`` with ``e ~ N(0, I)`` and ``R`` a fixed random
    rotation drawn from ``seed``. The covariance is singular (rank 2), so the
    plain maximum-likelihood flow has no optimum (Feinman & Parthasarathy 2019).

    Parameters
    ----------
    n : int
        Number of points.
    scales : tuple of float
        Standard deviations along the two in-plane axes (data units).
    seed : int
        Seed of the NumPy generator (the rotation and the samples).

    Returns
    -------
    ToyData
        ``tangents`` is the unit *normal* of the plane (the null direction), the
        same for every point; ``attrs["rotation"]`` is ``R``.
    """
    n = _check_n(n)
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    e = rng.standard_normal((n, 2)) * np.asarray(scales, dtype=float)
    x = np.concatenate([e, np.zeros((n, 1))], 1) @ q.T
    normal = np.broadcast_to(q[:, 2], (n, 3)).copy()
    return ToyData(x, e, normal, None, "gaussian_plane",
                   {"simulated": 1, "source": "toy:gaussian_plane", "scales": tuple(scales),
                    "seed": seed, "rotation": q})


def digits(dequantize: bool = True, seed: int = 0) -> ToyData:
    """The 8x8 handwritten digits bundled with scikit-learn (offline).

    Pixel counts 0..16 are mapped to ``(v + u) / 17`` with ``u ~ U(0, 1)``
    (uniform dequantization, so a continuous density is well defined) or to
    ``v / 16`` without dequantization.

    Parameters
    ----------
    dequantize : bool
        Add uniform dequantization noise (recommended before fitting a flow).
    seed : int
        Seed of the dequantization noise.

    Returns
    -------
    ToyData
        ``x`` shape ``(1797, 64)`` in [0, 1]; ``labels`` the digit; ``simulated=0``.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    v = bunch.data.astype(float)
    if dequantize:
        x = (v + np.random.default_rng(seed).uniform(size=v.shape)) / 17.0
    else:
        x = v / 16.0
    return ToyData(x, np.zeros((len(x), 0)), None, bunch.target.astype(int), "digits",
                   {"simulated": 0, "source": "sklearn.datasets.load_digits",
                    "dequantize": int(dequantize), "seed": seed, "image_shape": (8, 8)})


def image_points(images: np.ndarray, labels: np.ndarray | None = None, n: int | None = None,
                 dequantize: bool = True, seed: int = 0, source: str = "images") -> ToyData:
    """8-bit images ``(n, H, W)`` (e.g. MNIST) as points in R^(H*W).

    The images come from a loader, e.g. ``images, labels =
    analysis.datasets.load_mnist(split="test")`` (nothing is read here).

    Pixels 0..255 become ``(v + u) / 256`` with ``u ~ U(0, 1)`` when dequantizing
    (so a continuous density exists), else ``v / 255``.

    Parameters
    ----------
    images : np.ndarray, shape (n, H, W)
        Pixel values 0..255.
    labels : np.ndarray, shape (n,), optional
        Digit labels.
    n : int, optional
        Keep only the first ``n`` images.
    dequantize : bool
        Add uniform dequantization noise.
    seed : int
        Seed of the dequantization noise.
    source : str
        Recorded in ``attrs["source"]``.

    Returns
    -------
    ToyData
        ``x`` shape ``(n, H*W)``; ``attrs["image_shape"] == (H, W)``; ``simulated=0``.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (n, H, W), got {images.shape}.")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels.")
    if n is not None:
        images = images[:n]
        labels = None if labels is None else labels[:n]
    v = images.reshape(len(images), -1).astype(float)
    if dequantize:
        x = (v + np.random.default_rng(seed).uniform(size=v.shape)) / 256.0
    else:
        x = v / 255.0
    return ToyData(x, np.zeros((len(x), 0)), None,
                   None if labels is None else np.asarray(labels, dtype=int), source,
                   {"simulated": 0, "source": source, "dequantize": int(dequantize),
                    "seed": seed, "image_shape": tuple(images.shape[1:])})
