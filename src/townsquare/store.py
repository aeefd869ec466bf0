"""The run directory: what a run leaves behind, readable without townsquare.

```
RUN/
  .townsquare-run    marker: this folder holds a townsquare run (and the writer's lock)
  config.yaml        the resolved scenario (every default filled in)
  summary.json       totals, seed, wall time, complete: true|false
  metrics.parquet    one row per step
  events.duckdb      tables posts, likes, follows, detections (SQL)
  users.parquet      one row per user at the end: role, opinions at start and end, counts
  graph.parquet      the final follow edges (src follows dst)
  checkpoints/       world state at the last flushed step (npz + json), for --resume,
                     and at step 0 for good (start.npz + start.json); a large run's
                     settled posts in segments (posts-FIRST-END-STEP.npz) it names
```

Events are buffered in memory and flushed every ``record.flush_every`` steps, together
with a checkpoint, so an interrupted run holds events exactly up to its checkpoint.

The marker is created once, exclusively, when a run starts and is never rewritten: it is
what `--overwrite` asks for before removing anything (only files a run writes are ever
removed), and an exclusive ``flock`` on it makes one process the only writer of a run
directory for as long as that process runs it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import UserError
from .final_state import GRAPH_FILE, USERS_FILE
from .outputs import replace_file
from .world.world import StepEvents

MARKER = ".townsquare-run"

#: everything a run (and the commands that read it) writes into its directory; nothing
#: else in a run directory is ever removed by townsquare
RUN_FILES = (
    "config.yaml",
    "summary.json",
    "metrics.parquet",
    "events.duckdb",
    "events.duckdb.wal",
    USERS_FILE,
    GRAPH_FILE,
    "report.html",
    "realism.json",
    "metrics.png",
    "text_cache.db",
    "text_cache.db-journal",
    "text_cache.db-wal",
    "text_cache.db-shm",
)

#: the world at step 0, kept for good in ``checkpoints/`` (arrays, and its latest.json)
START_FILES = ("start.npz", "start.json")

#: Checkpoint arrays kept in row segments: the post store's columns. Posts older than the
#: feed window no longer change, so a checkpoint writes them once, into a segment file
#: that later checkpoints name again, instead of rewriting the whole store every flush
#: (at 10^7 users the store reaches 3.8 GB). The checkpoint's own file holds the rows
#: after its segments.
SEGMENTED = "posts.col_"
#: the fewest rows worth a segment file of their own (small runs keep one file)
SEGMENT_MIN_ROWS = 1 << 20
_SEGMENT_NAME = re.compile(r"posts-([0-9]{12})-([0-9]{12})-([0-9]{8})\.npz")
_WORLD_NAME = re.compile(r"world-[0-9]{8}\.npz")

POST_KINDS = np.array(["post", "repost", "reply", "quote"])

_TABLES = {
    "posts": "id BIGINT, step INTEGER, author BIGINT, kind VARCHAR, parent BIGINT, "
    "stance DOUBLE, topic SMALLINT, text VARCHAR",
    "likes": "step INTEGER, user_id BIGINT, post_id BIGINT",
    "follows": "step INTEGER, follower BIGINT, followee BIGINT, action VARCHAR",
    "detections": "step INTEGER, user_id BIGINT",
    # elections (world/election.py): one row per candidate and poll; one per vote cast
    "polls": "step INTEGER, candidate BIGINT, share DOUBLE, margin DOUBLE, "
    "respondents INTEGER, likely_voters INTEGER",
    "votes": "step INTEGER, user_id BIGINT, candidate BIGINT",
    # planning candidates (policies/planner.py): one row per decision and intent
    "plans": "step INTEGER, candidate BIGINT, intent VARCHAR, q DOUBLE, tau DOUBLE, "
    "pi DOUBLE, chosen BOOLEAN",
    # the optional actions (docs/platform.md)
    "dislikes": "step INTEGER, user_id BIGINT, post_id BIGINT",
    "reports": "step INTEGER, user_id BIGINT, post_id BIGINT",
    "mentions": "step INTEGER, post_id BIGINT, target BIGINT",
    "mutes": "step INTEGER, user_id BIGINT, target BIGINT, action VARCHAR",
    "searches": "step INTEGER, user_id BIGINT, topic SMALLINT",
    # a researcher's questions (townsquare/interviews.py): kept whatever record.events says
    "interviews": "step INTEGER, user_id BIGINT, role VARCHAR, question VARCHAR, "
    "topic SMALLINT, opinion DOUBLE, stance DOUBLE, text VARCHAR, followers BIGINT, "
    "suspended BOOLEAN",
}


#: how long a flush waits for another program (a DuckDB session a user opened on the
#: file while the run goes on) to let go of events.duckdb before it gives up
LOCK_WAIT_S = 30.0


@contextmanager
def connect_events(path: Path, read_only: bool = False):
    """A DuckDB connection to ``events.duckdb``. DuckDB locks the file for each
    connection; when another program holds it, wait up to `LOCK_WAIT_S`, then one line."""
    deadline = time.monotonic() + (LOCK_WAIT_S if not read_only else 2.0)
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise UserError(
                    f"{path}: damaged or not a DuckDB database ({_short(exc)})"
                ) from None
            if time.monotonic() > deadline:
                raise UserError(
                    f"{path}: held open by another program ({_short(exc)}); close it and "
                    "try again (a run stopped here resumes with townsquare run --resume)"
                ) from None
            time.sleep(0.2)
        except duckdb.Error as exc:
            raise UserError(f"{path}: damaged or not a DuckDB database ({_short(exc)})") from None
    try:
        yield con
    finally:
        con.close()


def _texts(texts, keep, n: int) -> pa.Array:
    if texts is None:
        return pa.nulls(n, pa.string())
    return pa.array(np.asarray(texts, dtype=object)[keep], pa.string())


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException as exc:
        # a full disk or an interruption leaves the previous file as it was
        tmp.unlink(missing_ok=True)
        raise _naming(exc, tmp) from None


def _naming(exc: BaseException, path: Path) -> BaseException:
    """An OSError from writing to an open file carries no file name: give it ``path``."""
    if isinstance(exc, OSError) and exc.filename is None:
        return OSError(exc.errno, exc.strerror or str(exc), str(path))
    return exc


#: keys a resumed run may change: ``steps`` (`--resume --steps N` extends a run) and how
#: the text server is reached, which does not change what it answers (a server restarted
#: on another port, a longer timeout); everything else would change the results
RESUMABLE_KEYS = frozenset(
    {
        "steps",
        "text.base_url",
        "text.api_key_env",
        "text.timeout_s",
        "text.retries",
        "text.max_concurrency",
        "text.device",
    }
)


def _without(config: dict, keys: frozenset[str], prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if path in keys:
            continue
        out[key] = _without(value, keys, path + ".") if isinstance(value, dict) else value
    return out


def config_digest(config: dict) -> str:
    """What a checkpoint's world depends on: the resolved scenario less `RESUMABLE_KEYS`."""
    data = _without(config, RESUMABLE_KEYS)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def config_differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two resolved scenarios."""
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        path = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            keys.extend(config_differences(a, b, path + "."))
        elif a != b:
            keys.append(path)
    return keys


def _holds_key(config: dict, dotted: str) -> bool:
    """Whether ``config`` has the key at the dotted path (``moderation.survival``)."""
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def fresh_run_dir(base: str | Path) -> Path:
    """A new, empty directory named ``base`` (or ``base-2``, ``base-3``, … when taken):
    made with one exclusive mkdir, so two runs started at once never share it."""
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 10_000):
        candidate = base if k == 1 else base.with_name(f"{base.name}-{k}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise UserError(f"{base}: 10,000 runs of that name already exist; choose --out")


class EventRecorder:
    """Buffers step events and appends them to ``events.duckdb``.

    ``mode`` is ``all``, ``sample`` (only events of a fixed random subset of users, so
    per-user histories stay whole) or ``none``.
    """

    def __init__(
        self,
        path: Path,
        mode: str,
        keep_user: np.ndarray | None = None,
        candidates: np.ndarray | None = None,
        interviews: bool = False,
    ):
        self.path = path
        self.mode = mode
        self.keep_user = keep_user
        #: the election's candidates (user ids, by index), for the polls and votes tables
        self.candidates = None if candidates is None else np.asarray(candidates, np.int64)
        #: the tables this run keeps: every one, or with ``none`` only the interviews a
        #: scenario asks for
        self.tables = (
            dict(_TABLES)
            if mode != "none"
            else {k: v for k, v in _TABLES.items() if k == "interviews" and interviews}
        )
        self._buffer: dict[str, list[pa.Table]] = {name: [] for name in self.tables}
        self.rows_written = dict.fromkeys(self.tables, 0)
        if self.tables:
            with connect_events(path) as con:
                for name, cols in self.tables.items():
                    con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")

    def _keep(self, users: np.ndarray) -> np.ndarray | slice:
        if self.mode == "sample" and self.keep_user is not None:
            return self.keep_user[users]
        return slice(None)

    def add(self, ev: StepEvents) -> None:
        if self.mode == "none":
            return
        k = self._keep(ev.post_author)
        self._buffer["posts"].append(
            pa.table(
                {
                    "id": ev.post_id[k],
                    "step": np.full(ev.post_id[k].shape[0], ev.step, np.int32),
                    "author": ev.post_author[k],
                    "kind": POST_KINDS[ev.post_kind[k]],
                    "parent": ev.post_parent[k],
                    "stance": ev.post_stance[k],
                    "topic": ev.post_topic[k].astype(np.int16),
                    "text": _texts(ev.post_text, k, ev.post_id[k].shape[0]),
                }
            )
        )
        k = self._keep(ev.like_user)
        self._buffer["likes"].append(
            pa.table(
                {
                    "step": np.full(ev.like_user[k].shape[0], ev.step, np.int32),
                    "user_id": ev.like_user[k].astype(np.int64),
                    "post_id": ev.like_post[k].astype(np.int64),
                }
            )
        )
        k = self._keep(ev.follow_src)
        actions = np.where(ev.follow_action[k] > 0, "follow", "unfollow")
        self._buffer["follows"].append(
            pa.table(
                {
                    "step": np.full(actions.shape[0], ev.step, np.int32),
                    "follower": ev.follow_src[k].astype(np.int64),
                    "followee": ev.follow_dst[k].astype(np.int64),
                    "action": actions,
                }
            )
        )
        self._add_election(ev)
        self._add_actions(ev)
        k = self._keep(ev.suspended)
        self._buffer["detections"].append(
            pa.table(
                {
                    "step": np.full(ev.suspended[k].shape[0], ev.step, np.int32),
                    "user_id": ev.suspended[k].astype(np.int64),
                }
            )
        )

    def _add_actions(self, ev: StepEvents) -> None:
        """The optional actions' rows; a step without any adds none."""
        for table, user, post in (
            ("dislikes", ev.dislike_user, ev.dislike_post),
            ("reports", ev.report_user, ev.report_post),
        ):
            k = self._keep(user)
            if user[k].size:
                self._buffer[table].append(
                    pa.table(
                        {
                            "step": np.full(user[k].shape[0], ev.step, np.int32),
                            "user_id": user[k].astype(np.int64),
                            "post_id": post[k].astype(np.int64),
                        }
                    )
                )
        if ev.mention_post.size:
            k = self._keep(ev.mention_target)
            self._buffer["mentions"].append(
                pa.table(
                    {
                        "step": np.full(ev.mention_post[k].shape[0], ev.step, np.int32),
                        "post_id": ev.mention_post[k],
                        "target": ev.mention_target[k],
                    }
                )
            )
        k = self._keep(ev.mute_src)
        if ev.mute_src[k].size:
            self._buffer["mutes"].append(
                pa.table(
                    {
                        "step": np.full(ev.mute_src[k].shape[0], ev.step, np.int32),
                        "user_id": ev.mute_src[k],
                        "target": ev.mute_dst[k],
                        "action": np.where(ev.mute_action[k] > 0, "mute", "unmute"),
                    }
                )
            )
        k = self._keep(ev.search_user)
        if ev.search_user[k].size:
            self._buffer["searches"].append(
                pa.table(
                    {
                        "step": np.full(ev.search_user[k].shape[0], ev.step, np.int32),
                        "user_id": ev.search_user[k],
                        "topic": ev.search_topic[k].astype(np.int16),
                    }
                )
            )

    def _add_election(self, ev: StepEvents) -> None:
        for plan in ev.plans:
            self._buffer["plans"].append(pa.table(plan))
        held = ev.election
        if held is None:
            return
        if held.poll is not None and self.candidates is not None:
            poll = held.poll
            c = self.candidates.size
            self._buffer["polls"].append(
                pa.table(
                    {
                        "step": np.full(c, ev.step, np.int32),
                        "candidate": self.candidates,
                        "share": poll.share,
                        "margin": poll.margin,
                        "respondents": np.full(c, poll.respondents, np.int32),
                        "likely_voters": np.full(c, poll.likely, np.int32),
                    }
                )
            )
        if held.vote is not None and self.candidates is not None:
            vote = held.vote
            k = self._keep(vote.voters)
            self._buffer["votes"].append(
                pa.table(
                    {
                        "step": np.full(vote.voters[k].shape[0], ev.step, np.int32),
                        "user_id": vote.voters[k].astype(np.int64),
                        "candidate": self.candidates[vote.choice[k]],
                    }
                )
            )

    def add_interviews(self, answers: pa.Table) -> None:
        """A step's interview answers (townsquare.interviews.ask)."""
        self._buffer["interviews"].append(answers)

    def flush(self) -> None:
        if not any(self._buffer.values()):
            return
        with connect_events(self.path) as con:
            for name, tables in self._buffer.items():
                if not tables:
                    continue
                batch = pa.concat_tables(tables)
                if batch.num_rows:
                    con.register("batch", batch)
                    con.execute(f"INSERT INTO {name} SELECT * FROM batch")
                    con.unregister("batch")
                self.rows_written[name] += batch.num_rows
        self._buffer = {name: [] for name in self.tables}

    def drop_from(self, step: int) -> None:
        """Forget events at or after ``step`` (written before an interruption)."""
        self._buffer = {name: [] for name in self.tables}
        if not self.tables or not self.path.exists():
            return
        with connect_events(self.path) as con:
            for name in self.tables:
                con.execute(f"DELETE FROM {name} WHERE step >= ?", [step])
            # deletes leave a database that only checkpointing compacts
            con.execute("CHECKPOINT")


