"""The final state every run directory holds for any tool (users.parquet, graph.parquet)
and the world at step 0 it keeps for good (checkpoints/start.npz)."""

from __future__ import annotations

import json
import os
import shutil

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cli_checks import crash_during, invoke, one_line_error, quick_run
from conftest import SMALL
from townsquare import final_state
from townsquare.build import build_world
from townsquare.config import validate
from townsquare.errors import UserError
from townsquare.final_state import graph_table, users_table, write_final_state
from townsquare.runner import Run, RunInterrupted
from townsquare.store import RunStore
from townsquare.world.population import ROLE_NAMES
from townsquare.world.posts import PostKind
from townsquare.world.world import checked_state

TOPICS = 2
SCENARIO = {**SMALL, "population": {"topics": TOPICS}}
TABLES = ("users.parquet", "graph.parquet")


def scenario(**changes):
    return validate({**SCENARIO, **changes})


def final_world(run_dir):
    """The world of the run's last checkpoint, every value checked."""
    arrays, world_meta, meta = RunStore(run_dir).load_checkpoint()
    return checked_state(arrays, world_meta), meta


def tables(run_dir):
    return [(run_dir / name).read_bytes() for name in TABLES]


def step_of(path) -> int:
    return int(pq.read_schema(path).metadata[b"townsquare.step"])


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """A whole run of SCENARIO (12 steps, flushes every 5)."""
    out = tmp_path_factory.mktemp("whole") / "run"
    Run.start(scenario(), out).execute()
    return out


# ------------------------------------------------------------------ what they hold
def test_columns_and_types(whole):
    users = pq.read_table(whole / "users.parquet")
    opinions = [f"opinion_{when}_t{k}" for k in range(TOPICS) for when in ("start", "end")]
    assert users.column_names == [
        "id", "role", *opinions, "followers", "followees", "posts", "reposts", "replies",
        "quotes", "follows", "suspended",
    ]  # fmt: skip
    kinds = {
        "id": pa.int64(),
        "role": pa.string(),
        "followers": pa.int64(),
        "followees": pa.int64(),
        "posts": pa.int64(),
        "reposts": pa.int64(),
        "replies": pa.int64(),
        "follows": pa.int64(),
        "suspended": pa.bool_(),
        **dict.fromkeys(opinions, pa.float64()),
    }
    for name, kind in kinds.items():
        assert users.schema.field(name).type == kind, name
    assert users.num_rows == SCENARIO["users"]
    assert users.column("id").to_pylist() == list(range(SCENARIO["users"]))
    graph = pq.read_table(whole / "graph.parquet")
    assert graph.column_names == ["src", "dst"]
    assert graph.schema.field("src").type == graph.schema.field("dst").type == pa.int64()
    assert step_of(whole / "users.parquet") == step_of(whole / "graph.parquet") == 12


