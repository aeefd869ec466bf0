"""``townsquare dashboard``: a live page (Dash) on 127.0.0.1 that shows a run as it goes,
a finished run, or a sweep, and starts, pauses, steps and resumes new runs
(docs/dashboard.md).

The page refreshes every second. The cheap parts (the per-step metrics) are read at
every refresh; the parts that need the world (the leaning histogram, the follow graph,
the realism scorecard) are read again only when the run writes a new checkpoint.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import UserError
from . import figures
from .control import CONTROLS, RANKINGS, PageRun, scenario_values
from .views import RunState, folder_kind, read_run

REFRESH_MS = 1000
#: the page's input of each control (`CONTROLS`), in its order
CONTROL_IDS = ("users", "steps", "seed", "ranking", "epsilon", "bots")
INPUT = {"width": "100px"}
CHOOSERS = {"display": "flex", "flexWrap": "wrap", "gap": "12px"}  # a sweep's metric and key
CELL = {"padding": "3px 10px", "borderBottom": "1px solid #e3e6eb"}
STATS = (  # element id, label, how it is read from the run
    ("stat-step", "step", lambda r: r.step),
    ("stat-posts", "posts", lambda r: r.total("posts")),
    ("stat-replies", "replies", lambda r: r.total("replies")),
    ("stat-reposts", "reposts", lambda r: r.total("reposts")),
    ("stat-likes", "likes", lambda r: r.total("likes")),
    ("stat-follows", "follows", lambda r: r.total("follows")),
    ("stat-opinion-mean", "mean leaning", lambda r: r.last("opinion_mean")),
    ("stat-bimodality", "bimodality", lambda r: r.last("bimodality")),
)
STYLE = {
    "card": {"background": "#fff", "border": "1px solid #e3e6eb", "borderRadius": "8px",
             "padding": "10px 14px", "margin": "6px"},
    "stat_value": {"fontSize": "22px", "fontWeight": 600, "fontVariantNumeric": "tabular-nums"},
    "stat_label": {"color": "#5b6472", "fontSize": "12px", "textTransform": "uppercase"},
    "row": {"display": "flex", "flexWrap": "wrap"},
    "half": {"flex": "1 1 480px", "minWidth": "380px"},
}  # fmt: skip


def fmt(value) -> str:
    """A number as the page shows it: whole numbers with thousands separators, others to
    four decimals; n/a for none."""
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    value = float(value)
    return "n/a" if value != value else f"{value:.4f}"


class RunCache:
    """Each run folder's last reading; the world is read again only when its checkpoint
    changes (``latest.json``'s size and time)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loading = threading.Lock()
        self._world: dict[Path, tuple[tuple, RunState, dict]] = {}

    def _reload(self, folder: Path, stamp: tuple, held):
        try:
            with_world = read_run(folder)
        except (UserError, OSError, ValueError, KeyError):
            return held  # caught mid-write: read again at the next refresh
        figs = {
            "histogram": figures.histogram_figure(with_world),
            "graph": figures.graph_figure(with_world),
        }
        held = (stamp, with_world, figs)
        with self._lock:
            self._world[folder] = held
        return held

    def read(self, folder: Path) -> tuple[RunState, dict]:
        """(the run now, its figures that need the world)."""
        run = read_run(folder, with_world=False)
        latest = folder / "checkpoints" / "latest.json"
        try:
            info = latest.stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
        with self._lock:
            held = self._world.get(folder)
        if (
            stamp is not None
            and (held is None or held[0] != stamp)
            and self._loading.acquire(blocking=False)  # one reload at a time; others
        ):  # show what was read last
            try:
                held = self._reload(folder, stamp, held)
            finally:
                self._loading.release()
        if held is not None:
            w = held[1]
            run.opinion, run.role, run.checkpoint_step = w.opinion, w.role, w.checkpoint_step
            run.graph_nodes, run.graph_edges, run.measures = (
                w.graph_nodes,
                w.graph_edges,
                w.measures,
            )
            return run, held[2]
        return run, {
            "histogram": figures.histogram_figure(run),
            "graph": figures.graph_figure(run),
        }


def build_app(path: Path | None, runs_dir: Path):
    """The Dash app for ``path`` (a run, a sweep, or None: new runs only)."""
    from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

    from ..config import builtin_scenarios

    kind = folder_kind(path) if path is not None else None
    page_run = PageRun(runs_dir)
    cache = RunCache()
    # the sweep's settings and rows; the rows come when sweep.parquet is written, and a
    # sweep still running is read again at each tick until then
    sweep = {"plan": None, "rows": []}
    if kind == "sweep":
        sweep["plan"], sweep["rows"] = _read_sweep_if_done(path)
    app = Dash(__name__, title="townsquare dashboard", update_title=None)
    app.townsquare_page_run = page_run  # for tests and the server's shutdown
    # the controls start at the default scenario's own values, and take the values of
    # whichever scenario is chosen (`scenario_values`)
    own = scenario_values("default")

    stats = html.Div(
        [html.Div([html.Div("–", id=i, style=STYLE["stat_value"]),
                   html.Div(label, style=STYLE["stat_label"])], style=STYLE["card"])
         for i, label, _ in STATS],
        style=STYLE["row"],
    )  # fmt: skip
    controls = html.Div(
        [
            html.H3("A new run"),
            html.Div(
                [
                    html.Label(["scenario", dcc.Dropdown(
                        id="ctl-scenario", options=sorted(builtin_scenarios()), value="default",
                        clearable=False, style={"width": "160px"})]),
                    html.Label(["users", dcc.Input(id="ctl-users", type="number", value=own["users"],
                                                   min=10, step=1, style=INPUT)]),
                    html.Label(["steps", dcc.Input(id="ctl-steps", type="number", value=own["steps"],
                                                   min=1, step=1, style=INPUT)]),
                    html.Label(["seed", dcc.Input(id="ctl-seed", type="number", value=own["seed"],
                                                  min=0, step=1, style=INPUT)]),
                    html.Label(["feed ranking", dcc.Dropdown(
                        id="ctl-ranking", options=list(RANKINGS), value=own["feed.ranking"],
                        clearable=False, style={"width": "160px"})]),
                    html.Label(["confidence bound ε", dcc.Input(
                        id="ctl-epsilon", type="number", value=own["opinion.epsilon"], min=0, max=2, step=0.05, style=INPUT)]),
                    html.Label(["socialbot share", dcc.Input(
                        id="ctl-bots", type="number", value=own["roles.socialbot.fraction"], min=0, max=0.5, step=0.01, style=INPUT)]),
                ],
                style={**STYLE["row"], "gap": "12px", "alignItems": "end"},
            ),
            html.Div(
                [html.Button(text, id=f"btn-{text.lower()}", n_clicks=0,
                             style={"marginRight": "8px", "padding": "6px 14px"})
                 for text in ("Start", "Pause", "Step", "Resume", "Stop")],
                style={"marginTop": "10px"},
            ),
            html.Div(id="run-status", style={"marginTop": "8px", "color": "#5b6472"}),
            html.Div(id="run-error", style={"color": "#b42318"}),
        ],
        style=STYLE["card"],
    )  # fmt: skip
    sweep_panel = html.Div()
    if kind == "sweep":
        sweep_panel = _sweep_panel(path, sweep["plan"], sweep["rows"])
    app.layout = html.Div(
        [
            html.H1("townsquare", style={"margin": "4px 6px"}),
            html.Div(_describe(path, kind), id="source", style={"margin": "0 6px 8px"}),
            controls,
            sweep_panel,
            html.H2(id="run-title", style={"margin": "18px 6px 4px"}),
            stats,
            html.Div(
                [html.Div(dcc.Graph(id="fig-activity"), style=STYLE["half"]),
                 html.Div(dcc.Graph(id="fig-opinion"), style=STYLE["half"]),
                 html.Div(dcc.Graph(id="fig-histogram"), style=STYLE["half"]),
                 html.Div(dcc.Graph(id="fig-election"), id="election-box", style=STYLE["half"])],
                style=STYLE["row"],
            ),  # fmt: skip
            dcc.Graph(id="fig-graph"),
            html.H3("Realism scorecard", style={"margin": "12px 6px 4px"}),
            html.Div(id="scorecard", style={"margin": "0 6px"}),
            dcc.Interval(id="tick", interval=REFRESH_MS),
            dcc.Store(id="shown", data=str(path) if kind == "run" else None),
        ],
        style={"fontFamily": "-apple-system, Segoe UI, Roboto, Arial, sans-serif",
               "background": "#f6f7f9", "padding": "10px", "color": "#1d2430"},
    )  # fmt: skip

    @app.callback(
        *(Output(f"ctl-{name}", "value") for name in CONTROL_IDS),
        Input("ctl-scenario", "value"),
        prevent_initial_call=True,
    )
    def scenario_chosen(scenario):
        values = scenario_values(scenario)
        return tuple(values[key] for key, _ in CONTROLS)

    @app.callback(
        Output("shown", "data"),
        Output("run-error", "children"),
        Input("btn-start", "n_clicks"),
        Input("btn-pause", "n_clicks"),
        Input("btn-step", "n_clicks"),
        Input("btn-resume", "n_clicks"),
        Input("btn-stop", "n_clicks"),
        State("ctl-scenario", "value"),
        *(State(f"ctl-{name}", "value") for name in CONTROL_IDS),
        prevent_initial_call=True,
    )
    def buttons(_s, _p, _st, _r, _x, scenario, *values):
        button = ctx.triggered_id
        if button == "btn-start":
            keys = (k for k, _ in CONTROLS)
            overrides = [f"{k}={v}" for k, v in zip(keys, values, strict=True) if v is not None]
            try:
                folder = page_run.start(scenario, overrides)
            except UserError as exc:
                return no_update, str(exc)
            except OSError as exc:  # the runs folder cannot be written
                return no_update, f"{exc.filename or runs_dir}: {exc.strerror or exc}"
            return str(folder), ""
        {"btn-pause": page_run.pause, "btn-step": page_run.step,
         "btn-resume": page_run.resume, "btn-stop": page_run.stop}[button]()  # fmt: skip
        return no_update, ""

    if kind == "sweep":

        @app.callback(
            Output("sweep-fig", "figure"),
            Input("sweep-metric", "value"),
            Input("sweep-key", "value"),
        )
        def sweep_figure(metric, key):
            if not metric or not key or not sweep["rows"]:  # unfinished: no table yet
                return figures.empty_figure("", "")
            return figures.sweep_figure(sweep["rows"], list(sweep["plan"]["grid"]), key, metric)

        @app.callback(
            Output("sweep-metric", "options"),
            Output("sweep-metric", "value"),
            Output("sweep-key", "options"),
            Output("sweep-key", "value"),
            Output("sweep-choose", "style"),
            Output("sweep-fig", "style"),
            Output("sweep-note", "children"),
            Input("tick", "n_intervals"),
            State("sweep-metric", "options"),
            prevent_initial_call=True,
        )
        def sweep_finished(_tick, options):
            shown = sweep_controls(path, sweep, page_has_table=bool(options))
            return shown if shown is not None else (no_update,) * 7

        @app.callback(
            Output("shown", "data", allow_duplicate=True),
            Input("sweep-run", "value"),
            prevent_initial_call=True,
        )
        def choose_run(name):
            return str(path / "runs" / name) if name else None

    @app.callback(
        Output("run-title", "children"),
        Output("run-status", "children"),
        *(Output(i, "children") for i, _, _ in STATS),
        Output("fig-activity", "figure"),
        Output("fig-opinion", "figure"),
        Output("fig-histogram", "figure"),
        Output("fig-graph", "figure"),
        Output("fig-election", "figure"),
        Output("election-box", "style"),
        Output("scorecard", "children"),
        Input("tick", "n_intervals"),
        Input("shown", "data"),
    )
    def refresh(_tick, shown):
        status = page_run.status
        status_text = (
            f"{status.folder}: {status.state}, step {status.step} of {status.steps}"
            + (f" ({status.error})" if status.error else "")
            if status.folder is not None
            else "no run started from this page"
        )
        if not shown:
            empty = figures.empty_figure("", "choose or start a run")
            return ("", status_text, *("–" for _ in STATS), empty, empty, empty, empty,
                    empty, {"display": "none"}, "")  # fmt: skip
        folder = Path(shown)
        try:
            run, world_figs = cache.read(folder)
        except (UserError, OSError, ValueError) as exc:
            return (str(folder), status_text, *("–" for _ in STATS),
                    *(no_update,) * 5, no_update, str(exc))  # fmt: skip
        state = "finished" if run.complete else "in progress"
        title = f"{run.name} · {folder} · step {run.step} of {run.steps_planned} · {state}"
        election = figures.election_figure(run)
        return (
            title,
            status_text,
            *(fmt(read(run)) for _, _, read in STATS),
            figures.activity_figure(run),
            figures.opinion_figure(run),
            world_figs["histogram"],
            world_figs["graph"],
            election if election is not None else figures.empty_figure("", ""),
            {**STYLE["half"], "display": "block" if election is not None else "none"},
            _scorecard_table(run),
        )

    return app


def _describe(path: Path | None, kind: str | None) -> str:
    if kind is None:
        return "No folder given: start a run below."
    return f"Showing the {kind} in {path}."


def _read_sweep_if_done(path: Path):
    """(the sweep's settings, its rows: none until sweep.parquet is written)."""
    from ..report.sweep import TABLE, read_plan_file, read_sweep

    if not (path / TABLE).is_file():
        return read_plan_file(path), []
    return read_sweep(path)


def sweep_controls(path: Path, sweep: dict, page_has_table: bool):
    """What a page's sweep panel shows once sweep.parquet is there, for a page made while
    the sweep ran (the server's layout is the one of its start: a page loaded later
    starts so too): (metric options, metric, key options, key, the choosers' style, the
    figure's style, the note); ``sweep`` keeps the table once read. None while the table
    is missing, or when the page shows it already."""

    if page_has_table:
        return None
    plan, rows = sweep["plan"], sweep["rows"]
    if not rows:
        try:
            plan, rows = _read_sweep_if_done(path)
        except (UserError, OSError, ValueError):  # being written, or damaged: later
            return None
    choices = _choices(plan, rows)
    if not choices[0]:
        return None
    sweep["plan"], sweep["rows"] = plan, rows
    return (*choices, CHOOSERS, {}, "")


def _choices(plan: dict, rows: list[dict]):
    """(the metrics a sweep's figure can draw, the first, the swept keys, the first):
    no metric, and no key offered, until the table has rows."""
    from ..report.sweep import metric_columns

    columns = metric_columns(rows)
    keys = list(plan.get("grid", {})) if columns else []
    return columns, columns[0] if columns else None, keys, keys[0] if keys else None


def _sweep_panel(path: Path, plan: dict, rows: list[dict]):
    from dash import dcc, html

    names = [r["name"] for r in plan.get("runs", [])]
    columns, metric, keys, key = _choices(plan, rows)
    hidden = {"display": "none"}
    parts = [
        html.H3(f"Sweep of {plan.get('scenario')}: {len(names)} runs"),
        html.P(
            "" if columns else "The sweep has not finished: sweep.parquet is not written yet.",
            id="sweep-note",
        ),
        html.Div(
            [
                html.Label(["metric", dcc.Dropdown(
                    id="sweep-metric", options=columns, value=metric, clearable=False,
                    style={"width": "320px"})]),
                html.Label(["against", dcc.Dropdown(
                    id="sweep-key", options=keys, value=key, clearable=False,
                    style={"width": "240px"})]),
            ],
            id="sweep-choose",
            style=CHOOSERS if columns else hidden,
        ),
        dcc.Graph(id="sweep-fig", style={} if columns else hidden),
    ]  # fmt: skip
    parts.append(
        html.Label(["browse a run", dcc.Dropdown(id="sweep-run", options=names,
                                                  style={"width": "240px"})])
    )  # fmt: skip
    return html.Div(parts, style=STYLE["card"])


def _scorecard_table(run: RunState):
    from dash import html

    from ..metrics.realism import scorecard

    if not run.measures:
        return html.P("The scorecard comes with the first checkpoint.")
    card = scorecard(run.measures, run=str(run.folder))
    head = html.Tr([html.Th(h, style=CELL) for h in ("fact", "metric", "value", "real band",
                                                     "inside")])  # fmt: skip
    body = [
        html.Tr([
            html.Td(r.fact, style=CELL),
            html.Td(r.metric, style=CELL),
            html.Td(fmt(r.value), id=f"score-{r.metric}", style={**CELL, "textAlign": "right"}),
            html.Td(f"{r.low:g} – {r.high:g}", style=CELL),
            html.Td({True: "yes", False: "no", None: "n/a"}[r.inside],
                    style={**CELL, "color": {True: "#1e7d3a", False: "#b42318"}.get(r.inside,
                                                                                  "#6b7280")}),
        ])
        for r in card.rows
    ]  # fmt: skip
    return html.Table([head, *body], style={"background": "#fff", "borderCollapse": "collapse"})


class Server:
    """The app on 127.0.0.1:``port`` in a thread (werkzeug), stoppable; a busy port is a
    `UserError` before anything is served."""

    def __init__(self, app, port: int):
        import socket

        from werkzeug.serving import make_server

        def busy(reason: str) -> UserError:
            return UserError(
                f"--port {port}: cannot serve on 127.0.0.1:{port} ({reason}); another "
                "program holds it: choose another --port"
            )

        if port:  # werkzeug prints its own lines and exits on a busy port: ask first
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("127.0.0.1", port))
                except PermissionError as exc:  # a privileged port, or a policy's refusal
                    advice = "choose a port above 1023" if port < 1024 else "choose another --port"
                    raise UserError(
                        f"--port {port}: cannot serve on 127.0.0.1:{port} "
                        f"({exc.strerror or 'permission denied'}); this user may not listen "
                        f"there: {advice}"
                    ) from None
                except OSError as exc:
                    raise busy(exc.strerror or type(exc).__name__) from None
        try:
            self._server = make_server("127.0.0.1", port, app.server, threaded=True)
        except (OSError, SystemExit) as exc:  # taken between the probe and now
            raise busy(getattr(exc, "strerror", None) or "in use") from None
        self.app = app
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> Server:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        page_run = getattr(self.app, "townsquare_page_run", None)
        if page_run is not None:
            page_run.stop()
            page_run.join(30)
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(10)
