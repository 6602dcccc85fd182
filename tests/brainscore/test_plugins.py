"""Exported plugins pass Brain-Score's own tests and record like the toolkit model (Brain-Score env).

Both plugins (tiny LCL-V2 and texture model, random weights) are exported by
:func:`neuromodels.brainscore.export_plugin` in this environment (numpy<2,
xarray 2022.3) and copied into ``brainscore_vision/models/``.
"""
import re

import pytest

pytest.importorskip("brainscore_vision", reason="run in the Brain-Score environment: make test-brainscore")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from neurocommon.images import LUMINANCE_WEIGHTS  # noqa: E402

MODEL_NAMES = ["lcl_v2", "texture_model"]


@pytest.mark.slow
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_brainscore_generic_plugin_tests_and_plugin_test_pass(plugins, name):
    """``pytest -m "not slow" generic_plugin_tests.py --plugin_directory DIR`` + the plugin's test.py, offline."""
    from neuromodels.brainscore.testing import run_all_plugin_tests

    proc = run_all_plugin_tests(plugins[name]["installed"])
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (passed|failed|skipped|error|errors|deselected)", summary))
    # generic tests: identifier, visual_degrees, start_task_or_recording, look_at V1, behaviour probabilities;
    # plugin test.py: identity/degrees, region map, weights checksum, look_at x 4 regions, responses
    assert counts.get("passed") == 5 + 8, summary
    assert not counts.get("failed") and not counts.get("skipped") and not counts.get("error"), summary


def _stimuli(tmp_path, images, identifier):
    from brainscore_core.supported_data_standards.brainio.stimuli import StimulusSet

    ids = [f"s{i}" for i in range(len(images))]
    paths = {}
    for sid, img in zip(ids, images):
        paths[sid] = tmp_path / f"{sid}.png"
        Image.fromarray(img).save(paths[sid])
    stimuli = StimulusSet({"stimulus_id": ids, "kind": ["a", "b", "c"][: len(ids)]})
    stimuli.stimulus_paths = paths
    stimuli.identifier = identifier
    return stimuli


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_look_at_returns_the_toolkit_responses_for_each_region(plugins, name, tmp_path):
    """look_at on a local stimulus set: NeuroidAssembly (3 stimuli x features of the mapped layer), toolkit values."""
    from brainscore_core.supported_data_standards.brainio.assemblies import NeuroidAssembly
    from brainscore_vision import load_model

    info = plugins[name]
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(3)]
    stimuli = _stimuli(tmp_path, images, f"{info['identifier']}.look_at.{tmp_path.name}")
    lum = np.stack([np.tensordot(np.asarray(LUMINANCE_WEIGHTS), im.transpose(2, 0, 1) / 255.0, axes=1)
                    for im in images])[:, None]
    modules = dict(info["model"].named_modules())
    model = load_model(info["identifier"])
    assert model.visual_degrees() == 8.0
    for region in ("V1", "V2", "V4", "IT"):
        layer = info["region_layer_map"][region]
        outs = {}
        handle = modules[layer].register_forward_hook(lambda _m, _i, o: outs.__setitem__("x", o))
        with torch.no_grad():
            info["model"](torch.tensor(lum, dtype=torch.float32))
        handle.remove()
        expected = outs["x"].flatten(1).numpy()
        model.start_recording(region, time_bins=[(70, 170)])
        got = model.look_at(stimuli, number_of_trials=1)
        assert isinstance(got, NeuroidAssembly)
        if "time_bin" in got.dims:
            got = got.squeeze("time_bin")
        assert got.dims == ("presentation", "neuroid")
        assert got.shape == expected.shape == (3, outs["x"][0].numel())
        assert list(got["stimulus_id"].values) == ["s0", "s1", "s2"]
        assert list(got["kind"].values) == ["a", "b", "c"]  # stimulus-set columns kept
        assert set(got["region"].values) == {region} and set(got["layer"].values) == {layer}
        assert len(set(got["neuroid_id"].values)) == got.sizes["neuroid"]
        np.testing.assert_allclose(got.values, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_brainscore_finds_exactly_this_registration(plugins, name):
    from brainscore_core.plugin_management.import_plugin import ImportPlugin
    from brainscore_core.plugin_management.parse_plugin_changes import get_plugin_ids

    info = plugins[name]
    installed = info["installed"]
    assert get_plugin_ids("models", [installed.name], str(installed.parent.parent)) == [info["identifier"]]
    assert ImportPlugin("brainscore_vision", "models", info["identifier"]).plugin_dirname == installed.name


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_metadata_yaml_passes_brainscore_contract(plugins, name):
    from brainscore_core.metadata.contract import load

    info = plugins[name]
    doc = load((info["folder"] / "metadata.yaml").read_text(), domain="vision")
    entry = doc["models"][info["identifier"]]
    assert entry["model"]["visual_degrees"] == 8.0
    assert entry["model"]["input_resolution"] == {"channels": 3, "height": 32, "width": 32}
    assert entry["model"]["parameter_count"] == sum(p.numel() for p in info["model"].parameters())


def test_vendored_toolkit_runs_under_brainscore_numpy(plugins):
    """The plugin builds its model from vendor/neuromodels (and vendor/neurocommon), not from an installed toolkit."""
    import subprocess
    import sys

    folder = plugins["lcl_v2"]["folder"]
    code = ("import importlib.util, numpy; s = importlib.util.spec_from_file_location('m', 'model.py'); "
            "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); m.build_model(); "
            "import neuromodels, neurocommon; print(numpy.__version__, neuromodels.__file__, neurocommon.__file__)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    version, path, helpers = proc.stdout.split()
    assert int(version.split(".")[0]) < 2
    assert path == str((folder / "vendor" / "neuromodels" / "__init__.py").resolve())
    assert helpers == str((folder / "vendor" / "neurocommon" / "__init__.py").resolve())
