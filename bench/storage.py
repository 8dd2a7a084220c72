"""Object-store benchmark: prints a table, asserts nothing (not a timed test).

    .venv/bin/python bench/storage.py [--quick]

1. Upload (ingest): casehub's S3 store (hash while reading, spool, checksummed multipart, object
   lock, a HEAD before each write) vs the raw ``minio`` client's ``put_object`` of the same bytes,
   to the same bucket on the same server: moto's standalone S3 server (in its own process) and
   Ceph's RADOS Gateway, a real S3 server. Target: platform >= 0.8x raw.
2. Hashing: SHA-256 computed by HashingReader / VerifyingReader while reading a stream vs
   ``hashlib`` over the same stream read in the same chunks (``BytesIO.read`` copies each chunk,
   for both). Target: >= 0.9x.
3. Sweep: ``verify_storage`` (``run_sweep``, a temporary SQLite database per store) on the
   directory backend, on moto and on the gateway, vs reading and hashing the same objects with
   ``hashlib`` (files for the directory, the raw ``minio`` client's GET for S3). Target: >= 0.8x.

The gateway is the one named by CASEHUB_TEST_RGW_ENDPOINT/_ACCESS_KEY/_SECRET_KEY, or, if those are
unset and Ceph is installed (``deploy/rgw-test-gateway.sh install``), one started for the run
and stopped after it. Medians of several alternating rounds; every object written is distinct
(the store deduplicates).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Server:
    label: str
    endpoint: str
    access: str
    secret: str

    def url(self, bucket: str) -> str:
        return f"s3://{self.access}:{self.secret}@{self.endpoint}/{bucket}?secure=false&lock_days=1"

    def raw(self):
        from minio import Minio

        return Minio(self.endpoint, access_key=self.access, secret_key=self.secret, secure=False,
                     region="us-east-1")


@contextlib.contextmanager
def moto_server() -> Iterator[Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("moto server did not start") from None
                time.sleep(0.1)
        yield Server("moto", f"127.0.0.1:{port}", ACCESS, SECRET)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def rgw_gateway() -> Iterator[Server | None]:
    """The configured gateway, or one started (and stopped) for this run, or None."""
    names = ("CASEHUB_TEST_RGW_ENDPOINT", "CASEHUB_TEST_RGW_ACCESS_KEY", "CASEHUB_TEST_RGW_SECRET_KEY")
    if all(os.environ.get(n) for n in names):
        yield Server("Ceph RGW", *(os.environ[n] for n in names))
        return
    if not shutil.which("radosgw"):
        print("Ceph RGW: not installed (deploy/rgw-test-gateway.sh install): gateway rows left out", file=sys.stderr)
        yield None
        return
    script = ROOT / "deploy" / "rgw-test-gateway.sh"
    state = tempfile.mkdtemp(prefix="casehub-rgw.")
    try:
        out = subprocess.run(["bash", str(script), "start", state], capture_output=True, text=True, check=True).stdout
        exported = dict(word.split("=", 1) for line in out.splitlines() for word in line.split()[1:])
        yield Server("Ceph RGW", *(exported[n] for n in names))
    finally:
        subprocess.run(["bash", str(script), "stop", state], check=False)


def mb_per_s(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_upload(server: Server, rounds: int, sizes: list[tuple[int, int]]) -> list[tuple[str, float, float]]:
    """Alternating rounds of ``count`` distinct objects of ``size`` bytes, raw client vs store.

    Both write to the same object-lock bucket on the same server; the raw client sends the
    SHA-256 checksum header the bucket demands (and nothing else casehub adds: no hashing pass
    of its own, no dedupe, no existence check, no retention headers, no conditional write).
    """
    from storage import open_store

    rows = []
    raw = server.raw()
    store = open_store(server.url(f"bench-lock-{os.getpid()}-{time.monotonic_ns()}"))
    store.put_bytes(f"warm-up: creates the object-lock bucket {time.time_ns()}".encode())
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
        rows.append((f"upload, {server.label}, {count} x {size // MIB} MiB",
                     mb_per_s(total, statistics.median(ours_t)), mb_per_s(total, statistics.median(raw_t))))
    return rows


def bench_hashing(rounds: int, size: int) -> list[tuple[str, float, float]]:
    from storage.base import CHUNK_SIZE, HashingReader, VerifyingReader

    data = payload(size, 1)
    digest = hashlib.sha256(data).hexdigest()

    def plain() -> None:
        # The same stream the readers wrap, read in the same chunks: each read copies its chunk
        # out of the BytesIO, for the baseline as for the readers (a stream against a stream).
        stream, h = io.BytesIO(data), hashlib.sha256()
        while chunk := stream.read(CHUNK_SIZE):
            h.update(chunk)
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

    runs: dict[str, list[tuple[float, float]]] = {"base": [], "write": [], "read": []}
    for _ in range(rounds):
        for key, fn in (("base", plain), ("write", hashing_reader), ("read", verifying_reader)):
            cpu = time.thread_time()
            wall = timed(fn)
            runs[key].append((wall, time.thread_time() - cpu))

    def rate(key: str, index: int) -> float:
        return mb_per_s(size, statistics.median(r[index] for r in runs[key]))

    # Wall and CPU time of this thread (all of the work is in it): on a shared, loaded machine the
    # CPU figures are the ones that compare the code rather than the neighbours.
    return [
        ("hash while reading (write path)", rate("write", 0), rate("base", 0)),
        ("verify while reading (read path)", rate("read", 0), rate("base", 0)),
        ("hash while reading, CPU time", rate("write", 1), rate("base", 1)),
        ("verify while reading, CPU time", rate("read", 1), rate("base", 1)),
    ]


def sweep_worker(store_url: str, objects: int, object_size: int, rounds: int) -> dict[str, list[float]]:
    """In its own process (its own temporary database): store ``objects`` distinct objects, then
    time ``run_sweep`` against reading and hashing the same objects with the raw means."""
    work = Path(tempfile.mkdtemp(prefix="casehub-bench-"))
    os.environ["CASEHUB_DATA_DIR"] = str(work)
    os.environ["CASEHUB_STORAGE_URL"] = store_url if store_url != "directory" else (work / "objects").as_uri()
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from casehub.objectstore import services
    from casehub.objectstore.sweep import run_sweep
    from storage.directory import DirectoryStore

    store = services.get_store()
    salt = time.time_ns() % 1_000_000_000  # distinct from objects an earlier run left on the server
    shas = [services.store_bytes(payload(object_size, salt * 1000 + i), content_type="application/pdf").sha256
            for i in range(objects)]

    if isinstance(store, DirectoryStore):
        paths = [store.path_for(sha) for sha in shas]

        def raw_hash() -> None:
            for path in paths:
                h = hashlib.sha256()
                with open(path, "rb", buffering=0) as fh:
                    while chunk := fh.read(MIB):
                        h.update(chunk)
    else:
        cfg = store.config
        raw = Server("", cfg.endpoint, cfg.access_key, cfg.secret_key).raw()

        def raw_hash() -> None:
            for sha in shas:
                h = hashlib.sha256()
                response = raw.get_object(cfg.bucket, store.key_for(sha))
                try:
                    while chunk := response.read(MIB):
                        h.update(chunk)
                finally:
                    response.close()
                    response.release_conn()

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
    return {"raw": raw_t, "sweep": sweep_t}


def bench_sweep(label: str, store_url: str, rounds: int, objects: int, object_size: int
                ) -> list[tuple[str, float, float]]:
    done = subprocess.run([sys.executable, __file__, "--sweep-worker", store_url, str(objects), str(object_size),
                           str(rounds)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"verify_storage benchmark on {label} failed:\n{done.stderr[-3000:]}")
    times = json.loads(done.stdout.strip().splitlines()[-1])
    total = objects * object_size
    return [(f"verify_storage, {label} ({objects} x {object_size // MIB} MiB)",
             mb_per_s(total, statistics.median(times["sweep"])), mb_per_s(total, statistics.median(times["raw"])))]


TARGETS = {"upload": 0.8, "hash while": 0.9, "verify while": 0.9, "verify_storage": 0.8}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller objects")
    parser.add_argument("--sweep-worker", nargs=4, metavar=("URL", "OBJECTS", "SIZE", "ROUNDS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sweep_worker:
        url, objects, size, rounds = args.sweep_worker
        print(json.dumps(sweep_worker(url, int(objects), int(size), int(rounds))))
        return
    rounds = 3 if args.quick else 5
    s3_objects = 20 if args.quick else 50  # read back over HTTP: fewer than on the directory
    rows = []
    rows += bench_hashing(rounds, (64 if args.quick else 256) * MIB)
    rows += bench_sweep("directory", "directory", rounds, 100 if args.quick else 200, 4 * MIB)
    with moto_server() as moto, rgw_gateway() as rgw:
        for server in (moto, rgw):
            if server is None:
                continue
            rows += bench_upload(server, rounds, [(MIB, 10), ((32 if args.quick else 64) * MIB, 1)])
            rows += bench_sweep(server.label, server.url(f"bench-sweep-{os.getpid()}-{time.monotonic_ns()}"),
                                rounds, s3_objects, 4 * MIB)

    print(f"\n{'measurement':<48} {'casehub MB/s':>13} {'baseline MB/s':>14} {'ratio':>7} {'target':>7}")
    print("-" * 93)
    for name, ours, base in rows:
        target = next((v for k, v in TARGETS.items() if name.startswith(k)), 0.0)
        ratio = ours / base
        flag = "ok" if ratio >= target else "BELOW"
        print(f"{name:<48} {ours:>13.0f} {base:>14.0f} {ratio:>6.2f}x {target:>5.1f}x {flag}")
    print("\nbaselines: raw minio put_object (with the checksum header the object-lock bucket requires) to "
          "the same bucket on the same server (moto: a separate process; Ceph RGW: the test gateway); "
          "hashlib.sha256 over the same stream read in the same chunks; read + hashlib over the same objects (files, or raw minio GETs).")


if __name__ == "__main__":
    main()
