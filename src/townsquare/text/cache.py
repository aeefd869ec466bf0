"""Replay cache: every completion keyed by backend, model, prompt and parameters.

SQLite (standard library), one file that several runs can share. A rerun with a warm
cache returns byte-identical text without contacting the backend. Completions are stored
as they arrive (committed in small groups, and always before a failure or a cancel
propagates), so a batch that fails part-way keeps what it got and ``--resume`` asks only
for the rest.
"""

from __future__ import annotations

import errno
import hashlib
import inspect
import sqlite3
import time
from pathlib import Path

from ..errors import UserError
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


#: the columns of the ``completions`` table, in order
_COLUMNS = ["key", "backend", "model", "request", "text"]

#: SQLite's words for a file system that refuses to write (the OS error it is)
_OS_PROBLEMS = {
    "database or disk is full": errno.ENOSPC,
    "attempt to write a readonly database": errno.EROFS,
    "disk I/O error": errno.EIO,
}


class CompletionCache:
    """The replay cache file ``path`` (``text.cache``): a new file, or one this class
    wrote. Anything else (a folder, a file that is not SQLite, another program's SQLite
    database) is a `UserError` naming ``text.cache`` and the file, and is left as it is."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise self._refused("a folder, not a file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = sqlite3.connect(self.path)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None
        try:
            self._open()
        except BaseException:
            self._con.close()
            raise
        self.hits = 0
        self.misses = 0

    def _open(self) -> None:
        try:
            tables = {
                row[0]
                for row in self._con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if tables and "completions" not in tables:
                raise self._refused("a SQLite database without a completions table")
            if "completions" in tables:
                columns = [row[1] for row in self._con.execute("PRAGMA table_info(completions)")]
                if columns != _COLUMNS:
                    raise self._refused(
                        f"its completions table has columns {', '.join(columns)}, "
                        f"not {', '.join(_COLUMNS)}"
                    )
            else:
                self._con.execute(_SCHEMA)
                self._con.commit()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

    def _where(self) -> str:
        shown = str(self.path)
        return shown if shown.isprintable() else repr(shown)[1:-1]

    def _refused(self, why: str) -> UserError:
        return UserError(f"text.cache: {self._where()}: not a townsquare replay cache ({why})")

    def _error(self, exc: sqlite3.DatabaseError) -> Exception:
        """A SQLite error as what it is: a disk that will not write (`OSError`, exit 1),
        or a file that is not a replay cache (`UserError`)."""
        message = " ".join(str(exc).split())
        for words, code in _OS_PROBLEMS.items():
            if words in message:
                return OSError(code, message, str(self.path))
        if "unable to open database file" in message:
            return OSError(errno.EACCES, f"cannot open ({message})", str(self.path))
        return UserError(f"text.cache: {self._where()}: not a SQLite replay cache ({message})")

    def get_many(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        try:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._con.execute(
                    f"SELECT key, text FROM completions WHERE key IN ({marks})", chunk
                )
                found.update(rows.fetchall())
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None
        return found

    def put_many(self, rows: list[tuple[str, str, str, str, str]]) -> None:
        try:
            self._con.executemany(
                "INSERT OR REPLACE INTO completions (key, backend, model, request, text) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            self._con.commit()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

    def __len__(self) -> int:
        try:
            return self._con.execute("SELECT count(*) FROM completions").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

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
