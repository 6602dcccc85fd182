"""Dataset loaders: the registry (each loader handed its manifest) and real formats on planted files."""
import gzip
import struct
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from analysis import datasets
from analysis.datasets import DatasetError

REPO_MANIFESTS = Path(datasets.__file__).resolve().parents[2] / "data_manifests"


@pytest.fixture
def env(tmp_path, monkeypatch):
    manifests, data = tmp_path / "manifests", tmp_path / "data"
    manifests.mkdir()
    data.mkdir()
    monkeypatch.setenv("NEUROMODELS_MANIFESTS", str(manifests))
    monkeypatch.setenv("NEUROMODELS_DATA", str(data))
    return manifests, data


def _manifest(folder: Path, name: str, loader: str, loader_kwargs: str = "", files=("x",)):
    lines = [f"name: {name}", "description: made up", "citation: nobody", "license: CC0",
             "format: test", f"loader: {loader}", "source:", "  kind: local", "files:"]
    lines += [f"  - name: {f}\n    type: folder" for f in files]
    (folder / f"{name.lower()}.yaml").write_text("\n".join(lines) + "\n" + loader_kwargs)


# ------------------------------------------------------------------ the registry
@pytest.mark.parametrize("manifest", sorted(REPO_MANIFESTS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_manifest_loads_through_the_registry_or_names_its_folder(env, manifest):
    """With no data present, each registered loader is reached and fails naming the dataset folder."""
    m = datasets.read_manifest(manifest)
    assert m.loader in datasets.LOADERS
    with pytest.raises(OSError) as err:  # DatasetError is an OSError
        datasets.load(m.name)
    assert str(env[1] / m.name) in str(err.value)


def test_register_loader_refuses_a_second_loader_under_one_name():
    with pytest.raises(ValueError, match="already registered"):
        datasets.register_loader("image_folder")(lambda manifest: None)


def test_unknown_loader_names_the_manifest(env):
    _manifest(env[0], "Odd", "no_such_loader")
    with pytest.raises(DatasetError, match="unknown loader 'no_such_loader' in .*odd.yaml"):
        datasets.load("Odd")


def test_a_new_manifest_with_a_generic_loader_reads_its_own_files(env, tmp_path):
    """image_folder used to read ImageNet's folder whatever manifest called it."""
    manifests, data = env
    rng = np.random.default_rng(0)
    for cls in ("faces", "houses"):
        (data / "MyImages" / "train" / cls).mkdir(parents=True)
        for i in range(2):
            _png(data / "MyImages" / "train" / cls / f"{i}.png", rng.integers(0, 256, (8, 8), dtype=np.uint8))
    _manifest(manifests, "MyImages", "image_folder", "loader_kwargs:\n  root: train\n")
    s = datasets.load("MyImages")
    assert sorted(set(s.metadata("image_label"))) == ["faces", "houses"] and len(s) == 4
    assert all(str(data / "MyImages" / "train") in p for p in s.table["path"])
    with pytest.raises(DatasetError, match="would leave the dataset folder"):
        datasets.load("MyImages", root="../ImageNet")
    textures = datasets.load("MyImages", root="train", max_per_class=1)
    assert len(textures) == 2


def _write_idx(path, array, code):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


def test_mnist_loader_reads_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 5, dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, 0x08)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, 0x08)
    x, y = datasets.load_mnist(tmp_path, split="test")
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    floats = rng.standard_normal((3, 2)).astype(np.float32)
    _write_idx(tmp_path / "f.idx.gz", floats, 0x0D)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "f.idx.gz"), floats)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz is missing"):
        datasets.load_mnist(tmp_path, split="train")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x01\x02\x03\x04"))
    with pytest.raises(DatasetError, match="bad magic"):
        datasets.read_idx(tmp_path / "bad.gz")


def _png(path, array):
    from skimage.io import imsave

    imsave(path, array, check_contrast=False)


