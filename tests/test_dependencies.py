"""Every third-party package the code imports is declared: in the base dependencies of
pyproject.toml (what `make demo` installs), or, for the optional features, in the extra
that provides them. A package found only through another extra would work in the test
environment and fail on a fresh machine (it happened: networkx came with the ndlib
extra while the realism instrument needed it in every run)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import townsquare

PACKAGE = Path(townsquare.__file__).parent
PYPROJECT = PACKAGE.parents[1] / "pyproject.toml"

#: imports that only optional features make, and the extra that provides each
OPTIONAL = {
    "torch": "rl",
    "stable_baselines3": "rl",
    "safetensors": "rl",
    "sklearn": "rl",
    "transformers": "text",
    "tokenizers": "text",
    "sentence_transformers": "text",
    "trl": "llm",
    "datasets": "llm",
    "accelerate": "llm",
    "peft": "llm",
    "ray": "distributed",
    "sbi": "calibrate",
    "optuna": "calibrate",
    "ndlib": "ndlib",
    "dash": "dashboard",
    "plotly": "dashboard",
    "werkzeug": "dashboard",
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def third_party_imports() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "townsquare" and top not in sys.stdlib_module_names:
                    found.add(top)
    return found


def test_every_import_is_declared_where_it_is_needed():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    base = {_name(r) for r in project["dependencies"]}
    extras = {k: {_name(r) for r in v} for k, v in project["optional-dependencies"].items()}
    dists = packages_distributions()
    missing = []
    for top in sorted(third_party_imports()):
        names = {d.lower().replace("_", "-") for d in dists.get(top, [top])}
        where = extras.get(OPTIONAL[top], set()) if top in OPTIONAL else base
        if not names & where:
            missing.append(
                f"{top} ({', '.join(sorted(names))}) not in {OPTIONAL.get(top, 'the base dependencies')}"
            )
    assert not missing, "\n".join(missing)
