"""The notebooks execute on a quick result folder, and their live recomputations match it.

Each notebook's last cell asserts a relation against something independent of the
notebook's own code path: the saved numbers of the run (the live recomputation with the
public API must give them) or a known answer (tour: capacity of random points α = 2, a
planted ground truth near its ceiling; flows: JᵀJ = (Σ + 2α_J I)⁻¹). Here the test
checks that every cell ran without an error, that the notebook read the fixture's
folder (it did not fall back to running a reproduction), and that the last cell's
checks were reached.

The ``quickstart_dir`` fixture (tests/experiments/conftest.py) runs the quick suite
once per session, or takes ``$NEUROMODELS_RESULTS``.
"""
import json
from pathlib import Path

import numpy as np
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PARTS = ["texture_model", "lcl_v2", "manifolds", "flows"]
LAST_LINE = {
    "tour": "all tour checks passed",
    "texture_model": "live modulation indices and data-efficiency curves match the saved run",
    "lcl_v2": "live by-stage modulation and capacity match the saved run",
    "manifolds": "live capacity, radius and dimension match geometry.csv",
    "flows": "linear theory reproduced; S-curve components tangent",
    "claims": "live per-seed numbers, interval and verdict match the report's claims table",
}

# jupyter_client / nbclient deprecations we do not control, seen under filterwarnings=error:
# - jupyter_core warns on import that it is migrating to platformdirs paths (also in setup.cfg);
# - jupyter_client's session uses datetime.utcnow() (DeprecationWarning under Python 3.12+).
def notebook_warnings(test):
    test = pytest.mark.filterwarnings("ignore:Jupyter is migrating its paths:DeprecationWarning")(test)
    return pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning:jupyter_client.*")(test)


