"""Running a scenario into a run directory, with flushes, checkpoints and resume.

A run flushes events, metrics and a checkpoint every ``record.flush_every`` steps. The
first Ctrl-C finishes the current step, flushes and stops (``complete: false``); a second
one, or any error, stops at once and the run directory falls back to its last flush.
Either way ``resume`` continues from the checkpoint and reaches exactly the same result
as an uninterrupted run, because the checkpoint holds every random stream's state.

The world at step 0 is kept for good (``checkpoints/start.npz``), and whenever a run
stops, finished or not, it writes its final state as ``users.parquet`` and
``graph.parquet`` (`final_state`): the world of its last checkpoint, whatever
``record.events`` keeps.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import __version__, interviews
from .build import build_world, expected_post_rows, give_text_to_policies
from .config import Scenario, read_yaml, validate
from .errors import UserError
from .final_state import write_final_state
from .store import EventRecorder, RunStore, checkpoint_files, config_digest, read_run_summary
from .world import World
from .world.memory import steps_keep_memory
from .world.world import checked_state

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
        start_opinion: np.ndarray | None = None,
    ):
        self.store = store
        self.scenario = scenario
        self.world = world
        #: the opinions at step 0 (checkpoints/start.npz), for users.parquet; a world
        #: given without them is at step 0
        self.start_opinion = (
            world.population.opinion.copy() if start_opinion is None else start_opinion
        )
        self.rows = rows
        self.recorder = recorder
        self.wall_before = wall_before
        self._stop_requested = False
        self.flushed_step = world.t  # the step the run directory holds everything up to
        self.text = _text_layer(scenario, store)
        if self.text is not None:
            give_text_to_policies(world, self.text)
        self.interviews = interviews.by_step(scenario.interviews)
        self._in_text = False
        self._started: float | None = None

    # ------------------------------------------------------------------ creation
    @classmethod
    def start(cls, scenario: Scenario, out: str | Path, overwrite: bool = False) -> Run:
        """A new run in ``out``: an empty or missing folder, or with ``overwrite`` a folder
        that holds a townsquare run (only the files a run writes are removed)."""
        out = Path(out)
        store = RunStore(out)
        if scenario.steps < 1:
            raise UserError("steps: a run needs at least one step (got 0)")
        if out.exists() and not out.is_dir():
            raise UserError(f"{out}: is a file, not a folder; --out names a run directory")
        occupied = out.is_dir() and any(out.iterdir())
        if occupied and not store.is_run():
            raise UserError(
                f"{out}: folder is not empty and holds no townsquare run; "
                "choose another --out (--overwrite replaces only a run directory)"
            )
        if occupied and not overwrite:
            raise UserError(
                f"{out}: run directory exists and is not empty "
                "(use --resume to continue it or --overwrite to replace it)"
            )
        if occupied:
            store.check_replaceable()
        world, scenario = build_world(scenario)
        created = store.claim()
        try:
            if not created:
                if not overwrite:  # another run took the folder while this one was building
                    raise UserError(
                        f"{out}: another run was started in this folder; "
                        "use --resume to continue it or --overwrite to replace it"
                    )
                store.clear()
            store.create(scenario.resolved_yaml())
            run = cls(store, scenario, world, [], _recorder(store, scenario, world))
            run._checkpoint()
            store.keep_start()  # the checkpoint at step 0, kept for good
        except BaseException:
            if created:  # a run that never started leaves nothing behind
                _undo_start(store)
            store.release()
            raise
        return run

    @classmethod
    def resume(cls, directory: str | Path, steps: int | None = None) -> Run:
        store = RunStore(directory)
        if not Path(directory).is_dir():
            raise UserError(f"{directory}: run directory not found")
        if not store.config.exists():
            raise UserError(f"{directory}: not a run directory (no config.yaml)")
        if not store.has_checkpoint():
            raise UserError(f"{directory}: no checkpoint to resume from")
        store.claim(legacy_ok=True)
        try:
            return cls._resume_claimed(store, steps)
        except BaseException:
            store.release()
            raise

    @classmethod
    def _resume_claimed(cls, store: RunStore, steps: int | None) -> Run:
        data = read_yaml(store.config)
        if steps is not None:
            data["steps"] = steps
        scenario = validate(data, str(store.config))
        arrays, world_meta, meta = store.load_checkpoint()
        store.verify_against(meta, scenario.model_dump(mode="json"))
        world, scenario = build_world(scenario)
        built = None if store.has_start() else _start_state(world, scenario)
        try:
            world.load_state(arrays, world_meta)  # checks every array and value first
            if world.t != int(meta["step"]):
                raise ValueError(f"the world is at step {world.t}, latest.json says {meta['step']}")
            world.posts.mark_clean()  # as the checkpoint (and its post segments) hold them
        except Exception as exc:  # arrays of the wrong shape or kind: a damaged checkpoint
            raise UserError(
                f"{store.checkpoints / checkpoint_files(meta)}: checkpoint does not "
                f"fit the world ({' '.join(str(exc).split())[:160]})"
            ) from None
        if scenario.steps < world.t:
            raise UserError(f"--steps {scenario.steps}: the run already has {world.t} steps")
        if built is None:
            start_opinion = _start_opinion(store, world)
        else:  # a run made before townsquare kept its start: the scenario builds it again
            store.save_start(*built)
            start_opinion = built[0]["pop.opinion"]
        store.create(scenario.resolved_yaml())
        # the final state of an earlier stop: written again when this run stops
        for path in (store.users_file, store.graph_file):
            if path.is_file() or path.is_symlink():
                path.unlink()
        rows = store.read_metrics()[: world.t]
        recorder = _recorder(store, scenario, world, rows_written=meta.get("events"))
        recorder.drop_from(world.t)
        wall = float(meta.get("wall_s", 0.0))
        return cls(
            store, scenario, world, rows, recorder, wall_before=wall, start_opinion=start_opinion
        )

    # ------------------------------------------------------------------ running
    def execute(
        self,
        on_step: Callable[[dict], None] | None = None,
        release: bool = True,
        before_step: Callable[[], None] | None = None,
    ) -> dict:
        """Run to ``scenario.steps``; returns the summary. Raises `RunInterrupted`.

        ``on_step(metrics)`` follows each step; ``before_step()`` comes before each, once
        the last step is flushed as the scenario asks: where the dashboard pauses a run.
        The run directory stays locked to this process until the run ends, or with
        ``release=False`` until `release` (the CLI keeps it while it draws the figures)."""
        try:
            # the store's room for the whole run, taken before the heap is kept: fresh
            # zero pages that a post touches only when it lands
            self.world.posts.reserve(expected_post_rows(self.scenario, self.world.n))
            with steps_keep_memory():
                return self._execute(on_step, before_step)
        finally:
            if release:
                self.store.release()

    def release(self) -> None:
        """Let other processes write or read the run directory."""
        self.store.release()

    def _execute(self, on_step, before_step=None) -> dict:
        flush_every = self.scenario.record.flush_every
        self._started = time.perf_counter()
        try:
            with self._graceful_interrupt():
                while self.world.t < self.scenario.steps:
                    if before_step is not None:
                        before_step()
                        if self._stop_requested:
                            if self.flushed_step != self.world.t:
                                self._checkpoint()
                            raise RunInterrupted(self.store, self.world.t)
                    events = self.world.step()
                    if self.text is not None:
                        self._in_text = True
                        try:
                            events.post_text = self.text.texts_for(
                                events, self.world.posts, self.world.graph.in_deg
                            )
                        finally:
                            self._in_text = False
                    self.recorder.add(events)
                    due = self.interviews.get(events.step)
                    if due:
                        self.recorder.add_interviews(
                            interviews.ask(self.world, events.step, due, self.text)
                        )
                    self.rows.append(events.metrics)
                    if on_step is not None:
                        on_step(events.metrics)
                    t = self.world.t
                    if t % flush_every == 0 or t == self.scenario.steps or self._stop_requested:
                        self._checkpoint()
                    if self._stop_requested and t < self.scenario.steps:
                        raise RunInterrupted(self.store, t)
        except RunInterrupted:
            self._write_final_state()  # the world is the checkpoint's, just flushed
            raise
        except BaseException:
            # mid-step state is not trustworthy: fall back to the last flush
            del self.rows[self.flushed_step :]
            try:
                self.store.write_metrics(self.rows)
                self.store.write_summary(self._summary(complete=False))
            except OSError:
                pass  # a full disk or a read-only folder: the last checkpoint still holds
            try:
                self._write_final_state(from_disk=True)
            except Exception:
                pass  # the error that stopped the run is the one to report
            raise
        # before the summary says complete: a complete run has its final state
        self._write_final_state()
        summary = self._summary(complete=True)
        self.store.write_summary(summary)
        return summary

    def _write_final_state(self, from_disk: bool = False) -> None:
        """users.parquet and graph.parquet of the last checkpoint's world: the world in
        memory when it was just flushed, else (``from_disk``, after a failure mid-step)
        the checkpoint read back."""
        if from_disk:
            arrays, world_meta, _ = self.store.load_checkpoint()
            state = checked_state(arrays, world_meta, n=self.world.n)
            population, graph, posts, step = state.population, state.graph, state.posts, state.t
        else:
            world = self.world
            population, graph, posts, step = world.population, world.graph, world.posts, world.t
        write_final_state(self.store.root, population, graph, posts, self.start_opinion, step)

    def _checkpoint(self) -> None:
        self.recorder.flush()
        self.store.write_metrics(self.rows)
        arrays, meta = self.world.state()
        wall = self._wall()
        config = self.scenario.model_dump(mode="json")
        posts = self.world.posts
        try:
            self.store.save_checkpoint(
                arrays,
                meta,
                {
                    "step": self.world.t,
                    "wall_s": wall,
                    "events": self.recorder.rows_written,
                    "events_mode": self.scenario.record.events,
                    "config": config,
                    "config_sha256": config_digest(config),
                },
                clean_rows=posts.clean_rows,
                # posts older than the feed window are shown, liked and answered no more
                settled_rows=posts.window_start(self.world.t, self.world.recommender.window),
            )
        finally:
            # once latest.json names it (even if removing old files then failed), the
            # checkpoint is the one a resume starts from
            if self.store.committed_step == self.world.t:
                posts.mark_clean()
                self.flushed_step = self.world.t
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
            if self._in_text:
                # requests to a text server may hang for their whole timeout: cancel them
                # (the completions already received stay cached) and fall back to the
                # last flush, as a second Ctrl-C would
                self.text.cancel()

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for (`request_stop`, Ctrl-C)."""
        return self._stop_requested

    def request_stop(self) -> None:
        """Stop after the current step, as the first Ctrl-C does."""
        self._stop_requested = True