def test_counts_agree_with_the_world(whole):
    world, meta = final_world(whole)
    assert meta["step"] == world.t == 12
    users = pq.read_table(whole / "users.parquet").to_pydict()
    graph = pq.read_table(whole / "graph.parquet")
    src, dst = graph.column("src").to_numpy(), graph.column("dst").to_numpy()
    n = world.population.n
    # the edges are the world's, sorted by (src, dst), each once
    assert np.all((src[1:] > src[:-1]) | ((src[1:] == src[:-1]) & (dst[1:] > dst[:-1])))
    ws, wd = world.graph.edges()
    assert sorted(zip(ws.tolist(), wd.tolist(), strict=True)) == list(
        zip(src.tolist(), dst.tolist(), strict=True)
    )
    assert len(src) == json.loads((whole / "summary.json").read_text())["follow_edges"]
    assert users["followers"] == np.bincount(dst, minlength=n).tolist()
    assert users["followees"] == np.bincount(src, minlength=n).tolist()
    assert users["followers"] == world.graph.in_deg.tolist()
    assert users["role"] == [ROLE_NAMES[r] for r in world.population.role]
    assert set(users["role"]) == set(ROLE_NAMES)  # the scenario has every role
    assert users["suspended"] == world.population.suspended.tolist()
    for k in range(TOPICS):
        assert users[f"opinion_end_t{k}"] == world.population.opinion[:, k].tolist()
    # original posts only, counted from the events the run recorded
    with duckdb.connect(str(whole / "events.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT author, count(*) FROM posts WHERE kind = 'post' GROUP BY author"
        ).fetchall()
        everything = con.execute("SELECT count(*) FROM posts").fetchone()[0]
    counted = np.zeros(n, np.int64)
    for author, count in rows:
        counted[author] = count
    assert users["posts"] == counted.tolist()
    assert sum(users["posts"]) == json.loads((whole / "summary.json").read_text())["posts"]
    assert sum(users["posts"]) < everything  # reposts and replies are not posts
    posts = world.posts
    assert sum(users["posts"]) == int((posts.kind == PostKind.POST).sum())
    # reposts and replies per author, counted from the world's posts
    for column, kind in (("reposts", PostKind.REPOST), ("replies", PostKind.REPLY)):
        mine = np.bincount(posts.author[posts.kind == kind], minlength=n)
        assert users[column] == mine.tolist()
    assert sum(users["posts"]) + sum(users["reposts"]) + sum(users["replies"]) == everything
    assert users["follows"] == world.population.follows_made.tolist()
    with duckdb.connect(str(whole / "events.duckdb"), read_only=True) as con:
        follows = con.execute("SELECT count(*) FROM follows WHERE action = 'follow'").fetchone()[0]
    assert sum(users["follows"]) == follows


def test_opinion_at_start_is_the_built_world(whole):
    built, _ = build_world(scenario())
    users = pq.read_table(whole / "users.parquet")
    start = np.column_stack([users.column(f"opinion_start_t{k}") for k in range(TOPICS)])
    assert np.array_equal(start, built.population.opinion)
    end = np.column_stack([users.column(f"opinion_end_t{k}") for k in range(TOPICS)])
    assert not np.array_equal(start, end)  # opinions moved over the run
    arrays, world_meta, meta = RunStore(whole).load_checkpoint(start=True)
    assert meta["step"] == 0 and meta["file"] == "start.npz"
    assert np.array_equal(arrays["pop.opinion"], built.population.opinion)
    state = checked_state(arrays, world_meta)
    assert state.t == 0 and len(state.posts) == 0
    # the start is the world as built, every array of it
    expected, _ = built.state()
    assert sorted(arrays) == sorted(expected)
    for name, value in expected.items():
        assert np.array_equal(arrays[name], value), name
    assert RunStore(whole).load_start()[2] == meta


# ------------------------------------------------------------------ the same bytes
def test_byte_identical_on_a_rerun(whole, tmp_path):
    again = tmp_path / "again"
    Run.start(scenario(), again).execute()
    assert tables(again) == tables(whole)
    other = tmp_path / "other"
    Run.start(scenario(seed=4), other).execute()
    assert tables(other)[0] != tables(whole)[0]


def test_byte_identical_after_a_split_resume(whole, tmp_path):
    out = tmp_path / "split"
    Run.start(scenario(steps=7), out).execute()
    assert step_of(out / "users.parquet") == 7
    start_before = (out / "checkpoints" / "start.npz").read_bytes()
    Run.resume(out, steps=12).execute()
    assert tables(out) == tables(whole)
    assert (out / "checkpoints" / "start.npz").read_bytes() == start_before  # never rewritten


def test_a_graceful_stop_writes_the_checkpoints_world(whole, tmp_path):
    out = tmp_path / "stopped"
    run = Run.start(scenario(), out)

    def stop(row):
        if row["step"] == 7:
            run.request_stop()

    with pytest.raises(RunInterrupted):
        run.execute(on_step=stop)
    world, meta = final_world(out)
    assert meta["step"] == 8 == step_of(out / "users.parquet") == step_of(out / "graph.parquet")
    assert pq.read_table(out / "users.parquet").column("followers").to_pylist() == (
        world.graph.in_deg.tolist()
    )
    Run.resume(out).execute()
    assert tables(out) == tables(whole)


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_a_failure_writes_the_last_flush(whole, tmp_path, monkeypatch, exc):
    out = tmp_path / "broken"

    def half_done(world):  # work the tables must not show
        world.population.opinion[:] = 0.5

    crash_during(Run.start(scenario(), out), monkeypatch, at=7, exc=exc, before=half_done)
    world, meta = final_world(out)
    assert meta["step"] == 5 == step_of(out / "users.parquet")
    users = pq.read_table(out / "users.parquet")
    assert users.column("opinion_end_t0").to_pylist() == world.population.opinion[:, 0].tolist()
    Run.resume(out).execute()
    assert tables(out) == tables(whole)


def test_present_without_events(whole, tmp_path):
    out = tmp_path / "quiet"
    Run.start(scenario(record={"events": "none", "flush_every": 5}), out).execute()
    assert not (out / "events.duckdb").exists()
    assert tables(out) == tables(whole)  # recording never changes the world
    assert (out / "checkpoints" / "start.npz").is_file()


def test_a_run_from_before_the_start_was_kept_resumes_and_keeps_it(whole, tmp_path):
    out = tmp_path / "legacy"
    Run.start(scenario(steps=7), out).execute()
    for name in ("start.npz", "start.json"):
        (out / "checkpoints" / name).unlink()
    Run.resume(out, steps=12).execute()
    assert tables(out) == tables(whole)
    arrays, _, meta = RunStore(out).load_checkpoint(start=True)
    assert meta["step"] == 0
    built, _ = build_world(scenario())
    assert np.array_equal(arrays["pop.opinion"], built.population.opinion)


# ------------------------------------------------------------------ the start, damaged
def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        (lambda c: _truncate(c / "start.npz"), ["start.npz", "damaged"]),
        (lambda c: (c / "start.npz").write_bytes(b"PK\x03\x04"), ["start.npz", "damaged"]),
        (lambda c: (c / "start.npz").unlink(), ["start.npz", "missing"]),
        (lambda c: (c / "start.json").write_text("{"), ["start.json", "damaged"]),
        (lambda c: (c / "start.json").unlink(), ["start.json", "missing"]),
        (
            lambda c: (c / "start.json").write_text('{"file": "world-00000005.npz"}'),
            ["start.json", "damaged"],
        ),
    ],
)
def test_a_damaged_start_is_one_line_naming_it(small_scenario, tmp_path, damage, fragments):
    out = tmp_path / "run"
    assert quick_run(small_scenario, out, "--steps", "5").exit_code == 0
    damage(out / "checkpoints")
    with pytest.raises(UserError) as info:
        RunStore(out).load_checkpoint(start=True)
    text = str(info.value)
    assert len(text.splitlines()) == 1 and all(f in text for f in fragments), text
    one_line_error(invoke("run", "--resume", out, "-q", "--steps", "8"), *fragments)


