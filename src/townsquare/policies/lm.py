"""Language-model policies: ``roles.ROLE.policy: lm:<backend spec>`` on any role's line.

A role's users write their posts with a language model. Each step, for the role's
active users who may post:

1. **Prompt.** The observation becomes a prompt. The role's template (`TEMPLATES`, or
   ``roles.ROLE.lm_template``) is filled with the role's observation features by name
   (`roles` modules: ``{feed_stance}``, ``{position}``, ``{poll_lead}``, ...), plus
   ``{role}``, ``{topic}``, ``{opinion}`` and ``{step}``.
2. **Generation.** One request per user, batched over the role's active users and seeded
   by the user and a draw of the role's random stream that step (so by the run's seed). Every completion goes through a replay cache (the run's
   ``text_cache.db`` once the run hands its text layer over, an in-memory one before),
   so runs replay exactly.
3. **Post.** The completion becomes the post: its words (`Actions.post_text`), and the
   stance a stance reader reads from them (`text.stance`), since the words are what the
   policy chose. Unreadable output (empty, too short, garbled: `text.messages.garbled`)
   writes nothing and is counted (``lm_<role>_unparsed``).
4. **Action tags.** A completion may start with tags in brackets, stripped from the
   post: ``[silent]`` (any role) writes nothing (``lm_<role>_silent``); a candidate's
   ``[to_centre]`` and ``[to_base]`` move its platform one step, as its intents do
   (`roles.candidate.moved_position`; ``lm_candidate_moves``). An unknown tag is
   unparseable: nothing is done, and it is counted. The default templates do not ask for
   tags; a scenario's ``lm_template`` can.

Everything else a user does (likes, replies, reposts, follows) stays the role's scripted
policy, with the scenario's settings.

Backend specs:

* ``lm:offline``: the offline template model (topic packs, no model), writing each
  user's own opinion: for tests and as a baseline;
* ``lm:transformers:PATH``: a local causal LM folder (the ``text`` extra). A folder that
  ``train ROLE --algo grpo`` wrote holds ``townsquare.json``: the prompt template, the
  completion length, the temperature and the stance reader it was trained with, which
  the policy then uses (the scenario's ``lm_template``, and a run's own reader with
  ``text.stance_from_text``, still win);
* ``lm:openai:MODEL@URL``: an OpenAI-compatible chat-completions server at URL.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import numpy as np

from ..world.actions import Actions, Observations

PREFIX = "lm:"
#: the action tags each role may start a completion with (see the module docstring)
TAGS = {
    "citizen": ("silent",),
    "influencer": ("silent",),
    "candidate": ("silent", "to_centre", "to_base"),
    "socialbot": ("silent",),
}
_LEADING_TAGS = re.compile(r"^\s*((?:\[[^\[\]\s]*\]\s*)+)")
#: the prompt of each role; placeholders are the role's observation features by name
TEMPLATES = {
    "citizen": (
        "You are an ordinary user of a social network. Your opinion on {topic} is "
        "{opinion:+.2f} (from -1, fully against, to +1, fully for). Your feed leans "
        "{feed_stance:+.2f}. Write one short post (at most 40 words), or [silent] to "
        "post nothing."
    ),
    "influencer": (
        "You are an influencer who wants more followers. Your opinion on {topic} is "
        "{opinion:+.2f}; your feed leans {feed_stance:+.2f}. Write one short post (at "
        "most 40 words)."
    ),
    "candidate": (
        "You are an election candidate at position {position:+.2f} on {topic} (from -1 "
        "to +1). You lead the latest poll by {poll_lead:+.2f}; {days_left:+.2f} of the "
        "campaign is left (-1: election day). Your feed leans {feed_stance:+.2f}. Write "
        "one short campaign post (at most 40 words) that wins votes."
    ),
    "socialbot": (
        "You run a campaign account arguing {opinion:+.2f} on {topic}. Your feed leans "
        "{feed_stance:+.2f}. Write one short post (at most 40 words)."
    ),
}


@dataclass(frozen=True)
class BackendSpec:
    kind: str  # offline, transformers, openai
    path: str | None = None
    model: str | None = None
    url: str | None = None


def parse_spec(line: str) -> BackendSpec:
    """The backend a policy line ``lm:...`` names; a `ValueError` saying what is wrong."""
    rest = line[len(PREFIX) :]
    kind, _, arg = rest.partition(":")
    if kind == "offline" and not arg:
        return BackendSpec("offline")
    if kind == "transformers" and arg:
        return BackendSpec("transformers", path=arg)
    if kind == "openai" and "@" in arg:
        model, _, url = arg.partition("@")
        if model and url.startswith(("http://", "https://")):
            return BackendSpec("openai", model=model, url=url)
    raise ValueError(
        "expected lm:offline, lm:transformers:PATH or lm:openai:MODEL@http(s)://HOST/v1"
    )


def make_backend(spec: BackendSpec, seed: int = 0):
    """The text backend a spec names (not yet cached)."""
    from ..text.layer import OfflineBackend
    from ..text.offline import OfflineGenerator

    if spec.kind == "offline":
        return OfflineBackend(OfflineGenerator(seed=seed))
    if spec.kind == "transformers":
        from ..text.transformers_backend import TransformersBackend

        return TransformersBackend(spec.path)
    from ..text.openai_backend import OpenAIBackend

    return OpenAIBackend(spec.url, spec.model)


class LMPolicy:
    """The role's posts written by a language model (see the module docstring)."""

    def __init__(
        self,
        role_name: str,
        spec: BackendSpec,
        background,
        template: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        writers: int | None = None,
    ):
        from ..text.cache import CachedBackend, CompletionCache
        from ..text.offline import OfflineGenerator
        from ..text.stance import reader_for_backend, stance_reader

        self.role_name = role_name
        self.spec = spec
        self.background = background
        trained = trained_settings(spec, role_name)
        self.template = template or trained.get("template") or TEMPLATES[role_name]
        self.max_tokens = int(max_tokens or trained.get("max_tokens") or 80)
        temperature = temperature if temperature is not None else trained.get("temperature")
        self.temperature = float(0.8 if temperature is None else temperature)
        self.generator = OfflineGenerator()
        self.inner = make_backend(spec)
        self.backend = CachedBackend(self.inner, CompletionCache(":memory:"))
        if "reader" in trained:
            self.reader = stance_reader(trained["reader"], self.generator)
        else:
            self.reader = reader_for_backend(spec.kind, self.generator)
        #: candidates only: how many (the first by user id) write with the model; the
        #: others post by the scripted rule (None: every one)
        self.writers = writers
        self.role = learner_role(role_name)
        self.memory = None  # the role's observation memory, made at the first step
        self.counts = {"prompts": 0, "unparsed": 0, "silent": 0}
        if "to_centre" in TAGS.get(role_name, ()):
            self.counts["moves"] = 0
        check_template(self.template, role_name)

    def __deepcopy__(self, memo):
        # a fork shares the backend, its cache and the reader (models and connections);
        # its counts are its own
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        shared = ("inner", "backend", "reader", "generator", "role")
        for key, value in self.__dict__.items():
            setattr(new, key, value if key in shared else copy.deepcopy(value, memo))
        return new

    def use_text(self, layer) -> None:
        """Answer from the run's replay cache (and read stances as the run does)."""
        from ..text.cache import CachedBackend

        self.backend = CachedBackend(self.inner, layer.cache)
        if layer.reader is not None:
            self.reader = layer.reader

    # -- acting -----------------------------------------------------------------------
    def prompts(self, obs: Observations, rows: np.ndarray) -> list[str]:
        if self.memory is None and self.role is not None:
            self.memory = self.role.new_memory(obs.n_users)
        return role_prompts(
            self.role_name, self.template, self.generator, self.role, self.memory, obs, rows
        )

    def act(self, obs: Observations, rng: np.random.Generator) -> Actions:
        from ..text.backend import Request
        from ..text.messages import garbled

        acts = self.background.act(obs, rng)
        writing = np.ones(len(obs), bool)
        if self.writers is not None and obs.campaign is not None:
            writing = np.isin(obs.users, obs.campaign.candidates[: self.writers])
        acts.post = acts.post & ~writing
        rows = np.flatnonzero(obs.may_post & writing)
        if rows.size == 0:
            return acts
        prompts = self.prompts(obs, rows)
        # one draw from the role's stream a step: completions differ between runs of
        # other seeds, and each request's seed is its own (a user's, that step)
        step_key = int(rng.integers(2**32))
        requests = []
        for row, prompt in zip(rows.tolist(), prompts, strict=True):
            user = int(obs.users[row])
            seed = int(np.random.SeedSequence([step_key, user]).generate_state(1, np.uint32)[0])
            intent = {"key": seed, "stance": float(obs.opinion[row, 0]), "topic": 0, "kind": 0}
            requests.append(Request(prompt, self.max_tokens, self.temperature, seed, intent))
        texts = self.backend.generate(requests)
        self.counts["prompts"] += len(texts)
        words = np.full(len(obs), None, object)
        moves = np.zeros(len(obs), np.int64)  # 0 hold, 1 toward the centre, 2 toward its base
        keep = []
        for row, text in zip(rows.tolist(), texts, strict=True):
            tags, text = split_tags(text)
            if any(tag not in TAGS.get(self.role_name, ()) for tag in tags):
                self.counts["unparsed"] += 1
                continue
            moves[row] = 1 if "to_centre" in tags else (2 if "to_base" in tags else 0)
            if "silent" in tags:
                self.counts["silent"] += 1
            elif garbled(text):
                self.counts["unparsed"] += 1
            else:
                words[row] = text
                keep.append(row)
        if keep:
            keep_rows = np.array(keep, np.int64)
            stance = self.reader.read([words[r] for r in keep], np.zeros(len(keep), np.int64))
            acts.post[keep_rows] = True
            acts.post_stance[keep_rows] = np.clip(np.nan_to_num(stance), -1.0, 1.0)
            acts.post_topic[keep_rows] = 0
        acts.post_text = words
        if moves.any():
            from ..roles.candidate import moved_position, own_side

            position = obs.opinion[:, 0]
            moved = moved_position(position, own_side(position), moves)
            acts.position = np.where(moves > 0, moved, np.nan)
            self.counts["moves"] += int((moves > 0).sum())
        return acts

    # -- interviews -------------------------------------------------------------------
    def interview(self, users, topics, questions, step):
        """A researcher's questions answered by the model itself (townsquare.interviews):
        its words, and the stance its reader finds in them (NaN where none). Counted
        nowhere and drawn from no stream of the run, so the run goes on as if unasked."""
        from ..text.backend import Request

        requests = []
        for user, topic, question in zip(users.tolist(), topics.tolist(), questions, strict=True):
            seed = int(np.random.SeedSequence([step, user, topic]).generate_state(1, np.uint32)[0])
            prompt = f'An interviewer asks you: "{question}" Answer in one or two sentences.'
            intent = {"key": seed, "stance": 0.0, "topic": int(topic), "kind": 0}
            requests.append(Request(prompt, self.max_tokens, self.temperature, seed, intent))
        texts = [split_tags(t)[1] for t in self.backend.generate(requests)]
        stance = self.reader.read(texts, np.asarray(topics, np.int64))
        stance = np.clip(np.asarray(stance, np.float64), -1.0, 1.0)
        return stance, texts

    # -- records ----------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        out = self.background.metrics() if hasattr(self.background, "metrics") else {}
        for name, count in self.counts.items():
            out[f"lm_{self.role_name}_{name}"] = count
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {"counts": np.array(list(self.counts.values()), np.int64)}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        from ..world import checks

        counts = checks.array(arrays, "counts", np.int64, (len(self.counts),))
        checks.within("counts", counts, 0)
        self.counts = dict(zip(self.counts, map(int, counts), strict=True))


