"""Behaviour cloning of the candidates' anchor policy tau (`policies.anchor`).

The scripted candidates of a scenario with an election are run for a few seeds; each
step, each candidate's observation (`roles.CandidateRole.observe`) and its decision
mapped onto an intent (`roles.candidate.intent_of_scripted`) make one sample. A
multinomial logistic regression (scikit-learn, L2, C = 1) fitted on them is the anchor,
mixed with a floor of 5% spread over every intent (stated reason: every intent keeps
some probability, so piKL can choose any of them and KL(pi || tau) stays finite, while
95% of tau is what the scripted candidates do).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..build import build_world
from ..config import Scenario
from ..errors import UserError
from ..policies.anchor import Anchor
from ..roles.candidate import CandidateRole, intent_of_scripted
from ..world.population import Role

FLOOR = 0.05


class _Recording:
    """The scripted candidates, with every decision written down."""

    def __init__(self, policy, role: CandidateRole):
        self.policy, self.role = policy, role
        self.vectors: list[np.ndarray] = []
        self.intents: list[np.ndarray] = []

    def act(self, obs, rng):
        acts = self.policy.act(obs, rng)
        rows = np.arange(len(obs))
        self.vectors.append(self.role.observe(obs, rows, None))
        self.intents.append(intent_of_scripted(obs, acts))
        return acts


def collect(
    scenario: Scenario, seeds: list[int], on_seed: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(observations, intents) of the scripted candidates over ``seeds`` runs."""
    if scenario.roles.candidate.policy != "scripted":
        raise UserError("roles.candidate.policy: the anchor clones scripted candidates")
    if not scenario.election.held:
        raise UserError("election: the anchor is fitted in a scenario with an election")
    role = CandidateRole()
    vectors, intents = [], []
    for seed in seeds:
        world, _ = build_world(scenario.model_copy(update={"seed": seed}))
        recording = _Recording(world.policies[Role.CANDIDATE], role)
        world.policies[Role.CANDIDATE] = recording
        for _ in range(scenario.steps):
            world.step()
        vectors += recording.vectors
        intents += recording.intents
        if on_seed:
            on_seed(seed)
    if not vectors:
        raise UserError("the scenario's candidates never acted: nothing to clone")
    return np.concatenate(vectors).astype(np.float64), np.concatenate(intents)


def fit_anchor(vectors: np.ndarray, intents: np.ndarray, source: dict) -> Anchor:
    """The anchor fitted on (observation, intent) samples."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise UserError(
            "fitting an anchor needs scikit-learn (pip install -c constraints.txt -e "
            f"'.[rl]'; missing {exc.name})"
        ) from None
    role = CandidateRole()
    classes = np.unique(intents)
    if classes.size == 1:  # one intent only: the regression has nothing to separate
        coef = np.zeros((1, vectors.shape[1]))
        intercept = np.zeros(1)
    else:
        model = LogisticRegression(C=1.0, max_iter=5000, tol=1e-8)
        model.fit(vectors, intents)
        coef, intercept = model.coef_, model.intercept_
        if classes.size == 2:  # scikit-learn keeps one row for two classes
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    counts = np.bincount(intents, minlength=role.n_actions)
    source = {
        **source,
        "samples": int(intents.size),
        "intent_counts": {role.action_names[i]: int(c) for i, c in enumerate(counts) if c},
    }
    return Anchor(
        tuple(role.feature_names),
        tuple(role.action_names),
        classes.astype(np.int64),
        np.round(np.asarray(coef, np.float64), 10),
        np.round(np.asarray(intercept, np.float64), 10),
        FLOOR,
        source,
    )
