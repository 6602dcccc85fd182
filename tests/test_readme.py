"""The README's Python examples run as written, and its quick CLI commands work."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.fixture
def names():
    """Objects the README's snippets refer to without building them (a model, stimuli, a recording)."""
    import numpy as np

    import neuromodels
    from analysis.assemblies import average_repetitions
    from analysis.simulate import simulate_recordings
    from analysis.texture_stimuli import texture_stimulus_set

    stimulus_set = texture_stimulus_set(samples_per_family=6, size=32, progress=False)
    recording = simulate_recordings(stimulus_set, n_units={"V1": 8, "V2": 8}, n_repetitions=4, image_size=32,
                                    progress=False)
    avg = average_repetitions(recording)
    assembly = avg.isel(presentation=np.flatnonzero(avg["texture_type"].values == "texture"))
    return {"model": neuromodels.build_model("lcl_v2", channels=[8, 16]), "stimulus_set": stimulus_set,
            "recording": recording, "assembly": assembly}


@pytest.mark.slow
def test_every_python_example_runs(names, tmp_path, monkeypatch):
    blocks = _python_blocks()
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    for i, code in enumerate(blocks):
        namespace = dict(names)
        try:
            exec(compile(code, f"README.md python block {i}", "exec"), namespace)
        except Exception as err:  # name the block that failed
            raise AssertionError(f"README python block {i} failed:\n{code}") from err


@pytest.mark.parametrize("args", [["experiments", "list"], ["analysis.datasets", "list"],
                                  ["analysis.datasets", "info", "FreemanZiemba2013"]])
def test_cli_commands_of_the_readme(args):
    out = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
