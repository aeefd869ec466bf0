"""The `townsquare` command line."""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from . import __version__
from .errors import UserError
from .text.backend import TextBackendError

err_console = Console(stderr=True)


def _one_line(message: str) -> str:
    """``message`` on one line, with control characters (a path holding an escape
    sequence) shown escaped rather than sent to the terminal."""
    text = " ".join(str(message).split())
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _print_error(message: str) -> None:
    err_console.print(
        f"[bold red]error:[/] {escape(_one_line(message))}", highlight=False, soft_wrap=True
    )


def _os_error_message(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else "townsquare"
    why = exc.strerror or _one_line(exc) or type(exc).__name__
    hint = {
        errno.ENOSPC: "; free some space and try again",
        errno.EACCES: "; check the folder's permissions",
        errno.EROFS: "; the file system is read-only",
    }.get(exc.errno, "")
    return f"{where}: {why}{hint}"


def _click_kinds(name: str) -> tuple[type, ...]:
    """``name`` from click and from the copy of click that newer typers carry."""
    import importlib

    kinds = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            kinds.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(dict.fromkeys(kinds))


_USAGE_ERRORS = _click_kinds("UsageError")
_CLICK_ERRORS = _click_kinds("ClickException")
_ABORTS = _click_kinds("Abort")


class _OneLineErrors(TyperGroup):
    """Every command's errors in one style: ``error: …`` on one line of stderr.

    Usage errors (a bad option value, a missing argument) exit with 2 as every user error
    does; disk and permission errors name the path and exit with 1; anything unexpected
    is reported in one line too, with TOWNSQUARE_DEBUG=1 showing the traceback.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **kw):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **kw)
        global _STOP_SAID
        _STOP_SAID = False  # one invocation at a time (tests invoke many in one process)
        _NOTES.clear()
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **kw)
        except _USAGE_ERRORS as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                sys.exit(2)  # the help was printed: nothing is wrong but the missing command
            where = exc.ctx.command_path + ": " if exc.ctx is not None else ""
            _print_error(f"{where}{exc.format_message()} (see --help)")
            sys.exit(2)
        except _CLICK_ERRORS as exc:
            _print_error(exc.format_message())
            sys.exit(exc.exit_code)
        except _ABORTS:
            err_console.print("aborted")
            sys.exit(130)
        except UserError as exc:
            _print_error(str(exc))
            sys.exit(2)
        except OSError as exc:
            if os.environ.get("TOWNSQUARE_DEBUG"):
                raise
            _print_error(_os_error_message(exc))
            sys.exit(1)
        except MemoryError:
            _print_error("out of memory; try fewer users or steps")
            sys.exit(1)
        except Exception as exc:
            if os.environ.get("TOWNSQUARE_DEBUG"):
                raise
            _print_error(
                f"internal error ({type(exc).__name__}: {exc}); this is a townsquare bug: "
                "please report it with the traceback that TOWNSQUARE_DEBUG=1 shows"
            )
            sys.exit(3)
        except KeyboardInterrupt:  # between typer's own handling and ours
            code = 130
        if code == 130 and not _STOP_SAID:
            # typer turns a Ctrl-C inside a command into exit 130 without a word
            err_console.print(
                "interrupted; the command stopped before it finished (what it had already "
                "written is complete: every file is written whole or not at all)",
                highlight=False,
                soft_wrap=True,
            )
        code = code if isinstance(code, int) else 0
        if code == 0:  # a failed command says one line: its error
            for note in dict.fromkeys(_NOTES):
                err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
        sys.exit(code)


app = typer.Typer(
    cls=_OneLineErrors,
    name="townsquare",
    help="A fast, deterministic social-media simulator whose agents learn.\n\n"
    "Run a scenario with `townsquare run default`; every run writes a directory with "
    "config.yaml, summary.json, metrics.parquet and events.duckdb.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
#: the width of tables written to a file or a pipe, where rich would fold them to 80
#: columns and cut every metric's name; a terminal keeps its own (and COLUMNS wins)
PIPED_WIDTH = 160
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH)


def _fail(message: str, code: int = 2) -> typer.Exit:
    _print_error(message)
    return typer.Exit(code)


def _version(value: bool):
    if value:
        console.print(f"townsquare {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
):
    pass


def _default_out(name: str, seed: int) -> Path:
    """A new folder under runs/, made exclusively: two runs started in the same second
    with the same seed get NAME-sSEED-STAMP and NAME-sSEED-STAMP-2."""
    from .store import fresh_run_dir

    stamp = time.strftime("%Y%m%d-%H%M%S")
    return fresh_run_dir(Path("runs") / f"{name}-s{seed}-{stamp}")


@app.command()
def run(
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="Scenario YAML file, or the name of a built-in scenario (see `townsquare scenarios`).",
            show_default=False,
        ),
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(
            "--steps",
            "-n",
            min=0,
            max=2**31 - 1,  # post steps are int32 (config.INT32_MAX)
            help="Number of steps (overrides the scenario's `steps`).",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            "-s",
            min=0,
            max=2**63 - 1,  # seeds are stored as int64 (config.Scenario.seed)
            help="Random seed (overrides the scenario's `seed`).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Run directory to write (default: runs/NAME-sSEED-TIMESTAMP)."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override any scenario key by its dotted path, e.g. --set feed.k=30 "
            "--set roles.socialbot.fraction=0.1 (repeatable; values are YAML).",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue an interrupted run directory to the same result as an "
            "uninterrupted run (with --steps: extend it).",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace --out if it already holds a run.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")] = False,
    plot_: Annotated[
        bool,
        typer.Option("--plot/--no-plot", help="Draw RUN_DIR/metrics.png when the run completes."),
    ] = True,
    report_: Annotated[
        bool,
        typer.Option(
            "--report/--no-report",
            help="Write RUN_DIR/report.html (realism scorecard and figures) at the end.",
        ),
    ] = True,
):
    """Run a scenario and write a run directory.

    The first Ctrl-C finishes the current step, saves everything and stops; the run
    directory is then marked complete: false and `townsquare run --resume DIR` continues it.
    """
    from .config import load_scenario
    from .runner import Run

    try:
        if resume is not None:
            if scenario is not None or seed is not None or set_:
                raise UserError(
                    "--resume takes the scenario from the run directory; "
                    "drop SCENARIO, --seed and --set"
                )
            if out is not None or overwrite:
                raise UserError(
                    "--resume continues the run in its own directory; drop --out and "
                    "--overwrite (copy the folder first to keep the original)"
                )
            sim = Run.resume(resume, steps=steps)
        else:
            if scenario is None:
                raise UserError(
                    "missing SCENARIO (a YAML file or a built-in name such as 'default')"
                )
            if out is not None and not str(out).strip():
                raise UserError("--out: empty path; name the run directory to write")
            overrides = list(set_ or [])
            if steps is not None:
                overrides.append(f"steps={steps}")
            if seed is not None:
                overrides.append(f"seed={seed}")
            sc = load_scenario(scenario, overrides)
            target = out if out is not None else _default_out(sc.name, sc.seed)
            if not quiet:
                console.print(f"building [bold]{sc.name}[/]: {sc.users:,} users, seed {sc.seed}")
            try:
                sim = Run.start(sc, target, overwrite=overwrite)
            except BaseException:
                if out is None:
                    _remove_if_empty(target)  # the folder this command made for the run
                raise
            if sim.scenario.users != sc.users and not quiet:
                console.print(
                    f"note: {sc.graph.path} has {sim.scenario.users:,} users; "
                    "the population follows the file",
                    highlight=False,
                )
        if not quiet:
            for note in getattr(sim.world, "build_notes", ()):
                console.print(f"note: {note}", highlight=False)
    except UserError as exc:
        raise _fail(str(exc)) from None

    try:
        _execute_and_draw(sim, quiet, plot_, report_)
    finally:
        sim.release()  # held until the figures are drawn: no second writer meanwhile


def _execute_and_draw(sim, quiet: bool, plot_: bool, report_: bool) -> None:
    from .runner import RunInterrupted

    done_before = sim.world.t
    total = sim.scenario.steps
    try:
        if quiet:
            summary = sim.execute(release=False)
        else:
            columns = (
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=console, transient=False) as progress:
                task = progress.add_task("steps", total=total, completed=done_before, stats="")

                def on_step(row: dict) -> None:
                    progress.update(
                        task,
                        advance=1,
                        stats=(
                            f"active {row['active_users']:,} · posts {row['posts']:,} · "
                            f"likes {row['likes']:,} · opinion σ {row['opinion_std']:.3f}"
                        ),
                    )

                summary = sim.execute(on_step=on_step, release=False)
    except RunInterrupted as exc:
        _say_stopped(
            f"interrupted after step {exc.step}; saved to {exc.store.root}; "
            f"resume with: townsquare run --resume {exc.store.root}"
        )
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        _say_stopped(
            f"stopped; {sim.store.root} holds the run up to its last flush "
            f"(step {sim.flushed_step}); resume with: "
            f"townsquare run --resume {sim.store.root}"
        )
        raise typer.Exit(130) from None
    except UserError as exc:
        raise _fail(str(exc)) from None
    except TextBackendError as exc:
        raise _fail(
            f"text: {exc}; {sim.store.root} holds the run up to step "
            f"{sim.flushed_step} (resume with: townsquare run --resume "
            f"{sim.store.root})"
        ) from None
    except OSError as exc:
        raise _fail(
            f"{_os_error_message(exc)}; {sim.store.root} holds the run up to step "
            f"{sim.flushed_step} (resume with: townsquare run --resume {sim.store.root})",
            code=1,
        ) from None

    if not quiet:
        _print_summary(summary)
    try:
        if plot_:
            from .report import plot_run

            picture = plot_run(sim.store.root)
            if not quiet:
                console.print(f"metrics plot: {picture}", highlight=False)
        if report_:
            from .report import write_report

            page = write_report(sim.store.root, data_dir=_data_dir(None, quiet))
            if not quiet:
                console.print(f"report: {page}", highlight=False)
    except KeyboardInterrupt:
        _say_stopped(
            f"interrupted while drawing; the run itself is complete in {sim.store.root}; "
            f"draw again with: townsquare plot {sim.store.root} / townsquare report "
            f"{sim.store.root}"
        )
        raise typer.Exit(130) from None
    except OSError as exc:
        raise _fail(
            f"{_os_error_message(exc)}; the run itself is complete in {sim.store.root}",
            code=1,
        ) from None
    console.print(f"run directory: [bold]{sim.store.root}[/]", highlight=False)


_STOP_SAID = False
#: notes for stderr, printed once the command has succeeded (`_OneLineErrors`)
_NOTES: list[str] = []


def _say_stopped(message: str) -> None:
    """What a Ctrl-C saved, on one line of stderr (never wrapped)."""
    global _STOP_SAID
    _STOP_SAID = True
    err_console.print(escape(_one_line(message)), highlight=False, soft_wrap=True)


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def _print_summary(summary: dict) -> None:
    table = Table(title=f"{summary['name']} · seed {summary['seed']}", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    from .store import SUMMARY_COUNTS

    for key in SUMMARY_COUNTS:
        table.add_row(key, f"{summary[key]:,}")
    table.add_row("wall time", f"{summary['wall_s']:.1f} s")
    table.add_row("complete", str(summary["complete"]).lower())
    console.print(table)


@app.command()
def scenarios():
    """List the built-in scenarios (usable by name in `townsquare run`)."""
    from .config import builtin_scenarios, read_yaml

    table = Table(show_header=True)
    table.add_column("name")
    table.add_column("users", justify="right")
    table.add_column("steps", justify="right")
    table.add_column("file")
    for name, path in builtin_scenarios().items():
        data = read_yaml(path)
        table.add_row(name, f"{data.get('users', '')}", f"{data.get('steps', '')}", str(path))
    console.print(table)


@app.command()
def show(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `townsquare run`.")],
):
    """Print a run directory's summary and the tables in its events database."""
    from .store import RunStore

    store = RunStore(run_dir)
    if not store.summary.exists():
        raise _fail(f"{run_dir}: not a run directory (no summary.json)")
    running = store.writer_active()
    store.check_readable(events=not running)
    try:
        _print_summary(store.read_summary())
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(f"{store.summary}: damaged (no usable {exc})") from None
    try:
        rows = store.read_metrics()
    except Exception as exc:
        raise _fail(f"{store.metrics}: damaged ({_one_line(exc)[:160]})") from None
    if rows:
        last = rows[-1]
        console.print(
            f"last step {last['step']}: opinion mean {last['opinion_mean']:.3f}, "
            f"std {last['opinion_std']:.3f}, bimodality {last['bimodality']:.3f}"
        )
    if running:
        # opening events.duckdb now would stop the run at its next flush
        console.print("events.duckdb: a run is still writing it; its tables show once it stops")
        return
    if store.events.exists():
        from .store import connect_events

        with connect_events(store.events, read_only=True) as con:
            names = con.execute(
                "SELECT table_name FROM information_schema.tables ORDER BY table_name"
            ).fetchall()
            counts = [
                (name, con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
                for (name,) in names
            ]
            held = dict(counts)
            election = _election_tables(con) if held.get("polls") or held.get("votes") else []
        for name, count in counts:
            console.print(f"events.duckdb · {name}: {count:,} rows")
        for table in election:
            console.print(table)


def _election_tables(con) -> list[Table]:
    """The polls (the last ten) and every election day's result, candidates as columns."""
    candidates = [
        c
        for (c,) in con.execute(
            "SELECT DISTINCT candidate FROM (SELECT candidate FROM polls UNION ALL "
            "SELECT candidate FROM votes) ORDER BY candidate"
        ).fetchall()
    ]
    tables = []
    polls = con.execute(
        "SELECT step, candidate, share, likely_voters FROM polls WHERE step IN "
        "(SELECT DISTINCT step FROM polls ORDER BY step DESC LIMIT 10) ORDER BY step, candidate"
    ).fetchall()
    if polls:
        table = Table(title="polls (the last ten; share of likely voters)", show_header=True)
        table.add_column("step", justify="right")
        for c in candidates:
            table.add_column(f"user {c}", justify="right")
        table.add_column("likely voters", justify="right")
        table.add_column("margin (95%)", justify="right")
        by_step: dict[int, dict] = {}
        for step, c, share, likely in polls:
            by_step.setdefault(step, {"likely": likely})[c] = share
        for step, row in by_step.items():
            likely = row["likely"]
            margin = f"±{0.98 / likely**0.5:.3f}" if likely else "-"
            cells = [_fmt_share(row.get(c)) for c in candidates]
            table.add_row(str(step), *cells, f"{likely:,}", margin)
        tables.append(table)
    votes = con.execute(
        "SELECT step, candidate, count(*) FROM votes GROUP BY step, candidate ORDER BY step"
    ).fetchall()
    if votes:
        table = Table(title="election days (votes cast, share)", show_header=True)
        table.add_column("step", justify="right")
        for c in candidates:
            table.add_column(f"user {c}", justify="right")
        table.add_column("votes", justify="right")
        totals: dict[int, dict] = {}
        for step, c, n in votes:
            totals.setdefault(step, {})[c] = n
        for step, row in totals.items():
            cast = sum(row.values())
            cells = [f"{row.get(c, 0):,} ({row.get(c, 0) / cast:.3f})" for c in candidates]
            table.add_row(str(step), *cells, f"{cast:,}")
        tables.append(table)
    return tables


def _fmt_share(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `townsquare run`.")],
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "-o",
            help="Image file to write (.png, .pdf or .svg), or a folder (an existing one, a "
            "path ending in /, or a name without extension) to write metrics.png into "
            "(default: RUN_DIR/metrics.png).",
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace the file --out names if it already exists."),
    ] = False,
):
    """Draw a run's per-step metrics (activity, follows, opinions, suspensions) as a PNG."""
    from .report import plot_run
    from .store import RunStore

    if not (run_dir / "metrics.parquet").exists():
        raise _fail(f"{run_dir}: not a run directory with metrics (no metrics.parquet)")
    RunStore(run_dir).check_readable(events=False)  # a plot reads metrics.parquet only
    path = plot_run(run_dir, _output_file(out, "metrics.png", (".png", ".pdf", ".svg"), overwrite))
    console.print(f"wrote [bold]{path}[/]", highlight=False)


def _output_file(
    out: str | None, default_name: str, suffixes: tuple[str, ...], overwrite: bool = False
) -> Path | None:
    """``--out``: a file with one of ``suffixes``, or a folder to write ``default_name``
    into (an existing folder, a path ending in a slash, or a name without extension).
    Missing folders are made; an existing file is replaced only with ``overwrite``."""
    if out is None:
        return None
    if not out.strip():
        raise UserError("--out: empty path")
    path = Path(out)
    if out.endswith(("/", os.sep)) or path.is_dir() or not path.suffix:
        path.mkdir(parents=True, exist_ok=True)
        return path / default_name
    if path.suffix.lower() not in suffixes:
        raise UserError(
            f"--out {out}: writes {', '.join(suffixes)} files (or into a folder), not {path.suffix}"
        )
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise UserError(f"--out {out}: exists; pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@app.command()
def report(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="A run directory (`townsquare run`) or a sweep's (`townsquare sweep`)."
        ),
    ],
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "-o",
            help="HTML file to write (.html), or a folder (an existing one, a path ending "
            "in /, or a name without extension) to write report.html into (default: "
            "RUN_DIR/report.html).",
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Folder of real networks for references (as in `realism`)."),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace the file --out names if it already exists."),
    ] = False,
):
    """Write a self-contained HTML report: summary, realism scorecard, opinions over
    time, follower CCDF against real networks, cascade sizes, Lorenz curve of posting,
    echo-chamber scatter. Given a sweep's folder (`townsquare sweep`), draws each metric
    against each swept value with its band over seeds instead."""
    from .report import write_report
    from .report.sweep import is_sweep, write_sweep_report
    from .store import RunStore

    if is_sweep(run_dir):
        page = write_sweep_report(
            run_dir, out=_output_file(out, "report.html", (".html", ".htm"), overwrite)
        )
        console.print(f"wrote [bold]{page}[/]", highlight=False)
        return

    _scorecard_for_check(run_dir)
    _check_data(data)
    with RunStore(run_dir).reading():
        page = write_report(
            run_dir,
            out=_output_file(out, "report.html", (".html", ".htm"), overwrite),
            data_dir=_data_dir(data),
        )
    console.print(f"wrote [bold]{page}[/]", highlight=False)


