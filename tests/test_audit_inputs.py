"""A hostile user's inputs, found by an audit (items G, H, L, M, N, O, P, V): each one is
a one-line error with exit 2, never a traceback or an "internal error", and nothing of
the user's is replaced."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cli_checks import invoke, one_line_error, quick_run
from townsquare.errors import UserError

runner = CliRunner()


# ------------------------------------------------------------ G. population.activity.sigma
@pytest.mark.parametrize("sigma", ["1e308", "400", "10.5"])
def test_activity_sigma_past_its_bound_is_refused(small_scenario, tmp_path, sigma):
    out = tmp_path / "r"
    result = quick_run(small_scenario, out, "--set", f"population.activity.sigma={sigma}")
    one_line_error(
        result, f"--set population.activity.sigma={sigma}", "population.activity.sigma", "10"
    )
    assert not out.exists()


def test_activity_sigma_at_its_bound_runs_without_warnings(small_scenario, tmp_path):
    out = tmp_path / "r"
    result = quick_run(small_scenario, out, "--set", "population.activity.sigma=10")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


@pytest.mark.parametrize("sigma", [0.0, 2.0, 10.0, 50.0, 400.0, 1e308])
@pytest.mark.parametrize("n", [1, 3, 2000])
def test_heavy_tailed_activity_is_finite_for_any_sigma(sigma, n):
    from townsquare.world.population import heavy_tailed_activity

    rng = np.random.default_rng(7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            activity = heavy_tailed_activity(rng, n, 0.1, sigma)
    assert activity.shape == (n,)
    assert np.isfinite(activity).all() and (activity >= 0).all() and (activity <= 1).all()
    assert activity.max() > 0
    # the same random numbers are used up whichever way the rates were computed
    reference = np.random.default_rng(7)
    reference.standard_normal(n)
    assert rng.random() == reference.random()


def test_heavy_tailed_activity_is_unchanged_for_ordinary_sigma():
    from townsquare.world.population import heavy_tailed_activity

    raw = np.random.default_rng(3).lognormal(0.0, 2.0, 5000)
    activity = heavy_tailed_activity(np.random.default_rng(3), 5000, 0.1, 2.0)
    ratio = activity[activity < 1] / raw[activity < 1]
    assert np.allclose(ratio, ratio[0], rtol=1e-12)  # a rescaled lognormal, as before


# ------------------------------------------------------------ V. --set errors name --set
def test_a_bad_set_value_names_the_set_not_the_file(small_scenario):
    text = one_line_error(
        quick_run(small_scenario, small_scenario.parent / "r", "--set", "feed.k=-3"),
        "error: --set feed.k=-3: feed.k:",
    )
    assert str(small_scenario) not in text


def test_a_bad_file_value_still_names_the_file(small_scenario):
    data = yaml.safe_load(small_scenario.read_text())
    data["feed"] = {"k": -3}
    small_scenario.write_text(yaml.safe_dump(data))
    text = one_line_error(
        quick_run(small_scenario, small_scenario.parent / "r", "--set", "feed.window=2"),
        f"error: {small_scenario}: feed.k:",
    )
    assert "--set" not in text


def test_file_and_set_errors_each_name_their_source(small_scenario):
    data = yaml.safe_load(small_scenario.read_text())
    data["feed"] = {"k": -3}
    small_scenario.write_text(yaml.safe_dump(data))
    one_line_error(
        quick_run(small_scenario, small_scenario.parent / "r", "--set", "opinion.mu=7"),
        f"{small_scenario}: feed.k:",
        "--set opinion.mu=7: opinion.mu:",
    )


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ("users=5", "graph.mean_degree"),  # a whole-scenario check that mentions users
        ("roles.influencer.count=1000", "roles:"),  # a check of a section the key is in
        ("population.susceptibility=[0,1]", "population.susceptibility"),  # a section's check
        ("feed={k: 0}", "feed.k"),  # a whole section set at once
    ],
)
def test_checks_across_keys_name_the_set(small_scenario, setting, fragment):
    text = one_line_error(
        quick_run(small_scenario, small_scenario.parent / "r", "--set", setting),
        f"error: --set {setting}: ",
        fragment,
    )
    assert str(small_scenario) not in text


# ------------------------------------------------------------ H. broken reference data
@pytest.fixture(scope="module")
def a_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("h")
    scenario = folder / "s.yaml"
    scenario.write_text(
        yaml.safe_dump({"users": 300, "steps": 3, "roles": {"influencer": {"count": 2}}})
    )
    out = folder / "run"
    assert quick_run(scenario, out).exit_code == 0
    return out


def _garbage_retweet(d: Path) -> Path:
    (d / "retweet").mkdir()
    (d / "retweet" / "gunsense.csv").write_text("garbage\n")
    return d / "retweet" / "gunsense.csv"


def _bad_facebook(d: Path) -> Path:
    (d / "facebook").mkdir()
    (d / "facebook" / "facebook_combined.txt").write_text("0 1\n1 2 3 4\n")
    return d / "facebook" / "facebook_combined.txt"


def _bad_polblogs(d: Path) -> Path:
    (d / "polblogs").mkdir()
    (d / "polblogs" / "nodes.csv").write_text("a,b\n1,2\n")
    (d / "polblogs" / "edges.csv").write_text("source,target\n")
    return d / "polblogs" / "nodes.csv"


def _device_polblogs(d: Path) -> Path:
    (d / "polblogs").mkdir()
    (d / "polblogs" / "nodes.csv").symlink_to("/dev/zero")
    return d / "polblogs" / "nodes.csv"


def _huge_facebook(d: Path) -> Path:
    (d / "facebook").mkdir()
    path = d / "facebook" / "facebook_combined.txt"
    with path.open("wb") as fh:
        fh.truncate(65 << 20)  # sparse: no disk used, but 65 MiB to read
    return path


def _binary_communities(d: Path) -> Path:
    (d / "retweet").mkdir()
    (d / "retweet" / "ff.csv").write_text("a b 1\nb c 2\n")
    (d / "retweet" / "ff_community1.txt").write_bytes(b"\xff\xfe\x00")
    (d / "retweet" / "ff_community2.txt").write_text("c\n")
    return d / "retweet" / "ff_community1.txt"


@pytest.mark.parametrize(
    "make",
    [
        _garbage_retweet,
        _bad_facebook,
        _bad_polblogs,
        _device_polblogs,
        _huge_facebook,
        _binary_communities,
    ],
)
@pytest.mark.parametrize("command", ["realism", "report", "compare"])
def test_broken_reference_data_is_one_line(a_run, tmp_path, make, command):
    data = tmp_path / "data"
    data.mkdir()
    bad = make(data)
    args = {
        "realism": ["realism", a_run],
        "report": ["report", a_run, "--out", tmp_path / "r.html"],
        "compare": ["compare", a_run, a_run],
    }[command]
    # a device such as /dev/zero is refused before it is read (see the test below)
    one_line_error(invoke(*args, "--data", data), "--data", str(bad))


def test_reference_file_refuses_devices_and_huge_files_before_reading(tmp_path):
    from townsquare.metrics.reference import reference_file
    from townsquare.world.loaders import DataFileError

    with pytest.raises(DataFileError, match="not a regular file"):
        reference_file(Path("/dev/zero"))
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate((64 << 20) + 1)
    with pytest.raises(DataFileError, match="MiB"):
        reference_file(big)


# ------------------------------------------------------------ L. text.cache and the API key
def _offline(small_scenario, out, cache):
    return quick_run(
        small_scenario, out, "--set", "text.backend=offline", "--set", f"text.cache={cache}"
    )


def test_a_folder_as_the_text_cache_is_refused_before_the_run(small_scenario, tmp_path):
    folder = tmp_path / "cachedir"
    folder.mkdir()
    out = tmp_path / "r"
    one_line_error(_offline(small_scenario, out, folder), "text.cache", str(folder), "folder")
    assert not out.exists()
    assert list(folder.iterdir()) == []


def test_a_file_that_is_not_sqlite_is_refused_and_kept(small_scenario, tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"my notes, not a database\n" * 100)
    out = tmp_path / "r"
    one_line_error(_offline(small_scenario, out, garbage), "text.cache", str(garbage), "SQLite")
    assert not out.exists()
    assert garbage.read_bytes() == b"my notes, not a database\n" * 100


def test_another_programs_sqlite_database_is_refused_and_untouched(small_scenario, tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE mine (x)")
    before = other.read_bytes()
    one_line_error(
        _offline(small_scenario, tmp_path / "r", other), "text.cache", str(other), "completions"
    )
    assert other.read_bytes() == before


def test_a_damaged_sqlite_file_is_a_user_error_naming_the_cache(tmp_path):
    from townsquare.text.cache import CompletionCache

    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(UserError, match=r"^text\.cache: .*damaged\.db: not a"):
        CompletionCache(damaged)
    with pytest.raises(UserError, match="a folder"):
        CompletionCache(tmp_path)


def test_a_cache_this_project_wrote_is_reused(tmp_path):
    from townsquare.text.cache import CompletionCache

    path = tmp_path / "c.db"
    cache = CompletionCache(path)
    cache.put_many([("k", "offline", "m", "{}", "hello")])
    cache.close()
    again = CompletionCache(path)
    assert again.get_many(["k"]) == {"k": "hello"}
    again.close()


def test_an_unset_api_key_variable_is_found_when_the_backend_is_made(monkeypatch):
    from townsquare.text.openai_backend import OpenAIBackend

    monkeypatch.delenv("TS_AUDIT_NO_KEY", raising=False)
    with pytest.raises(UserError, match=r"text\.api_key_env: .*TS_AUDIT_NO_KEY.*is not set"):
        OpenAIBackend("http://127.0.0.1:9/v1", "tiny", api_key_env="TS_AUDIT_NO_KEY")


def test_an_unset_api_key_variable_is_one_line_from_run(small_scenario, tmp_path, monkeypatch):
    monkeypatch.delenv("TS_AUDIT_NO_KEY", raising=False)
    result = quick_run(
        small_scenario,
        tmp_path / "r",
        "--set", "text.backend=openai",
        "--set", "text.base_url=http://127.0.0.1:9/v1",
        "--set", "text.model=tiny",
        "--set", "text.api_key_env=TS_AUDIT_NO_KEY",
    )  # fmt: skip
    one_line_error(result, "text.api_key_env", "TS_AUDIT_NO_KEY", "is not set")


# ------------------------------------------------------------ M. reproduce bounds
@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--cap", "inf", "--cap"),
        ("--cap", "nan", "--cap"),
        ("--cap", "1e400", "--cap"),
        ("--cap", "1e13", "at most 1e+12"),
        ("--cap", "1e19", "at most 1e+12"),
        ("--radii", "nan", "--radii nan"),
        ("--radii", "0.5,inf", "--radii 0.5,inf"),
        ("--runs", "100001", "at most 100,000"),
    ],
)
def test_reproduce_meylahn_bounds(tmp_path, option, value, fragment):
    out = tmp_path / "rp"
    args = ["reproduce", "meylahn2024", "--quick", "--runs", "1", "--radii", "0.5"]
    result = invoke(*args, option, value, "--out", out)
    one_line_error(result, fragment)
    assert not out.exists()


def test_meylahn_settings_refuse_values_past_their_bounds():
    from townsquare.experiments.meylahn2024 import MAX_CAP, Settings

    for bad in ({"cap": MAX_CAP + 1}, {"runs": 0}, {"radii": (float("nan"),)}, {"radii": ()}):
        with pytest.raises(ValueError):
            Settings(**bad)


def test_reproduce_jin_bounds(tmp_path):
    out = tmp_path / "j"
    one_line_error(
        invoke("reproduce", "jin2024", "--episodes", "1000001", "--out", out), "at most 1,000,000"
    )
    one_line_error(invoke("reproduce", "jin2024", "--seeds", "1001", "--out", out), "at most 1,000")
    assert not out.exists()


# ------------------------------------------------------------ O. train --episodes bound
@pytest.mark.parametrize("episodes", ["99999999999999999999", "1000001"])
def test_train_episodes_bound(tmp_path, episodes):
    out = tmp_path / "t"
    one_line_error(
        invoke("train", "influencer", "--episodes", episodes, "--out", out),
        f"--episodes {episodes}",
        "at most 1,000,000",
    )
    assert not out.exists()


# ------------------------------------------------------------ P. --out of reproduce and train
def _meylahn(out, *extra):
    args = ["reproduce", "meylahn2024", "--quick", "--runs", "1", "--radii", "0.5"]
    return invoke(*args, "--cap", "1e4", "--workers", "1", "--out", out, *extra)


def test_reproduce_refuses_a_folder_of_the_users_files(tmp_path):
    rp = tmp_path / "rp"
    rp.mkdir()
    (rp / "quantiles.csv").write_text("keep\n")
    one_line_error(
        _meylahn(rp), str(rp), "folder is not empty and holds no townsquare reproduction"
    )
    assert sorted(p.name for p in rp.iterdir()) == ["quantiles.csv"]
    assert (rp / "quantiles.csv").read_text() == "keep\n"
    one_line_error(invoke("reproduce", "jin2024", "--quick", "--out", rp), "holds no townsquare")
    assert (rp / "quantiles.csv").read_text() == "keep\n"


def test_reproduce_reuses_its_own_folder_and_refuses_another_experiments(tmp_path):
    rp = tmp_path / "rp"
    assert _meylahn(rp).exit_code == 0
    marker = json.loads((rp / ".townsquare-reproduce").read_text())
    assert marker == {"experiment": "meylahn2024"}
    first = (rp / "quantiles.csv").read_text()
    (rp / "quantiles.csv").write_text("stale\n")
    assert _meylahn(rp).exit_code == 0
    assert (rp / "quantiles.csv").read_text() == first
    one_line_error(
        invoke("reproduce", "jin2024", "--quick", "--out", rp),
        "reproduction of meylahn2024, not of jin2024",
    )


def test_reproduce_reuses_a_folder_an_unmarked_reproduction_wrote(tmp_path):
    rp = tmp_path / "rp"
    assert _meylahn(rp).exit_code == 0
    (rp / ".townsquare-reproduce").unlink()  # as reproductions wrote before the marker
    assert _meylahn(rp).exit_code == 0
    assert (rp / ".townsquare-reproduce").is_file()


def test_reproduce_refuses_a_file_as_out(tmp_path):
    path = tmp_path / "f"
    path.write_text("mine")
    one_line_error(_meylahn(path), "is a file, not a folder")
    assert path.read_text() == "mine"


def test_train_refuses_a_folder_of_the_users_files(tmp_path):
    out = tmp_path / "t"
    out.mkdir()
    (out / "curve.csv").write_text("mine\n")
    one_line_error(
        invoke("train", "influencer", "--episodes", "1", "--out", out, "--set", "users=200"),
        str(out),
        "holds no townsquare training output",
    )
    assert sorted(p.name for p in out.iterdir()) == ["curve.csv"]


def test_train_accepts_a_folder_of_an_older_training(tmp_path):
    out = tmp_path / "t"
    out.mkdir()
    (out / "train.json").write_text("{}")  # written before the marker existed
    result = invoke("train", "influencer", "--episodes", "1", "--out", out, "--set", "users=200")
    assert result.exit_code == 0, result.output
    assert (out / ".townsquare-train").is_file()
    assert json.loads((out / "train.json").read_text())["complete"] is True


# ------------------------------------------------------------ N. Ctrl-C during training
def test_q_training_stops_when_on_episode_returns_false():
    from townsquare.envs.influencer_v0 import InfluencerEnv
    from townsquare.learn.q_learning import QConfig, train_q

    env = InfluencerEnv()
    table, records = train_q(env, QConfig(episodes=50), lambda rec: rec.episode < 2)
    env.close()
    assert [r.episode for r in records] == [0, 1, 2]
    assert table.visits.sum() > 0


def test_ppo_training_stops_when_on_episode_returns_false(tmp_path, monkeypatch):
    pytest.importorskip("stable_baselines3")
    import tempfile

    from townsquare.envs.influencer_v0 import InfluencerEnv
    from townsquare.learn.ppo import PPOConfig, train_ppo

    # SB3's own logger would make an SB3-<time> folder in the temporary directory
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    env = InfluencerEnv()
    cfg = PPOConfig(episodes=50, n_steps=64, batch_size=32)
    _, records = train_ppo(env, cfg, lambda rec: rec.episode < 1)
    env.close()
    assert [r.episode for r in records] == [0, 1]
    assert list(tmp_path.glob("SB3-*")) == []  # training leaves no logger folder behind


def _interrupt_at(monkeypatch, episode: int, times: int = 1) -> None:
    """A SIGINT while the world of ``episode`` is being seeded, as a Ctrl-C would come."""
    import townsquare.learn.q_learning as q

    real = q.episode_seed

    def seed_then_interrupt(seed: int, e: int) -> int:
        if e == episode:
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)  # let the handler run before the next signal
        return real(seed, e)

    monkeypatch.setattr(q, "episode_seed", seed_then_interrupt)


def test_ctrl_c_saves_the_episodes_done(tmp_path, monkeypatch):
    _interrupt_at(monkeypatch, 3)
    out = tmp_path / "t"
    before = signal.getsignal(signal.SIGINT)
    result = invoke(
        "train", "influencer", "--episodes", "100000", "--out", out, "--set", "users=200"
    )
    assert signal.getsignal(signal.SIGINT) is before
    assert result.exit_code == 130, result.output
    text = result.stderr.strip()
    assert len(text.splitlines()) == 1, text
    assert "interrupted after 4 of 100,000 episodes" in text and str(out) in text
    info = json.loads((out / "train.json").read_text())
    assert info["complete"] is False and info["episodes_done"] == 4 and info["episodes"] == 100000
    rows = (out / "curve.csv").read_text().splitlines()
    assert len(rows) == 1 + 4
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    from townsquare.policies.q_table import QTable

    assert QTable.load(out / "policy.npz").visits.sum() > 0


def test_a_second_ctrl_c_stops_at_once(tmp_path, monkeypatch):
    _interrupt_at(monkeypatch, 2, times=2)
    out = tmp_path / "t"
    result = invoke(
        "train", "influencer", "--episodes", "100000", "--out", out, "--set", "users=200"
    )
    assert result.exit_code == 130, result.output
    text = result.stderr.strip()
    assert len(text.splitlines()) == 1 and "stopped at once" in text, text
    assert not (out / "train.json").exists()


def test_ctrl_c_on_a_real_process_saves_the_episodes_done(tmp_path):
    out = tmp_path / "t"
    proc = subprocess.Popen(
        [sys.executable, "-m", "townsquare", "train", "influencer", "--episodes", "100000",
         "--out", str(out), "--set", "users=200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("training the influencer"), line
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "interrupted after" in err, err
    info = json.loads((out / "train.json").read_text())
    assert info["complete"] is False and info["episodes_done"] >= 1
    assert (out / "policy.npz").is_file()
