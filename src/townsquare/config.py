"""Scenario schema (pydantic), YAML loading, ``--set`` overrides and one-line errors."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import UserError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


Probability = Field(ge=0.0, le=1.0)


class ActivityConfig(_Section):
    """Citizens' probability of opening the app in a step: log-normal, heavy-tailed."""

    mean: float = Field(0.1, gt=0.0, le=1.0, description="mean activity rate")
    sigma: float = Field(
        2.0, ge=0.0, description="log-normal sigma; ~2 gives top 10% ≈ 80% of posts"
    )


class OpinionInitConfig(_Section):
    """How opinions start. ``communities`` centres each graph community on ±separation;
    ``data`` takes the leaning shipped with a real network (polblogs)."""

    distribution: Literal["uniform", "normal", "bimodal", "communities", "data"] = "uniform"
    spread: float = Field(0.3, ge=0.0, description="std of the noise around the centre(s)")
    separation: float = Field(0.5, ge=0.0, le=1.0, description="centres at ±separation")


class PopulationConfig(_Section):
    topics: int = Field(1, ge=1, le=64)
    activity: ActivityConfig = ActivityConfig()
    opinion: OpinionInitConfig = OpinionInitConfig()
    susceptibility: tuple[float, float] = Field(
        (2.0, 2.0), description="Beta(a, b) parameters of citizens' susceptibility"
    )

    @model_validator(mode="after")
    def _positive_beta(self):
        if min(self.susceptibility) <= 0:
            raise ValueError("susceptibility: both Beta parameters must be > 0")
        return self


class CitizenConfig(_Section):
    policy: Literal["scripted"] = "scripted"
    post_prob: float = Field(0.3, ge=0.0, le=1.0)
    like_rate: float = Field(0.4, ge=0.0, le=1.0)
    like_tolerance: float = Field(0.6, gt=0.0)
    repost_rate: float = Field(0.01, ge=0.0, le=1.0)
    reply_rate: float = Field(0.03, ge=0.0, le=1.0)
    follow_rate: float = Field(0.2, ge=0.0, le=1.0)
    follow_tolerance: float = Field(0.3, ge=0.0)
    unfollow_rate: float = Field(0.3, ge=0.0, le=1.0)
    unfollow_threshold: float = Field(1.0, ge=0.0)
    expression_noise: float = Field(0.1, ge=0.0)
    expression: Literal["scripted", "social_rl"] = Field(
        "scripted",
        description="scripted: post one's opinion; social_rl: learn which side to "
        "express from the platform's feedback (ARLOD)",
    )
    rl_alpha: float = Field(0.25, gt=0.0, le=1.0, description="social_rl learning rate")
    rl_eps: float = Field(0.1, ge=0.0, le=1.0, description="social_rl exploration rate")


#: files a role's ``policy`` line may name instead of ``scripted``
CHECKPOINT_SUFFIXES = (".npz", ".json", ".zip")