class RunStore:
    """Paths and writers of one run directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.marker = self.root / MARKER
        self.config = self.root / "config.yaml"
        self.summary = self.root / "summary.json"
        self.metrics = self.root / "metrics.parquet"
        self.events = self.root / "events.duckdb"
        self.checkpoints = self.root / "checkpoints"
        self.users_file = self.root / USERS_FILE
        self.graph_file = self.root / GRAPH_FILE
        self.start = self.checkpoints / START_FILES[0]
        self.start_meta = self.checkpoints / START_FILES[1]
        self._lock_fd: int | None = None
        #: the post segments of the checkpoint last saved or loaded (latest.json's)
        self._segments: list[dict] = []
        #: the step of the checkpoint `save_checkpoint` last made latest.json name
        self.committed_step: int | None = None

    # ------------------------------------------------------------ marker and lock
    def is_run(self) -> bool:
        # a link named like the marker proves nothing about this folder
        return self.marker.is_file() and not self.marker.is_symlink()

    def claim(self, legacy_ok: bool = False) -> bool:
        """Become the only writer of this directory: create the marker if the run is new
        (or, with ``legacy_ok``, if an older townsquare wrote the run without one) and hold
        an exclusive lock on it until `release` or the end of the process. Returns whether
        this call created the marker (False: the folder already held a run)."""
        if self._lock_fd is not None:
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        created = False
        if self.marker.is_symlink():
            raise UserError(f"{self.marker}: is a link, not townsquare's marker; remove it")
        if not self.marker.exists():
            if self.root.exists() and any(self.root.iterdir()) and not legacy_ok:
                raise UserError(
                    f"{self.root}: folder is not empty and holds no townsquare run; "
                    "choose another --out"
                )
            created = self._create_marker()
        # a read-only file system or folder raises OSError here: one line naming the path
        fd = os.open(self.marker, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise UserError(
                f"{self.root}: another townsquare process is using this run directory "
                "(running it, or reading it for a report); wait for it to finish"
            ) from None
        self._lock_fd = fd
        return created

    def _create_marker(self) -> bool:
        body = json.dumps({"townsquare_run": 1, "created": time.time(), "pid": os.getpid()})
        try:
            fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False  # another process created it first; the lock decides
        try:
            os.write(fd, body.encode() + b"\n")
        finally:
            os.close(fd)
        return True

    def writer_active(self) -> bool:
        """Whether a townsquare process is writing this run right now."""
        if not self.marker.is_file() or self._lock_fd is not None:
            return False
        fd = os.open(self.marker, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # closing drops the shared lock too
        return False

    @contextmanager
    def reading(self):
        """Read the run with no writer at work: a shared lock on the marker, held while
        reading (a run being written cannot be read whole, and DuckDB allows one writer
        or many readers of events.duckdb, so a reader would stop the run at its next
        flush). A run without a marker (older townsquare) is read as it is."""
        if not self.marker.is_file():
            yield
            return
        fd = os.open(self.marker, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                raise self._busy() from None
            yield
        finally:
            os.close(fd)

    def refuse_if_writing(self) -> None:
        """A `UserError` when a run is writing this directory right now."""
        if self.writer_active():
            raise self._busy()

    def _busy(self) -> UserError:
        return UserError(
            f"{self.root}: a run is still writing this directory; read it when the "
            "run finishes (or stop it with Ctrl-C): `townsquare show` and "
            "metrics.parquet show its progress meanwhile"
        )

    def release(self) -> None:
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __del__(self):
        self.release()

    def check_replaceable(self) -> None:
        """Before `clear`: every entry a run writes is of the kind a run writes (a folder
        named ``events.duckdb`` is somebody's, not ours), so clearing never stops half way."""
        for name in RUN_FILES:
            path = self.root / name
            if path.exists() and not path.is_file():
                raise UserError(
                    f"{path}: is not a file, so it is not townsquare's; move it away to "
                    "replace this run"
                )
        for name in ("checkpoints", "seeds"):
            path = self.root / name
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                raise UserError(
                    f"{path}: is not a folder, so it is not townsquare's; move it away to "
                    "replace this run"
                )

    def clear(self) -> None:
        """Remove what runs wrote here (held under the lock); anything else stays."""
        assert self._lock_fd is not None, "clear() needs claim() first"
        for name in RUN_FILES:
            path = self.root / name
            if path.is_file() or path.is_symlink():
                path.unlink()
        for tmp in self.root.glob("*.tmp*"):
            base = tmp.name.split(".tmp")[0]
            if tmp.is_file() and base in RUN_FILES:
                tmp.unlink()
            elif _is_replacing_temp(tmp, RUN_FILES):
                tmp.unlink()
        if self.checkpoints.is_dir():
            for entry in self.checkpoints.iterdir():
                if entry.is_file() and (
                    entry.name in ("latest.json", "latest.json.tmp", *START_FILES)
                    or (_is_checkpoint_file(entry.name) and not entry.is_symlink())
                ):
                    entry.unlink()
                elif _is_replacing_temp(entry, START_FILES):
                    entry.unlink()
            _rmdir_if_empty(self.checkpoints)
        seeds = self.root / "seeds"
        if seeds.is_dir():
            for entry in seeds.iterdir():
                inner = RunStore(entry)
                if entry.is_dir() and inner.is_run():
                    inner.claim()
                    try:
                        inner.clear()
                        inner.marker.unlink()
                    finally:
                        inner.release()
                    _rmdir_if_empty(entry)
            _rmdir_if_empty(seeds)

    def create(self, config_yaml: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.checkpoints.mkdir(exist_ok=True)
        _atomic_write(self.config, config_yaml.encode())

    def write_summary(self, summary: dict) -> None:
        _atomic_write(self.summary, (json.dumps(summary, indent=2) + "\n").encode())

    def read_summary(self) -> dict:
        return json.loads(self.summary.read_text())

    def check_readable(self, events: bool = True) -> None:
        """One `UserError` naming the first damaged file a reader would trip over
        (``events=False``: leave events.duckdb alone, e.g. while a run writes it)."""
        read_run_summary(self)
        if self.metrics.exists():
            check_metrics_table(self.metrics)
        if events and self.events.exists():
            try:
                with connect_events(self.events, read_only=True) as con:
                    con.execute("SELECT count(*) FROM information_schema.tables").fetchone()
            except UserError:
                raise
            except Exception as exc:  # duckdb's own error kinds
                raise UserError(f"{self.events}: damaged ({_short(exc)})") from None

    def write_metrics(self, rows: list[dict]) -> None:
        if not rows:
            return
        columns = {name: [r[name] for r in rows] for name in rows[0]}
        table = pa.table(
            {
                name: pa.array(vals, pa.int64() if isinstance(vals[0], int) else pa.float64())
                for name, vals in columns.items()
            }
        )
        tmp = self.metrics.with_name("metrics.parquet.tmp")
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, self.metrics)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            raise _naming(exc, tmp) from None

    def read_metrics(self) -> list[dict]:
        if not self.metrics.exists():
            return []
        return pq.read_table(self.metrics).to_pylist()

    # checkpoint: world arrays in npz (no pickle) + latest.json naming the valid one.
    # The npz (and any new post segment) is written first under a step-stamped name and
    # latest.json is replaced atomically afterwards, so a crash at any point leaves a
    # consistent set; files the new latest.json does not name are removed only then.
    def save_checkpoint(
        self,
        arrays: dict[str, np.ndarray],
        meta_json: str,
        extra: dict,
        clean_rows: int = 0,
        settled_rows: int = 0,
    ) -> None:
        """Save a checkpoint. The `SEGMENTED` arrays (the post columns) may be split:
        ``clean_rows`` of their leading rows are what the last checkpoint saved (the
        caller vouches: `PostStore.clean_rows`), so its segments within them are named
        again; rows below ``settled_rows`` are not expected to change, and go into a new
        segment when they make at least `SEGMENT_MIN_ROWS`."""
        self.committed_step = None
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        step = int(extra["step"])
        name = f"world-{step:08d}.npz"
        segmented = sorted(key for key in arrays if key.startswith(SEGMENTED))
        rows = int(arrays[segmented[0]].shape[0]) if segmented else 0
        segments = [seg for seg in self._segments if seg["end"] <= min(clean_rows, rows)]
        first = segments[-1]["end"] if segments else 0
        end = min(int(settled_rows), rows)
        written: list[Path] = []
        named_before = {seg["file"] for seg in self._segments}
        try:
            if segmented and end - first >= SEGMENT_MIN_ROWS:
                segment = f"posts-{first:012d}-{end:012d}-{step:08d}.npz"
                self._write_npz(
                    self.checkpoints / segment, {key: arrays[key][first:end] for key in segmented}
                )
                written.append(self.checkpoints / segment)
                segments.append({"file": segment, "start": first, "end": end})
                first = end
            if first:
                arrays = {**arrays, **{key: arrays[key][first:] for key in segmented}}
            self._write_npz(self.checkpoints / name, arrays)
            meta = {"file": name, "world": json.loads(meta_json), **extra}
            if segments:
                meta["post_segments"] = segments
            _atomic_write(self.checkpoints / "latest.json", json.dumps(meta).encode())
        except BaseException:
            # the previous checkpoint stays the valid one: its files stay, new segments go
            # (a world file left behind goes at the next checkpoint)
            for path in written:
                if path.name not in named_before:
                    path.unlink(missing_ok=True)
            raise
        # committed: latest.json names this checkpoint, whatever happens next
        self._segments = segments
        self.committed_step = step
        named = {seg["file"] for seg in segments}
        try:
            for old in self.checkpoints.iterdir():
                if old.name != name and _is_checkpoint_file(old.name):
                    if old.name not in named and old.is_file() and not old.is_symlink():
                        old.unlink()
        except OSError:
            pass  # files latest.json does not name are removed at the next checkpoint

    @staticmethod
    def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, path)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            raise _naming(exc, tmp) from None

    def has_checkpoint(self) -> bool:
        return (self.checkpoints / "latest.json").exists()

    # the start: the world at step 0, kept for good as checkpoints/start.npz beside
    # start.json (what latest.json held then, naming start.npz). Written once, when a run
    # starts; a later checkpoint never removes it and --resume never rewrites it.
    def keep_start(self) -> None:
        """Keep the checkpoint just written, the world at step 0, as the start (a hard
        link or a copy: the next checkpoint removes the world file's other name)."""
        meta = json.loads((self.checkpoints / "latest.json").read_text(encoding="utf-8"))
        if meta.get("step") != 0:
            raise RuntimeError(f"the latest checkpoint is at step {meta.get('step')}, not 0")
        if meta.get("post_segments"):
            raise RuntimeError("the checkpoint at step 0 has post segments")
        source = self.checkpoints / meta["file"]
        try:  # a second name for the same bytes (1.3 GB at 10^7 users), never written again
            os.link(source, self.start)
        except OSError:  # a start already there, or a file system without hard links
            _replace(self.start, lambda tmp: shutil.copyfile(source, tmp))
        meta["file"] = self.start.name
        _replace(self.start_meta, lambda tmp: tmp.write_text(json.dumps(meta)))

    def save_start(self, arrays: dict[str, np.ndarray], meta_json: str, extra: dict) -> None:
        """Write the start from a world at step 0 (for a run made before townsquare kept
        it: `--resume` rebuilds that world from the scenario)."""

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

        _replace(self.start, write)
        meta = {"file": self.start.name, "world": json.loads(meta_json), **extra}
        _replace(self.start_meta, lambda tmp: tmp.write_text(json.dumps(meta)))

    def has_start(self) -> bool:
        """Whether the run kept its start (either of its two files is there): runs made
        before townsquare kept it have neither."""
        return any(p.exists() or p.is_symlink() for p in (self.start, self.start_meta))

    def load_start(self) -> tuple[dict[str, np.ndarray], str, dict]:
        """``load_checkpoint(start=True)``: the world at step 0."""
        return self.load_checkpoint(start=True)

    def load_checkpoint(self, start: bool = False) -> tuple[dict[str, np.ndarray], str, dict]:
        """The last checkpoint, or with ``start`` the world at step 0 (`keep_start`), as
        (arrays, the world's JSON meta, the rest of latest.json / start.json); a damaged
        or missing file is a `UserError` naming it."""
        latest = self.start_meta if start else self.checkpoints / "latest.json"
        try:
            meta = json.loads(latest.read_text(encoding="utf-8"))
            name = meta.pop("file")
            world_meta = meta.pop("world")
            if start:
                if name != self.start.name:
                    raise ValueError(f"names {name!r:.40}, not {self.start.name}")
                if isinstance(meta["step"], bool) or meta["step"] != 0:
                    raise ValueError(f"step {meta['step']!r:.20} is not 0")
            elif not isinstance(name, str) or not name.startswith("world-") or "/" in name:
                raise ValueError(f"bad checkpoint file name {name!r}")
            int(meta["step"])
            segments = _checked_segments(meta.get("post_segments", []), start)
        except FileNotFoundError:
            if start:
                raise UserError(f"{latest}: missing; the run's state at step 0 is lost") from None
            raise UserError(f"{latest}: missing; no checkpoint to resume from") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UserError(f"{latest}: damaged ({_short(exc)})") from None
        path = self.checkpoints / name
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except FileNotFoundError:
            raise UserError(f"{path}: missing (named by checkpoints/{latest.name})") from None
        except Exception as exc:  # zipfile, zlib, numpy format errors: all mean damaged
            raise UserError(f"{path}: damaged checkpoint ({_short(exc)})") from None
        if segments:
            arrays = self._joined_segments(arrays, segments, latest, name)
        if not start:
            self._segments = segments
        meta["file"] = name  # so errors about its arrays can name it
        return arrays, json.dumps(world_meta), meta

    def _joined_segments(self, arrays: dict, segments: list[dict], latest: Path, name: str) -> dict:
        """The post columns whole: each segment's rows, then the checkpoint's own."""
        keys = sorted(key for key in arrays if key.startswith(SEGMENTED))
        for key in keys:
            if arrays[key].ndim != 1:
                raise UserError(
                    f"{self.checkpoints / name}: damaged checkpoint ({key}: "
                    f"{arrays[key].ndim} dimensions, not 1)"
                )
        parts: dict[str, list[np.ndarray]] = {key: [] for key in keys}
        for seg in segments:
            path = self.checkpoints / seg["file"]
            try:
                with np.load(path, allow_pickle=False) as data:
                    if sorted(data.files) != keys:
                        raise ValueError(f"holds {sorted(data.files)!r:.80}, not {keys!r:.80}")
                    for key in keys:
                        rows = data[key]
                        if rows.ndim != 1 or rows.dtype != arrays[key].dtype:
                            raise ValueError(
                                f"{key}: {rows.dtype}{rows.shape}, not {arrays[key].dtype}"
                            )
                        if rows.shape[0] != seg["end"] - seg["start"]:
                            raise ValueError(
                                f"{key}: {rows.shape[0]} rows, not {seg['end'] - seg['start']}"
                            )
                        parts[key].append(rows)
            except FileNotFoundError:
                raise UserError(f"{path}: missing (named by checkpoints/{latest.name})") from None
            except Exception as exc:  # zipfile, zlib, numpy format errors: all mean damaged
                raise UserError(f"{path}: damaged checkpoint ({_short(exc)})") from None
        return {**arrays, **{key: np.concatenate([*parts[key], arrays[key]]) for key in keys}}

    # ------------------------------------------------------------ verification
    def verify_against(self, meta: dict, config: dict) -> None:
        """Check the directory holds what the checkpoint recorded at its flush: the same
        resolved scenario (apart from ``steps``), metrics up to its step, and exactly the
        event rows written before it. Anything else is one `UserError` naming the file."""
        step = int(meta["step"])
        recorded = meta.get("config")
        if recorded is not None:
            if meta.get("config_sha256") != config_digest(recorded):
                raise UserError(f"{self.checkpoints / 'latest.json'}: damaged (config digest)")
            if config_digest(config) != meta["config_sha256"]:
                keys = [k for k in config_differences(recorded, config) if k not in RESUMABLE_KEYS]
                added = [k for k in keys if not _holds_key(recorded, k)]
                if added and len(added) == len(keys):
                    raise UserError(
                        f"{self.checkpoints / 'latest.json'}: made by an older townsquare "
                        f"(without {', '.join(added[:4])}{', …' if len(added) > 4 else ''}); "
                        "this version cannot continue it exactly: run the scenario again"
                    )
                raise UserError(
                    f"{self.config}: edited since the checkpoint at step {step} "
                    f"({', '.join(keys[:6])}{', …' if len(keys) > 6 else ''} differ); "
                    "--resume continues only the run the checkpoint belongs to "
                    "(only steps and how the text server is reached may change)"
                )
        try:
            # a run stopped during its first step has a checkpoint at step 0 and no rows
            have = check_metrics_table(self.metrics) if step or self.metrics.exists() else 0
        except FileNotFoundError:
            raise UserError(
                f"{self.metrics}: missing; the checkpoint at step {step} needs its {step} rows"
            ) from None
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"{self.metrics}: damaged ({_short(exc)})") from None
        if have < step:
            raise UserError(
                f"{self.metrics}: holds {have} rows, the checkpoint at step {step} needs {step}"
            )
        expected = meta.get("events") or {}
        if meta.get("events_mode", "all") == "none" or not any(expected.values()):
            return
        if not self.events.is_file():
            raise UserError(
                f"{self.events}: missing; the checkpoint at step {step} recorded "
                f"{sum(expected.values()):,} event rows"
            )
        try:
            with connect_events(self.events, read_only=True) as con:
                for table, rows in expected.items():
                    got = con.execute(
                        f'SELECT count(*) FROM "{table}" WHERE step < ?', [step]
                    ).fetchone()[0]
                    if got != rows:
                        raise UserError(
                            f"{self.events}: table {table} holds {got:,} rows before step "
                            f"{step}, the checkpoint recorded {rows:,}"
                        )
        except UserError:
            raise
        except Exception as exc:  # duckdb raises its own error kinds for damaged files
            raise UserError(f"{self.events}: damaged ({_short(exc)})") from None