def _start_state(world: World, scenario: Scenario) -> tuple[dict, str, dict]:
    """What `RunStore.save_start` writes for a world just built (at step 0): copies, as
    loading a checkpoint into the world may change its arrays in place."""
    arrays, meta = world.state()
    config = scenario.model_dump(mode="json")
    extra = {
        "step": 0,
        "wall_s": 0.0,
        "events": {},
        "events_mode": scenario.record.events,
        "config": config,
        "config_sha256": config_digest(config),
    }
    return {k: np.array(v, copy=True) for k, v in arrays.items()}, meta, extra


def _start_opinion(store: RunStore, world: World) -> np.ndarray:
    """The opinions of the run's kept start, checked like any checkpoint."""
    arrays, world_meta, _ = store.load_checkpoint(start=True)
    try:
        state = checked_state(arrays, world_meta, n=world.n)
        if state.t != 0:
            raise ValueError(f"the world is at step {state.t}, not 0")
        if state.population.topics != world.population.topics:
            raise ValueError(
                f"pop.opinion: {state.population.topics} topics, the world has "
                f"{world.population.topics}"
            )
    except ValueError as exc:
        raise UserError(
            f"{store.start}: checkpoint does not fit the world ({' '.join(str(exc).split())[:160]})"
        ) from None
    return state.population.opinion


