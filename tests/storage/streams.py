"""Generated test data streams (no Django: usable from scripts too)."""

from __future__ import annotations

import hashlib

MIB = 1024 * 1024


class GeneratedStream:
    """``size`` bytes made on the fly (never held in memory), hashed as they are produced.

    Each MiB is a shared random block stamped with its index, so no two MiB are equal and the
    content cannot be deduplicated or compressed away.
    """

    def __init__(self, size: int, seed: bytes = b"casehub") -> None:
        self.size = size
        self._block = hashlib.shake_256(seed).digest(MIB)
        self._produced = 0
        self._pending = memoryview(b"")
        self._index = 0
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            raise ValueError("GeneratedStream only serves bounded reads")
        out = []
        wanted = min(n, self.size - self._produced)
        while wanted > 0:
            if not self._pending:
                self._pending = memoryview(self._index.to_bytes(8, "big") + self._block[8:])
                self._index += 1
            piece = self._pending[:wanted]
            self._pending = self._pending[len(piece):]
            out.append(bytes(piece))
            wanted -= len(piece)
            self._produced += len(piece)
        data = b"".join(out)
        self.hash.update(data)
        return data
