"""Runs with text: offline text in the posts table, openai backend, replay, failures."""

from __future__ import annotations

import json

import duckdb
import pytest
from typer.testing import CliRunner

from chat_server import ChatServer
from cli_checks import crash_during
from townsquare.cli import app
from townsquare.config import validate
from townsquare.runner import Run

runner = CliRunner()
BASE = {"users": 400, "steps": 6, "seed": 5, "record": {"flush_every": 2}}


def posts_table(run_dir):
    with duckdb.connect(str(run_dir / "events.duckdb"), read_only=True) as con:
        return con.execute("SELECT id, kind, stance, text FROM posts ORDER BY id").fetchall()


def test_offline_text_fills_the_posts_table_deterministically(tmp_path):
    data = {**BASE, "text": {"backend": "offline"}}
    Run.start(validate(data), tmp_path / "a").execute()
    Run.start(validate(data), tmp_path / "b").execute()
    rows = posts_table(tmp_path / "a")
    assert rows and all(isinstance(text, str) and len(text) > 10 for *_, text in rows)
    assert rows == posts_table(tmp_path / "b")
    plain = tmp_path / "plain"
    Run.start(validate(BASE), plain).execute()
    # text never changes the simulation
    assert (plain / "metrics.parquet").read_bytes() == (
        tmp_path / "a" / "metrics.parquet"
    ).read_bytes()
    assert all(text is None for *_, text in posts_table(plain))
    assert (tmp_path / "a" / "text_cache.db").exists()


def test_openai_backend_run_replays_from_the_cache_without_the_server(tmp_path):
    cache = tmp_path / "shared_cache.db"
    with ChatServer() as server:
        data = {
            **BASE,
            "text": {
                "backend": "openai",
                "base_url": server.url,
                "model": "tiny",
                "cache": str(cache),
                "max_concurrency": 4,
            },
        }
        Run.start(validate(data), tmp_path / "live").execute()
        assert server.requests > 0
    live = posts_table(tmp_path / "live")
    assert all(text.startswith("echo: Write one short social-media") for *_, text in live)
    # the server is gone; the shared cache answers everything
    Run.start(
        validate({**data, "text": {**data["text"], "retries": 0, "timeout_s": 0.5}}),
        tmp_path / "replay",
    ).execute()
    assert posts_table(tmp_path / "replay") == live


def test_server_failure_mid_run_is_one_line_and_resumable(tmp_path):
    out = tmp_path / "run"
    with ChatServer(mode="always_500") as server:
        scenario = tmp_path / "s.yaml"
        scenario.write_text(
            json.dumps(
                {
                    **BASE,
                    "text": {
                        "backend": "openai",
                        "base_url": server.url,
                        "model": "tiny",
                        "retries": 1,
                    },
                }
            )
        )
        result = runner.invoke(
            app, ["run", str(scenario), "--out", str(out), "-q", "--no-plot", "--no-report"]
        )
    assert result.exit_code == 2
    assert "HTTP 500" in result.stderr and "--resume" in result.stderr
    assert "Traceback" not in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False
    # a working server lets the same directory finish
    with ChatServer() as server:
        config = (out / "config.yaml").read_text()
        old_url = config.split("base_url: ")[1].split("\n")[0]
        (out / "config.yaml").write_text(config.replace(old_url, server.url))
        resumed = runner.invoke(
            app, ["run", "--resume", str(out), "-q", "--no-plot", "--no-report"]
        )
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "summary.json").read_text())["complete"] is True


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ("text.backend=openai", "base_url and model"),
        ("text.backend=transformers", "model_path"),
        ("text.backend=nonsense", "text.backend"),
        ("text.template={nope}", "template"),
        ("text.packs=[no_such_pack]", "text.packs"),
    ],
)
def test_bad_text_settings(tmp_path, setting, fragment):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(json.dumps(BASE))
    result = runner.invoke(
        app, ["run", str(scenario), "--out", str(tmp_path / "r"), "-q", "--set", setting]
    )
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr


def test_transformers_backend_in_a_run_and_missing_model(tmp_path):
    pytest.importorskip("transformers")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(json.dumps(BASE))
    result = runner.invoke(
        app,
        [
            "run",
            str(scenario),
            "--out",
            str(tmp_path / "r"),
            "-q",
            "--set",
            "text.backend=transformers",
            "--set",
            f"text.model_path={tmp_path / 'nothing'}",
        ],
    )
    assert result.exit_code == 2
    assert "text.model_path" in result.stderr and "config.json" in result.stderr


def test_openai_prompts_carry_context_and_survive_resume(tmp_path, monkeypatch):

    with ChatServer() as server:
        data = {
            **BASE,
            "text": {
                "backend": "openai",
                "base_url": server.url,
                "model": "tiny",
                "max_concurrency": 8,
            },
        }
        Run.start(validate(data), tmp_path / "whole").execute()
        out = tmp_path / "broken"
        crash_during(Run.start(validate(data), out), monkeypatch, at=3)
        Run.resume(out).execute()
    whole = posts_table(tmp_path / "whole")
    assert posts_table(out) == whole
    texts = [text for *_, text in whole]
    assert any("Your previous post was" in t for t in texts)
    assert any("You are replying to" in t or "You are sharing" in t for t in texts)