def read_run_summary(store: RunStore) -> dict:
    """``summary.json``, or a `UserError` naming it when it is missing or damaged."""
    try:
        data = json.loads(store.summary.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{store.summary}: missing") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{store.summary}: damaged ({_short(exc)})") from None
    if not isinstance(data, dict):
        raise UserError(f"{store.summary}: damaged (not a JSON object)")
    for key, kinds in SUMMARY_FIELDS.items():
        value = data.get(key)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise UserError(f"{store.summary}: damaged ({key}: {str(value)[:40]!r})")
    return data


#: the counts summary.json holds, in the order `townsquare show` prints them
SUMMARY_COUNTS = (
    "users",
    "steps",
    "posts",
    "replies",
    "reposts",
    "likes",
    "follows",
    "unfollows",
    "suspensions",
    "follow_edges",
)

#: what the readers of summary.json take from it, and of which kind
SUMMARY_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "seed": (int,),
    **dict.fromkeys(SUMMARY_COUNTS, (int,)),
    "wall_s": (int, float),
    "complete": (bool,),
    "roles": (dict,),
}

#: metrics every step has, as integers (summed into summary.json, drawn by `plot`)
COUNT_METRICS = (
    "step",
    "active_users",
    "posts",
    "replies",
    "reposts",
    "likes",
    "follows",
    "unfollows",
    "suspended",
    "follow_edges",
)