@app.command()
def calibrate(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a YAML file.")],
    target: Annotated[
        str,
        typer.Option(
            "--target",
            "-t",
            help="What to fit: a run directory; gunsense, ff, polblogs or facebook (in "
            "--data); a folder in polblogs' form; a retweet CSV (user_a,user_b,weight); or an "
            "edge list of follows.",
        ),
    ],
    param: Annotated[
        list[str],
        typer.Option(
            "--param",
            "-p",
            help="KEY=LOW:HIGH: a numeric scenario key and its uniform prior (repeatable), "
            "e.g. opinion.epsilon=0.1:0.6.",
        ),
    ],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a scenario key for every simulation: KEY=VALUE."),
    ] = None,
    budget: Annotated[
        int, typer.Option("--budget", "-b", help="Simulations to learn from (default 1,000).")
    ] = 1000,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            "-m",
            help="npe (neural posterior estimation, sbi), abc (rejection ABC) or optuna (a "
            "point estimate).",
        ),
    ] = "npe",
    predictive: Annotated[
        int,
        typer.Option("--predictive", help="Runs drawn from the posterior for the check."),
    ] = 100,
    workers: Annotated[
        int, typer.Option("--workers", min=0, max=256, help="Worker processes (0: all cores).")
    ] = 0,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Run the simulations on the Ray cluster at ADDR."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Seed of the draws.")] = 0,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Folder of real networks for named targets (as in realism)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output directory (default runs/calibrate-SCENARIO)."),
    ] = None,
):
    """Fit a scenario's free parameters to a real platform (or a run) by simulation-based
    inference: simulations drawn from the prior, each measured like the target, then the
    posterior. Writes posterior.parquet (samples), calibrated.yaml (the scenario at the
    posterior median, intervals in comments), pairplot.png, predictive.html (the target
    against runs drawn from the posterior), summary.json, and simulations.parquet, the
    cache that a second call with the same settings resumes from (docs/calibration.md)."""
    from .calibration.run import Settings, prepare
    from .calibration.run import calibrate as run_calibration

    _check_data(data)
    name = Path(scenario).stem if scenario.endswith((".yaml", ".yml")) else scenario
    target_out = out or Path("runs") / f"calibrate-{name}"
    found = _data_dir(data, quiet=True)
    s = Settings(
        scenario, target, tuple(param), tuple(set_ or []), budget, method, workers, address,
        seed, predictive, str(found) if found is not None else None,
    )  # fmt: skip
    prepared = prepare(s)  # every input checked before anything is drawn or run
    with _progress() as progress:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            result = run_calibration(s, target_out, on_progress, prepared)
        except KeyboardInterrupt:
            progress.stop()
            _print_error(
                f"interrupted: the simulations done are kept in {target_out}; run the same "
                "command again to resume"
            )
            raise typer.Exit(130) from None
    table = Table(title=f"{scenario} calibrated against {target} ({method})")
    for col in ("parameter", "median", "90% interval", "prior"):
        table.add_column(col, justify="right")
    for r in result.summary:
        table.add_row(
            r["key"], f"{r['median']:.4g}", f"[{r['low']:.4g}, {r['high']:.4g}]",
            f"[{r['prior_low']:g}, {r['prior_high']:g}]",
        )  # fmt: skip
    console.print(table)
    fitted = [p for p in result.predictive if p["fitted"]]
    lines = [f"fitted on {len(result.statistics)} statistics: {', '.join(result.statistics)}"]
    if fitted:
        inside = sum(bool(p["inside"]) for p in fitted)
        lines.append(
            f"posterior predictive: {inside} of {len(fitted)} fitted statistics of the target "
            "inside the 90% band of runs drawn from the posterior"
        )
    _say_paths(result.files, lines)


