"""What only the directory backend does: read-only files, atomic publication, no debris."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading

import pytest

from storage import StorageError, open_store
from storage.base import VerifyingReader
from storage.directory import DirectoryStore


@pytest.fixture
def store(tmp_path) -> DirectoryStore:
    s = open_store((tmp_path / "objects").as_uri())
    assert isinstance(s, DirectoryStore)
    return s


def test_objects_are_read_only_files_named_by_their_hash(store):
    ref = store.put_bytes(b"%PDF-1.7 contents list", content_type="application/pdf")
    path = store.path_for(ref.sha256)
    assert path == store.root / "sha256" / ref.sha256[:2] / ref.sha256[2:4] / ref.sha256
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert path.read_bytes() == b"%PDF-1.7 contents list"
    assert store.stat(ref.sha256).content_type == "application/pdf"


def test_storing_again_leaves_the_file_untouched(store):
    ref = store.put_bytes(b"same scan")
    before = store.path_for(ref.sha256).stat()
    store.put(io.BytesIO(b"same scan"), content_type="image/png")
    after = store.path_for(ref.sha256).stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert store.stat(ref.sha256).content_type == "application/octet-stream"  # the first writer's


def test_no_temporary_files_survive_a_write_or_a_failed_write(store):
    store.put_bytes(b"ok")
    with pytest.raises(StorageError):
        store.put(io.BytesIO(b"too long"), size=3)

    class Broken:
        def read(self, n=-1):
            raise OSError("client disconnected mid-upload")

    with pytest.raises(OSError, match="disconnected"):
        store.put(Broken())
    assert list((store.root / ".incoming").iterdir()) == []
    assert len(list(store.iter_keys())) == 1


def test_text_streams_are_refused(store):
    with pytest.raises(TypeError, match="binary"):
        store.put(io.StringIO("起诉书"))


def test_concurrent_writers_of_the_same_content_store_one_file(store):
    data = os.urandom(3 * 1024 * 1024)
    refs, errors = [], []

    def write():
        try:
            refs.append(store.put(io.BytesIO(data)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {r.sha256 for r in refs} == {hashlib.sha256(data).hexdigest()}
    assert len(list(store.iter_keys())) == 1
    assert store.read_bytes(refs[0].sha256) == data


def test_iter_keys_ignores_foreign_files(store):
    ref = store.put_bytes(b"x")
    (store.root / "sha256" / "README").write_text("not an object")
    (store.path_for(ref.sha256).parent / "zz").write_text("not an object either")
    assert list(store.iter_keys()) == [ref.key]


def test_relative_root_is_refused():
    with pytest.raises(StorageError, match="absolute"):
        DirectoryStore("objects")


def test_verifying_reader_reads_in_any_chunk_size(store):
    data = bytes(range(256)) * 4099
    ref = store.put_bytes(data)
    for size in (1, 7, 4096, 1 << 20, len(data), len(data) + 1):
        out = bytearray()
        with store.open(ref.sha256) as reader:
            assert isinstance(reader, VerifyingReader) and reader.size == len(data)
            while chunk := reader.read(size):
                out += chunk
            assert reader.read(10) == b""
        assert bytes(out) == data
    with store.open(ref.sha256) as reader:
        assert b"".join(reader) == data
    assert reader.closed
    with pytest.raises(ValueError, match="closed"):
        reader.read(1)