def check_metrics_table(path: Path) -> int:
    """The number of rows of a metrics.parquet that holds what townsquare writes there:
    steps 0, 1, … and the integer counts; anything else is a `UserError` naming it."""
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # pyarrow's own error kinds
        raise UserError(f"{path}: damaged ({_short(exc)})") from None
    if table.num_rows == 0:
        return 0
    for name in COUNT_METRICS:
        if name not in table.column_names:
            raise UserError(f"{path}: damaged (no column {name})")
        if not pa.types.is_integer(table.schema.field(name).type):
            raise UserError(f"{path}: damaged (column {name} is not integer)")
    for name in table.column_names:
        kind = table.schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise UserError(f"{path}: damaged (column {name} is not numeric)")
    steps = table.column("step").to_numpy()
    if not np.array_equal(steps, np.arange(table.num_rows)):
        raise UserError(f"{path}: damaged (steps are not 0, 1, 2, …)")
    return table.num_rows


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:159] + "…"


def _replace(path: Path, write) -> None:
    """`outputs.replace_file`, with an OSError that names the file it was writing."""
    written: list[Path] = []

    def named(tmp: Path) -> None:
        written.append(tmp)
        write(tmp)

    try:
        replace_file(path, named)
    except OSError as exc:
        raise _naming(exc, written[-1] if written else path) from None


