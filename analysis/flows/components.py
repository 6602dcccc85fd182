"""Local linear components of a flow (Feinman & Parthasarathy 2019) and their orientation.

At a point the SVD ``J = U diag(s) V^T`` gives local principal directions (rows of
``V^T``) with local standard deviations ``1/s``; the un-whitened latent
coordinates are ``z U diag(1/s)`` (data units), ordered by ``1/s`` descending.
Signs are made consistent between neighbouring points by :func:`orient_components`.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from analysis._display import html_summary, short_repr

from .jacobian import jacobians
from .models import FittedFlow, check_points

__all__ = ["LocalComponents", "local_components", "orient_components"]


@dataclass
class LocalComponents:
    """Local linear components of a flow at a set of points.

    Attributes
    ----------
    points : Tensor, shape (n, d)
        Where the components were computed (data units).
    directions : Tensor, shape (n, d, d)
        ``directions[i, k]`` is the k-th local principal direction at point i
        (row k of ``V^T`` after reordering) scaled by its local standard deviation
        ``1/s_k`` (data units); ordered by ``1/s`` descending.
    scales : Tensor, shape (n, d)
        Local standard deviations ``1/s_k`` (data units), descending.
    coordinates : Tensor, shape (n, d)
        Un-whitened latent coordinates ``(z U diag(1/s))_k`` (data units).
    latents : Tensor, shape (n, d)
        ``z = f(x)``.
    jacobians : Tensor, shape (n, d, d)
        ``J(x)``.
    """

    points: Tensor
    directions: Tensor
    scales: Tensor
    coordinates: Tensor
    latents: Tensor
    jacobians: Tensor
    attrs: dict = field(default_factory=dict)

    @property
    def unit_directions(self) -> Tensor:
        """``directions`` normalized to unit length, shape (n, d, d)."""
        return self.directions / self.scales.unsqueeze(-1)

    def _display_items(self) -> dict:
        n, d = self.scales.shape
        return {"points": n, "dims": d, **{f"mean scale {k}": float(v)
                                             for k, v in enumerate(self.scales.detach().mean(0).cpu()[:4])}}

    def __repr__(self) -> str:
        return short_repr(self, self._display_items())

    def _repr_html_(self) -> str:
        return html_summary(self, self._display_items(), note="local standard deviations 1/s_k in data units, "
                            "component 0 the largest")

    def to_dataframe(self):
        """Tidy table: one row per (point, component) with scale and coordinate."""
        import pandas as pd

        n, d = self.scales.shape
        return pd.DataFrame({
            "point": np.repeat(np.arange(n), d),
            "component": np.tile(np.arange(d), n),
            "scale": self.scales.detach().cpu().numpy().ravel(),
            "coordinate": self.coordinates.detach().cpu().numpy().ravel(),
        })


def orient_components(points, directions, n_neighbors: int = 10, n_sweeps: int = 2,
                      root: int | None = None, connect: bool = True) -> np.ndarray:
    """Signs that make local components consistent between neighbouring points.

    The sign of each SVD component is arbitrary. We build a symmetrized
    k-nearest-neighbour graph of ``points`` and, in every connected part, visit
    points in breadth-first order from a root (default: the point closest to the
    part's mean). The root's components are oriented so that their largest-
    magnitude entry is positive; every later point takes, per component, the sign
    that agrees (positive dot product) with the sum of the already-oriented
    neighbours' unit directions. Then ``n_sweeps`` sweeps of iterated conditional
    modes on the pairwise agreement energy ``-sum_{ij in graph} s_i s_j cos_ij``
    (a Markov random field over the graph, as Feinman & Parthasarathy used) flip
    any sign that disagrees with the majority of its neighbours. Components are
    matched by rank, so where two local scales cross the orientation of those two
    components is not meaningful. If the neighbour graph falls apart (gaps in the
    sampling), its parts are joined through their closest pairs of points
    (``connect=True``); with ``connect=False`` each part is oriented on its own.

    Parameters
    ----------
    points : array_like, shape (n, d_x)
        Positions defining the neighbour graph.
    directions : array_like, shape (n, k, d)
        Component vectors (any lengths).
    n_neighbors : int
        Neighbours per point in the graph.
    n_sweeps : int
        ICM refinement sweeps after the breadth-first pass.
    root : int, optional
        Root point of the first connected part.
    connect : bool
        Join disconnected parts of the graph through their closest points.

    Returns
    -------
    np.ndarray, shape (n, k)
        +1 / -1 per point and component.

    Examples
    --------
    >>> import numpy as np
    >>> pts = np.linspace(0, 1, 50)[:, None]
    >>> dirs = np.ones((50, 1, 2)) * np.where(np.arange(50) % 2, -1, 1)[:, None, None]
    >>> signs = orient_components(pts, dirs, n_neighbors=3)
    >>> bool(np.all(signs[:, 0] * dirs[:, 0, 0] == 1))
    True
    """
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import NearestNeighbors

    pts = np.asarray(points.detach().cpu() if isinstance(points, Tensor) else points, float)
    dirs = np.asarray(directions.detach().cpu() if isinstance(directions, Tensor)
                      else directions, float)
    if pts.ndim != 2 or dirs.ndim != 3 or len(pts) != len(dirs):
        raise ValueError(f"expected points (n, d_x) and directions (n, k, d) with the same n, "
                         f"got {pts.shape} and {dirs.shape}.")
    n = len(pts)
    if n == 1:
        return np.where(dirs[0][np.arange(dirs.shape[1]),
                                np.abs(dirs[0]).argmax(1)] < 0, -1.0, 1.0)[None]
    unit = dirs / np.maximum(np.linalg.norm(dirs, axis=2, keepdims=True), 1e-300)
    if not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive int, got {n_neighbors!r}.")
    k_nn = min(int(n_neighbors), n - 1)
    # X=None queries the fitted points themselves, excluding each point from its own list
    graph = NearestNeighbors(n_neighbors=k_nn).fit(pts).kneighbors_graph(mode="connectivity")
    graph = ((graph + graph.T) > 0).tolil()
    graph.setdiag(0)
    n_parts, part = connected_components(graph, directed=False)
    while connect and n_parts > 1:
        # join every part to its nearest point outside it (each round at least halves
        # the number of parts), so one orientation spans the whole point set
        for p in range(n_parts):
            inside, outside = np.flatnonzero(part == p), np.flatnonzero(part != p)
            dist, j = NearestNeighbors(n_neighbors=1).fit(pts[outside]).kneighbors(pts[inside])
            a = inside[np.argmin(dist[:, 0])]
            b = outside[j[np.argmin(dist[:, 0]), 0]]
            graph[a, b] = graph[b, a] = 1
        n_parts, part = connected_components(graph, directed=False)
    graph = graph.tocsr()
    graph.eliminate_zeros()
    neighbours = [graph.indices[graph.indptr[i]:graph.indptr[i + 1]] for i in range(n)]
    signs = np.zeros(dirs.shape[:2])
    order = []
    for p in range(n_parts):
        members = np.flatnonzero(part == p)
        if p == 0 and root is not None:
            start = int(root)
        else:
            start = members[np.argmin(((pts[members] - pts[members].mean(0)) ** 2).sum(1))]
        top = unit[start][np.arange(unit.shape[1]), np.abs(unit[start]).argmax(1)]
        signs[start] = np.where(top < 0, -1.0, 1.0)
        order.append(start)
        queue = deque([start])
        while queue:
            i = queue.popleft()
            for j in neighbours[i]:
                if signs[j, 0] == 0:
                    nb = neighbours[j]
                    done = nb[signs[nb, 0] != 0]
                    ref = np.einsum("mk,mkd->kd", signs[done], unit[done])
                    agree = np.einsum("kd,kd->k", ref, unit[j])
                    signs[j] = np.where(agree < 0, -1.0, 1.0)
                    order.append(j)
                    queue.append(j)
    for _ in range(n_sweeps):
        flips = 0
        for i in order:
            nb = neighbours[i]
            if len(nb) == 0:
                continue
            agree = np.einsum("kd,mk,mkd->k", unit[i], signs[nb], unit[nb])
            wrong = agree * signs[i] < 0
            if wrong.any():
                signs[i, wrong] *= -1
                flips += int(wrong.sum())
        if flips == 0:
            break
    return signs


def local_components(flow: FittedFlow, x, orient: bool = True, n_neighbors: int = 10,
                     chunk_size: int | None = None, progress: bool = False) -> LocalComponents:
    """Local principal components of a flow (Feinman & Parthasarathy 2019).

    At each point ``J(x) = U diag(s) V^T``. The local principal directions are the
    rows of ``V^T`` with local standard deviations ``1/s`` (the flow locally
    whitens ``Sigma_local = V diag(1/s^2) V^T``); they are ordered by ``1/s``
    descending. The un-whitened latent coordinates are ``z U diag(1/s)`` in data
    units (for an affine flow ``z = W x + b`` they are ``V^T x`` plus a constant).
    Signs are made consistent across neighbouring points with
    :func:`orient_components` (flipping ``u_k`` and ``v_k`` together leaves ``J``
    unchanged).

    Parameters
    ----------
    flow : FittedFlow
        A fitted flow (or any row-wise module ``x -> z``).
    x : Tensor, shape (n, d)
        Points on the flow's device and dtype.
    orient : bool
        Make signs consistent between neighbours (needs n > 1 to matter).
    n_neighbors : int
        Neighbours in the orientation graph.
    chunk_size : int, optional
        Points per batched Jacobian call (see :func:`~analysis.flows.jacobians`).
    progress : bool
        Show progress bars.

    Returns
    -------
    LocalComponents

    Examples
    --------
    >>> import torch
    >>> lin = torch.nn.Linear(2, 2).double()
    >>> comps = local_components(lin, torch.randn(4, 2, dtype=torch.float64))
    >>> bool(torch.allclose(comps.scales[0], 1 / torch.linalg.svdvals(lin.weight).flip(0)))
    True
    """
    x = check_points(x)
    J = jacobians(flow, x, chunk_size=chunk_size, progress=progress)
    if J.shape[1] != J.shape[2]:
        raise ValueError(f"flows are square maps; got Jacobians of shape {tuple(J.shape[1:])}.")
    with torch.no_grad():
        z = flow(x)
        U, s, Vh = torch.linalg.svd(J)
        U, s, Vh = U.flip(-1), s.flip(-1), Vh.flip(-2)
        if orient and len(x) > 1:
            signs = torch.as_tensor(orient_components(x, Vh, n_neighbors=n_neighbors),
                                    dtype=x.dtype, device=x.device)
        else:
            top = Vh.gather(-1, Vh.abs().argmax(-1, keepdim=True)).squeeze(-1)
            signs = torch.where(top < 0, -1.0, 1.0).to(x.dtype)
        U = U * signs.unsqueeze(-2)
        Vh = Vh * signs.unsqueeze(-1)
        scales = 1.0 / s
        coordinates = torch.einsum("na,nak->nk", z, U) * scales
        directions = Vh * scales.unsqueeze(-1)
    return LocalComponents(x, directions, scales, coordinates, z, J,
                           {"oriented": int(orient), "n_neighbors": n_neighbors})
