"""Real networks are found from any working directory, and their absence is said in one
line (issue 11)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import townsquare.metrics.reference as reference
from townsquare.cli import app

runner = CliRunner()


def scored_run(small_scenario, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["run", str(small_scenario), "--out", str(out), "-q", "--no-plot", "--no-report"]
    )
    assert result.exit_code == 0, result.output
    return out


def test_realism_from_outside_the_project_finds_the_real_networks(
    small_scenario, tmp_path, monkeypatch, data_dir
):
    out = scored_run(small_scenario, tmp_path)
    monkeypatch.delenv("TOWNSQUARE_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # no shared/ here nor one level up
    assert not (tmp_path / "shared").exists() and not (tmp_path.parent / "shared").exists()
    result = runner.invoke(app, ["realism", str(out), "--json"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    refs = next(r for r in card["rows"] if r["metric"] == "leaning_assortativity")["references"]
    assert round(refs["polblogs"], 2) == 0.81
    assert "note:" not in result.stderr


def test_no_real_networks_anywhere_is_said_in_one_line(small_scenario, tmp_path, monkeypatch):
    out = scored_run(small_scenario, tmp_path)
    monkeypatch.delenv("TOWNSQUARE_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(reference, "PROJECT_DIR", tmp_path / "nowhere" / "project")
    for args in (["realism", str(out)], ["report", str(out)], ["compare", str(out), str(out)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
        assert len(notes) == 1 and "no real networks found" in notes[0], result.stderr
        assert "--data" in notes[0] and "TOWNSQUARE_DATA" in notes[0]


def test_a_townsquare_data_that_is_not_a_folder(small_scenario, tmp_path, monkeypatch):
    out = scored_run(small_scenario, tmp_path)
    monkeypatch.setenv("TOWNSQUARE_DATA", str(tmp_path / "missing"))
    result = runner.invoke(app, ["realism", str(out)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TOWNSQUARE_DATA" in lines[0] and "not found" in lines[0]