@app.command()
def sweep(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a YAML file.")],
    grid: Annotated[
        list[str],
        typer.Option(
            "--grid",
            "-g",
            help="KEY=V1,V2,...: the values of a scenario key to run (repeatable; every "
            "combination runs), e.g. opinion.epsilon=0.2,0.3,0.4.",
        ),
    ],
    seeds: Annotated[
        str, typer.Option("--seeds", help="Seeds of every combination, e.g. 1-10 or 0,3,5.")
    ] = "0",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a scenario key for every run: KEY=VALUE."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=0, max=256, help="CPUs of the local Ray (0: all).")
    ] = 0,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Run on the Ray cluster at ADDR (default: a local Ray)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output directory (default runs/sweep-SCENARIO)."),
    ] = None,
):
    """Run every combination of grid values and seeds, one run directory each, as Ray
    tasks. Finished runs are skipped when the same command runs again. Writes
    OUT/runs/rNNNN-sSEED/ (each exactly what `townsquare run` makes), OUT/sweep.json (which
    run holds which values) and OUT/sweep.parquet (one row per run: the values, the seed,
    the summary totals, the realism metrics and whether each is inside its real band)
    (docs/sweeps.md)."""
    from .experiments import sweep as sw
    from .experiments.ray_tasks import check_ray
    from .outputs import check_reproduce_folder, claim_reproduce_folder

    plan = sw.check_plan(
        scenario, list(set_ or []), list(grid),
        _parse_seeds(seeds, each="a run of every combination"),
    )  # fmt: skip
    check_ray(address)
    name = Path(scenario).stem if scenario.endswith((".yaml", ".yml")) else scenario
    target = out or Path("runs") / f"sweep-{name}"
    check_reproduce_folder(target, "sweep")
    if (target / sw.SWEEP_FILE).exists() and sw.read_plan(target) is None:
        raise _fail(f"{target / sw.SWEEP_FILE}: unreadable; choose another --out")
    before = sw.read_plan(target)
    if before is not None and before != plan.describe():
        raise _fail(f"{target}: holds a sweep of other settings; choose another --out")
    claim_reproduce_folder(target, "sweep")
    total = len(plan.runs())
    console.print(
        f"sweep of {name}: {total:,} runs ({total // len(plan.seeds)} combinations x "
        f"{len(plan.seeds)} seeds) on {'the Ray cluster at ' + address if address else 'a local Ray'}",
        highlight=False,
    )
    with _progress() as progress:
        task = progress.add_task("runs", total=total)
        rows = sw.run_sweep(
            plan, target, workers, address,
            lambda done, n: progress.update(task, completed=done, total=n),
        )  # fmt: skip
    _say_paths({"table": target / sw.TABLE, "runs": target / "runs"},
               [f"{len(rows):,} runs in {target / sw.TABLE}"])  # fmt: skip


