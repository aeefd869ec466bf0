"""The text layer against a hostile server: malformed answers, echoed keys, hangs, Ctrl-C."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from chat_server import ChatServer
from townsquare.config import TextConfig, validate
from townsquare.runner import Run
from townsquare.text.backend import Request, TextBackendError, TextCancelled
from townsquare.text.cache import CachedBackend, CompletionCache
from townsquare.text.layer import TextLayer
from townsquare.text.openai_backend import OpenAIBackend

KEY = "sk-hostile-0123456789abcdef"


def requests(n):
    return [Request(prompt=f"post {i}", seed=i) for i in range(n)]


def echo(i):
    return f"echo: post {i} (seed {i})"


def cached(server, path, **options):
    options = {"retries": 2, "backoff_s": 0.01, "timeout_s": 5.0, **options}
    return CachedBackend(OpenAIBackend(server.url, "tiny", **options), CompletionCache(path))


def stored(path):
    """Rows really committed: read through a connection of its own."""
    cache = CompletionCache(path)
    try:
        return len(cache)
    finally:
        cache.close()


# ------------------------------------------------------------------ malformed answers
def test_an_always_malformed_item_fails_alone_and_the_rest_are_cached(tmp_path):
    def fault(prompt, n, auth):
        return (200, {"choices": []}) if prompt == "post 3" else None

    db = tmp_path / "c.db"
    with ChatServer(delay=0.0, fault=fault) as server:
        backend = cached(server, db, max_concurrency=8)
        with pytest.raises(TextBackendError) as info:
            backend.generate(requests(6))
        assert server.calls["post 3"] == 3  # 1 + retries
        message = str(info.value)
        assert message.startswith("item 3: malformed chat-completions response")
        assert "after 3 attempts" in message and "\n" not in message
        assert stored(db) == 5
        # --resume without the bad item: everything else comes from the cache
        before = server.requests
        good = [r for r in requests(6) if r.prompt != "post 3"]
        assert backend.generate(good) == [echo(i) for i in (0, 1, 2, 4, 5)]
        assert server.requests == before


def test_requests_on_the_wire_when_an_item_fails_still_land_in_the_cache(tmp_path):
    def fault(prompt, n, auth):
        if prompt == "post 0":
            return (200, "<html>not json</html>")
        return 0.3 if prompt == "post 1" else None

    db = tmp_path / "c.db"
    with ChatServer(delay=0.0, fault=fault) as server:
        backend = cached(server, db, retries=0)
        with pytest.raises(TextBackendError, match="item 0: malformed .*not JSON"):
            backend.generate(requests(3))
    assert stored(db) == 2  # post 1 was slow, but already asked for: it is kept


def test_a_malformed_answer_that_recovers_on_retry_is_not_an_error(tmp_path):
    def fault(prompt, n, auth):
        if prompt == "post 1" and n == 1:
            return (200, b"\x00garbage{")
        if prompt == "post 2" and n == 1:
            return (200, {"choices": [{"message": {"content": None}}]})
        return None

    with ChatServer(delay=0.0, fault=fault) as server:
        backend = cached(server, tmp_path / "c.db")
        assert backend.generate(requests(4)) == [echo(i) for i in range(4)]
    assert server.calls["post 1"] == 2 and server.calls["post 2"] == 2
    assert server.requests == 6


# ------------------------------------------------------------------ the key
def _no_key(message):
    assert KEY not in message
    assert KEY[:8] not in message  # not even a part of it
    assert "\n" not in message and "\r" not in message


@pytest.mark.parametrize("status", [400, 401])
def test_a_key_echoed_in_an_error_body_is_redacted(monkeypatch, status):
    monkeypatch.setenv("TS_HOSTILE_KEY", KEY)

    def fault(prompt, n, auth):
        return (status, f'{{"error": "invalid key\\n{auth}",\n "raw": "{KEY}"}}')

    with ChatServer(delay=0.0, fault=fault) as server:
        backend = OpenAIBackend(server.url, "tiny", api_key_env="TS_HOSTILE_KEY", retries=0)
        with pytest.raises(TextBackendError) as info:
            backend.generate(requests(1))
    message = str(info.value)
    assert server.seen_auth == [f"Bearer {KEY}"]
    assert f"HTTP {status}" in message and "***" in message
    _no_key(message)


def test_a_key_echoed_in_a_malformed_answer_is_redacted(monkeypatch):
    monkeypatch.setenv("TS_HOSTILE_KEY", KEY)

    def fault(prompt, n, auth):
        # the key straddles the point where the quoted body is cut
        return (200, "x" * 195 + KEY + "\r\n<html>" + auth + "</html>")

    with ChatServer(delay=0.0, fault=fault) as server:
        backend = OpenAIBackend(
            server.url, "tiny", api_key_env="TS_HOSTILE_KEY", retries=1, backoff_s=0.01
        )
        with pytest.raises(TextBackendError, match="item 0: malformed") as info:
            backend.generate(requests(1))
    _no_key(str(info.value))


def test_a_key_that_cannot_be_a_header_is_refused_without_showing_it(monkeypatch):
    monkeypatch.setenv("TS_HOSTILE_KEY", KEY + "\nX-Injected: 1")
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "tiny", api_key_env="TS_HOSTILE_KEY")
    with pytest.raises(TextBackendError, match="TS_HOSTILE_KEY holds characters") as info:
        backend.generate(requests(1))
    _no_key(str(info.value))


def test_error_bodies_are_quoted_on_one_line():
    def fault(prompt, n, auth):
        return (404, "no such model\n\nTraceback (most recent call last):\n  boom")

    with ChatServer(delay=0.0, fault=fault) as server:
        backend = OpenAIBackend(server.url, "tiny", retries=0)
        with pytest.raises(TextBackendError) as info:
            backend.generate(requests(2))
    message = str(info.value)
    assert "HTTP 404" in message and "no such model Traceback" in message
    assert "\n" not in message and "\\n" not in message


# ------------------------------------------------------------------ cancelling
def _half_hanging(prompt, n, auth):
    """Even posts answer at once; odd posts hang (until the server stops)."""
    return 30.0 if int(prompt.split()[1]) % 2 else None


def test_cancel_stops_hanging_requests_within_a_second_and_keeps_what_arrived(tmp_path):
    db = tmp_path / "c.db"
    with ChatServer(delay=0.0, fault=_half_hanging) as server:
        backend = cached(server, db, timeout_s=30.0, max_concurrency=8)
        timer = threading.Timer(0.3, backend.cancel)
        timer.start()
        try:
            with pytest.raises(TextCancelled):
                backend.generate(requests(6))
        finally:
            timer.cancel()
        # it returned while the server still held the hanging requests (30 s each):
        # cancelled, not answered or timed out
        assert server.in_flight > 0
        assert isinstance(TextCancelled(), KeyboardInterrupt)
        assert stored(db) == 3
        # the cancel is sticky: the next batch stops at once, without asking anything
        before = server.requests
        with pytest.raises(TextCancelled):
            backend.generate([Request(prompt="post 8", seed=8)])
        assert server.requests == before
        # until it is reset; what arrived before the cancel is served from the cache
        backend.reset_cancel()
        evens = [r for r in requests(6) if r.seed % 2 == 0]
        assert backend.generate(evens) == [echo(i) for i in (0, 2, 4)]
        assert server.requests == before


def test_text_layer_cancel_works_whatever_the_backend(tmp_path):
    offline = TextLayer(TextConfig(backend="offline"), tmp_path / "off", seed=1)
    offline.cancel()  # nothing in flight, nothing to stop: offline text is instant
    offline.reset_cancel()
    offline.close()
    with ChatServer(delay=0.0, fault=_half_hanging) as server:
        cfg = TextConfig(backend="openai", base_url=server.url, model="tiny", timeout_s=30.0)
        layer = TextLayer(cfg, tmp_path / "on", seed=1)
        timer = threading.Timer(0.3, layer.cancel)
        timer.start()
        try:
            with pytest.raises(TextCancelled):
                layer.backend.generate(requests(4))
        finally:
            timer.cancel()
            layer.close()
        assert server.in_flight > 0  # returned while requests still hung: cancelled
    assert stored(tmp_path / "on" / "text_cache.db") == 2


def test_runner_first_ctrl_c_cancels_hanging_text_requests(tmp_path):
    answered = 0
    lock = threading.Lock()

    def fault(prompt, n, auth):  # the first 20 requests answer, the rest hang
        nonlocal answered
        with lock:
            answered += 1
            return None if answered <= 20 else 30.0

    cache = tmp_path / "cache.db"
    with ChatServer(delay=0.0, fault=fault) as server:
        data = {
            "users": 400,
            "steps": 6,
            "seed": 5,
            "record": {"flush_every": 2},
            "text": {
                "backend": "openai",
                "base_url": server.url,
                "model": "tiny",
                "cache": str(cache),
                "max_concurrency": 4,
                "retries": 0,
                "timeout_s": 1.0,  # without the cancel, the run fails at 1 s, not 30 s
            },
        }
        out = tmp_path / "run"
        run = Run.start(validate(data), out)
        done = threading.Event()

        def interrupt_once_hanging():
            # Ctrl-C once a request hangs, however long the first step takes to get there
            # (a fresh clone compiles the kernels first: a fixed delay raced it)
            while not done.wait(0.01):
                with lock:
                    hanging = answered > 20
                if hanging:
                    time.sleep(0.1)
                    os.kill(os.getpid(), signal.SIGINT)
                    return

        ctrl_c = threading.Thread(target=interrupt_once_hanging, daemon=True)
        ctrl_c.start()
        try:
            with pytest.raises(KeyboardInterrupt) as info:
                run.execute()
        finally:
            done.set()
            ctrl_c.join()
        assert server.in_flight > 0  # the run stopped while requests still hung
    # a cancel, not the 1 s timeout (which would be a TextBackendError)
    assert isinstance(info.value, TextCancelled)
    assert stored(cache) == 20  # every answer that came back is kept for --resume


# ------------------------------------------------------------------ runaway answers
def test_a_runaway_completion_is_cut_before_it_is_returned_or_cached(tmp_path):
    """A server that ignores max_tokens (5 MB for one completion) cannot grow the replay
    cache: every completion is cut to max(256, 16 * max_tokens) characters."""
    huge = "word " * 1_000_000

    def fault(prompt, n, auth):
        if prompt.startswith("big"):
            return (200, {"choices": [{"message": {"role": "assistant", "content": huge}}]})
        return None

    asked = [
        Request(prompt="big 8", max_tokens=8, seed=1),
        Request(prompt="big 100", max_tokens=100, seed=2),
        Request(prompt="small", max_tokens=20, seed=3),
    ]
    db = tmp_path / "c.db"
    with ChatServer(delay=0.0, fault=fault) as server:
        backend = cached(server, db)
        texts = backend.generate(asked)
        assert texts[0] == huge[:256]  # the floor: 16 * 8 is under 256
        assert texts[1] == huge[:1600]
        assert texts[2] == "echo: small (seed 3)"  # short answers are untouched
        before = server.requests
        assert backend.generate(asked) == texts  # the cache holds the cut text
        assert server.requests == before
    assert db.stat().st_size < 1_000_000
