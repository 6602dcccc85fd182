"""Figures of the texture analyses (:mod:`analysis.texture`): modulation, decoding, data efficiency.

Each function takes the analysis' tidy table (or what makes it), draws on ``ax``
(a new figure when ``None``), returns the Axes, and applies its style locally
(:func:`analysis.plot.style.figure_style`).
"""
from __future__ import annotations

import pandas as pd

from .style import figure_style, new_axes

__all__ = ["plot_modulation_index", "plot_family_decoding", "plot_data_efficiency"]


def _integer_log_axis(ax, ticks) -> None:
    """Log-scaled x axis labelled only at the given integer values."""
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(int(t)) for t in ticks])


def plot_modulation_index(data, by: str | None = "auto", ax=None):
    """Distributions of the overall modulation index by population (region or layer).

    The reading to compare against (Freeman et al. 2013): V1 is centred on 0, V2
    is shifted to clearly positive values (most units prefer naturalistic
    textures to spectrally matched noise).

    Parameters
    ----------
    data : pandas.DataFrame from :func:`analysis.texture.modulation_table`, an
        assembly, or a mapping {name: assembly}
    by : str or None
        Neuroid coord splitting a single assembly into populations.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"population": ["V1", "V2"], "neuroid_id": ["a", "b"],
    ...                   "texture_family": "all", "modulation_index": [0.0, 0.2]})
    >>> plot_modulation_index(t).get_xlabel()[:16]
    'modulation index'
    """
    import seaborn as sns

    from analysis.texture import modulation_table

    table = data if isinstance(data, pd.DataFrame) else modulation_table(data, by=by)
    table = table[(table["texture_family"] == "all") & table["modulation_index"].notna()]
    if table.empty:
        raise ValueError("no defined modulation indices to plot")
    order = list(dict.fromkeys(table["population"]))
    with figure_style("ticks"):
        ax = new_axes(ax, size=(7, 1.4 + 0.8 * len(order)))
        sns.violinplot(data=table, x="modulation_index", y="population", order=order, cut=0,
                       inner=None, color="0.85", ax=ax)
        sns.stripplot(data=table, x="modulation_index", y="population", order=order, size=3,
                      alpha=0.6, jitter=0.2, ax=ax)
        med = table.groupby("population")["modulation_index"].median()
        for i, name in enumerate(order):
            ax.plot([med[name]] * 2, [i - 0.35, i + 0.35], color="k", lw=2)
        ax.axvline(0.0, color="0.4", ls=":", lw=1)
        ax.set_xlim(-1, 1)
        ax.set_xlabel("modulation index (r_tex − r_noise)/(r_tex + r_noise) [unitless]")
        ax.set_ylabel("population (region / layer)")
        ax.set_title("Texture modulation (black: median; Freeman et al. 2013: V1 ≈ 0, V2 > 0)",
                     fontsize=9)
        sns.despine(ax=ax)
    return ax


def plot_family_decoding(table: pd.DataFrame, ax=None):
    """Decoding accuracy against population size, per population and kind.

    Lines: mean over random subpopulations, bands: 95% interval of the mean
    (bootstrap over draws); dotted lines: chance. Expected (Ziemba et al. 2016): V2
    above V1 for family, relative to sample.

    Parameters
    ----------
    table : pandas.DataFrame from :func:`analysis.texture_decoding.family_decoding`
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import seaborn as sns

    with figure_style("ticks"):
        ax = new_axes(ax, size=(6.5, 4))
        sns.lineplot(data=table, x="population_size", y="accuracy", hue="population",
                     style="kind", markers=True, dashes=True, errorbar=("ci", 95), seed=0, ax=ax)
        for kind, chance in table.groupby("kind")["chance"].first().items():
            ax.axhline(chance, color="0.5", ls=":", lw=1)
            ax.annotate(f"chance ({kind})", (1.0, chance), xycoords=("axes fraction", "data"),
                        ha="right", va="bottom", fontsize=7, color="0.4")
        _integer_log_axis(ax, sorted(table["population_size"].unique()))
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.set_xlabel("population size [units]")
        ax.set_ylabel("decoding accuracy [fraction correct]")
        ax.set_title("Texture family (across samples) and sample (within family) decoding",
                     fontsize=9)
        sns.despine(ax=ax)
    return ax


def plot_data_efficiency(table: pd.DataFrame, ax=None, hue: str = "model"):
    """Data-efficiency curves: accuracy against training images per class, per model.

    Lines: mean over random draws of the training images (and seeds, when the
    table holds several); bands: 95% confidence interval of that mean (bootstrap,
    seeded); dotted: chance.

    Parameters
    ----------
    table : pandas.DataFrame from :func:`analysis.few_shot.data_efficiency`
    ax : matplotlib Axes, optional
    hue : str
        Column naming the curves.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import seaborn as sns

    with figure_style("ticks"):
        ax = new_axes(ax, size=(5.5, 4))
        sns.lineplot(data=table, x="n_train", y="accuracy", hue=hue, marker="o",
                     errorbar=("ci", 95), seed=0, ax=ax)
        ax.axhline(float(table["chance"].iloc[0]), color="0.5", ls=":", lw=1, label="chance")
        _integer_log_axis(ax, sorted(table["n_train"].unique()))
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("training images per class [images]")
        ax.set_ylabel("texture-family accuracy [fraction correct]")
        ax.set_title("Data efficiency of texture-family classification", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        sns.despine(ax=ax)
    return ax
