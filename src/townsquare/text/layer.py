"""Text for a run's posts: the scenario's backend, behind the replay cache.

The World never imports this: the runner asks the `TextLayer` for the text of each step's
new posts (originals, replies, reposts) from their intent (stance, topic, kind, the parent
they answer), stores it on the posts, and records it in the ``text`` column of the
``posts`` table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .backend import Request
from .cache import CachedBackend, CompletionCache
from .offline import OfflineGenerator, load_pack

KIND_NAMES = ("post", "repost", "reply", "quote")


class OfflineBackend:
    """The offline generator as a backend: it reads each request's intent, not its prompt."""

    name = "offline"

    def __init__(self, generator: OfflineGenerator):
        self.generator = generator
        self.model = f"offline-seed{generator.seed}"

    def generate(self, requests: list[Request]) -> list[str]:
        if not requests:
            return []
        intent = [r.intent for r in requests]
        stance = np.array([i["stance"] for i in intent], np.float64)
        parent = np.array([i.get("parent_stance", i["stance"]) for i in intent], np.float64)
        return self.generator.generate(
            stance,
            np.array([i["topic"] for i in intent]),
            np.array([i["kind"] for i in intent]),
            keys=np.array([i["key"] for i in intent]),
            parent_stances=parent,
        )


def _clip(text: str, limit: int = 280) -> str:
    """Context quotes stay post-sized, whatever a backend returned."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tone(stance: float) -> str:
    """The register a stance this strong is voiced in (the offline packs do the same)."""
    strength = abs(stance)
    return "measured" if strength < 0.35 else "confident" if strength < 0.7 else "passionate"


def _position(stance: float) -> str:
    if abs(stance) < 0.15:
        return "undecided"
    strength = "strongly " if abs(stance) > 0.6 else ""
    return f"{strength}{'for' if stance > 0 else 'against'}"


class TextLayer:
    def __init__(self, cfg, run_dir: str | Path, seed: int):
        packs = [load_pack(p) for p in cfg.packs] or None
        self.generator = OfflineGenerator(packs, seed=seed)
        self.cfg = cfg
        if cfg.backend == "offline":
            inner = OfflineBackend(self.generator)
        elif cfg.backend == "openai":
            from .openai_backend import OpenAIBackend

            inner = OpenAIBackend(
                cfg.base_url,
                cfg.model,
                cfg.api_key_env,
                cfg.max_concurrency,
                cfg.timeout_s,
                cfg.retries,
            )
        elif cfg.backend == "transformers":
            from .transformers_backend import TransformersBackend

            inner = TransformersBackend(cfg.model_path, cfg.device)
        else:
            raise ValueError(f"text backend {cfg.backend!r} has no generator")
        cache = Path(cfg.cache) if cfg.cache else Path(run_dir) / "text_cache.db"
        self.cache = CompletionCache(cache)
        self.backend = CachedBackend(inner, self.cache)
        self._last: dict[int, int] | None = None
        #: with ``stance_from_text``: what reads a new post's stance from its words
        self.reader = None
        if cfg.stance_from_text:
            from .stance import stance_reader

            self.reader = stance_reader(cfg.stance_reader, self.generator)

    def new_world(self) -> None:
        """Forget the last world's posts (an environment reset builds a new world)."""
        self._last = None

    def _last_posts(self, posts) -> dict[int, int]:
        """Each author's latest post with text, rebuilt from the post store the first time
        (so a resumed run builds the same prompts)."""
        if self._last is None:
            self._last = {}
            for pid in sorted(posts.text):
                self._last[int(posts.author[pid])] = pid
        return self._last

    def requests_for(
        self, ids, stance, topic, kind, parent, posts, followers=None
    ) -> list[Request]:
        """One request per new post: its intent, and a prompt with the author's previous
        post and the post it replies to or shares."""
        out = []
        last = self._last_posts(posts)
        rows = zip(
            ids.tolist(),
            stance.tolist(),
            topic.tolist(),
            kind.tolist(),
            parent.tolist(),
            strict=True,
        )
        for pid, s, t, k, par in rows:
            context = ""
            previous = last.get(int(posts.author[pid]))
            if previous is not None:
                context += f' Your previous post was: "{_clip(posts.text[previous])}".'
            # a quote says its own stance as a post does (the offline packs know three kinds)
            intent = {"key": pid, "stance": s, "topic": t, "kind": 0 if k == 3 else k}
            if par >= 0:
                intent["parent_stance"] = float(posts.stance[par])
                parent_text = posts.text.get(par)
                if parent_text:
                    action = {2: "replying to", 3: "quoting"}.get(k, "sharing")
                    context += f' You are {action}: "{_clip(parent_text)}".'
            author = int(posts.author[pid])
            audience = (
                f"your {int(followers[author]):,} followers"
                if followers is not None
                else "your followers"
            )
            prompt = self.cfg.template.format(
                kind=KIND_NAMES[k],
                topic=self.generator.pack_for(t).title,
                position=_position(s),
                stance=s,
                context=context,
                tone=_tone(s),
                audience=audience,
            )
            out.append(
                Request(
                    prompt=prompt,
                    max_tokens=self.cfg.max_tokens,
                    temperature=self.cfg.temperature,
                    seed=pid,
                    intent=intent,
                )
            )
        return out

    def texts_for(self, events, posts, followers=None) -> list[str]:
        """Texts of a step's new posts, stored on the post store as well. Posts whose
        policy wrote its own words keep them; only the others are generated.
        ``followers`` (per user) names each author's audience in the prompt."""
        ids = events.post_id
        need = np.fromiter((pid not in posts.text for pid in ids.tolist()), bool, ids.size)
        requests = self.requests_for(
            ids[need],
            events.post_stance[need],
            events.post_topic[need],
            events.post_kind[need],
            events.post_parent[need],
            posts,
            followers,
        )
        generated = self.backend.generate(requests)
        posts.text.update(zip(ids[need].tolist(), generated, strict=True))
        last = self._last_posts(posts)
        for pid in ids.tolist():
            last[int(posts.author[pid])] = pid
        texts = [posts.text[pid] for pid in ids.tolist()]
        if self.reader is not None:
            self._read_stances(events, posts, texts)
        return texts

    def _read_stances(self, events, posts, texts: list[str]) -> None:
        """``stance_from_text``: the stance of each new post and reply is what its words
        say (a repost keeps its parent's, already read). Written to the post store, which
        feeds show from the next step on, and to the step's events."""
        own = np.flatnonzero(events.post_kind != 1)  # KIND_NAMES: 1 is a repost
        if own.size == 0:
            return
        read = self.reader.read([texts[i] for i in own.tolist()], events.post_topic[own])
        read = np.clip(np.nan_to_num(np.asarray(read, np.float64)), -1.0, 1.0)
        posts.restate(events.post_id[own], read)
        stance = np.array(events.post_stance, np.float64, copy=True)
        stance[own] = read
        events.post_stance = stance

    def cancel(self) -> None:
        """Abandon the text requests in flight: the batch being generated raises
        `TextCancelled` (a KeyboardInterrupt) within a fraction of a second, keeping in the
        cache what already arrived. Safe to call from a signal handler or another thread,
        and when nothing is in flight. For the ``openai`` backend the cancel is sticky: every
        later batch raises `TextCancelled` at once, until `reset_cancel` (a new layer starts
        uncancelled), so a Ctrl-C landing between two batches still stops the next one. The
        ``offline`` and ``transformers`` backends ignore it (offline text is instant; a
        local model finishes its batch)."""
        self.backend.cancel()

    def reset_cancel(self) -> None:
        """Let batches run again after `cancel`."""
        self.backend.reset_cancel()

    def close(self) -> None:
        self.cache.close()
