"""Elections on the platform: polls of a random panel, and election days.

Voting is spatial, on topic 0 (the candidates' platform topic):

* **Proximity voting** (Downs 1957): a voter chooses the candidate nearest its topic-0
  opinion; a voter exactly between two candidates picks one of them at random.
* **Turnout** falls with the distance to the nearest candidate (abstention from
  alienation: Riker & Ordeshook 1973; Adams, Dow & Merrill, Political Behavior 2006) and
  rises with how often the voter is on the platform (a citizen who reads more is more
  engaged). On the logit scale::

      logit P(vote) = logit(turnout) - alienation * distance + engagement * log(visits / median)

  so ``turnout`` is the chance of a voter at a candidate's position who visits as often
  as the median eligible voter.

Eligible voters are the citizens not suspended. A poll asks a random panel of them
(drawn without replacement); a respondent who would not vote answers "will not vote"
(a likely-voter screen, as pollsters apply), and the poll's shares are those of the
respondents who would. Its 95% margin of error per share is ``1.96 sqrt(p(1 - p) / m)``
over the ``m`` likely voters, and ``0.98 / sqrt(m)`` as the poll's headline margin (the
worst case, p = 1/2). Polls and votes draw from the world's ``election`` random stream,
so they change nothing else of the run.

Polls and elections happen at the end of a step, after opinions moved: a poll in every
step ``t`` with ``(t + 1) % poll_every == 0`` and an election at each step of ``days``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from . import checks
from .population import Population, Role

Z95 = 1.959963984540054  # the standard normal's 97.5% point


@dataclass
class Poll:
    """One poll: the share of likely voters for each candidate (in candidate order)."""

    step: int
    share: np.ndarray  # float64 (candidates,)
    margin: np.ndarray  # float64 (candidates,): 95% margin of error of each share
    respondents: int  # the panel asked
    likely: int  # of them, those who would vote

    @property
    def headline_margin(self) -> float:
        return float(0.98 / np.sqrt(self.likely)) if self.likely else float("nan")


@dataclass
class Vote:
    """One election day: who voted for whom, and the shares."""

    step: int
    voters: np.ndarray  # int64 user ids
    choice: np.ndarray  # int64 candidate index per voter
    share: np.ndarray  # float64 (candidates,)
    eligible: int

    @property
    def turnout(self) -> float:
        return self.voters.size / self.eligible if self.eligible else float("nan")


@dataclass(frozen=True)
class Campaign:
    """What candidates know of the race when they act (`Observations.campaign`)."""

    candidates: np.ndarray  # int64 (C,): user ids, by candidate index
    positions: np.ndarray  # float64 (C,): topic-0 positions now
    followers: np.ndarray  # int64 (C,)
    poll_share: np.ndarray  # float64 (C,): the latest poll, NaN before the first
    poll_step: int  # the latest poll's step, -1 before the first
    poll_margin: float  # its headline 95% margin, NaN before the first
    steps_to_vote: int  # steps until the end of the next election day (0: this one); -1: none left
    horizon: int  # steps from 0 to the last election day's end (at least 1)

    def index_of(self, users: np.ndarray) -> np.ndarray:
        """Each user's candidate index (-1 for users who are not candidates)."""
        return candidate_index(self.candidates, users)


def candidate_index(candidates: np.ndarray, users) -> np.ndarray:
    """Each user's index in the sorted ``candidates`` (-1 for users who are not one)."""
    users = np.asarray(users)
    where = np.minimum(np.searchsorted(candidates, users), candidates.size - 1)
    return np.where(candidates[where] == users, where, -1)


@dataclass
class ElectionEvents:
    """What an election held in a step: a poll, a vote, both or neither."""

    poll: Poll | None = None
    vote: Vote | None = None