def test_a_start_of_another_world_is_refused(small_scenario, tmp_path):
    out = tmp_path / "run"
    assert quick_run(small_scenario, out, "--steps", "5").exit_code == 0
    path = out / "checkpoints" / "start.npz"
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["pop.opinion"] = arrays["pop.opinion"][:10]
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    one_line_error(invoke("run", "--resume", out, "-q", "--steps", "8"), "start.npz", "pop.opinion")


# ------------------------------------------------------------------ what --overwrite removes
def test_overwrite_removes_the_start_and_the_tables_and_keeps_yours(
    small_scenario, tmp_path, monkeypatch
):
    out = tmp_path / "run"
    assert quick_run(small_scenario, out, "--seed", "1").exit_code == 0
    checkpoints = out / "checkpoints"
    mine = {
        out / "my_users.parquet": "mine",
        out / ".users.tmp-x.parquet": "mine",  # not a name townsquare writes
        checkpoints / "start.npz.bak": "mine",
        checkpoints / "my_start.json": "mine",
    }
    for path, text in mine.items():
        path.write_text(text)
    leftovers = [out / ".users.tmp-123.parquet", checkpoints / ".start.tmp-9-2.npz"]
    for path in leftovers:  # what a process killed while writing leaves behind
        path.write_text("half")
    # a start that fails after clearing the folder shows what --overwrite removed
    monkeypatch.delenv("TOWNSQUARE_UNSET_KEY", raising=False)
    failed = quick_run(
        small_scenario, out, "--overwrite",
        "--set", "text.backend=openai", "--set", "text.base_url=http://127.0.0.1:9/v1",
        "--set", "text.model=m", "--set", "text.api_key_env=TOWNSQUARE_UNSET_KEY",
    )  # fmt: skip
    one_line_error(failed, "TOWNSQUARE_UNSET_KEY")
    for name in (*TABLES, "checkpoints/start.npz", "checkpoints/start.json"):
        assert not (out / name).exists(), name
    for path in leftovers:
        assert not path.exists(), path
    for path, text in mine.items():
        assert path.read_text() == text, path
    # and a whole overwrite holds the new run's start and tables
    assert quick_run(small_scenario, out, "--seed", "2", "--overwrite").exit_code == 0
    reference = tmp_path / "reference"
    assert quick_run(small_scenario, reference, "--seed", "2").exit_code == 0
    assert tables(out) == tables(reference)
    a, _, _ = RunStore(out).load_checkpoint(start=True)
    b, _, _ = RunStore(reference).load_checkpoint(start=True)
    assert all(np.array_equal(a[k], b[k]) for k in b)
    for path, text in mine.items():
        assert path.read_text() == text, path


