"""Offline, template-based text for simulated posts, reposts and replies.

No model and no network: each simulator topic maps onto a *topic pack* (a YAML file under
``townsquare/text/packs/``) holding short claims for each side of the topic, hashtags, and tone
templates. :class:`OfflineGenerator` turns (stance, topic, kind, tone) into a line of text:

* the sign of the stance picks the pro (+) or con (-) claims;
* ``|stance|`` picks the intensity: strong stances lean to angry/hopeful/sarcastic tones and
  hashtags, weak stances to neutral/informative tones and hedged phrasing ("I think", "maybe");
* near-zero stances (``|s| < 0.15``) give undecided text that sets a pro and a con claim side by
  side.

Text is deterministic per item: item ``i`` draws from ``np.random.default_rng([seed, keys[i]])``,
so the same post (same key) gets the same text whatever else is in the batch.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "KIND_POST",
    "KIND_REPLY",
    "KIND_REPOST",
    "NEUTRAL_BAND",
    "TONES",
    "OfflineGenerator",
    "TopicPack",
    "builtin_packs",
    "claims_for",
    "load_pack",
]

PACKS_DIR = Path(__file__).resolve().parent / "packs"

KIND_POST, KIND_REPOST, KIND_REPLY = 0, 1, 2
TONES = ("neutral", "angry", "hopeful", "sarcastic", "informative")
NEUTRAL_BAND = 0.15  # |stance| below this: undecided, balanced text
_HEDGE_BELOW = 0.35  # |stance| below this: (almost always) hedged
_STRONG_FROM = 0.75  # |stance| from this: sometimes an emphatic ending

_PLACEHOLDERS = frozenset({"claim", "hashtag"})


# --------------------------------------------------------------------------- schema


def _check_template(template: str) -> str:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"malformed template {template!r}: {exc}") from None
    unknown = set(fields) - _PLACEHOLDERS
    if unknown:
        raise ValueError(
            f"template {template!r} uses unknown placeholder(s) {sorted(unknown)}; "
            "only {claim} and {hashtag} are allowed"
        )
    if "claim" not in fields:
        raise ValueError(f"template {template!r} has no {{claim}} placeholder")
    return template


def _check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise ValueError("empty string")
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hashtags(_Strict):
    pro: list[str] = Field(min_length=1)
    con: list[str] = Field(min_length=1)
    neutral: list[str] = Field(min_length=1)

    @field_validator("pro", "con", "neutral")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        out = []
        for tag in tags:
            tag = _check_text(tag)
            if any(c.isspace() for c in tag):
                raise ValueError(f"hashtag {tag!r} contains whitespace")
            out.append(tag if tag.startswith("#") else "#" + tag)
        return out


class Tones(_Strict):
    neutral: list[str] = Field(min_length=1)
    angry: list[str] = Field(min_length=1)
    hopeful: list[str] = Field(min_length=1)
    sarcastic: list[str] = Field(min_length=1)
    informative: list[str] = Field(min_length=1)

    @field_validator(*TONES)
    @classmethod
    def _templates(cls, templates: list[str]) -> list[str]:
        return [_check_template(t) for t in templates]


class Replies(_Strict):
    agree: list[str] = Field(min_length=1)
    disagree: list[str] = Field(min_length=1)

    @field_validator("agree", "disagree")
    @classmethod
    def _templates(cls, templates: list[str]) -> list[str]:
        return [_check_template(t) for t in templates]


class TopicPack(_Strict):
    """One topic's claims, hashtags and templates (see ``packs/*.yaml``)."""

    topic: str = Field(min_length=1)
    title: str = Field(min_length=1)
    pro_claims: list[str] = Field(min_length=8)
    con_claims: list[str] = Field(min_length=8)
    hashtags: Hashtags
    tones: Tones
    replies: Replies
    reposts: list[str] = Field(min_length=1)

    @field_validator("pro_claims", "con_claims")
    @classmethod
    def _claims(cls, claims: list[str]) -> list[str]:
        out = [_check_text(c).rstrip(".") for c in claims]
        if len(set(out)) != len(out):
            raise ValueError("duplicate claims")
        return out

    @field_validator("reposts")
    @classmethod
    def _reposts(cls, templates: list[str]) -> list[str]:
        return [_check_template(t) for t in templates]


# --------------------------------------------------------------------------- loading


def builtin_packs() -> dict[str, Path]:
    """The packs shipped with townsquare: ``{name: path}``, sorted by name."""
    return {p.stem: p for p in sorted(PACKS_DIR.glob("*.yaml"))}


