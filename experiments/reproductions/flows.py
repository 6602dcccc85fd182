"""Normalizing-flow components (Feinman & Parthasarathy 2019) on toy manifolds and digits.

Stages: the linear theory on Gaussian data (JᵀJ = (Σ + 2α_J I)⁻¹), an S-curve
flow whose top local component follows the curve, and local components of
handwritten digits (``sklearn.datasets.load_digits``).
"""
from __future__ import annotations

import numpy as np
import torch

from ..runner import Run, Section
from . import register_reproduction
from . import stages as S

TITLE = "Normalizing-flow components (Feinman & Parthasarathy 2019)"


@register_reproduction("flows", title=TITLE)
def run(run: Run, cfg: dict, device) -> None:
    run.stage("linear_theory", lambda r: _linear_theory(r, cfg["linear"], device))
    run.stage("s_curve", lambda r: _s_curve(r, cfg["s_curve"], device))
    run.stage("digits", lambda r: _digits(r, cfg["digits"], device))


def _linear_theory(run: Run, cfg: dict, device) -> dict:
    from analysis.flows import fit_flow, jacobians, local_components

    rng = np.random.default_rng(run.config.get("seed", 0))
    d = cfg["dim"]
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eig = np.geomspace(cfg["max_var"], cfg["min_var"], d)
    cov = (q * eig) @ q.T
    x = rng.multivariate_normal(np.zeros(d), cov, size=cfg["n"]).astype(np.float32)
    alpha = cfg["jacobian_penalty"]
    flow = fit_flow(torch.as_tensor(x, device=device), flow="linear", jacobian_penalty=alpha,
                    standardize=False, seed=run.config.get("seed", 0), max_epochs=cfg["max_epochs"])
    j = jacobians(flow, torch.as_tensor(x[:8], device=device)).double().cpu().numpy()
    jtj = j[0].T @ j[0]
    emp = np.cov(x.T, bias=True)
    target = np.linalg.inv(emp + 2 * alpha * np.eye(d))
    rel = float(np.linalg.norm(jtj - target) / np.linalg.norm(target))
    comps = local_components(flow, torch.as_tensor(x[:64], device=device), orient=False)
    w, v = np.linalg.eigh(emp + 2 * alpha * np.eye(d))
    top_dir = comps.unit_directions[0, 0].double().cpu().numpy()
    cos = float(abs(top_dir @ v[:, -1]))
    scale_err = float(np.max(np.abs(comps.scales[0].double().cpu().numpy() - np.sqrt(w[::-1])) / np.sqrt(w[::-1])))
    return {"metrics": [{"metric": "jtj_relative_error", "value": rel},
                        {"metric": "top_component_cos", "value": cos},
                        {"metric": "scale_max_relative_error", "value": scale_err}],
            "headlines": [S.headline("linear flow: ‖JᵀJ − (Σ+2α_J I)⁻¹‖/‖·‖ on Gaussian data", rel,
                                     source="simulated Gaussian")],
            "sections": [Section(
                "Linear theory on Gaussian data",
                f"A linear flow fitted by penalized maximum likelihood (α_J = {alpha}) to {cfg['n']} Gaussian "
                f"points in ℝ^{d} satisfies JᵀJ ≈ (Σ + 2α_J I)⁻¹ to a relative error of {rel:.3f}; its top "
                f"local component matches Σ's top eigenvector (|cos| = {cos:.4f}) and the local scales are "
                f"the square roots of the shrunk eigenvalues (max relative error {scale_err:.3f}).")]}


def _s_curve(run: Run, cfg: dict, device) -> dict:
    from analysis.flows import fit_flow, local_components, s_curve
    from analysis.plot.flows import (plot_component_coordinates, plot_local_components,
                                     plot_training_history)

    seed = run.config.get("seed", 0)
    train = s_curve(cfg["n"], noise=cfg["noise"], seed=seed)
    test = s_curve(cfg["n_test"], noise=0.0, seed=seed + 1)
    flow = fit_flow(torch.as_tensor(train.x, dtype=torch.float32, device=device), flow=cfg["flow"],
                    jacobian_penalty=cfg["jacobian_penalty"], transforms=cfg["transforms"],
                    hidden_features=cfg["hidden_features"], max_epochs=cfg["max_epochs"], seed=seed)
    comps = local_components(flow, torch.as_tensor(test.x, dtype=torch.float32, device=device))
    top = comps.unit_directions[:, 0].double().cpu().numpy()
    cos = np.abs(np.sum(top * test.tangents, axis=1))
    figs = [S.savefig(plot_component_coordinates(comps, units="data units"), run.figure_path("flows_s_curve_coordinates")),
            S.savefig(plot_local_components(comps, units="data units", seed=seed).figure, run.figure_path("flows_s_curve_arrows")),
            S.savefig(plot_training_history(flow), run.figure_path("flows_s_curve_training"))]
    return {"metrics": [{"metric": "s_curve_tangent_cos", "value": float(cos.mean()),
                         "error": float(cos.std() / np.sqrt(len(cos)))}],
            "headlines": [S.headline("S-curve: |cos|(top flow component, analytic tangent), held out",
                                     float(cos.mean()), float(cos.std() / np.sqrt(len(cos))), source="simulated S-curve")],
            "sections": [Section(
                "Local components of an S-curve",
                f"A {cfg['flow']} flow (α_J = {cfg['jacobian_penalty']}) on {cfg['n']} noisy S-curve points. On "
                f"{cfg['n_test']} held-out points the top local component is tangent to the curve "
                f"(mean |cos| with the analytic tangent {cos.mean():.3f}; 1 = tangent); colours show the "
                f"un-whitened latent coordinates, arrows the local components scaled by their standard deviations.",
                figs)]}


def _digits(run: Run, cfg: dict, device) -> dict:
    from analysis.flows import digits, fit_flow, local_components
    from analysis.plot.flows import plot_component_images

    seed = run.config.get("seed", 0)
    data = digits(seed=seed)
    x = torch.as_tensor(data.x[: cfg["n"]], dtype=torch.float32, device=device)
    flow = fit_flow(x, flow=cfg["flow"], jacobian_penalty=cfg["jacobian_penalty"], transforms=cfg["transforms"],
                    hidden_features=cfg["hidden_features"], max_epochs=cfg["max_epochs"], seed=seed)
    pts = x[: cfg["n_points"]]
    comps = local_components(flow, pts)
    scales = comps.scales.double().cpu().numpy()
    frac = float(np.mean(scales[:, :5].sum(1) / scales.sum(1)))
    fig = plot_component_images(comps, (8, 8), points=list(range(min(4, len(pts)))), n_components=8)
    return {"metrics": [{"metric": "digits_top5_scale_fraction", "value": frac},
                        {"metric": "digits_heldout_log_likelihood", "unit": "nats/image",
                         "value": float(flow.history_frame()["heldout_log_likelihood"].max())}],
            "headlines": [S.headline("digits: share of local std in the top 5 of 64 components", frac,
                                     source="sklearn digits (real)")],
            "sections": [Section(
                "Local components of handwritten digits",
                f"A {cfg['flow']} flow on {cfg['n']} 8×8 digits (sklearn, real data). At each digit the local "
                f"components are image-space directions ordered by local standard deviation; the top 5 of 64 "
                f"carry {frac:.0%} of the summed local standard deviation (5/64 = 8% if all were equal): the "
                f"local spread of the data is concentrated in a few image-space directions.",
                [S.savefig(fig, run.figure_path("flows_digit_components"))])]}
