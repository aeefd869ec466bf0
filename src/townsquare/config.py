"""Scenario schema (pydantic), YAML loading, ``--set`` overrides and one-line errors."""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import UserError


class _Section(BaseModel):
    # allow_inf_nan=False: NaN or inf in any float key (``.nan``, ``.inf`` in YAML) would
    # poison every opinion and rate it touches, so non-finite numbers are refused everywhere.
    # strict=True: YAML already types its values, so ``users: true`` (bool) or
    # ``users: "10"`` (str) or ``users: 2.5`` are mistakes, not numbers to coerce. Nested
    # sections still take mappings; tuple keys opt back into lists (YAML has no tuples).
    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, allow_inf_nan=False, strict=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _integral_floats(cls, value: Any, info) -> Any:
        """``1e6`` or ``600.0`` is a whole number and may stand for an integer key; 2.5
        may not (strict mode would refuse both)."""
        if (
            type(value) is float
            and value.is_integer()
            and cls.model_fields[info.field_name].annotation is int
        ):
            return int(value)
        return value


#: a float that refuses bools and strings even inside a non-strict container (tuples)
StrictFloat = Annotated[float, Strict()]

#: largest user count, step count or per-user count: user ids, post authors and post steps
#: are int32 arrays in the follow graph and the post store
INT32_MAX = 2**31 - 1


Probability = Field(ge=0.0, le=1.0)


class ActivityConfig(_Section):
    """Citizens' probability of opening the app in a step: log-normal, heavy-tailed."""

    mean: float = Field(0.1, gt=0.0, le=1.0, description="mean activity rate")
    sigma: float = Field(
        2.0,
        ge=0.0,
        # at 10 the top 1% of users already hold all the activity, even among 10^6 users
        # (the most active one alone about half of it): a larger sigma describes no other
        # platform, and exp(sigma * z) overflows a float from sigma ≈ 100 on
        le=10.0,
        description="log-normal sigma; ~2 gives top 10% ≈ 80% of posts; at most 10, where "
        "the top 1% of users already hold all the activity",
    )
    daily_share: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="share of citizens who open the app every step to read: each citizen's "
        "visit rate is its activity times one factor, chosen so that this share reach one "
        "visit a step (capped at 1); it posts only in the sessions its activity gives, so "
        "posting does not change. 0: visits are the activity. 0.46 is Pew Research Center, "
        "'Social Media Use in 2021': 46% of Twitter's users visit it daily",
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
    susceptibility: tuple[StrictFloat, StrictFloat] = Field(
        (2.0, 2.0),
        # strict=False only so a YAML list becomes the tuple; the items stay strict floats
        strict=False,
        description="Beta(a, b) parameters of citizens' susceptibility",
    )

    @model_validator(mode="after")
    def _positive_beta(self):
        if min(self.susceptibility) <= 0:
            raise ValueError("susceptibility: both Beta parameters must be > 0")
        return self