def load_pack(name_or_path: str | Path) -> TopicPack:
    """Load and validate a topic pack, by builtin name (``"climate"``) or by file path.

    Raises ``ValueError`` naming the file and the offending field on bad input.
    """
    path = Path(name_or_path)
    if not path.is_file():
        packs = builtin_packs()
        if str(name_or_path) in packs:
            path = packs[str(name_or_path)]
        else:
            raise ValueError(
                f"no topic pack {str(name_or_path)!r}: not a file and not a builtin pack "
                f"(builtin: {', '.join(packs) or 'none'})"
            )
    return _load_path(path.resolve())


@lru_cache(maxsize=64)
def _load_path(path: Path) -> TopicPack:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read topic pack: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a topic pack must be a YAML mapping, got {type(data).__name__}")
    try:
        return TopicPack.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ValueError(f"{path}: invalid topic pack: {problems}") from None


@lru_cache(maxsize=1)
def _default_packs() -> tuple[TopicPack, ...]:
    return tuple(load_pack(p) for p in builtin_packs().values())


# --------------------------------------------------------------------------- generation

# Phrasing that doesn't depend on the pack: hedges for weak stances, emphasis for strong ones,
# and balanced templates for undecided ones ({a} and {b} are a pro and a con claim, in random
# order).
_HEDGES = (
    "I think {c}",
    "maybe {c}",
    "I could be wrong, but {c}",
    "it seems to me that {c}",
    "I'm starting to think {c}",
    "probably {c}",
)
_EMPHASIS = (" Period.", " No excuses.", " This matters.", " Share this.", " Simple as that.")
_BALANCED_POSTS = (
    "Honestly torn on this. {a}, but {b}.",
    "Some say {a}. Others say {b}. Not sure who's right.",
    "I can see both sides: {a}, and yet {b}.",
    "Still undecided. On one hand {a}; on the other, {b}.",
    "Is it true that {a}? Or that {b}? Genuinely asking.",
)
_BALANCED_REPLIES = (
    "Fair point, but {b} too.",
    "I see where you're coming from, though {a}. Then again, {b}.",
    "Maybe. {a}, but {b}.",
    "Not so sure either way. {a}, yet {b}.",
)
_BALANCED_REPOSTS = (
    "Sharing for discussion: {a}, but {b}?",
    "Interesting read. {a}, though {b}.",
    "Putting this out there. {a}. Then again, {b}.",
)

# tone weights (in TONES order) at the weakest and the strongest decided stance
_TONE_WEAK = np.array([0.45, 0.0, 0.10, 0.05, 0.40])
_TONE_STRONG = np.array([0.10, 0.35, 0.30, 0.20, 0.05])

_SENTENCE_START = re.compile(r"(^|[.!?]\s+)([a-z])")


def _sentence_case(text: str) -> str:
    return _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


