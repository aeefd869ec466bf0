"""`townsquare.experiments.jin2024`: the Q-learning influencer against baselines."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import yaml

from townsquare.experiments.jin2024 import (
    ARMS,
    BASELINE_ARMS,
    COLUMNS,
    Q_ARMS,
    Settings,
    answers,
    moving_average,
    run_arms,
    summary_table,
    tail_count,
    write_outputs,
)

TINY = {"name": "tiny", "users": 200, "steps": 10, "seed": 0, "roles": {"influencer": {"count": 3}}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Settings:
    path = tmp_path_factory.mktemp("jin") / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return Settings(seeds=2, episodes=6, seed=5, workers=1, scenario=str(path), tail=0.5)


@pytest.fixture(scope="module")
def rows(tiny) -> list[dict]:
    return run_arms(tiny)


def test_settings_defaults_and_quick():
    s = Settings()
    assert (s.seeds, s.episodes, s.seed, s.workers, s.scenario, s.tail) == (
        10,
        300,
        0,
        0,
        None,
        0.2,
    )
    q = Settings.quick(workers=1)
    assert (q.seeds, q.episodes, q.workers) == (3, 40, 1)
    assert Settings.quick(episodes=10).episodes == 10
    assert ARMS == Q_ARMS + BASELINE_ARMS
    assert ARMS == (
        "q_limited_self",
        "q_limited_noself",
        "q_full_self",
        "q_full_noself",
        "random",
        "fixed",
        "crowd",
    )


def test_rows_are_sorted_and_complete(rows, tiny):
    assert len(rows) == len(ARMS) * tiny.seeds * tiny.episodes
    assert all(tuple(r) == COLUMNS for r in rows)
    keys = [(ARMS.index(r["arm"]), r["seed"], r["episode"]) for r in rows]
    assert keys == sorted(keys)
    assert {r["seed"] for r in rows} == {5, 6}
    assert {r["episode"] for r in rows} == set(range(tiny.episodes))
    assert all(isinstance(r["leader"], bool) for r in rows)


def test_rows_do_not_depend_on_the_number_of_workers(rows, tiny):
    calls = []
    again = run_arms(replace(tiny, workers=2), progress=lambda k, n: calls.append((k, n)))
    assert again == rows
    total = len(ARMS) * tiny.seeds
    assert calls == [(k, total) for k in range(1, total + 1)]


def test_every_arm_meets_the_same_worlds(rows):
    # the learner's follower count at the start of an episode depends only on the world
    start = {}
    for r in rows:
        start.setdefault((r["seed"], r["episode"]), set()).add(r["followers"] - r["gained"])
    assert all(len(v) == 1 for v in start.values())


def test_learners_explore_less_over_time_and_baselines_never(rows):
    for arm in ARMS:
        for seed in (5, 6):
            eps = [r["epsilon"] for r in rows if r["arm"] == arm and r["seed"] == seed]
            if arm in Q_ARMS:
                assert eps[0] == 1.0
                assert all(a > b for a, b in zip(eps[:3], eps[1:4], strict=True))
                assert all(a >= b for a, b in zip(eps[:-1], eps[1:], strict=True))
                assert eps[-1] < eps[0]
            else:
                assert eps == [0.0] * len(eps)


def test_write_outputs(rows, tiny, tmp_path):
    table = summary_table(rows, tiny)
    ans = answers(table)
    paths = write_outputs(tmp_path / "out", rows, table, ans, tiny)
    assert set(paths) >= {"results", "summary", "answers", "learning_curves", "final_followers"}
    with open(tmp_path / "out" / "results.csv") as fh:
        reader = csv.DictReader(fh)
        written = list(reader)
        assert reader.fieldnames[:4] == ["arm", "seed", "episode", "followers"]
        assert set(reader.fieldnames) == set(COLUMNS)
    assert len(written) == len(ARMS) * tiny.seeds * tiny.episodes
    assert [int(r["followers"]) for r in written] == [r["followers"] for r in rows]
    with open(tmp_path / "out" / "summary.csv") as fh:
        summary = list(csv.DictReader(fh))
    assert [r["arm"] for r in summary] == list(ARMS)
    for r in summary:
        assert {
            "seeds",
            "final_mean",
            "ci_low",
            "ci_high",
            "spread",
            "within_std",
            "gained_mean",
            "leader_rate",
        } <= set(r)
        assert float(r["ci_low"]) <= float(r["final_mean"]) <= float(r["ci_high"])
        assert 0.0 <= float(r["leader_rate"]) <= 1.0
    doc = json.loads((tmp_path / "out" / "answers.json").read_text())
    assert {
        "best_baseline",
        "best_learner",
        "learner_beats_best_baseline",
        "margin",
        "cis_overlap",
        "most_stable_arm",
        "most_stable_is_limited_self",
        "spread",
        "settings",
    } <= set(doc)
    assert doc["best_baseline"] in BASELINE_ARMS
    assert doc["best_learner"] in Q_ARMS
    assert doc["most_stable_arm"] in Q_ARMS
    assert set(doc["spread"]) == set(Q_ARMS)
    assert doc["settings"]["episodes"] == tiny.episodes
    for png in ("learning_curves.png", "final_followers.png"):
        assert (tmp_path / "out" / png).read_bytes()[:4] == b"\x89PNG"


def test_default_scenario_one_seed(tmp_path):
    s = Settings(seeds=1, episodes=1, workers=1)
    rows = run_arms(s)
    assert len(rows) == len(ARMS)
    table = summary_table(rows, s)
    for r in table:
        assert r["seeds"] == 1
        assert r["ci_low"] == r["final_mean"] == r["ci_high"]
        assert math.isnan(r["spread"])
    ans = answers(table)
    assert ans["most_stable_arm"] is None
    assert all(v is None for v in ans["spread"].values())
    write_outputs(tmp_path, rows, table, ans, s)
    json.loads((tmp_path / "answers.json").read_text())  # NaN never reaches the JSON
    with open(tmp_path / "summary.csv") as fh:
        assert all(r["spread"] == "" for r in csv.DictReader(fh))


# -- summary_table and answers on hand-made rows ----------------------------------------


def make_rows(values: dict[str, list[list[float]]]) -> list[dict]:
    """``values[arm][seed][episode]`` followers -> rows (gained = followers - 10)."""
    rows = []
    for arm, seeds in values.items():
        for seed, series in enumerate(seeds):
            for episode, f in enumerate(series):
                rows.append(
                    {
                        "arm": arm,
                        "seed": seed,
                        "episode": episode,
                        "followers": f,
                        "gained": f - 10,
                        "ret": float(f - 10),
                        "leader": f >= 50,
                        "epsilon": 0.0,
                    }
                )
    return rows


def test_tail_count():
    assert tail_count(300, 0.2) == 60
    assert tail_count(40, 0.2) == 8
    assert tail_count(6, 0.2) == 1
    assert tail_count(6, 0.0) == 1
    assert tail_count(5, 1.0) == 5


def test_summary_table_uses_the_tail_only():
    s = Settings(tail=0.5)
    # early episodes are very different; only the last two of four count
    rows = make_rows(
        {
            "q_limited_self": [[0, 0, 40, 60], [1000, 1000, 50, 70]],
            "random": [[0, 0, 20, 20]],
        }
    )
    table = {r["arm"]: r for r in summary_table(rows, s)}
    q = table["q_limited_self"]
    assert q["seeds"] == 2
    assert q["final_mean"] == pytest.approx(55.0)  # seed means 50 and 60
    assert q["spread"] == pytest.approx(np.std([50, 60], ddof=1))
    half = 12.706204736174707 * np.std([50, 60], ddof=1) / math.sqrt(2)
    assert q["ci_low"] == pytest.approx(55 - half)
    assert q["ci_high"] == pytest.approx(55 + half)
    assert q["within_std"] == pytest.approx(np.std([40, 60], ddof=1))
    assert q["gained_mean"] == pytest.approx(45.0)
    assert q["leader_rate"] == pytest.approx(0.75)  # 60, 50, 70 of 40, 60, 50, 70
    r = table["random"]
    assert r["final_mean"] == r["ci_low"] == r["ci_high"] == 20.0
    assert math.isnan(r["spread"])
    assert r["within_std"] == 0.0
    assert [t["arm"] for t in summary_table(rows, s)] == ["q_limited_self", "random"]


def test_answers_learner_beats_baselines_and_stability():
    s = Settings(tail=1.0)
    # every arm of a seed meets the same world: w is the world's luck, shared by all arms;
    # n moves two arms in opposite directions, so the world means stay 1/7 sum(base) + w
    w, n = np.array([0, 10, 20]), np.array([-10, 0, 10])

    def arm(values):
        return [[float(v), float(v)] for v in values]

    rows = make_rows(
        {
            "q_limited_self": arm(100 + w),  # the world's luck only: stable
            "q_limited_noself": arm(60 + w + n),
            "q_full_self": arm(120 + w - n),  # best, and flat in raw followers
            "q_full_noself": arm(30 + w),
            "random": arm(20 + w),
            "fixed": arm(31 + w),
            "crowd": arm(26 + w),
        }
    )
    table = summary_table(rows, s)
    ans = answers(table)
    assert ans["best_baseline"] == "fixed"
    assert ans["best_learner"] == "q_full_self"
    assert ans["learner_beats_best_baseline"] is True
    assert ans["margin"] == pytest.approx(130 - 41)
    assert ans["cis_overlap"] is False
    # raw spread would call q_full_self stable; relative to the world it is the least so
    assert ans["spread"]["q_full_self"] == 0.0
    assert ans["spread"]["q_limited_self"] == pytest.approx(10.0)
    assert ans["relative_spread"]["q_limited_self"] == pytest.approx(0.0, abs=1e-9)
    assert ans["relative_spread"]["q_full_self"] == pytest.approx(10.0)
    assert ans["stability_measure"] == "relative_spread"
    assert ans["most_stable_arm"] == "q_limited_self"
    assert ans["most_stable_is_limited_self"] is True
    by_arm = {r["arm"]: r for r in table}
    assert by_arm["q_limited_self"]["relative_mean"] == pytest.approx(100 - 387 / 7)
    json.dumps(ans)


def test_answers_when_baselines_win():
    s = Settings(tail=1.0)
    rows = make_rows(
        {
            "q_limited_self": [[10], [40]],
            "q_full_noself": [[17], [31]],  # most stable relative to the world
            "crowd": [[40], [60]],
        }
    )
    ans = answers(summary_table(rows, s))
    assert ans["best_baseline"] == "crowd"
    assert ans["best_learner"] == "q_limited_self"
    assert ans["learner_beats_best_baseline"] is False
    assert ans["margin"] == pytest.approx(25 - 50)
    assert ans["cis_overlap"] is True  # two seeds: very wide intervals
    assert ans["most_stable_arm"] == "q_full_noself"
    assert ans["most_stable_is_limited_self"] is False


def test_moving_average():
    y = np.array([[1.0, 2, 3, 4, 5], [0, 0, 0, 0, 10]])
    assert moving_average(y, 2).tolist() == [[1, 1.5, 2.5, 3.5, 4.5], [0, 0, 0, 0, 5]]
    assert moving_average(y, 1).tolist() == y.tolist()
    assert moving_average(y, 10)[0].tolist() == [1, 1.5, 2, 2.5, 3]
