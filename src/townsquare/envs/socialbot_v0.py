"""``gymnasium.make("townsquare/Socialbot-v0")``: ACORN's socialbot game
(`townsquare.roles.socialbot`) with both levels behind one step, for simple learners.

* **Action:** ``MultiDiscrete([4, SLOTS])``: the activity (post, repost, reply, mention)
  and, used only after an interactive one, the slot of the user to engage. A slot that
  holds no candidate takes the first that does (counted in ``info["empty_slot"]``);
  ``info["action_mask"]`` says which slots hold one.
* **Observation:** level 1's features, then level 2's slot features row by row, then
  the slot mask (`roles.socialbot`), as one ``float32`` vector.
* **Reward:** level 1's: each pick's marginal spread and each passed check's survival
  bonus, and at the end the influence ratio sigma(S) / sigma_ref.
* **Episodes:** each ``reset`` draws a new hub-and-spoke graph (`world.influence`), or
  takes the next graph of ``graphs`` (a list of propagation graphs, or a folder of edge
  lists) in turn; the episode ends at suspension (``terminated``) or at the horizon
  (``truncated``).
* **Detector:** ``detector`` is ``builtin`` (`roles.detector`), a detector file, or any
  object with ``flags(counts)`` and ``check_every``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..roles import socialbot as sb
from ..roles.detector import detector_from
from ..world.influence import PropagationGraph, hub_and_spoke_communities, load_propagation_folder

OBS_SIZE = len(sb.LEVEL1_FEATURES) + sb.SLOTS * len(sb.SLOT_FEATURES) + sb.SLOTS


class SocialbotEnv(gym.Env):
    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        graphs=None,
        detector="builtin",
        horizon: int = sb.TRAIN_HORIZON,
        graph_users: int = 1500,
        runs: int = 100,
        render_mode: str | None = None,
    ):
        if horizon < 1:
            raise ValueError(f"horizon {horizon}: at least one activity")
        if isinstance(graphs, str) or hasattr(graphs, "is_dir"):
            graphs = [g for _, g in load_propagation_folder(graphs)]
        if graphs is not None:
            graphs = list(graphs)
            if not graphs or not all(isinstance(g, PropagationGraph) for g in graphs):
                raise ValueError("graphs: a non-empty list of propagation graphs, or a folder")
        self.graphs = graphs
        self.detector = detector_from(detector) if isinstance(detector, str) else detector
        self.horizon, self.graph_users, self.runs = int(horizon), int(graph_users), int(runs)
        self.render_mode = render_mode
        self.action_space = spaces.MultiDiscrete([4, sb.SLOTS])
        # every feature is a share, a ratio or a count over the horizon: none is negative
        self.observation_space = spaces.Box(0.0, np.inf, (OBS_SIZE,), np.float32)
        self.game: sb.SocialbotGame | None = None
        self.episode = 0

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        rng = self.np_random
        if self.graphs is None:
            graph = hub_and_spoke_communities(rng, self.graph_users)
        else:
            graph = self.graphs[self.episode % len(self.graphs)]
        self.episode += 1
        self.game = sb.SocialbotGame(
            graph, self.detector, self.horizon, runs=self.runs, seed=int(rng.integers(2**63))
        )
        obs, mask = self._observe()
        return obs, {"action_mask": mask, "graph_users": graph.n}

    def _observe(self):
        game = self.game
        feats, mask = game.level2_observation()
        obs = np.concatenate([game.level1_observation(), feats.ravel(), mask.astype(np.float32)])
        return obs.astype(np.float32), mask

    def step(self, action):
        if self.game is None or self.game.done:
            raise RuntimeError("call reset() before step()")
        activity, slot = (int(a) for a in np.asarray(action).ravel()[:2])
        game = self.game
        users = game.slots()
        empty = False
        target = -1
        if activity in sb.INTERACTIVE and (users >= 0).any():
            if not 0 <= slot < sb.SLOTS or users[slot] < 0:
                empty = True
                slot = int(np.flatnonzero(users >= 0)[0])
            target = int(users[slot])
        turn = game.act(activity, target)
        reward = turn.pick_reward + sb.SURVIVAL_BONUS * turn.checks_passed + turn.final_reward
        obs, mask = self._observe()
        info = {
            "action_mask": mask,
            "empty_slot": empty,
            "repeated": turn.repeated,
            "detected": turn.detected,
            "chosen": len(game.chosen),
            "activities": game.total,
        }
        if turn.done:
            info["influence_ratio"] = turn.final_reward
        return obs, float(reward), bool(turn.detected), bool(turn.done and not turn.detected), info

    def render(self):
        if self.render_mode == "ansi" and self.game is not None:
            g = self.game
            mix = " ".join(
                f"{a[0].upper()}{c}" for a, c in zip(sb.ACTIVITIES, g.counts, strict=True)
            )
            return f"{mix} | chosen {len(g.chosen)} | sigma {g.sigma:.1f} of {g.reference:.1f}"
        return None
