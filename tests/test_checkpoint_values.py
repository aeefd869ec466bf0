"""A checkpoint whose arrays have the right names, kinds and shapes but values that make no
sense: `--resume` and the readers (`realism`, `report`, `compare`) refuse it with one line
naming the checkpoint, never a crash, a hang or silently wrong numbers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cli_checks import invoke, one_line_error
from conftest import SMALL
from townsquare.store import RunStore
from townsquare.world.graph import FollowGraph
from townsquare.world.posts import PostStore
from townsquare.world.world import checked_state

SCENARIO = SMALL  # the suite's small scenario (conftest)

runner = CliRunner()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A run stopped after step 5, where it wrote its checkpoint."""
    base = tmp_path_factory.mktemp("template")
    scenario = base / "small.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    out = base / "run"
    result = invoke("run", scenario, "--out", out, "-q", "--no-plot", "--no-report", "--steps", 5)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def run(template, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(template, out)
    (tmp_path / "no-data").mkdir()  # for --data: no real networks to measure
    return out


def _checkpoint(run_dir):
    latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    npz = run_dir / "checkpoints" / latest["file"]
    with np.load(npz, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return npz, arrays, latest


def tamper(run_dir, change) -> None:
    """Apply ``change(arrays, world_meta)`` to the run's checkpoint and write it back."""
    npz, arrays, latest = _checkpoint(run_dir)
    change(arrays, latest["world"])
    with open(npz, "wb") as fh:
        np.savez(fh, **arrays)
    (run_dir / "checkpoints" / "latest.json").write_text(json.dumps(latest))


def _set(name, value, where=slice(None)):
    def change(arrays, meta):
        a = arrays[name].copy()
        a[where] = value
        arrays[name] = a

    return change


def _meta(path, value):
    def change(arrays, meta):
        node = meta
        *head, last = path.split(".")
        for key in head:
            node = node[key]
        if value is _DROP:
            del node[last]
        else:
            node[last] = value

    return change


_DROP = object()


def _late_parent(arrays, meta):
    """The first post becomes a repost of the last one: a cycle for cascade readers."""
    kind, parent = arrays["posts.col_kind"].copy(), arrays["posts.col_parent"].copy()
    kind[0], parent[0] = 1, parent.shape[0] - 1
    arrays["posts.col_kind"], arrays["posts.col_parent"] = kind, parent


def _offset_outside(arrays, meta):
    offset = arrays["graph.offset"].copy()
    offset[3] = arrays["graph.pool"].shape[0]
    arrays["graph.offset"] = offset


def _overlapping_blocks(arrays, meta):
    offset = arrays["graph.offset"].copy()
    offset[1] = offset[0]
    arrays["graph.offset"] = offset


def _cursor_beyond(arrays, meta):
    arrays["cursor"] = np.full_like(arrays["cursor"], arrays["posts.col_author"].shape[0] + 10)


def _text(arrays, meta):
    arrays["posts.text_json"] = np.frombuffer(b'{"not": "a list"}', np.uint8)


def _text_bytes(arrays, meta):
    arrays["posts.text_json"] = np.frombuffer(b"\xff\xfe[[0,", np.uint8)


def _step_start(arrays, meta):
    arrays["posts.step_start"] = arrays["posts.step_start"][:-1]


def _float_suspended(arrays, meta):  # right name, wrong kind
    arrays["pop.suspended"] = arrays["pop.suspended"].astype(np.float64)


TAMPERINGS = [
    ("graph.out_deg", _set("graph.out_deg", 10**6)),
    ("graph.out_deg", _set("graph.out_deg", -3, 7)),
    ("graph.in_deg", _set("graph.in_deg", 5, 0)),
    ("graph.pool", _set("graph.pool", 600)),
    ("graph.pool", _set("graph.pool", -7)),
    ("graph.offset", _offset_outside),
    ("graph.offset", _overlapping_blocks),
    ("(cap)", _set("graph.cap", 0)),  # more followees than room for them
    ("graph.pool_size", _set("graph.pool_size", 10**12, ())),
    ("graph.n", _set("graph.n", 601, ())),
    ("pop.role", _set("pop.role", 99)),
    ("pop.opinion", _set("pop.opinion", np.nan)),
    ("pop.opinion", _set("pop.opinion", 5.0, 4)),
    ("pop.activity", _set("pop.activity", -1.0)),
    ("pop.susceptibility", _set("pop.susceptibility", np.inf, 9)),
    ("pop.community", _set("pop.community", -5, 2)),
    ("pop.suspended", _float_suspended),
    ("posts.col_author", _set("posts.col_author", -1, 0)),
    ("posts.col_author", _set("posts.col_author", 600, -1)),
    ("posts.col_parent", _set("posts.col_parent", 10**9, -1)),
    ("posts.col_parent", _late_parent),
    ("posts.col_kind", _set("posts.col_kind", 9, 0)),
    ("posts.col_step", _set("posts.col_step", 99, -1)),
    ("posts.col_stance", _set("posts.col_stance", np.nan, 0)),
    ("posts.col_topic", _set("posts.col_topic", 7, 0)),
    ("posts.col_likes", _set("posts.col_likes", -5, 0)),
    ("posts.step_start", _step_start),
    ("posts.text_json", _text),
    ("posts.text_json", _text_bytes),
    ("cursor", _cursor_beyond),
    ("detector.rate", _set("detector.rate", np.nan, 0)),
    ("detector.strike_count", _set("detector.strike_count", -1, 0)),
    ("world.t", _meta("t", -5)),
    ("world.t", _meta("t", True)),
    ("world.t", _meta("t", 4.5)),
    ("world.t", _meta("t", _DROP)),
    ("world.rngs", _meta("rngs.citizen", "garbage")),
    ("world.rngs", _meta("rngs.opinion.state.state", -1)),
    ("world.rngs", _meta("rngs.opinion.bit_generator", "MT19937")),
    ("world.rngs", _meta("rngs.activation", _DROP)),
    ("world.phase_seconds", _meta("phase_seconds.feed", float("nan"))),
    ("world.phase_seconds", _meta("phase_seconds", [1, 2])),
]


@pytest.mark.parametrize(
    ("name", "change"), TAMPERINGS, ids=[f"{i}-{n}" for i, (n, _) in enumerate(TAMPERINGS)]
)
def test_tampered_values_are_one_line_errors(run, name, change):
    tamper(run, change)
    no_data = run.parent / "no-data"
    resumed = invoke("run", "--resume", run, "--steps", 8, "-q", "--no-plot", "--no-report")
    one_line_error(resumed, "checkpoint", name.removeprefix("world."))
    realism = invoke("realism", run, "--data", no_data)
    where = "latest.json" if name.startswith("world.") else ".npz"
    one_line_error(realism, where, "damaged checkpoint", name.removeprefix("world."))


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--resume", "{run}", "--steps", "8", "-q", "--no-plot", "--no-report"],
        ["realism", "{run}", "--data", "{no_data}"],
        ["report", "{run}", "--data", "{no_data}"],
    ],
    ids=["resume", "realism", "report"],
)
def test_the_segfault_of_the_audit_is_a_one_line_error(run, command):
    """Degrees far beyond the pool crashed a numba kernel: in a subprocess, so a crash
    fails this test instead of killing pytest."""
    tamper(run, _set("graph.out_deg", 10**6))
    no_data = run.parent / "no-data"
    args = [a.format(run=run, no_data=no_data) for a in command]
    done = subprocess.run(
        [sys.executable, "-m", "townsquare", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    err = done.stderr.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1, err
    assert "checkpoint" in err and "graph.out_deg" in err, err


def test_policy_arrays_are_checked_too(tmp_path):
    scenario = tmp_path / "rl.yaml"
    rl = SCENARIO | {"roles": SCENARIO["roles"] | {"citizen": {"expression": "social_rl"}}}
    scenario.write_text(yaml.safe_dump(rl))
    out = tmp_path / "run"
    result = invoke("run", scenario, "--out", out, "-q", "--no-plot", "--no-report", "--steps", 5)
    assert result.exit_code == 0, result.output
    tamper(out, _set("policy.citizen.q", np.nan, 3))
    resumed = invoke("run", "--resume", out, "--steps", 8, "-q", "--no-plot", "--no-report")
    one_line_error(resumed, "checkpoint", "policy.citizen.q", "not finite")


def test_latest_step_must_match_the_world(run):
    latest = run / "checkpoints" / "latest.json"
    meta = json.loads(latest.read_text())
    meta["step"] = 4
    latest.write_text(json.dumps(meta))
    with pytest.raises(Exception, match="latest.json step"):
        from townsquare.metrics.snapshot import RunSnapshot

        RunSnapshot.load(run)


def test_an_untouched_checkpoint_loads_and_resumes(run, template):
    arrays, world_meta, _ = RunStore(run).load_checkpoint()
    loaded = checked_state(arrays, world_meta)
    assert loaded.t == 5 and loaded.population.n == 600
    result = invoke("run", "--resume", run, "-q", "--no-plot", "--no-report")
    assert result.exit_code == 0, result.output


def test_follow_graph_state_round_trip_after_relocations():
    rng = np.random.default_rng(0)
    g = FollowGraph(50, rng.integers(0, 50, 300), rng.integers(0, 50, 300))
    for _ in range(5):  # blocks fill, move to the end of the pool, the pool grows
        g.follow(rng.integers(0, 50, 200), rng.integers(0, 50, 200))
        g.unfollow(rng.integers(0, 50, 50), rng.integers(0, 50, 50))
    h = FollowGraph.from_state({k: np.array(v, copy=True) for k, v in g.state().items()})
    assert [a.tolist() for a in h.edges()] == [a.tolist() for a in g.edges()]
    assert h.pool.shape == g.pool.shape


def test_post_store_checks_authors_and_topics_against_the_world():
    store = PostStore()
    store.add(np.array([3, 4]), 0, 0, np.zeros(2), np.array([0, 1]))
    store.end_step()
    state = store.state()
    assert len(PostStore.from_state(state, n_users=5, t=1, topics=2)) == 2
    with pytest.raises(ValueError, match="col_author"):
        PostStore.from_state(state, n_users=4)
    with pytest.raises(ValueError, match="col_topic"):
        PostStore.from_state(state, topics=1)
    with pytest.raises(ValueError, match="step_start"):
        PostStore.from_state(state, t=2)
