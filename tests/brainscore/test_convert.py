"""Toolkit assemblies and stimulus sets <-> Brain-Score's, both ways, exactly (Brain-Score env)."""
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("brainscore_vision", reason="run in the Brain-Score environment: make test-brainscore")

import xarray as xr  # noqa: E402
from brainscore_core.supported_data_standards.brainio.assemblies import NeuroidAssembly  # noqa: E402
from brainscore_core.supported_data_standards.brainio.stimuli import StimulusSet as BSStimulusSet  # noqa: E402

from analysis.assemblies import average_repetitions, make_assembly  # noqa: E402
from analysis.stimuli import StimulusSet  # noqa: E402
from neuromodels.brainscore.convert import (  # noqa: E402
    from_brainscore_stimulus_set,
    from_neuroid_assembly,
    to_brainscore_stimulus_set,
    to_neuroid_assembly,
)


def _recording(seed=0, n_stim=6, n_rep=3, n_neur=5):
    rng = np.random.default_rng(seed)
    sid = np.repeat([f"img{i:02d}" for i in range(n_stim)], n_rep)
    return make_assembly(
        rng.normal(size=(n_stim * n_rep, n_neur)),
        stimulus_id=sid,
        neuroid_id=[f"unit{j}" for j in range(n_neur)],
        presentation_coords={"repetition": np.tile(np.arange(n_rep), n_stim),
                             "texture_type": np.where(np.arange(n_stim * n_rep) % 2, "noise", "texture"),
                             "sample": np.repeat(np.arange(n_stim), n_rep)},
        neuroid_coords={"region": ["V1", "V1", "V2", "V2", "V2"][:n_neur], "rf_x": rng.normal(size=n_neur)},
        attrs={"source": "simulated:test", "simulated": 1, "params": "{\"noise\": 1.0}"},
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_toolkit_to_brainscore_and_back_is_identical(seed):
    a = _recording(seed)
    bs = to_neuroid_assembly(a)
    assert isinstance(bs, NeuroidAssembly)
    assert set(bs.indexes["presentation"].names) == {"stimulus_id", "repetition", "texture_type", "sample"}
    assert set(bs.indexes["neuroid"].names) == {"neuroid_id", "region", "rf_x"}
    np.testing.assert_array_equal(bs.values, a.values)
    xr.testing.assert_identical(from_neuroid_assembly(bs), a)


def test_time_window_round_trips_as_brainscore_scalar_time_bin():
    a = _recording()
    bs = to_neuroid_assembly(a, time_bin=(50, 200))
    assert bs["time_bin"].values[()] == (50, 200)  # as in Brain-Score's FreemanZiemba2013 assemblies
    back = from_neuroid_assembly(bs)
    assert int(back["time_bin_start"]) == 50 and int(back["time_bin_end"]) == 200
    xr.testing.assert_identical(back.drop_vars(["time_bin_start", "time_bin_end"]), a)
    xr.testing.assert_identical(to_neuroid_assembly(back), bs)


def test_brainscore_to_toolkit_and_back_is_identical():
    """A NeuroidAssembly built the Brain-Score way (MultiIndex coords, 3-D with time bins)."""
    rng = np.random.default_rng(3)
    values = rng.normal(size=(4, 3, 2))
    bs = NeuroidAssembly(values, coords={
        "stimulus_id": ("presentation", ["a", "b", "c", "d"]),
        "object_name": ("presentation", ["x", "x", "y", "y"]),
        "neuroid_id": ("neuroid", ["n0", "n1", "n2"]),
        "layer": ("neuroid", ["l1"] * 3),
        "channel": ("neuroid", [0, 1, 2]),
        "time_bin_start": ("time_bin", [70, 120]),
        "time_bin_end": ("time_bin", [120, 170]),
    }, dims=["presentation", "neuroid", "time_bin"])
    tk = from_neuroid_assembly(bs)
    assert tk.dims == ("presentation", "neuroid", "time_bin") and not tk.indexes
    assert list(tk["time_bin_start"].values) == [70, 120]
    xr.testing.assert_identical(to_neuroid_assembly(tk), bs)


def test_brainscore_averaging_agrees_with_the_toolkit():
    """Brain-Score's average_repetition on the converted assembly = analysis.assemblies.average_repetitions."""
    from brainscore_vision.benchmark_helpers.neural_common import average_repetition

    a = _recording(n_stim=5, n_rep=4)
    a = a.assign_coords(texture_type=("presentation", np.repeat(["t", "n", "t", "n", "t"], 4)))
    ours = average_repetitions(a)
    theirs = from_neuroid_assembly(average_repetition(to_neuroid_assembly(a)))
    theirs = theirs.isel(presentation=[list(theirs["stimulus_id"].values).index(s) for s in ours["stimulus_id"].values])
    np.testing.assert_allclose(theirs.values, ours.values, rtol=1e-12)
    assert list(theirs["texture_type"].values) == list(ours["texture_type"].values)


def test_conversion_errors_name_the_problem():
    a = _recording()
    with pytest.raises(TypeError, match="DataArray"):
        to_neuroid_assembly(a.values)
    with pytest.raises(ValueError, match="neuroid_id"):
        to_neuroid_assembly(a.drop_vars("neuroid_id"))
    with pytest.raises(ValueError, match="dims"):
        to_neuroid_assembly(a.rename(neuroid="unit"))
    dup = a.assign_coords(neuroid_id=("neuroid", ["u"] * a.sizes["neuroid"]))
    with pytest.raises(ValueError, match="unique"):
        to_neuroid_assembly(dup)


def test_stimulus_sets_round_trip_exactly(tmp_path):
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (4, 1, 12, 10), dtype=np.uint8)
    table = pd.DataFrame({"stimulus_id": [f"s{i}" for i in range(4)], "texture_family": ["a", "a", "b", "b"],
                          "sample": [0, 1, 0, 1]})
    ours = StimulusSet(table, images=u8 / np.float32(255), visual_degrees=4.0, name="tiny")
    bs = to_brainscore_stimulus_set(ours, tmp_path / "png")
    assert isinstance(bs, BSStimulusSet) and bs.identifier == "tiny"
    assert list(bs.columns) == ["stimulus_id", "texture_family", "sample", "filename"]
    for sid, img in zip(table["stimulus_id"], u8):
        from PIL import Image

        np.testing.assert_array_equal(np.asarray(Image.open(bs.get_stimulus(sid))), img[0])
    back_table = from_brainscore_stimulus_set(bs)
    back = StimulusSet(back_table, visual_degrees=4.0, name=bs.identifier)
    pd.testing.assert_frame_equal(back.table.drop(columns=["path"]), ours.table)
    np.testing.assert_array_equal(back.load_images(), ours.images)
    with pytest.raises(ValueError, match="stimulus_id"):
        from_brainscore_stimulus_set(BSStimulusSet({"name": ["x"]}))
