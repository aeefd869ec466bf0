"""Any OpenAI-compatible chat-completions server: vLLM, Ollama, llama.cpp, hosted APIs.

Requests go out concurrently (at most ``max_concurrency`` in flight) over one async HTTP
client, each with a timeout, retried with exponential backoff on timeouts, connection
errors, 429 and 5xx answers and malformed answers. Each completion is handed to
``on_result`` as it arrives, so a caller (the replay cache) keeps it even when another
item of the batch fails. The API key is read from the environment variable named by
``api_key_env`` and is never logged or stored; every error message is one line with the
key (and any ``Bearer`` token) replaced by ``***``.

`cancel()` (safe from a signal handler or another thread) abandons the batch in flight
within a fraction of a second: pending requests are cancelled, the client is closed and
`generate` raises `TextCancelled`. The cancel is sticky: every later `generate` raises
`TextCancelled` at once until `reset_cancel()` (a new backend starts uncancelled), so a
Ctrl-C that lands just before a batch starts still stops it.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field

import httpx

from ..errors import UserError
from .backend import OnResult, Request, TextBackendError, TextCancelled

RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}
POLL_S = 0.1  # how often a running batch looks for a cancel
SNIPPET = 200  # characters of an answer body quoted in an error
#: a completion is cut to at most max(MIN_COMPLETION_CHARS, CHARS_PER_TOKEN * max_tokens)
#: characters before it is returned (and cached): a server need not honour max_tokens
#: (one answering 5 MB grew the replay cache to 636 MB), and a token is rarely more than
#: 16 characters, so only a runaway answer is cut, always at the same place
CHARS_PER_TOKEN = 16
MIN_COMPLETION_CHARS = 256
_BEARER = re.compile(r"(?i)\bBearer\s+[^\s\"',;}]+")


class _Malformed(Exception):
    """An answer with status 200 that carries no completion text."""


class _Abandoned(Exception):
    """A request given up because another item of its batch failed."""


@dataclass
class _Batch:
    """What the requests of one `generate` call share."""

    client: httpx.AsyncClient
    limit: asyncio.Semaphore
    results: list[str]
    tasks: dict[int, asyncio.Future] = field(default_factory=dict)
    busy: set[int] = field(default_factory=set)  # items with a request on the wire
    halted: bool = False  # an item failed: start no request, no retry
    failure: Exception | None = None  # the first item that failed


class _Cancelled(Exception):
    """Inside the event loop; `generate` turns it into `TextCancelled` outside it (asyncio
    gives KeyboardInterrupts raised in a task special treatment that is not wanted here)."""


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        max_concurrency: int = 8,
        timeout_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
    ):
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.max_concurrency = int(max_concurrency)
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        # a plain flag, not a threading.Event: Event.set takes a lock, which a signal
        # handler running on top of that same lock's holder would wait on forever
        self._cancelled = False
        if self.api_key_env and not self._key():
            # found now, before a run starts, rather than at its first request; a
            # UserError names the scenario key, and the runner passes it on unchanged
            raise UserError(
                f"text.api_key_env: environment variable {self.api_key_env!r} is "
                "not set (it should hold the API key)"
            )

    # ------------------------------------------------------------------ cancelling
    def cancel(self) -> None:
        """Abandon the batch in flight (and any later one until `reset_cancel`)."""
        self._cancelled = True

    def reset_cancel(self) -> None:
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    # ------------------------------------------------------------------ errors
    def _key(self) -> str | None:
        """The API key, without the blanks a copy-paste leaves at its ends."""
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return key.strip() if key else key

    def _redact(self, text: str) -> str:
        """``text`` as one line, without the API key or any bearer token."""
        text = _BEARER.sub("Bearer ***", text)
        key = self._key()
        if key:
            text = text.replace(key, "***")
        return " ".join(text.split())

    def _snippet(self, text: str) -> str:
        """The start of an answer body, safe to quote: redacted before it is cut, so a
        key that straddles the cut cannot leak in part."""
        return repr(self._redact(text)[:SNIPPET])

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = self._key()
            if not key:
                raise TextBackendError(
                    f"environment variable {self.api_key_env} is not set "
                    "(it should hold the API key)"
                )
            if not key.isascii() or not key.isprintable():
                raise TextBackendError(
                    f"environment variable {self.api_key_env} holds characters that cannot "
                    "go in an HTTP header (non-ASCII or control characters)"
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    # ------------------------------------------------------------------ generating
    def generate(self, requests: list[Request], on_result: OnResult | None = None) -> list[str]:
        """Completions of ``requests``, in order. ``on_result(index, text)`` is called for
        each completion as it arrives (on the calling thread). Raises `TextBackendError`
        (one line, naming the item) or `TextCancelled`."""
        if self._cancelled:
            raise TextCancelled("text generation cancelled")
        if not requests:
            return []
        try:
            return asyncio.run(self._generate(requests, on_result))
        except _Cancelled:
            raise TextCancelled("text generation cancelled") from None
        except TextBackendError as exc:
            # the one place every message passes: no key, no newline, whatever built it
            raise TextBackendError(self._redact(str(exc))) from None

    async def _generate(self, requests: list[Request], on_result: OnResult | None) -> list[str]:
        limits = httpx.Limits(
            max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency
        )
        async with httpx.AsyncClient(
            headers=self._headers(), timeout=self.timeout_s, limits=limits
        ) as client:
            batch = _Batch(client, asyncio.Semaphore(self.max_concurrency), [""] * len(requests))
            for i, request in enumerate(requests):
                batch.tasks[i] = asyncio.ensure_future(self._item(batch, i, request, on_result))
            tasks = list(batch.tasks.values())
            everything = asyncio.gather(*tasks, return_exceptions=True)
            try:
                # wake up every POLL_S to look for a cancel (one future: cheap at any size)
                while not everything.done():
                    if self._cancelled:
                        raise _Cancelled
                    await asyncio.wait({everything}, timeout=POLL_S)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.wait({everything})
        if batch.failure is not None:
            raise batch.failure
        return batch.results

    async def _item(
        self, batch: _Batch, index: int, request: Request, on_result: OnResult | None
    ) -> None:
        """One item, start to finish: its completion stored and handed on, or the batch
        halted by its failure."""
        try:
            text = await self._one(batch, index, request)
            batch.results[index] = text
            if on_result is not None:
                on_result(index, text)
        except _Abandoned:
            pass
        except Exception as exc:
            if batch.failure is None:
                # start nothing new; requests already on the wire may finish (they are paid
                # for, and the cache keeps them); a cancel still cuts in
                batch.failure = exc
                batch.halted = True
                for other, task in batch.tasks.items():
                    if other != index and other not in batch.busy:
                        task.cancel()

    async def _one(self, batch: _Batch, index: int, request: Request) -> str:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": request.prompt}],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
        }
        url = f"{self.base_url}/chat/completions"
        attempts = self.retries + 1
        problem = ""
        for attempt in range(attempts):
            if batch.halted:
                raise _Abandoned
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            async with batch.limit:
                if batch.halted:
                    raise _Abandoned
                batch.busy.add(index)
                try:
                    response = await batch.client.post(url, json=body)
                except httpx.TimeoutException:
                    problem = f"timed out after {self.timeout_s:g} s"
                    continue
                except httpx.TransportError as exc:
                    problem = f"connection failed ({type(exc).__name__})"
                    continue
                except httpx.HTTPError as exc:  # e.g. a body that does not decode
                    problem = f"request failed ({type(exc).__name__})"
                    continue
                finally:
                    batch.busy.discard(index)
            if response.status_code in RETRYABLE:
                problem = f"HTTP {response.status_code}"
                continue
            if response.status_code != 200:
                raise TextBackendError(
                    f"item {index}: {url} answered HTTP {response.status_code}: "
                    f"{self._snippet(response.text)}"
                )
            try:
                return _content(response)[: completion_limit(request.max_tokens)]
            except _Malformed as exc:
                if attempt + 1 == attempts:
                    raise TextBackendError(
                        f"item {index}: malformed chat-completions response "
                        f"(after {attempts} attempts, {exc}): {self._snippet(response.text)}"
                    ) from None
                problem = "malformed response"
        raise TextBackendError(f"item {index}: {url} failed after {attempts} attempts: {problem}")


def completion_limit(max_tokens: int) -> int:
    """The most characters kept of a completion asked for with ``max_tokens`` (see
    `CHARS_PER_TOKEN`)."""
    return max(MIN_COMPLETION_CHARS, CHARS_PER_TOKEN * int(max_tokens or 0))


def _content(response: httpx.Response) -> str:
    try:
        data = response.json()
    except (ValueError, RecursionError):
        raise _Malformed("not JSON") from None
    try:
        text = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise _Malformed("no choices[0].message.content") from None
    if not isinstance(text, str):
        raise _Malformed(f"content is {type(text).__name__}, not text")
    return text
