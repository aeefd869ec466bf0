"""Keeping freed memory while a run steps changes where bytes live, never a value; the
slot masks the world reads in compiled passes are checked for being masks."""

from __future__ import annotations

import hashlib
import threading

import numpy as np
import pytest

from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.world import memory


def _events_digest(keep: bool) -> str:
    world, _ = build_world(load_scenario("default", ["users=2000", "steps=6"]))
    digest = hashlib.sha256()
    context = memory.steps_keep_memory() if keep else threading.Lock()
    with context:
        for _ in range(6):
            ev = world.step()
            for name in ("post_id", "post_author", "post_stance", "like_post", "follow_dst"):
                digest.update(np.ascontiguousarray(getattr(ev, name)).tobytes())
    return digest.hexdigest()


def test_the_same_steps_with_and_without_kept_memory():
    assert _events_digest(keep=True) == _events_digest(keep=False)


@pytest.mark.skipif(memory._LIBC is None, reason="the C library is not glibc")
def test_nested_and_threaded_uses_restore_the_defaults_once_all_leave():
    assert not memory.active()
    with memory.steps_keep_memory():
        assert memory.active()
        with memory.steps_keep_memory():
            big = np.ones(50_000_000 // 8)  # above glibc's mmap threshold
            del big
        assert memory.active()  # the outer run still steps
    assert not memory.active()
    # two runs in threads (the dashboard's page runs)
    inside = threading.Barrier(2)
    seen = []

    def run():
        with memory.steps_keep_memory():
            inside.wait()
            seen.append(memory.active())
            inside.wait()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [True, True] and not memory.active()


def test_a_run_steps_inside_it(tmp_path, monkeypatch):
    from townsquare.runner import Run

    seen = []
    scenario = load_scenario("default", ["users=300", "steps=2"])
    run = Run.start(scenario, tmp_path / "run")
    run.execute(on_step=lambda row: seen.append(memory.active() or memory._LIBC is None))
    assert seen == [True, True] and not memory.active()


@pytest.mark.parametrize("name", ["like", "repost", "reply"])
def test_slot_masks_must_be_bool(name):
    """The world reads a mask's slots in a compiled pass: 2, 0.5 or NaN are refused
    rather than read as 'set'."""
    from townsquare.world.actions import Actions

    actions = Actions.nothing(3, 4)
    setattr(actions, name, np.ones((3, 4), np.int64))
    with pytest.raises(ValueError, match=f"Actions.{name} must be a bool array"):
        actions.check(3, 4, 1)


def test_users_who_tune_malloc_keep_their_settings(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    assert memory._glibc() is None


def test_zeros_on_small_pages_are_zeros_and_leave_numpys_setting():
    """The post store's columns are made without asking for huge pages; numpy's own
    setting is as it was afterwards, and the array is numpy's zeros."""
    get = memory._set_huge_pages
    if get is None:
        pytest.skip("this numpy has no switch for huge pages")
    before = get(True)
    try:
        a = memory.zeros_small_pages(3 << 20, np.int32)
        assert a.dtype == np.int32 and a.shape == (3 << 20,) and not a.any()
        assert get(True) is True  # restored: get() returns the value it replaced
        get(False)
        memory.zeros_small_pages(10, np.float64)
        assert get(False) is False
    finally:
        get(before)


def test_the_post_store_lives_on_small_pages(monkeypatch):
    from townsquare.world.posts import PostStore

    made = []
    real = memory.zeros_small_pages
    monkeypatch.setattr(
        "townsquare.world.posts.zeros_small_pages",
        lambda shape, dtype: made.append(dtype) or real(shape, dtype),
    )
    store = PostStore(capacity=64)
    store.reserve(4096)
    assert len(made) == 2 * len(store._cols)
