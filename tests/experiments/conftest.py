"""One quick run of the whole reproduction suite per test session, shared by the tests that read it."""
import os
from pathlib import Path

import pytest

#: the one quick run of the whole suite takes ~3.5 min on 2 free cores (more when the machine is
#: shared); the test that first asks for it pays for it in its setup, so it gets a longer limit
QUICKSTART_TIMEOUT_S = 1800


def pytest_collection_modifyitems(items):
    for item in items:
        if "quickstart_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(QUICKSTART_TIMEOUT_S))


@pytest.fixture(scope="session")
def quickstart_dir(tmp_path_factory) -> Path:
    """A finished ``quickstart --quick`` result folder.

    ``NEUROMODELS_RESULTS`` may point at an existing one (to iterate on the tests);
    otherwise the suite runs once, on CPU, into a temporary folder (about 3.5 minutes on 2 free cores).
    """
    given = os.environ.get("NEUROMODELS_RESULTS")
    if given:
        return Path(given)
    from experiments.reproductions import run_reproduction

    out = tmp_path_factory.mktemp("quickstart")
    run_reproduction("quickstart", quick=True, device="cpu", out=out)
    return out
