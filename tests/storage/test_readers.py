"""Properties of the verifying reader, the piece every read goes through."""

from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage import IntegrityError
from storage.base import HashingReader, StorageError, VerifyingReader


def _drain(reader: VerifyingReader, sizes: list[int]) -> bytes:
    out = bytearray()
    i = 0
    while True:
        chunk = reader.read(sizes[i % len(sizes)])
        i += 1
        if not chunk:
            return bytes(out)
        out += chunk


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=5000), sizes=st.lists(st.integers(1, 700), min_size=1, max_size=5))
def test_intact_bytes_come_back_whole_in_any_chunking(data, sizes):
    reader = VerifyingReader(io.BytesIO(data), sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    assert _drain(reader, sizes) == data


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=5000),
    sizes=st.lists(st.integers(1, 700), min_size=1, max_size=5),
    where=st.integers(min_value=0),
    flip=st.integers(1, 255),
)
def test_altered_bytes_never_come_back_whole(data, sizes, where, flip):
    position = where % len(data)
    altered = bytearray(data)
    altered[position] ^= flip
    reader = VerifyingReader(io.BytesIO(bytes(altered)), sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    received = bytearray()
    with pytest.raises(IntegrityError):
        i = 0
        while chunk := reader.read(sizes[i % len(sizes)]):
            received += chunk
            i += 1
    assert len(received) < len(data)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=3000), extra=st.binary(min_size=1, max_size=50), cut=st.integers(min_value=1))
def test_short_or_long_streams_raise(data, extra, cut):
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(IntegrityError):
        VerifyingReader(io.BytesIO(data + extra), sha256=sha, size=len(data)).read()
    if data:
        short = data[: len(data) - 1 - (cut % len(data))]
        with pytest.raises(IntegrityError):
            VerifyingReader(io.BytesIO(short), sha256=sha, size=len(data)).read()


def test_hashing_reader_counts_and_hashes_what_passes_through():
    reader = HashingReader(io.BytesIO(b"abc" * 1000), limit=3000)
    assert reader.read(10) == b"abcabcabca"
    while reader.read(999):
        pass
    reader.check_complete()
    assert reader.size == 3000 and reader.hexdigest() == hashlib.sha256(b"abc" * 1000).hexdigest()
    short = HashingReader(io.BytesIO(b"abc"), limit=4)
    while short.read(2):
        pass
    with pytest.raises(StorageError, match="announced"):
        short.check_complete()
