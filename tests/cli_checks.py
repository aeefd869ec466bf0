"""What every CLI test needs: invoking `townsquare` in-process and the one-line error
contract (stderr is one line starting with `error:`, the exit code says what kind)."""

from __future__ import annotations

from typer.testing import CliRunner

from townsquare.cli import app

runner = CliRunner()


def invoke(*args):
    """`townsquare ARGS...` in this process; paths may be given as `Path`s."""
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result, *fragments: str, code: int = 2) -> str:
    """Assert ``result`` failed with ``code`` and one `error:` line holding every
    fragment; returns the line."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    text = result.stderr.strip()
    assert text.startswith("error:"), text
    assert len(text.splitlines()) == 1, text
    for fragment in fragments:
        assert fragment in text, text
    return text


def quick_run(scenario, out, *extra):
    """`townsquare run SCENARIO --out OUT` without progress, plot or report."""
    return invoke("run", scenario, "--out", out, "-q", "--no-plot", "--no-report", *extra)


def crash_during(
    run, monkeypatch, at: int, exc: type[BaseException] = RuntimeError, before=None
) -> None:
    """Execute ``run`` (a `townsquare.runner.Run`) with the world failing with ``exc``
    when it reaches step ``at``, as a crash mid-run would; the failure is expected.
    ``before(world)``, if given, runs just before the failure (half-done work)."""
    import pytest

    from townsquare.world import World

    original = World.step

    def step_or_fail(self):
        if self.t == at:
            if before is not None:
                before(self)
            raise exc("boom")
        return original(self)

    monkeypatch.setattr(World, "step", step_or_fail)
    with pytest.raises(exc):
        run.execute()
    monkeypatch.undo()
