"""Any OpenAI-compatible chat-completions server: vLLM, Ollama, llama.cpp, hosted APIs.

Requests go out concurrently (at most ``max_concurrency`` in flight) over one async HTTP
client, each with a timeout, retried with exponential backoff on timeouts, connection
errors, 429 and 5xx answers. The API key is read from the environment variable named by
``api_key_env`` and is never logged, stored or put in an error message.
"""

from __future__ import annotations

import asyncio
import os

import httpx

from .backend import Request, TextBackendError

RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}


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

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise TextBackendError(
                    f"environment variable {self.api_key_env} is not set "
                    "(it should hold the API key)"
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def generate(self, requests: list[Request]) -> list[str]:
        if not requests:
            return []
        return asyncio.run(self._generate(requests))

    async def _generate(self, requests: list[Request]) -> list[str]:
        limit = asyncio.Semaphore(self.max_concurrency)
        limits = httpx.Limits(
            max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency
        )
        async with httpx.AsyncClient(
            headers=self._headers(), timeout=self.timeout_s, limits=limits
        ) as client:
            tasks = [self._one(client, limit, i, r) for i, r in enumerate(requests)]
            return list(await asyncio.gather(*tasks))

    async def _one(
        self, client: httpx.AsyncClient, limit: asyncio.Semaphore, index: int, request: Request
    ) -> str:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": request.prompt}],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
        }
        url = f"{self.base_url}/chat/completions"
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            async with limit:
                try:
                    response = await client.post(url, json=body)
                except httpx.TimeoutException:
                    problem = f"timed out after {self.timeout_s:g} s"
                    continue
                except httpx.TransportError as exc:
                    problem = f"connection failed ({type(exc).__name__})"
                    continue
            if response.status_code in RETRYABLE:
                problem = f"HTTP {response.status_code}"
                continue
            if response.status_code != 200:
                raise TextBackendError(
                    f"item {index}: {url} answered HTTP {response.status_code}: "
                    f"{response.text[:200]!r}"
                )
            return _content(response, index)
        raise TextBackendError(
            f"item {index}: {url} failed after {self.retries + 1} attempts: {problem}"
        )


def _content(response: httpx.Response, index: int) -> str:
    try:
        data = response.json()
        text = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise TextBackendError(
            f"item {index}: malformed chat-completions response: {response.text[:200]!r}"
        ) from None
    if not isinstance(text, str):
        raise TextBackendError(f"item {index}: message content is not text: {text!r}")
    return text