def _undo_start(store: RunStore) -> None:
    """Remove what a failed start wrote (it made the marker, so it made the rest)."""
    try:
        store.clear()
        store.marker.unlink(missing_ok=True)
        if not any(store.root.iterdir()):
            store.root.rmdir()
    except OSError:
        pass  # a read-only or vanished folder: nothing more can be undone


def _text_layer(scenario: Scenario, store: RunStore):
    if scenario.text.backend == "none":
        return None
    from .text.backend import TextBackendError
    from .text.layer import TextLayer

    try:
        return TextLayer(scenario.text, store.root, scenario.seed)
    except TextBackendError as exc:
        where = "text.model_path" if scenario.text.backend == "transformers" else "text"
        raise UserError(f"{where}: {exc}") from None
    except ModuleNotFoundError as exc:
        raise UserError(
            f"text.backend: {scenario.text.backend} needs the text extra "
            f"(pip install -c constraints.txt -e '.[text]'; missing {exc.name})"
        ) from None
    except ValueError as exc:
        raise UserError(f"text.packs: {exc}") from None


def _recorder(
    store: RunStore, scenario: Scenario, world: World, rows_written=None
) -> EventRecorder:
    rec = scenario.record
    n = world.n
    candidates = world.election.candidates if world.election is not None else None
    keep = None
    if rec.events == "sample":
        # its own stream, so sampling never shifts the simulation's random numbers
        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(scenario.seed, spawn_key=(1 << 20,)))
        )
        keep = rng.random(n) < rec.sample_rate
    recorder = EventRecorder(
        store.events, rec.events, keep, candidates, interviews=bool(scenario.interviews)
    )
    if rows_written:
        recorder.rows_written.update(rows_written)
    return recorder


