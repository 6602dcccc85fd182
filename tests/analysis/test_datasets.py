"""Data manifests: schema, fetching with hash checks (file:// and failing HTTP), loaders."""
import gzip
import hashlib
import socket
import struct
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from analysis import datasets
from analysis.datasets import DatasetError, fetch, get_manifest, read_manifest, verify

REPO_MANIFESTS = Path(datasets.__file__).resolve().parents[2] / "data_manifests"


# ------------------------------------------------------------------ the shipped manifests
def test_shipped_manifests_cover_the_datasets_and_parse():
    names = {p.stem: read_manifest(p) for p in REPO_MANIFESTS.glob("*.yaml")}
    by_name = {m.name for m in names.values()}
    assert {"ImageNet", "DTD", "FreemanZiemba2013", "MajajHong2015", "model-vs-human",
            "MNIST"} <= by_name
    for m in names.values():
        assert m.description and m.citation and m.license and m.format, m.name
        assert m.loader in datasets.LOADERS, m.name
        assert m.files, m.name
        if m.source["kind"] != "local":  # downloadable: every required file has a URL
            assert all(m.file_url(f) for f in m.files if f.type == "file"), m.name
    fz = next(m for m in names.values() if m.name == "FreemanZiemba2013")
    assert fz.file_url(fz.files[0]) == ("https://brainio-brainscore.s3.amazonaws.com/"
                                        "assy_movshon_FreemanZiemba2013_public.nc")
    assert fz.files[0].algorithm == "sha1"


def test_default_manifest_folder_and_data_root(monkeypatch, tmp_path):
    monkeypatch.delenv("NEUROMODELS_MANIFESTS", raising=False)
    assert datasets.manifest_dirs() == [REPO_MANIFESTS]
    monkeypatch.setenv("NEUROMODELS_DATA", str(tmp_path))
    assert get_manifest("mnist").folder() == tmp_path / "MNIST"  # name lookup is case-insensitive
    with pytest.raises(DatasetError, match="available: .*MNIST"):
        get_manifest("cifar")


# ------------------------------------------------------------------ a test manifest
def _write_manifest(folder: Path, files, kind="url", extra=""):
    lines = ["name: Toy", "description: a toy dataset", "citation: nobody", "license: CC0",
             "format: bytes", "loader: mnist", "source:", f"  kind: {kind}",
             "  instructions: ask the toy maker", "files:"]
    for f in files:
        lines.append(f"  - name: {f['name']}")
        for k in ("url", "hash", "size"):
            if k in f:
                lines.append(f"    {k}: {f[k]}")
    path = folder / "toy.yaml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    manifests, data, remote = tmp_path / "manifests", tmp_path / "data", tmp_path / "remote"
    for d in (manifests, data, remote):
        d.mkdir()
    monkeypatch.setenv("NEUROMODELS_MANIFESTS", str(manifests))
    monkeypatch.setenv("NEUROMODELS_DATA", str(data))
    payload = np.random.default_rng(0).bytes(5000)
    (remote / "blob.bin").write_bytes(payload)
    return manifests, data, remote, payload


def test_fetch_from_file_url_verifies_and_keeps(env):
    manifests, data, remote, payload = env
    sha = hashlib.sha256(payload).hexdigest()
    _write_manifest(manifests, [{"name": "blob.bin", "url": (remote / "blob.bin").as_uri(),
                                 "hash": f"sha256:{sha}", "size": len(payload)}])
    assert datasets.list_manifests() == ["Toy"]
    folder = fetch("Toy", progress=False)
    assert folder == data / "Toy"
    assert (folder / "blob.bin").read_bytes() == payload
    assert [p.name for p in folder.iterdir()] == ["blob.bin"]  # no temporary file left
    assert verify("Toy") == [{"file": "blob.bin", "path": str(folder / "blob.bin"),
                              "status": "verified"}]
    (remote / "blob.bin").unlink()  # already present: no second download needed
    assert fetch("Toy", progress=False) == folder


def test_corrupted_download_is_refused_naming_both_hashes(env):
    manifests, data, remote, payload = env
    wrong = hashlib.sha256(b"something else").hexdigest()
    actual = hashlib.sha256(payload).hexdigest()
    _write_manifest(manifests, [{"name": "blob.bin", "url": (remote / "blob.bin").as_uri(),
                                 "hash": wrong}])
    with pytest.raises(DatasetError) as err:
        fetch("Toy", progress=False)
    assert f"expected {wrong}, got {actual}" in str(err.value) and "sha256" in str(err.value)
    assert not list((data / "Toy").iterdir())  # refused: nothing kept under any name


def test_corrupted_local_file_fails_verify(env):
    manifests, data, remote, payload = env
    sha = hashlib.sha256(payload).hexdigest()
    _write_manifest(manifests, [{"name": "blob.bin", "url": (remote / "blob.bin").as_uri(),
                                 "hash": sha}])
    fetch("Toy", progress=False)
    target = data / "Toy" / "blob.bin"
    target.write_bytes(payload[:-1] + b"\x00")
    bad = hashlib.sha256(payload[:-1] + b"\x00").hexdigest()
    with pytest.raises(DatasetError, match=f"expected {sha}, got {bad}"):
        verify("Toy")
    assert datasets.main(["verify", "Toy"]) == 1


def test_size_mismatch_is_reported(env):
    manifests, data, remote, payload = env
    _write_manifest(manifests, [{"name": "blob.bin", "url": (remote / "blob.bin").as_uri(),
                                 "size": len(payload) + 1}])
    with pytest.raises(DatasetError, match=f"has {len(payload)} bytes; the manifest expects "
                                           f"{len(payload) + 1}"):
        fetch("Toy", progress=False)