class CitizenConfig(_Section):
    policy: str = Field(
        "scripted",
        description="scripted, or a checkpoint from `townsquare train citizen`: a Q-table "
        "(.npz/.json) or a PPO .safetensors (`townsquare.policies.registry`)",
    )
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
    # The platform's further actions (docs/platform.md). No published rate per shown post
    # was found for any of them, so the scripted baseline leaves them at 0 (its runs are
    # what they were); set one to study the action.
    quote_rate: float = Field(
        0.0, ge=0.0, le=1.0,
        description="chance to quote a shown post, scaled as a reply (0.25 + gap / 2)",
    )  # fmt: skip
    dislike_rate: float = Field(
        0.0, ge=0.0, le=1.0,
        description="chance to dislike a shown post, scaled up with disagreement (a platform "
        "with actions.dislike)",
    )  # fmt: skip
    mention_rate: float = Field(
        0.0, ge=0.0, le=1.0,
        description="chance that a post mentions the author of an agreeable shown post",
    )  # fmt: skip
    mute_rate: float = Field(
        0.0, ge=0.0, le=1.0,
        description="chance to mute the author of a shown post beyond unfollow_threshold",
    )  # fmt: skip
    report_rate: float = Field(
        0.0, ge=0.0, le=1.0,
        description="chance to report a shown post beyond unfollow_threshold",
    )  # fmt: skip
    search_rate: float = Field(
        0.0, ge=0.0, le=1.0,
        description="chance to search the topic of one's strongest opinion",
    )  # fmt: skip
    expression: Literal["scripted", "social_rl"] = Field(
        "scripted",
        description="scripted: post one's opinion; social_rl: learn which side to "
        "express from the platform's feedback (ARLOD)",
    )
    rl_alpha: float = Field(0.25, gt=0.0, le=1.0, description="social_rl learning rate")
    rl_eps: float = Field(0.1, ge=0.0, le=1.0, description="social_rl exploration rate")
    learning: Literal["frozen", "online"] = Field(
        "frozen", description="online: a Q-table policy keeps learning during the run"
    )
    # the learning population (docs/population.md, policies/learning_population.py)
    posting: Literal["scripted", "learned"] = Field(
        "scripted",
        description="scripted: post with post_prob when active; learned: post at the rate "
        "the reward one expects a post to earn makes optimal, learned once per post (Niv "
        "et al. 2007; Lindström et al. 2021; Turner et al. 2025)",
    )
    # learned posting's three rates: each user's drawn from the hybrid RL-habit model
    # fitted to 1,558 Twitter users (Turner et al. 2025, source data of Fig. 4), or the
    # keys' values, their medians, for everyone (docs/population.md)
    posting_rates: Literal["fitted", "shared"] = Field(
        "fitted",
        description="learned posting: fitted: each user's posting_alpha, posting_habit and "
        "posting_habit_alpha drawn from their distribution over Twitter users (Turner et "
        "al. 2025); shared: every user the three keys' values",
    )
    posting_alpha: float = Field(
        0.032,
        gt=0.0,
        le=1.0,
        description="learned posting: learning rate of the reward expected per post",
    )
    posting_habit: float = Field(
        0.944,
        ge=0.0,
        le=1.0,
        description="learned posting: weight of the habit (one's own past latencies) "
        "against the reward in the latency to the next post; 0: reward alone",
    )
    posting_habit_alpha: float = Field(
        0.136,
        gt=0.0,
        le=1.0,
        description="learned posting: learning rate of the habit, once per post",
    )
    posting_prior: float = Field(
        1.0,
        gt=0.0,
        # no account earns a million likes and replies per post on a simulated platform
        le=1e6,
        description="learned posting: reward (likes + replies) a user expects per post "
        "before any feedback",
    )
    following: Literal["scripted", "learned"] = Field(
        "scripted",
        description="scripted: follow and unfollow by stance gap; learned: by the value "
        "each author's posts have had for the reader",
    )
    following_alpha: float = Field(
        0.25, gt=0.0, le=1.0, description="learned following: learning rate of the values"
    )
    lm_template: str | None = Field(
        None,
        description="policy lm:...: the prompt, with the role's observation features as "
        "{placeholders} (default: the role's own, policies/lm.py)",
    )

    @model_validator(mode="after")
    def _one_chooser(self):
        if self.expression == "social_rl" and self.policy != "scripted":
            raise ValueError(
                f"expression: social_rl and the policy {self.policy!r} would both choose "
                "which side to express; use one (expression: scripted with a checkpoint)"
            )
        for key in ("posting", "following"):
            if getattr(self, key) == "learned" and self.policy != "scripted":
                raise ValueError(
                    f"{key}: learned needs policy: scripted (the checkpoint "
                    f"{self.policy!r} acts by its own rules)"
                )
        return self


