"""A run started from the dashboard: it steps in a thread of the server, and the page can
pause it, step it one step at a time and resume it, as Mesa's visualisation lets a
modeller play.

The run is an ordinary run directory (`runner.Run`), so what the page shows is read from
its files like any other run's; it checkpoints every step (``record.flush_every: 1``)
so a paused run's folder holds the very step the page shows. Pausing holds the run
between two steps (`Run.execute`'s ``before_step``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..world.recommenders import NAMES

#: the scenario keys the page offers, as (key, label)
CONTROLS = (
    ("users", "users"),
    ("steps", "steps"),
    ("seed", "seed"),
    ("feed.ranking", "feed ranking"),
    ("opinion.epsilon", "confidence bound ε"),
    ("roles.socialbot.fraction", "socialbot share"),
)
#: engagement first: the default scenario's
RANKINGS = ("engagement", *(name for name in NAMES if name != "engagement"))
MAX_PAGE_USERS = 1_000_000


def scenario_values(name: str) -> dict[str, object]:
    """The built-in scenario ``name``'s own value of each control (`CONTROLS`): what the
    page shows when the scenario is chosen, so that Start with nothing edited makes the
    scenario's own run (an election's steps reach its last day)."""
    from ..config import load_scenario, scenario_value

    scenario = load_scenario(name)
    return {key: scenario_value(scenario, key) for key, _ in CONTROLS}


@dataclass
class Status:
    folder: Path | None = None
    state: str = "idle"  # idle, starting, running, paused, finished, stopped, failed
    step: int = 0
    steps: int = 0
    error: str = ""


class PageRun:
    """At most one run at a time, started, paused, stepped, resumed or stopped from the
    page; every method returns at once (the run is in its own thread)."""

    def __init__(self, runs_dir: Path):
        self.runs_dir = Path(runs_dir)
        self.status = Status()
        self._cond = threading.Condition()
        self._paused = False
        self._budget: int | None = None  # steps left before pausing again (Step)
        self._run = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the page's buttons
    def start(self, scenario: str, overrides: list[str]) -> Path:
        """Start a new run of ``scenario`` with ``overrides`` in a new folder of
        ``runs_dir``; a `UserError` if the scenario refuses a value or a run is going
        (two clicks on Start make one run: the second is refused)."""
        from ..config import load_scenario
        from ..runner import Run

        with self._cond:
            if self.busy:
                raise UserError("a run is going: stop it before starting another")
            before, self.status = self.status, Status(state="starting")
        try:
            sc = load_scenario(scenario, [*overrides, "record.flush_every=1"])
            if sc.users > MAX_PAGE_USERS:
                raise UserError(
                    f"users: at most {MAX_PAGE_USERS:,} from the page (got {sc.users:,})"
                )
            folder = self._new_folder(sc.name)
            run = Run.start(sc, folder)
        except BaseException:
            with self._cond:
                self.status = before
            raise
        with self._cond:
            self._run = run
            self._paused, self._budget = False, None
            self.status = Status(folder, "running", 0, sc.steps)
        self._thread = threading.Thread(
            target=self._execute, name="townsquare-page-run", daemon=True
        )
        self._thread.start()
        return folder

    def pause(self) -> None:
        with self._cond:
            if self.busy:
                self._paused, self._budget = True, None

    def step(self) -> None:
        """One more step, then paused again; a running run pauses first."""
        with self._cond:
            if not self.busy:
                return
            if not self._paused:  # running: pause at the next step's start
                self._paused, self._budget = True, None
            elif self.status.state == "paused":  # held now: one step, then pause again
                self._budget, self._paused = 0, False
                self._cond.notify_all()
            else:  # paused but the current step is not over: one after it
                self._budget, self._paused = 1, False

    def resume(self) -> None:
        with self._cond:
            if self.busy:
                self._paused, self._budget = False, None
                self._cond.notify_all()

    def stop(self) -> None:
        """Stop after the current step; the folder can be resumed with ``--resume``."""
        with self._cond:
            if self._run is not None and self.status.state in ("running", "paused"):
                self._run.request_stop()
                self._paused = False
                self._cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def busy(self) -> bool:
        return self.status.state in ("starting", "running", "paused")

    # ------------------------------------------------------------------ the run's thread
    def _before_step(self) -> None:
        with self._cond:
            if self._budget is not None:
                if self._budget <= 0:
                    self._paused, self._budget = True, None
                else:
                    self._budget -= 1
            self.status.step = self._run.world.t
            while self._paused and not self._run.stopping:
                self.status.state = "paused"
                self._cond.wait()
            if not self._run.stopping:
                self.status.state = "running"

    def _on_step(self, row: dict) -> None:
        with self._cond:
            self.status.step = self._run.world.t

    def _execute(self) -> None:
        from ..runner import RunInterrupted

        try:
            self._run.execute(on_step=self._on_step, before_step=self._before_step)
            state, error = "finished", ""
        except RunInterrupted:
            state, error = "stopped", ""
        except Exception as exc:  # shown on the page; the folder keeps its last flush
            state, error = "failed", " ".join(str(exc).split())[:200]
        with self._cond:
            self.status.state, self.status.error = state, error

    def _new_folder(self, name: str) -> Path:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        taken = {p.name for p in self.runs_dir.iterdir()}
        for i in range(1, 100_000):
            candidate = f"{name}-{i:03d}"
            if candidate not in taken:
                return self.runs_dir / candidate
        raise UserError(f"{self.runs_dir}: no free run name left")