@app.command()
def dashboard(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="A run directory (finished or in progress) or a sweep's folder; "
            "none: only start new runs from the page."
        ),
    ] = None,
    port: Annotated[
        int, typer.Option("--port", "-p", min=1, max=65535, help="Port on 127.0.0.1.")
    ] = 8050,
    runs: Annotated[
        Path,
        typer.Option(
            "--runs", help="Folder of the runs started from the page (one new folder each)."
        ),
    ] = Path("runs/dashboard"),
):
    """Serve a live dashboard on 127.0.0.1 only: activity, opinions over time, the
    leaning histogram, a sample of the follow graph coloured by leaning, the realism
    scorecard, polls and votes; a run in progress updates as it goes, a sweep is browsed
    run by run; new runs are started, paused, stepped and resumed from the page
    (docs/dashboard.md). Ctrl-C stops it."""
    try:
        from .dashboard.app import Server, build_app
    except ImportError as exc:
        raise _fail(
            "the dashboard needs Dash: pip install -c constraints.txt -e '.[dashboard]' "
            f"(missing {exc.name})"
        ) from None

    if runs.exists() and not runs.is_dir():
        raise _fail(f"--runs {runs}: is a file, not a folder")
    server = Server(build_app(path, runs), port)
    console.print(f"dashboard on [bold]{server.url}[/] (Ctrl-C stops it)", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        page_run = server.app.townsquare_page_run
        if page_run.busy:
            page_run.stop()
            page_run.join()
            status = page_run.status
            console.print(
                f"the page's run in {status.folder}: {status.state} at step {status.step}"
                + (
                    " (resume it with townsquare run --resume)" if status.state == "stopped" else ""
                ),
                highlight=False,
            )


@app.command("arms-race")
def arms_race(
    rounds: Annotated[
        int | None,
        typer.Option(
            "--rounds",
            "-r",
            help="Rounds of bots learning, then the detector (default 3; 2 with --quick).",
        ),
    ] = None,
    iterations: Annotated[
        int | None,
        typer.Option(
            "--episodes",
            "-n",
            help="RLlib PPO iterations of 2,000 activities per round (default 40; 2 of 500 "
            "with --quick).",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=0, max=256, help="Ray env runners besides the driver.")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Base seed.")] = 0,
    quick: Annotated[
        bool, typer.Option("--quick", help="Two small rounds on 400-user graphs.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output directory (default runs/arms-race[-quick])."),
    ] = None,
):
    """The arms race of ACORN's socialbots and the detector: each round the bots learn
    against the current detector (RLlib PPO), then the detector is refitted on their
    traces. Writes rounds.csv (bot influence; detector accuracy, recall on the learned
    bots and false positives on citizens, before and after retraining; the realism
    scorecard of `default` with the round's bots and detector), arms_race.png and each
    round's bot, detector and platform run (docs/socialbots.md)."""
    from .experiments import arms_race as ar
    from .outputs import claim_reproduce_folder

    if rounds is not None and rounds < 1:
        raise _fail(f"--rounds {rounds}: at least one round")
    if rounds is not None and rounds > 100:
        raise _fail(f"--rounds {rounds}: at most 100 (each round trains the bots anew)")
    if iterations is not None and not 1 <= iterations <= 100_000:
        raise _fail(f"--episodes {iterations}: 1 to 100,000 training iterations per round")
    try:
        from .learn import marl  # noqa: F401
    except ImportError as exc:
        raise _fail(
            "arms-race needs the distributed extra (pip install -c constraints.txt -e "
            f"'.[distributed]'; missing {exc.name})"
        ) from None
    kw: dict = {"workers": workers, "seed": seed}
    if rounds is not None:
        kw["rounds"] = rounds
    if iterations is not None:
        kw["iterations"] = iterations
    s = ar.Settings.quick(**kw) if quick else ar.Settings(**kw)
    target = out or Path("runs") / ("arms-race" + ("-quick" if quick else ""))
    claim_reproduce_folder(target, "arms-race")
    console.print(
        f"arms race: {s.rounds} rounds of {s.iterations} PPO iterations, {s.episodes} games "
        "a round for traces and scores",
        highlight=False,
    )
    with _progress(TextColumn("{task.fields[stats]}")) as progress:
        task = progress.add_task("rounds", total=s.rounds, stats="")

        def on_round(row) -> None:
            progress.update(
                task, completed=row["round"],
                stats=f"recall {row['recall_before']:.2f} -> {row['recall_after']:.2f}",
            )  # fmt: skip

        rows = ar.run(s, target, on_round)
    paths = ar.write_outputs(target, rows)
    for row in rows:
        console.print(
            f"round {row['round']}: bot influence {row['influence_ratio']:.3f}; detector "
            f"recall on the learned bots {row['recall_before']:.2f} before retraining, "
            f"{row['recall_after']:.2f} after (false positives "
            f"{row['false_positives_before']:.3f} -> {row['false_positives_after']:.3f}); "
            f"on the platform {row['platform_facts_inside']} facts in their bands, bots "
            f"{100 * row['platform_bot_post_share']:.1f}% of posts, "
            f"{100 * row['platform_bots_suspended']:.0f}% of bots suspended",
            highlight=False,
        )
    _say_paths(paths)


#: the options of `reproduce` each experiment takes (beside --seed, --workers, --quick,
#: --out)
REPRODUCE_OPTIONS = {
    "meylahn2024": {"--runs", "--cap", "--radii"},
    "jin2024": {"--seeds", "--episodes"},
    "cicero2022": {"--seeds"},
    "deepseek2025": {"--seeds", "--episodes"},
    "acorn2022": {"--seeds", "--episodes", "--test-graphs"},
    "guess2023": {"--seeds"},
}


def _say_paths(paths: dict, lines=()) -> None:
    """An experiment's closing lines, then each output's path."""
    for line in lines:
        console.print(line, highlight=False)
    for name, path in paths.items():
        console.print(f"{name}: {path}", highlight=False)


@app.command()
def reproduce(
    experiment: Annotated[
        str,
        typer.Argument(
            help="Which paper: meylahn2024, jin2024, cicero2022, deepseek2025, acorn2022 or "
            "guess2023."
        ),
    ],
    runs: Annotated[
        int | None,
        typer.Option(
            "--runs",
            min=1,
            help="Runs per r_g (default 500; 60 with --quick; at most 100,000, 200 times "
            "the paper's).",
        ),
    ] = None,
    cap: Annotated[
        float | None,
        typer.Option(
            "--cap",
            min=1,
            help="Interactions before a run counts as still polarised (default 1e8; 1e6 "
            "with --quick; at most 1e12, where a polarised run already takes hours).",
        ),
    ] = None,
    radii: Annotated[
        str | None,
        typer.Option("--radii", help="Comma-separated r_g values (default 0.25,0.30,...,0.50)."),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            "--seeds",
            min=1,
            help="jin2024, cicero2022, deepseek2025 and guess2023: seeds per arm (default "
            "10; 3 with --quick; at most 1,000).",
        ),
    ] = None,
    episodes: Annotated[
        int | None,
        typer.Option(
            "--episodes",
            min=1,
            help="jin2024: episodes per seed (default 300; 40 with --quick; at most 10^6, "
            "about a day and a half of training per arm and seed). deepseek2025: GRPO "
            "steps (default 100; 40 with --quick; at most 10,000).",
        ),
    ] = None,
    test_graphs: Annotated[
        Path | None,
        typer.Option(
            "--test-graphs",
            help="acorn2022: a folder of edge lists to test on (default: ../shared/data/hoaxy "
            "beside the project, the paper's graphs).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Base seed.")] = 0,
    workers: Annotated[
        int,
        # each worker is a process with its own world: more than 256 only thrashes
        typer.Option("--workers", min=0, max=256, help="Processes (0: all cores; at most 256)."),
    ] = 0,
    quick: Annotated[
        bool, typer.Option("--quick", help="A small version in under a minute.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output directory (default: runs/EXPERIMENT[-quick]): new, empty, or one "
            "that an earlier `reproduce` of the same experiment wrote (its files are "
            "replaced).",
        ),
    ] = None,
):
    """Reproduce a paper's experiment.

    meylahn2024: Meylahn & Meylahn (PLOS ONE 2024), Figure 2 (ARLOD consensus times on
    random geometric graphs, N = 100, alpha = 0.25, eps = 0.1) and Figure 3 (one run at
    r_g = 0.25). Writes consensus_times.parquet, quantiles.csv, survival.png and
    trace_rg025.png.

    jin2024: Jin & Guo (2024/2025), a Q-learning influencer: learning curves of four arms
    (limited/full action space × self-observation on/off) against three baselines
    (random, fixed stance, follow the crowd). Writes results.csv (arm, seed, episode,
    followers, ...), summary.csv, answers.json, learning_curves.png and final_followers.png.

    cicero2022: CICERO's piKL (Science 2022) for election candidates: a planning candidate
    against a scripted one for lambda in 0.001, 0.01, 0.1, 1, the anchor alone and a
    pure argmax planner, then both candidates planning. Writes results.csv (arm, seed,
    vote_share, kl_to_anchor, drift, ...), summary.csv, answers.json, tradeoff.png and
    vote_share.png.

    deepseek2025: GRPO (DeepSeek-R1, Nature 2025) for an election candidate: a tiny
    language model built in place is trained on the vote reward, then writes the first
    candidate's posts in `election`, against the same model untrained and the scripted
    candidate, on the same worlds per seed (needs the llm extra). Writes models/,
    train/ (curve.csv, learning_curve.png, model/), results.csv, summary.csv,
    answers.json and vote_share.png.

    guess2023: Guess et al. (Science 2023), the feed experiment: in the learned platform
    a random 20% of citizens read the chronological feed for the last 90 of 100 steps;
    time on platform, engagement, activity, like-minded and cross-cutting exposure and
    polarisation, chronological minus engagement feed with 95% CIs over seeds. Writes
    results.csv, summary.csv, answers.json, effects.png and timeline.png.
    """
    from .experiments import EXPERIMENTS

    if experiment not in EXPERIMENTS:
        raise _fail(f"unknown experiment {experiment!r} (known: {', '.join(EXPERIMENTS)})")
    target = out or Path("runs") / (experiment + ("-quick" if quick else ""))
    given = {"--runs": runs, "--cap": cap, "--radii": radii, "--seeds": seeds,
             "--episodes": episodes, "--test-graphs": test_graphs}  # fmt: skip
    for name, value in given.items():
        if value is not None and name not in REPRODUCE_OPTIONS[experiment]:
            takers = " and ".join(e for e, opts in REPRODUCE_OPTIONS.items() if name in opts)
            raise _fail(f"{name} does not apply to {experiment}: {name} applies to {takers}")
    if experiment == "acorn2022":
        _reproduce_acorn(seeds, episodes, seed, workers, quick, test_graphs, target)
        return
    if experiment == "deepseek2025":
        _reproduce_deepseek(seeds, episodes, seed, workers, quick, target)
        return
    if experiment == "cicero2022":
        _reproduce_cicero(seeds, seed, workers, quick, target)
        return
    if experiment == "jin2024":
        _reproduce_jin(seeds, episodes, seed, workers, quick, target)
        return
    if experiment == "guess2023":
        _reproduce_guess(seeds, seed, workers, quick, target)
        return
    from .experiments import meylahn2024 as m
    from .outputs import claim_reproduce_folder

    kw: dict = {"seed": seed, "workers": workers}
    if runs is not None:
        if runs > m.MAX_RUNS:
            raise _fail(
                f"--runs {runs}: at most {m.MAX_RUNS:,} runs per r_g (200 times the paper's "
                "500; every run is a row of the results table)"
            )
        kw["runs"] = runs
    if cap is not None:
        if not cap <= m.MAX_CAP:  # also inf (1e400 reads as inf) and nan
            raise _fail(
                f"--cap {cap:g}: at most {m.MAX_CAP:.0e} interactions (100 times the "
                "paper's 1e10; a run still polarised there takes hours)"
            )
        kw["cap"] = int(cap)
    if radii is not None:
        try:
            kw["radii"] = tuple(float(r) for r in radii.split(","))
        except ValueError:
            raise _fail(f"--radii {radii}: expected numbers like 0.25,0.5") from None
        # nan and inf fail the comparison too; past √2 every pair of points is linked
        if any(not 0 < r <= m.MAX_RADIUS for r in kw["radii"]):
            raise _fail(
                f"--radii {radii}: each r_g must lie in (0, {m.MAX_RADIUS}] (every pair of "
                "points in the unit square is within √2)"
            )
    settings = m.Settings.quick(**kw) if quick else m.Settings(**kw)
    claim_reproduce_folder(target, experiment)
    console.print(
        f"{experiment}: {settings.runs} runs × {len(settings.radii)} radii, "
        f"cap {settings.cap:.0e} interactions",
        highlight=False,
    )
    with _progress() as progress:
        task = progress.add_task("runs", total=settings.runs * len(settings.radii))
        table = m.consensus_times(settings, lambda k, total: progress.update(task, completed=k))
    trace = m.single_trace(settings, 0.25, m.pick_trace_run(table, settings))
    paths = m.write_outputs(target, table, settings, trace)
    console.print(m.display_table(m.quantile_table(table, settings.cap)))
    _say_paths(paths, [m.trace_line(trace, settings)])


def _reproduce_jin(seeds, episodes, seed, workers, quick, target: Path) -> None:
    from .experiments import jin2024 as j
    from .learn.q_learning import MAX_EPISODES
    from .outputs import claim_reproduce_folder

    kw: dict = {"seed": seed, "workers": workers}
    if seeds is not None:
        if seeds > 1000:
            raise _fail(
                f"--seeds {seeds}: at most 1,000 (100 times the default 10, which already "
                "narrows the 95% intervals tenfold; every seed trains all seven arms)"
            )
        kw["seeds"] = seeds
    if episodes is not None:
        if episodes > MAX_EPISODES:
            raise _fail(
                f"--episodes {episodes}: at most {MAX_EPISODES:,} (about a day and a half "
                "of training per arm and seed in the influencer environment)"
            )
        kw["episodes"] = episodes
    settings = j.Settings.quick(**kw) if quick else j.Settings(**kw)
    claim_reproduce_folder(target, "jin2024")
    console.print(
        f"jin2024: {len(j.ARMS)} arms × {settings.seeds} seeds × {settings.episodes} "
        "episodes in the influencer environment",
        highlight=False,
    )
    with _progress() as progress:
        task = progress.add_task("arm × seed", total=len(j.ARMS) * settings.seeds)
        rows = j.run_arms(settings, lambda k, total: progress.update(task, completed=k))
    table = j.summary_table(rows, settings)
    answers = j.answers(table)
    paths = j.write_outputs(target, rows, table, answers, settings)
    console.print(j.display_table(table, settings))
    _say_paths(paths, j.display_lines(answers))


def _reproduce_guess(seeds, seed, workers, quick, target: Path) -> None:
    from .experiments import guess2023 as g
    from .outputs import claim_reproduce_folder

    kw: dict = {"seed": seed, "workers": workers}
    if seeds is not None:
        if seeds > 1000:
            raise _fail(f"--seeds {seeds}: at most 1,000 (every seed is a whole platform run)")
        kw["seeds"] = seeds
    settings = g.Settings.quick(**kw) if quick else g.Settings(**kw)
    claim_reproduce_folder(target, "guess2023")
    console.print(
        f"guess2023: {settings.seeds} seeds of {settings.scenario}"
        f"{f' ({settings.users:,} users)' if settings.users else ''}, {settings.steps} steps; "
        f"{settings.share:.0%} of citizens read the {settings.ranking} feed from step "
        f"{settings.start}",
        highlight=False,
    )
    with _progress() as progress:
        task = progress.add_task("seed", total=settings.seeds)
        runs = g.run_seeds(settings, lambda k, total: progress.update(task, completed=k))
    records = g.result_rows(runs, settings)
    table = g.summary_table(records)
    answers = g.answers(table, settings)
    paths = g.write_outputs(target, records, runs, table, answers, settings)
    console.print(g.display_table(table))
    _say_paths(paths, g.display_lines(answers))


def _reproduce_cicero(seeds, seed, workers, quick, target: Path) -> None:
    from .experiments import cicero2022 as c
    from .outputs import claim_reproduce_folder

    kw: dict = {"seed": seed, "workers": workers}
    if seeds is not None:
        if seeds > 1000:
            raise _fail(
                f"--seeds {seeds}: at most 1,000 (every seed runs all {len(c.ARMS)} arms, "
                "each a full campaign with rollouts)"
            )
        kw["seeds"] = seeds
    settings = c.Settings.quick(**kw) if quick else c.Settings(**kw)
    claim_reproduce_folder(target, "cicero2022")
    console.print(
        f"cicero2022: {len(c.ARMS)} arms × {settings.seeds} seeds in {settings.scenario}"
        f"{f' ({settings.users:,} users)' if settings.users else ''}; planners roll out "
        f"{settings.rollouts} × {settings.horizon} steps per intent every "
        f"{settings.plan_every} steps",
        highlight=False,
    )
    with _progress() as progress:
        task = progress.add_task("arm × seed", total=len(c.ARMS) * settings.seeds)
        rows = c.run_arms(settings, lambda k, total: progress.update(task, completed=k))
    table = c.summary_table(rows)
    answers = c.answers(table)
    paths = c.write_outputs(target, rows, table, answers, settings)
    console.print(c.display_table(table))
    _say_paths(paths, c.display_lines(answers))


def _reproduce_acorn(episodes, iterations, seed, workers, quick, test_graphs, target) -> None:
    from .experiments import acorn2022 as a
    from .outputs import claim_reproduce_folder
    from .roles.detector import detector_from
    from .world.influence import load_propagation_folder

    if test_graphs is None:
        data = _data_dir(None, quiet=True)
        if data is None:
            raise _fail(
                "acorn2022: no test graphs: give --test-graphs DIR (the shared data folder "
                "with hoaxy/ is not beside the project)"
            )
        test_graphs = data / "hoaxy"
    folder = test_graphs
    try:
        graphs = load_propagation_folder(folder)
    except ValueError as exc:
        raise _fail(f"--test-graphs {exc}") from None
    from .experiments import bots_on_platform as bp
    from .metrics.realism import finite_json

    try:
        from .learn import marl
    except ImportError as exc:
        raise _fail(
            "acorn2022 needs the distributed extra (pip install -c constraints.txt -e "
            f"'.[distributed]'; missing {exc.name})"
        ) from None
    kw: dict = {"seed": seed, "workers": workers}
    if episodes is not None:
        if episodes > 1000:
            raise _fail(f"--seeds {episodes}: at most 1,000 episodes per graph and arm")
        kw["episodes"] = episodes
    if iterations is not None:
        if iterations > 100_000:
            raise _fail(f"--episodes {iterations}: at most 100,000 training iterations")
        kw["iterations"] = iterations
    s = a.Settings.quick(**kw) if quick else a.Settings(**kw)
    graphs = graphs[: s.graphs] if s.graphs else graphs
    claim_reproduce_folder(target, "acorn2022")
    console.print(
        f"acorn2022: RLlib PPO for {s.iterations} iterations of {s.batch:,} activities on "
        f"new hub-and-spoke graphs, then {len(a.ARMS)} arms × {len(graphs)} test graphs "
        f"({folder}) × {s.episodes} episode(s), horizon {s.horizon}",
        highlight=False,
    )
    ms = marl.MARLSettings(iterations=s.iterations, batch=s.batch, workers=s.workers, seed=s.seed)
    with _progress(TextColumn("{task.fields[stats]}")) as progress:
        task = progress.add_task("training", total=s.iterations, stats="")

        def on_iteration(row) -> None:
            progress.update(task, completed=row["iteration"],
                            stats=f"return {row['episode_return']:.2f}")  # fmt: skip

        training = marl.train(ms, target / "train", on_iteration)
        runs_task = progress.add_task("episodes", total=len(graphs) * len(a.ARMS) * s.episodes,
                                      stats="")  # fmt: skip
        rows = a.evaluate(
            graphs, target / "train" / marl.POLICY_FILE, detector_from("builtin"), s,
            progress=lambda k, total: progress.update(runs_task, completed=k),
        )  # fmt: skip
        # the trained bot on the platform, against the learned detector
        ps = bp.PlatformSettings.quick() if quick else bp.PlatformSettings()
        plat_task = progress.add_task("platform runs", total=ps.runs, stats="")
        done: list[dict] = []

        def on_run(row) -> None:
            done.append(row)
            progress.update(plat_task, completed=len(done),
                            stats=f"{row['scenario']} {row['arm']} s{row['seed']}")  # fmt: skip

        platform = bp.run(ps, target / "train" / marl.POLICY_FILE, target / "platform", on_run)
    table = a.summary_table(rows)
    answers = a.answers(table, training, s)
    answers["platform"] = finite_json(bp.summary(platform))
    paths = a.write_outputs(target, rows, table, answers)
    paths.update(bp.write_outputs(target, platform))
    _say_paths(paths, a.display_lines(answers) + bp.display_lines(platform))


def _reproduce_deepseek(seeds, steps, seed, workers, quick, target: Path) -> None:
    from .experiments import deepseek2025 as d
    from .outputs import claim_reproduce_folder

    kw: dict = {"seed": seed, "workers": workers}
    if seeds is not None:
        if seeds > 1000:
            raise _fail(f"--seeds {seeds}: at most 1,000 (every seed runs all three arms)")
        kw["seeds"] = seeds
    if steps is not None:
        if steps > 10_000:
            raise _fail(f"--episodes {steps}: at most 10,000 GRPO steps")
        kw["steps"] = steps
    try:
        import trl  # noqa: F401
    except ImportError:
        raise _fail(
            "deepseek2025 needs the llm extra (pip install -c constraints.txt -e '.[llm]')"
        ) from None
    settings = d.Settings.quick(**kw) if quick else d.Settings(**kw)
    claim_reproduce_folder(target, "deepseek2025")
    users = f"{settings.users:,}" if settings.users else "10,000"
    console.print(
        f"deepseek2025: GRPO for {settings.steps} steps on a tiny model, then "
        f"{len(d.ARMS)} arms × {settings.seeds} seeds of election ({users} users)",
        highlight=False,
    )
    with _progress(TextColumn("{task.fields[stats]}")) as progress:
        task = progress.add_task("GRPO steps", total=settings.steps, stats="")

        def on_step(row) -> None:
            progress.update(task, completed=row["step"], stats=f"reward {row['reward']:+.4f}")

        try:
            base, trained, training = d.build_models(target, settings, on_step)
        except UserError as exc:
            raise _fail(str(exc)) from None
        models = {"untrained": str(base), "trained": str(trained)}
        runs_task = progress.add_task("arm × seed", total=len(d.ARMS) * settings.seeds, stats="")
        rows = d.run_arms(
            settings, models, lambda k, total: progress.update(runs_task, completed=k)
        )
    table = d.summary_table(rows)
    answers = d.answers(table, training, settings)
    paths = d.write_outputs(target, rows, table, answers)
    console.print(d.display_table(table))
    _say_paths(paths, d.display_lines(answers))


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def _scorecard_for(run_dir: Path, data: Path | None):
    from .metrics.realism import measure_run, measure_start, scorecard
    from .metrics.reference import real_network_references

    _scorecard_for_check(run_dir)
    _check_data(data)
    references = real_network_references(_data_dir(data))
    return scorecard(
        measure_run(run_dir),
        run=str(run_dir),
        references=references,
        start=measure_start(run_dir),
    )


def _print_scorecard(card) -> None:
    from .metrics.realism import FACTS, NOT_MEASURED

    table = Table(title=f"realism · {card.run}", show_lines=False)
    for col, justify in (
        ("fact", "left"),
        ("metric", "left"),
        ("step 0", "right"),
        ("end", "right"),
        ("real band", "right"),
        ("real networks", "left"),
        ("", "center"),
    ):
        table.add_column(col, justify=justify)
    for row in card.rows:
        verdict = {True: "[green]inside[/]", False: "[red]outside[/]", None: "n/a"}[row.inside]
        if row.configured_by and row.inside:
            verdict = f"[yellow]set by {row.configured_by}[/]"
        refs = ", ".join(f"{k} {_fmt(v)}" for k, v in row.references.items())
        table.add_row(
            row.fact,
            row.metric,
            _fmt(row.start),
            _fmt(row.value),
            f"{row.low:.3g}–{row.high:.3g}",
            refs,
            verdict,
        )
    console.print(table)
    sources = dict.fromkeys(f"{row.fact}: {row.source}" for row in card.rows)
    console.print("sources: " + "; ".join(sources), highlight=False)
    marks = {
        "emerged": "[green]emerged[/]",
        "configured": "[yellow]configured[/] (set by the scenario or the input data)",
        "missed": "[red]missed[/]",
    }
    for fact, status in card.status.items():
        mark = marks.get(status) or f"not measured ({NOT_MEASURED.get(fact, 'no data')})"
        console.print(f"  {fact} {FACTS[fact]}: {mark}")
    extra = ", ".join(f"{k} {_fmt(v)}" for k, v in card.informational.items())
    console.print(f"also measured: {extra}", highlight=False)
    if all(row.start is None for row in card.rows):
        console.print(
            "this run kept no step-0 state (checkpoints/start.npz): facts already set at "
            "the start cannot be told apart from emerged ones",
            highlight=False,
        )
    console.print(
        f"[bold]{card.reproduced} of {card.measured} measured facts emerged[/] "
        f"({card.inside} inside their bands; F1–F9, {len(card.facts) - card.measured} not "
        "measurable yet)"
    )


@app.command()
def realism(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `townsquare run`.")],
    json_: Annotated[bool, typer.Option("--json", help="Print the scorecard as JSON.")] = False,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Folder of real networks (polblogs, retweet, facebook) to measure as "
            "references (default: $TOWNSQUARE_DATA, else ../shared/data or shared/data "
            "from here or beside the project).",
        ),
    ] = None,
):
    """Score a run against stylized facts of real platforms (F1–F9 of REALISM.md).

    Each metric is shown at step 0 and at the end, with the published band, the same
    metric on real networks (measured by the same method, docs/realism.md), the source,
    and whether the run is inside the band. Each fact is marked emerged, configured (set
    by the scenario or the input data) or missed; only emerged facts count. The scorecard
    is also written to RUN_DIR/realism.json.
    """
    from .metrics.realism import scorecard_json, write_scorecard
    from .store import RunStore

    with RunStore(run_dir).reading():
        card = _scorecard_for(run_dir, data)
    write_scorecard(card, run_dir / "realism.json")
    if json_:
        typer.echo(scorecard_json(card))
    else:
        _print_scorecard(card)


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="First run directory (e.g. scripted).")],
    run_b: Annotated[Path, typer.Argument(help="Second run directory (e.g. learned).")],
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds",
            help="Extra seeds, e.g. 1,2,3 or 1-4: each run's scenario is re-run with them "
            "(stored under RUN/seeds/, reused when complete) so differences can be tested "
            "against seed noise.",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Folder of real networks for the reference values (as in `realism`)."
        ),
    ] = None,
):
    """Two realism scorecards side by side, with the difference of every metric.

    With --seeds, each side is the mean over its seeds, and a difference is marked beyond
    noise when it exceeds twice its standard error.
    """
    import json
    from contextlib import ExitStack

    from .metrics.compare import compare_runs
    from .metrics.realism import finite_json
    from .metrics.reference import real_network_references
    from .runner import seed_runs
    from .store import RunStore

    for run_dir in (run_a, run_b):
        _scorecard_for_check(run_dir)
    _check_data(data)
    extra = _parse_seeds(seeds) if seeds is not None else []
    references = real_network_references(_data_dir(data))
    say = None if json_ else (lambda msg: console.print(msg, highlight=False))
    with RunStore(run_a).reading(), RunStore(run_b).reading(), ExitStack() as seed_locks:
        paths_a = seed_runs(run_a, extra, say) if extra else [run_a]
        paths_b = seed_runs(run_b, extra, say) if extra else [run_b]
        for path in {*paths_a, *paths_b} - {run_a, run_b}:
            seed_locks.enter_context(RunStore(path).reading())  # nobody rewrites them now
        result = compare_runs(paths_a, paths_b, references)
    if json_:
        typer.echo(json.dumps(finite_json(result), indent=2))
        return
    table = Table(title=f"{run_a}  vs  {run_b}  ({len(paths_a)} and {len(paths_b)} seeds)")
    for col in ("fact", "metric", "band", "A", "", "B", "", "B − A", "beyond noise", "closer"):
        table.add_column(col, justify="left" if col in ("fact", "metric") else "right")
    mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: ""}
    for r in result["rows"]:
        band = f"{r['low']:.3g}–{r['high']:.3g}" if r["low"] is not None else ""
        a = _fmt(r["a_mean"]) + (f" ± {_fmt(r['a_std'])}" if len(paths_a) > 1 else "")
        b = _fmt(r["b_mean"]) + (f" ± {_fmt(r['b_std'])}" if len(paths_b) > 1 else "")
        noise = {True: "[bold]yes[/]", False: "no", None: "—"}[r["beyond_noise"]]
        table.add_row(
            r["fact"],
            r["metric"],
            band,
            a,
            mark[r["a_inside"]],
            b,
            mark[r["b_inside"]],
            _fmt(r["difference"]),
            noise,
            {"A": "A", "B": "[bold]B[/]", "neither": "—"}.get(r["closer"], ""),
        )
    console.print(table)
    from .metrics.realism import FACTS

    for fact in FACTS:
        a_status, b_status = result["a"]["status"].get(fact), result["b"]["status"].get(fact)
        if a_status or b_status:
            a_status, b_status = a_status or "not measured", b_status or "not measured"
            console.print(f"  {fact} {FACTS[fact]}: A {a_status}, B {b_status}", highlight=False)
    console.print(
        f"A: {result['a']['reproduced']} of {result['a']['measured']} measured facts emerged "
        f"({result['a']['inside']} inside their bands); B: {result['b']['reproduced']} of "
        f"{result['b']['measured']} emerged ({result['b']['inside']} inside)."
    )


