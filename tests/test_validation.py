"""Hostile input, met as a user meets it: `townsquare run small.yaml --set ...`.

Each test is one defect of the input audit: non-finite numbers, loose types, duplicate
YAML keys and binary files, impossible graphs, unsafe run names, worlds too big for the
machine, and broken data files. Every one must end as one `error:` line, exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli_checks import one_line_error as assert_one_line_error
from townsquare import build
from townsquare.build import build_world, estimate_bytes
from townsquare.cli import app
from townsquare.config import load_scenario, validate

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Runs without --out go to runs/ under the working directory: keep it a temporary one."""
    monkeypatch.chdir(tmp_path)


def run(scenario: Path, *settings: str, out: Path | None = None):
    args = ["run", str(scenario), "-q", "--no-plot", "--no-report", "--steps", "2"]
    if out is not None:
        args += ["--out", str(out)]
    for setting in settings:
        args += ["--set", setting]
    return runner.invoke(app, args, catch_exceptions=False)


# ------------------------------------------------------------------ 1. NaN and inf
@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("population.susceptibility=[.nan,2]", "population.susceptibility.0"),
        ("population.susceptibility=[2,.inf]", "population.susceptibility.1"),
        ("roles.candidate.positions=[.nan]", "roles.candidate.positions.0"),
        ("graph.mean_degree=.inf", "graph.mean_degree"),
        ("graph.radius=.nan", "graph.radius"),  # an optional float
        ("opinion.mu=-.inf", "opinion.mu"),
        ("feed.half_life=.inf", "feed.half_life"),
        ("feed.out_of_network=.nan", "feed.out_of_network"),
    ],
)
def test_non_finite_numbers_are_refused(small_scenario, tmp_path, setting, key):
    result = run(small_scenario, setting, out=tmp_path / "r")
    assert_one_line_error(result, key, "finite number")
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ 2. strict types
@pytest.mark.parametrize(
    ("setting", "key", "expected"),
    [
        ("users=true", "users", "valid integer"),
        ("users='10'", "users", "valid integer"),
        ("users=10.5", "users", "valid integer"),
        ("feed.k=2.5", "feed.k", "valid integer"),
        ("users=6.005e2", "users", "valid integer"),
        ("opinion.mu=false", "opinion.mu", "valid number"),
        ("opinion.mu='0.2'", "opinion.mu", "valid number"),
        ("population.susceptibility=[true,2]", "population.susceptibility.0", "valid number"),
        ("roles.candidate.positions=['0.1']", "roles.candidate.positions.0", "valid number"),
        ("graph.directed=1", "graph.directed", "valid boolean"),
    ],
)
def test_bools_and_strings_are_not_numbers(small_scenario, setting, key, expected):
    assert_one_line_error(run(small_scenario, setting), key, expected)


def test_yaml_lists_ints_and_sections_still_work(small_scenario, tmp_path):
    result = run(
        small_scenario,
        "population.susceptibility=[1,3]",  # a list for a tuple, ints for floats
        "roles.candidate.positions=[-1, 1]",
        "opinion.mu=0",
        "feed={k: 5.0, ranking: chronological}",  # a section as a mapping; 5.0 is whole
        "users=6e2",  # YAML 1.2 exponents, which PyYAML alone reads as strings
        "opinion.epsilon=3e-1",
        out=tmp_path / "r",
    )
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert config["population"]["susceptibility"] == [1.0, 3.0]
    assert config["roles"]["candidate"]["positions"] == [-1.0, 1.0]
    assert config["feed"]["k"] == 5 and config["users"] == 600
    assert config["opinion"]["epsilon"] == 0.3
    # the resolved config.yaml is itself a valid scenario (lists for tuples)
    assert validate(config).population.susceptibility == (1.0, 3.0)


# ------------------------------------------------------------------ 3. YAML files
def test_duplicate_keys_name_the_file_and_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("users: 600\nsteps: 2\nusers: 700\n")
    assert_one_line_error(run(path), f"{path}:3:", "duplicate key 'users'", "first on line 1")
    path.write_text("users: 600\nfeed:\n  k: 3\n  ranking: engagement\n  k: 4\n")
    assert_one_line_error(run(path), f"{path}:5:", "duplicate key 'k'")