class InfluencerConfig(CitizenConfig):
    policy: str = Field(
        "scripted",
        description="scripted, or a checkpoint from `townsquare train influencer`: a "
        "Q-table (.npz/.json) or a PPO .safetensors",
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
        return self


class CandidateConfig(_Section):
    # ``lambda`` is a Python keyword: the key is lambda in YAML, lam in Python
    model_config = ConfigDict(
        **_Section.model_config, populate_by_name=True, serialize_by_alias=True
    )

    policy: str = Field(
        "scripted",
        description="scripted, or a checkpoint from `townsquare train candidate` (a "
        "Q-table .npz/.json or a PPO .safetensors), or planner (piKL: docs/elections.md)",
    )
    learning: Literal["frozen", "online"] = Field(
        "frozen", description="online: a Q-table policy keeps learning during the run"
    )
    lm_template: str | None = Field(
        None,
        description="policy lm:...: the prompt, with the role's observation features as "
        "{placeholders} (default: the role's own, policies/lm.py)",
    )
    count: int = Field(2, ge=0)
    positions: list[float] = Field(default_factory=lambda: [-0.5, 0.5])
    activity: float = Field(1.0, ge=0.0, le=1.0)
    placement: Literal["top", "random"] = "top"
    post_prob: float = Field(1.0, ge=0.0, le=1.0)
    attack_rate: float = Field(0.2, ge=0.0, le=1.0)
    like_rate: float = Field(0.2, ge=0.0, le=1.0)

    # piKL planning (policy: planner; policies/planner.py, docs/elections.md)
    lam: float = Field(
        0.01,
        alias="lambda",
        gt=0.0,
        le=1e6,
        description="planner: weight of staying near the anchor, in vote share (pi ~ tau "
        "exp(Q / lambda)); small: the best intent found, large: the anchor",
    )
    horizon: int = Field(10, ge=1, le=10_000, description="planner: steps each rollout looks ahead")
    rollouts: int = Field(
        8, ge=1, le=10_000, description="planner: rollouts per intent (common random numbers)"
    )
    plan_every: int = Field(
        7,
        ge=1,
        le=10_000,
        description="planner: steps between decisions (7: a campaign that sets its plan "
        "once a week, a step being a day; stated reason)",
    )
    planners: int | None = Field(
        None,
        ge=0,
        description="planner: how many candidates plan (the first by user id; the others "
        "act by the scripted rule); none: every candidate",
    )
    writers: int | None = Field(
        None,
        ge=0,
        description="policy lm:...: how many candidates write their posts with the model "
        "(the first by user id; the others post by the scripted rule); none: every one",
    )
    messages: int = Field(
        4,
        ge=1,
        le=64,
        description="planner with a text backend: candidate messages written per post, "
        "filtered (garbled, stance, near-duplicate) before one is posted",
    )
    anchor: str = Field(
        "builtin",
        min_length=1,
        description="planner: the anchor policy tau, a JSON file from `townsquare train "
        "candidate --algo bc`, or builtin (fitted on the election scenario)",
    )

    @model_validator(mode="after")
    def _positions(self):
        if self.count and not self.positions:
            raise ValueError("positions: give at least one position for the candidates")
        if any(abs(p) > 1 for p in self.positions):
            raise ValueError("positions: every position must lie in [-1, 1]")
        return self


class SocialbotConfig(_Section):
    policy: str = Field(
        "scripted",
        description="scripted, or another policy line this role can take "
        "(`townsquare.policies.registry`)",
    )
    lm_template: str | None = Field(
        None,
        description="policy lm:...: the prompt, with the role's observation features as "
        "{placeholders} (default: the role's own, policies/lm.py)",
    )
    fraction: float = Field(0.05, ge=0.0, lt=1.0)
    stance: float = Field(0.9, ge=-1.0, le=1.0, description="campaign stance on topic 0")
    # The activity settings are ratios to the default citizen (population.activity.mean
    # 0.1, citizen post_prob 0.3, repost_rate 0.01, like_rate 0.4); sources and
    # derivations in docs/world.md, "Socialbot activity". None comes from F7's sources.
    activity: float = Field(
        0.11,
        ge=0.0,
        le=1.0,
        description="chance of a session in a step: bots post k = 22/6 times as often as "
        "the mean citizen (0.1 x 0.3 = 0.03 posts a step), 11/3 x 0.03 = 0.11; k from Pew "
        "Research Center, 'Bots in the Twittersphere' (2018): the 500 most active suspected "
        "bots posted 22% of the tweeted links, the 500 most active humans 6%",
    )
    post_prob: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="chance to post the campaign stance in a session: 1, a bot's scheduled "
        "run is there to post (stated reason; the posting rate is set by activity)",
    )
    repost_rate: float = Field(
        0.033,
        ge=0.0,
        le=1.0,
        description="chance to repost an aligned feed item in a session: k times the "
        "citizen's reposts a day, 0.01 x (22/6) x 0.1 / 0.11 = 0.033 (Gilani et al., "
        "ASONAM 2017: bots 'retweet far more' than humans, no readable factor)",
    )
    like_rate: float = Field(
        0.36,
        ge=0.0,
        le=1.0,
        description="chance to like an aligned feed item in a session: as many likes a day "
        "as the mean citizen, 0.4 x 0.1 / 0.11 = 0.36 (Gilani et al. 2017: bots like less "
        "than humans, no readable factor; equality is the most the source allows)",
    )
    follows_per_step: int = Field(
        1,
        ge=0,
        # Twitter's daily follow limit since April 2019 ("we are reducing the daily follow
        # rate limit from 1,000 to 400"), a step being a day (moderation.step_days = 1)
        le=400,
        description="random accounts followed per session (follow spam): 1, the least the "
        "rule can do without turning it off (no readable source gives bots' follows a day); "
        "at most 400, Twitter's daily follow limit",
    )


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
        None,
        gt=0.0,
        # the unit square's diagonal: any larger radius links every pair, as √2 does
        le=math.sqrt(2.0),
        description="random_geometric: link radius (else from mean_degree); at most √2, "
        "the diagonal of the unit square the users are placed in",
    )
    path: str | None = Field(None, description="edge_list / polblogs: file or folder to read")
    directed: bool = Field(True, description="edge_list: false makes every edge a mutual follow")

    @model_validator(mode="after")
    def _needs_path(self):
        if self.kind in ("edge_list", "polblogs") and not self.path:
            raise ValueError(f"path: graph kind {self.kind!r} needs a path to read")
        return self


