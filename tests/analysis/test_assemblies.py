"""The data model: construction, validation, averaging, alignment, atomic netCDF I/O."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import xarray as xr

from analysis.assemblies import (
    align,
    average_repetitions,
    is_simulated,
    load,
    make_assembly,
    save,
    validate,
)


# ------------------------------------------------------------------ construction / validation
def test_make_assembly_layout(repeated_recording):
    a = repeated_recording()
    assert a.dims == ("presentation", "neuroid") and a.shape == (12, 5)
    assert a["stimulus_id"].dims == ("presentation",) and a["region"].dims == ("neuroid",)
    assert list(a["neuroid_id"].values[:2]) == ["unit_0", "unit_1"]
    assert is_simulated(a)
    b = make_assembly(np.zeros((2, 3)), stimulus_id=["a", "b"])
    assert list(b["neuroid_id"].values) == ["n0", "n1", "n2"] and not is_simulated(b)
    t = make_assembly(np.zeros((2, 3, 4)), stimulus_id=["a", "b"], time_bins=[0, 50, 100, 150])
    assert t.dims == ("presentation", "neuroid", "time_bin")


def test_make_assembly_length_and_shape_errors():
    with pytest.raises(ValueError, match=r"must be 2-D .* got shape \(3,\)"):
        make_assembly(np.zeros(3), stimulus_id=["a", "b", "c"])
    with pytest.raises(ValueError, match="'stimulus_id' along 'presentation' must have length 2"):
        make_assembly(np.zeros((2, 3)), stimulus_id=["a"])
    with pytest.raises(ValueError, match="'region' along 'neuroid' must have length 3"):
        make_assembly(np.zeros((2, 3)), stimulus_id=["a", "b"], neuroid_coords={"region": ["V1"]})
    with pytest.raises(ValueError, match="time_bins given but values are 2-D"):
        make_assembly(np.zeros((2, 3)), stimulus_id=["a", "b"], time_bins=[0])


def test_validate_rejects_non_dataarray():
    with pytest.raises(TypeError, match="got ndarray"):
        validate(np.zeros((2, 2)))


def test_validate_wrong_dims(repeated_recording):
    a = repeated_recording()
    with pytest.raises(ValueError, match=r"dims must be .* got \('neuroid', 'presentation'\)"):
        validate(a.transpose())
    with pytest.raises(ValueError, match="got \\('image', 'neuroid'\\)"):
        validate(a.rename(presentation="image"))


def test_validate_missing_required_coords(repeated_recording):
    a = repeated_recording()
    with pytest.raises(ValueError, match="missing the required coord 'stimulus_id' along 'presentation'"):
        validate(a.drop_vars("stimulus_id"))
    with pytest.raises(ValueError, match="missing the required coord 'neuroid_id' along 'neuroid'"):
        validate(a.drop_vars("neuroid_id"))


def test_validate_required_coord_on_wrong_dim(repeated_recording):
    a = repeated_recording().drop_vars("neuroid_id")
    a = a.assign_coords(neuroid_id=("presentation", [f"x{i}" for i in range(12)]))
    with pytest.raises(ValueError, match="'neuroid_id' must lie along 'neuroid'"):
        validate(a)


def test_validate_duplicated_neuroid_ids(repeated_recording):
    a = repeated_recording()
    a = a.assign_coords(neuroid_id=("neuroid", ["u", "u", "v", "w", "w"]))
    with pytest.raises(ValueError, match=r"2 id\(s\) occur more than once, e.g. \['u', 'w'\]"):
        validate(a)


def test_validate_counts_and_locates_nonfinite_values(repeated_recording):
    a = repeated_recording().copy()
    a.values[4, 1] = np.nan
    a.values[4, 3] = np.inf
    a.values[7, 3] = np.nan
    with pytest.raises(ValueError) as err:
        validate(a)
    msg = str(err.value)
    assert "3 non-finite value(s) (2 NaN, 1 inf)" in msg
    assert "in 2 presentation(s) (e.g. stimulus_id ['s1', 's2'])" in msg
    assert "2 neuroid(s) (e.g. neuroid_id ['unit_1', 'unit_3'])" in msg
    assert validate(a, allow_nonfinite=True) is a


def test_validate_non_numeric_values(repeated_recording):
    a = repeated_recording()
    with pytest.raises(ValueError, match="must be numeric"):
        validate(a.astype(str))


# ------------------------------------------------------------------ averaging / alignment
def test_average_repetitions_means_and_metadata(repeated_recording):
    a = repeated_recording(n_stim=4, n_rep=3)
    m = average_repetitions(a)
    assert m.sizes == {"presentation": 4, "neuroid": 5}
    assert list(m["stimulus_id"].values) == ["s0", "s1", "s2", "s3"]
    np.testing.assert_allclose(m.values, a.values.reshape(4, 3, 5).mean(1))
    assert "repetition" not in m.coords  # varies within a stimulus
    assert list(m["texture_family"].values) == ["brick", "grass", "brick", "grass"]
    assert list(m["region"].values) == list(a["region"].values)
    assert m.attrs == a.attrs


def test_average_repetitions_interleaved_order_and_time_bins():
    rng = np.random.default_rng(1)
    vals = rng.random((6, 2, 3))
    sid = ["b", "a", "b", "c", "a", "c"]
    a = make_assembly(vals, stimulus_id=sid, time_bins=[0, 1, 2])
    m = average_repetitions(a)
    assert list(m["stimulus_id"].values) == ["b", "a", "c"]  # order of first presentation
    np.testing.assert_allclose(m.values[0], vals[[0, 2]].mean(0))
    np.testing.assert_allclose(m.values[1], vals[[1, 4]].mean(0))
    np.testing.assert_allclose(m.values[2], vals[[3, 5]].mean(0))


def test_align_reorders_and_reports_missing_ids(repeated_recording):
    rec = average_repetitions(repeated_recording())
    model = make_assembly(np.arange(12.0).reshape(4, 3), stimulus_id=["s3", "s1", "s0", "s2"])
    m, r = align(model, rec)
    assert list(r["stimulus_id"].values) == ["s3", "s1", "s0", "s2"]
    np.testing.assert_allclose(r.values[0], rec.values[3])
    other = make_assembly(np.zeros((3, 1)), stimulus_id=["s0", "s1", "zz"])
    with pytest.raises(ValueError, match=r"1 only in the first assembly \['zz'\], 2 only in the "
                                         r"second \['s2', 's3'\]"):
        align(other, rec)
    with pytest.raises(ValueError, match="average_repetitions"):
        align(repeated_recording(), rec)


# ------------------------------------------------------------------ netCDF round trip
def _rich_assembly():
    rng = np.random.default_rng(2)
    return make_assembly(
        rng.standard_normal((4, 3, 2)).astype(np.float32),
        stimulus_id=["ä-1", "b", "c", "d"],
        neuroid_id=["V1_0", "V1_1", "V2_0"],
        presentation_coords={"repetition": [0, 1, 0, 1], "label": ["x", "", "long label", "y"],
                             "contrast": [0.1, np.nan, 0.3, 0.4], "is_noise": [True, False, True, False]},
        neuroid_coords={"region": ["V1", "V1", "V2"], "channel": np.array([0, 1, 2], dtype=np.int16)},
        time_bins=[50, 150],
        attrs={"source": "simulated:test", "simulated": 1, "gain": 2.5, "n": 3,
               "sizes": [3], "mixed": [1, 2.5], "config": {"a": [1, 2], "b": "c"}, "none": None,
               "empty": [], "flag": True},
    )


def test_save_load_round_trip_is_exact(tmp_path):
    a = _rich_assembly()
    path = save(a, tmp_path / "sub" / "a.nc")
    b = load(path)
    expected = a.copy()
    expected.attrs["flag"] = 1  # netCDF has no bool: stored as 1/0
    xr.testing.assert_identical(b, expected)
    assert b.dtype == np.float32 and b["channel"].dtype == np.int16
    assert b["is_noise"].dtype == bool and b["label"].dtype.kind == "U"
    assert b["stimulus_id"].values[0] == "ä-1" and b["label"].values[1] == ""
    assert b.attrs["sizes"] == [3] and b.attrs["mixed"] == [1, 2.5] and b.attrs["empty"] == []
    assert b.attrs["config"] == {"a": [1, 2], "b": "c"} and b.attrs["none"] is None
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.nc"]  # no temp file left


def test_load_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no assembly file at .*nope.nc"):
        load(tmp_path / "nope.nc")


def test_failure_mid_write_keeps_previous_file(tmp_path, monkeypatch, repeated_recording):
    path = tmp_path / "a.nc"
    old = repeated_recording(seed=0)
    save(old, path)
    real = xr.Dataset.to_netcdf

    def half_then_fail(self, target, *args, **kwargs):
        real(self, target, *args, **kwargs)
        with open(target, "r+b") as fh:  # leave a truncated file behind, as a crash would
            fh.truncate(os.path.getsize(target) // 2)
        raise OSError("No space left on device (simulated)")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", half_then_fail)
    with pytest.raises(OSError, match="simulated"):
        save(repeated_recording(seed=1), path)
    monkeypatch.undo()
    xr.testing.assert_identical(load(path), old)
    assert [p.name for p in tmp_path.iterdir()] == ["a.nc"]


@pytest.mark.timeout(180)  # the writer reaches the rename in seconds; a hang fails here
def test_killed_writer_never_leaves_partial_file(tmp_path, repeated_recording):
    """SIGKILL a writer process after its temp file exists and before its rename."""
    path = tmp_path / "a.nc"
    old = repeated_recording(seed=0)
    save(old, path)
    script = textwrap.dedent(f"""
        import os, time
        import numpy as np
        from analysis import assemblies
        real_replace = os.replace
        def slow_replace(src, dst):
            open({str(tmp_path / 'ready')!r}, 'w').close()
            time.sleep(60)
            real_replace(src, dst)
        assemblies.os.replace = slow_replace
        a = assemblies.make_assembly(np.ones((2000, 300)), stimulus_id=[str(i) for i in range(2000)])
        assemblies.save(a, {str(path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        while not (tmp_path / "ready").exists():  # a writer that never gets there: the test's timeout
            assert proc.poll() is None, "writer exited before reaching the rename"
            time.sleep(0.05)
        temps = [p for p in tmp_path.iterdir() if p.name.startswith(".a.nc.")]
        assert len(temps) == 1  # the data went to a temporary file, not to a.nc
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    xr.testing.assert_identical(load(path), old)


def test_save_refuses_invalid_assembly(tmp_path, repeated_recording):
    with pytest.raises(ValueError, match="missing the required coord"):
        save(repeated_recording().drop_vars("stimulus_id"), tmp_path / "x.nc")
    assert not list(tmp_path.iterdir())


def test_saved_file_gets_the_usual_file_mode(tmp_path):
    import os

    import numpy as np

    from analysis.assemblies import make_assembly, save

    umask = os.umask(0)
    os.umask(umask)
    path = save(make_assembly(np.ones((2, 2)), stimulus_id=["a", "b"]), tmp_path / "a.nc")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# ------------------------------------------------------------------ issue 17: bad assemblies and files
@pytest.mark.parametrize("values, ids, match", [
    (np.ones((0, 3)), [], r"no presentations \(shape \(0, 3\)\)"),
    (np.ones((2, 0)), ["a", "b"], r"no neuroids \(shape \(2, 0\)\)"),
    (np.ones((2, 3), dtype=bool), ["a", "b"], "boolean.*astype\\(float\\)"),
    (np.ones((2, 3)), [None, "b"], r"stimulus_id holds 1 missing value.*position\(s\) \[0\]"),
    (np.ones((2, 3)), [float("nan"), "b"], r"stimulus_id holds 1 missing value"),
])
def test_make_assembly_refuses_empty_boolean_and_missing_ids(values, ids, match):
    with pytest.raises(ValueError, match=match):
        make_assembly(values, stimulus_id=ids)


def test_validate_refuses_what_make_assembly_refuses():
    good = make_assembly(np.ones((2, 3)), stimulus_id=["a", "b"])
    with pytest.raises(ValueError, match="boolean"):
        validate(good.astype(bool))
    with pytest.raises(ValueError, match="no presentations"):
        validate(good.isel(presentation=[]))
    none_ids = good.assign_coords(stimulus_id=("presentation", np.array([None, "b"], dtype=object)))
    with pytest.raises(ValueError, match="stimulus_id holds 1 missing value"):
        validate(none_ids)
    none_neuroid = good.assign_coords(neuroid_id=("neuroid", np.array(["x", None, "z"], dtype=object)))
    with pytest.raises(ValueError, match="neuroid_id holds 1 missing value"):
        validate(none_neuroid)


def test_a_truncated_file_is_named(tmp_path):
    path = save(make_assembly(np.ones((4, 3)), stimulus_id=list("abcd")), tmp_path / "a.nc")
    data = path.read_bytes()
    cut = tmp_path / "cut.nc"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=f"{cut} is not a readable assembly file.*truncated"):
        load(cut)
    (tmp_path / "text.nc").write_text("not netCDF")
    with pytest.raises(OSError, match="text.nc is not a readable assembly file"):
        load(tmp_path / "text.nc")