def _progress(*extra: TextColumn) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@app.command()
def train(
    role: Annotated[
        str,
        typer.Argument(
            help="The role that learns: influencer, citizen, candidate, (grpo) socialbot, "
            "or detector (then RUN_DIR...: the labelled runs it learns from)."
        ),
    ],
    runs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="detector: run folders to learn from (their users.parquet; socialbots are "
            "the bots); the last --held-out of them are held out to evaluate.",
            show_default=False,
        ),
    ] = None,
    held_out: Annotated[
        int,
        typer.Option(
            "--held-out",
            min=1,
            help="detector: how many of the runs (the last ones) are held out to evaluate.",
        ),
    ] = 1,
    algo: Annotated[
        str,
        typer.Option(
            "--algo",
            "-a",
            help="q (tabular Q-learning), ppo (Stable-Baselines3), bc (candidate: clone "
            "the scripted candidates into the planner's anchor; --episodes runs of the "
            "scenario, default election), or grpo (candidate, influencer, socialbot: GRPO of "
            "a language model on the verifiable reward; --model PATH, --episodes "
            "optimisation steps), or rllib-ppo (socialbot: ACORN's two levels with RLlib "
            "PPO; --episodes training iterations of 2,000 activities).",
        ),
    ] = "q",
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            "-S",
            help="Scenario the learner lives in (default: the role's small built-in "
            "environment scenario, e.g. influencer_env). Its `steps` is the episode length.",
        ),
    ] = None,
    episodes: Annotated[
        int,
        typer.Option(
            "--episodes",
            "-n",
            min=1,
            help="Episodes (at most 10^6: about a day and a half in the smallest built-in "
            "environment). Ctrl-C stops after the current episode and saves what was "
            "learnt; a second Ctrl-C stops at once.",
        ),
    ] = 300,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output directory (default: runs/train-ROLE-ALGO-s SEED): new, empty, or "
            "one that `townsquare train` wrote.",
        ),
    ] = None,
    action_space: Annotated[
        str | None,
        typer.Option(
            "--action-space",
            help="limited (which side to post) or full; the candidate's is intents "
            "(default: the role's first).",
        ),
    ] = None,
    self_observation: Annotated[
        bool,
        typer.Option(
            "--self-observation/--no-self-observation",
            help="Whether the learner sees its own last stance and follower trend.",
        ),
    ] = True,
    learners: Annotated[
        str,
        typer.Option(
            "--learners",
            help="one: the role's first user learns among scripted peers (Gymnasium env); "
            "all: every user of the role shares one Q-table (PettingZoo env), as a "
            "policy line deploys it.",
        ),
    ] = "one",
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Training seed.")] = 0,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a scenario key, e.g. --set users=1000 (repeatable)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a checkpoint already in --out.")
    ] = False,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="grpo: the local causal language model folder to train (the llm extra).",
        ),
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="grpo: cpu or cuda (default cpu).")
    ] = "cpu",
    judge: Annotated[
        str | None,
        typer.Option(
            "--judge",
            help="grpo: a judge's backend (openai:MODEL@URL or transformers:PATH) scoring "
            "each message against the candidate's rubric, a second reward.",
        ),
    ] = None,
    lora: Annotated[
        int,
        typer.Option(
            "--lora",
            min=0,
            help="grpo: LoRA rank through peft (0: every weight); the adapter is merged "
            "into the saved model.",
        ),
    ] = 0,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            max=256,
            help="rllib-ppo: Ray env runners besides the driver (0: the driver samples).",
        ),
    ] = 0,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="rllib-ppo: a running Ray cluster's address (default: Ray starts locally).",
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="grpo: go on from the checkpoint in --out that a stopped run left (a "
            "judge's server down, Ctrl-C), with the same settings.",
        ),
    ] = False,
    save_every: Annotated[
        int,
        typer.Option(
            "--save-every",
            min=0,
            help="grpo: also write the checkpoint every N steps (0: only when training "
            "stops early).",
        ),
    ] = 0,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            help="grpo: weights of the votes and the judge, e.g. 1,1 (default 1,1 with a "
            "judge, 1,0 without; 0,1 trains on the judge alone).",
        ),
    ] = None,
):
    """Train a role's policy in a running world and save a checkpoint.

    Roles: influencer (reward: followers gained) and citizen (reward: the feedback on the
    side it expresses; social reinforcement learning). Writes OUT/policy.npz (a Q-table)
    or OUT/policy.safetensors (PPO: weights and JSON metadata, no pickle), OUT/curve.csv
    (one row per episode: the return and the role's own columns at the start and end),
    OUT/learning_curve.png and OUT/train.json. Substitute the checkpoint into any scenario
    with `--set roles.ROLE.policy=OUT/policy.npz`.

    Ctrl-C stops after the episode under way (a second Ctrl-C stops at once) and saves
    the checkpoint, curve and plot of the episodes done, with train.json saying
    ``"complete": false``; the command then exits with 130.
    """
    import signal

    from .learn import train as training
    from .outputs import check_train_folder, claim_train_folder

    if role == "detector":
        _train_detector(list(runs or []), held_out, out, overwrite, seed)
        return
    if algo == "rllib-ppo":
        _train_socialbot(role, episodes, workers, address, seed, out, overwrite)
        return
    if runs:
        raise _fail(f"{runs[0]}: run folders are for `train detector`; {role} learns in a scenario")
    if algo == "bc":
        _train_anchor(role, scenario, list(set_ or []), episodes, seed, out, overwrite)
        return
    if algo == "grpo":
        _train_grpo(
            role, scenario, list(set_ or []), episodes, seed, out, model, device, judge, weights,
            lora, resume, save_every, overwrite,
        )  # fmt: skip
        return
    try:
        p = training.plan(
            role,
            algo,
            scenario,
            list(set_ or []),
            episodes,
            action_space,
            self_observation,
            learners,
            seed,
        )
    except UserError as exc:
        raise _fail(str(exc)) from None
    target = out or Path("runs") / f"train-{role}-{algo}-s{seed}"
    policy_path = target / p.policy_file
    check_train_folder(target)  # a folder of the user's own files is never written into
    if policy_path.exists() and not overwrite:
        raise _fail(f"{policy_path} exists; pass --overwrite to replace it")
    try:
        env = training.make_env(p)
    except UserError as exc:
        raise _fail(str(exc)) from None
    claim_train_folder(target, role, algo)
    sc = p.scenario
    console.print(
        f"training the {role} with {algo} in [bold]{sc.name}[/] ({sc.users:,} users, "
        f"{sc.steps} steps an episode), action space {p.action_space}, "
        f"self-observation {'on' if p.self_observation else 'off'}",
        highlight=False,
    )
    # Ctrl-C: the first asks training to stop after the episode under way (checked in
    # on_episode), so what was learnt is saved; a second one stops at once
    stop_requested = False

    def _on_sigint(signum, frame) -> None:
        nonlocal stop_requested
        if stop_requested:
            raise KeyboardInterrupt
        stop_requested = True
        # on stdout, above the progress bar: stderr gets one line, what was saved
        console.print(
            "stopping after this episode to save what was learnt (Ctrl-C again to stop at once)",
            highlight=False,
        )

    previous_handler = signal.signal(signal.SIGINT, _on_sigint)
    try:
        with _progress(TextColumn("{task.fields[stats]}")) as progress:
            task = progress.add_task("episodes", total=episodes, stats="")

            def on_episode(rec) -> bool:
                progress.update(task, completed=rec.episode + 1, stats=_episode_stats(rec))
                return not stop_requested

            # a first Ctrl-C only sets stop_requested: saving goes on below
            result = training.train(p, target, on_episode, env=env)
    except KeyboardInterrupt:  # the second Ctrl-C
        _say_stopped(f"interrupted: stopped at once; the episodes done were not saved in {target}")
        raise typer.Exit(130) from None
    except UserError as exc:
        raise _fail(str(exc)) from None
    finally:
        signal.signal(signal.SIGINT, previous_handler)
    names = ", ".join(f.name for f in result.files[:-1]) + f" and {result.files[-1].name}"
    if not result.complete:
        _say_stopped(
            f"interrupted after {len(result.records):,} of {episodes:,} episodes: saved "
            f"{names} in {target} (train.json says complete: false)"
        )
        raise typer.Exit(130)
    who = "per learner" if learners == "all" else "of the learner"
    n = result.summary["compared_episodes"]
    for name, values in result.summary["first_vs_last"].items():
        if name == "return":
            line = f"return {who}: {values['first']:+.2f} in the first {n} episodes, "
            line += f"{values['last']:+.2f} in the last {n}"
        else:
            line = f"{name} at the end: {values['first']:.2f} in the first {n}, "
            line += f"{values['last']:.2f} in the last {n} (change over an episode "
            line += f"{values['first_change']:+.2f} -> {values['last_change']:+.2f})"
        console.print(line, highlight=False)
    for path in result.files:
        console.print(f"{path.name}: {path}", highlight=False)
    console.print(
        f"use it: townsquare run {'election' if role == 'candidate' else 'default'} "
        f"--set roles.{role}.policy={policy_path}",
        highlight=False,
    )


