"""Results in Jupyter: a short one-line repr and a one-screen HTML table holding the key numbers."""
import numpy as np
import pandas as pd
import pytest
import torch

from analysis._display import MAX_ROWS, format_value, html_summary
from analysis.alignment import manifold_alignment
from analysis.assemblies import average_repetitions
from analysis.capacity import manifold_capacity
from analysis.capacity_simulation import SimulatedCapacityResult
from analysis.flows.components import local_components
from analysis.layer_mapping import score_layers
from analysis.predictivity import neural_predictivity


def _clouds(P=12, M=10, N=30, seed=0):
    rng = np.random.default_rng(seed)
    return {f"m{i}": c + 0.3 * rng.standard_normal((M, N)) for i, c in enumerate(rng.standard_normal((P, N)))}


def _check(obj, numbers, max_repr=220, max_html=8000):
    text = repr(obj)
    assert "\n" not in text and len(text) <= max_repr, text
    assert text.startswith(type(obj).__name__ + "(")
    page = obj._repr_html_()
    assert len(page) <= max_html and page.count("<tr") <= 2 * MAX_ROWS + 20
    for value in numbers:  # each key number appears, formatted as in the repr
        assert format_value(value) in page, (format_value(value), page[:500])
    return text, page


def test_capacity_result():
    res = manifold_capacity(_clouds(), n_t=40)
    text, page = _check(res, [res.capacity, res.radius, res.dimension, res.center_correlation, res.K])
    assert f"capacity={format_value(res.capacity)}" in text and "P=12" in text
    # 12 manifolds: MAX_ROWS shown, the rest counted
    assert f"… {12 - MAX_ROWS} more rows" in page and ">m0<" in page and ">m11<" not in page


def test_simulated_capacity_result():
    trials = pd.DataFrame({"n": [4, 8, 12], "n_separable": [0, 5, 10], "n_rep": [10, 10, 10],
                           "fraction": [0.0, 0.5, 1.0]})
    res = SimulatedCapacityResult(capacity=8 / 7.5, n_c=7.5, n_manifolds=8, trials=trials)
    text, page = _check(res, [res.capacity, res.capacity_bias_corrected, 7.5, 8])
    assert "P=8" in text and page.count("<tr") == 4 + 1 + 3  # 4 key numbers, header, 3 trials


def test_alignment_result():
    res = manifold_alignment(_clouds(P=5))
    summary = res.summary()
    _check(res, [summary[k] for k in summary])
    assert format_value(res.principal_angle) in repr(res)


def test_predictivity_result_and_layer_scores(simulated_recording):
    rec = simulated_recording
    v1 = average_repetitions(rec.sel(neuroid=rec["region"] == "V1"))
    v2 = rec.sel(neuroid=rec["region"] == "V2")
    res = neural_predictivity(v1, v2, regression="ridge", n_splits=3)
    text, page = _check(res, [res.score, res.error, 3, 30])
    assert "simulated" in page and "ridge" in text
    layers = {"early": v1, "late": average_repetitions(v2)}
    scores = score_layers(layers, rec, regression="ridge", n_splits=3)
    text, page = _check(scores, [*scores.summary["score"], *scores.summary["error"]])
    for region, layer in scores.best_layers.items():
        assert f"{region}=" in text and layer in text and region in page


def test_flow_components():
    lin = torch.nn.Linear(3, 3).double()
    comps = local_components(lin, torch.randn(6, 3, dtype=torch.float64))
    means = comps.scales.mean(0)
    _check(comps, [6, 3, *means.tolist()])


def test_stimulus_set(small_texture_stimuli):
    s = small_texture_stimuli
    text, page = _check(s, [len(s), s.visual_degrees, 4])  # 4 families
    assert "texture_family values" in page and "1×32×32" in page
    assert f"… {len(s) - MAX_ROWS} more rows" in page


def test_html_escapes_and_formats():
    page = html_summary(object(), {"<b>": "x&y", "n": np.int64(3), "r": 0.123456, "a": np.zeros((2, 3))})
    assert "&lt;b&gt;" in page and "x&amp;y" in page and ">3<" in page and ">0.1235<" in page
    assert "ndarray 2×3" in page
    assert format_value(True) == "True" and format_value([1, 2, 3, 4, 5]) == "[1, 2, 3, 4, …]"


@pytest.mark.parametrize("value, text", [(2, "2"), (2.0, "2"), (np.float32(0.5), "0.5"), ("V1", "V1")])
def test_format_value(value, text):
    assert format_value(value) == text
