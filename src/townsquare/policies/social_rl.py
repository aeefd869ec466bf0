"""Citizens that learn which side to express from the platform's feedback.

ARLOD (Meylahn & Meylahn 2024) carried onto the platform: each citizen holds
Q(-1), Q(+1) for the side it expresses on topic 0. When it posts on topic 0 it expresses
the side with the larger Q (ties -1), flipped with probability eps, with the magnitude of
its own opinion. The reward of a post is the platform's feedback on it during the next
step, clipped to [-1, 1]: likes and agreeing replies count +1 each, disagreeing replies -1
(no feedback at all is a reward of 0). Q(e) <- (1 - alpha) Q(e) + alpha r. Everything
else the citizen does follows the scripted rules.
"""

from __future__ import annotations

import numpy as np

from ..config import CitizenConfig
from ..roles.citizen import social_feedback
from ..world import checks
from ..world.actions import Feedback, Observations, StepContext
from .scripted import ScriptedCitizen


class SocialRLCitizen(ScriptedCitizen):
    def __init__(self, params: CitizenConfig, q: np.ndarray, members: np.ndarray):
        super().__init__(params)
        self.q = np.asarray(q, np.float64)  # (n_users, 2): Q(-1), Q(+1)
        self.members = np.asarray(members, np.int64)

    @classmethod
    def from_opinions(cls, params: CitizenConfig, opinion: np.ndarray, members: np.ndarray):
        """Q-values that start out preferring the side of each user's opinion."""
        q = np.stack([-opinion / 2.0, opinion / 2.0], axis=1)
        return cls(params, q, members)

    def post_stance(self, obs: Observations, topic: np.ndarray, rng) -> np.ndarray:
        scripted = super().post_stance(obs, topic, rng)
        q = self.q[obs.users]
        side = np.where(q[:, 1] > q[:, 0], 1.0, -1.0)
        side = np.where(rng.random(len(obs)) < self.params.rl_eps, -side, side)
        return np.where(topic == 0, side * np.abs(scripted), scripted)

    def learn(self, context: StepContext) -> None:
        """Learn from the step just applied: the feedback the citizens' posts of the
        step before received (the citizen role's reward, `roles.citizen`)."""
        feedback = social_feedback(context)
        if feedback is not None:
            self.learn_from(feedback)

    def learn_from(self, feedback: Feedback) -> None:
        """Q(e) <- (1 - alpha) Q(e) + alpha r for the side e each post expressed."""
        side = np.sign(feedback.stance)
        ok = side != 0
        author = feedback.author[ok]
        column = (side[ok] > 0).astype(np.int64)
        reward = np.clip(feedback.net[ok], -1.0, 1.0)
        a = self.params.rl_alpha
        self.q[author, column] = (1.0 - a) * self.q[author, column] + a * reward

    def metrics(self) -> dict[str, float]:
        q = self.q[self.members]
        return {"rl_plus_share": float((q[:, 1] > q[:, 0]).mean()) if q.size else float("nan")}

    def state(self) -> dict[str, np.ndarray]:
        return {"q": self.q}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore `state` after checking it (a ``ValueError`` naming the array if not)."""
        q = checks.array(state, "q", np.float64, self.q.shape)
        checks.within("q", q)
        self.q = q