def _train_socialbot(role, iterations, workers, address, seed, out, overwrite) -> None:
    """`train socialbot --algo rllib-ppo`: ACORN's two-level bot (`learn/marl.py`)."""
    import json

    from .outputs import check_train_folder, claim_train_folder, replace_text

    if role != "socialbot":
        raise _fail(f"--algo rllib-ppo: trains the socialbot's two levels; {role!r} has none")
    try:
        from .learn import marl
    except ImportError as exc:
        raise _fail(
            "--algo rllib-ppo needs the distributed extra (pip install -c constraints.txt "
            f"-e '.[distributed]'; missing {exc.name})"
        ) from None
    target = out or Path("runs") / f"train-socialbot-rllib-ppo-s{seed}"
    try:
        check_train_folder(target)
    except UserError as exc:
        raise _fail(str(exc)) from None
    if (target / marl.POLICY_FILE).exists() and not overwrite:
        raise _fail(f"{target / marl.POLICY_FILE} exists; pass --overwrite to replace it")
    claim_train_folder(target, role, "rllib-ppo")
    s = marl.MARLSettings(iterations=iterations, workers=workers, address=address, seed=seed)
    console.print(
        f"training the socialbot's two levels with RLlib PPO: {iterations} iterations of "
        f"{s.batch:,} activities on new hub-and-spoke graphs, horizon {s.horizon}, the "
        f"{s.detector} detector, {workers} env runner(s)"
        + (f" on {address}" if address else " (Ray local)"),
        highlight=False,
    )
    with _progress(TextColumn("{task.fields[stats]}")) as progress:
        task = progress.add_task("iterations", total=iterations, stats="")

        def on_iteration(row) -> None:
            progress.update(
                task, completed=row["iteration"],
                stats=f"return {row['episode_return']:.2f}, length {row['episode_len']:.0f}",
            )  # fmt: skip

        try:
            rows = marl.train(s, target, on_iteration)
        except UserError as exc:
            raise _fail(str(exc)) from None
    replace_text(
        target / "train.json",
        json.dumps({"algo": "rllib-ppo", "role": role, **s.__dict__,
                    "seconds": rows[-1]["seconds"] if rows else 0.0}, indent=2) + "\n",
    )  # fmt: skip
    for name, path in (("policy", target / marl.POLICY_FILE),
                       ("curve.csv", target / "curve.csv"),
                       ("learning_curve.png", target / "learning_curve.png"),
                       ("rllib checkpoint", target / "checkpoint")):  # fmt: skip
        console.print(f"{name}: {path}", highlight=False)


