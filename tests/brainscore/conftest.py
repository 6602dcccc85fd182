"""Fixtures of the Brain-Score-environment tests (make test-brainscore).

Everything Brain-Score writes (result caches, stimuli placed on screen) goes to a
fresh temporary folder, caching is off (a cached activation would hide a changed
model), and plugin requirements are never installed (offline). These variables are
set here, at import, before anything imports Brain-Score.
"""
import os
import subprocess
import tempfile
import uuid
from pathlib import Path

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="neuromodels-brainscore-"))
os.environ["BS_INSTALL_DEPENDENCIES"] = "no"
os.environ["RESULTCACHING_DISABLE"] = "1"
os.environ["RESULTCACHING_HOME"] = str(_SESSION_TMP / "result_caching")
os.environ["BRAINSCORE_HOME"] = str(_SESSION_TMP / "brainscore_home")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
IMAGE_SIZE = 32
#: the two models the suite exports: tiny configs with random weights saved as trainer-style checkpoints
MODELS = {
    "lcl_v2": ({"channels": [4, 8]}, {"V1": "stages.0", "V2": "stages.1"}),
    "texture_model": ({"n_scales": 2, "channels": 4}, {"V1": "frontend", "V2": "stages.0"}),
}


def main_python() -> str:
    """The main environment's interpreter (numpy 2, the toolkit's analysis package)."""
    path = Path(os.environ.get("NEUROMODELS_MAIN_PYTHON", REPO / ".venv" / "bin" / "python"))
    if not path.is_file():
        pytest.fail(f"the main environment's Python {path} is missing; run `make venv` (or set NEUROMODELS_MAIN_PYTHON)")
    return str(path)


def _brainscore():
    return pytest.importorskip("brainscore_vision", reason="run these tests in the Brain-Score environment: make test-brainscore")


@pytest.fixture(scope="session")
def main_env_python():
    return main_python()


@pytest.fixture(scope="session")
def session_tmp():
    return _SESSION_TMP


@pytest.fixture(scope="session")
def plugins(session_tmp):
    """Both models exported and installed in brainscore_vision/models/ under unique names.

    Yields {model_name: dict(identifier, folder, installed, model, config, region_layer_map, checkpoint)}.
    """
    _brainscore()
    import torch

    import neuromodels
    from neuromodels.brainscore import export_plugin
    from neuromodels.brainscore.testing import ensure_generic_test_images, installed_plugin

    ensure_generic_test_images()
    tag = uuid.uuid4().hex[:8]
    out, stack = {}, []
    try:
        for name, (config, mapping) in MODELS.items():
            torch.manual_seed(0)
            model = neuromodels.build_model(name, **config)
            for p in model.parameters():
                torch.nn.init.normal_(p, std=0.3)
            ckpt = session_tmp / f"{name}.pt"
            torch.save({"model": model.state_dict(), "model_name": name, "model_config": config}, ckpt)
            identifier = f"nmtest-{tag}-{name}"
            folder = session_tmp / "exports" / f"nmtest_{tag}_{name}"
            result = export_plugin(name, ckpt, identifier, folder, region_layer_map=mapping,
                                   image_size=IMAGE_SIZE, make_zip=True)
            ctx = installed_plugin(result.folder)
            installed = ctx.__enter__()
            stack.append(ctx)
            out[name] = dict(identifier=identifier, folder=result.folder, installed=installed, model=model.eval(),
                             config=config, region_layer_map=result.region_layer_map, checkpoint=ckpt,
                             result=result)
        yield out
    finally:
        for ctx in reversed(stack):
            ctx.__exit__(None, None, None)


@pytest.fixture(scope="session")
def fz_data(session_tmp):
    """A FreemanZiemba2013-shaped simulated recording + stimuli, made by the main environment."""
    folder = session_tmp / "fz"
    proc = subprocess.run([main_python(), str(Path(__file__).with_name("_make_data.py")), str(folder)],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    if proc.returncode != 0:
        pytest.fail(f"making the simulated recording failed:\n{proc.stderr[-3000:]}")
    return folder


def pytest_sessionfinish(session, exitstatus):
    import shutil

    shutil.rmtree(_SESSION_TMP, ignore_errors=True)
