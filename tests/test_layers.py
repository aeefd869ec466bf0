"""The package's import arrows all point down: cli -> experiments -> learn -> envs /
runner -> build -> policies -> roles -> world, with no loops (docs/architecture.md);
calibration sits between cli and experiments.

Every relative import counts, at module level or inside a function, except those under
``if TYPE_CHECKING:``. The shared services (the scenario schema, the run store, the
text layer, metrics, reports, output files, errors) sit beside the chain: they may
import the world's vocabulary and each other, never a layer of the chain, with one
named exception below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import townsquare

PACKAGE = Path(townsquare.__file__).parent

#: the chain, bottom (0) to top
LAYERS = {
    "world": 0,
    "roles": 1,
    "policies": 2,
    "build": 3,
    "envs": 4,
    "runner": 4,
    "interviews": 3.5,  # asks the world and the text layer; the runner calls it
    "learn": 5,
    "experiments": 6,
    "calibration": 6.5,  # runs scenarios over the experiments' worker pool
    "dashboard": 6.8,  # starts runs (runner) and reads runs and sweeps
    "cli": 7,
    "entry": 8,
    "__main__": 9,
}
SERVICES = {
    "config",
    "errors",
    "outputs",
    "store",
    "final_state",
    "text",
    "metrics",
    "report",
    "__init__",
}
#: the scenario schema checks a role's policy line with the registry's grammar, a module
#: that imports nothing of townsquare at module level (policies/registry.py)
ALLOWED = {("config", "townsquare.policies.registry")}


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                if hasattr(inner, "lineno"):
                    lines.add(inner.lineno)
    return lines


def imports() -> list[tuple[str, str]]:
    """(importing module, imported module) for every relative import of the package."""
    out = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        if path.name == "__init__.py":
            module = module[: -len(".__init__")]
            package = module
        tree = ast.parse(path.read_text())
        skip = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):  # import townsquare.x.y
                out += [(module, a.name) for a in node.names if a.name.startswith("townsquare.")]
                continue
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("townsquare"):
                target = node.module
            else:
                continue
            if node.module is None or target == "townsquare":  # from . import x
                out += [(module, f"{target}.{a.name}") for a in node.names]
            else:
                out.append((module, target))
    return out


def test_the_walk_sees_the_imports_it_should(tmp_path, monkeypatch):
    found = imports()
    assert ("townsquare.envs.core", "townsquare.build") in found
    assert ("townsquare.learn.q_learning", "townsquare.policies.q_table") in found
    # absolute imports count too, in both forms
    package = tmp_path / "townsquare"
    (package / "roles").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "roles" / "x.py").write_text(
        "import townsquare.learn.train\nfrom townsquare.envs import core\n"
    )
    monkeypatch.setattr(__import__(__name__), "PACKAGE", package)
    assert set(imports()) == {
        ("townsquare.roles.x", "townsquare.learn.train"),
        ("townsquare.roles.x", "townsquare.envs"),
    }


def test_every_module_has_a_place():
    groups = {_group(m) for pair in imports() for m in pair}
    assert groups <= set(LAYERS) | SERVICES | {"__version__"}, groups - set(LAYERS) - SERVICES


def test_import_arrows_point_down():
    wrong = []
    for source, target in imports():
        a, b = _group(source), _group(target)
        if a == b or b == "__version__" or (a, target) in ALLOWED:
            continue
        if a not in LAYERS and a not in SERVICES:
            wrong.append(f"{source} has no place in LAYERS or SERVICES")
        elif a in SERVICES:
            if b in LAYERS and b != "world":
                wrong.append(f"{source} -> {target} (a service imports the chain)")
        elif b in LAYERS and LAYERS[b] >= LAYERS[a]:
            wrong.append(f"{source} -> {target} ({a} is not above {b})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_loops_between_packages():
    edges: dict[str, set[str]] = {}
    for source, target in imports():
        a, b = _group(source), _group(target)
        if a != b and (a, target) not in ALLOWED:
            edges.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    loops = sorted(g for g in edges if reaches(g, g, {g}))
    assert not loops, loops