def test_symlinks_at_the_table_names_are_replaced(small_scenario, tmp_path):
    out = tmp_path / "run"
    assert quick_run(small_scenario, out, "--steps", "5").exit_code == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    for name in TABLES:
        (out / name).unlink()
        os.symlink(victim, out / name)
    resumed = invoke("run", "--resume", out, "-q", "--steps", "8", "--no-plot", "--no-report")
    assert resumed.exit_code == 0, resumed.output
    assert victim.read_text() == "mine"
    for name in TABLES:
        assert not (out / name).is_symlink() and step_of(out / name) == 8
    assert not [p.name for p in out.iterdir() if ".tmp-" in p.name]


# ------------------------------------------------------------------ the builders alone
def test_tables_of_a_world_built_from_parts():
    world, _ = build_world(scenario(users=300))
    for _ in range(3):
        world.step()
    start = np.zeros((300, TOPICS))
    users = users_table(world.population, world.graph, world.posts, start)
    assert users.num_rows == 300 and users.schema.metadata is None
    with pytest.raises(ValueError, match="opinion at start"):
        users_table(world.population, world.graph, world.posts, start[:, :1])
    edges = graph_table(world.graph, step=3)
    assert edges.num_rows == world.graph.edge_count
    assert edges.schema.metadata == {b"townsquare.step": b"3"}


@pytest.mark.parametrize("batch", [1, 7, 10**9])
def test_the_graph_written_in_batches_is_the_whole_table(tmp_path, monkeypatch, batch):
    """Batches of one edge (each follower alone), of a few followers, or all at once
    write the same rows, sorted by (src, dst), with the step in the schema."""
    world, _ = build_world(scenario(users=300))
    for _ in range(3):
        world.step()
    monkeypatch.setattr(final_state, "GRAPH_BATCH", batch)
    start = np.zeros((300, TOPICS))
    _, path = write_final_state(tmp_path, world.population, world.graph, world.posts, start, 3)
    written = pq.read_table(path)
    whole = graph_table(world.graph, step=3)
    assert written.equals(whole) and written.num_rows == world.graph.edge_count > 0
    assert written.schema.metadata == {b"townsquare.step": b"3"}
    keys = written["src"].to_numpy() * 300 + written["dst"].to_numpy()
    assert (np.diff(keys) > 0).all()
    groups = pq.ParquetFile(path).metadata.num_row_groups
    assert groups == 1 if batch == 10**9 else groups > 1


