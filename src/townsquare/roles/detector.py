"""The platform's learned bot detector (ACORN's detector, MODELS.md section 3): a
classifier over an account's activity sequence.

**Activities.** Four kinds, as in ACORN: T (post), R (repost), A (reply), M (mention).
On the platform, which has no mentions, M counts the follows an account made: the act by
which it reaches a user it chose (stated reason: in ACORN every interactive activity
connects the bot to a new user, and on this platform a follow is what does that).

**Features** (`activity_features`), all free of scale, so a detector trained on the
accounts of 100-day platform runs applies to a bot checked every K = 20 activities:
each activity's share of all (4), reposts, replies and mentions per post (3, with one
post added so an account without posts stays finite), and the interactive share
(R + A + M over all).

**Classifier.** A logistic regression on standardised features (scikit-learn to fit;
to predict, a dot product). It is saved as JSON (`save` / `load_detector`): the
feature names, their means and scales, the weights, the intercept and the threshold,
with ``"format": "townsquare-detector/1"``. Nothing in the file can run code.

`run_accounts` reads the labelled accounts of a run's ``users.parquet`` (role
``socialbot`` is a bot), leaving out accounts with fewer than ``min_activities``
activities (nothing to classify); `fit` learns the detector and `evaluate` reports
accuracy, precision, recall and ROC AUC on held-out runs.

**The built-in detector** (``builtin``, ``roles/builtin_detector.json``): `fit` on the
accounts of ``default`` at 3,000 users, 100 days, seeds 0 and 1, with its scripted bots
(`learn.detector.build_builtin`; a slow test checks the shipped file is what it
gives).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "townsquare-detector/1"
ACTIVITIES = ("post", "repost", "reply", "mention")
FEATURES = (
    "share_post",
    "share_repost",
    "share_reply",
    "share_mention",
    "repost_per_post",
    "reply_per_post",
    "mention_per_post",
    "interactive_share",
)
#: ACORN's detector checks a bot every K activities (MODELS.md section 3)
CHECK_EVERY = 20
#: accounts with fewer activities give no sequence to classify (stated reason: below
#: five, one activity more moves a share by 20 points or more)
MIN_ACTIVITIES = 5


class DetectorFileError(ValueError):
    """A detector file that is not one, or is damaged; the message names it."""


def activity_features(counts) -> np.ndarray:
    """(n, 8) features of (n, 4) activity counts (post, repost, reply, mention)."""
    c = np.atleast_2d(np.asarray(counts, np.float64))
    if c.shape[1] != 4:
        raise ValueError(f"activity counts must have 4 columns (T, R, A, M), not {c.shape[1]}")
    total = np.maximum(c.sum(axis=1, keepdims=True), 1.0)
    shares = c / total
    per_post = c[:, 1:] / (c[:, :1] + 1.0)
    interactive = c[:, 1:].sum(axis=1, keepdims=True) / total
    return np.hstack([shares, per_post, interactive])


@dataclass(frozen=True)
class LogisticDetector:
    """P(bot) = sigmoid(((x - mean) / scale) . coef + intercept); a bot above threshold."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 0.5
    check_every: int = CHECK_EVERY

    def probability(self, counts) -> np.ndarray:
        z = (activity_features(counts) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ self.coef + self.intercept)))

    def flags(self, counts) -> np.ndarray:
        return self.probability(counts) > self.threshold

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "features": list(FEATURES),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": float(self.intercept),
            "threshold": float(self.threshold),
            "check_every": int(self.check_every),
        }

    def save(self, path: str | Path) -> Path:
        from ..outputs import replace_text

        return replace_text(Path(path), json.dumps(self.to_json(), indent=1) + "\n")


