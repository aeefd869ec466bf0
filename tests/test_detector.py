"""The learned bot detector (roles/detector.py) and `townsquare train detector`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_checks import invoke, one_line_error
from townsquare.config import load_scenario
from townsquare.roles import detector as d
from townsquare.runner import Run


def test_features_are_shares_and_ratios_free_of_scale():
    counts = np.array([[4, 2, 0, 2], [40, 20, 0, 20], [0, 0, 0, 0]])
    x = d.activity_features(counts)
    assert x.shape == (3, len(d.FEATURES))
    assert x[0, :4].tolist() == [0.5, 0.25, 0.0, 0.25]
    assert x[0, 4:7].tolist() == [2 / 5, 0.0, 2 / 5]  # per post, one post added
    assert x[0, 7] == 0.5
    np.testing.assert_allclose(x[0, :4], x[1, :4])  # ten times the activity, same shares
    assert np.isfinite(x).all() and x[2].tolist() == [0.0] * 8
    with pytest.raises(ValueError, match="4 columns"):
        d.activity_features(np.zeros((2, 3)))


def synthetic(n=400, seed=0):
    rng = np.random.default_rng(seed)
    humans = rng.poisson([6, 1, 4, 1], (n, 4))
    bots = rng.poisson([10, 15, 0.2, 10], (n // 10, 4))
    return np.vstack([humans, bots]), np.r_[np.zeros(n, bool), np.ones(n // 10, bool)]


def test_a_fitted_detector_separates_bots_and_round_trips_through_json(tmp_path):
    counts, is_bot = synthetic()
    det = d.fit(counts, is_bot)
    scores = d.evaluate(det, *synthetic(seed=1))
    assert scores["accuracy"] > 0.95 and scores["roc_auc"] > 0.95
    path = det.save(tmp_path / "det.json")
    again = d.load_detector(path)
    np.testing.assert_array_equal(again.probability(counts), det.probability(counts))
    with pytest.raises(ValueError, match="both bots"):
        d.fit(counts[~is_bot], is_bot[~is_bot])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "not JSON"),
        ('{"format": "townsquare-anchor/1"}', "not a detector file"),
        ('{"format": "townsquare-detector/1", "features": ["x"]}', "its features"),
    ],
)
def test_a_file_that_is_no_detector_is_one_line(tmp_path, text, fragment):
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(d.DetectorFileError, match=fragment):
        d.load_detector(path)


def test_a_damaged_detector_file_is_one_line(tmp_path):
    det = d.fit(*synthetic())
    data = det.to_json()
    data["scale"][0] = -1.0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(d.DetectorFileError, match="scale must be positive"):
        d.load_detector(path)
    data = det.to_json()
    data["coef"] = data["coef"][:3]
    path.write_text(json.dumps(data))
    with pytest.raises(d.DetectorFileError, match="coef must be 8"):
        d.load_detector(path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three small runs of `default` (scripted bots), seeds 0-2."""
    root = tmp_path_factory.mktemp("detector_runs")
    out = []
    for seed in range(3):
        sc = load_scenario("default", ["users=2000", "steps=60", "record.events=none",
                                       f"seed={seed}"])  # fmt: skip
        Run.start(sc, root / f"r{seed}").execute()
        out.append(root / f"r{seed}")
    return out


def test_train_detector_learns_scripted_bots_to_at_least_0_9_accuracy(runs, tmp_path):
    target = tmp_path / "detector.json"
    result = invoke("train", "detector", *runs, "--out", target)
    assert result.exit_code == 0, result.output
    data = json.loads(target.read_text())
    evaluation = data["evaluation"]
    assert evaluation["held_out"] == [str(runs[-1])] and evaluation["bots"] > 0
    assert evaluation["accuracy"] >= 0.9 and evaluation["roc_auc"] >= 0.9
    assert "accuracy" in result.output
    det = d.load_detector(target)  # the evaluation rides along, the file still loads
    counts, is_bot = d.run_accounts(runs[-1])
    assert d.evaluate(det, counts, is_bot)["accuracy"] == evaluation["accuracy"]
    # written once; replaced only when asked
    one_line_error(invoke("train", "detector", *runs, "--out", target), "--overwrite")
    again = invoke("train", "detector", *runs, "--out", target, "--overwrite")
    assert again.exit_code == 0 and json.loads(target.read_text()) == data  # deterministic


def test_train_detector_bad_input_is_one_line(runs, tmp_path):
    one_line_error(invoke("train", "detector", runs[0], "--out", tmp_path / "a.json"),
                   "more than --held-out 1")  # fmt: skip
    one_line_error(invoke("train", "detector", tmp_path, runs[0], "--out", tmp_path / "b.json"),
                   "no users.parquet")  # fmt: skip
    mine = tmp_path / "mine.json"
    mine.write_text('{"notes": "my own file"}')
    one_line_error(invoke("train", "detector", *runs, "--out", mine), "not a detector file")
    assert mine.read_text() == '{"notes": "my own file"}'  # never touched
    one_line_error(invoke("train", "detector", *runs, "--out", tmp_path / "d.txt"), "FILE.json")
    one_line_error(invoke("train", "citizen", runs[0]), "run folders are for `train detector`")


@pytest.mark.slow
def test_the_builtin_detector_is_what_build_builtin_gives(tmp_path):
    from importlib import resources

    from townsquare.learn.detector import build_builtin

    shipped = resources.files("townsquare.roles").joinpath("builtin_detector.json").read_text()
    assert build_builtin().save(tmp_path / "b.json").read_text() == shipped


def learned_platform(*extra):
    return load_scenario("default", ["users=2000", "steps=40", "moderation.detector=learned",
                                     "moderation.survival=0", *extra])  # fmt: skip


def test_the_learned_detector_on_the_platform_suspends_bots_not_citizens():
    from townsquare.build import build_world
    from townsquare.world.population import Role

    world, sc = build_world(learned_platform())
    for _ in range(sc.steps):
        world.step()
    pop = world.population
    bots = pop.role == Role.SOCIALBOT
    citizens = pop.role == Role.CITIZEN
    assert pop.suspended[bots].mean() > 0.8
    assert pop.suspended[citizens].mean() < 0.02


def test_a_run_with_the_learned_detector_resumes_exactly(tmp_path):
    from resume_checks import assert_resume_is_exact

    assert_resume_is_exact(learned_platform("moderation.survival=0.8"), tmp_path, stop_after=17)


def test_a_moderation_model_that_is_no_detector_is_one_line(tmp_path):
    from townsquare.build import build_world
    from townsquare.errors import UserError

    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(UserError, match=r"moderation.model: .*not a detector file"):
        build_world(learned_platform(f"moderation.model={bad}"))
