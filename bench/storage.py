"""Object-store benchmark: prints a table, asserts nothing (not a timed test).

    .venv/bin/python bench/storage.py [--quick]

1. Upload: casehub's S3 store (hash while reading, spool, checksummed multipart, object lock) vs
   the raw ``minio`` client's ``put_object`` of the same bytes, to the same S3 server (moto's
   standalone server in its own process). Target: platform >= 0.8x raw.
2. Hashing: SHA-256 computed by HashingReader / VerifyingReader while reading vs ``hashlib`` alone
   over the same bytes. Target: >= 0.9x.
3. Sweep: ``manage.py verify_storage`` on the directory backend (temporary SQLite database) vs
   reading and hashing the same files with ``hashlib``. Target: >= 0.8x.

Medians of several alternating rounds; every object written is distinct (the store deduplicates).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
ACCESS, SECRET = "bench-access", "bench-secret-key"


def payload(size: int, tag: int) -> bytes:
    block = hashlib.shake_256(b"casehub-bench").digest(MIB)
    whole, rest = divmod(size, MIB)
    parts = [tag.to_bytes(8, "big") + i.to_bytes(8, "big") + block[16:] for i in range(whole)]
    parts.append(block[:rest])
    return b"".join(parts)


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("moto server did not start") from None
            time.sleep(0.1)


def mb_per_s(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_upload(rounds: int, sizes: list[tuple[int, int]]) -> list[tuple[str, float, float]]:
    """Alternating rounds of ``count`` distinct objects of ``size`` bytes, raw client vs store.

    Both write to the same object-lock bucket on the same server; the raw client sends the
    SHA-256 checksum header the bucket demands (and nothing else casehub adds: no hashing pass
    of its own, no dedupe, no retention headers, no conditional write).
    """
    from minio import Minio

    from storage import open_store

    proc, endpoint = start_moto()
    rows = []
    try:
        raw = Minio(endpoint, access_key=ACCESS, secret_key=SECRET, secure=False, region="us-east-1")
        store = open_store(f"s3://{ACCESS}:{SECRET}@{endpoint}/bench-lock?secure=false&lock_days=1")
        store.put_bytes(b"warm-up: creates the object-lock bucket")
        bucket = store.config.bucket
        tag = 0

        def raw_put(data: bytes, name: str) -> None:
            checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
            raw.put_object(bucket, name, io.BytesIO(data), len(data),
                           metadata={"x-amz-checksum-sha256": checksum, "x-amz-sdk-checksum-algorithm": "SHA256"})

        for size, count in sizes:
            raw_t, ours_t = [], []
            for _ in range(rounds):
                batch = []
                for _ in range(count):
                    tag += 1
                    batch.append(payload(size, tag))
                raw_t.append(timed(lambda b=batch: [raw_put(d, f"raw/{id(d)}-{i}") for i, d in enumerate(b)]))
                batch = []
                for _ in range(count):
                    tag += 1
                    batch.append(payload(size, tag))
                ours_t.append(timed(lambda b=batch: [store.put(io.BytesIO(d), size=len(d)) for d in b]))
            total = size * count
            rows.append((f"S3 upload {count} x {size // MIB} MiB", mb_per_s(total, statistics.median(ours_t)),
                         mb_per_s(total, statistics.median(raw_t))))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return rows


def bench_hashing(rounds: int, size: int) -> list[tuple[str, float, float]]:
    from storage.base import CHUNK_SIZE, HashingReader, VerifyingReader

    data = payload(size, 1)
    digest = hashlib.sha256(data).hexdigest()
    view = memoryview(data)

    def plain() -> None:
        h = hashlib.sha256()
        for i in range(0, size, CHUNK_SIZE):
            h.update(view[i:i + CHUNK_SIZE])
        assert h.hexdigest() == digest

    def hashing_reader() -> None:
        reader = HashingReader(io.BytesIO(data))
        while reader.read(CHUNK_SIZE):
            pass
        assert reader.hexdigest() == digest

    def verifying_reader() -> None:
        with VerifyingReader(io.BytesIO(data), sha256=digest, size=size) as reader:
            while reader.read(CHUNK_SIZE):
                pass

    base, write, read = [], [], []
    for _ in range(rounds):
        base.append(timed(plain))
        write.append(timed(hashing_reader))
        read.append(timed(verifying_reader))
    ref = mb_per_s(size, statistics.median(base))
    return [
        ("hash while reading (write path)", mb_per_s(size, statistics.median(write)), ref),
        ("verify while reading (read path)", mb_per_s(size, statistics.median(read)), ref),
    ]


def bench_sweep(rounds: int, objects: int, object_size: int) -> list[tuple[str, float, float]]:
    work = Path(tempfile.mkdtemp(prefix="casehub-bench-"))
    os.environ["CASEHUB_DATA_DIR"] = str(work)
    os.environ["CASEHUB_STORAGE_URL"] = (work / "objects").as_uri()
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from casehub.objectstore import services
    from casehub.objectstore.sweep import run_sweep

    paths = []
    for i in range(objects):
        obj = services.store_bytes(payload(object_size, 10_000 + i), content_type="application/pdf")
        paths.append(services.get_store().path_for(obj.sha256))
    total = objects * object_size

    def raw_hash() -> None:
        for path in paths:
            h = hashlib.sha256()
            with open(path, "rb", buffering=0) as fh:
                while chunk := fh.read(MIB):
                    h.update(chunk)

    def sweep() -> None:
        result = run_sweep(trigger="bench")
        assert result.status == "ok" and result.objects_checked == objects

    raw_t, sweep_t = [], []
    try:
        for _ in range(rounds):
            raw_t.append(timed(raw_hash))
            sweep_t.append(timed(sweep))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [(f"verify_storage, directory ({objects} x {object_size // MIB} MiB)",
             mb_per_s(total, statistics.median(sweep_t)), mb_per_s(total, statistics.median(raw_t)))]


TARGETS = {"S3 upload": 0.8, "hash while": 0.9, "verify while": 0.9, "verify_storage": 0.8}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller objects")
    args = parser.parse_args()
    rounds = 3 if args.quick else 5
    rows = []
    rows += bench_hashing(rounds, (64 if args.quick else 256) * MIB)
    rows += bench_upload(rounds, [(MIB, 10), ((32 if args.quick else 64) * MIB, 1)])
    rows += bench_sweep(rounds, 100 if args.quick else 200, 4 * MIB)

    print(f"\n{'measurement':<44} {'casehub MB/s':>13} {'baseline MB/s':>14} {'ratio':>7} {'target':>7}")
    print("-" * 89)
    for name, ours, base in rows:
        target = next((v for k, v in TARGETS.items() if name.startswith(k)), 0.0)
        ratio = ours / base
        flag = "ok" if ratio >= target else "BELOW"
        print(f"{name:<44} {ours:>13.0f} {base:>14.0f} {ratio:>6.2f}x {target:>5.1f}x {flag}")
    print("\nbaselines: raw minio put_object (with the checksum header the object-lock bucket requires) to "
          "the same bucket on the same moto server (separate process); hashlib.sha256 over the same bytes; "
          "read + hashlib over the same object files.")


if __name__ == "__main__":
    main()
