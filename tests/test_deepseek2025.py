"""`townsquare reproduce deepseek2025` (experiments/deepseek2025.py), small."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("trl")

from cli_checks import invoke, one_line_error  # noqa: E402
from townsquare.experiments import deepseek2025 as d  # noqa: E402

SMALL = d.Settings(seeds=2, workers=1, users=1000, steps=12)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("deepseek")
    base, trained, training = d.build_models(out, SMALL)
    models = {"untrained": str(base), "trained": str(trained)}
    return out, models, training, d.run_arms(SMALL, models)


def test_the_two_models_differ_only_in_their_weights(built):
    out, models, training, _ = built
    base, trained = (models[k] for k in ("untrained", "trained"))
    from pathlib import Path

    assert (Path(base) / "townsquare.json").read_text() == (
        Path(trained) / "townsquare.json"
    ).read_text()
    assert (Path(base) / "model.safetensors").read_bytes() != (
        Path(trained) / "model.safetensors"
    ).read_bytes()
    assert training["steps"] == 12 and np.isfinite(training["reward_last_20pct"])
    assert (out / "train" / "curve.csv").is_file()


def test_every_arm_runs_on_every_seed(built):
    _, _, _, rows = built
    assert [(r["arm"], r["seed"]) for r in rows] == [(a, s) for a in d.ARMS for s in (0, 1)]
    by = {(r["arm"], r["seed"]): r for r in rows}
    for seed in (0, 1):
        assert set(by["scripted", seed]) == set(d.COLUMNS)
        # the scripted candidate posts its position every day; the model's posts are
        # its words, read by the lexicon reader, minus what was too garbled to post
        assert by["scripted", seed]["mean_stance"] == pytest.approx(-0.5)
        assert by["scripted", seed]["not_posted"] == 0
        for arm in ("untrained", "trained"):
            r = by[arm, seed]
            assert 0 < r["posts"] and r["posts"] + r["not_posted"] == 100
            assert 0 < r["vote_share"] < 1
    # a task is a pure function of its arguments
    assert d.run_task(("trained", 1, SMALL, built[1])) == by["trained", 1]


def test_the_summary_pairs_seeds_and_the_outputs_are_written(built, tmp_path):
    out, _, training, rows = built
    table = d.summary_table(rows)
    untrained = next(r for r in table if r["arm"] == "untrained")
    assert untrained["vs_untrained"] == 0.0
    trained = next(r for r in table if r["arm"] == "trained")
    diffs = [
        a["vote_share"] - b["vote_share"]
        for a in rows
        for b in rows
        if a["arm"] == "trained" and b["arm"] == "untrained" and a["seed"] == b["seed"]
    ]
    assert trained["vs_untrained"] == pytest.approx(np.mean(diffs))
    assert trained["vs_ci_low"] <= trained["vs_untrained"] <= trained["vs_ci_high"]
    ans = d.answers(table, training, SMALL)
    assert ans["beyond_seed_noise"] == (ans["ci95"][0] > 0 or ans["ci95"][1] < 0)
    paths = d.write_outputs(out, rows, table, ans)
    with open(paths["results"]) as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    assert json.loads(paths["answers"].read_text())["seeds"] == 2
    assert paths["vote_share"].read_bytes()[:4] == b"\x89PNG"
    assert any("trained - untrained" in line for line in d.display_lines(ans))


def test_options_of_other_experiments_are_one_line(tmp_path):
    one_line_error(
        invoke("reproduce", "deepseek2025", "--runs", "3", "--out", tmp_path / "x"),
        "--runs does not apply to deepseek2025",
    )
    one_line_error(
        invoke("reproduce", "deepseek2025", "--episodes", "20000", "--out", tmp_path / "y"),
        "at most 10,000",
    )
