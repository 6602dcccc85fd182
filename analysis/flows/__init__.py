"""Normalizing flows and linear-systems component extraction (Feinman & Parthasarathy 2019).

A flow ``f`` maps data ``x`` in R^d to latents ``z = f(x)`` with density
``log p(x) = log N(f(x); 0, I) + log|det J(x)|``, ``J = dz/dx``. Around any point
the flow is locally linear, and at a maximum-likelihood optimum it whitens the local
covariance, ``J^T J = Sigma_local^{-1}``; with the Jacobian (Tikhonov) penalty
``alpha_J * mean ||J(x)||_F^2`` the optimum is ``J^T J = (Sigma_local + 2 alpha_J I)^{-1}``,
a covariance shrinkage that also removes the divergence of the plain likelihood on
data of low intrinsic dimension.

Modules: :mod:`~analysis.flows.models` (the flows, :class:`FittedFlow`),
:mod:`~analysis.flows.fit` (:func:`fit_flow`), :mod:`~analysis.flows.jacobian`
(:func:`jacobians`, the penalty), :mod:`~analysis.flows.components`
(:func:`local_components`, :func:`orient_components`) and
:mod:`~analysis.flows.data` (seeded toy manifolds with their ground truth, the
scikit-learn digits). Figures: :mod:`analysis.plot.flows`.

Examples
--------
>>> import torch
>>> from analysis.flows import fit_flow, local_components
>>> g = torch.Generator().manual_seed(0)
>>> x = torch.randn(2000, 2, generator=g, dtype=torch.float64) @ torch.tensor(
...     [[2.0, 0.0], [1.0, 0.5]], dtype=torch.float64)
>>> flow = fit_flow(x, flow="linear", progress=False)
>>> comps = local_components(flow, x[:5])
>>> comps.scales.shape
torch.Size([5, 2])
"""
from __future__ import annotations

from .components import LocalComponents, local_components, orient_components
from .data import (ToyData, digits, gaussian_mixture, gaussian_plane, image_points, noisy_circle,
                   s_curve, swiss_roll)
from .fit import fit_flow
from .jacobian import JACOBIAN_MODES, frobenius_sq, jacobians
from .models import (FLOW_KINDS, FittedFlow, FlowDivergenceError, FlowDivergenceWarning,
                     LinearFlow, ZukoFlow)

__all__ = [
    "fit_flow",
    "FittedFlow",
    "FLOW_KINDS",
    "FlowDivergenceWarning",
    "FlowDivergenceError",
    "LinearFlow",
    "ZukoFlow",
    "jacobians",
    "JACOBIAN_MODES",
    "frobenius_sq",
    "local_components",
    "LocalComponents",
    "orient_components",
    "ToyData",
    "s_curve",
    "swiss_roll",
    "noisy_circle",
    "gaussian_mixture",
    "gaussian_plane",
    "digits",
    "image_points",
]
