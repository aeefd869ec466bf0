"""The command line: runs, help, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli_checks import invoke
from cli_checks import one_line_error as assert_one_line_error

runner = CliRunner()


def test_run_writes_a_complete_run_directory(small_scenario, tmp_path):
    out = tmp_path / "run"
    result = invoke("run", str(small_scenario), "--out", str(out), "--steps", "7", "--seed", "5")
    assert result.exit_code == 0, result.output
    assert f"run directory: {out}" in result.output.replace("\n", "")
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "users",
        "steps",
        "posts",
        "likes",
        "reposts",
        "follows",
        "unfollows",
        "seed",
        "wall_s",
        "complete",
    ):
        assert key in summary
    assert summary["complete"] is True
    assert summary["steps"] == 7 and summary["seed"] == 5 and summary["users"] == 600
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["steps"] == 7 and config["seed"] == 5
    assert config["feed"]["k"] == 20  # defaults are filled in


def test_set_overrides_any_key(small_scenario, tmp_path):
    out = tmp_path / "run"
    result = invoke(
        "run",
        str(small_scenario),
        "--out",
        str(out),
        "-q",
        "--set",
        "feed.k=7",
        "--set",
        "roles.socialbot.fraction=0.1",
        "--set",
        "users=700",
        "--set",
        "feed.ranking=chronological",
    )
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["feed"] == {**config["feed"], "k": 7, "ranking": "chronological"}
    assert config["users"] == 700
    summary = json.loads((out / "summary.json").read_text())
    assert summary["roles"]["socialbot"] == 70


def test_builtin_default_scenario_is_valid_and_listed():
    from townsquare.config import load_scenario

    sc = load_scenario("default")
    assert sc.users == 10_000
    assert sc.roles.candidate.count == 2
    assert sc.roles.socialbot.fraction == pytest.approx(0.05)
    assert sc.roles.influencer.count > 0
    result = invoke("scenarios")
    assert result.exit_code == 0 and "default" in result.output


def test_help_documents_every_command_and_option():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in (
        "run",
        "scenarios",
        "show",
        "plot",
        "realism",
        "compare",
        "report",
        "reproduce",
        "train",
        "evaluate",
    ):
        assert command in result.output
    result = invoke("run", "--help")
    for option in (
        "--steps",
        "--seed",
        "--out",
        "--set",
        "--resume",
        "--overwrite",
        "--quiet",
        "--no-plot",
    ):
        assert option in result.output
    assert invoke("show", "--help").exit_code == 0
    assert invoke("scenarios", "--help").exit_code == 0
    assert invoke("plot", "--help").exit_code == 0


def test_show_prints_summary_and_tables(small_scenario, tmp_path):
    out = tmp_path / "run"
    invoke("run", str(small_scenario), "--out", str(out), "-q")
    result = invoke("show", str(out))
    assert result.exit_code == 0
    assert "posts" in result.output and "events.duckdb" in result.output


@pytest.mark.parametrize(
    ("setting", "fragments"),
    [
        ("feed.colour=red", ["feed.colour", "unknown key"]),
        ("bogus=1", ["bogus", "unknown key"]),
        ("feed.k=many", ["feed.k", "integer"]),
        ("users=-5", ["users", "greater than or equal to 1"]),
        ("feed.k=-3", ["feed.k"]),
        ("roles.socialbot.fraction=1.5", ["roles.socialbot.fraction"]),
        ("roles.influencer.count=900", ["roles", "exceed users"]),
        ("feed.ranking=newest", ["feed.ranking"]),
        ("graph.kind=polblogs", ["graph", "path"]),
        ("feed=3", ["feed"]),
    ],
)
def test_bad_scenario_values_give_one_line_errors(small_scenario, tmp_path, setting, fragments):
    result = invoke("run", str(small_scenario), "--out", str(tmp_path / "r"), "--set", setting)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "r").exists()


def test_bad_set_syntax(small_scenario, tmp_path):
    assert_one_line_error(invoke("run", str(small_scenario), "--set", "feed.k"), "KEY=VALUE")
    assert_one_line_error(
        invoke("run", str(small_scenario), "--set", "users.x=3"), "users", "not a section"
    )
    assert_one_line_error(
        invoke("run", str(small_scenario), "--set", "feed.k.x=3"), "feed.k", "integer"
    )


def test_unknown_key_in_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("users: 100\nfeeed: {k: 3}\n")
    assert_one_line_error(invoke("run", str(path)), str(path), "feeed", "unknown key")


def test_wrong_type_in_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("users: lots\n")
    assert_one_line_error(invoke("run", str(path)), "users", "integer")


def test_malformed_yaml_names_the_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("users: 100\nfeed: {k: 3\nsteps: 2\n")
    assert_one_line_error(invoke("run", str(path)), f"{path}:", "invalid YAML")


def test_scenario_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("- 1\n- 2\n")
    assert_one_line_error(invoke("run", str(path)), "mapping")


def test_missing_scenario_file():
    assert_one_line_error(
        invoke("run", "no/such/scenario.yaml"), "no/such/scenario.yaml", "not found"
    )


def test_missing_scenario_argument():
    assert_one_line_error(invoke("run"), "missing SCENARIO")


def test_missing_data_file(small_scenario, tmp_path):
    result = invoke(
        "run",
        str(small_scenario),
        "--out",
        str(tmp_path / "r"),
        "--set",
        "graph.kind=edge_list",
        "--set",
        f"graph.path={tmp_path}/none.txt",
    )
    assert_one_line_error(result, "graph.path", "none.txt", "not found")


def test_malformed_data_file_names_the_line(small_scenario, tmp_path):
    edges = tmp_path / "edges.txt"
    edges.write_text("# a comment\n0 1\n1 2\n3\n")
    result = invoke(
        "run",
        str(small_scenario),
        "--out",
        str(tmp_path / "r"),
        "--set",
        "graph.kind=edge_list",
        "--set",
        f"graph.path={edges}",
    )
    assert_one_line_error(result, f"{edges}:4:")


def test_existing_out_directory_is_not_clobbered(small_scenario, tmp_path):
    out = tmp_path / "run"
    assert invoke("run", str(small_scenario), "--out", str(out), "-q").exit_code == 0
    assert_one_line_error(
        invoke("run", str(small_scenario), "--out", str(out), "-q"),
        "exists",
        "--resume",
        "--overwrite",
    )
    assert (
        invoke(
            "run", str(small_scenario), "--out", str(out), "-q", "--overwrite", "--seed", "9"
        ).exit_code
        == 0
    )
    assert json.loads((out / "summary.json").read_text())["seed"] == 9


def test_resume_errors(tmp_path, small_scenario):
    assert_one_line_error(invoke("run", "--resume", str(tmp_path)), "not a run directory")
    out = tmp_path / "run"
    invoke("run", str(small_scenario), "--out", str(out), "-q")
    assert_one_line_error(invoke("run", str(small_scenario), "--resume", str(out)), "--resume")
    assert_one_line_error(invoke("run", "--resume", str(out), "--steps", "3"), "already has")


def test_data_graph_run_uses_the_file_size(small_scenario, tmp_path, data_dir):
    out = tmp_path / "run"
    result = invoke(
        "run",
        str(small_scenario),
        "--out",
        str(out),
        "-q",
        "--steps",
        "3",
        "--set",
        "graph.kind=polblogs",
        "--set",
        f"graph.path={data_dir / 'polblogs'}",
        "--set",
        "population.opinion.distribution=data",
    )
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((out / "config.yaml").read_text())["users"] == 1490
    assert json.loads((out / "summary.json").read_text())["users"] == 1490


def test_data_opinions_need_a_graph_with_leanings(small_scenario, tmp_path):
    result = invoke(
        "run",
        str(small_scenario),
        "--out",
        str(tmp_path / "r"),
        "--set",
        "population.opinion.distribution=data",
    )
    assert_one_line_error(result, "population.opinion.distribution")


def test_module_entry_point_exits_2_without_traceback(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("users: -1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "townsquare", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "users" in proc.stderr


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and "townsquare" in result.output


def test_every_scenario_key_is_documented():
    from pydantic import BaseModel

    from townsquare.config import Scenario

    doc = (Path(__file__).resolve().parents[1] / "docs" / "scenarios.md").read_text()

    def keys(model, prefix=""):
        for name, field in model.model_fields.items():
            key = field.alias or name  # roles.candidate.lambda is `lam` in Python
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                yield from keys(field.annotation, f"{prefix}{key}.")
            else:
                yield prefix + key

    inherited = {
        f"roles.influencer.{k}"
        for k in Scenario.model_fields["roles"]
        .annotation.model_fields["citizen"]
        .annotation.model_fields
    }
    missing = [k for k in keys(Scenario) if f"`{k}`" not in doc and k not in inherited]
    assert not missing, f"undocumented scenario keys: {missing}"


def test_run_draws_a_metrics_plot_and_plot_command(small_scenario, tmp_path):
    out = tmp_path / "run"
    assert invoke("run", str(small_scenario), "--out", str(out), "--steps", "4").exit_code == 0
    assert (out / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    picture = tmp_path / "other.png"
    result = invoke("plot", str(out), "--out", str(picture))
    assert result.exit_code == 0, result.output
    assert picture.read_bytes()[:4] == b"\x89PNG"
    quiet = tmp_path / "quiet"
    assert invoke("run", str(small_scenario), "--out", str(quiet), "-q", "--no-plot").exit_code == 0
    assert not (quiet / "metrics.png").exists()


def test_plot_of_a_missing_run(tmp_path):
    assert_one_line_error(invoke("plot", str(tmp_path / "nothing")), "not a run directory")


def test_realism_scorecard_of_a_run(small_scenario, tmp_path):
    out = tmp_path / "run"
    invoke("run", str(small_scenario), "--out", str(out), "-q", "--no-plot")
    result = invoke("realism", str(out))
    assert result.exit_code == 0, result.output
    assert "F1" in result.output and "measured facts emerged" in result.output
    card = json.loads((out / "realism.json").read_text())
    metrics = {row["metric"] for row in card["rows"]}
    assert {
        "posting_top10_share",
        "follower_tail_alpha",
        "camp_modularity",
        "bot_account_share",
        "final_bimodality",
    } <= metrics
    assert card["facts"]["F8"]["reproduced"] is None
    assert 0 <= card["reproduced"] <= card["measured"] <= 9
    printed = json.loads(invoke("realism", str(out), "--json").stdout)
    assert printed["rows"] == card["rows"]
    bot_share = next(r for r in card["rows"] if r["metric"] == "bot_account_share")
    assert bot_share["value"] == pytest.approx(0.05)
    assert bot_share["inside"] is False


def test_tables_written_to_a_pipe_keep_their_metric_names(small_scenario, tmp_path):
    """Written to a file or a pipe, rich would fold a table to 80 columns and cut every
    metric's name ("posti…"); the CLI gives such tables `PIPED_WIDTH` instead."""
    import os

    out = tmp_path / "run"
    invoke("run", str(small_scenario), "--out", str(out), "-q", "--no-plot", "--no-report")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    townsquare = Path(sys.executable).parent / "townsquare"
    for command in (["realism", str(out)], ["compare", str(out), str(out)]):
        done = subprocess.run(
            [str(townsquare), *command], capture_output=True, text=True, env=env, check=True
        )
        assert "neighbour_leaning_correlation" in done.stdout, done.stdout


