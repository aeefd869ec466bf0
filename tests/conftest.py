from __future__ import annotations

from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

SMALL = {
    "name": "small",
    "users": 600,
    "steps": 12,
    "seed": 3,
    "roles": {
        "influencer": {"count": 5},
        "candidate": {"count": 2},
        "socialbot": {"fraction": 0.05},
    },
    "record": {"flush_every": 5},
}


@pytest.fixture
def small_scenario(tmp_path: Path) -> Path:
    """A 600-user scenario file that runs in well under a second."""
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return path


@pytest.fixture
def data_dir() -> Path:
    if not DATA.exists():
        pytest.skip(f"real networks not available at {DATA}")
    return DATA


@pytest.fixture(scope="session")
def small_sweep(tmp_path_factory):
    """`townsquare sweep` of SMALL over opinion.epsilon 0.2, 0.4 and seeds 1-2 on a local
    Ray of 2 CPUs: (the CLI's result, the sweep folder); made once per test process."""
    pytest.importorskip("ray")
    from cli_checks import invoke

    root = tmp_path_factory.mktemp("small-sweep")
    scenario = root / "small.yaml"
    scenario.write_text(yaml.safe_dump(SMALL))
    out = root / "out"
    result = invoke("sweep", scenario, "--grid", "opinion.epsilon=0.2,0.4",
                    "--seeds", "1-2", "--workers", "2", "--out", out)  # fmt: skip
    return result, out
