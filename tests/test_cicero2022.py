"""`townsquare reproduce cicero2022` (experiments/cicero2022.py), on a tiny race."""

from __future__ import annotations

import csv
import json

import pytest

from cli_checks import invoke, one_line_error
from townsquare.experiments import cicero2022 as c

TINY = c.Settings(seeds=2, workers=1, users=300, horizon=2, rollouts=1, plan_every=10)


@pytest.fixture(scope="module")
def rows():
    return c.run_arms(TINY)


def test_every_arm_runs_on_every_seed_with_its_columns(rows):
    assert [(r["arm"], r["seed"]) for r in rows] == [(a, s) for a in c.ARMS for s in (0, 1)]
    for r in rows:
        assert set(r) == set(c.COLUMNS)
        assert 0 < r["vote_share"] < 1 and r["vote_share"] + r["opponent_share"] == pytest.approx(1)


def test_the_arms_differ_as_they_should(rows):
    by = {(r["arm"], r["seed"]): r for r in rows}
    for seed in (0, 1):
        scripted = by["scripted", seed]
        assert scripted["decisions"] == 0 and scripted["kl_to_anchor"] == 0
        assert scripted["drift"] == 0  # the scripted candidate never moves
        assert by["anchor", seed]["kl_to_anchor"] == pytest.approx(0.0, abs=1e-12)
        assert by["anchor", seed]["decisions"] == 4  # steps 0, 10, 20, 30
        # a tiny lambda leaves the anchor further than a large one
        assert by["argmax", seed]["kl_to_anchor"] > by["pikl_1", seed]["kl_to_anchor"]


def test_a_task_is_deterministic():
    assert c.run_task(("pikl_0.01", 3, TINY)) == c.run_task(("pikl_0.01", 3, TINY))


def test_the_summary_pairs_every_arm_with_scripted_by_seed(rows):
    table = c.summary_table(rows)
    by = {r["arm"]: r for r in table}
    assert list(by) == list(c.ARMS)
    assert by["scripted"]["vs_scripted"] == 0 and by["scripted"]["vs_ci_low"] == 0
    diffs = [
        a["vote_share"] - s["vote_share"]
        for a in rows
        if a["arm"] == "argmax"
        for s in rows
        if s["arm"] == "scripted" and s["seed"] == a["seed"]
    ]
    assert by["argmax"]["vs_scripted"] == pytest.approx(sum(diffs) / len(diffs))
    ans = c.answers(table)
    assert ans["best_moderate_arm"] in ("pikl_0.01", "pikl_0.1")
    assert isinstance(ans["kl_falls_as_lambda_grows"], bool)
    assert ans["strongest_planner"] in (*c.PIKL_ARMS, "argmax")


def test_the_outputs_are_written(rows, tmp_path):
    table = c.summary_table(rows)
    paths = c.write_outputs(tmp_path, rows, table, c.answers(table), TINY)
    with open(paths["results"]) as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == c.COLUMNS
        assert len(list(reader)) == len(rows)
    doc = json.loads(paths["answers"].read_text())
    assert doc["settings"]["rollouts"] == 1
    for name in ("tradeoff", "vote_share"):
        assert paths[name].read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--runs", "5"], "--runs does not apply to cicero2022"),
        (["--episodes", "5"], "--episodes does not apply to cicero2022"),
        (["--seeds", "1001"], "--seeds 1001: at most 1,000"),
    ],
)
def test_bad_options_are_one_line(tmp_path, args, fragment):
    one_line_error(invoke("reproduce", "cicero2022", *args, "--out", tmp_path / "o"), fragment)
