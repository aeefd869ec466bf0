"""Replay cache: every completion keyed by backend, model, prompt and parameters.

SQLite (standard library), one file that several runs can share. A rerun with a warm
cache returns byte-identical text without contacting the backend. Completions are stored
as they arrive (committed in small groups, and always before a failure or a cancel
propagates), so a batch that fails part-way keeps what it got and ``--resume`` asks only
for the rest.
"""

from __future__ import annotations

import hashlib
import inspect
import sqlite3
import time
from pathlib import Path

from .backend import Request, TextBackend

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT NOT NULL
)
"""


def cache_key(backend: str, model: str, request: Request) -> str:
    payload = f"{backend}\x1f{model}\x1f{request.cache_fields()}".encode()
    return hashlib.sha256(payload).hexdigest()


class CompletionCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.path)
        self._con.execute(_SCHEMA)
        self._con.commit()
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._con.execute(
                f"SELECT key, text FROM completions WHERE key IN ({marks})", chunk
            )
            found.update(rows.fetchall())
        return found

    def put_many(self, rows: list[tuple[str, str, str, str, str]]) -> None:
        self._con.executemany(
            "INSERT OR REPLACE INTO completions (key, backend, model, request, text) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        self._con.commit()

    def __len__(self) -> int:
        return self._con.execute("SELECT count(*) FROM completions").fetchone()[0]

    def close(self) -> None:
        self._con.close()


def _streams(generate) -> bool:
    """Whether a backend's ``generate`` takes an ``on_result`` callback."""
    try:
        return "on_result" in inspect.signature(generate).parameters
    except (TypeError, ValueError):
        return False


class CachedBackend:
    """Any backend, answered from the cache where possible; misses are generated in one
    batch. A backend whose ``generate`` takes ``on_result`` has each completion stored as
    it arrives (committed every ``commit_s`` seconds or ``commit_rows`` rows, and always
    before `generate` returns or raises); any other has the batch stored when it returns."""

    commit_s = 0.25
    commit_rows = 64

    def __init__(self, inner: TextBackend, cache: CompletionCache):
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.model = inner.model
        self._streams = _streams(inner.generate)

    def cancel(self) -> None:
        """Abandon the inner backend's batch in flight, where it can (see its ``cancel``)."""
        cancel = getattr(self.inner, "cancel", None)
        if cancel is not None:
            cancel()

    def reset_cancel(self) -> None:
        reset = getattr(self.inner, "reset_cancel", None)
        if reset is not None:
            reset()

    def generate(self, requests: list[Request]) -> list[str]:
        keys = [cache_key(self.name, self.model, r) for r in requests]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.cache.hits += len(requests) - len(missing)
        self.cache.misses += len(missing)
        if not missing:
            return [found[k] for k in keys]
        batch = [requests[i] for i in missing]
        rows: list[tuple[str, str, str, str, str]] = []
        stored: set[int] = set()

        def store(j: int, text: str) -> None:
            i = missing[j]
            found[keys[i]] = text
            rows.append((keys[i], self.name, self.model, requests[i].cache_fields(), text))
            stored.add(j)

        if not self._streams:
            texts = self.inner.generate(batch)
        else:
            last = time.monotonic()

            def arrived(j: int, text: str) -> None:
                nonlocal last
                store(j, text)
                now = time.monotonic()
                if len(rows) >= self.commit_rows or now - last >= self.commit_s:
                    self.cache.put_many(rows)
                    rows.clear()
                    last = now

            try:
                texts = self.inner.generate(batch, on_result=arrived)
            finally:
                if rows:  # what arrived is kept, whether the batch finished, failed or stopped
                    self.cache.put_many(rows)
                    rows.clear()
        if len(texts) != len(batch):
            raise ValueError(f"{self.name}: {len(texts)} texts for {len(batch)} requests")
        for j, text in enumerate(texts):
            if j not in stored:  # a backend that does not stream, or skipped a call
                store(j, text)
        if rows:
            self.cache.put_many(rows)
        return [found[k] for k in keys]