def test_realism_shows_real_network_references(small_scenario, tmp_path, data_dir):
    out = tmp_path / "run"
    invoke("run", str(small_scenario), "--out", str(out), "-q", "--no-plot")
    card = json.loads(invoke("realism", str(out), "--json", "--data", str(data_dir)).stdout)
    refs = next(r for r in card["rows"] if r["metric"] == "leaning_assortativity")["references"]
    assert round(refs["polblogs"], 2) == 0.81


def test_realism_errors(tmp_path):
    assert_one_line_error(invoke("realism", str(tmp_path)), "not a run directory")


def test_compare_two_runs_with_seeds(small_scenario, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    invoke("run", str(small_scenario), "--out", str(a), "-q", "--no-plot", "--steps", "6")
    invoke(
        "run",
        str(small_scenario),
        "--out",
        str(b),
        "-q",
        "--no-plot",
        "--steps",
        "6",
        "--set",
        "roles.socialbot.fraction=0.12",
    )
    single = json.loads(invoke("compare", str(a), str(b), "--json").stdout)
    bots = next(r for r in single["rows"] if r["metric"] == "bot_account_share")
    assert bots["difference"] == pytest.approx(0.07)
    assert bots["beyond_noise"] is None  # one seed per side: noise unknown
    result = invoke("compare", str(a), str(b), "--seeds", "7-8", "--json")
    assert result.exit_code == 0, result.output
    seeded = json.loads(result.stdout)
    assert len(seeded["a"]["runs"]) == 3 and (a / "seeds" / "seed-7" / "summary.json").exists()
    bots = next(r for r in seeded["rows"] if r["metric"] == "bot_post_share")
    assert bots["beyond_noise"] is True and bots["b_inside"] is not None
    table = invoke("compare", str(a), str(b), "--seeds", "7,8")  # reuses the seed runs
    assert table.exit_code == 0 and "B: " in table.output and "emerged" in table.output


def test_compare_errors(small_scenario, tmp_path):
    out = tmp_path / "a"
    invoke("run", str(small_scenario), "--out", str(out), "-q", "--no-plot", "--steps", "3")
    assert_one_line_error(
        invoke("compare", str(out), str(tmp_path / "nope")), "not a run directory"
    )
    assert_one_line_error(invoke("compare", str(out), str(out), "--seeds", "x"), "--seeds")


def test_run_writes_the_report_and_report_command(small_scenario, tmp_path):
    out = tmp_path / "run"
    result = invoke("run", str(small_scenario), "--out", str(out), "--steps", "4", "--no-plot")
    assert result.exit_code == 0, result.output
    assert "posting_top10_share" in (out / "report.html").read_text()
    page = tmp_path / "again.html"
    assert invoke("report", str(out), "--out", str(page)).exit_code == 0
    assert page.read_text().count("data:image/png;base64,") >= 5
    quiet = tmp_path / "quiet"
    invoke("run", str(small_scenario), "--out", str(quiet), "-q", "--no-report", "--steps", "2")
    assert not (quiet / "report.html").exists()
    assert_one_line_error(invoke("report", str(tmp_path / "none")), "not a run directory")
    assert_one_line_error(invoke("report", str(out), "--data", str(tmp_path / "x")), "--data")