#: the content recommenders (townsquare.world.recommenders.NAMES; a test keeps the two equal)
RANKINGS = Literal[
    "chronological",
    "reverse_chronological",
    "popularity",
    "followers_popularity",
    "comments",
    "engagement",
    "personalised",
    "common_interests",
    "collaborative",
    "embedding",
    "hot",
    "random",
]


class FeedExperimentConfig(_Section):
    """A feed experiment in the platform (docs/platform.md, "A feed experiment"): a random
    share of citizens read another ranking from step ``start`` on, as Guess et al.,
    Science 381:398 (2023) moved consenting users to a chronological feed."""

    share: float = Field(
        0.0, ge=0.0, le=1.0, description="share of citizens treated (0: no experiment)"
    )
    ranking: RANKINGS = Field("chronological", description="the treated citizens' ranking")
    start: int = Field(0, ge=0, description="the first step the treated read it")


class FeedConfig(_Section):
    ranking: RANKINGS = Field(
        "engagement", description="the content recommender (docs/platform.md)"
    )
    k: int = Field(20, ge=1, le=1000, description="posts per feed")
    window: int = Field(3, ge=1, description="steps a post stays eligible for feeds")
    trending: int = Field(
        50,
        ge=0,
        # every reader scans every trending post, and the feed kernel keeps its index in
        # 16 bits of a candidate record (world/feed.py)
        le=65_534,
        description="ranked feeds: trending posts offered to everyone",
    )
    half_life: float = Field(1.0, gt=0.0, description="engagement decay half-life in steps")
    out_of_network: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="ranked feeds: the most of a feed's k slots that posts from accounts "
        "the reader does not follow (trending) may take, more only where the reader's own "
        "network leaves slots empty; 0.5 from Twitter Engineering, 'Twitter's "
        "Recommendation Algorithm' (31 March 2023): the For You timeline is 50% in-network "
        "and 50% out-of-network tweets on average; 1: trending competes for every slot",
    )
    experiment: FeedExperimentConfig = FeedExperimentConfig()


class ActionsConfig(_Section):
    """The optional actions the platform offers (docs/platform.md); the six of every
    platform (post, like, repost, reply, follow, unfollow) are always there. A policy
    that takes an action the platform does not offer is an error naming it."""

    dislike: bool = Field(
        False,
        description="a down-vote: Twitter/X, whose feed the defaults model, has none; "
        "Reddit and OASIS's Reddit actions have (a dislikes count per post, read by hot)",
    )
    quote: bool = Field(True, description="share a post with a stance of one's own")
    mention: bool = Field(
        True, description="a post addressed to an account, pinned at the top of its feed"
    )
    mute: bool = Field(True, description="mute and unmute accounts: a muted one is never shown")
    report: bool = Field(True, description="report posts to moderation (the detector)")
    search: bool = Field(True, description="pull posts on a topic into one's next feed")
    search_results: int = Field(
        10,
        ge=1,
        le=1000,
        description="the most posts a search pins: Y Social's /search returns 10",
    )


class WhoToFollowConfig(_Section):
    """Follow recommenders: accounts suggested to readers about to follow someone
    (world/who_to_follow/, docs/platform.md). Off by default."""

    recommender: Literal[
        "none", "jaccard", "adamic_adar", "preferential_attachment", "random_walk", "random"
    ] = Field(
        "none",
        description="the follow recommender; none: readers follow only authors in their feeds",
    )
    count: int = Field(
        3,
        ge=1,
        le=100,
        description="accounts suggested at once: the 'Who to follow' box on Twitter's home "
        "page shows three",
    )
    walks: int = Field(
        10,
        ge=1,
        le=10_000,
        description="random_walk: walks from each reader; 10 walks of 1 / restart = 6.7 "
        "steps on average visit about 67 accounts, enough to rank a top three (more: "
        "steadier suggestions, proportionally slower)",
    )
    restart: float = Field(
        0.15,
        gt=0.0,
        le=1.0,
        description="random_walk: the chance to return to the reader after each step: "
        "1 - 0.85, PageRank's damping factor (Brin & Page 1998)",
    )


class OpinionConfig(_Section):
    rule: Literal["bounded_confidence", "hegselmann_krause", "deffuant", "voter"] = Field(
        "bounded_confidence", description="how opinions move after reading the feed"
    )
    epsilon: float = Field(0.4, gt=0.0, le=2.0, description="confidence bound")
    mu: float = Field(0.1, ge=0.0, le=1.0, description="convergence rate")