def _execute(name: str, results: Path, monkeypatch):
    """Run ``notebooks/<name>.ipynb`` in a python3 kernel with ``NEUROMODELS_RESULTS=results``."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("NEUROMODELS_RESULTS", str(results))  # the kernel inherits this process's env
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(book, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return book


def _outputs(book) -> list:
    return [o for c in book.cells if c.cell_type == "code" for o in c.outputs]


def _stdout(book) -> str:
    return "".join(o.get("text", "") for o in _outputs(book) if o.output_type == "stream" and o.name == "stdout")


# ----------------------------------------------------------------------------- committed form
@pytest.mark.parametrize("name", ["tour", *PARTS, "claims"])
def test_notebook_is_committed_without_outputs(name):
    book = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    code = [c for c in book["cells"] if c["cell_type"] == "code"]
    assert code, name
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code), name
    assert book["cells"][0]["cell_type"] == "markdown"
    intro = "".join(book["cells"][0]["source"]).lower()
    assert "simulated" in intro and "real" in intro  # says what is real and what is simulated
    assert "assert" in "".join(code[-1]["source"])  # the last cell checks something


# ------------------------------------------------------------------------------- execution
@pytest.mark.slow
@notebook_warnings
@pytest.mark.parametrize("name", PARTS)
def test_part_notebook_executes_and_matches_saved_results(name, quickstart_dir, monkeypatch):
    book = _execute(name, Path(quickstart_dir), monkeypatch)
    assert not [o for o in _outputs(book) if o.output_type == "error"]
    out = _stdout(book)
    expected = Path(quickstart_dir).resolve() / name
    assert f"reading the finished {name} run in" in out, out[:2000]
    assert "running the quick reproduction" not in out
    assert str(expected) in out or str(Path(quickstart_dir)) in out
    assert LAST_LINE[name] in out.splitlines()[-1] or LAST_LINE[name] in out


@pytest.mark.slow
@notebook_warnings
def test_claims_notebook_recomputes_one_claim_from_the_saved_run(quickstart_dir, monkeypatch):
    # the last cell asserts that the live per-seed values, interval and verdict equal the saved claims record
    book = _execute("claims", Path(quickstart_dir), monkeypatch)
    assert not [o for o in _outputs(book) if o.output_type == "error"]
    out = _stdout(book)
    assert "reading the finished texture_model run in" in out and "running the quick reproduction" not in out
    assert LAST_LINE["claims"] in out


@pytest.mark.slow
@notebook_warnings
def test_tour_executes_without_any_result_folder(tmp_path, monkeypatch):
    missing = tmp_path / "no_results_here"
    book = _execute("tour", missing, monkeypatch)
    assert not [o for o in _outputs(book) if o.output_type == "error"]
    assert LAST_LINE["tour"] in _stdout(book)
    assert not missing.exists()  # the tour neither read nor wrote a result folder
    assert any("image/png" in o.get("data", {}) for o in _outputs(book))  # figures are displayed


# ----------------------------------------------------------------------------- the helpers
def _fake_finished_run(folder: Path, part: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "provenance_run.json").write_text(json.dumps({"reproduction": part}))
    (folder / "report.md").write_text("# report\n")
    (folder / "config.json").write_text(json.dumps({"seed": 3}))
    return folder


def test_find_results_prefers_the_quickstart_part_then_a_single_run(tmp_path, monkeypatch):
    from experiments.results import find_results

    _fake_finished_run(tmp_path / "qs" / "flows", "flows")
    assert find_results("flows", root=tmp_path / "qs", run_if_missing=False) == tmp_path / "qs" / "flows"
    single = _fake_finished_run(tmp_path / "single", "lcl_v2")
    monkeypatch.setenv("NEUROMODELS_RESULTS", str(single))
    assert find_results("lcl_v2", run_if_missing=False) == single
    # a folder holding another reproduction is not taken for this one
    with pytest.raises(FileNotFoundError, match="NEUROMODELS_RESULTS"):
        find_results("texture_model", run_if_missing=False)


def test_find_results_rejects_unfinished_runs_and_unknown_parts(tmp_path):
    from experiments.results import find_results

    unfinished = tmp_path / "qs" / "manifolds"
    (unfinished / "stages").mkdir(parents=True)  # stages but no provenance_run.json / report.md
    with pytest.raises(FileNotFoundError, match="no finished 'manifolds' run"):
        find_results("manifolds", root=tmp_path / "qs", run_if_missing=False)
    with pytest.raises(ValueError, match="unknown reproduction 'textures'"):
        find_results("textures", root=tmp_path, run_if_missing=False)


def test_load_activations_rebuilds_paths_inside_a_moved_folder(tmp_path):
    from analysis.assemblies import make_assembly, save
    from experiments.results import load_activations, load_stage

    folder = tmp_path / "moved"
    values = np.arange(12.0).reshape(4, 3)
    asm = make_assembly(values, stimulus_id=[f"s{i}" for i in range(4)], neuroid_coords={"layer": ["a"] * 3})
    save(asm, folder / "activations" / "net" / "stages.1.nc")
    save(asm * 2, folder / "activations" / "net" / "stages.0.nc")
    # the record names absolute paths of the folder where the run was made, not this one
    index = {"net": {"stages.1": "/elsewhere/activations/net/stages.1.nc",
                     "stages.0": "/elsewhere/activations/net/stages.0.nc"}}
    (folder / "stages").mkdir()
    (folder / "stages" / "activations.json").write_text(json.dumps({"activations": index}))
    acts = load_activations(folder)
    assert list(acts["net"]) == ["stages.1", "stages.0"]  # the run's layer order, kept
    np.testing.assert_array_equal(acts["net"]["stages.1"].values, values)
    np.testing.assert_array_equal(acts["net"]["stages.0"].values, 2 * values)
    with pytest.raises(FileNotFoundError, match="stages present: \\['activations'\\]"):
        load_stage(folder, "geometry")


def test_display_figure_shows_a_png_and_closes_the_figure(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython import display as ipd

    from experiments import results as notebook_results

    shown = []
    monkeypatch.setattr(ipd, "display", lambda obj: shown.append(obj))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    notebook_results.display_figure(fig)
    assert len(shown) == 1 and shown[0].data[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
