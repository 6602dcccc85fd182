"""Atomic writes: the old file or the new one, never a part; no temporary file left; the usual mode."""
import os

import pytest

from neurocommon.files import atomic_path, atomic_write_bytes, atomic_write_text, move_into_place, temp_path_beside


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_writes_replace_the_file_with_the_usual_mode(tmp_path):
    target = tmp_path / "deep" / "f.bin"  # missing folders are made
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert atomic_write_text(tmp_path / "t.txt", "µ").read_bytes() == "µ".encode("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "t.txt"]


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_mode_follows_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        with atomic_path(tmp_path / "a.nc") as tmp:
            tmp.write_bytes(b"x")
        assert (tmp_path / "a.nc").stat().st_mode & 0o777 == 0o666 & ~mask
    finally:
        os.umask(old)


def test_a_writer_that_raises_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_path(target) as tmp:
            tmp.write_text("half a fi")
            raise RuntimeError("disk on fire")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_a_writer_that_raises_leaves_no_new_file(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "new.csv", suffix=".csv") as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".new.csv.") and tmp.suffix == ".csv"
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_bad_data_is_refused_before_anything_is_written(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")

    class NotText:
        def __str__(self):
            raise RuntimeError

    with pytest.raises(TypeError, match="expected text"):
        atomic_write_text(target, NotText())
    with pytest.raises(TypeError, match="use atomic_write_text"):
        atomic_write_bytes(target, "text")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_the_two_halves_for_writers_that_fill_a_file_across_calls(tmp_path):
    target = tmp_path / "layer.nc"
    tmp = temp_path_beside(target)
    assert tmp.parent == tmp_path and tmp.stat().st_mode & 0o777 == 0o600  # mkstemp: private until published
    with open(tmp, "ab") as fh:
        fh.write(b"batch 1;")
    with open(tmp, "ab") as fh:
        fh.write(b"batch 2")
    assert not target.exists()
    move_into_place(tmp, target)
    assert target.read_bytes() == b"batch 1;batch 2" and not tmp.exists()
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
