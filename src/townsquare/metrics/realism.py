"""The realism scorecard: a run measured against stylized facts of real platforms.

Each fact of REALISM.md (F1-F9) is measured by one or more metrics with a band taken from
the published sources, by one method for the run and for the real networks in
``shared/data`` (`metrics.instrument`), which are shown beside the run as references. The
scorecard measures; it never tunes anything.

Every metric is measured at the end of the run and, where the run kept its first state
(``checkpoints/start.npz``), at step 0. A fact is

* ``emerged`` when all its metrics are inside their bands at the end and the platform
  got them there: it was not already in its band at step 0 and no metric of it reads a
  scenario value back;
* ``configured`` when it is inside its bands but set by the scenario or the input data:
  a metric that reads a setting back (the bots' account share is
  ``roles.socialbot.fraction``), or a fact already in its bands at step 0 (the
  generator's follower tail, leanings read from a file);
* ``missed`` when any of its metrics is outside its band (or cannot be measured).

Only emerged facts count as reproduced. Metrics over a window of activity (posting,
reposts, cascades, the repost network) use the whole run; `course` gives their values
over time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..outputs import replace_text
from ..world.population import Role
from ..world.posts import PostKind
from .inequality import top_share
from .instrument import (
    echo_chamber_facts,
    follower_facts,
    posted_leanings,
    repost_facts,
    repost_network,
)
from .networks import modularity, random_walk_controversy
from .polarisation import bimodality_coefficient, esteban_ray
from .snapshot import RunSnapshot

POST = 0
POLARISED_BC = 0.6


@dataclass(frozen=True)
class Band:
    fact: str  # F1..F9
    metric: str
    low: float
    high: float
    real: str  # the published value, as the source states it
    source: str

    def contains(self, value: float) -> bool | None:
        if value is None or not np.isfinite(value):
            return None
        return self.low <= value <= self.high


FACTS: dict[str, str] = {
    "F1": "posting is concentrated",
    "F2": "followers are heavy-tailed",
    "F3": "influence is concentrated",
    "F4": "most posts are never shared",
    "F5": "echo chambers",
    "F6": "conversations split in two",
    "F7": "bots are a minority that talks a lot",
    "F8": "falsehood travels further",
    "F9": "polarisation is metastable",
}

BANDS: tuple[Band, ...] = (
    Band(
        "F1",
        "posting_top10_share",
        0.70,
        0.90,
        "top 10% write ~80% of posts",
        "Pew Research, Sizing up Twitter users, 2019",
    ),
    Band(
        "F2",
        "follower_tail_alpha",
        2.0,
        2.6,
        "in-degree power-law exponent ~2.3",
        "Kwak et al., WWW 2010",
    ),
    Band(
        "F3",
        "repost_degree_gini",
        0.54,
        0.76,
        "Gini 0.54-0.76 of weighted retweet degree",
        "Garimella et al., ACM TSC 2018",
    ),
    Band(
        "F3",
        "repost_degree_top1_share",
        0.24,
        0.51,
        "top 1% hold 24-51%",
        "Garimella et al., ACM TSC 2018",
    ),
    Band(
        "F4",
        "never_reposted_share",
        0.90,
        0.99,
        "~95% of posts get no repost",
        "Goel, Watts & Goldstein, EC 2012",
    ),
    Band(
        "F4",
        "cascade_100_plus_share",
        0.0,
        0.001,
        "cascades of 100+ ~0.025%",
        "Goel et al., Management Science 2016",
    ),
    Band(
        "F5",
        "neighbour_leaning_correlation",
        0.80,
        0.95,
        "leaning vs mean neighbour leaning ~0.9",
        "polblogs; Tien et al., Appl Netw Sci 2020",
    ),
    Band(
        "F5",
        "leaning_assortativity",
        0.70,
        0.90,
        "leaning assortativity ~0.8",
        "polblogs; Cinelli et al., PNAS 2021",
    ),
    Band(
        "F6",
        "camp_modularity",
        0.40,
        0.49,
        "modularity of the 2-way split 0.40-0.49",
        "Garimella et al., ACM TSC 2018",
    ),
    Band("F7", "bot_account_share", 0.09, 0.15, "9-15% of accounts", "Varol et al., ICWSM 2017"),
    Band(
        "F7",
        "bot_post_share",
        0.15,
        0.25,
        "~20% of political posts",
        "Bessi & Ferrara, First Monday 2016",
    ),
    # BC is exactly 5/9 for a uniform distribution, so two camps must clear it by a margin
    Band(
        "F9",
        "final_bimodality",
        POLARISED_BC,
        1.0,
        "two camps (BC well above 5/9) that last",
        "Meylahn & Meylahn 2024; Sarle's BC",
    ),
    Band(
        "F9",
        "polarised_share_second_half",
        0.9,
        1.0,
        "polarised states are long-lived",
        "Meylahn & Meylahn 2024",
    ),
)

# measured and shown, without a band of their own
INFORMATIONAL = (
    "follower_tail_xmin",
    "follower_gini",
    "follower_top1_share",
    "esteban_ray",
    "random_walk_controversy",
    "cascade_max",
    "bimodality_start",
    "repost_network_nodes",
    "leaning_camp_modularity",
    "posted_leaning_correlation",
    "posted_leaning_assortativity",
    "posted_leaning_users",
)

#: metrics that read a scenario value back rather than measure what the platform did
CONFIGURED = {"bot_account_share": "roles.socialbot.fraction"}
STATUSES = ("emerged", "configured", "missed")

NOT_MEASURED = {"F8": "posts carry no truth label yet"}


@dataclass
class Row:
    fact: str
    metric: str
    value: float | None
    low: float
    high: float
    real: str
    source: str
    inside: bool | None
    references: dict[str, float] = field(default_factory=dict)
    start: float | None = None  # the value at step 0 (None: not kept or not measurable)
    inside_start: bool | None = None
    configured_by: str | None = None  # the scenario key a configured metric reads back


@dataclass
class Scorecard:
    run: str
    rows: list[Row]
    facts: dict[str, bool | None]  # reproduced (emerged), not, or None when not measured
    informational: dict[str, float]
    status: dict[str, str | None] = field(default_factory=dict)  # emerged/configured/missed

    @property
    def reproduced(self) -> int:
        """Facts that emerged: only those count."""
        return sum(1 for v in self.facts.values() if v)

    @property
    def measured(self) -> int:
        return sum(1 for v in self.facts.values() if v is not None)

    @property
    def inside(self) -> int:
        """Facts inside their bands, emerged or configured."""
        return sum(1 for v in self.status.values() if v in ("emerged", "configured"))

    def to_dict(self) -> dict:
        return {
            "run": self.run,
            "reproduced": self.reproduced,
            "inside": self.inside,
            "measured": self.measured,
            "facts": {
                k: {
                    "name": FACTS[k],
                    "reproduced": v,
                    "status": self.status.get(k),
                    "note": NOT_MEASURED.get(k),
                }
                for k, v in self.facts.items()
            },
            "rows": [asdict(r) for r in self.rows],
            "informational": self.informational,
        }


# ----------------------------------------------------------------------- measuring
def measure(snap: RunSnapshot) -> dict[str, float]:
    """Every scorecard metric of a run's state (its end, or its start): see
    `metrics.instrument` for the method shared with the real networks."""
    n = snap.n
    leaning = snap.leaning
    role = np.asarray(snap.role)
    follow_src, follow_dst = snap.follow_src, snap.follow_dst
    out, net = window_measures(snap)
    out.update(follower_facts(np.bincount(follow_dst, minlength=n)))
    out.update(echo_chamber_facts(follow_src, follow_dst, n, leaning, role != Role.SOCIALBOT))
    out.update(posted_echo_chambers(snap))
    camp = (leaning > 0).astype(np.int64)
    # the leaning camps' modularity in the repost network: what the instrument's own
    # split is compared against (it needs leanings, which real retweet data lacks)
    out["leaning_camp_modularity"] = (
        modularity(net.u, net.v, camp[net.ids], net.n, weight=net.w) if net.n >= 2 else float("nan")
    )
    out["random_walk_controversy"] = random_walk_controversy(follow_src, follow_dst, camp)
    out["bot_account_share"] = float((role == Role.SOCIALBOT).mean())

    citizens = role == Role.CITIZEN
    view = leaning[citizens] if citizens.any() else leaning
    out["final_bimodality"] = bimodality_coefficient(view)
    out["esteban_ray"] = esteban_ray(view)
    bimodality_series = snap.metrics.get("bimodality")
    if bimodality_series is not None and len(bimodality_series):
        series = np.asarray(bimodality_series, np.float64)
        half = series[len(series) // 2 :]
        out["polarised_share_second_half"] = float((half > POLARISED_BC).mean())
        out["bimodality_start"] = float(series[0])
    else:
        out["polarised_share_second_half"] = float("nan")
    return {k: (float(v) if v is not None else float("nan")) for k, v in out.items()}


def posted_echo_chambers(snap: RunSnapshot) -> dict[str, float]:
    """F5 read as real echo-chamber studies read it (informational): only users whose
    leaning shows in what they posted on topic 0 (original posts and reposts), with that
    leaning (`instrument.posted_leanings`), on the follow graph among them."""
    role, kind = np.asarray(snap.role), np.asarray(snap.kind)
    shared = ((kind == PostKind.POST) | (kind == PostKind.REPOST)) & (np.asarray(snap.topic) == 0)
    leaning, count = posted_leanings(snap.author, snap.stance, shared, snap.n)
    holders = (role != Role.SOCIALBOT) & (count > 0)
    facts = echo_chamber_facts(snap.follow_src, snap.follow_dst, snap.n, leaning, holders)
    return {
        "posted_leaning_correlation": facts["neighbour_leaning_correlation"],
        "posted_leaning_assortativity": facts["leaning_assortativity"],
        "posted_leaning_users": float(holders.sum()),
    }


def window_measures(snap: RunSnapshot):
    """The metrics of the activity a run's posts record (posting, cascades, the repost
    network, the bots' posts), and the repost network itself."""
    n = snap.n
    role, author, kind = np.asarray(snap.role), np.asarray(snap.author), np.asarray(snap.kind)
    out: dict[str, float] = {}
    originals = kind == POST
    posts_per_user = np.bincount(author[originals], minlength=n)
    out["posting_top10_share"] = (
        top_share(posts_per_user, 0.10) if originals.any() else float("nan")
    )
    cascades = snap.cascades()  # repost chains followed once for all that uses them
    rs, rd = cascades.edges()
    net = repost_network(rs, rd, n)
    out.update(repost_facts(net))
    post_cascades = cascades.post_sizes()
    none = post_cascades.size == 0
    out["never_reposted_share"] = float("nan") if none else float((post_cascades == 1).mean())
    out["cascade_100_plus_share"] = float("nan") if none else float((post_cascades >= 100).mean())
    out["cascade_max"] = float("nan") if none else float(post_cascades.max())
    bots = role == Role.SOCIALBOT
    out["bot_post_share"] = (
        float(bots[author[originals]].mean()) if originals.any() else float("nan")
    )
    return out, net


