"""Real data end to end: Brain-Score-shaped FreemanZiemba2013 and MajajHong2015 files in a
temporary NEUROMODELS_DATA folder drive the quick ``texture_model`` and ``manifolds`` runs.

The files are made here in Brain-Score's (BrainIO) layout: an assembly netCDF with
1-ms time bins (presentation × neuroid × time_bin, ``time_bin_start``/``time_bin_end``)
and a stimulus set as CSV + zip of PNG images. Responses are planted (each unit a
random linear function of a few image statistics, plus trial noise) so that ceilings
and scores are defined; the test checks where the data came from, not how good the
models are.
"""
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

BINS = np.arange(0, 250)  # 1-ms bins, as Brain-Score's FreemanZiemba2013 and MajajHong2015 files


def _image_features(images: np.ndarray) -> np.ndarray:
    """A few statistics per image that the planted units respond to."""
    gx, gy = np.abs(np.diff(images, axis=2)).mean((1, 2)), np.abs(np.diff(images, axis=1)).mean((1, 2))
    return np.stack([images.mean((1, 2)), images.std((1, 2)), gx, gy], axis=1)


def _write_brainscore(folder: Path, assembly_name: str, stimuli_name: str, table: pd.DataFrame,
                      images: np.ndarray, regions: dict, reps: int, seed: int, legacy_columns: bool):
    """Write ``assembly_name`` (netCDF, time bins) and ``stimuli_name``.csv/.zip into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files = [f"{sid}.png" for sid in table["stimulus_id"]]
    from PIL import Image

    with zipfile.ZipFile(folder / f"{stimuli_name}.zip", "w") as zf:
        for name, img in zip(files, images):
            buf = io.BytesIO()
            Image.fromarray((img * 255).round().astype(np.uint8)).save(buf, format="PNG")
            zf.writestr(f"{stimuli_name}/{name}", buf.getvalue())
    csv = table.assign(filename=files)
    if legacy_columns:  # older BrainIO files name the columns image_id / image_file_name
        csv = csv.rename(columns={"stimulus_id": "image_id", "filename": "image_file_name"})
    csv.to_csv(folder / f"{stimuli_name}.csv", index=False)

    feats = _image_features(images)
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    n_units = sum(regions.values())
    weights = rng.normal(size=(feats.shape[1], n_units))
    rates = 10 + 4 * feats @ weights                          # (stimuli, units), spikes/s
    n, t = len(table), len(BINS)
    onset = ((BINS >= 50) & (BINS < 200)).astype(float)       # responses inside 50-200 ms only
    trials = rates[None] + rng.normal(scale=2.0, size=(reps, n, n_units))
    values = trials[..., None] * onset + rng.normal(scale=0.5, size=(reps, n, n_units, t))
    values = values.reshape(reps * n, n_units, t).astype(np.float32)
    pres = {c: ("presentation", np.tile(table[c].to_numpy(), reps)) for c in table.columns if c != "stimulus_id"}
    ids = np.tile(table["stimulus_id"].to_numpy(), reps)
    pres["image_id" if legacy_columns else "stimulus_id"] = ("presentation", ids)
    pres["repetition"] = ("presentation", np.repeat(np.arange(reps), n))
    region = np.concatenate([[r] * k for r, k in regions.items()])
    da = xr.DataArray(values, dims=("presentation", "neuroid", "time_bin"), coords={
        **pres, "neuroid_id": ("neuroid", [f"u{i}" for i in range(n_units)]), "region": ("neuroid", region),
        "time_bin_start": ("time_bin", BINS), "time_bin_end": ("time_bin", BINS + 1)}, name="spike_rate")
    da.to_netcdf(folder / assembly_name, engine="h5netcdf")


def _texture_images(rng, families=4, samples=4, size=32):
    rows, images = [], []
    for f in range(families):
        base = rng.random((size // 4, size // 4))  # each family: its own blocky pattern
        for kind in ("texture", "noise"):
            for s in range(samples):
                crop = np.kron(np.roll(base, s, axis=1), np.ones((4, 4)))
                img = crop if kind == "texture" else np.clip(crop + rng.normal(0, 0.2, crop.shape), 0, 1)
                images.append(img)
                rows.append({"stimulus_id": f"fz{f}{kind[0]}{s}", "texture_family": 60 + f,
                             "texture_type": kind, "sample": s})
    return pd.DataFrame(rows), np.stack(images)


def _object_images(rng, categories=("Animals", "Cars", "Faces"), per=5, size=32):
    rows, images = [], []
    yy, xx = np.mgrid[:size, :size] / size
    for c, cat in enumerate(categories):
        for i in range(per):
            img = 0.5 + 0.4 * np.sin(2 * np.pi * ((c + 1) * xx + i * 0.3 * yy)) * rng.uniform(0.5, 1)
            images.append(np.clip(img, 0, 1))
            rows.append({"stimulus_id": f"hvm_{cat}_{i}", "category_name": cat, "object_name": f"{cat}{i % 2}"})
    return pd.DataFrame(rows), np.stack(images)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("neuromodels_data")
    rng = np.random.default_rng(0)
    table, images = _texture_images(rng)
    _write_brainscore(root / "FreemanZiemba2013", "assy_movshon_FreemanZiemba2013_public.nc",
                      "image_movshon_FreemanZiemba2013-public", table, images, {"V1": 4, "V2": 4}, reps=6,
                      seed=1, legacy_columns=False)
    table, images = _object_images(rng)
    _write_brainscore(root / "MajajHong2015", "assy_dicarlo_MajajHong2015_public.nc",
                      "image_dicarlo_hvm-public", table, images, {"V4": 5, "IT": 5}, reps=4, seed=2,
                      legacy_columns=True)
    return root


def _headline_rows(report: str) -> list[list[str]]:
    table = report.split("## Headline numbers", 1)[1].split("\n\n")[1]
    return [[c.strip() for c in r.strip("|").split("|")] for r in table.splitlines()[2:] if r.startswith("|")]


def test_the_loaders_read_the_fixture_files(data_root, monkeypatch):
    """The fixture is in the layout the dataset loaders expect (time bins averaged 50-200 ms)."""
    monkeypatch.setenv("NEUROMODELS_DATA", str(data_root))
    from experiments.reproductions.stages import load_real_dataset

    recording, stimuli = load_real_dataset("FreemanZiemba2013", log=lambda *_: None)
    assert recording.attrs["source"] == "FreemanZiemba2013" and len(stimuli) == 32
    assert set(recording["stimulus_id"].values) == set(stimuli.stimulus_ids)
    assert 8 < float(recording.mean()) < 12  # the planted rate, not diluted by silent bins
    assert load_real_dataset("MajajHong2015", log=lambda *_: None)[1].table["category_name"].nunique() == 3
    monkeypatch.setenv("NEUROMODELS_DATA", str(data_root / "nothing"))
    assert load_real_dataset("FreemanZiemba2013", log=lambda *_: None) is None
    with pytest.raises(ValueError, match="unknown dataset"):
        load_real_dataset("Freeman", log=lambda *_: None)


@pytest.mark.parametrize("layout", ["DTD", "folder of families", "folder of images"])
def test_texture_sources_from_a_config(tmp_path, monkeypatch, layout):
    """``stimuli.sources``: DTD (through its manifest), a folder of family sub-folders, a flat folder."""
    from PIL import Image

    from analysis.texture_stimuli import texture_stimulus_set
    from experiments.reproductions.stages import texture_sources

    rng = np.random.default_rng(3)
    root = {"DTD": tmp_path / "DTD" / "dtd" / "images"}.get(layout, tmp_path / "textures")
    for family in ("banded", "dotted"):
        if layout == "folder of images":
            root.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (80, 90, 3), dtype=np.uint8)).save(root / f"{family}.png")
            continue
        (root / family).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (80, 90, 3), dtype=np.uint8)).save(root / family / f"{i}.jpg")
    monkeypatch.setenv("NEUROMODELS_DATA", str(tmp_path))
    sources, label = texture_sources("DTD" if layout == "DTD" else str(root), size=32)
    assert label == ("DTD" if layout == "DTD" else f"textures from {root}")
    stim = texture_stimulus_set(sources, samples_per_family=2, size=32, progress=False)
    assert sorted(stim.table["texture_family"].unique()) == ["banded", "dotted"]
    assert texture_sources("bundled", 32) == (None, "bundled textures")


@pytest.mark.slow
def test_texture_model_runs_on_freeman_ziemba_files(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROMODELS_DATA", str(data_root))
    from experiments.reproductions import run_reproduction

    out = tmp_path / "texture_model"
    run_reproduction("texture_model", quick=True, device="cpu", out=out, overrides=[
        "seeds=[0]", "train.overrides=[schedule.steps=3]", "stimuli.size=32",
        "analysis.n_train=[1,2]", "analysis.n_draws=2", "analysis.n_splits=2"])
    report = (out / "report.md").read_text()
    rows = _headline_rows(report)
    assert rows and all(r[2] == "FreemanZiemba2013" for r in rows), rows
    assert "**Simulated data.**" not in report and "simulated" not in " ".join(r[2] for r in rows)
    # every analysed assembly is on the dataset's own stimuli
    real_ids = set(pd.read_csv(data_root / "FreemanZiemba2013" / "image_movshon_FreemanZiemba2013-public.csv")
                   ["stimulus_id"])
    from analysis.assemblies import load

    for path in (out / "activations").rglob("*.nc"):
        assert set(load(path)["stimulus_id"].values) == real_ids, path
    metrics = pd.read_csv(out / "metrics.csv")
    assert {"predictivity", "ceiled_predictivity", "rsa_spearman", "modulation_index"} <= set(metrics["metric"])
    assert set(metrics.loc[metrics["metric"] == "ceiling", "source"]) == {"FreemanZiemba2013"}


@pytest.mark.slow
def test_manifolds_scores_freeman_ziemba_and_majaj_hong(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROMODELS_DATA", str(data_root))
    from experiments.reproductions import run_reproduction

    out = tmp_path / "manifolds"
    run_reproduction("manifolds", quick=True, device="cpu", out=out, overrides=[
        "train.lcl_v2.overrides=[schedule.steps=2]", "train.texture_model.overrides=[schedule.steps=2]",
        "stimuli.size=32", "object_recordings.image_size=32", "analysis.n_t=20"])
    report = (out / "report.md").read_text()
    rows = _headline_rows(report)
    assert {r[2] for r in rows} == {"FreemanZiemba2013", "MajajHong2015"}, rows
    assert "**Simulated data.**" not in report
    objects = pd.read_csv(out / "object_geometry.csv")
    assert {"recording (MajajHong2015)", "resnet50", "texture_model"} <= set(objects["model"])
    assert set(objects.loc[objects["model"] == "recording (MajajHong2015)", "layer"]) == {"V4", "IT"}
    assert (objects["capacity"] > 0).all()
    geometry = pd.read_csv(out / "geometry.csv")
    assert set(geometry["source"]) == {"FreemanZiemba2013"}
    assert set(geometry.loc[geometry["model"].str.startswith("recording"), "layer"]) == {"V1", "V2"}