def test_integers_are_delta_encoded_and_only_labels_get_a_dictionary(whole):
    def encodings(path):
        meta = pq.ParquetFile(path).metadata
        row_group = meta.row_group(0)
        return {
            row_group.column(i).path_in_schema: set(row_group.column(i).encodings)
            for i in range(meta.num_columns)
        }

    users, graph = encodings(whole / "users.parquet"), encodings(whole / "graph.parquet")
    for column in ("id", "followers", "posts", "follows"):
        assert "DELTA_BINARY_PACKED" in users[column], column
    assert "RLE_DICTIONARY" in users["role"]
    for column in ("opinion_end_t0", "suspended"):
        assert not users[column] & {"RLE_DICTIONARY", "PLAIN_DICTIONARY"}, column
    assert all("DELTA_BINARY_PACKED" in graph[c] for c in ("src", "dst"))
    assert (
        pq.ParquetFile(whole / "graph.parquet").metadata.row_group(0).column(0).compression
        == "ZSTD"
    )


def test_a_graph_with_no_edges_writes_an_empty_table(tmp_path):
    world, _ = build_world(scenario(users=300))
    empty = type(world.graph)(300)
    start = np.zeros((300, TOPICS))
    _, path = write_final_state(tmp_path, world.population, empty, world.posts, start, 0)
    assert pq.read_table(path).num_rows == 0 and step_of(path) == 0


@settings(max_examples=60, deadline=None)
@example([[], [3], list(range(32, 0, -1)), list(range(33, 0, -1)), [7, -5] * 50])
@given(
    st.lists(st.lists(st.integers(-5, 10**12), max_size=final_state.SMALL_GROUP + 20), max_size=12)
)
def test_each_group_is_sorted_alone(groups):
    """Small groups sorted by insertion and large ones by numpy's sort, each in place,
    none reaching into its neighbour."""
    values = np.array([v for g in groups for v in g], np.int64)
    starts = np.cumsum([0] + [len(g) for g in groups]).astype(np.int64)
    final_state._sort_each_group(values, starts)
    assert values.tolist() == [v for g in groups for v in sorted(g)]


def test_edges_of_a_range_of_followers():
    world, _ = build_world(scenario(users=300))
    src, dst = world.graph.edges()
    part = world.graph.edges(100, 200)
    inside = (src >= 100) & (src < 200)
    assert np.array_equal(part[0], src[inside]) and np.array_equal(part[1], dst[inside])
    with pytest.raises(ValueError, match="not within 0:300"):
        world.graph.edges(200, 301)


def test_start_survives_a_copied_run_directory(whole, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(whole, copy)
    Run.resume(copy, steps=14).execute()
    longer = tmp_path / "longer"
    Run.start(scenario(steps=14), longer).execute()
    assert tables(copy) == tables(longer)


def test_a_run_made_by_an_older_townsquare_is_refused_in_one_line(tmp_path):
    import json

    from cli_checks import invoke, one_line_error

    out = tmp_path / "old"
    result = invoke(
        "run",
        "default",
        "--set",
        "users=600",
        "--set",
        "steps=4",
        "--out",
        out,
        "-q",
        "--no-plot",
        "--no-report",
    )
    assert result.exit_code == 0, result.output
    # what an older version recorded: the same scenario without a key added since
    latest = out / "checkpoints" / "latest.json"
    meta = json.loads(latest.read_text())
    del meta["config"]["moderation"]["survival"]
    from townsquare.store import config_digest

    meta["config_sha256"] = config_digest(meta["config"])
    latest.write_text(json.dumps(meta))
    one_line_error(
        invoke("run", "--resume", out, "--steps", "6"),
        "made by an older townsquare",
        "moderation.survival",
    )