def load_detector(path: str | Path) -> LogisticDetector:
    """The detector a JSON file holds; a `DetectorFileError` naming the file otherwise."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise DetectorFileError(f"{path}: cannot read it ({exc.strerror})") from None
    except (UnicodeDecodeError, ValueError):
        raise DetectorFileError(f"{path}: not a detector file (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DetectorFileError(
            f'{path}: not a detector file (expected "format": "{FORMAT}"; train one '
            "with townsquare train detector)"
        )
    if data.get("features") != list(FEATURES):
        raise DetectorFileError(f"{path}: its features are not {', '.join(FEATURES)}")
    try:
        arrays = {k: np.asarray(data[k], np.float64) for k in ("mean", "scale", "coef")}
        intercept, threshold = float(data["intercept"]), float(data["threshold"])
        check_every = int(data.get("check_every", CHECK_EVERY))
    except (KeyError, TypeError, ValueError) as exc:
        raise DetectorFileError(f"{path}: damaged ({exc!r})") from None
    for name, a in arrays.items():
        if a.shape != (len(FEATURES),) or not np.isfinite(a).all():
            raise DetectorFileError(f"{path}: {name} must be {len(FEATURES)} finite numbers")
    if (arrays["scale"] <= 0).any():
        raise DetectorFileError(f"{path}: scale must be positive")
    if not (math.isfinite(intercept) and 0.0 < threshold < 1.0 and check_every >= 1):
        raise DetectorFileError(f"{path}: intercept, threshold (0-1) or check_every is wrong")
    return LogisticDetector(
        arrays["mean"], arrays["scale"], arrays["coef"], intercept, threshold, check_every
    )


BUILTIN = "builtin"
BUILTIN_SEEDS = (0, 1)


def world_accounts(world, min_activities: int = MIN_ACTIVITIES):
    """(counts (n, 4), is_bot (n,)) of a world's accounts, as `run_accounts` reads a run."""
    from ..world.population import Role
    from ..world.posts import PostKind

    n = world.n
    posts = world.posts
    kind = np.where(posts.kind == PostKind.QUOTE, PostKind.REPOST, posts.kind)  # a share
    counts = np.stack(
        [np.bincount(posts.author[kind == k], minlength=n)
         for k in (PostKind.POST, PostKind.REPOST, PostKind.REPLY)]
        + [world.population.follows_made], axis=1,
    ).astype(np.int64)  # fmt: skip
    is_bot = world.population.role == Role.SOCIALBOT
    keep = counts.sum(axis=1) >= min_activities
    return counts[keep], is_bot[keep]


def detector_from(spec: str) -> LogisticDetector:
    """``builtin`` or a detector file's path."""
    if spec == BUILTIN:
        from importlib import resources

        path = resources.files("townsquare.roles").joinpath("builtin_detector.json")
        return load_detector(Path(str(path)))
    return load_detector(spec)


def run_accounts(run_dir: str | Path, min_activities: int = MIN_ACTIVITIES):
    """(counts (n, 4), is_bot (n,)) of a run's accounts with at least ``min_activities``
    activities, from its ``users.parquet``; a `ValueError` naming what is missing."""
    import pyarrow.parquet as pq

    path = Path(run_dir) / "users.parquet"
    if not path.is_file():
        raise ValueError(f"{run_dir}: no users.parquet (not a townsquare run, or unfinished)")
    try:
        table = pq.read_table(path, columns=["role", "posts", "reposts", "replies", "follows"])
    except Exception as exc:  # pyarrow raises several kinds for a bad or old file
        reason = " ".join(str(exc).split())[:160]
        raise ValueError(f"{path}: cannot read the activity columns ({reason})") from None
    counts = np.stack(
        [table.column(c).to_numpy().astype(np.int64) for c in ("posts", "reposts", "replies",
                                                             "follows")], axis=1,
    )  # fmt: skip
    # a quote is a share: counted with the reposts, as `observe` counts it (a run made
    # before quotes has no such column)
    if "quotes" in pq.read_schema(path).names:
        counts[:, 1] += pq.read_table(path, columns=["quotes"]).column(0).to_numpy()
    is_bot = np.asarray(table.column("role").to_pylist()) == "socialbot"
    keep = counts.sum(axis=1) >= min_activities
    return counts[keep], is_bot[keep]


