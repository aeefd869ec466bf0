"""PostStore: appending, growth, counters, step bookkeeping and state round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from townsquare.world import PostKind, PostStore

COLUMNS = (
    "author",
    "step",
    "kind",
    "parent",
    "stance",
    "topic",
    "likes",
    "reposts",
    "replies",
    "views",
)


def add_batch(store: PostStore, rng: np.random.Generator, m: int, step: int, text=None):
    author = rng.integers(0, 1000, m)
    stance = rng.uniform(-1, 1, m)
    topic = rng.integers(0, 5, m)
    kind = rng.integers(0, 3, m)
    parent = np.where(kind == PostKind.POST, -1, rng.integers(0, max(len(store), 1), m))
    ids = store.add(author, step, kind, stance, topic, parent=parent, text=text)
    return ids, {
        "author": author,
        "step": np.full(m, step),
        "kind": kind,
        "parent": parent,
        "stance": stance,
        "topic": topic,
    }


def test_add_returns_consecutive_ids_and_defaults():
    store = PostStore(capacity=4)
    assert len(store) == 0
    assert store.author.shape == (0,)
    ids = store.add(
        np.array([7, 8, 9]), 0, PostKind.POST, np.array([0.5, -0.5, 0.0]), np.array([1, 2, 3])
    )
    assert ids.tolist() == [0, 1, 2] and ids.dtype == np.int64
    ids = store.add(np.array([4]), 1, PostKind.REPLY, 0.25, 0, parent=np.array([1]))
    assert ids.tolist() == [3]
    assert len(store) == 4
    assert store.author.tolist() == [7, 8, 9, 4]
    assert store.step.tolist() == [0, 0, 0, 1]
    assert store.kind.tolist() == [0, 0, 0, 2]
    assert store.parent.tolist() == [-1, -1, -1, 1]
    assert store.stance.tolist() == [0.5, -0.5, 0.0, 0.25]
    for counter in ("likes", "reposts", "replies", "views"):
        assert getattr(store, counter).tolist() == [0, 0, 0, 0]
    assert store.add(np.array([], np.int64), 1, 0, np.array([]), np.array([])).size == 0
    assert len(store) == 4
    with pytest.raises(AttributeError):
        _ = store.no_such_column


def test_growing_beyond_capacity_keeps_data():
    rng = np.random.default_rng(0)
    store = PostStore(capacity=16)
    expected = {name: [] for name in ("author", "step", "kind", "parent", "stance", "topic")}
    total = 0
    for step, m in enumerate([5, 11, 0, 1, 40, 3, 200, 17]):
        ids, cols = add_batch(store, rng, m, step)
        assert ids.tolist() == list(range(total, total + m))
        total += m
        for name, values in cols.items():
            expected[name].extend(values.tolist())
        # counters set before a growth survive it
        store.count("likes", ids)
        for name, values in expected.items():
            assert np.array_equal(getattr(store, name), np.array(values)), name
        assert store.likes.tolist() == [1] * total
    assert len(store) == total == 277
    assert store._cols["author"].shape[0] >= total


def test_reserving_room_keeps_data_and_spares_later_growth():
    rng = np.random.default_rng(1)
    store = PostStore(capacity=16)
    ids, cols = add_batch(store, rng, 10, 0)
    store.count("likes", ids[:3])
    store.reserve(500)
    columns = store._cols["author"]
    assert columns.shape[0] == 500 and len(store) == 10
    for name, values in cols.items():
        assert np.array_equal(getattr(store, name), values), name
    assert store.likes.tolist() == [1, 1, 1] + [0] * 7
    store.reserve(100)  # less than there is: nothing moves
    for step in range(1, 20):
        add_batch(store, rng, 20, step)
    assert len(store) == 390 and store._cols["author"] is columns  # never copied


def test_a_copy_holds_the_posts_not_the_reserved_room():
    """A forked world (planners fork every step) copies the posts, not a run's reserve."""
    import copy

    rng = np.random.default_rng(2)
    store = PostStore(capacity=16)
    ids, _ = add_batch(store, rng, 30, 0)
    store.count("likes", ids[:2])
    store.text[3] = "words"
    store.end_step()
    store.reserve(1_000_000)
    clone = copy.deepcopy(store)
    assert clone._cols["author"].shape[0] < 100
    for name in store._cols:
        assert np.array_equal(getattr(clone, name), getattr(store, name)), name
    assert clone.step_start == store.step_start and clone.text == store.text
    add_batch(clone, rng, 500, 1)  # the copy grows on its own
    assert len(clone) == 530 and len(store) == 30 and store.text == {3: "words"}


