"""Figures of the analyses, one module per topic.

Every function here takes the result it draws (or a tidy table), accepts ``ax=``
(an existing matplotlib Axes; a new figure is made when it is ``None``), returns the
Axes it drew on (or the Figure, for multi-panel figures), and leaves the user's global
matplotlib/seaborn style alone: styles are applied inside :func:`analysis.plot.style.figure_style`
only. Import cost stays out of ``import analysis``: the modules below load on first use.

Topics (module: functions) are listed in ``_API``; ``analysis.plot.<name>`` works for each.
"""
from __future__ import annotations

from neurocommon.lazy import lazy_api

# module -> public plotting functions; each helper adds its topic's line here
_API: dict[str, list[str]] = {
    "comparison": ["plot_layer_scores", "plot_rdm"],
    "manifolds": ["plot_manifold_geometry", "plot_geometry_by_layer", "plot_alignment"],
    "robustness": ["plot_ood_accuracy", "plot_error_consistency"],
    "flows": ["plot_component_coordinates", "plot_local_components", "plot_component_images", "plot_training_history"],
    "texture": ["plot_modulation_index", "plot_family_decoding", "plot_data_efficiency"],
    "tuning": ["plot_filters", "plot_circular_variance"],
}
_WHERE = {name: module for module, names in _API.items() for name in names}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_api(__name__, _API)
