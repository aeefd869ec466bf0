"""Opinion kernels: interactions per second against NDlib, and ARLOD steps per second.

Same graph (Erdos-Renyi, 10^4 nodes, mean degree 10) and parameters for both libraries:
the voter model and Deffuant bounded confidence (NDlib's AlgorithmicBiasModel with
gamma = 0, on [0, 1]; townsquare's Deffuant on [-1, 1] with epsilon doubled). Reported as
the ratio townsquare / NDlib in the same process (goal: at least 100x at 10^4 nodes).
Writes benchmarks/results/opinion.json. Needs the `ndlib` extra for the comparison.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from townsquare.experiments.meylahn2024 import connected_rgg
from townsquare.world.opinion import ArlodState, arlod_run, deffuant_run, to_csr, voter_run

RESULTS = Path(__file__).resolve().parent / "results" / "opinion.json"
N = 10_000


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ours(src, dst) -> dict[str, float]:
    indptr, indices = to_csr(src, dst, N)
    rng = np.random.default_rng(0)
    steps = 2 * 10**7
    opinion = np.where(rng.random(N) < 0.5, 1, -1).astype(np.int8)
    voter_run(indptr, indices, opinion.copy(), 1000, 0)  # compile
    voter = steps / timed(lambda: voter_run(indptr, indices, opinion, steps, 1))
    x = rng.uniform(-1, 1, N)
    deffuant_run(indptr, indices, x.copy(), 0.4, 0.5, 1000, 0)
    deffuant = steps / timed(lambda: deffuant_run(indptr, indices, x, 0.4, 0.5, steps, 1))
    return {"voter": voter, "deffuant": deffuant}


def ndlib(src, dst) -> dict[str, float] | None:
    try:
        import ndlib.models.ModelConfig as mc
        import ndlib.models.opinions as op
        import networkx as nx
    except ImportError:
        return None
    g = nx.Graph()
    g.add_nodes_from(range(N))
    g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        voter = op.VoterModel(g, seed=1)
        cfg = mc.Configuration()
        cfg.add_model_parameter("fraction_infected", 0.5)
        voter.set_initial_status(cfg)
        iterations = 300  # one interaction each
        voter_rate = iterations / timed(
            lambda: voter.iteration_bunch(iterations, progress_bar=False)
        )
        bias = op.AlgorithmicBiasModel(g, seed=1)
        cfg = mc.Configuration()
        cfg.add_model_parameter("epsilon", 0.2)
        cfg.add_model_parameter("gamma", 0)
        bias.set_initial_status(cfg)
        sweeps = 2  # N interactions each
        deffuant_rate = sweeps * N / timed(lambda: bias.iteration_bunch(sweeps, progress_bar=False))
    return {"voter": voter_rate, "deffuant": deffuant_rate}


def arlod_rates() -> dict[int, float]:
    rates = {}
    for n, radius in ((100, 0.25), (10_000, 0.02)):
        rng = np.random.default_rng(1)
        indptr, indices = connected_rgg(rng, n, radius) if n == 100 else _rgg(rng, n, radius)
        state = ArlodState.random(n, rng)
        arlod_run(indptr, indices, ArlodState.random(n, rng), 1000, 0)  # compile
        steps = 2 * 10**7
        # a long run that does not reach consensus measures steady throughput
        start = time.perf_counter()
        arlod_run(indptr, indices, state, steps, 2, stop_at_consensus=False)
        rates[n] = steps / (time.perf_counter() - start)
    return rates


def _rgg(rng, n, radius):
    from townsquare.world.generators import random_geometric

    src, dst, _ = random_geometric(rng, n, radius=radius)
    return to_csr(src, dst, n)


def main() -> None:
    console = Console()
    rng = np.random.default_rng(7)
    m = N * 5
    src, dst = rng.integers(0, N, m), rng.integers(0, N, m)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    console.print("timing townsquare kernels ...")
    mine = ours(src, dst)
    console.print("timing NDlib ...")
    theirs = ndlib(src, dst)
    arlod = arlod_rates()
    table = Table(title=f"interactions per second, {N:,} nodes")
    for col in ("model", "townsquare", "NDlib", "ratio"):
        table.add_column(col, justify="right")
    rows = []
    for model in ("voter", "deffuant"):
        other = theirs[model] if theirs else None
        ratio = mine[model] / other if other else None
        rows.append({"model": model, "townsquare": mine[model], "ndlib": other, "ratio": ratio})
        table.add_row(
            model,
            f"{mine[model]:,.0f}",
            f"{other:,.0f}" if other else "not installed",
            f"{ratio:,.0f}x" if ratio else "",
        )
    console.print(table)
    for n, rate in arlod.items():
        console.print(f"ARLOD kernel, N = {n:,}: {rate:,.0f} steps/s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "bench_opinion",
                "nodes": N,
                "graph": "Erdos-Renyi, mean degree 10",
                "goal": "townsquare at least 100x NDlib",
                "results": rows,
                "arlod_steps_per_s": {str(k): v for k, v in arlod.items()},
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