class Election:
    """Polls and election days for the candidates ``candidates`` (user ids, in the order
    of their index in every table)."""

    def __init__(
        self,
        candidates: np.ndarray,
        days: tuple[int, ...] = (),
        poll_every: int = 0,
        panel: int = 1000,
        turnout: float = 0.6,
        alienation: float = 1.0,
        engagement: float = 0.5,
    ):
        self.candidates = np.asarray(candidates, np.int64)
        if self.candidates.size == 0:
            raise ValueError("an election needs at least one candidate")
        if np.any(np.diff(self.candidates) <= 0):
            raise ValueError("candidates: give each user id once, in increasing order")
        if panel < 1:
            raise ValueError("panel: a poll needs at least one respondent")
        if not 0.0 < turnout < 1.0:
            raise ValueError("turnout: must lie strictly between 0 and 1")
        self.days = tuple(sorted(int(d) for d in days))
        self.poll_every = int(poll_every)
        self.panel = int(panel)
        self.turnout = float(turnout)
        self.alienation = float(alienation)
        self.engagement = float(engagement)
        self._base = float(np.log(turnout / (1.0 - turnout)))
        #: the latest poll and election, kept for observations and metrics
        self.last_poll: Poll | None = None
        self.last_vote: Vote | None = None

    @property
    def count(self) -> int:
        return int(self.candidates.size)

    def index_of(self, users) -> np.ndarray:
        """Each user's candidate index (-1 for users who are not candidates)."""
        return candidate_index(self.candidates, users)

    # ------------------------------------------------------------------ the rules
    def positions(self, population: Population) -> np.ndarray:
        """The candidates' positions: their topic-0 opinions."""
        return population.opinion[self.candidates, 0]

    def eligible(self, population: Population) -> np.ndarray:
        """User ids who may vote: citizens not suspended."""
        return np.flatnonzero((population.role == Role.CITIZEN) & ~population.suspended)

    def distances(self, population: Population, voters: np.ndarray) -> np.ndarray:
        """(voters, candidates) distances on topic 0."""
        return np.abs(population.opinion[voters, 0][:, None] - self.positions(population)[None, :])

    def turnout_chance(
        self, population: Population, voters: np.ndarray, median: float | None = None
    ) -> np.ndarray:
        """Each voter's chance to vote (the logit rule of the module docstring).
        ``median``: the median visits of the whole electorate, the reference voter's
        (computed from every eligible citizen when not given: a poll's panel is not the
        electorate)."""
        if voters.size == 0:
            return np.zeros(0)
        if median is None:
            median = self.median_visits(population)
        nearest = self.distances(population, voters).min(axis=1)
        visits = population.visits[voters]
        # a voter who never visits is as disengaged as the scale allows, not -inf
        floor = max(median, 1e-12) * 1e-6
        engaged = np.log(np.maximum(visits, floor) / max(median, floor))
        logit = self._base - self.alienation * nearest + self.engagement * engaged
        return expit(logit)

    def median_visits(self, population: Population) -> float:
        eligible = self.eligible(population)
        return float(np.median(population.visits[eligible])) if eligible.size else 0.0

    def _choices(self, population, voters, rng: np.random.Generator) -> np.ndarray:
        """The nearest candidate of each voter; ties split at random."""
        d = self.distances(population, voters)
        tie = d <= d.min(axis=1, keepdims=True) + 1e-12
        if self.count == 1:
            return np.zeros(voters.size, np.int64)
        keys = np.where(tie, rng.random(d.shape), -1.0)
        return keys.argmax(axis=1).astype(np.int64)

    def expected_shares(self, population: Population) -> np.ndarray:
        """Each candidate's expected vote share if the election were held now: the
        turnout-weighted share of the voters nearest it (ties split evenly). No draws:
        what a planner compares its rollouts by."""
        voters = self.eligible(population)
        if voters.size == 0:
            return np.full(self.count, np.nan)
        d = self.distances(population, voters)
        tie = (d <= d.min(axis=1, keepdims=True) + 1e-12).astype(np.float64)
        tie /= tie.sum(axis=1, keepdims=True)
        p = self.turnout_chance(population, voters)
        votes = p @ tie
        total = votes.sum()
        return votes / total if total > 0 else np.full(self.count, np.nan)

    # ------------------------------------------------------------------ the calendar
    def poll_due(self, t: int) -> bool:
        return self.poll_every > 0 and (t + 1) % self.poll_every == 0

    def vote_due(self, t: int) -> bool:
        return t in self.days

    def next_day(self, t: int) -> int | None:
        """The first election day at or after step ``t``, None if none is left."""
        for day in self.days:
            if day >= t:
                return day
        return None

    def campaign(self, t: int, population: Population, in_deg: np.ndarray) -> Campaign:
        """The race as candidates see it at the start of step ``t``."""
        poll = self.last_poll
        day = self.next_day(t)
        return Campaign(
            candidates=self.candidates.copy(),
            positions=self.positions(population).copy(),
            followers=in_deg[self.candidates].astype(np.int64),
            poll_share=poll.share.copy() if poll else np.full(self.count, np.nan),
            poll_step=poll.step if poll else -1,
            poll_margin=poll.headline_margin if poll else float("nan"),
            steps_to_vote=day - t if day is not None else -1,
            horizon=max(1, (self.days[-1] + 1) if self.days else 1),
        )

    def hold(self, t: int, population: Population, rng: np.random.Generator) -> ElectionEvents:
        """The poll and the vote due at the end of step ``t``."""
        events = ElectionEvents()
        if self.poll_due(t):
            events.poll = self.last_poll = self.poll(t, population, rng)
        if self.vote_due(t):
            events.vote = self.last_vote = self.vote(t, population, rng)
        return events

    def poll(self, t: int, population: Population, rng: np.random.Generator) -> Poll:
        eligible = self.eligible(population)
        size = min(self.panel, eligible.size)
        panel = rng.choice(eligible, size=size, replace=False) if size else eligible[:0]
        panel.sort()  # the draw decides who is asked, not their order
        would = rng.random(panel.size) < self.turnout_chance(population, panel)
        likely = panel[would]
        counts = np.bincount(self._choices(population, likely, rng), minlength=self.count)
        m = likely.size
        share = counts / m if m else np.full(self.count, np.nan)
        margin = Z95 * np.sqrt(share * (1.0 - share) / m) if m else np.full(self.count, np.nan)
        return Poll(t, share.astype(np.float64), margin, int(panel.size), int(m))

    def vote(self, t: int, population: Population, rng: np.random.Generator) -> Vote:
        eligible = self.eligible(population)
        voting = rng.random(eligible.size) < self.turnout_chance(population, eligible)
        voters = eligible[voting]
        choice = self._choices(population, voters, rng)
        counts = np.bincount(choice, minlength=self.count)
        share = counts / voters.size if voters.size else np.full(self.count, np.nan)
        return Vote(t, voters, choice, share.astype(np.float64), int(eligible.size))

    # ------------------------------------------------------------------ records
    def metrics(self, population: Population, events: ElectionEvents) -> dict[str, float]:
        """Per-step metrics: each candidate's position and latest poll share, and on an
        election day the vote shares and the turnout (NaN on other days)."""
        row: dict[str, float] = {}
        poll = self.last_poll
        vote = events.vote
        positions = self.positions(population)
        for i in range(self.count):
            row[f"position_c{i}"] = float(positions[i])
            row[f"poll_share_c{i}"] = float(poll.share[i]) if poll else float("nan")
            row[f"vote_share_c{i}"] = float(vote.share[i]) if vote else float("nan")
        row["poll_margin"] = poll.headline_margin if poll else float("nan")
        row["turnout"] = vote.turnout if vote else float("nan")
        return row

    def state(self) -> dict[str, np.ndarray]:
        """The latest poll and vote shares (what observations and metrics read between
        steps); step -1 where there was none yet."""
        nan = np.full(self.count, np.nan)
        poll, vote = self.last_poll, self.last_vote
        return {
            "poll_step": np.array(poll.step if poll else -1, np.int64),
            "poll_share": poll.share if poll else nan,
            "poll_margin": poll.margin if poll else nan,
            "poll_respondents": np.array([poll.respondents, poll.likely] if poll else [0, 0]),
            "vote_step": np.array(vote.step if vote else -1, np.int64),
            "vote_share": vote.share if vote else nan,
        }

    def load_state(self, arrays: dict[str, np.ndarray], t: int) -> None:
        """Restore `state`, every value checked (a checkpoint is never trusted)."""
        c = self.count
        poll_step = checks.scalar_int(arrays, "poll_step", -1, t - 1)
        vote_step = checks.scalar_int(arrays, "vote_step", -1, t - 1)
        if vote_step >= 0 and vote_step not in self.days:
            raise ValueError(f"vote_step: {vote_step} is not an election day of the scenario")
        if poll_step >= 0 and not self.poll_due(poll_step):
            raise ValueError(f"poll_step: {poll_step} is not a poll day of the scenario")
        counts = checks.array(arrays, "poll_respondents", np.int64, (2,))
        checks.within("poll_respondents", counts, 0)
        if counts[1] > counts[0]:
            raise ValueError("poll_respondents: more likely voters than respondents")
        values = {}
        for name, step in (
            ("poll_share", poll_step),
            ("poll_margin", poll_step),
            ("vote_share", vote_step),
        ):
            value = checks.array(arrays, name, np.float64, (c,))
            # NaN where there was none yet, or a poll where nobody would vote
            unanswered = step < 0 or (name != "vote_share" and counts[1] == 0)
            nobody_voted = name == "vote_share" and step >= 0 and np.isnan(value).all()
            if unanswered:
                checks.refuse(name, ~np.isnan(value), "a number where none was measured", value)
            elif not nobody_voted:
                checks.within(name, value, 0.0, 1.0)
            values[name] = value
        self.last_poll = None
        if poll_step >= 0:
            respondents, likely = (int(x) for x in counts)
            self.last_poll = Poll(
                poll_step, values["poll_share"], values["poll_margin"], respondents, likely
            )
        self.last_vote = None
        if vote_step >= 0:
            none = np.zeros(0, np.int64)
            self.last_vote = Vote(vote_step, none, none, values["vote_share"], 0)
