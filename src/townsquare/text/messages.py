"""Messages written to an intent, sampled several times and filtered (CICERO's dialogue
module samples candidate messages and drops those its filters reject before one is
sent; MODELS.md section 4).

For a post a policy intends (its stance and topic), the scenario's text backend writes
``k`` candidate messages (one request each, seeded apart). Three filters drop:

* ``garbled`` — empty text, fewer than three words, mostly characters that are not
  letters, a character repeated six times in a row, a word four times in a row, or
  control characters;
* ``stance`` — text whose read stance (a stance reader) is not on the intended side:
  con, neutral (|stance| < 0.15) or pro;
* ``duplicate`` — text that shares 60% or more of its words (Jaccard) with one of the
  author's recent posts.

The survivor whose read stance lies nearest the intended stance is posted: the world
reads a post's stance, not its words, so the message that carries the intent best is
the one whose simulated value is that of the intent (the cheap proxy). When none
survives, the text layer writes the post as it writes everyone's (``without_survivor``).

Stance readers: `PackStanceReader` reads the claims and hashtags of the topic packs the
offline backend writes with (no model); with a model backend the embedding reader of
`text.stance` (the ``text`` extra).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .backend import Request
from .stance import PackStanceReader, reader_for_backend  # noqa: F401  (re-exported)

NEUTRAL = 0.15
DUPLICATE = 0.6
FILTERS = ("garbled", "stance", "duplicate")
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def garbled(text: str) -> bool:
    """Empty or unreadable text (see the module docstring)."""
    stripped = text.strip()
    tokens = stripped.split()
    if len(tokens) < 3:
        return True
    if any(not ch.isprintable() for ch in stripped):
        return True
    visible = [ch for ch in stripped if not ch.isspace()]
    if sum(ch.isalpha() for ch in visible) < 0.6 * len(visible):
        return True
    if re.search(r"(.)\1{5,}", stripped):
        return True
    lowered = [t.lower() for t in tokens]
    return any(len(set(lowered[i : i + 4])) == 1 for i in range(len(lowered) - 3))


def side(stance: float) -> int:
    return 0 if abs(stance) < NEUTRAL else (1 if stance > 0 else -1)


def near_duplicate(text: str, recent: Sequence[str], threshold: float = DUPLICATE) -> bool:
    mine = words(text)
    for other in recent:
        theirs = words(other)
        union = mine | theirs
        if union and len(mine & theirs) / len(union) >= threshold:
            return True
    return False


def reader_for(layer):
    """The stance reader for the layer's backend (`text.stance.reader_for_backend`)."""
    return reader_for_backend(layer.cfg.backend, layer.generator)


class MessageWriter:
    """Writes a policy's intended posts as filtered messages; counts what each filter
    rejected (`counts`)."""

    def __init__(self, layer, reader, k: int = 4):
        self.layer, self.reader, self.k = layer, reader, int(k)
        self.counts = dict.fromkeys(("written", *FILTERS, "without_survivor"), 0)

    def write(
        self, stance: float, topic: int, key: int, recent: Sequence[str], step: int
    ) -> str | None:
        """The message for one intended post, or None when every candidate was dropped.
        ``key`` (the author) and ``step`` seed the candidates apart."""
        requests = [self._request(stance, topic, key, step, i) for i in range(self.k)]
        texts = self.layer.backend.generate(requests)
        self.counts["written"] += len(texts)
        readable = [t for t in texts if not garbled(t)]
        self.counts["garbled"] += len(texts) - len(readable)
        read = self.reader.read(readable, [topic] * len(readable)) if readable else []
        wanted = side(stance)
        on_side = [(t, r) for t, r in zip(readable, read, strict=True) if side(r) == wanted]
        self.counts["stance"] += len(readable) - len(on_side)
        fresh = [(t, r) for t, r in on_side if not near_duplicate(t, recent)]
        self.counts["duplicate"] += len(on_side) - len(fresh)
        if not fresh:
            self.counts["without_survivor"] += 1
            return None
        gaps = [abs(r - stance) for _, r in fresh]
        return fresh[int(np.argmin(gaps))][0]

    def _request(self, stance, topic, key, step, i) -> Request:
        cfg = self.layer.cfg
        generator = self.layer.generator
        prompt = cfg.template.format(
            kind="post",
            topic=generator.pack_for(topic).title,
            position="for" if stance > 0 else "against" if stance < 0 else "undecided",
            stance=stance,
            context=f" This is draft {i + 1} of {self.k}.",
            tone="measured" if abs(stance) < 0.35 else "confident",
            audience="the voters",
        )
        # a key apart from every post id: the offline generator seeds each text by it
        seed = int(np.random.SeedSequence([key, step, i]).generate_state(1, np.uint32)[0])
        intent = {"key": seed, "stance": float(stance), "topic": int(topic), "kind": 0}
        return Request(prompt, cfg.max_tokens, cfg.temperature, seed, intent)
