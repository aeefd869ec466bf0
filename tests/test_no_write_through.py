"""Output files are never written through a symlink placed at their name (a file outside
the output folder is never overwritten), and Q-table checkpoints are read strictly."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from cli_checks import invoke, one_line_error
from townsquare.outputs import REPRODUCE_MARKER, TRAIN_MARKER, replace_file, replace_text
from townsquare.policies.q_table import QTable

runner = CliRunner()

PRECIOUS = "someone else's file\n"


def plant(folder, names, victim):
    """A symlink to ``victim`` at every name in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.symlink(victim, folder / name)


def victim_file(tmp_path):
    victim = tmp_path / "outside" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text(PRECIOUS)
    return victim


def assert_replaced(folder, names, victim):
    assert victim.read_text() == PRECIOUS
    assert sorted(p.name for p in victim.parent.iterdir()) == [victim.name]
    for name in names:
        path = folder / name
        assert not path.is_symlink(), name
        assert path.is_file(), name
    assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name]


# ------------------------------------------------------------------ the helper
def test_replace_file_replaces_a_symlink_and_keeps_the_old_file_on_failure(tmp_path):
    victim = victim_file(tmp_path)
    out = tmp_path / "out"
    plant(out, ["a.txt", "b.png"], victim)
    replace_text(out / "a.txt", "new\n")
    assert (out / "a.txt").read_text() == "new\n"
    assert_replaced(out, ["a.txt"], victim)

    def fail(tmp):
        assert tmp.parent == out and tmp.name.endswith(".png")  # the suffix is kept
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_file(out / "b.png", fail)
    assert (out / "b.png").is_symlink()  # left as it was, and nothing half-written
    assert victim.read_text() == PRECIOUS
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.png"]


def test_a_symlink_at_the_temporary_name_is_not_followed(tmp_path):
    victim = victim_file(tmp_path)
    out = tmp_path / "out"
    plant(out, [f".a.tmp-{os.getpid()}.txt"], victim)
    replace_text(out / "a.txt", "new\n")
    assert (out / "a.txt").read_text() == "new\n"
    assert victim.read_text() == PRECIOUS