class ModerationConfig(_Section):
    detector: Literal["activity", "learned", "none"] = Field(
        "activity",
        description="activity: the rate rule; learned: a classifier of each account's "
        "activity mix (roles/detector.py, docs/socialbots.md), the file in model; none",
    )
    model: str = Field(
        "builtin",
        min_length=1,
        description="detector learned: a file from townsquare train detector, or builtin",
    )
    threshold: float = Field(
        2.5, gt=0.0, description="actions per step (moving average) that count as a strike"
    )
    strikes: int = Field(3, ge=1)
    check_every: int = Field(5, ge=1)
    memory: float = Field(
        0.8, ge=0.0, lt=1.0, description="weight of the past in the moving average"
    )
    # A flagged account is suspended at each check with probability
    # 1 - survival ** (check_every * step_days / survival_days) (docs/world.md).
    survival: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="share of flagged accounts still active after survival_days: 0.8 from "
        "Hindman & Barash (Knight Foundation, Oct 2018), 'More than 80 percent of accounts "
        "that repeatedly spread misinformation during the 2016 election campaign are still "
        "active'; 0 suspends every flagged account at once",
    )
    survival_days: float = Field(
        730.0,
        gt=0.0,
        le=36500.0,
        description="days over which the share survival stays active (2016 campaign to "
        "the October 2018 report: about two years)",
    )
    step_days: float = Field(
        1.0,
        gt=0.0,
        le=365.0,
        description="days one step stands for, to turn survival into a chance per check",
    )
    report_threshold: int = Field(
        2,
        ge=1,
        description="reports against an account's posts between two checks that strike it "
        "whatever its activity: 2, OASIS's report_threshold",
    )


