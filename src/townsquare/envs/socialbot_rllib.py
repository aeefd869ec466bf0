"""ACORN's socialbot game as an RLlib ``MultiAgentEnv`` (new API stack): the two levels
are two agents taking turns, each with its own policy (`policy_mapping_fn`).

* ``"activity"`` (AgentI) acts every turn: ``Discrete(4)`` (post, repost, reply,
  mention), observing level 1's features (`roles.socialbot.LEVEL1_FEATURES`);
* ``"target"`` (AgentII) acts after an interactive activity: ``Discrete(SLOTS)``, the
  slot of the user to engage, observing ``{"observations": level 1's features then the
  slots' features, "action_mask": which slots hold a candidate}``, the form RLlib's
  action-masking modules read.

Rewards are ACORN's (`roles.socialbot`): each pick's marginal spread to both agents, the
survival bonus per passed check to ``activity``, and the influence ratio to both at the
end. The game, graphs and detector are `townsquare/Socialbot-v0`'s (`SocialbotEnv`),
whose arguments the ``config`` dict takes. Needs the ``distributed`` extra (Ray).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from ..roles import socialbot as sb
from .socialbot_v0 import SocialbotEnv

ACTIVITY, TARGET = "activity", "target"
LEVEL1 = len(sb.LEVEL1_FEATURES)
LEVEL2 = LEVEL1 + sb.SLOTS * len(sb.SLOT_FEATURES)


def policy_mapping_fn(agent_id, episode=None, **kwargs) -> str:
    """One policy per level: the agent's own."""
    return agent_id


class SocialbotMultiAgentEnv(MultiAgentEnv):
    def __init__(self, config: dict | None = None):
        super().__init__()
        self.inner = SocialbotEnv(**dict(config or {}))
        self.agents = self.possible_agents = [ACTIVITY, TARGET]
        self.observation_spaces = {
            ACTIVITY: gym.spaces.Box(0.0, np.inf, (LEVEL1,), np.float32),
            TARGET: gym.spaces.Dict(
                {
                    "observations": gym.spaces.Box(0.0, np.inf, (LEVEL2,), np.float32),
                    "action_mask": gym.spaces.Box(0.0, 1.0, (sb.SLOTS,), np.float32),
                }
            ),
        }
        self.action_spaces = {
            ACTIVITY: gym.spaces.Discrete(4),
            TARGET: gym.spaces.Discrete(sb.SLOTS),
        }
        self.pending: int | None = None  # the interactive activity awaiting its target
        self.target_acted = False

    # -- observations -------------------------------------------------------------------
    def _activity_obs(self) -> np.ndarray:
        return self.inner.game.level1_observation()

    def _target_obs(self) -> dict:
        game = self.inner.game
        feats, mask = game.level2_observation()
        obs = np.concatenate([game.level1_observation(), feats.ravel()]).astype(np.float32)
        return {"observations": obs, "action_mask": mask.astype(np.float32)}

    # -- the episode ----------------------------------------------------------------------
    def reset(self, *, seed=None, options=None):
        self.inner.reset(seed=seed, options=options)
        self.pending, self.target_acted = None, False
        return {ACTIVITY: self._activity_obs()}, {}

    def step(self, action_dict):
        game = self.inner.game
        if self.pending is None:
            activity = int(action_dict[ACTIVITY])
            if activity in sb.INTERACTIVE and (game.slots() >= 0).any():
                self.pending = activity  # level 2 picks whom before the turn is played
                return {TARGET: self._target_obs()}, {}, {"__all__": False}, {"__all__": False}, {}
            return self._play(activity, -1, None)
        slot = int(action_dict[TARGET])
        users = game.slots()
        if not 0 <= slot < sb.SLOTS or users[slot] < 0:
            slot = int(np.flatnonzero(users >= 0)[0])  # a masked slot: the first full one
        activity, self.pending = self.pending, None
        self.target_acted = True
        return self._play(activity, int(users[slot]), slot)

    def _play(self, activity: int, target: int, slot: int | None):
        turn = self.inner.game.act(activity, target)
        end = turn.final_reward
        rewards = {ACTIVITY: turn.pick_reward + sb.SURVIVAL_BONUS * turn.checks_passed + end}
        if slot is not None or (turn.done and self.target_acted):
            rewards[TARGET] = turn.pick_reward + end
        if not turn.done:
            return (
                {ACTIVITY: self._activity_obs()},
                rewards,
                {"__all__": False},
                {"__all__": False},
                {},
            )
        obs = {ACTIVITY: self._activity_obs()}
        if self.target_acted:
            obs[TARGET] = self._target_obs()
        over = {"__all__": True}
        info = {ACTIVITY: {"influence_ratio": end, "detected": turn.detected}}
        if turn.detected:
            return obs, rewards, over, {"__all__": False}, info
        return obs, rewards, {"__all__": False}, over, info
