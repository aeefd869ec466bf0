"""Interviews: a researcher asks a user a question at the end of a step and records its
answer, without changing the run.

The answer is the user's stance on the question's topic and, where the run has words,
its words:

* a policy that can be interviewed (an ``interview`` method: the language-model policy)
  answers itself;
* any other user (scripted, learned) states its opinion on the topic, and the run's text
  backend, when the scenario has one, voices that stance in answer to the question.

Nothing here draws from the world's random streams, moves a read cursor or writes to
the world, so a run with interviews has the same ``metrics.parquet``, bytes and all, as
the run without them (tests/test_interviews.py).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .config import InterviewConfig
from .world import Role, World
from .world.population import ROLE_NAMES

#: the prompt a text backend answers for a user without a model of its own
PROMPT = (
    'An interviewer asks you: "{question}" You are {position} on {topic}. '
    "Answer in one or two sentences, in your own voice."
)

COLUMNS = (
    "step INTEGER, user_id BIGINT, role VARCHAR, question VARCHAR, topic SMALLINT, "
    "opinion DOUBLE, stance DOUBLE, text VARCHAR, followers BIGINT, suspended BOOLEAN"
)


def by_step(interviews: list[InterviewConfig]) -> dict[int, list[InterviewConfig]]:
    due: dict[int, list[InterviewConfig]] = {}
    for q in interviews:
        due.setdefault(q.step, []).append(q)
    return due


def ask(world: World, step: int, questions: list[InterviewConfig], text=None) -> pa.Table:
    """The answers of the users asked at the end of ``step`` (the world as it stands),
    one row per question, in the scenario's order. ``text``: the run's `TextLayer`."""
    pop = world.population
    users = np.array([q.user for q in questions], np.int64)
    topics = np.array([q.topic for q in questions], np.int64)
    opinion = pop.opinion[users, topics]
    stance = opinion.copy()
    words: list[str | None] = [None] * len(questions)
    asked_policy = np.zeros(len(questions), bool)
    for role in Role:
        policy = world.policies.get(role)
        rows = np.flatnonzero(pop.role[users] == role)
        if rows.size == 0 or not hasattr(policy, "interview"):
            continue
        said_stance, said = policy.interview(
            users[rows], topics[rows], [questions[r].question for r in rows], step
        )
        for r, s, w in zip(rows.tolist(), np.asarray(said_stance).tolist(), said, strict=True):
            if w is not None:
                stance[r] = s if np.isfinite(s) else opinion[r]
                words[r] = w
                asked_policy[r] = True
    voiced = np.flatnonzero(~asked_policy)
    if text is not None and voiced.size:
        spoken = _voice(text, step, users[voiced], topics[voiced], stance[voiced],
                        [questions[r].question for r in voiced])  # fmt: skip
        for r, w in zip(voiced.tolist(), spoken, strict=True):
            words[r] = w
    return pa.table(
        {
            "step": np.full(len(questions), step, np.int32),
            "user_id": users,
            "role": [ROLE_NAMES[r] for r in pop.role[users].tolist()],
            "question": [q.question for q in questions],
            "topic": topics.astype(np.int16),
            "opinion": opinion,
            "stance": stance,
            "text": pa.array(words, pa.string()),
            "followers": world.graph.in_deg[users].astype(np.int64),
            "suspended": pop.suspended[users],
        }
    )


def _voice(text, step, users, topics, stance, questions) -> list[str]:
    """The run's text backend answering each question in the user's stance. Requests go
    through the run's replay cache like the run's own, so a resumed run answers the same."""
    from .text.backend import Request
    from .text.layer import _position

    requests = []
    for user, topic, s, question in zip(
        users.tolist(), topics.tolist(), stance.tolist(), questions, strict=True
    ):
        # a seed of the question's own: the same user asked the same at the same step
        # gets the same words; no post id is used, so no post's words are touched
        seed = int(np.random.SeedSequence([step, user, topic]).generate_state(1, np.uint32)[0])
        requests.append(
            Request(
                prompt=PROMPT.format(
                    question=question,
                    position=_position(s),
                    topic=text.generator.pack_for(topic).title,
                ),
                max_tokens=text.cfg.max_tokens,
                temperature=text.cfg.temperature,
                seed=seed,
                intent={"key": seed, "stance": s, "topic": topic, "kind": 0},
            )
        )
    return text.backend.generate(requests)