class ElectionConfig(_Section):
    """Polls and election days (world/election.py, docs/elections.md). No days and no
    polls (the default): the platform holds no election."""

    days: list[int] = Field(
        default_factory=list,
        description="steps at whose end the election is held (each in [0, steps - 1])",
    )
    poll_every: int = Field(
        0, ge=0, description="a poll at the end of every poll_every-th step; 0: no polls"
    )
    panel: int = Field(
        1000,
        ge=1,
        le=INT32_MAX,
        description="citizens a poll asks, drawn at random without replacement; 1,000, the "
        "usual size of a national opinion poll (a 3-point margin of error)",
    )
    turnout: float = Field(
        0.6,
        gt=0.0,
        lt=1.0,
        description="chance to vote of a citizen at a candidate's position who visits as "
        "often as the median citizen: 0.6, the US turnout of eligible voters in the 2016 "
        "and 2020 presidential elections (60.1%, 66.6%: United States Elections Project)",
    )
    alienation: float = Field(
        1.0,
        ge=0.0,
        le=100.0,
        description="fall of the log-odds of voting per unit of distance to the nearest "
        "candidate (abstention from alienation: Adams, Dow & Merrill 2006); 1: a voter "
        "half the scale away votes with e^-1 = 0.37 times the odds (stated reason: no "
        "source gives the slope on this scale)",
    )
    engagement: float = Field(
        0.5,
        ge=0.0,
        le=100.0,
        description="rise of the log-odds of voting per e-fold of visits above the median "
        "citizen's; 0.5: a citizen on the platform e times as often votes with 1.65 times "
        "the odds (stated reason: no source gives the slope on this scale)",
    )

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        if any(d < 0 for d in days):
            raise ValueError("an election day is a step, 0 or later")
        if len(set(days)) != len(days):
            raise ValueError("an election day is given twice")
        return sorted(days)

    @property
    def held(self) -> bool:
        return bool(self.days) or self.poll_every > 0


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
    stance_from_text: bool = Field(
        False,
        description="read the stance of each new post and reply from its words (a stance "
        "reader), so that what is written, not what was meant, moves likes, follows, "
        "opinions and votes",
    )
    stance_reader: Literal["embedding", "pack", "lexicon"] = Field(
        "embedding",
        description="stance_from_text: embedding (a sentence-embedding model compared with "
        "the topic's claims; the text extra), pack (the claims and hashtags of the topic "
        "packs quoted in the text; no model, for offline text) or lexicon (the words only "
        "one side's claims use; no model)",
    )
    template: str = Field(
        "Write one short social-media {kind} (at most 40 words) about {topic} for "
        "{audience}, in a {tone} tone. Your position is {position} ({stance:+.2f} on a "
        "scale from -1, fully against, to +1, fully for).{context} Reply with the {kind} "
        "text only.",
        description="prompt template: {kind} {topic} {audience} {tone} {position} {stance} {context}",
    )

    @model_validator(mode="after")
    def _stance_needs_text(self):
        if self.stance_from_text and self.backend == "none":
            raise ValueError("stance_from_text: needs a text backend (backend is none)")
        return self

    @model_validator(mode="after")
    def _server(self):
        if self.backend == "openai" and (not self.base_url or not self.model):
            raise ValueError("backend: 'openai' needs base_url and model")
        if self.backend == "transformers" and not self.model_path:
            raise ValueError("backend: 'transformers' needs model_path (a local model folder)")
        if self.cache is not None:
            problem = _not_a_cache(self.cache)
            if problem:
                raise ValueError(f"cache: {_clipped(self.cache, 240)}: {problem}")
        from .text.offline import builtin_packs

        known = builtin_packs()
        for pack in self.packs:
            if pack not in known and not _is_file(pack):
                raise ValueError(
                    f"packs: {_clipped(pack)} is neither a built-in topic pack "
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
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
            # e.g. {nope}, {0}, {stance:d}, {kind.x}, {stance[0]}
            raise ValueError(
                f"template: {exc!r} (placeholders: kind, topic, audience, tone, position, stance, context)"
            ) from None
        return self


#: a scenario name is part of the run directory's name (runs/NAME-sSEED-TIMESTAMP), so it
#: may not hold path separators, '..' or a leading dot, nor be longer than a file name needs
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")

#: graph kinds made by a generator from ``users`` and ``mean_degree`` (the others read files)
GENERATED_GRAPHS = ("power_law", "two_communities", "random_geometric")


#: the first bytes of every SQLite 3 database file
SQLITE_HEADER = b"SQLite format 3\x00"


def _not_a_cache(path: str) -> str | None:
    """Why ``path`` cannot be a replay cache (a folder, an existing file that is not
    SQLite), checked before a run folder is made; None if it can (or is not there yet).
    `CompletionCache` checks the tables when it opens the file."""
    try:
        where = Path(path)
        if where.is_dir():
            return "a folder, not a replay cache file"
        if not where.exists():
            return None
        if not where.is_file():
            return "not a regular file"
        with where.open("rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except (OSError, ValueError):  # unreadable, a name too long, a NUL byte: opening says
        return None
    if head and head != SQLITE_HEADER:
        return "not a SQLite file, so not a replay cache"
    return None


def _is_file(path: str) -> bool:
    try:
        return Path(path).is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


class InterviewConfig(_Section):
    """A researcher's question to one user at the end of one step (docs/platform.md,
    "Interviews"): its answer is recorded in the ``interviews`` table and changes
    nothing in the run."""

    step: int = Field(ge=0, description="the step at whose end the user is asked")
    user: int = Field(ge=0, description="the user's id")
    question: str = Field(min_length=1, max_length=2000, description="what is asked")
    topic: int = Field(0, ge=0, description="the topic the question is about")


class Scenario(_Section):
    name: str = Field(
        "scenario",
        description="label of runs and run directories: 1-64 letters, digits, '_', '-' or "
        "'.', not starting with '.' (it becomes part of a path)",
    )
    users: int = Field(
        10_000,
        ge=1,
        # user ids are int32 in the follow graph and the post store
        le=INT32_MAX,
        description="population size (a data graph sets its own)",
    )
    # post steps are int32 in the post store
    steps: int = Field(100, ge=0, le=INT32_MAX)
    # numpy's SeedSequence takes any size, but seeds are written to JSON and DuckDB as int64
    seed: int = Field(0, ge=0, le=2**63 - 1)
    population: PopulationConfig = PopulationConfig()
    graph: GraphConfig = GraphConfig()
    roles: RolesConfig = RolesConfig()
    feed: FeedConfig = FeedConfig()
    who_to_follow: WhoToFollowConfig = WhoToFollowConfig()
    actions: ActionsConfig = ActionsConfig()
    opinion: OpinionConfig = OpinionConfig()
    moderation: ModerationConfig = ModerationConfig()
    record: RecordConfig = RecordConfig()
    text: TextConfig = TextConfig()
    election: ElectionConfig = ElectionConfig()
    interviews: list[InterviewConfig] = Field(
        default_factory=list, description="questions to users during the run"
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(
                "must be 1-64 letters, digits, '_', '-' or '.', not starting with '.' "
                "(it names the run directory runs/NAME-sSEED-TIMESTAMP)"
            )
        return name

    @model_validator(mode="after")
    def _graph_fits(self):
        g = self.graph
        uses_degree = g.kind in GENERATED_GRAPHS and not (
            g.kind == "random_geometric" and g.radius is not None
        )
        if uses_degree and g.mean_degree > self.users - 1:
            # nobody can follow more than everyone else: the generators would silently
            # cap it (power_law) or draw the same follows again and again (two_communities)
            raise ValueError(
                f"graph.mean_degree: {g.mean_degree:g} is more than users - 1 = "
                f"{self.users - 1} (a user can follow at most everyone else)"
            )
        if self.population.opinion.distribution == "data" and g.kind != "polblogs":
            # only the polblogs reader gives users a leaning to start from
            raise ValueError(
                "population.opinion.distribution: 'data' needs a graph with leanings "
                f"(graph.kind: polblogs), not {g.kind!r}"
            )
        return self

    @model_validator(mode="after")
    def _actions_offered(self):
        # a scripted rate of an action the platform does not offer would fail mid-run
        for role in ("citizen", "influencer"):
            cfg = getattr(self.roles, role)
            for action in ("quote", "dislike", "mention", "mute", "report", "search"):
                if getattr(cfg, f"{action}_rate", 0.0) > 0 and not getattr(self.actions, action):
                    raise ValueError(
                        f"roles.{role}.{action}_rate: {getattr(cfg, f'{action}_rate'):g}, but "
                        f"the platform offers no {action} (actions.{action}: false)"
                    )
        return self

    @model_validator(mode="after")
    def _interviews_fit(self):
        for i, q in enumerate(self.interviews):
            if q.step >= self.steps:
                raise ValueError(
                    f"interviews[{i}].step: {q.step} is not a step of a {self.steps}-step run"
                )
            if q.topic >= self.population.topics:
                raise ValueError(
                    f"interviews[{i}].topic: {q.topic}, but the platform has "
                    f"{self.population.topics} topic(s)"
                )
            # a network read from a file sets its own size: checked when it is built
            if self.graph.kind in GENERATED_GRAPHS and q.user >= self.users:
                raise ValueError(
                    f"interviews[{i}].user: there is no user {q.user} among {self.users} "
                    f"(ids 0 to {self.users - 1})"
                )
        return self

    @model_validator(mode="after")
    def _policy_lines(self):
        # one registry says which policy lines each role takes (policies/registry.py)
        from .policies.registry import ROLE_NAMES, kind_of

        for role in ROLE_NAMES:
            section = getattr(self.roles, role)
            kind_of(role, section.policy)
            if section.lm_template is not None:
                from .policies.registry import check_lm_template

                check_lm_template(role, section.lm_template)
        return self

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

    @model_validator(mode="after")
    def _election_fits(self):
        e = self.election
        late = [d for d in e.days if d >= self.steps]
        if late:
            raise ValueError(
                f"election.days: day {late[0]} is past the last step ({self.steps - 1}; "
                "steps run 0 to steps - 1)"
            )
        if self.roles.candidate.writers is not None and not e.days:
            raise ValueError(
                "roles.candidate.writers: picks the first candidates of a race; give an "
                "election day (election.days)"
            )
        planner = self.roles.candidate.policy == "planner"
        if planner and not e.days:
            raise ValueError(
                "roles.candidate.policy: planner plans for votes; give an election day "
                "(election.days)"
            )
        r = self.roles
        citizens = (
            self.users
            - r.influencer.count
            - r.candidate.count
            - int(round(r.socialbot.fraction * self.users))
        )
        if e.held and citizens <= 0:
            raise ValueError(
                "election: no citizen is left to vote or be polled (users less influencers, "
                "candidates and socialbots is 0)"
            )
        if e.held and self.roles.candidate.count == 0:
            raise ValueError(
                "election: polls and election days need candidates (roles.candidate.count is 0)"
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


def _shown(text: object) -> str:
    """``text`` as it can appear inside a one-line message (control characters escaped)."""
    text = str(text)
    return text if text.isprintable() else repr(text)[1:-1]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def resolve_scenario_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    try:
        if path.exists():
            return path
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        pass
    builtins = builtin_scenarios()
    if name_or_path in builtins:
        return builtins[name_or_path]
    known = ", ".join(builtins) or "none"
    raise UserError(
        f"{_shown(name_or_path)}: scenario file not found (built-in scenarios: {known})"
    )


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping names the same key twice (PyYAML would silently keep the last one)."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of keeping the last value."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<' merges defaults that the mapping's own keys override
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise DuplicateKeyError(
                        None,
                        None,
                        f"duplicate key {key!r} (first on line {first.start_mark.line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 (PyYAML) reads 1e-3 and 1e6 as strings, since its floats need a dot; YAML 1.2
# and every user read them as numbers, and the strict schema would refuse the strings.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def read_yaml(path: Path) -> dict[str, Any]:
    where = _shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{where}: not a UTF-8 text file ({exc.reason})") from None
    except OSError as exc:
        raise UserError(f"{where}: cannot read ({exc.strerror})") from None
    try:
        data = _load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else "?"
        problem = _one_line(exc.problem or exc.context or "syntax error")
        raise UserError(f"{where}:{line}: invalid YAML ({problem})") from None
    except yaml.reader.ReaderError as exc:  # a NUL or other control character
        raise UserError(
            f"{where}: not a text file (character #x{exc.character:04x} at byte {exc.position})"
        ) from None
    except yaml.YAMLError as exc:
        raise UserError(f"{where}: invalid YAML ({_one_line(exc)})") from None
    except RecursionError:
        raise UserError(f"{where}: invalid YAML (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise UserError(f"{where}: invalid YAML ({_one_line(exc)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{where}: a scenario must be a mapping of keys to values")
    return data


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b.c=value`` override in place; the value is parsed as YAML."""
    if "=" not in assignment:
        raise UserError(f"--set {_shown(assignment)}: expected KEY=VALUE, e.g. --set feed.k=30")
    key, raw = assignment.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise UserError(f"--set {_shown(assignment)}: empty key")
    try:
        value = _load_yaml(raw) if raw.strip() else None
    except DuplicateKeyError as exc:
        raise UserError(f"--set {_shown(key)}: {_one_line(exc.problem)}") from None
    except (yaml.YAMLError, RecursionError, ValueError):
        value = raw  # not YAML: the schema then says what it expected
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            section = ".".join(parts[: i + 1])
            raise UserError(f"--set {_shown(key)}: {_shown(section)} is a value, not a section")
        node = child
    node[parts[-1]] = value


def _override_key(assignment: str) -> str:
    return assignment.split("=", 1)[0].strip()


def _source_of(key: str, source: str, overrides: list[str], mentions: str = "") -> str:
    """Where the value that ``key`` (a dotted key, "" for the whole scenario) complains
    about came from: the last ``--set`` of that key, of a section holding it or of a key
    inside it (a section's own check), or of a key that a whole-scenario check's message
    ``mentions`` (``users`` in "... more than users - 1"); else the file ``source``."""
    for assignment in reversed(overrides):
        name = _override_key(assignment)
        if (key and (name == key or key.startswith(name + ".") or name.startswith(key + "."))) or (
            mentions and re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", mentions)
        ):
            return "--set " + _clipped_text(_shown(assignment), 80)
    return _shown(source)


def _clipped_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: a dotted key at the start of a whole-scenario check's message ("graph.mean_degree: ...")
_LEADING_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*): ")


def _format_error(source: str, exc: ValidationError, overrides: list[str] | None = None) -> str:
    """One line: every problem after the place its value came from, ``source`` (the
    scenario file) or ``--set KEY=VALUE`` for a value given on the command line."""
    problems: list[tuple[str, str]] = []  # (dotted key or "", text)
    mentions: dict[int, str] = {}  # problem index -> a whole-scenario check's message
    for err in exc.errors():
        loc = _shown(".".join(str(p) for p in err["loc"]))
        if err["type"] == "extra_forbidden":
            problems.append((loc, f"{loc}: unknown key"))
            continue
        msg = err["msg"].removeprefix("Value error, ")
        field, sep, rest = msg.partition(": ")
        if loc and sep and field.isidentifier():
            # a section's own check naming one of its fields: report the full dotted key
            problems.append((f"{loc}.{field}", f"{loc}.{field}: {rest}"))
            continue
        if not loc and ":" in msg:
            lead = _LEADING_KEY.match(msg)
            mentions[len(problems)] = msg
            problems.append((lead.group(1) if lead else "", msg))
            continue
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {_clipped(got)})"
        problems.append((loc, f"{loc or 'scenario'}: {_one_line(msg)}{shown}"))
    groups: dict[str, list[str]] = {}
    for i, (key, text) in enumerate(problems):
        where = _source_of(key, source, list(overrides or []), mentions.get(i, ""))
        groups.setdefault(where, []).append(text)
    return _one_line("; ".join(f"{where}: " + "; ".join(texts) for where, texts in groups.items()))


def _clipped(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut short: an error line echoes what was given, not a whole file."""
    try:
        text = repr(value)
    except ValueError:  # an int too long for repr (sys.int_info.str_digits_check_threshold)
        text = f"an integer of about {value.bit_length() * 0.30103:.0f} digits"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate(
    data: dict[str, Any], source: str = "scenario", overrides: list[str] | None = None
) -> Scenario:
    """The scenario ``data`` read from ``source`` with ``overrides`` (``--set`` lines)
    applied; errors name ``--set KEY=VALUE`` for values that came from one."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise UserError(_format_error(source, exc, overrides)) from None


def load_scenario(name_or_path: str, overrides: list[str] | None = None) -> Scenario:
    """Read a scenario file (or built-in name), apply ``--set`` overrides, validate."""
    path = resolve_scenario_path(name_or_path)
    data = read_yaml(path)
    for assignment in overrides or []:
        apply_override(data, assignment)
    return validate(data, str(path), list(overrides or []))


def scenario_value(scenario: Scenario, key: str, option: str = "--param"):
    """The value at dotted ``key`` of the scenario; a `UserError` (naming ``option``, the
    command-line option that gave the key) if it is not there."""
    node = scenario.model_dump()
    parts = key.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(parts[:i]) or "the scenario"
            raise UserError(f"{option} {key}: {where} has no key {part!r}")
        node = node[part]
    return node
