"""`townsquare arms-race` (experiments/arms_race.py), quick."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("ray.rllib")

from cli_checks import invoke, one_line_error  # noqa: E402
from townsquare.experiments import arms_race as ar  # noqa: E402
from townsquare.roles.detector import load_detector  # noqa: E402


def test_quick_rounds_retrain_the_detector_on_the_learned_bots(tmp_path):
    out = tmp_path / "race"
    result = invoke("arms-race", "--quick", "--out", out)
    assert result.exit_code == 0, result.output
    with open(out / "rounds.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["round"]) for r in rows] == [1, 2] and list(rows[0]) == list(ar.COLUMNS)
    for r in rows:
        for key in ar.COLUMNS[1:8]:
            assert 0.0 <= float(r[key]) <= 2.0, key
        # each round's bots and detector on the platform, scored
        assert 0 <= int(r["platform_facts_inside"]) <= 9
        assert 0.0 < float(r["platform_bot_activities"])
        assert 0.0 <= float(r["platform_bot_post_share"]) <= 1.0
        assert (out / f"round_{r['round']}" / "platform" / "metrics.parquet").is_file()
    first = rows[0]
    # retrained on the learned bots' traces, the detector catches more of them
    assert float(first["recall_after"]) > float(first["recall_before"])
    for k in (1, 2):
        det = load_detector(out / f"round_{k}" / "detector.json")
        assert det.coef.shape == (8,)
        assert (out / f"round_{k}" / "bot" / "policy.safetensors").is_file()
    assert (out / "arms_race.png").read_bytes()[:4] == b"\x89PNG"


def test_traces_are_counts_at_every_check():
    class Posting:
        def turn(self, game, rng):
            return 0, -1

    traces, ratio = ar.bot_traces(Posting(), ar.Settings.quick(episodes=2), seed=0)
    # 120 activities a game: a snapshot at 20, 40, ..., 120
    assert traces.shape == (12, 4) and ratio == 0.0
    assert np.array_equal(traces[:6, 0], [20, 40, 60, 80, 100, 120])


def test_bad_rounds_are_one_line(tmp_path):
    one_line_error(invoke("arms-race", "--rounds", "0", "--out", tmp_path / "x"),
                   "--rounds 0: at least one round")  # fmt: skip
