"""Run Brain-Score's own tests on an exported plugin, offline (Brain-Score environment only).

Brain-Score's generic plugin tests
(``brainscore_vision/model_helpers/generic_plugin_tests.py``) load three images from
``model_helpers/generic_plugin_tests_resources/`` that the brainscore-vision 2.4.2
wheel does not ship; :func:`ensure_generic_test_images` writes small stand-ins.
Brain-Score imports plugins only from its own ``brainscore_vision/models/`` folder,
so :func:`installed_plugin` copies a plugin folder there for the duration of a
``with`` block. :func:`run_generic_plugin_tests` and :func:`run_plugin_tests` run the
two test files in a subprocess with ``BS_INSTALL_DEPENDENCIES=no``.

Examples
--------
>>> from neuromodels.brainscore.testing import installed_plugin, run_generic_plugin_tests  # doctest: +SKIP
>>> with installed_plugin("plugins/lcl_v2_demo") as plugin_dir:  # doctest: +SKIP
...     result = run_generic_plugin_tests(plugin_dir)
...     result.returncode
0
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from neurocommon.files import atomic_path

__all__ = [
    "GENERIC_TEST_IMAGES",
    "brainscore_vision_root",
    "ensure_generic_test_images",
    "installed_plugin",
    "run_generic_plugin_tests",
    "run_plugin_tests",
    "run_all_plugin_tests",
]

#: the files Brain-Score's generic plugin tests read (absent from the 2.4.2 wheel)
GENERIC_TEST_IMAGES = ("rgb1.jpg", "rgb2.jpg", "rgb3.png")


def brainscore_vision_root() -> Path:
    """Folder of the installed ``brainscore_vision`` package (needs the Brain-Score environment)."""
    try:
        import brainscore_vision
    except ImportError as err:
        raise ImportError(
            "brainscore_vision is not installed in this interpreter; run this in the Brain-Score "
            "environment (make brainscore-env; .venv-brainscore/bin/python)"
        ) from err
    return Path(brainscore_vision.__file__).resolve().parent


def ensure_generic_test_images(size: int = 64) -> list[Path]:
    """Write ``rgb1.jpg``, ``rgb2.jpg``, ``rgb3.png`` for the generic plugin tests if missing.

    Small deterministic RGB images (a colour ramp, a checkerboard and a seeded
    noise field) of ``size`` × ``size`` pixels; existing files are left alone.
    Returns the three paths.
    """
    import numpy as np
    from PIL import Image

    folder = brainscore_vision_root() / "model_helpers" / "generic_plugin_tests_resources"
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    ramp = np.stack([xx, yy, 1 - xx], axis=-1)
    checker = ((np.floor(xx * 8) + np.floor(yy * 8)) % 2)[..., None] * np.array([0.9, 0.3, 0.1]) + 0.05
    noise = np.random.default_rng(0).random((size, size, 3))
    paths = []
    for name, img in zip(GENERIC_TEST_IMAGES, (ramp, checker, noise)):
        path = folder / name
        if not path.is_file():
            with atomic_path(path, fsync=False, suffix=Path(name).suffix) as tmp:
                Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)).save(tmp)
        paths.append(path)
    return paths


@contextlib.contextmanager
def installed_plugin(folder, name: str | None = None):
    """Copy a plugin folder into ``brainscore_vision/models/`` for a ``with`` block; yield its path there.

    The copy is removed on exit. Refuses to overwrite an existing plugin of that name.
    """
    folder = Path(folder)
    target = brainscore_vision_root() / "models" / (name or folder.name)
    if target.exists():
        raise FileExistsError(f"{target} already exists in Brain-Score's models folder; choose another name")
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__"))
    try:
        yield target
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _env(extra=None) -> dict:
    env = {**os.environ, "BS_INSTALL_DEPENDENCIES": "no", "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra or {})
    return env


def _pytest(args, cwd, env, timeout) -> subprocess.CompletedProcess:
    # an empty ini file in ``cwd`` keeps pytest from adopting the toolkit's setup.cfg
    ini = Path(cwd) / "pytest.ini"
    if not ini.exists():
        ini.write_text("[pytest]\nmarkers =\n    memory_intense\n    private_access\n    slow\n    travis_slow\n")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ini),
           "--rootdir", str(cwd), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def run_generic_plugin_tests(plugin_dir, env=None, timeout: float = 900) -> subprocess.CompletedProcess:
    """``pytest -m "not slow" generic_plugin_tests.py --plugin_directory DIR`` in a subprocess.

    ``plugin_dir`` must lie in ``brainscore_vision/models/`` (see :func:`installed_plugin`).
    """
    ensure_generic_test_images()
    tests = brainscore_vision_root() / "model_helpers" / "generic_plugin_tests.py"
    with tempfile.TemporaryDirectory() as cwd:
        return _pytest(["-m", "not slow", str(tests), "--plugin_directory", str(plugin_dir)], cwd,
                       _env(env), timeout)


def run_plugin_tests(plugin_dir, env=None, timeout: float = 900) -> subprocess.CompletedProcess:
    """The plugin's own ``test.py`` in a subprocess (as Brain-Score runs it)."""
    with tempfile.TemporaryDirectory() as cwd:
        return _pytest([str(Path(plugin_dir) / "test.py")], cwd, _env(env), timeout)


def run_all_plugin_tests(plugin_dir, env=None, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Brain-Score's generic plugin tests and the plugin's ``test.py`` in one pytest subprocess.

    Same tests as :func:`run_generic_plugin_tests` followed by :func:`run_plugin_tests`,
    paying Brain-Score's start-up (tens of seconds) once.
    """
    ensure_generic_test_images()
    tests = brainscore_vision_root() / "model_helpers" / "generic_plugin_tests.py"
    with tempfile.TemporaryDirectory() as cwd:
        return _pytest(["-m", "not slow", str(tests), str(Path(plugin_dir) / "test.py"),
                        "--plugin_directory", str(plugin_dir)], cwd, _env(env), timeout)