def test_duplicate_keys_in_a_set_value(small_scenario):
    assert_one_line_error(run(small_scenario, "feed={k: 3, k: 4}"), "feed", "duplicate key 'k'")


def test_merge_keys_may_be_overridden(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text(
        "users: 600\nroles: {influencer: {count: 1}}\nfeed: {<<: {k: 3, window: 2}, k: 5}\n"
    )
    sc = load_scenario(str(path))
    assert (sc.feed.k, sc.feed.window) == (5, 2)


def test_binary_scenario_file(tmp_path):
    path = tmp_path / "picture.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    assert_one_line_error(run(path), str(path), "not a UTF-8 text file")
    path.write_bytes(b"users: 600\x00\x01\n")  # UTF-8, but not text
    assert_one_line_error(run(path), str(path), "not a text file")


def test_control_characters_in_keys_stay_on_one_line(small_scenario):
    assert_one_line_error(run(small_scenario, "fe\ned.k=3"), "unknown key")
    assert_one_line_error(run(small_scenario, "name=a\nb"), "name", "letters, digits")


# ------------------------------------------------------------------ 4. impossible graphs
@pytest.mark.parametrize("kind", ["power_law", "two_communities", "random_geometric"])
def test_mean_degree_above_users_minus_one(small_scenario, kind):
    result = run(small_scenario, f"graph.kind={kind}", "graph.mean_degree=600")
    assert_one_line_error(result, "graph.mean_degree", "users - 1 = 599")
    assert run(small_scenario, f"graph.kind={kind}", "graph.mean_degree=599").exit_code == 0


def test_too_few_users_for_a_generated_graph(small_scenario):
    result = run(small_scenario, "users=1", "roles={influencer: {count: 0}, candidate: {count: 0}}")
    assert_one_line_error(result, "graph.mean_degree", "users - 1 = 0")


def test_random_geometric_radius(small_scenario, tmp_path):
    assert_one_line_error(
        run(small_scenario, "graph.kind=random_geometric", "graph.radius=2"),
        "graph.radius",
        "less than or equal to 1.41",
    )
    # a radius sets the degree itself: mean_degree is not checked then
    result = run(
        small_scenario,
        "graph.kind=random_geometric",
        "graph.radius=0.1",
        "graph.mean_degree=1000",
        out=tmp_path / "r",
    )
    assert result.exit_code == 0, result.output


def test_data_opinions_need_polblogs(small_scenario):
    result = run(small_scenario, "population.opinion.distribution=data")
    assert_one_line_error(result, "population.opinion.distribution", "polblogs", "power_law")


# ------------------------------------------------------------------ 5. run names
@pytest.mark.parametrize(
    "name", ["../../escaped", "a/b", ".hidden", "..", "x" * 65, "with space", "'\"'", "é"]
)
def test_unsafe_names_are_refused(small_scenario, tmp_path, monkeypatch, name):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    result = runner.invoke(
        app,
        ["run", str(small_scenario), "-q", "--no-plot", "--no-report", "--steps", "1"]
        + ["--set", f"name={yaml.safe_dump(name, default_style=chr(39)).strip()}"],
        catch_exceptions=False,
    )
    assert_one_line_error(result, "name", "runs/NAME-sSEED-TIMESTAMP")
    # nothing written, in runs/ or outside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "small.yaml"]
    assert list(work.iterdir()) == [] and list((tmp_path / "a").iterdir()) == [work]


def test_safe_name_makes_the_default_run_directory(small_scenario, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(small_scenario, "name=my_run-2.v1")
    assert result.exit_code == 0, result.output
    (made,) = (tmp_path / "runs").iterdir()
    assert made.name.startswith("my_run-2.v1-s3-")


# ------------------------------------------------------------------ 6. size limits
def test_a_billion_users_is_refused_before_allocating(small_scenario):
    text = assert_one_line_error(run(small_scenario, "users=1000000000"), "memory")
    assert "1,000,000,000 users" in text and "available" in text and "TB" in text


def test_users_beyond_int32(small_scenario):
    assert_one_line_error(run(small_scenario, "users=5000000000"), "users", "2147483647")


def test_memory_estimate_uses_the_machine(small_scenario, tmp_path, monkeypatch):
    monkeypatch.setattr(build, "available_bytes", lambda: 2_000_000)
    result = run(small_scenario, "feed.k=1000", out=tmp_path / "r")
    text = assert_one_line_error(result, "needs about", "the 2.0 MB this machine has available")
    assert "600 users" in text and "feed.k 1000" in text
    monkeypatch.setattr(build, "available_bytes", lambda: 10**12)
    assert run(small_scenario, "feed.k=1000", out=tmp_path / "r").exit_code == 0


def test_memory_estimate_matches_the_benchmark():
    """benchmarks/results/world.json: 10^6 users, 100 steps peaked 885 MB above the bare
    interpreter; the estimate may err high, but not by orders of magnitude."""
    sc = validate({"users": 1_000_000, "steps": 100})
    need = estimate_bytes(sc, sc.users, sc.users * sc.graph.mean_degree)
    assert 0.885e9 < need < 2.5 * 0.885e9


def edge_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edges.txt"
    path.write_text(text)
    return path


def test_huge_node_id_in_an_edge_list(small_scenario, tmp_path):
    edges = edge_file(tmp_path, "0 1\n1 2\n5000000000 3\n")
    result = run(small_scenario, "graph.kind=edge_list", f"graph.path={edges}")
    assert_one_line_error(result, f"{edges}:3:", "node id 5000000000", "int32")


def test_node_id_beyond_the_machines_memory(small_scenario, tmp_path, monkeypatch):
    monkeypatch.setattr(build, "available_bytes", lambda: 450 * 1000)  # 1,000 users' worth
    edges = edge_file(tmp_path, "0 1\n# a comment\n1 200000\n")
    result = run(small_scenario, "graph.kind=edge_list", f"graph.path={edges}")
    assert_one_line_error(result, f"{edges}:3:", "node id 200000", "1,000 this machine")
    edges = edge_file(tmp_path, "# nodes: 300000\n0 1\n")
    result = run(small_scenario, "graph.kind=edge_list", f"graph.path={edges}")
    assert_one_line_error(result, f"{edges}:1:", "nodes: 300000")


# ------------------------------------------------------------------ 7. data files
@pytest.mark.parametrize("weight", ["nan", "NaN", "inf", "-inf", "-1", "-0.5"])
def test_bad_edge_weights_name_the_line(small_scenario, tmp_path, weight):
    edges = edge_file(tmp_path, f"0 1 2\n1 2 {weight}\n")
    result = run(small_scenario, "graph.kind=edge_list", f"graph.path={edges}")
    assert_one_line_error(result, f"{edges}:2:", "finite number >= 0")


def test_self_loops_and_duplicates_become_build_notes(tmp_path):
    lines = ["0 1", "1 1", "0 1", "2 2", "0 1"] + [f"{i} {i + 1}" for i in range(3, 40)]
    edges = edge_file(tmp_path, "\n".join(lines) + "\n")
    sc = validate(
        {
            "users": 40,
            "roles": {"influencer": {"count": 1}, "candidate": {"count": 0}},
            "graph": {"kind": "edge_list", "path": str(edges)},
        }
    )
    world, _ = build_world(sc)
    assert world.build_notes == [
        f"graph.path {edges}: dropped 2 self-loops and 2 duplicate edges "
        "(a follow graph holds each follow once)"
    ]
    assert world.graph.edge_count == len(lines) - 4
    clean, _ = build_world(validate({"users": 50, "roles": {"influencer": {"count": 1}}}))
    assert clean.build_notes == []


def test_the_command_line_prints_build_notes(small_scenario, tmp_path):
    edges = edge_file(tmp_path, "".join(f"{i} {i + 1}\n" for i in range(40)) + "3 3\n0 1\n")
    args = ["run", str(small_scenario), "--out", str(tmp_path / "r"), "--steps", "1"]
    args += ["--no-plot", "--no-report", "--set", "graph.kind=edge_list"]
    args += ["--set", f"graph.path={edges}"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "dropped 1 self-loop and 1 duplicate edge" in " ".join(result.output.split())
