"""A feed experiment in the platform (``feed.experiment``) and the Guess et al. (2023)
reproduction built on it (townsquare/experiments/guess2023.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_checks import invoke, one_line_error
from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.experiments import guess2023 as g
from townsquare.world import Role

START = 4


def world_with(*extra):
    lines = ["users=800", "steps=12", "seed=3", *extra]
    return build_world(load_scenario("learned", lines))[0]


def experiment(share=0.3):
    return world_with(f"feed.experiment.share={share}", f"feed.experiment.start={START}")


def test_before_its_start_an_experiment_changes_nothing():
    plain, tried = world_with(), experiment()
    for step in range(8):
        a, b = plain.step().metrics, tried.step().metrics
        same = {k: v for k, v in b.items() if not k.startswith("exp_")}
        if step < START:
            assert same == a
    assert same != a  # from its start on, the treated read another feed


def test_treated_citizens_read_the_chronological_feed_and_the_others_do_not():
    world = experiment()
    treated = world.feed_experiment.treated
    citizens = world.population.role == Role.CITIZEN
    assert treated[~citizens].sum() == 0
    assert 0.2 < treated[citizens].mean() < 0.4
    seen = []
    policy = world.policies[Role.CITIZEN]

    class Spy:
        rowwise = False

        def act(self, obs, rng):
            seen.append(obs)
            return policy.act(obs, rng)

    world.policies[Role.CITIZEN] = Spy()
    for _ in range(START + 2):
        world.step()
    late = [o for o in seen if o.step >= START]
    strangers = {True: 0, False: 0}
    for obs in late:
        shown = obs.feed >= 0
        for arm in (True, False):
            rows = treated[obs.users] == arm
            strangers[arm] += int((shown[rows] & ~obs.feed_followed[rows]).sum())
        rows = treated[obs.users]
        feeds = obs.feed[rows]
        for row in feeds:  # newest first
            row = row[row >= 0]
            assert np.all(np.diff(row) < 0)
    assert strangers[True] == 0 and strangers[False] > 100


def test_the_experiments_metrics_describe_each_arm():
    world = experiment()
    rows = [world.step().metrics for _ in range(8)]
    for r in rows[2:]:
        for arm in ("control", "treated"):
            assert r[f"exp_{arm}_readers"] > 0
            assert 0 <= r[f"exp_{arm}_like_minded"] <= 1
            assert r[f"exp_{arm}_like_minded"] + r[f"exp_{arm}_cross_cutting"] <= 1 + 1e-12
            assert r[f"exp_{arm}_shown"] <= world.recommender.k
    late = rows[START + 1 :]
    assert np.mean([r["exp_treated_shown"] for r in late]) < np.mean(
        [r["exp_control_shown"] for r in late]
    )


def test_the_reproduction_writes_its_table_from_runs_of_the_platform(tmp_path):
    s = g.Settings(seeds=2, users=600, steps=12, start=START, workers=1)
    runs = g.run_seeds(s)
    records = g.result_rows(runs, s)
    assert len(records) == 2 * len(g.OUTCOMES)
    table = g.summary_table(records)
    assert [r["outcome"] for r in table] == list(g.OUTCOMES)
    for r in table:
        assert r["effect_low"] <= r["effect"] <= r["effect_high"]
        assert r["direction"] in ("lower", "higher", "no detectable change")
    # the effect is treated minus control, seed by seed
    time = [r for r in records if r["outcome"] == "time"]
    assert all(r["effect"] == pytest.approx(r["treated"] - r["control"]) for r in time)
    answers = g.answers(table, s)
    paths = g.write_outputs(tmp_path, records, runs, table, answers, s)
    assert set(paths) == {"results", "summary", "answers", "effects", "timeline"}
    assert json.loads(paths["answers"].read_text())["settings"]["seeds"] == 2
    assert paths["effects"].read_bytes()[:4] == b"\x89PNG"


def test_a_start_outside_the_run_is_refused():
    with pytest.raises(ValueError, match="start: 12 must lie between 1 and steps - 1"):
        g.run_seeds(g.Settings(seeds=1, users=300, steps=12, start=12))


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--episodes", "3"], ["--episodes does not apply to guess2023"]),
        (["--seeds", "1001"], ["--seeds 1001: at most 1,000"]),
    ],
)
def test_bad_reproduction_options_are_one_line(tmp_path, args, fragments):
    one_line_error(invoke("reproduce", "guess2023", "--out", tmp_path / "o", *args), *fragments)


@pytest.mark.slow
def test_the_quick_reproduction_runs_from_the_command_line(tmp_path):
    out = tmp_path / "g"
    result = invoke("reproduce", "guess2023", "--quick", "--out", out)
    assert result.exit_code == 0, result.output
    answers = json.loads((out / "answers.json").read_text())
    # the platform's feeds: a chronological feed holds fewer posts and less engagement
    assert answers["directions"]["time"] == "lower"
    assert answers["directions"]["engagement"] == "lower"