def _train_detector(runs: list[Path], held_out: int, out: Path | None, overwrite, seed) -> None:
    """`train detector RUN_DIR...`: a logistic regression over accounts' activity
    (`roles/detector.py`), learnt from the first runs, evaluated on the last
    ``held_out``, written as JSON with its evaluation."""
    import json

    import numpy as np

    from .roles import detector as d

    if len(runs) <= held_out:
        raise _fail(
            f"train detector: give more than --held-out {held_out} run folders (one at least "
            "to learn from, the last ones held out to evaluate)"
        )
    target = out or Path("runs") / "detector.json"
    if target.suffix != ".json":
        raise _fail(f"--out {target}: the detector is one JSON file; name it FILE.json")
    if target.exists():
        try:
            d.load_detector(target)
        except d.DetectorFileError:
            raise _fail(
                f"{target}: exists and is not a detector file; choose another --out"
            ) from None
        if not overwrite:
            raise _fail(f"{target} exists; pass --overwrite to replace it")
    data = []
    for run in runs:
        try:
            data.append(d.run_accounts(run))
        except ValueError as exc:
            raise _fail(str(exc)) from None
    learn, test = data[:-held_out], data[-held_out:]

    def stack(parts):
        return np.vstack([c for c, _ in parts]), np.concatenate([b for _, b in parts])

    counts, is_bot = stack(learn)
    try:
        detector = d.fit(counts, is_bot, seed=seed)
    except ValueError as exc:
        names = ", ".join(str(r) for r in runs[:-held_out])
        raise _fail(f"train detector: {names}: {exc}") from None
    scores = d.evaluate(detector, *stack(test))
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = detector.to_json()
    payload["evaluation"] = {
        "learnt_from": [str(r) for r in runs[:-held_out]],
        "held_out": [str(r) for r in runs[-held_out:]],
        **scores,
    }
    from .outputs import replace_text

    replace_text(target, json.dumps(payload, indent=1) + "\n")
    console.print(
        f"detector learnt from {len(counts):,} accounts ({int(is_bot.sum()):,} bots) of "
        f"{len(learn)} run(s); on {scores['accounts']:,} held-out accounts "
        f"({scores['bots']:,} bots): accuracy {scores['accuracy']:.3f}, precision "
        f"{scores['precision']:.3f}, recall {scores['recall']:.3f}, ROC AUC "
        f"{scores['roc_auc']:.3f}",
        highlight=False,
    )
    console.print(f"detector: {target}", highlight=False)