def fit(counts, is_bot, seed: int = 0) -> LogisticDetector:
    """A logistic regression (scikit-learn, balanced classes: bots are few) on the
    standardised features of labelled accounts."""
    from sklearn.linear_model import LogisticRegression

    is_bot = np.asarray(is_bot, bool)
    if is_bot.all() or not is_bot.any():
        raise ValueError("training needs both bots and other accounts")
    x = activity_features(counts)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(class_weight="balanced", max_iter=1000, random_state=seed)
    model.fit((x - mean) / scale, is_bot)
    return LogisticDetector(mean, scale, model.coef_[0].copy(), float(model.intercept_[0]))


def evaluate(detector: LogisticDetector, counts, is_bot) -> dict[str, float]:
    """Accuracy, precision, recall and ROC AUC of ``detector`` on labelled accounts."""
    from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

    is_bot = np.asarray(is_bot, bool)
    p = detector.probability(counts)
    flagged = p > detector.threshold
    both = is_bot.any() and not is_bot.all()
    return {
        "accounts": int(is_bot.size),
        "bots": int(is_bot.sum()),
        "accuracy": float(accuracy_score(is_bot, flagged)),
        "precision": float(precision_score(is_bot, flagged, zero_division=0.0)),
        "recall": float(recall_score(is_bot, flagged, zero_division=0.0)),
        "roc_auc": float(roc_auc_score(is_bot, p)) if both else math.nan,
    }


class ClassifierDetector:
    """The learned detector on the platform (the `world.moderation.Detector` protocol):
    each account's activity counts over the run (posts, reposts, replies, follows made)
    are classified every ``check_every`` steps; a flagged account with at least
    ``MIN_ACTIVITIES`` activities is suspended with probability ``catch_prob`` per check
    (the published survival, as for the activity rule: docs/world.md)."""

    def __init__(self, n: int, model: LogisticDetector, check_every: int, catch_prob: float):
        if not 0.0 <= catch_prob <= 1.0:
            raise ValueError(f"catch_prob: {catch_prob} is not a probability")
        self.model = model
        self.check_every = int(check_every)
        self.catch_prob = float(catch_prob)
        self.counts = np.zeros((n, 4), np.int64)
        self.rng = None

    def use_rng(self, rng) -> None:
        self.rng = rng

    def observe(self, actions_per_user, events=None) -> None:
        if events is None:
            return
        kind = np.asarray(events.post_kind, np.int64)
        # PostKind: 0 post, 1 repost, 2 reply; a quote (3) is a share, counted as a repost
        kind = np.where(kind == 3, 1, kind)
        for column in range(3):
            np.add.at(self.counts[:, column], events.post_author[kind == column], 1)
        np.add.at(self.counts[:, 3], events.follow_src[events.follow_action > 0], 1)

    def check(self, step: int, suspended: np.ndarray) -> np.ndarray:
        if (step + 1) % self.check_every:
            return np.zeros(0, np.int64)
        seen = np.flatnonzero((self.counts.sum(axis=1) >= MIN_ACTIVITIES) & ~suspended)
        flagged = seen[self.model.flags(self.counts[seen])] if seen.size else seen
        if self.catch_prob < 1.0 and flagged.size:
            if self.rng is None:
                raise RuntimeError(
                    "ClassifierDetector: catch_prob < 1 draws from the world's stream"
                )
            flagged = flagged[self.rng.random(flagged.size) < self.catch_prob]
        suspended[flagged] = True
        return flagged.astype(np.int64)

    def state(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    def load_state(self, state) -> None:
        from ..world import checks

        counts = checks.array(state, "counts", np.int64, (self.counts.shape[0], 4))
        checks.within("counts", counts, 0)
        self.counts = counts