class InfluencerConfig(CitizenConfig):
    policy: str = Field(
        "scripted",
        description="scripted, or a checkpoint from `townsquare train influencer`: a "
        "Q-table (.npz/.json) or an SB3 zip",
    )
    learning: Literal["frozen", "online"] = Field(
        "frozen", description="online: a Q-table policy keeps learning during the run"
    )
    count: int = Field(10, ge=0)
    activity: float = Field(0.9, ge=0.0, le=1.0)
    placement: Literal["top", "random"] = "top"
    post_prob: float = Field(0.9, ge=0.0, le=1.0)
    unfollow_rate: float = Field(0.02, ge=0.0, le=1.0)
    boldness: float = Field(0.6, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _scripted_expression(self):
        if self.expression != "scripted":
            raise ValueError("expression: influencers express scripted stances for now")
        if self.policy != "scripted" and not self.policy.endswith(CHECKPOINT_SUFFIXES):
            raise ValueError(
                f"policy: {self.policy!r} is neither 'scripted' nor a checkpoint file "
                "(a Q-table .npz/.json or an SB3 .zip)"
            )
        return self


class CandidateConfig(_Section):
    policy: Literal["scripted"] = "scripted"
    count: int = Field(2, ge=0)
    positions: list[float] = Field(default_factory=lambda: [-0.5, 0.5])
    activity: float = Field(1.0, ge=0.0, le=1.0)
    placement: Literal["top", "random"] = "top"
    post_prob: float = Field(1.0, ge=0.0, le=1.0)
    attack_rate: float = Field(0.2, ge=0.0, le=1.0)
    like_rate: float = Field(0.2, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _positions(self):
        if self.count and not self.positions:
            raise ValueError("positions: give at least one position for the candidates")
        if any(abs(p) > 1 for p in self.positions):
            raise ValueError("positions: every position must lie in [-1, 1]")
        return self


class SocialbotConfig(_Section):
    policy: Literal["scripted"] = "scripted"
    fraction: float = Field(0.05, ge=0.0, lt=1.0)
    stance: float = Field(0.9, ge=-1.0, le=1.0, description="campaign stance on topic 0")
    activity: float = Field(0.8, ge=0.0, le=1.0)
    post_prob: float = Field(0.8, ge=0.0, le=1.0)
    repost_rate: float = Field(0.2, ge=0.0, le=1.0)
    like_rate: float = Field(0.6, ge=0.0, le=1.0)
    follows_per_step: int = Field(2, ge=0, le=1000)


class RolesConfig(_Section):
    citizen: CitizenConfig = CitizenConfig()
    influencer: InfluencerConfig = InfluencerConfig()
    candidate: CandidateConfig = CandidateConfig()
    socialbot: SocialbotConfig = SocialbotConfig()


class GraphConfig(_Section):
    """The initial follow graph: a generator, or a real network read from ``path``."""

    kind: Literal["power_law", "two_communities", "random_geometric", "edge_list", "polblogs"] = (
        "power_law"
    )
    mean_degree: float = Field(10.0, gt=0.0, description="mean followees per user")
    attractiveness: float = Field(
        3.0, ge=0.0, description="power_law: tail exponent ≈ 2 + a/mean_degree"
    )
    cross_fraction: float = Field(
        0.1, ge=0.0, le=1.0, description="two_communities: share of cross follows"
    )
    radius: float | None = Field(
        None, gt=0.0, description="random_geometric: link radius (else from mean_degree)"
    )
    path: str | None = Field(None, description="edge_list / polblogs: file or folder to read")
    directed: bool = Field(True, description="edge_list: false makes every edge a mutual follow")

    @model_validator(mode="after")
    def _needs_path(self):
        if self.kind in ("edge_list", "polblogs") and not self.path:
            raise ValueError(f"path: graph kind {self.kind!r} needs a path to read")
        return self


class FeedConfig(_Section):
    ranking: Literal["chronological", "engagement", "personalised"] = "engagement"
    k: int = Field(20, ge=1, le=1000, description="posts per feed")
    window: int = Field(3, ge=1, description="steps a post stays eligible for feeds")
    trending: int = Field(50, ge=0, description="ranked feeds: trending posts offered to everyone")
    half_life: float = Field(1.0, gt=0.0, description="engagement decay half-life in steps")


class OpinionConfig(_Section):
    rule: Literal["bounded_confidence", "hegselmann_krause", "deffuant", "voter"] = Field(
        "bounded_confidence", description="how opinions move after reading the feed"
    )
    epsilon: float = Field(0.4, gt=0.0, le=2.0, description="confidence bound")
    mu: float = Field(0.1, ge=0.0, le=1.0, description="convergence rate")


class ModerationConfig(_Section):
    detector: Literal["activity", "none"] = "activity"
    threshold: float = Field(
        2.5, gt=0.0, description="actions per step (moving average) that count as a strike"
    )
    strikes: int = Field(3, ge=1)
    check_every: int = Field(5, ge=1)
    memory: float = Field(
        0.8, ge=0.0, lt=1.0, description="weight of the past in the moving average"
    )


class RecordConfig(_Section):
    events: Literal["all", "sample", "none"] = "all"
    sample_rate: float = Field(
        0.05, gt=0.0, le=1.0, description="share of users whose events are kept"
    )
    flush_every: int = Field(10, ge=1, description="steps between event flushes and checkpoints")


class TextConfig(_Section):
    """Text of posts. ``none``: stance only (fastest); ``offline``: topic-pack text, no
    model; ``openai``: any OpenAI-compatible chat-completions server; ``transformers``: a
    local causal LM folder (the ``text`` extra)."""

    backend: Literal["none", "offline", "openai", "transformers"] = "none"
    model_path: str | None = Field(None, description="transformers: folder of a local causal LM")
    device: str | None = Field(
        None, description="transformers: cpu or cuda (default: cuda if available)"
    )
    base_url: str | None = Field(None, description="openai: e.g. http://localhost:8000/v1")
    model: str | None = Field(None, description="openai: the served model's name")
    api_key_env: str | None = Field(
        None, description="openai: environment variable holding the API key"
    )
    max_concurrency: int = Field(8, ge=1, le=1024)
    timeout_s: float = Field(60.0, gt=0.0)
    retries: int = Field(3, ge=0, le=20)
    max_tokens: int = Field(80, ge=1, le=4096)
    temperature: float = Field(0.8, ge=0.0, le=2.0)
    cache: str | None = Field(None, description="replay cache file (default RUN_DIR/text_cache.db)")
    packs: list[str] = Field(
        default_factory=list,
        description="topic packs (names or YAML paths); topic t uses pack t mod len; default all built-in",
    )
    template: str = Field(
        "Write one short social-media {kind} (at most 40 words) about {topic} for "
        "{audience}, in a {tone} tone. Your position is {position} ({stance:+.2f} on a "
        "scale from -1, fully against, to +1, fully for).{context} Reply with the {kind} "
        "text only.",
        description="prompt template: {kind} {topic} {audience} {tone} {position} {stance} {context}",
    )

    @model_validator(mode="after")
    def _server(self):
        if self.backend == "openai" and (not self.base_url or not self.model):
            raise ValueError("backend: 'openai' needs base_url and model")
        if self.backend == "transformers" and not self.model_path:
            raise ValueError("backend: 'transformers' needs model_path (a local model folder)")
        from .text.offline import builtin_packs

        known = builtin_packs()
        for pack in self.packs:
            if pack not in known and not Path(pack).is_file():
                raise ValueError(
                    f"packs: {pack!r} is neither a built-in topic pack "
                    f"({', '.join(known)}) nor a file"
                )
        try:
            self.template.format(
                kind="post",
                topic="t",
                position="for",
                stance=0.5,
                context="",
                tone="calm",
                audience="your followers",
            )
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"template: {exc!r} (placeholders: kind, topic, audience, tone, position, stance, context)"
            ) from None
        return self


class Scenario(_Section):
    name: str = "scenario"
    users: int = Field(10_000, ge=1, description="population size (a data graph sets its own)")
    steps: int = Field(100, ge=0)
    seed: int = Field(0, ge=0)
    population: PopulationConfig = PopulationConfig()
    graph: GraphConfig = GraphConfig()
    roles: RolesConfig = RolesConfig()
    feed: FeedConfig = FeedConfig()
    opinion: OpinionConfig = OpinionConfig()
    moderation: ModerationConfig = ModerationConfig()
    record: RecordConfig = RecordConfig()
    text: TextConfig = TextConfig()

    @model_validator(mode="after")
    def _roles_fit(self):
        r = self.roles
        bots = int(round(r.socialbot.fraction * self.users))
        special = r.influencer.count + r.candidate.count + bots
        if special > self.users:
            raise ValueError(
                f"roles: {r.influencer.count} influencers + {r.candidate.count} candidates + "
                f"{bots} socialbots exceed users={self.users}"
            )
        return self

    def resolved_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


# ---------------------------------------------------------------------- loading
def builtin_scenarios() -> dict[str, Path]:
    """Scenarios shipped with townsquare, by name."""
    folder = resources.files("townsquare") / "scenarios"
    out: dict[str, Path] = {}
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name.endswith(".yaml"):
                out[entry.name[:-5]] = Path(str(entry))
    return dict(sorted(out.items()))


def resolve_scenario_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.exists():
        return path
    builtins = builtin_scenarios()
    if name_or_path in builtins:
        return builtins[name_or_path]
    known = ", ".join(builtins) or "none"
    raise UserError(f"{name_or_path}: scenario file not found (built-in scenarios: {known})")


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise UserError(f"{path}:{line}: invalid YAML ({exc.problem})") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: invalid YAML ({exc})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: a scenario must be a mapping of keys to values")
    return data


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b.c=value`` override in place; the value is parsed as YAML."""
    if "=" not in assignment:
        raise UserError(f"--set {assignment}: expected KEY=VALUE, e.g. --set feed.k=30")
    key, raw = assignment.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise UserError(f"--set {assignment}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise UserError(f"--set {key}: {'.'.join(parts[: i + 1])} is a value, not a section")
        node = child
    node[parts[-1]] = value


def _format_error(source: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            problems.append(f"{loc}: unknown key")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        field, sep, rest = msg.partition(": ")
        if loc and sep and field.isidentifier():
            # a section's own check naming one of its fields: report the full dotted key
            problems.append(f"{loc}.{field}: {rest}")
            continue
        if not loc and ":" in msg:
            problems.append(msg)
            continue
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        problems.append(f"{loc or 'scenario'}: {msg}{shown}")
    return f"{source}: " + "; ".join(problems)


def validate(data: dict[str, Any], source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise UserError(_format_error(source, exc)) from None


def load_scenario(name_or_path: str, overrides: list[str] | None = None) -> Scenario:
    """Read a scenario file (or built-in name), apply ``--set`` overrides, validate."""
    path = resolve_scenario_path(name_or_path)
    data = read_yaml(path)
    for assignment in overrides or []:
        apply_override(data, assignment)
    return validate(data, str(path))
