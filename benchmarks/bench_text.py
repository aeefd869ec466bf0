"""Text throughput: completions per second through the openai backend against a
chat-completions server on loopback (concurrency 1, 8, 64), the offline generator, and
cache hits per second. Writes benchmarks/results/text.json. Reported, never asserted.

The loopback server answers after a fixed delay (default 20 ms, a stand-in for model
latency), so the figures show how well concurrency hides latency, not a model's speed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from chat_server import ChatServer  # noqa: E402
from townsquare.text.backend import Request  # noqa: E402
from townsquare.text.cache import CachedBackend, CompletionCache  # noqa: E402
from townsquare.text.offline import OfflineGenerator  # noqa: E402
from townsquare.text.openai_backend import OpenAIBackend  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "text.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--delay", type=float, default=0.02, help="server latency, seconds")
    args = parser.parse_args()
    console = Console()
    requests = [Request(prompt=f"post {i}", seed=i) for i in range(args.requests)]
    rows = []
    with ChatServer(delay=args.delay) as server:
        for concurrency in (1, 8, 64):
            n = args.requests if concurrency > 1 else min(args.requests, 100)
            backend = OpenAIBackend(server.url, "bench", max_concurrency=concurrency)
            start = time.perf_counter()
            backend.generate(requests[:n])
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "concurrency": concurrency,
                    "completions": n,
                    "per_s": n / seconds,
                    "max_in_flight": server.max_in_flight,
                }
            )
            server.max_in_flight = 0
        with tempfile.TemporaryDirectory() as tmp:
            cached = CachedBackend(
                OpenAIBackend(server.url, "bench", max_concurrency=64),
                CompletionCache(Path(tmp) / "c.db"),
            )
            cached.generate(requests)
            start = time.perf_counter()
            for _ in range(5):
                cached.generate(requests)
            hits_per_s = 5 * len(requests) / (time.perf_counter() - start)
    gen = OfflineGenerator(seed=0)
    k = 20_000
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    gen.generate(
        rng.uniform(-1, 1, k), rng.integers(0, 4, k), rng.integers(0, 3, k), keys=np.arange(k)
    )
    offline_per_s = k / (time.perf_counter() - start)

    table = Table(title=f"openai backend, loopback server with {args.delay * 1000:.0f} ms latency")
    for col in ("concurrency", "completions/s", "max in flight"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["concurrency"]), f"{r['per_s']:,.0f}", str(r["max_in_flight"]))
    console.print(table)
    console.print(
        f"cache hits: {hits_per_s:,.0f}/s; offline generator: {offline_per_s:,.0f} texts/s"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "bench_text",
                "server_latency_s": args.delay,
                "openai": rows,
                "cache_hits_per_s": hits_per_s,
                "offline_texts_per_s": offline_per_s,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