def test_missing_local_source_names_file_and_destination(env):
    manifests, data, remote, _ = env
    _write_manifest(manifests, [{"name": "gone.bin", "url": (remote / "gone.bin").as_uri()}])
    with pytest.raises(DatasetError) as err:
        fetch("Toy", progress=False)
    msg = str(err.value)
    assert "'gone.bin'" in msg and str(data / "Toy" / "gone.bin") in msg
    assert "ask the toy maker" in msg


def test_place_files_here_dataset(env, tmp_path):
    manifests, data, _, payload = env
    sha = hashlib.sha256(payload).hexdigest()
    _write_manifest(manifests, [{"name": "blob.bin", "hash": sha}], kind="local")
    with pytest.raises(DatasetError, match="no download URL.*Put it at .*blob.bin.*ask the toy maker"):
        fetch("Toy")
    copy = tmp_path / "my_copy"
    copy.mkdir()
    (copy / "blob.bin").write_bytes(payload)
    _write_manifest(manifests, [{"name": "blob.bin", "hash": sha}], kind="local",
                    extra=f"local_path: {copy}\n")
    assert verify("Toy")[0]["status"] == "verified"
    assert fetch("Toy") == copy


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_offline_http_is_a_clear_error(env):
    manifests, data, _, _ = env
    url = f"http://127.0.0.1:{_closed_port()}/blob.bin"
    _write_manifest(manifests, [{"name": "blob.bin", "url": url}])
    with pytest.raises(DatasetError, match=f"downloading {url} failed .*Put it at "):
        fetch("Toy", progress=False, timeout=2)
    assert not list((data / "Toy").iterdir())


def test_silent_server_times_out_instead_of_hanging(env):
    manifests, _, _, _ = env
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/blob.bin"
    _write_manifest(manifests, [{"name": "blob.bin", "url": url}])
    start = time.monotonic()
    try:
        with pytest.raises(DatasetError, match="Timeout|timed out"):
            fetch("Toy", progress=False, timeout=1)
    finally:
        thread.join(5)
        for conn, _ in accepted:
            conn.close()
        server.close()
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("field, value, match", [
    ("kind", "ftp-ish", "source.kind must be one of"),
    ("hash", "sha256:1234", "64 hex digits"),
    ("hash", "crc32:00000000", "hash algorithm must be one of"),
])
def test_bad_manifests_are_rejected(env, field, value, match):
    manifests = env[0]
    if field == "kind":
        _write_manifest(manifests, [{"name": "a"}], kind=value)
    else:
        _write_manifest(manifests, [{"name": "a", "hash": value}])
    with pytest.raises(DatasetError, match=match):
        datasets.list_manifests()


def test_cli_list_info_fetch(env, capsys):
    manifests, data, remote, payload = env
    _write_manifest(manifests, [{"name": "blob.bin", "url": (remote / "blob.bin").as_uri(),
                                 "hash": hashlib.sha256(payload).hexdigest()}])
    assert datasets.main(["list"]) == 0
    assert "Toy" in capsys.readouterr().out
    assert datasets.main(["info", "Toy"]) == 0
    assert "blob.bin" in capsys.readouterr().out
    assert datasets.main(["verify", "Toy"]) == 1
    assert "Put it at" in capsys.readouterr().err
    assert datasets.main(["fetch", "Toy", "--no-progress"]) == 0
    assert datasets.main(["verify", "Toy"]) == 0
    assert "verified" in capsys.readouterr().out


# ------------------------------------------------------------------ loaders on real formats
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
    from analysis.stimuli import resize_square

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


def _brainio_files(folder, n_stim=4, n_rep=2, n_neuroid=3, n_bins=250):
    """Files in the formats Brain-Score stores FreemanZiemba2013 in (BrainIO)."""
    rng = np.random.default_rng(1)
    ids = [f"img{i:02d}" for i in range(n_stim)]
    values = rng.poisson(0.05, (n_stim * n_rep, n_neuroid, n_bins)).astype(float)
    da = xr.DataArray(values, dims=("presentation", "neuroid", "time_bin"), coords={
        "image_id": ("presentation", np.repeat(ids, n_rep)),
        "repetition": ("presentation", np.tile(np.arange(n_rep), n_stim)),
        "texture_family": ("presentation", np.repeat(["a", "b"] * (n_stim // 2), n_rep)),
        "texture_type": ("presentation", np.repeat(["texture", "noise"] * (n_stim // 2), n_rep)),
        "neuroid_id": ("neuroid", [f"u{j}" for j in range(n_neuroid)]),
        "region": ("neuroid", ["V1", "V2", "V2"][:n_neuroid]),
        "time_bin_start": ("time_bin", np.arange(n_bins)),
        "time_bin_end": ("time_bin", np.arange(n_bins) + 1),
    })
    da.to_netcdf(folder / "assy_movshon_FreemanZiemba2013_public.nc")  # unnamed variable
    table = pd.DataFrame({"image_id": ids, "texture_family": ["a", "b"] * (n_stim // 2),
                          "filename": [f"{i}.png" for i in ids]})
    table.to_csv(folder / "image_movshon_FreemanZiemba2013-public.csv", index=False)
    imgs = rng.integers(0, 256, (n_stim, 12, 12), dtype=np.uint8)
    with zipfile.ZipFile(folder / "image_movshon_FreemanZiemba2013-public.zip", "w") as zf:
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


def test_missing_freemanziemba_is_an_oserror_naming_the_file(tmp_path):
    """Callers that fall back to simulated data catch OSError (DatasetError is one)."""
    with pytest.raises(OSError, match="assy_movshon_FreemanZiemba2013_public.nc"):
        datasets.load_freeman_ziemba2013(folder=tmp_path)
