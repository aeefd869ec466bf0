"""One interface for every way of producing text.

A backend turns a batch of `Request`s into a list of strings, in order. Backends:
``offline`` (topic packs, no model), ``openai`` (any OpenAI-compatible chat-completions
server) and, with the ``llm`` extra, ``transformers`` (a local causal LM). Wrapping any of
them in `CachedBackend` makes a run replay exactly without contacting anything.

Two optional extras a backend may offer (`CachedBackend` and `TextLayer` use them when
present): ``generate(requests, on_result=None)``, calling ``on_result(index, text)`` as each
completion arrives, so the cache keeps what arrived even when the batch later fails; and
``cancel()`` / ``reset_cancel()``, which abandon the batch in flight by raising
`TextCancelled`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable


class TextBackendError(RuntimeError):
    """A backend could not produce a completion; the message names the item."""


class TextCancelled(KeyboardInterrupt):
    """`cancel()` abandoned a batch in flight. A KeyboardInterrupt on purpose: whoever
    handles Ctrl-C (the runner falls back to its last flush and exits resumable) handles
    this too. Completions that arrived before the cancel are already in the cache."""


OnResult = Callable[[int, str], None]
"""``on_result(index, text)``: one completion, ``index`` into the batch, as it arrives."""


@dataclass(frozen=True)
class Request:
    """One completion to generate: the prompt, sampling parameters, and the intent it was
    built from (stance, topic, tone, kind), which the offline backend reads directly."""

    prompt: str
    max_tokens: int = 80
    temperature: float = 0.8
    seed: int = 0
    intent: dict = field(default_factory=dict)

    def params(self) -> dict:
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, "seed": self.seed}

    def cache_fields(self) -> str:
        """What identifies this completion, apart from backend and model."""
        return json.dumps(
            {"prompt": self.prompt, **self.params(), "intent": self.intent},
            sort_keys=True,
            default=str,
        )

    def as_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class TextBackend(Protocol):
    name: str
    model: str

    def generate(self, requests: list[Request]) -> list[str]: ...