def split_tags(text: str) -> tuple[list[str], str]:
    """The action tags a completion starts with (lower case, without brackets) and the
    rest of its text."""
    text = text.strip()
    found = _LEADING_TAGS.match(text)
    if found is None:
        return [], text
    tags = [t.lower() for t in re.findall(r"\[([^\[\]\s]*)\]", found.group(1))]
    return tags, text[found.end() :].strip()


#: what ``train ROLE --algo grpo`` writes beside the model it trained
TRAINED = "townsquare.json"


def trained_settings(spec: BackendSpec, role_name: str | None = None) -> dict:
    """The prompt template, completion length and temperature a trained model folder
    was trained with (empty for other backends and other folders); a
    `TextBackendError` naming the file if it is damaged."""
    import json
    from pathlib import Path

    from ..text.backend import TextBackendError

    if spec.kind != "transformers":
        return {}
    path = Path(spec.path) / TRAINED
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TextBackendError(f"{path}: damaged ({exc})") from None
    kinds = {
        "template": str,
        "max_tokens": int,
        "temperature": (int, float),
        "role": str,
        "reader": str,
    }
    if not isinstance(data, dict) or any(
        k not in kinds or not isinstance(v, kinds[k]) or isinstance(v, bool)
        for k, v in data.items()
    ):
        raise TextBackendError(f"{path}: damaged (expected {', '.join(kinds)} of their types)")
    if data.get("max_tokens", 1) < 1 or data.get("temperature", 0) < 0:
        raise TextBackendError(f"{path}: damaged (max_tokens at least 1, temperature not negative)")
    if data.get("reader", "pack") not in ("embedding", "pack", "lexicon"):
        raise TextBackendError(f"{path}: damaged (reader: embedding, pack or lexicon)")
    if role_name is not None and data.get("role", role_name) != role_name:
        raise TextBackendError(
            f"{path}: the model was trained for the {data['role']} role, not the {role_name}"
        )
    return data