class OfflineGenerator:
    """Template text for posts (kind 0), reposts (1) and replies (2).

    Simulator topic ``t`` maps to ``packs[t % len(packs)]``; by default the packs are all the
    builtin ones, sorted by name.
    """

    def __init__(self, packs: list[TopicPack | str | Path] | None = None, seed: int = 0) -> None:
        if packs is None:
            resolved = list(_default_packs())
        else:
            resolved = [p if isinstance(p, TopicPack) else load_pack(p) for p in packs]
        if not resolved:
            raise ValueError("OfflineGenerator needs at least one topic pack")
        if int(seed) < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.packs: list[TopicPack] = resolved
        self.seed = int(seed)

    def pack_for(self, topic_index: int) -> TopicPack:
        return self.packs[int(topic_index) % len(self.packs)]

    def claims_for(self, topic_index: int) -> tuple[list[str], list[str]]:
        """``(pro_claims, con_claims)`` of the pack that simulator topic ``topic_index`` uses."""
        pack = self.pack_for(topic_index)
        return list(pack.pro_claims), list(pack.con_claims)

    # ------------------------------------------------------------------ batch API

    def generate(
        self,
        stances: np.ndarray,
        topics: np.ndarray,
        kinds: np.ndarray,
        tones: list[str | None] | None = None,
        keys: np.ndarray | None = None,
        parent_stances: np.ndarray | None = None,
    ) -> list[str]:
        """One text per item.

        ``stances`` in [-1, 1]; ``kinds`` 0 post, 1 repost, 2 reply. ``tones`` optionally forces
        a tone per item (``None`` entries: chosen from the stance's intensity); tones shape
        posts only. ``keys`` (e.g. post ids, non-negative ints) seed each item's RNG; without
        them the batch position is the key, so text then depends on batch composition.
        For replies, ``parent_stances`` decides agree (same sign as the parent) or disagree;
        without it a reply agrees when its own stance is >= 0 and disagrees otherwise.
        """
        stances = np.asarray(stances, dtype=np.float64).reshape(-1)
        n = stances.shape[0]
        topics = self._int_array(topics, n, "topics")
        kinds = self._int_array(kinds, n, "kinds")
        if np.any((kinds < KIND_POST) | (kinds > KIND_REPLY)):
            raise ValueError("kinds must be 0 (post), 1 (repost) or 2 (reply)")
        if not np.all(np.isfinite(stances)):
            raise ValueError("stances must be finite")
        stances = np.clip(stances, -1.0, 1.0)
        keys = np.arange(n, dtype=np.int64) if keys is None else self._int_array(keys, n, "keys")
        if np.any(keys < 0):
            raise ValueError("keys must be non-negative")
        if tones is None:
            tones = [None] * n
        elif len(tones) != n:
            raise ValueError(f"tones has {len(tones)} entries, expected {n}")
        bad = {t for t in tones if t is not None and t not in TONES}
        if bad:
            raise ValueError(f"unknown tone(s) {sorted(bad)}; expected one of {TONES}")
        if parent_stances is None:
            agree = stances >= 0
        else:
            parent = np.asarray(parent_stances, dtype=np.float64).reshape(-1)
            if parent.shape[0] != n:
                raise ValueError(f"parent_stances has {parent.shape[0]} entries, expected {n}")
            agree = (stances >= 0) == (parent >= 0)

        return [
            self._one(
                float(stances[i]),
                int(topics[i]),
                int(kinds[i]),
                tones[i],
                int(keys[i]),
                bool(agree[i]),
            )
            for i in range(n)
        ]

    @staticmethod
    def _int_array(values, n: int, name: str) -> np.ndarray:
        arr = np.asarray(values)
        if arr.ndim == 0:
            arr = np.full(n, arr)
        arr = arr.reshape(-1)
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} entries, expected {n}")
        return arr.astype(np.int64)

    # ------------------------------------------------------------------ one item

    def _one(
        self, stance: float, topic: int, kind: int, tone: str | None, key: int, agree: bool
    ) -> str:
        rng = np.random.default_rng([self.seed, key])
        pack = self.pack_for(topic)
        a = abs(stance)

        if a < NEUTRAL_BAND:
            pro, con = _pick(rng, pack.pro_claims), _pick(rng, pack.con_claims)
            first, second = (pro, con) if rng.random() < 0.5 else (con, pro)
            table = {
                KIND_POST: _BALANCED_POSTS,
                KIND_REPOST: _BALANCED_REPOSTS,
                KIND_REPLY: _BALANCED_REPLIES,
            }[kind]
            text = _pick(rng, table).format(a=first, b=second)
            if rng.random() < 0.15:
                text += " " + _pick(rng, pack.hashtags.neutral)
            return _sentence_case(text)

        side_claims = pack.pro_claims if stance > 0 else pack.con_claims
        side_tags = pack.hashtags.pro if stance > 0 else pack.hashtags.con
        claim = _pick(rng, side_claims)
        if kind == KIND_POST and tone is None:
            x = min(max((a - NEUTRAL_BAND) / (1.0 - NEUTRAL_BAND), 0.0), 1.0)
            w = (1.0 - x) * _TONE_WEAK + x * _TONE_STRONG
            tone = TONES[int(rng.choice(len(TONES), p=w / w.sum()))]
        hedge_p = 0.9 if a < _HEDGE_BELOW else (0.3 if a < 0.6 else 0.0)
        if rng.random() < hedge_p and not (kind == KIND_POST and tone == "angry"):
            claim = _pick(rng, _HEDGES).format(c=claim)

        if kind == KIND_POST:
            template = _pick(rng, getattr(pack.tones, tone))
        elif kind == KIND_REPOST:
            template = _pick(rng, pack.reposts)
        else:
            template = _pick(rng, pack.replies.agree if agree else pack.replies.disagree)

        hashtag = _pick(rng, side_tags) if rng.random() < a else _pick(rng, pack.hashtags.neutral)
        text = template.format(claim=claim, hashtag=hashtag)
        if "{hashtag}" not in template:
            if (
                kind == KIND_POST
                and a >= _STRONG_FROM
                and text.endswith(".")
                and rng.random() < 0.3
            ):
                text += _pick(rng, _EMPHASIS)
            if rng.random() < 0.1 + 0.6 * a:
                text += " " + hashtag
        return _sentence_case(text)


def claims_for(
    topic_index: int, packs: list[TopicPack | str | Path] | None = None
) -> tuple[list[str], list[str]]:
    """``(pro_claims, con_claims)`` for simulator topic ``topic_index`` (builtin packs by default)."""
    return OfflineGenerator(packs).claims_for(topic_index)