def measure_run(run: str | Path | RunSnapshot) -> dict[str, float]:
    """Measure a run directory (or an already loaded `RunSnapshot`) at its end."""
    return measure(run if isinstance(run, RunSnapshot) else RunSnapshot.load(run))


def measure_start(run: str | Path) -> dict[str, float] | None:
    """The same metrics at step 0, from the run's first state; None for a run that did
    not keep it (runs made before townsquare kept ``checkpoints/start.npz``)."""
    start = RunSnapshot.load_start(run)
    return None if start is None else measure(start)


#: how many points `course` measures a run's window metrics at
COURSE_POINTS = 10
#: the window metrics, whose course over a run `course` follows
WINDOW_METRICS = (
    "posting_top10_share",
    "never_reposted_share",
    "repost_degree_gini",
    "repost_degree_top1_share",
    "camp_modularity",
    "bot_post_share",
)


def course(snap: RunSnapshot, points: int = COURSE_POINTS) -> dict[str, list[float]]:
    """The window metrics measured on the posts written up to each of ``points`` steps
    spread over the run (the last one is the whole run): ``{"step": [...], metric:
    [...]}``."""
    steps = snap.steps
    if steps < 1:
        return {"step": []}
    marks = sorted({max(1, int(round(steps * (i + 1) / points))) for i in range(points)})
    out: dict[str, list[float]] = {"step": [float(m) for m in marks]}
    for name in WINDOW_METRICS:
        out[name] = []
    for mark in marks:
        part, _ = window_measures(snap.up_to(mark))
        for name in WINDOW_METRICS:
            out[name].append(part[name])
    return out