def role_prompts(role_name, template, generator, role, memory, obs, rows) -> list[str]:
    """The prompts of the users in ``rows``: ``template`` filled with each one's
    observation features by name (the role module's, or the feed at a glance for a role
    without one), ``role``, ``topic`` (topic 0's title), ``opinion`` and ``step``."""
    from ..roles.base import FEED_FEATURES, feed_features

    if role is None:
        vectors = feed_features(obs, rows)
        names = FEED_FEATURES
    else:
        vectors = role.observe(obs, rows, memory)
        names = role.feature_names
    topic = generator.pack_for(0).title
    out = []
    for i, row in enumerate(np.asarray(rows).tolist()):
        values = {name: float(vectors[i, j]) for j, name in enumerate(names)}
        values.update(
            role=role_name, topic=topic, opinion=float(obs.opinion[row, 0]), step=int(obs.step)
        )
        out.append(template.format(**values))
    return out


def feature_names(role_name: str) -> list[str]:
    """The placeholders a role's template may use."""
    from ..roles.base import FEED_FEATURES

    role = learner_role(role_name)
    names = role.feature_names if role is not None else list(FEED_FEATURES)
    return [*names, "role", "topic", "opinion", "step"]


def check_template(template: str, role_name: str) -> None:
    """A `ValueError` naming the placeholder a template cannot fill."""
    values = dict.fromkeys(feature_names(role_name), 0.0)
    values.update(role=role_name, topic="topic", step=0)
    try:
        template.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise ValueError(
            f"lm_template: {exc!r} (placeholders: {', '.join(feature_names(role_name))})"
        ) from None


#: roles whose learner observation makes no prompt: the socialbot's is ACORN's 207
#: numbers for its two networks (`roles.socialbot_platform`), so a language model
#: writing for a bot reads its feed as a role without a learner module does
GENERIC_PROMPT = ("socialbot",)


def learner_role(role_name: str):
    """The role module whose observation fills ``role_name``'s prompt, or None for the
    generic feed reading."""
    from ..roles import ROLES, make_role

    if role_name not in ROLES or role_name in GENERIC_PROMPT:
        return None
    return make_role(role_name)