def test_image_folder_loader(tmp_path):
    from analysis.images import resize_square

    rng = np.random.default_rng(0)
    written = {}
    for cls in ("n01", "n02"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            img = rng.integers(0, 256, (20, 30), dtype=np.uint8)
            _png(tmp_path / cls / f"{i}.png", img)
            written[f"{cls}/{i}.png"] = img
    s = datasets.load_image_folder(tmp_path, size=16)
    assert len(s) == 6 and list(s.metadata("image_label")) == ["n01"] * 3 + ["n02"] * 3
    for sid, img in zip(s.stimulus_ids, s.load_images()):
        np.testing.assert_allclose(img[0], resize_square(written[sid] / 255.0, 16), atol=1e-6)
    few = datasets.load_texture_folder(tmp_path, max_per_class=2)
    assert len(few) == 4 and set(few.metadata("texture_family")) == {"n01", "n02"}
    assert few.images is None and few.load_images().shape == (4, 1, 20, 30)


def _brainio_files(folder, n_stim=4, n_rep=2, n_neuroid=3, n_bins=250, regions=("V1", "V2", "V2"),
                   assembly="assy_movshon_FreemanZiemba2013_public.nc",
                   stimuli="image_movshon_FreemanZiemba2013-public", bin_ms=1):
    """Files in the formats Brain-Score stores its recordings in (BrainIO): assembly + CSV + zip."""
    rng = np.random.default_rng(1)
    ids = [f"img{i:02d}" for i in range(n_stim)]
    values = rng.poisson(0.05, (n_stim * n_rep, n_neuroid, n_bins)).astype(float)
    da = xr.DataArray(values, dims=("presentation", "neuroid", "time_bin"), coords={
        "image_id": ("presentation", np.repeat(ids, n_rep)),
        "repetition": ("presentation", np.tile(np.arange(n_rep), n_stim)),
        "texture_family": ("presentation", np.repeat(["a", "b"] * (n_stim // 2), n_rep)),
        "texture_type": ("presentation", np.repeat(["texture", "noise"] * (n_stim // 2), n_rep)),
        "neuroid_id": ("neuroid", [f"u{j}" for j in range(n_neuroid)]),
        "region": ("neuroid", list(regions)[:n_neuroid]),
        "time_bin_start": ("time_bin", np.arange(n_bins) * bin_ms),
        "time_bin_end": ("time_bin", (np.arange(n_bins) + 1) * bin_ms),
    })
    da.to_netcdf(folder / assembly)  # unnamed variable
    table = pd.DataFrame({"image_id": ids, "texture_family": ["a", "b"] * (n_stim // 2),
                          "filename": [f"{i}.png" for i in ids]})
    table.to_csv(folder / f"{stimuli}.csv", index=False)
    imgs = rng.integers(0, 256, (n_stim, 12, 12), dtype=np.uint8)
    with zipfile.ZipFile(folder / f"{stimuli}.zip", "w") as zf:
        for i, img in zip(ids, imgs):
            _png(folder / f"{i}.png", img)
            zf.write(folder / f"{i}.png", arcname=f"{i}.png")
            (folder / f"{i}.png").unlink()
    return values, imgs


def test_freemanziemba_loader_averages_50_to_200_ms(tmp_path):
    values, imgs = _brainio_files(tmp_path)
    asm, stimuli = datasets.load_freemanziemba2013(folder=tmp_path)
    np.testing.assert_allclose(asm.values, values[:, :, 50:200].mean(-1))
    assert asm.dims == ("presentation", "neuroid")
    assert list(asm["stimulus_id"].values[:3]) == ["img00", "img00", "img01"]
    assert asm.attrs["simulated"] == 0 and asm.attrs["time_window_ms"] == [50, 200]
    v2, _ = datasets.load_freemanziemba2013("V2", folder=tmp_path)
    assert list(v2["neuroid_id"].values) == ["u1", "u2"]
    assert stimuli.visual_degrees == 4.0 and list(stimuli.stimulus_ids) == ["img00", "img01",
                                                                            "img02", "img03"]
    np.testing.assert_allclose(stimuli.load_images()[:, 0], imgs / 255.0, atol=1e-6)


def test_model_vs_human_loader(tmp_path):
    d = tmp_path / "raw-data" / "cue-conflict"
    d.mkdir(parents=True)
    (d / "cue-conflict_subject-01_session_1.csv").write_text(
        "subj,session,trial,rt,object_response,category,condition,imagename\n"
        "subject-01,1,1,0.8,cat,cat,0,0001_cl_s01_0_cat_00_cat1-dog2.png\n"
        "subject-01,1,2,0.7,dog,bear,0,0002_cl_s01_0_bear_00_bear1-dog3.png\n")
    df = datasets.load_model_vs_human("cue-conflict", folder=tmp_path)
    assert list(df["correct"]) == [True, False] and set(df["experiment"]) == {"cue-conflict"}
    with pytest.raises(DatasetError, match="available: \\['cue-conflict'\\]"):
        datasets.load_model_vs_human("sketch", folder=tmp_path)


def test_majajhong_through_its_manifest_averages_70_to_170_ms(env):
    folder = env[1] / "MajajHong2015"
    folder.mkdir()
    values, imgs = _brainio_files(folder, n_neuroid=4, regions=("V4", "IT", "IT", "V4"), n_bins=20,
                                  bin_ms=10, assembly="assy_dicarlo_MajajHong2015_public.nc",
                                  stimuli="image_dicarlo_hvm-public")
    asm, stimuli = datasets.load("MajajHong2015")  # bins of 10 ms: 70-80 ... 160-170 are bins 7..16
    np.testing.assert_allclose(asm.values, values[:, :, 7:17].mean(-1))
    assert asm.attrs["source"] == "MajajHong2015.public" and stimuli.visual_degrees == 8.0
    it, _ = datasets.load("MajajHong2015", region="IT")
    assert list(it["neuroid_id"].values) == ["u1", "u2"]
    with pytest.raises(ValueError, match=r"region 'V1' is not in .*regions present: \['IT', 'V4'\]"):
        datasets.load("MajajHong2015", region="V1")
    np.testing.assert_allclose(stimuli.load_images()[:, 0], imgs / 255.0, atol=1e-6)


def test_a_new_brainscore_manifest_with_the_generic_loader(env):
    manifests, data = env
    (data / "MyRecordings").mkdir()
    values, _ = _brainio_files(data / "MyRecordings", n_bins=10, assembly="assy_lab_mine.nc",
                               stimuli="image_lab_mine")
    _manifest(manifests, "MyRecordings", "brainscore",
              "loader_kwargs:\n  assembly: assy_lab_mine.nc\n  stimuli: image_lab_mine\n"
              "  visual_degrees: 2.5\n  time_window: [2, 6]\n")
    asm, stimuli = datasets.load("MyRecordings")
    np.testing.assert_allclose(asm.values, values[:, :, 2:6].mean(-1))
    assert asm.attrs["source"] == "MyRecordings" and stimuli.visual_degrees == 2.5
    assert set(asm["stimulus_id"].values) == set(stimuli.stimulus_ids)
    with pytest.raises(DatasetError, match="would leave the dataset folder"):
        datasets.load("MyRecordings", assembly="../secret.nc")


def test_model_vs_human_images_and_trials_through_the_manifest(env, tmp_path):
    """The dataset's own layout: datasets/<dataset>/dnn/session-1/<..>_<condition>_<category>_<..>.png."""
    manifests, data = env
    clone = tmp_path / "model-vs-human"
    session = clone / "datasets" / "contrast" / "dnn" / "session-1"
    session.mkdir(parents=True)
    names = ["0001_cop_s01_c30_knife_10_n03041632_7380.png", "0002_cop_s01_c05_bear_10_n02132136_1.png"]
    rng = np.random.default_rng(3)
    for n in names:
        _png(session / n, rng.integers(0, 256, (10, 10, 3), dtype=np.uint8))
    raw = clone / "raw-data" / "contrast"
    raw.mkdir(parents=True)
    (raw / "contrast_subject-01_session_1.csv").write_text(
        "subj,Session,trial,rt,object_response,category,condition,imagename\n"
        f"subject-01,1,1,0.9,knife,knife,c30,{names[0]}\nsubject-01,1,2,0.8,dog,bear,c05,{names[1]}\n")
    (manifests / "model_vs_human.yaml").write_text(
        (REPO_MANIFESTS / "model_vs_human.yaml").read_text().replace("local_path: null", f"local_path: {clone}"))
    stimuli = datasets.load("model-vs-human", images="contrast")
    assert list(stimuli.stimulus_ids) == names
    assert stimuli.table[["condition", "category"]].values.tolist() == [["c30", "knife"], ["c05", "bear"]]
    assert stimuli.load_images().shape == (2, 3, 10, 10)
    trials = datasets.load("model-vs-human", experiment="contrast")
    assert list(trials["imagename"]) == names and list(trials["correct"]) == [True, False]
    with pytest.raises(DatasetError, match=r"datasets present: \['contrast'\]"):
        datasets.load("model-vs-human", images="sketch")


def test_truncated_brainscore_files_are_dataset_errors_naming_them(tmp_path):
    """The reproductions fall back to simulated data on DatasetError; a cut download must be one."""
    _brainio_files(tmp_path, n_bins=10)
    nc = tmp_path / "assy_movshon_FreemanZiemba2013_public.nc"
    nc.write_bytes(nc.read_bytes()[:200])
    with pytest.raises(DatasetError, match=f"{nc} is not a readable netCDF assembly"):
        datasets.load_freemanziemba2013(folder=tmp_path)
    _brainio_files(tmp_path, n_bins=10)
    zp = tmp_path / "image_movshon_FreemanZiemba2013-public.zip"
    zp.write_bytes(zp.read_bytes()[:30])
    with pytest.raises(DatasetError, match=f"{zp} is not a readable zip file"):
        datasets.load_freemanziemba2013(folder=tmp_path, time_window=(0, 10))


def test_missing_freemanziemba_is_an_oserror_naming_the_file(tmp_path):
    """Callers that fall back to simulated data catch OSError (DatasetError is one)."""
    with pytest.raises(OSError, match="assy_movshon_FreemanZiemba2013_public.nc"):
        datasets.load_freeman_ziemba2013(folder=tmp_path)