def _train_grpo(
    role, scenario, overrides, steps, seed, out, model, device, judge, weights, lora, resume,
    save_every, overwrite,
) -> None:  # fmt: skip
    """`train ROLE --algo grpo --model PATH`: GRPO on the verifiable reward
    (`learn/grpo.py`); ``--episodes`` is the number of optimisation steps."""
    from .learn.grpo import (
        UNITS,
        GRPOSettings,
        TrainingInterrupted,
        check,
        reward_kind,
        scenario_of,
        train_grpo,
    )
    from .outputs import check_train_folder, claim_train_folder

    if model is None:
        raise _fail("--algo grpo: give the language model to train with --model PATH")
    if device not in ("cpu", "cuda"):
        raise _fail(f"--device {device}: expected cpu or cuda")
    pair = None
    if weights is not None:
        try:
            pair = tuple(float(w) for w in weights.split(","))
        except ValueError:
            raise _fail(f"--weights {weights}: expected two numbers, e.g. 1,1") from None
    s = GRPOSettings(
        model=str(model),
        role=role,
        scenario=scenario,
        overrides=tuple(overrides),
        steps=steps,
        seed=seed,
        device=device,
        judge=judge,
        weights=pair,
        lora=lora,
        save_every=save_every,
    )
    target = out or Path("runs") / f"train-{role}-grpo-s{seed}"
    try:
        check(s)
        check_train_folder(target)
    except UserError as exc:
        raise _fail(str(exc)) from None
    if not resume and not overwrite:
        if (target / "checkpoint" / "state.json").exists():
            raise _fail(
                f"{target / 'checkpoint'} holds a stopped run: --resume goes on with it, "
                "--overwrite starts anew"
            )
        if (target / "model").exists():
            raise _fail(f"{target / 'model'} exists; pass --overwrite to replace it")
    claim_train_folder(target, role, "grpo")
    unit = UNITS[reward_kind(s)]
    console.print(
        f"GRPO for the {role} with {model} in {scenario_of(s)}: {steps} steps of {s.batch} "
        f"completions ({s.num_generations} per prompt), reward: {unit}, from a panel of "
        f"{s.panel} citizens",
        highlight=False,
    )
    try:
        with _progress(TextColumn("{task.fields[stats]}")) as progress:
            task = progress.add_task("steps", total=steps, stats="")

            def on_step(row) -> None:
                progress.update(task, completed=row["step"], stats=f"reward {row['reward']:+.3f}")

            result = train_grpo(s, target, on_step, resume=resume)
    except TrainingInterrupted as exc:
        _say_stopped(exc.message)
        raise typer.Exit(130) from None
    except UserError as exc:
        raise _fail(str(exc)) from None
    first, last = result.first_last()
    console.print(
        f"reward ({unit}): {first:+.3f} in the first 20% of steps, {last:+.3f} in the last 20%",
        highlight=False,
    )
    for name in ("model", "curve.csv", "learning_curve.png", "train.json"):
        console.print(f"{name}: {target / name}", highlight=False)
    console.print(
        f"use it: townsquare run {'election' if role == 'candidate' else 'default'} "
        f"--set roles.{role}.policy=lm:transformers:{target / 'model'}",
        highlight=False,
    )


def _train_anchor(role, scenario, overrides, runs, seed, out, overwrite) -> None:
    """`train candidate --algo bc`: the anchor policy tau, cloned from the scripted
    candidates of ``runs`` runs of the scenario (seeds seed, seed + 1, ...)."""
    from .config import load_scenario
    from .learn.anchor import collect, fit_anchor
    from .outputs import check_train_folder, claim_train_folder, replace_text

    if role != "candidate":
        raise _fail(f"--algo bc: clones the candidates' anchor policy; {role!r} has none")
    name = scenario or "election"
    try:
        sc = load_scenario(name, overrides)
    except UserError as exc:
        raise _fail(str(exc)) from None
    target = out or Path("runs") / f"train-candidate-bc-s{seed}"
    path = target / "anchor.json"
    try:
        check_train_folder(target)
    except UserError as exc:
        raise _fail(str(exc)) from None
    if path.exists() and not overwrite:
        raise _fail(f"{path} exists; pass --overwrite to replace it")
    seeds = list(range(seed, seed + runs))
    console.print(
        f"cloning the scripted candidates of [bold]{sc.name}[/] ({sc.users:,} users, "
        f"{sc.steps} steps) over {runs} run{'s' * (runs > 1)}",
        highlight=False,
    )
    try:
        with _progress() as progress:
            task = progress.add_task("runs", total=runs)
            vectors, intents = collect(sc, seeds, lambda _: progress.advance(task))
        source = {
            "scenario": sc.name,
            "seeds": seeds,
            "command": f"townsquare train candidate --algo bc --scenario {name} "
            f"--episodes {runs} --seed {seed}",
        }
        anchor = fit_anchor(vectors, intents, source)
    except UserError as exc:
        raise _fail(str(exc)) from None
    claim_train_folder(target, role, "bc")
    replace_text(path, anchor.to_json() + "\n")
    for intent, count in anchor.source["intent_counts"].items():
        console.print(f"{intent}: {count:,} of {anchor.source['samples']:,} decisions")
    console.print(f"anchor.json: {path}", highlight=False)
    console.print(
        f"use it: townsquare run election --set roles.candidate.policy=planner "
        f"--set roles.candidate.anchor={path}",
        highlight=False,
    )


def _episode_stats(rec) -> str:
    """The progress bar's line: the episode's return and the role's first column."""
    text = f"return {rec.ret:+.1f}"
    if rec.end:
        name = next(iter(rec.end))
        text += f" · {name} {float(rec.end[name]):g} ({rec.change(name):+g})"
    return text


@app.command()
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint from `townsquare train`.")],
    scenario: Annotated[
        str, typer.Option("--scenario", "-S", help="Scenario to substitute the checkpoint into.")
    ] = "default",
    seeds: Annotated[
        int,
        typer.Option(
            "--seeds",
            "-k",
            min=1,
            max=1000,  # each seed is two whole runs of the scenario
            help="Seeds (paired runs; at most 1,000).",
        ),
    ] = 10,
    seed: Annotated[int, typer.Option("--seed", min=0, help="First seed.")] = 0,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a scenario key (repeatable)."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
):
    """Scripted versus learned: run the scenario with the role scripted and with the
    checkpoint on its policy line, on the same seeds, and compare what the role is after
    (its reward summed over the run, per user: followers gained for influencers, the net
    feedback on their posts for citizens): paired difference, 95% CI, Cohen's d_z."""
    import json

    from .config import load_scenario
    from .experiments.substitution import check, substitution
    from .policies.learned import (
        CheckpointError,
        load_model,
        read_checkpoint,
        role_for_checkpoint,
    )

    try:
        ckpt = read_checkpoint(checkpoint)
        load_model(ckpt, role_for_checkpoint(ckpt, ckpt.role_name))
        sc = load_scenario(scenario, list(set_ or []))
        if getattr(getattr(sc.roles, ckpt.role_name), "count", 1) < 1:
            raise UserError(f"{scenario}: roles.{ckpt.role_name}.count is 0; nothing to compare")
        check(sc, str(checkpoint), ckpt.role_name)
    except (CheckpointError, UserError) as exc:
        raise _fail(str(exc)) from None
    seed_list = list(range(seed, seed + seeds))
    if json_:
        effect = substitution(sc, str(checkpoint), ckpt.role_name, seed_list)
        typer.echo(json.dumps(effect.as_dict(), indent=2))
        return
    console.print(
        f"{ckpt.role_name} in [bold]{sc.name}[/] ({sc.users:,} users, {sc.steps} steps): "
        f"scripted vs {checkpoint}, {seeds} seeds",
        highlight=False,
    )
    with _progress() as progress:
        task = progress.add_task("seeds", total=seeds)
        effect = substitution(
            sc,
            str(checkpoint),
            ckpt.role_name,
            seed_list,
            lambda k, total: progress.update(task, completed=k),
        )
    console.print(effect.display_table())
    console.print(effect.summary_line(), highlight=False)


#: `compare --seeds` reruns the scenario once per seed; 100 seeds already estimate a
#: difference's standard error to within 7%, and more only fill the disk
MAX_EXTRA_SEEDS = 100
#: numpy's SeedSequence takes any non-negative integer; 2^32 - 1 keeps seeds printable
#: and equal to what `--seed` accepts
MAX_SEED = 2**32 - 1


def _parse_seeds(text: str, each: str = "a whole run stored under RUN/seeds/") -> list[int]:
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi - lo >= MAX_EXTRA_SEEDS:
                    raise _fail(
                        f"--seeds {text}: the range {lo}-{hi} holds {hi - lo + 1:,} seeds; "
                        f"at most {MAX_EXTRA_SEEDS} (each one is {each})"
                    )
                seeds.extend(range(lo, hi + 1))
            elif part:
                seeds.append(int(part))
    except ValueError:
        raise _fail(f"--seeds {text}: expected seeds like 1,2,3 or 1-4") from None
    if not seeds or min(seeds) < 0:
        raise _fail(f"--seeds {text}: expected non-negative seeds like 1,2,3 or 1-4")
    if len(seeds) > MAX_EXTRA_SEEDS:
        raise _fail(
            f"--seeds {text}: {len(seeds):,} seeds; at most {MAX_EXTRA_SEEDS} (each one is {each})"
        )
    if max(seeds) > MAX_SEED:
        raise _fail(f"--seeds {text}: seeds go up to {MAX_SEED}")
    return list(dict.fromkeys(seeds))  # a seed named twice is one run


def _data_dir(data: Path | None, quiet: bool = False) -> Path | None:
    """The folder of real networks: ``--data``, else the first one found
    (`default_data_dir`). When there is none, one note on stderr says so."""
    from .metrics.reference import default_data_dir, no_data_note

    found = data if data is not None else default_data_dir()
    if found is None and not quiet:
        _NOTES.append(no_data_note())  # said once the command has succeeded
    return found


def _check_data(data: Path | None) -> None:
    if data is not None and not data.is_dir():
        raise _fail(f"--data {data}: folder not found")


def _scorecard_for_check(run_dir: Path) -> None:
    from .store import RunStore

    store = RunStore(run_dir)
    if not store.config.exists() or not store.has_checkpoint():
        raise _fail(f"{run_dir}: not a run directory (no config.yaml or checkpoint)")
    if not store.metrics.is_file():
        raise _fail(f"{store.metrics}: missing (a run's metrics are needed to score it)")
    store.refuse_if_writing()
    store.check_readable()


def main() -> None:
    app()  # _OneLineErrors turns every error into one line


if __name__ == "__main__":
    main()
