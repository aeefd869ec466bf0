"""Tasks as Ray tasks: a local Ray started for them or an existing cluster, results as
they finish, and every failure one line (a sweep's runs, a calibration's simulations)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import UserError


def run_on_ray(
    fn: Callable,
    tasks: Sequence,
    on_result: Callable[[int, object], None],
    *,
    address: str | None = None,
    workers: int = 0,
    failed: Callable[[int], str] = lambda i: f"task {i}",
) -> None:
    """``fn(task)`` for every task as a Ray task; ``on_result(index, result)`` as each
    finishes. ``address`` None starts a local Ray of ``workers`` CPUs (0: all) and stops
    it afterwards; an address joins that cluster. A failed task cancels the rest and is a
    `UserError` starting with ``failed(index)``; the results already handed over stand."""
    where = f"--address {address}" if address else "a local Ray"
    check_ray(address)
    import ray
    from ray.exceptions import RayError

    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(
                address=address,
                num_cpus=None if address else (workers or None),
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            text = " ".join(str(exc).split())[:160]
            there = "no Ray cluster there" if address else "could not start"
            raise UserError(f"{where}: {there} ({text})") from None
    try:
        remote = ray.remote(_in_task)
        pending = {remote.remote(fn, t): i for i, t in enumerate(tasks)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except RayError as exc:
                for ref in pending:
                    ray.cancel(ref)
                text = _reason(exc)
                cluster = f" on the Ray cluster at {address}" if address else ""
                raise UserError(
                    f"{failed(index)} failed{cluster} ({text}); what finished is kept: run "
                    "the same command again to resume"
                ) from None
            on_result(index, result)
    finally:
        if started_here:
            ray.shutdown()


def _in_task(fn: Callable, task):
    """``fn(task)`` on a Ray worker, numba's threads cut to the CPUs Ray gave the task
    (one by default): numba would start one per core in every worker, so two workers on
    two cores ran four threads. Results do not depend on the number of threads."""
    import numba
    import ray

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    numba.set_num_threads(max(1, min(int(cpus), numba.config.NUMBA_NUM_THREADS)))
    return fn(task)


def check_ray(address: str | None) -> None:
    """Ray importable and, for ``HOST:PORT``, something listening there: each a
    `UserError` before anything is written."""
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        where = f"--address {address}" if address else "a local Ray"
        raise UserError(
            f"{where}: Ray is not installed (pip install -c constraints.txt -e "
            f"'.[distributed]'; missing {exc.name})"
        ) from None
    if address:
        _check_reachable(address)


def _reason(exc: Exception) -> str:
    """Why a task failed, in one line: the task's own error (a `UserError` says it
    plainly) rather than Ray's remote traceback."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, UserError):
        return " ".join(str(cause).split())[:200]
    lines = [line.strip() for line in str(cause or exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:200]


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """A ``HOST:PORT`` (or ``ray://HOST:PORT``) address that nothing answers on is one
    line at once: Ray itself waits minutes for a cluster that is not there."""
    import socket

    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return  # "auto", "local": Ray's own words for finding or starting one
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"--address {address}: no Ray cluster there ({reason})") from None
