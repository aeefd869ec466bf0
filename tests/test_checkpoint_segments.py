"""Checkpoints keep settled posts in segments written once (store.save_checkpoint): the
world they restore, a resume, damage and --overwrite are as with one file."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from cli_checks import invoke, one_line_error
from resume_checks import assert_resume_is_exact
from townsquare import store as store_module
from townsquare.config import load_scenario
from townsquare.runner import Run, RunInterrupted
from townsquare.store import RunStore
from townsquare.world.posts import PostStore


@pytest.fixture
def segmented(monkeypatch):
    """Every settled row is worth a segment (a real run needs 2^20 of them)."""
    monkeypatch.setattr(store_module, "SEGMENT_MIN_ROWS", 1)


def _scenario(small_scenario, **overrides):
    sets = [f"{k}={v}" for k, v in {"steps": 12, "record.flush_every": 2, **overrides}.items()]
    return load_scenario(str(small_scenario), sets)


def _latest(run_dir):
    return json.loads((run_dir / "checkpoints" / "latest.json").read_text())


def _segment_files(run_dir):
    return sorted(p.name for p in (run_dir / "checkpoints").glob("posts-*.npz"))


def test_a_run_keeps_its_settled_posts_in_segments_that_restore_the_same_world(
    small_scenario, tmp_path, segmented, monkeypatch
):
    sc = _scenario(small_scenario)
    Run.start(sc, tmp_path / "seg").execute()
    latest = _latest(tmp_path / "seg")
    segments = latest["post_segments"]
    # one segment a flush, each from where the one before it ends; only those are kept
    assert len(segments) >= 4
    assert [s["start"] for s in segments] == [0] + [s["end"] for s in segments[:-1]]
    assert _segment_files(tmp_path / "seg") == sorted(s["file"] for s in segments)
    with np.load(tmp_path / "seg" / "checkpoints" / latest["file"]) as own:
        tail = own["posts.col_author"].shape[0]
    monkeypatch.setattr(store_module, "SEGMENT_MIN_ROWS", 1 << 60)
    Run.start(sc, tmp_path / "one").execute()
    assert "post_segments" not in _latest(tmp_path / "one")
    assert _segment_files(tmp_path / "one") == []
    whole, _, _ = RunStore(tmp_path / "one").load_checkpoint()
    joined, _, _ = RunStore(tmp_path / "seg").load_checkpoint()
    assert tail == whole["posts.col_author"].shape[0] - segments[-1]["end"]
    assert sorted(whole) == sorted(joined)
    for key in whole:
        assert (
            whole[key].dtype == joined[key].dtype and whole[key].tobytes() == joined[key].tobytes()
        ), key
    for name in ("metrics.parquet", "users.parquet", "graph.parquet"):
        assert (tmp_path / "seg" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_a_run_resumed_from_segments_ends_as_one_that_ran_through(
    small_scenario, tmp_path, segmented
):
    assert_resume_is_exact(_scenario(small_scenario), tmp_path, stop_after=6)
    # the stop flushed at step 7, off the reference's even steps: other segments, one world
    stopped, ref = (_latest(tmp_path / d)["post_segments"] for d in ("stopped", "ref"))
    assert stopped != ref and stopped[-1]["end"] == ref[-1]["end"]
    a, _, _ = RunStore(tmp_path / "stopped").load_checkpoint()
    b, _, _ = RunStore(tmp_path / "ref").load_checkpoint()
    assert all(a[key].tobytes() == b[key].tobytes() for key in a if key.startswith("posts."))


def _columns(rows, scale=1):
    return {
        "posts.col_a": np.arange(rows, dtype=np.int64) * scale,
        "posts.col_b": np.arange(rows, dtype=np.float64),
        "other": np.array([rows]),
    }


def test_rows_changed_since_the_last_checkpoint_are_written_again(tmp_path, segmented):
    store = RunStore(tmp_path)
    save = store.save_checkpoint
    save(_columns(100), "{}", {"step": 1}, clean_rows=0, settled_rows=40)
    assert [s["file"] for s in _latest(tmp_path)["post_segments"]] == [
        "posts-000000000000-000000000040-00000001.npz"
    ]
    # nothing changed: the segment is named again and a new one follows it
    save(_columns(150), "{}", {"step": 2}, clean_rows=100, settled_rows=90)
    assert [(s["start"], s["end"]) for s in _latest(tmp_path)["post_segments"]] == [
        (0, 40),
        (40, 90),
    ]
    # row 50 changed: the segment holding it is written again, with what follows
    changed = _columns(160)
    changed["posts.col_a"][50] = -7
    save(changed, "{}", {"step": 3}, clean_rows=50, settled_rows=120)
    assert [s["file"] for s in _latest(tmp_path)["post_segments"]] == [
        "posts-000000000000-000000000040-00000001.npz",
        "posts-000000000040-000000000120-00000003.npz",
    ]
    assert _segment_files(tmp_path) == [
        "posts-000000000000-000000000040-00000001.npz",
        "posts-000000000040-000000000120-00000003.npz",
    ]
    arrays, _, meta = RunStore(tmp_path).load_checkpoint()
    assert meta["file"] == "world-00000003.npz"
    for key, value in changed.items():
        assert np.array_equal(arrays[key], value), key
    # a resumed store goes on from the segments latest.json names
    resumed = RunStore(tmp_path)
    resumed.load_checkpoint()
    resumed.save_checkpoint(_columns(170), "{}", {"step": 4}, clean_rows=40, settled_rows=40)
    assert [s["end"] for s in _latest(tmp_path)["post_segments"]] == [40]


def test_few_settled_rows_stay_in_the_checkpoint_file(tmp_path):
    RunStore(tmp_path).save_checkpoint(_columns(100), "{}", {"step": 1}, settled_rows=90)
    assert "post_segments" not in _latest(tmp_path)
    assert _segment_files(tmp_path) == []


def test_a_failed_checkpoint_leaves_the_previous_one_and_no_new_segment(
    tmp_path, segmented, monkeypatch
):
    store = RunStore(tmp_path)
    store.save_checkpoint(_columns(100), "{}", {"step": 1}, settled_rows=40)
    before = _latest(tmp_path)
    real = np.savez
    calls = []

    def full_disk(fh, **arrays):
        calls.append(sorted(arrays))
        if len(calls) == 2:  # the segment is written, then the world file fails
            raise OSError(28, "No space left on device")
        real(fh, **arrays)

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="world-00000002.npz.tmp"):
        store.save_checkpoint(_columns(150), "{}", {"step": 2}, clean_rows=100, settled_rows=90)
    assert _latest(tmp_path) == before
    assert _segment_files(tmp_path) == ["posts-000000000000-000000000040-00000001.npz"]
    arrays, _, _ = RunStore(tmp_path).load_checkpoint()
    assert np.array_equal(arrays["posts.col_a"], np.arange(100))


@pytest.fixture
def seg_run(small_scenario, tmp_path, segmented):
    out = tmp_path / "run"
    Run.start(_scenario(small_scenario, steps=8), out).execute()
    return out


def _resume(run_dir):
    return invoke("run", "--resume", run_dir, "--steps", 10, "-q", "--no-plot", "--no-report")


def test_a_missing_or_damaged_segment_is_one_line_naming_it(seg_run):
    first = seg_run / "checkpoints" / _latest(seg_run)["post_segments"][0]["file"]
    kept = first.read_bytes()
    first.write_bytes(kept[: len(kept) // 2])
    one_line_error(_resume(seg_run), first.name, "damaged checkpoint")
    first.unlink()
    one_line_error(_resume(seg_run), first.name, "missing")


@pytest.mark.parametrize(
    "change",
    [
        lambda segs: segs[1:],  # does not start at row 0
        lambda segs: [{**segs[0], "end": segs[0]["end"] + 1}, *segs[1:]],  # name disagrees
        lambda segs: [{**segs[0], "file": "../escape.npz"}],
        lambda segs: "posts",
    ],
)
def test_a_forged_segment_list_is_a_damaged_latest_json(seg_run, change):
    latest = _latest(seg_run)
    latest["post_segments"] = change(copy.deepcopy(latest["post_segments"]))
    (seg_run / "checkpoints" / "latest.json").write_text(json.dumps(latest))
    one_line_error(_resume(seg_run), "latest.json", "damaged")


def test_a_segment_of_other_columns_or_rows_is_damaged(seg_run):
    seg = _latest(seg_run)["post_segments"][0]
    path = seg_run / "checkpoints" / seg["file"]
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["posts.col_author"] = arrays["posts.col_author"][1:]
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    one_line_error(_resume(seg_run), path.name, "damaged checkpoint", "rows")


def test_checkpoints_and_overwrite_remove_only_names_a_checkpoint_gives(seg_run, small_scenario):
    mine = [
        seg_run / "checkpoints" / name
        for name in ("posts-notes.npz", "posts-1.txt", "world-backup.npz", "world-1.npz.tmp")
    ]
    for path in mine:
        path.write_text("mine")
    assert _resume(seg_run).exit_code == 0  # checkpoints at steps 8 and 10 remove old files
    assert all(path.read_text() == "mine" for path in mine)
    result = invoke("run", small_scenario, "--out", seg_run, "--overwrite", "-q", "--no-plot",
                    "--no-report", "--steps", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _segment_files(seg_run) == ["posts-notes.npz"]
    assert all(path.read_text() == "mine" for path in mine)


def test_the_post_store_knows_which_rows_it_changed():
    posts = PostStore()
    posts.add(np.arange(10), 0, 0, 0.0, 0)
    assert posts.clean_rows == 0
    posts.mark_clean()
    assert posts.clean_rows == 10
    posts.add(np.arange(5), 1, 0, 0.0, 0)
    assert posts.clean_rows == 10  # new rows lie past the clean ones
    posts.count("likes", np.array([12, 7, 13]))
    assert posts.clean_rows == 7
    posts.mark_clean()
    posts.count_shown("views", np.array([[-1, 14], [9, -1]]))
    assert posts.clean_rows == 9
    posts.mark_clean()
    posts.count_shown("views", np.full((2, 3), -1))
    assert posts.clean_rows == 15
    assert copy.deepcopy(posts).clean_rows == 15


@pytest.mark.parametrize("links", [True, False])
def test_the_start_is_the_step_0_checkpoint_linked_or_copied(
    small_scenario, tmp_path, monkeypatch, links
):
    if not links:  # a file system without hard links

        def no_links(src, dst):
            raise OSError(1, "Operation not permitted")

        monkeypatch.setattr(store_module.os, "link", no_links)
    out = tmp_path / "run"
    Run.start(_scenario(small_scenario, steps=4), out).execute()
    start = out / "checkpoints" / "start.npz"
    assert not (out / "checkpoints" / "world-00000000.npz").exists()
    arrays, _, meta = RunStore(out).load_start()
    assert meta["step"] == 0 and arrays["posts.col_author"].shape == (0,)
    assert start.stat().st_nlink == 1


def test_a_checkpoint_is_committed_once_latest_json_names_it(tmp_path, segmented, monkeypatch):
    store = RunStore(tmp_path)
    store.save_checkpoint(_columns(100), "{}", {"step": 1}, settled_rows=40)
    real_unlink = type(tmp_path).unlink

    def stuck(path, missing_ok=False):  # removing the old files fails after the commit
        if path.name == "world-00000001.npz":
            raise PermissionError(13, "Permission denied", str(path))
        return real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(type(tmp_path), "unlink", stuck)
    store.save_checkpoint(_columns(150), "{}", {"step": 2}, clean_rows=100, settled_rows=90)
    assert store.committed_step == 2 and _latest(tmp_path)["file"] == "world-00000002.npz"
    monkeypatch.undo()
    arrays, _, _ = RunStore(tmp_path).load_checkpoint()
    assert np.array_equal(arrays["posts.col_a"], np.arange(150))
    store.save_checkpoint(_columns(160), "{}", {"step": 3}, clean_rows=150, settled_rows=90)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("world-*")) == [
        "world-00000003.npz"
    ]


def test_a_run_whose_old_checkpoint_cannot_be_removed_goes_on(
    small_scenario, tmp_path, segmented, monkeypatch
):
    sc = _scenario(small_scenario)
    Run.start(sc, tmp_path / "ref").execute()
    real_unlink = type(tmp_path).unlink
    failed = []

    def once(path, missing_ok=False):
        if path.name == "world-00000004.npz" and not failed:
            failed.append(path)
            raise PermissionError(13, "Permission denied", str(path))
        return real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(type(tmp_path), "unlink", once)
    run = Run.start(sc, tmp_path / "run")
    with pytest.raises(RunInterrupted):
        run.execute(on_step=lambda row: row["step"] == 6 and run.request_stop())
    monkeypatch.undo()
    assert failed
    Run.resume(tmp_path / "run").execute()
    for name in ("metrics.parquet", "users.parquet", "graph.parquet"):
        assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "ref" / name).read_bytes()


def test_a_failed_latest_json_leaves_the_previous_checkpoint_and_its_segments(
    tmp_path, segmented, monkeypatch
):
    store = RunStore(tmp_path)
    store.save_checkpoint(_columns(100), "{}", {"step": 1}, settled_rows=40)

    def full_disk(path, data):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(store_module, "_atomic_write", full_disk)
    with pytest.raises(OSError):
        store.save_checkpoint(_columns(150), "{}", {"step": 2}, clean_rows=100, settled_rows=90)
    assert store.committed_step is None
    assert _segment_files(tmp_path) == ["posts-000000000000-000000000040-00000001.npz"]
    arrays, _, meta = RunStore(tmp_path).load_checkpoint()
    assert meta["file"] == "world-00000001.npz"
    assert np.array_equal(arrays["posts.col_a"], np.arange(100))


def test_only_names_made_of_ascii_digits_are_segments_and_links_stay(seg_run, small_scenario):
    checkpoints = seg_run / "checkpoints"
    wide = checkpoints / (
        "posts-" + "\uff10" * 12 + "-" + "\uff10" * 12 + "-" + "\uff10" * 8 + ".npz"
    )
    wide.write_text("mine")
    target = seg_run.parent / "elsewhere.npz"
    target.write_text("mine too")
    link = checkpoints / "posts-000000000000-000000000001-00000099.npz"
    link.symlink_to(target)
    result = invoke("run", small_scenario, "--out", seg_run, "--overwrite", "-q", "--no-plot",
                    "--no-report", "--steps", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert wide.read_text() == "mine" and link.is_symlink() and target.read_text() == "mine too"


def _rewrite(path, change):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def test_a_world_file_with_post_columns_of_another_shape_is_damaged(seg_run):
    world = seg_run / "checkpoints" / _latest(seg_run)["file"]
    _rewrite(world, lambda a: a.update({"posts.col_kind": np.int8(0)}))
    one_line_error(_resume(seg_run), world.name, "damaged checkpoint", "posts.col_kind")


def test_a_bad_value_in_a_segment_names_the_segments(seg_run):
    segments = _latest(seg_run)["post_segments"]
    first = seg_run / "checkpoints" / segments[0]["file"]

    def bad_kind(arrays):
        arrays["posts.col_kind"] = np.full_like(arrays["posts.col_kind"], 9)

    _rewrite(first, bad_kind)
    one_line_error(_resume(seg_run), "posts.col_kind", segments[0]["file"], segments[-1]["file"])


def test_stances_read_from_words_are_changes_a_checkpoint_sees():
    posts = PostStore()
    posts.add(np.arange(6), 0, 0, 0.0, 0)
    posts.mark_clean()
    posts.restate(np.array([4, 3]), np.array([0.5, -0.5]))
    assert posts.clean_rows == 3
    assert posts.stance.tolist() == [0, 0, 0, -0.5, 0.5, 0]
