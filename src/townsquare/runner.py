"""Running a scenario into a run directory, with flushes, checkpoints and resume.

A run flushes events, metrics and a checkpoint every ``record.flush_every`` steps. The
first Ctrl-C finishes the current step, flushes and stops (``complete: false``); a second
one, or any error, stops at once and the run directory falls back to its last flush.
Either way ``resume`` continues from the checkpoint and reaches exactly the same result
as an uninterrupted run, because the checkpoint holds every random stream's state.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

from . import __version__
from .build import build_world
from .config import Scenario, validate
from .errors import UserError
from .store import EventRecorder, RunStore
from .world import World

TOTALS = ("posts", "replies", "reposts", "likes", "follows", "unfollows")


class RunInterrupted(Exception):
    """The run stopped early at ``step``; its directory can be resumed."""

    def __init__(self, store: RunStore, step: int):
        self.store = store
        self.step = step
        super().__init__(f"interrupted after step {step}")


class Run:
    """A world bound to a run directory."""

    def __init__(
        self,
        store: RunStore,
        scenario: Scenario,
        world: World,
        rows: list[dict],
        recorder: EventRecorder,
        wall_before: float = 0.0,
    ):
        self.store = store
        self.scenario = scenario
        self.world = world
        self.rows = rows
        self.recorder = recorder
        self.wall_before = wall_before
        self._stop_requested = False
        self.flushed_step = world.t  # the step the run directory holds everything up to
        self.text = _text_layer(scenario, store)
        self._started: float | None = None

    # ------------------------------------------------------------------ creation
    @classmethod
    def start(cls, scenario: Scenario, out: str | Path, overwrite: bool = False) -> Run:
        out = Path(out)
        if out.exists() and any(out.iterdir()):
            if not overwrite:
                raise UserError(
                    f"{out}: run directory exists and is not empty "
                    "(use --resume to continue it or --overwrite to replace it)"
                )
            shutil.rmtree(out)
        world, scenario = build_world(scenario)
        store = RunStore(out)
        store.create(scenario.resolved_yaml())
        run = cls(store, scenario, world, [], _recorder(store, scenario, world.n))
        run._checkpoint()
        return run

    @classmethod
    def resume(cls, directory: str | Path, steps: int | None = None) -> Run:
        store = RunStore(directory)
        if not store.config.exists():
            raise UserError(f"{directory}: not a run directory (no config.yaml)")
        if not store.has_checkpoint():
            raise UserError(f"{directory}: no checkpoint to resume from")
        data = yaml.safe_load(store.config.read_text())
        if steps is not None:
            data["steps"] = steps
        scenario = validate(data, str(store.config))
        world, scenario = build_world(scenario)
        arrays, world_meta, meta = store.load_checkpoint()
        world.load_state(arrays, world_meta)
        if scenario.steps < world.t:
            raise UserError(f"--steps {scenario.steps}: the run already has {world.t} steps")
        store.create(scenario.resolved_yaml())
        rows = store.read_metrics()[: world.t]
        recorder = _recorder(store, scenario, world.n, rows_written=meta.get("events"))
        recorder.drop_from(world.t)
        wall = float(meta.get("wall_s", 0.0))
        return cls(store, scenario, world, rows, recorder, wall_before=wall)

    # ------------------------------------------------------------------ running
    def execute(self, on_step: Callable[[dict], None] | None = None) -> dict:
        """Run to ``scenario.steps``; returns the summary. Raises `RunInterrupted`."""
        flush_every = self.scenario.record.flush_every
        self._started = time.perf_counter()
        try:
            with self._graceful_interrupt():
                while self.world.t < self.scenario.steps:
                    events = self.world.step()
                    if self.text is not None:
                        events.post_text = self.text.texts_for(
                            events, self.world.posts, self.world.graph.in_deg
                        )
                    self.recorder.add(events)
                    self.rows.append(events.metrics)
                    if on_step is not None:
                        on_step(events.metrics)
                    t = self.world.t
                    if t % flush_every == 0 or t == self.scenario.steps or self._stop_requested:
                        self._checkpoint()
                    if self._stop_requested and t < self.scenario.steps:
                        raise RunInterrupted(self.store, t)
        except RunInterrupted:
            raise
        except BaseException:
            # mid-step state is not trustworthy: fall back to the last flush
            del self.rows[self.flushed_step :]
            self.store.write_metrics(self.rows)
            self.store.write_summary(self._summary(complete=False))
            raise
        summary = self._summary(complete=True)
        self.store.write_summary(summary)
        return summary

    def _checkpoint(self) -> None:
        self.recorder.flush()
        self.store.write_metrics(self.rows)
        arrays, meta = self.world.state()
        self.flushed_step = self.world.t
        wall = self._wall()
        self.store.save_checkpoint(
            arrays,
            meta,
            {"step": self.world.t, "wall_s": wall, "events": self.recorder.rows_written},
        )
        self.store.write_summary(self._summary(complete=False))

    def _wall(self) -> float:
        running = time.perf_counter() - self._started if self._started is not None else 0.0
        return self.wall_before + running

    def _summary(self, complete: bool) -> dict:
        rows = self.rows[: self.flushed_step] if not complete else self.rows
        totals = {name: int(sum(r[name] for r in rows)) for name in TOTALS}
        pop = self.world.population
        return {
            "name": self.scenario.name,
            "users": self.world.n,
            "steps": len(rows),
            "steps_planned": self.scenario.steps,
            **totals,
            "suspensions": int(sum(r["suspended"] for r in rows)),
            "follow_edges": int(rows[-1]["follow_edges"]) if rows else self.world.graph.edge_count,
            "roles": pop.counts_by_role(),
            "seed": self.scenario.seed,
            "events": self.scenario.record.events,
            "events_rows": dict(self.recorder.rows_written),
            "wall_s": round(self._wall(), 3),
            "phase_seconds": {k: round(v, 3) for k, v in self.world.phase_seconds.items()},
            "complete": complete,
            "townsquare": __version__,
        }

    @contextmanager
    def _graceful_interrupt(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def request_stop(self) -> None:
        """Stop after the current step, as the first Ctrl-C does."""
        self._stop_requested = True


def _text_layer(scenario: Scenario, store: RunStore):
    if scenario.text.backend == "none":
        return None
    from .text.backend import TextBackendError
    from .text.layer import TextLayer

    try:
        return TextLayer(scenario.text, store.root, scenario.seed)
    except TextBackendError as exc:
        raise UserError(f"text.model_path: {exc}") from None
    except ModuleNotFoundError as exc:
        raise UserError(
            f"text.backend: {scenario.text.backend} needs the text extra "
            f"(pip install -c constraints.txt -e '.[text]'; missing {exc.name})"
        ) from None
    except ValueError as exc:
        raise UserError(f"text.packs: {exc}") from None


def _recorder(store: RunStore, scenario: Scenario, n: int, rows_written=None) -> EventRecorder:
    rec = scenario.record
    keep = None
    if rec.events == "sample":
        # its own stream, so sampling never shifts the simulation's random numbers
        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(scenario.seed, spawn_key=(1 << 20,)))
        )
        keep = rng.random(n) < rec.sample_rate
    recorder = EventRecorder(store.events, rec.events, keep)
    if rows_written:
        recorder.rows_written.update(rows_written)
    return recorder