def scorecard(
    measures: dict[str, float],
    run: str = "",
    references: dict[str, dict[str, float]] | None = None,
    start: dict[str, float] | None = None,
) -> Scorecard:
    """The scorecard of end ``measures``; with ``start`` (the same metrics at step 0)
    each fact is marked emerged, configured or missed (module docstring), and without it
    a fact inside its bands counts as emerged unless a metric of it is configured."""
    rows = []
    for band in BANDS:
        value = measures.get(band.metric)
        refs = {
            net: vals[band.metric]
            for net, vals in (references or {}).items()
            if band.metric in vals
        }
        first = None if start is None else start.get(band.metric)
        if first is not None and not np.isfinite(first):
            first = None
        rows.append(
            Row(
                band.fact,
                band.metric,
                value,
                band.low,
                band.high,
                band.real,
                band.source,
                band.contains(value),
                refs,
                first,
                band.contains(first),
                CONFIGURED.get(band.metric),
            )
        )
    facts: dict[str, bool | None] = {}
    status: dict[str, str | None] = {}
    for fact in FACTS:
        mine = [r for r in rows if r.fact == fact]
        if fact in NOT_MEASURED or not mine:
            facts[fact], status[fact] = None, None
            continue
        status[fact] = fact_status(mine)
        facts[fact] = status[fact] == "emerged"
    info = {k: measures[k] for k in INFORMATIONAL if k in measures}
    return Scorecard(run=run, rows=rows, facts=facts, informational=info, status=status)


def fact_status(rows: list[Row]) -> str:
    """emerged, configured or missed, for the rows of one fact (module docstring)."""
    if not all(r.inside is True for r in rows):
        return "missed"
    if any(r.configured_by for r in rows):
        return "configured"
    at_start = [r.inside_start for r in rows if r.inside_start is not None]
    if at_start and all(at_start):
        return "configured"
    return "emerged"


def write_scorecard(card: Scorecard, path: str | Path) -> None:
    """Written beside ``path`` and renamed onto it: a symlink there is replaced, never
    written through."""
    replace_text(path, scorecard_json(card) + "\n")


def scorecard_json(card: Scorecard) -> str:
    """Strict JSON (NaN written as null)."""
    return json.dumps(finite_json(card.to_dict()), indent=2, default=_json_default)


def finite_json(value):
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))