# ------------------------------------------------------------------ train
@pytest.mark.parametrize(("algo", "policy"), [("q", "policy.npz"), ("ppo", "policy.safetensors")])
def test_train_overwrite_replaces_symlinks(tmp_path, algo, policy):
    if algo == "ppo":
        pytest.importorskip("stable_baselines3")
        pytest.importorskip("safetensors")
    victim = victim_file(tmp_path)
    out = tmp_path / "train"
    names = [TRAIN_MARKER, policy, "curve.csv", "learning_curve.png"]
    plant(out, names, victim)
    result = invoke(
        "train",
        "influencer",
        "--algo",
        algo,
        "--episodes",
        "2",
        "--set",
        "users=200",
        "--out",
        out,
        "--overwrite",
    )
    assert result.exit_code == 0, result.output
    assert_replaced(out, names, victim)
    assert json.loads((out / TRAIN_MARKER).read_text())["algo"] == algo
    assert (out / "curve.csv").read_text().startswith("episode,")
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_train_does_not_create_a_file_through_a_dangling_symlink(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "train"
    out.mkdir()
    (out / TRAIN_MARKER).write_text('{"role": "influencer", "algo": "q"}\n')
    os.symlink(outside / "made.csv", out / "curve.csv")
    result = invoke("train", "influencer", "--episodes", "2", "--set", "users=200", "--out", out)
    assert result.exit_code == 0, result.output
    assert list(outside.iterdir()) == []
    assert (out / "curve.csv").is_file() and not (out / "curve.csv").is_symlink()


def test_train_json_is_not_written_through(tmp_path):
    """train.json is written by `townsquare.learn.train` (`replace_text` from
    townsquare.outputs)."""
    victim = victim_file(tmp_path)
    out = tmp_path / "train"
    plant(out, ["train.json"], victim)
    result = invoke(
        "train",
        "influencer",
        "--episodes",
        "2",
        "--set",
        "users=200",
        "--out",
        out,
        "--overwrite",
    )
    assert result.exit_code == 0, result.output
    assert_replaced(out, ["train.json"], victim)


# ------------------------------------------------------------------ reproduce
MEYLAHN = [
    "consensus_times.parquet",
    "quantiles.csv",
    "survival.png",
    "trace_rg025.json",
    "trace_rg025.png",
]
JIN = ["results.csv", "summary.csv", "answers.json", "learning_curves.png", "final_followers.png"]


def reproduction_folder(tmp_path, experiment, names):
    """A folder holding an earlier reproduction whose outputs are now symlinks."""
    victim = victim_file(tmp_path)
    out = tmp_path / "repro"
    plant(out, names, victim)
    (out / REPRODUCE_MARKER).write_text(json.dumps({"experiment": experiment}) + "\n")
    return out, victim


def test_reproduce_meylahn2024_replaces_symlinks(tmp_path):
    out, victim = reproduction_folder(tmp_path, "meylahn2024", MEYLAHN)
    result = invoke(
        "reproduce",
        "meylahn2024",
        "--quick",
        "--runs",
        "2",
        "--radii",
        "0.5",
        "--cap",
        "1000",
        "--workers",
        "1",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert_replaced(out, MEYLAHN, victim)
    assert "r_g" in (out / "quantiles.csv").read_text()
    assert "interactions" in json.loads((out / "trace_rg025.json").read_text())


def test_reproduce_jin2024_replaces_symlinks(tmp_path):
    out, victim = reproduction_folder(tmp_path, "jin2024", JIN)
    result = invoke(
        "reproduce",
        "jin2024",
        "--quick",
        "--seeds",
        "1",
        "--episodes",
        "2",
        "--workers",
        "1",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert_replaced(out, JIN, victim)
    assert "settings" in json.loads((out / "answers.json").read_text())


# ------------------------------------------------------------------ realism
def test_realism_replaces_a_symlinked_scorecard(small_scenario, tmp_path):
    run = tmp_path / "run"
    result = invoke("run", small_scenario, "--out", run, "-q", "--no-plot", "--no-report")
    assert result.exit_code == 0, result.output
    victim = victim_file(tmp_path)
    os.symlink(victim, run / "realism.json")
    result = invoke("realism", run)
    assert result.exit_code == 0, result.output
    assert_replaced(run, ["realism.json"], victim)
    assert "rows" in json.loads((run / "realism.json").read_text())


# ------------------------------------------------------------------ strict Q-tables
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    result = invoke("train", "influencer", "--episodes", "2", "--out", out, "--set", "users=200")
    assert result.exit_code == 0, result.output
    return QTable.load(out / "policy.npz")


def write_npz(path, q, visits, meta: str):
    with path.open("wb") as fh:
        np.savez(fh, q=q, visits=visits, meta=np.array(meta))
    return path


def evaluate_refuses(path, *fragments):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = invoke("evaluate", path, "--seeds", "1")
    one_line_error(result, str(path), "not a readable Q-table", *fragments)
    assert not [w for w in seen if "Complex" in type(w.message).__name__], seen


def test_a_valid_table_still_evaluates(trained, tmp_path):
    path = write_npz(tmp_path / "ok.npz", trained.q, trained.visits, json.dumps(trained.meta))
    assert QTable.load(path).meta == trained.meta
    json_path = trained.save(tmp_path / "ok.json")
    back = QTable.load(json_path)
    assert np.array_equal(back.q, trained.q) and np.array_equal(back.visits, trained.visits)


@pytest.mark.parametrize(
    ("q", "fragment"),
    [
        (lambda q: q.astype(np.complex128) + 1j, "complex128"),
        (lambda q: q > 0, "bool"),
        (lambda q: q.astype(str), "<U"),
    ],
)
def test_a_q_that_is_not_real_numbers_is_refused(trained, tmp_path, q, fragment):
    path = write_npz(tmp_path / "q.npz", q(trained.q), trained.visits, json.dumps(trained.meta))
    evaluate_refuses(path, "q must hold real numbers", fragment)


def test_an_object_q_is_refused(trained, tmp_path):
    path = write_npz(
        tmp_path / "q.npz", trained.q.astype(object), trained.visits, json.dumps(trained.meta)
    )
    evaluate_refuses(path)


@pytest.mark.parametrize(
    ("visits", "fragment"),
    [
        (lambda v: v - 1, "negative"),
        (lambda v: v + 0.5, "whole numbers"),
        (lambda v: v > 0, "whole numbers"),
    ],
)
def test_visits_that_are_not_counts_are_refused(trained, tmp_path, visits, fragment):
    path = write_npz(
        tmp_path / "q.npz", trained.q, visits(trained.visits), json.dumps(trained.meta)
    )
    evaluate_refuses(path, "visits", fragment)


@pytest.mark.parametrize(
    ("meta", "fragment"),
    [
        ('{"role": "influencer", "role": "influencer"}', "duplicate key 'role'"),
        ('{"role": "influencer", "x": NaN}', "NaN"),
        ('{"role": "influencer", "x": -Infinity}', "Infinity"),
        ('["influencer"]', "not a JSON object"),
    ],
)
def test_npz_meta_is_strict_json(trained, tmp_path, meta, fragment):
    doc = json.dumps(trained.meta)
    meta = meta.replace('{"role": "influencer"', doc[:-1], 1) if meta.startswith("{") else meta
    path = write_npz(tmp_path / "q.npz", trained.q, trained.visits, meta)
    evaluate_refuses(path, fragment)


def test_npz_meta_that_is_not_a_string_is_refused(trained, tmp_path):
    path = tmp_path / "q.npz"
    with path.open("wb") as fh:
        np.savez(fh, q=trained.q, visits=trained.visits, meta=np.arange(3))
    evaluate_refuses(path, "meta is not a JSON string")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda text: text.replace('"q":', '"q": [[0]], "q":', 1), "duplicate key 'q'"),
        (lambda text: text.replace('"role":', '"x": NaN, "role":', 1), "NaN"),
        (lambda text: text.replace('"role":', '"x": Infinity, "role":', 1), "Infinity"),
    ],
)
def test_json_tables_are_strict(trained, tmp_path, change, fragment):
    path = trained.save(tmp_path / "q.json")
    path.write_text(change(path.read_text()))
    evaluate_refuses(path, fragment)


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"q": [[True, False]]}, "bool"),
        ({"q": [["1", "2"]]}, "q must hold real numbers"),
        ({"q": [[1, 2]], "visits": [[0.5, 0]]}, "whole numbers"),
        ({"q": [[1, 2]], "visits": [[-1, 0]]}, "negative"),
    ],
)
def test_json_tables_of_the_wrong_types_are_refused(tmp_path, table, fragment):
    path = tmp_path / "q.json"
    path.write_text(json.dumps({**table, "meta": {}}))
    evaluate_refuses(path, fragment)
