"""The realism scorecard: a run measured against stylized facts of real platforms.

Each fact of REALISM.md (F1-F9) is measured by one or more metrics with a band taken from
the published sources. A fact is reproduced when all its banded metrics fall inside their
bands. The same metric code measures the real networks in ``shared/data``, shown beside
the run as references. The scorecard measures; it never tunes anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..outputs import replace_text
from ..world.population import Role
from .inequality import gini, top_share
from .networks import (
    leaning_assortativity,
    modularity,
    neighbour_leaning_correlation,
    random_walk_controversy,
)
from .polarisation import bimodality_coefficient, esteban_ray
from .snapshot import RunSnapshot
from .tails import fit_power_law

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
)

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


@dataclass
class Scorecard:
    run: str
    rows: list[Row]
    facts: dict[str, bool | None]  # reproduced, not, or None when not measured
    informational: dict[str, float]

    @property
    def reproduced(self) -> int:
        return sum(1 for v in self.facts.values() if v)

    @property
    def measured(self) -> int:
        return sum(1 for v in self.facts.values() if v is not None)

    def to_dict(self) -> dict:
        return {
            "run": self.run,
            "reproduced": self.reproduced,
            "measured": self.measured,
            "facts": {
                k: {"name": FACTS[k], "reproduced": v, "note": NOT_MEASURED.get(k)}
                for k, v in self.facts.items()
            },
            "rows": [asdict(r) for r in self.rows],
            "informational": self.informational,
        }


# ----------------------------------------------------------------------- measuring
def measure(snap: RunSnapshot) -> dict[str, float]:
    """Every scorecard metric of a run's final state."""
    n = snap.n
    leaning = snap.leaning
    role, author, kind = snap.role, np.asarray(snap.author), np.asarray(snap.kind)
    follow_src, follow_dst = snap.follow_src, snap.follow_dst
    out: dict[str, float] = {}

    originals = kind == POST
    posts_per_user = np.bincount(author[originals], minlength=n)
    out["posting_top10_share"] = top_share(posts_per_user, 0.10)

    followers = np.bincount(follow_dst, minlength=n)
    fit = fit_power_law(followers)
    out["follower_tail_alpha"] = fit.alpha
    out["follower_tail_xmin"] = fit.xmin
    out["follower_gini"] = gini(followers)
    out["follower_top1_share"] = top_share(followers, 0.01)

    cascades = snap.cascades()  # repost chains followed once for all that uses them
    degree = cascades.degree(n)
    out["repost_degree_gini"] = gini(degree[degree > 0]) if degree.any() else float("nan")
    out["repost_degree_top1_share"] = (
        top_share(degree[degree > 0], 0.01) if degree.any() else float("nan")
    )
    post_cascades = cascades.post_sizes()
    none = post_cascades.size == 0
    out["never_reposted_share"] = float("nan") if none else float((post_cascades == 1).mean())
    out["cascade_100_plus_share"] = float("nan") if none else float((post_cascades >= 100).mean())
    out["cascade_max"] = float("nan") if none else float(post_cascades.max())

    out["neighbour_leaning_correlation"] = neighbour_leaning_correlation(
        follow_src, follow_dst, leaning, directed=True
    )
    out["leaning_assortativity"] = leaning_assortativity(follow_src, follow_dst, leaning)
    camp = (leaning > 0).astype(np.int64)
    rs, rd = cascades.edges()
    out["camp_modularity"] = modularity(rs, rd, camp, n) if rs.size else float("nan")
    out["random_walk_controversy"] = random_walk_controversy(follow_src, follow_dst, camp)

    bots = np.asarray(role) == Role.SOCIALBOT
    out["bot_account_share"] = float(bots.mean())
    out["bot_post_share"] = (
        float(bots[np.asarray(author)[originals]].mean()) if originals.any() else float("nan")
    )

    citizens = np.asarray(role) == Role.CITIZEN
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


def measure_run(run: str | Path | RunSnapshot) -> dict[str, float]:
    """Measure a run directory (or an already loaded `RunSnapshot`)."""
    return measure(run if isinstance(run, RunSnapshot) else RunSnapshot.load(run))


def scorecard(
    measures: dict[str, float], run: str = "", references: dict[str, dict[str, float]] | None = None
) -> Scorecard:
    rows = []
    for band in BANDS:
        value = measures.get(band.metric)
        refs = {
            net: vals[band.metric]
            for net, vals in (references or {}).items()
            if band.metric in vals
        }
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
            )
        )
    facts: dict[str, bool | None] = {}
    for fact in FACTS:
        verdicts = [r.inside for r in rows if r.fact == fact]
        if fact in NOT_MEASURED or not verdicts or all(v is None for v in verdicts):
            facts[fact] = None
        else:
            facts[fact] = all(v is True for v in verdicts)
    info = {k: measures[k] for k in INFORMATIONAL if k in measures}
    return Scorecard(run=run, rows=rows, facts=facts, informational=info)


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
