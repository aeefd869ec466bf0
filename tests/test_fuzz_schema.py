"""Fuzz the whole scenario schema: any value for any key ends in a run or one error line.

Keys are enumerated from `Scenario.model_fields`, so a key added to the schema is fuzzed
without touching this file. Two levels:

* `validate` (fast, many examples): returns a `Scenario` or raises `UserError`, nothing else;
  the same for `apply_override` on arbitrary ``--set`` text and `read_yaml` on arbitrary
  bytes;
* the command line (`townsquare run FILE --set k=v ...`, 2 steps): exit 0, or exit 2 with
  exactly one stderr line starting with ``error:``; never a traceback.

``TOWNSQUARE_FUZZ=long`` (used by ``make test-all``) runs about 15x more examples.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import types
import typing
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

from townsquare.cli import app
from townsquare.config import Scenario, apply_override, read_yaml, validate
from townsquare.errors import UserError

LONG = os.environ.get("TOWNSQUARE_FUZZ", "") == "long"
CLI_EXAMPLES = 1000 if LONG else 80
FAST_EXAMPLES = 5000 if LONG else 400

BASE = {
    "name": "fuzz",
    "users": 300,
    "steps": 2,
    "seed": 1,
    "roles": {
        "influencer": {"count": 3},
        "candidate": {"count": 2},
        "socialbot": {"fraction": 0.05},
    },
    "record": {"flush_every": 5},
}


# ------------------------------------------------------------------ the schema's keys
def _keys(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield prefix + name, field  # the section itself: a mapping, or garbage
            yield from _keys(annotation, f"{prefix}{name}.")
        else:
            yield prefix + name, field


KEYS = dict(_keys(Scenario))


def test_every_key_is_enumerated():
    assert {"users", "graph.mean_degree", "roles.influencer.policy", "text.template"} <= set(KEYS)
    assert len(KEYS) > 90


# ------------------------------------------------------------------ values
# Files a path key can name (made once per session by the `files` fixture)
FILES: dict[str, str] = {}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [0, 1, -1, 2, 10**6, 10**9, 2**31 - 1, 2**31, 2**63, 10**30, 1e-300, 1e300, -0.0]
    ),
    st.text(max_size=12),
)
garbage = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _bounds(field) -> tuple[float | None, float | None]:
    lo = hi = None
    for meta in field.metadata:
        lo = getattr(meta, "ge", getattr(meta, "gt", lo))
        hi = getattr(meta, "le", getattr(meta, "lt", hi))
    return lo, hi


def _mostly(usual: st.SearchStrategy, rare: st.SearchStrategy) -> st.SearchStrategy:
    """``usual`` three times in four."""
    return st.integers(0, 3).flatmap(lambda i: rare if i == 0 else usual)


def _plausible(field) -> st.SearchStrategy:
    """Values of the key's own type, inside, at and just beyond its bounds, so that most
    examples get as far as building and running a world."""
    return _plausible_type(field.annotation, *_bounds(field))


def _plausible_type(annotation, lo=None, hi=None) -> st.SearchStrategy:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _plausible_type(args[0], lo, hi)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return st.one_of(st.none(), *(_plausible_type(a, lo, hi) for a in rest))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low = int(lo) if lo is not None else -3
        high = int(min(hi, low + 40)) if hi is not None else low + 40
        edges = [low, low - 1, high + 1, 2**31, 2**63, float(high)]
        edges += [int(hi), int(hi) + 1] if hi is not None else []
        return _mostly(st.integers(low, high), st.sampled_from(edges))
    if annotation is float:
        low = float(lo) if lo is not None else -3.0
        high = float(hi) if hi is not None else low + 5.0
        edges = [low, high, low - 1e-9, high + 1e-9, 1e-300, 1e300, math.nan, -math.inf]
        return _mostly(st.floats(low, high), st.sampled_from(edges))
    if annotation is str:
        return st.one_of(st.text(max_size=12), st.sampled_from(sorted(FILES.values()) or ["x"]))
    if origin in (tuple, list):
        return st.lists(_plausible_type(args[0]), min_size=1, max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = annotation.model_fields
        return st.dictionaries(
            st.sampled_from(sorted(fields)).filter(lambda k: k in fields), scalars, max_size=2
        )
    return garbage


GRAPH_FILES = {"edge_list": ["ring", "named", "binary", "missing", "folder", "polblogs"]}
GRAPH_FILES["polblogs"] = ["polblogs", "ring", "missing", "folder"]


@st.composite
def overrides(draw, max_overrides: int = 3) -> list[tuple[str, object]]:
    """One to a few (dotted key, value) pairs, mostly of the key's type; sometimes a key
    outside the schema, sometimes a graph read from one of the test files."""
    out = []
    if FILES and draw(st.integers(0, 3)) == 0:
        kind = draw(st.sampled_from(sorted(GRAPH_FILES)))
        out += [
            ("graph.kind", kind),
            ("graph.path", FILES[draw(st.sampled_from(GRAPH_FILES[kind]))]),
        ]
    keys = sorted(KEYS) + ["bogus", "feed.x"]
    for _ in range(draw(st.integers(1, max_overrides))):
        key = draw(st.sampled_from(keys))
        field = KEYS.get(key)
        plausible = field is not None and draw(st.integers(0, 3)) > 0
        out.append((key, draw(_plausible(field) if plausible else garbage)))
    return out


def _as_yaml(value: object) -> str:
    """``value`` as the text after ``--set key=``; floats sometimes as users write them
    (``1e-05``, which YAML 1.1 alone would read as a string)."""
    if isinstance(value, float) and math.isfinite(value) and "e" in repr(value):
        return repr(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=2**31 - 1, allow_unicode=True)
    return text.removesuffix("\n...\n").strip()


def _set(data: dict, key: str, value: object) -> None:
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def _check_user_error(exc: UserError) -> None:
    message = str(exc)
    assert message and "\n" not in message and "\r" not in message, repr(message)


# ------------------------------------------------------------------ fast: validate
@settings(max_examples=FAST_EXAMPLES, deadline=None)
@given(overrides(max_overrides=4))
def test_validate_returns_a_scenario_or_raises_user_error(pairs):
    data = yaml.safe_load(yaml.safe_dump(BASE))
    for key, value in pairs:
        _set(data, key, value)
    try:
        sc = validate(data, "fuzz.yaml")
    except UserError as exc:
        _check_user_error(exc)
        return
    assert isinstance(sc, Scenario)
    # the resolved scenario is itself valid: what config.yaml holds can be read back
    assert validate(yaml.safe_load(sc.resolved_yaml())) == sc


@settings(max_examples=FAST_EXAMPLES, deadline=None)
@given(st.text(max_size=40))
def test_apply_override_on_any_text(assignment):
    data = yaml.safe_load(yaml.safe_dump(BASE))
    try:
        apply_override(data, assignment)
    except UserError as exc:
        _check_user_error(exc)
        return
    with contextlib.suppress(UserError):
        validate(data)


@settings(
    max_examples=FAST_EXAMPLES // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_read_yaml_on_any_bytes(tmp_path, content):
    path = tmp_path / "s.yaml"
    path.write_bytes(content)
    try:
        data = read_yaml(path)
    except UserError as exc:
        _check_user_error(exc)
        return
    assert isinstance(data, dict)


# ------------------------------------------------------------------ slow: the command line
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("fuzz-files")
    ring = root / "ring.txt"
    ring.write_text("".join(f"{i} {(i + 1) % 300}\n" for i in range(300)) + "0 0\n0 1\n")
    named = root / "named.csv"
    named.write_text("source,target,weight\n" + "".join(f"u{i},u{i + 1},2\n" for i in range(60)))
    blogs = root / "polblogs"
    blogs.mkdir()
    (blogs / "nodes.csv").write_text(
        "id,label,leaning,source\n"
        + "".join(f"{i},b{i},{'liberal' if i % 2 else 'conservative'},x\n" for i in range(40))
    )
    (blogs / "edges.csv").write_text(
        "source,target\n" + "".join(f"{i},{(i * 7) % 40}\n" for i in range(40))
    )
    binary = root / "binary.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    FILES.update(
        ring=str(ring),
        named=str(named),
        polblogs=str(blogs),
        binary=str(binary),
        missing=str(root / "missing.txt"),
        folder=str(root),
    )
    return FILES


cli = CliRunner()


@contextlib.contextmanager
def _inside(folder: str):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _no_remote_text(pairs: list[tuple[str, object]]) -> bool:
    """The CLI fuzz stays offline: no chat server to wait for, no model to load."""
    return not any(k == "text.backend" and v in ("openai", "transformers") for k, v in pairs)


@pytest.mark.usefixtures("files")
@settings(max_examples=CLI_EXAMPLES, deadline=None)
@given(overrides().filter(_no_remote_text))
def test_cli_run_ends_in_a_run_or_one_error_line(pairs):
    with tempfile.TemporaryDirectory() as tmp, _inside(tmp):
        scenario = Path(tmp) / "fuzz.yaml"
        scenario.write_text(yaml.safe_dump(BASE))
        args = ["run", str(scenario), "--out", str(Path(tmp) / "run"), "--steps", "2"]
        args += ["-q", "--no-plot", "--no-report"]
        for key, value in pairs:
            args += ["--set", f"{key}={_as_yaml(value)}"]
        result = cli.invoke(app, args, catch_exceptions=True)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output, (args, output)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args}: {type(result.exception).__name__}: {result.exception}")
    assert result.exit_code in (0, 2), (args, result.exit_code, output)
    if result.exit_code == 2:
        text = result.stderr.strip()
        assert text.startswith("error:") and len(text.splitlines()) == 1, (args, text)