# -- the same scenario at more seeds -----------------------------------------------------
def seed_runs(run_dir: Path, seeds: list[int], on_progress=None) -> list[Path]:
    """The run itself plus one run per extra seed of its scenario, stored under
    ``RUN_DIR/seeds/seed-S`` and reused when it is complete and holds exactly that
    scenario with that seed (anything else there is run again)."""
    store = RunStore(run_dir)
    base = validate(read_yaml(store.config), str(store.config)).model_dump(mode="json")
    paths = [Path(run_dir)]
    for seed in seeds:
        if seed == base.get("seed"):
            continue
        target = Path(run_dir) / "seeds" / f"seed-{seed}"
        scenario = validate({**base, "seed": seed}, str(store.config))
        if _holds(RunStore(target), scenario):
            paths.append(target)
            continue
        if on_progress:
            on_progress(f"running {run_dir} with seed {seed}")
        Run.start(scenario, target, overwrite=True).execute()
        paths.append(target)
    return paths


def _holds(store, scenario) -> bool:
    """Whether a seed run directory is a complete run of exactly ``scenario``."""
    if not store.is_run() or not store.config.is_file():
        return False
    try:
        summary = read_run_summary(store)
        stored = validate(read_yaml(store.config), str(store.config)).model_dump(mode="json")
    except UserError:
        return False
    wanted = scenario.model_dump(mode="json")
    return (
        summary["complete"] is True
        and summary["steps"] == scenario.steps
        and config_digest(stored) == config_digest(wanted)
        and not store.writer_active()
    )
