"""Data manifests: schema, lookup, fetching through pooch (file:// and failing HTTP), archives, CLI."""
import hashlib
import io
import os
import re
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

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
    assert datasets.manifest_dirs() == [REPO_MANIFESTS] == [datasets.bundled_manifest_dir()]
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
    assert "Toy" in datasets.list_manifests()
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
    assert wrong in str(err.value) and actual in str(err.value) and "SHA256" in str(err.value)
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
    assert datasets.main(["verify", "Toy"]) == 2


def test_size_mismatch_is_reported(env):
    manifests, data, remote, payload = env
    _write_manifest(manifests, [{"name": "blob.bin", "url": (remote / "blob.bin").as_uri(),
                                 "size": len(payload) + 1}])
    with pytest.raises(DatasetError, match=f"gave {len(payload)} bytes; the manifest expects "
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


@pytest.mark.timeout(120)  # a hang fails here, not the whole run; fetch's own timeout (1 s) must fire first
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
    try:
        with pytest.raises(DatasetError, match="Timeout|timed out"):
            fetch("Toy", progress=False, timeout=1)
    finally:
        thread.join(5)
        for conn, _ in accepted:
            conn.close()
        server.close()


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
    assert "Toy" not in datasets.list_manifests()  # reported, not fatal for the others
    assert "FreemanZiemba2013" in datasets.list_manifests()
    with pytest.raises(DatasetError, match=match):
        get_manifest("Toy")


def test_cli_list_info_fetch(env, capsys):
    manifests, data, remote, payload = env
    _write_manifest(manifests, [{"name": "blob.bin", "url": (remote / "blob.bin").as_uri(),
                                 "hash": hashlib.sha256(payload).hexdigest()}])
    assert datasets.main(["list"]) == 0
    assert "Toy" in capsys.readouterr().out
    assert datasets.main(["info", "Toy"]) == 0
    assert "blob.bin" in capsys.readouterr().out
    assert datasets.main(["verify", "Toy"]) == 2
    assert "Put it at" in capsys.readouterr().err
    assert datasets.main(["fetch", "Toy", "--no-progress"]) == 0
    assert datasets.main(["verify", "Toy"]) == 0
    assert "verified" in capsys.readouterr().out


# ------------------------------------------------------------------ issue 17: manifests and folders
def test_user_manifests_add_to_the_bundled_ones_and_may_replace_one(env):
    manifests, data, remote, payload = env
    _write_manifest(manifests, [{"name": "blob.bin"}])
    names = datasets.list_manifests()
    assert "Toy" in names and {"FreemanZiemba2013", "MNIST", "DTD"} <= set(names)
    (manifests / "mnist.yaml").write_text(
        (REPO_MANIFESTS / "mnist.yaml").read_text() + f"local_path: {remote}\n")
    assert get_manifest("MNIST").folder() == remote and get_manifest("MNIST").path == manifests / "mnist.yaml"


def test_a_malformed_manifest_breaks_only_its_own_dataset(env, capsys):
    manifests, data, remote, payload = env
    _write_manifest(manifests, [{"name": "blob.bin"}])
    (manifests / "broken.yaml").write_text("name: Broken\nfiles: [\n")
    (manifests / "binary.yaml").write_bytes(b"\xff\xfe\x00")
    assert "Toy" in datasets.list_manifests() and "Broken" not in datasets.list_manifests()
    problems = datasets.manifest_problems()
    assert set(problems) == {str(manifests / "broken.yaml"), str(manifests / "binary.yaml")}
    for name in ("Broken", "broken", "binary"):
        with pytest.raises(DatasetError, match=f"cannot be used: manifest {manifests}/b"):
            get_manifest(name)
    with pytest.raises(DatasetError, match="2 manifest file.s. could not be read"):
        get_manifest("NoSuchThing")
    assert datasets.main(["list"]) == 0
    captured = capsys.readouterr()
    assert "Toy" in captured.out and f"skipped {manifests / 'broken.yaml'}: " in captured.err


@pytest.mark.parametrize("name", ["../outside.bin", "sub/../../outside.bin", "/tmp/outside.bin",
                                  "C:/outside.bin", "..\\outside.bin"])
def test_a_file_name_that_leaves_the_dataset_folder_is_refused(env, name):
    manifests, data, remote, payload = env
    _write_manifest(manifests, [{"name": f"'{name}'", "url": (remote / "blob.bin").as_uri()}])
    with pytest.raises(DatasetError, match="would leave the dataset folder"):
        fetch("Toy", progress=False)
    assert not (data / "outside.bin").exists() and sorted(p.name for p in data.iterdir()) == []


def test_a_symlinked_name_that_resolves_outside_is_refused(env, tmp_path):
    manifests, data, remote, payload = env
    (data / "Toy").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (data / "Toy" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    _write_manifest(manifests, [{"name": "link/blob.bin", "url": (remote / "blob.bin").as_uri()}])
    with pytest.raises(DatasetError, match="outside"):
        fetch("Toy", progress=False)
    assert not (tmp_path / "elsewhere" / "blob.bin").exists()


def test_unwritable_data_folder_is_one_clear_error(env, tmp_path, monkeypatch, capsys):
    manifests, data, remote, payload = env
    _write_manifest(manifests, [{"name": "blob.bin", "url": (remote / "blob.bin").as_uri()}])
    not_a_folder = tmp_path / "a_file"
    not_a_folder.write_text("")
    monkeypatch.setenv("NEUROMODELS_DATA", str(not_a_folder / "data"))
    with pytest.raises(DatasetError, match="cannot write into .*Set NEUROMODELS_DATA"):
        fetch("Toy", progress=False)
    assert datasets.main(["fetch", "Toy", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Toy: cannot write into") and err.count("\n") == 1
    with pytest.raises(DatasetError):
        datasets.main(["--debug", "fetch", "Toy", "--no-progress"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_data_folder_is_one_clear_error(env):
    manifests, data, remote, payload = env
    _write_manifest(manifests, [{"name": "blob.bin", "url": (remote / "blob.bin").as_uri()}])
    data.chmod(0o555)
    try:
        with pytest.raises(DatasetError, match="cannot write into"):
            fetch("Toy", progress=False)
    finally:
        data.chmod(0o755)


def test_fetch_goes_through_pooch_with_the_manifest_hash(env, monkeypatch):
    import pooch

    manifests, data, remote, payload = env
    md5 = hashlib.md5(payload).hexdigest()
    _write_manifest(manifests, [{"name": "sub/blob.bin", "url": (remote / "blob.bin").as_uri(),
                                 "hash": f"md5:{md5}"}])
    calls = []
    real = pooch.retrieve
    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: calls.append(k) or real(*a, **k))
    fetch("Toy", progress=False)
    assert [c["known_hash"] for c in calls] == [f"md5:{md5}"]
    assert (data / "Toy" / "sub" / "blob.bin").read_bytes() == payload


# ------------------------------------------------------------------ archives
def _tarball(path: Path, members: dict, links: dict = None):
    with tarfile.open(path, "w:gz" if path.name.endswith("gz") else "w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return hashlib.md5(path.read_bytes()).hexdigest()


def _archive_manifest(manifests, remote, archive):
    _write_manifest(manifests, [{"name": archive, "url": (remote / archive).as_uri()}])
    path = manifests / "toy.yaml"
    path.write_text(path.read_text().replace("    url:", "    unpack: true\n    url:"))


@pytest.mark.parametrize("evil", ["../evil.txt", "/tmp/evil_neuromodels_test.txt", "a/../../evil.txt"])
def test_an_archive_member_that_leaves_the_folder_is_refused(env, evil):
    manifests, data, remote, _ = env
    _tarball(remote / "a.tar.gz", {"ok.txt": b"fine", evil: b"evil"})
    _archive_manifest(manifests, remote, "a.tar.gz")
    with pytest.raises(DatasetError, match=f"archive .*a.tar.gz: {re.escape(repr(evil))} would leave"):
        fetch("Toy", progress=False)
    assert not (data / "evil.txt").exists() and not Path("/tmp/evil_neuromodels_test.txt").exists()
    assert not (data / "Toy" / "ok.txt").exists()  # nothing extracted


def test_an_archive_link_that_points_outside_is_refused(env):
    manifests, data, remote, _ = env
    _tarball(remote / "l.tar", {}, links={"innocent": "../../etc"})
    _archive_manifest(manifests, remote, "l.tar")
    with pytest.raises(DatasetError, match="link 'innocent'.*would leave"):
        fetch("Toy", progress=False)
    assert not (data / "Toy" / "innocent").exists()


def test_zip_archives_are_unpacked_once(env):
    manifests, data, remote, _ = env
    with zipfile.ZipFile(remote / "z.zip", "w") as zf:
        zf.writestr("inner/a.txt", b"alpha")
    _archive_manifest(manifests, remote, "z.zip")
    folder = fetch("Toy", progress=False)
    assert (folder / "inner" / "a.txt").read_bytes() == b"alpha"
    (folder / "inner" / "a.txt").write_bytes(b"edited")  # a second fetch does not extract again
    fetch("Toy", progress=False)
    assert (folder / "inner" / "a.txt").read_bytes() == b"edited"


def test_dtd_through_its_manifest_fetches_extracts_and_loads_families(env, monkeypatch):
    """DTD's tarball layout (dtd/images/<category>/*.jpg, dtd/labels/...), the bundled manifest."""
    from skimage.io import imread, imsave

    manifests, data, remote, _ = env
    rng = np.random.default_rng(0)
    staging = remote / "staging"
    members = {}
    for cat in ("banded", "dotted", "woven"):
        for i in range(2):
            (staging / cat).mkdir(parents=True, exist_ok=True)
            imsave(staging / cat / f"{cat}_{i:04d}.jpg", rng.integers(0, 256, (24, 20, 3), dtype=np.uint8),
                   check_contrast=False)
            members[f"dtd/images/{cat}/{cat}_{i:04d}.jpg"] = (staging / cat / f"{cat}_{i:04d}.jpg").read_bytes()
    members["dtd/labels/labels_joint_anno.txt"] = b"banded/banded_0000.jpg banded\n"
    md5 = _tarball(remote / "dtd-r1.0.1.tar.gz", members)
    text = (REPO_MANIFESTS / "dtd.yaml").read_text()
    text = text.replace("https://www.robots.ox.ac.uk/~vgg/data/dtd/download/", remote.as_uri() + "/")
    text = text.replace("md5:fff73e5086ae6bdbea199a49dfb8a4c1", f"md5:{md5}").replace("n_entries: 47", "n_entries: 3")
    (manifests / "dtd.yaml").write_text(text)  # replaces the bundled DTD manifest
    folder = fetch("DTD", progress=False)
    assert folder == data / "DTD" and (folder / "dtd" / "labels" / "labels_joint_anno.txt").is_file()
    assert verify("DTD")[-1]["status"] == "present"
    stimuli = datasets.load("DTD", size=16)
    assert sorted(set(stimuli.metadata("texture_family"))) == ["banded", "dotted", "woven"]
    assert len(stimuli) == 6 and stimuli.name == "DTD"
    from analysis.images import as_image, resize_square

    images = stimuli.load_images()
    assert images.shape == (6, 3, 16, 16)  # RGB files stay RGB
    for sid, img in zip(stimuli.stimulus_ids, images):  # the files the tarball held
        ref = as_image(imread(folder / "dtd" / "images" / sid))
        for c in range(3):
            np.testing.assert_allclose(img[c], resize_square(ref[c], 16), atol=1e-6)
    gray = datasets.load("DTD", size=16, color="gray").load_images()
    assert gray.shape == (6, 1, 16, 16)
