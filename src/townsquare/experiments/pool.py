"""Running an experiment's tasks, in this process or spread over worker processes; the
results do not depend on how many workers there are."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed


def _init_worker(threads: int) -> None:
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def run_tasks(
    run_task: Callable,
    tasks: list[tuple],
    workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
    on_result: Callable[[int, object], None] | None = None,
) -> list:
    """``run_task(task)`` for every task, results in the tasks' order; ``workers`` 0:
    all cores; ``progress(done, total)`` after each task, and ``on_result(k, result)``
    as task k's result comes in (to keep it before the rest are done). ``run_task`` must
    be a module-level function (workers import it)."""
    workers = min(workers or os.cpu_count() or 1, len(tasks))
    results: dict[int, object] = {}
    if workers <= 1:
        for k, task in enumerate(tasks):
            results[k] = run_task(task)
            if on_result:
                on_result(k, results[k])
            if progress:
                progress(k + 1, len(tasks))
        return [results[k] for k in range(len(tasks))]
    # spawn, not fork: the world's numba kernels run on OpenMP threads, which must not be
    # forked; each worker gets its share of the cores for those threads
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(max(1, (os.cpu_count() or 1) // workers),),
    )
    try:
        futures = {pool.submit(run_task, task): k for k, task in enumerate(tasks)}
        for done, fut in enumerate(as_completed(futures), start=1):
            results[futures[fut]] = fut.result()
            if on_result:
                on_result(futures[fut], results[futures[fut]])
            if progress:
                progress(done, len(tasks))
    finally:
        pool.shutdown(cancel_futures=True)
    return [results[k] for k in range(len(tasks))]