def _is_replacing_temp(path: Path, names) -> bool:
    """Whether ``path`` is a regular file that `outputs.replace_file` writes beside one of
    ``names`` before renaming it (``.STEM.tmp-PID[-N]SUFFIX``), left by a killed process."""
    if path.is_symlink() or not path.is_file():
        return False
    for name in names:
        base = Path(name)
        pattern = re.escape(f".{base.stem}.tmp-") + r"\d+(?:-\d+)?" + re.escape(base.suffix)
        if re.fullmatch(pattern, path.name):
            return True
    return False


def _rmdir_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise


def _is_checkpoint_file(name: str) -> bool:
    """A name `save_checkpoint` gives a file (a world file or a post segment), or its
    temporary while written: only those are ever removed from ``checkpoints/``."""
    base = name.removesuffix(".tmp")
    return bool(_WORLD_NAME.fullmatch(base) or _SEGMENT_NAME.fullmatch(base))


def _checked_segments(value, start: bool) -> list[dict]:
    """latest.json's post segments: files named as `save_checkpoint` names them, each
    beginning where the one before it ends, from row 0."""
    if not isinstance(value, list) or (start and value):
        raise ValueError(
            "post_segments: not a list of segments" if not start else "post_segments at step 0"
        )
    segments, end = [], 0
    for seg in value:
        if not isinstance(seg, dict) or sorted(seg) != ["end", "file", "start"]:
            raise ValueError(f"post_segments: {seg!r:.60} is not a segment")
        match = _SEGMENT_NAME.fullmatch(str(seg["file"]))
        bounds = [seg["start"], seg["end"]]
        if (
            not match
            or any(isinstance(b, bool) or not isinstance(b, int) for b in bounds)
            or [int(match[1]), int(match[2])] != bounds
            or seg["start"] != end
            or seg["end"] <= seg["start"]
        ):
            raise ValueError(f"post_segments: {seg!r:.80} does not follow row {end}")
        segments.append(seg)
        end = seg["end"]
    return segments


def checkpoint_files(meta: dict, default: str = "latest.json") -> str:
    """The files of a loaded checkpoint, for a message about one of its arrays: the world
    file, and where the post columns were joined from segments, those too."""
    name = str(meta.get("file", default))
    segments = meta.get("post_segments") or []
    if not segments:
        return name
    return f"{name} (post rows from {segments[0]['file']} to {segments[-1]['file']})"
