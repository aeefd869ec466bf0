"""Replay cache: every completion keyed by backend, model, prompt and parameters.

SQLite (standard library), one file that several runs can share. A rerun with a warm
cache returns byte-identical text without contacting the backend.
"""

from __future__ import annotations

import hashlib
import sqlite3
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


class CachedBackend:
    """Any backend, answered from the cache where possible; misses are generated in one
    batch and stored before they are returned."""

    def __init__(self, inner: TextBackend, cache: CompletionCache):
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.model = inner.model

    def generate(self, requests: list[Request]) -> list[str]:
        keys = [cache_key(self.name, self.model, r) for r in requests]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.cache.hits += len(requests) - len(missing)
        self.cache.misses += len(missing)
        if missing:
            texts = self.inner.generate([requests[i] for i in missing])
            rows = []
            for i, text in zip(missing, texts, strict=True):
                found[keys[i]] = text
                rows.append((keys[i], self.name, self.model, requests[i].cache_fields(), text))
            self.cache.put_many(rows)
        return [found[k] for k in keys]
