"""The OpenAI-compatible backend against a real HTTP server on loopback, and the replay cache."""

from __future__ import annotations

import pytest

from chat_server import ChatServer
from townsquare.text.backend import Request, TextBackendError
from townsquare.text.cache import CachedBackend, CompletionCache
from townsquare.text.openai_backend import OpenAIBackend


def requests(n):
    return [Request(prompt=f"post {i}", seed=i) for i in range(n)]


def test_completions_come_back_in_order_within_the_concurrency_limit():
    with ChatServer(delay=0.05) as server:
        backend = OpenAIBackend(server.url, "tiny", max_concurrency=3)
        texts = backend.generate(requests(12))
    assert texts == [f"echo: post {i} (seed {i})" for i in range(12)]
    assert server.max_in_flight <= 3
    assert server.max_in_flight >= 2  # requests really overlap


def test_timeouts_are_retried_then_surfaced():
    with ChatServer(mode="slow") as server:
        backend = OpenAIBackend(server.url, "tiny", timeout_s=0.2, retries=1, backoff_s=0.01)
        with pytest.raises(TextBackendError, match=r"item 0: .*2 attempts: timed out"):
            backend.generate(requests(1))


def test_server_errors_are_retried_with_backoff():
    with ChatServer(mode="fail_then_ok", failures=2) as server:
        backend = OpenAIBackend(server.url, "tiny", max_concurrency=1, retries=3, backoff_s=0.01)
        assert backend.generate(requests(1)) == ["echo: post 0 (seed 0)"]
        assert server.requests == 3


def test_persistent_server_errors_surface_as_a_clear_error():
    with ChatServer(mode="always_500") as server:
        backend = OpenAIBackend(server.url, "tiny", retries=2, backoff_s=0.01)
        with pytest.raises(TextBackendError, match="failed after 3 attempts: HTTP 500"):
            backend.generate(requests(2))


def test_malformed_response_names_the_item():
    with ChatServer(mode="malformed") as server:
        backend = OpenAIBackend(server.url, "tiny", retries=3, backoff_s=0.01)
        with pytest.raises(TextBackendError, match=r"item \d: malformed chat-completions"):
            backend.generate(requests(2))
    assert max(server.calls.values()) == 4  # malformed answers are retried too


def test_api_key_comes_from_the_environment_and_stays_out_of_errors(monkeypatch):
    monkeypatch.setenv("TS_TEST_KEY", "sk-secret-123")
    with ChatServer(mode="always_500") as server:
        backend = OpenAIBackend(server.url, "tiny", api_key_env="TS_TEST_KEY", retries=0)
        with pytest.raises(TextBackendError) as info:
            backend.generate(requests(1))
    assert server.seen_auth == ["Bearer sk-secret-123"]
    assert "sk-secret" not in str(info.value)
    monkeypatch.delenv("TS_TEST_KEY")
    with pytest.raises(TextBackendError, match="TS_TEST_KEY is not set"):
        backend.generate(requests(1))


def test_unreachable_server_is_a_clear_error():
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "tiny", retries=1, backoff_s=0.01, timeout_s=1)
    with pytest.raises(TextBackendError, match="connection failed"):
        backend.generate(requests(1))


def test_replay_from_the_cache_without_the_server(tmp_path):
    cache = CompletionCache(tmp_path / "text_cache.db")
    with ChatServer() as server:
        live = CachedBackend(OpenAIBackend(server.url, "tiny"), cache).generate(requests(5))
        assert server.requests == 5
    # the server is gone: everything must come from the cache, byte for byte
    replay = CachedBackend(
        OpenAIBackend(server.url, "tiny", retries=0, timeout_s=0.5),
        CompletionCache(tmp_path / "text_cache.db"),
    ).generate(requests(5))
    assert replay == live
    assert len(CompletionCache(tmp_path / "text_cache.db")) == 5


def test_cache_keys_separate_models_and_parameters(tmp_path):
    cache = CompletionCache(tmp_path / "c.db")
    with ChatServer() as server:
        a = CachedBackend(OpenAIBackend(server.url, "model-a"), cache)
        b = CachedBackend(OpenAIBackend(server.url, "model-b"), cache)
        a.generate(requests(2))
        b.generate(requests(2))
        a.generate([Request(prompt="post 0", seed=0, temperature=0.1)])
        assert server.requests == 5
        a.generate(requests(2))
        assert server.requests == 5
    assert cache.hits == 2 and cache.misses == 5
