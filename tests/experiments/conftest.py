"""One quick run of the whole reproduction suite per test session, shared by the tests that read it."""
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def quickstart_dir(tmp_path_factory) -> Path:
    """A finished ``quickstart --quick`` result folder.

    ``NEUROMODELS_RESULTS`` may point at an existing one (to iterate on the tests);
    otherwise the suite runs once, on CPU, into a temporary folder (about 10 minutes).
    """
    given = os.environ.get("NEUROMODELS_RESULTS")
    if given:
        return Path(given)
    from experiments.reproductions import run_reproduction

    out = tmp_path_factory.mktemp("quickstart")
    run_reproduction("quickstart", quick=True, device="cpu", out=out)
    return out
