"""A FreemanZiemba2013-shaped benchmark, scored by Brain-Score and by the toolkit: the same numbers.

Simulated V1/V2 recordings (analysis.simulate, 4 families x {texture, noise} x 8
samples, 10 repetitions, 4 degree stimuli) are converted to Brain-Score's format
and scored with Brain-Score's own NeuralBenchmark, registered ``pls`` metric
(stratified on texture_type) and ``internal_consistency`` ceiling, on the exported
tiny LCL-V2 plugin. The same model responses (what the plugin produced for the
benchmark's on-screen stimuli) and the same recordings are scored with
``analysis.predictivity.score_files`` in the main environment. They must agree to
1e-3: raw score, ceiling and ceiled score.
"""
import json
import subprocess

import pytest

pytest.importorskip("brainscore_vision", reason="run in the Brain-Score environment: make test-brainscore")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.assemblies import load, save  # noqa: E402
from analysis.stimuli import StimulusSet  # noqa: E402
from neuromodels.brainscore.benchmark import neural_benchmark  # noqa: E402
from neuromodels.brainscore.convert import from_neuroid_assembly, to_brainscore_stimulus_set  # noqa: E402


@pytest.fixture(scope="module")
def fz(fz_data):
    recording = load(fz_data / "recording.nc")
    table = pd.read_csv(fz_data / "stimuli.csv")
    stimuli = to_brainscore_stimulus_set(StimulusSet(table, visual_degrees=4.0, name="simulated_fz_tiny"),
                                         fz_data / "bs_images", identifier=f"simulated_fz_tiny.{fz_data.parent.name}")
    return recording, stimuli


@pytest.mark.slow
@pytest.mark.parametrize("region", ["V1", "V2"])
def test_brainscore_and_toolkit_scores_agree(plugins, fz, region, session_tmp, main_env_python):
    from brainscore_vision import load_model
    from brainscore_vision.benchmark_helpers.screen import place_on_screen

    recording, stimuli = fz
    assert recording.attrs["simulated"] == 1 and recording.sizes["presentation"] == 64 * 10
    info = plugins["lcl_v2"]
    model = load_model(info["identifier"])
    benchmark = neural_benchmark(recording, stimuli, region=region, stimulus_degrees=4.0)
    score = benchmark(model)
    bs_raw, bs_ceiling, bs_ceiled = float(score.raw), float(score.ceiling), float(score)
    assert 0 < bs_ceiling < 1  # trial noise keeps the split-half reliability below 1
    assert bs_ceiled == pytest.approx(bs_raw ** 2 / bs_ceiling, rel=1e-12)  # Brain-Score's explained variance

    # the model responses the benchmark regressed: the plugin on the stimuli placed on its 8 degree screen
    model.start_recording(region, time_bins=[(50, 200)])
    on_screen = place_on_screen(stimuli, target_visual_degrees=model.visual_degrees(), source_visual_degrees=4.0)
    source = from_neuroid_assembly(model.look_at(on_screen, number_of_trials=1))
    assert source.sizes["presentation"] == 64
    target = recording.isel(neuroid=np.flatnonzero(recording["region"].values == region))
    src_nc, tgt_nc = session_tmp / f"source_{region}.nc", session_tmp / f"target_{region}.nc"
    save(source, src_nc)
    save(target, tgt_nc)
    code = ("import json, sys; from analysis.predictivity import score_files; "
            "print(json.dumps(score_files(sys.argv[1], sys.argv[2], regression='pls', stratify_on='texture_type')))")
    proc = subprocess.run([main_env_python, "-c", code, str(src_nc), str(tgt_nc)], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ours = json.loads(proc.stdout.strip().splitlines()[-1])
    assert ours["simulated"] is True and ours["n_stimuli"] == 64 and ours["n_neuroids"] == target.sizes["neuroid"]
    assert ours["score"] == pytest.approx(bs_raw, abs=1e-3)
    assert ours["ceiling"] == pytest.approx(bs_ceiling, abs=1e-3)
    assert ours["ceiled_score"] == pytest.approx(bs_ceiled, abs=1e-3)
    assert ours["error"] == pytest.approx(float(score.attrs["error"]), abs=1e-3)  # SEM over splits


def test_benchmark_refuses_recordings_it_cannot_score(fz):
    recording, stimuli = fz
    with pytest.raises(ValueError, match="region"):
        neural_benchmark(recording, stimuli, region="IT", stimulus_degrees=4.0)
    with pytest.raises(ValueError, match="repetition"):
        neural_benchmark(recording.drop_vars("repetition"), stimuli, region="V1", stimulus_degrees=4.0)
    with pytest.raises(ValueError, match="not in the stimulus set"):
        neural_benchmark(recording, stimuli.iloc[:10], region="V1", stimulus_degrees=4.0)