def test_count_adds_one_per_occurrence():
    store = PostStore()
    store.add(np.arange(10), 0, 0, np.zeros(10), np.zeros(10))
    store.count("likes", np.array([3, 3, 5, 3, 9]))
    assert store.likes.tolist() == [0, 0, 0, 3, 0, 1, 0, 0, 0, 1]
    store.count("likes", np.array([3]))
    assert store.likes[3] == 4
    store.count("views", np.array([], np.int64))
    assert store.views.sum() == 0
    assert store.reposts.sum() == 0 and store.replies.sum() == 0


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    batches=st.lists(st.lists(st.integers(0, 59), max_size=30), max_size=6),
    counter=st.sampled_from(["likes", "reposts", "replies", "views"]),
)
def test_count_matches_bincount(batches, counter):
    store = PostStore(capacity=16)
    store.add(np.zeros(60, np.int64), 0, 0, np.zeros(60), np.zeros(60))
    expected = np.zeros(60, np.int64)
    for batch in batches:
        ids = np.array(batch, np.int64)
        store.count(counter, ids)
        expected += np.bincount(ids, minlength=60)
    assert getattr(store, counter).tolist() == expected.tolist()
    for other in {"likes", "reposts", "replies", "views"} - {counter}:
        assert getattr(store, other).sum() == 0


def test_step_start_and_window_start():
    rng = np.random.default_rng(1)
    store = PostStore(capacity=8)
    sizes = [3, 0, 5, 2, 0, 0, 7, 1]
    for t, m in enumerate(sizes):
        # during step t, step_start holds the first id of every step up to t
        assert store.step_start == [0, *np.cumsum(sizes[:t]).tolist()]
        add_batch(store, rng, m, t)
        store.end_step()
    starts = [0, *np.cumsum(sizes).tolist()]
    assert store.step_start == starts
    for t in range(len(sizes)):
        rows = np.arange(store.step_start[t], store.step_start[t + 1])
        assert np.all(store.step[rows] == t)
        assert rows.size == sizes[t]
    for step in range(len(sizes) + 1):
        for window in range(0, len(sizes) + 3):
            lo = store.window_start(step, window)
            assert lo == starts[max(0, step - window)]
            # the first post written at or after step - window
            later = np.flatnonzero(store.step >= step - window)
            assert lo == (later[0] if later.size else len(store))


def test_state_round_trip_including_text():
    rng = np.random.default_rng(2)
    store = PostStore(capacity=16)
    texts = [None, "hello", "", "caf\u00e9 \u2615 \U0001f600", None, "line\nbreak"]
    add_batch(store, rng, 6, 0, text=texts)
    store.end_step()
    add_batch(store, rng, 30, 1)
    add_batch(store, rng, 2, 1, text=["a much longer text " * 20, None])
    store.count("views", np.array([0, 1, 1, 35]))
    store.count("replies", np.array([2]))
    store.end_step()
    expected_text = {
        1: "hello",
        2: "",
        3: "caf\u00e9 \u2615 \U0001f600",
        5: "line\nbreak",
        36: "a much longer text " * 20,
    }
    assert store.text == expected_text

    state = {k: np.array(v, copy=True) for k, v in store.state().items()}
    restored = PostStore.from_state(state)
    assert len(restored) == len(store) == 38
    for name in COLUMNS:
        a, b = getattr(store, name), getattr(restored, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert restored.step_start == store.step_start == [0, 6, 38]
    assert restored.text == expected_text
    for key, value in restored.state().items():
        assert np.array_equal(value, state[key]), key

    # both keep behaving identically, including growth past the restored capacity
    for s in (store, restored):
        r = np.random.default_rng(3)
        add_batch(s, r, 100, 2, text=[None] * 99 + ["last"])
        s.count("likes", np.array([0, 137, 137]))
        s.end_step()
    for name in COLUMNS:
        assert np.array_equal(getattr(store, name), getattr(restored, name)), name
    assert restored.text == store.text and store.text[137] == "last"
    assert restored.step_start == store.step_start
    assert restored.window_start(3, 1) == store.window_start(3, 1) == 38


def test_state_round_trip_of_an_empty_store():
    store = PostStore()
    restored = PostStore.from_state(store.state())
    assert len(restored) == 0 and restored.text == {} and restored.step_start == [0]
    assert restored.add(np.array([1]), 0, 0, np.zeros(1), np.zeros(1)).tolist() == [0]


def test_state_round_trip_keeps_text_ending_in_nul():
    store = PostStore()
    store.add(np.array([1, 2]), 0, 0, np.zeros(2), np.zeros(2), text=["ends in nul\x00", "x"])
    restored = PostStore.from_state(store.state())
    assert restored.text == store.text


def test_add_with_wrong_number_of_texts_changes_nothing():
    store = PostStore()
    with pytest.raises(ValueError):
        store.add(np.array([1, 2]), 0, 0, np.zeros(2), np.zeros(2), text=["a", "b", "c"])
    assert len(store) == 0
    assert store.text == {}
    # a later batch without text must not inherit texts from the failed one
    store.add(np.array([3, 4]), 0, 0, np.zeros(2), np.zeros(2))
    assert store.text == {}
