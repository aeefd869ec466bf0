"""The candidates' anchor policy tau: what a human-like candidate does, as a distribution
over intents (CICERO's anchor imitates human players; here the designed candidate of
`policies.scripted` stands in for them, MODELS.md section 4).

tau(a | s) is a multinomial logistic regression of the scripted candidates' decisions,
mapped onto intents (`roles.candidate.intent_of_scripted`), on the candidate's
observation (`learn/anchor.py` fits it with scikit-learn), mixed with a floor spread over
every intent: the scripted candidate never moves its platform, and without the floor
piKL could never choose an intent the anchor never shows (KL(pi || tau) would be
infinite).

The file is JSON (no pickle): the coefficients of the intents seen in the data, checked
when read; a file that does not fit is one line naming it. A built-in anchor, fitted on
the ``election`` scenario, ships with townsquare (``anchor: builtin``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .strict_json import strict_json

FORMAT = "townsquare-anchor"
VERSION = 1
#: the file shipped with townsquare (`learn/anchor.py` writes it again, identically)
BUILTIN = "builtin"


class AnchorError(ValueError):
    """An anchor file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Anchor:
    """tau(a | s) = (1 - floor) softmax(W s + b) over the seen intents + floor / n."""

    features: tuple[str, ...]
    intents: tuple[str, ...]
    classes: np.ndarray  # int64 (c,): the intent ids the regression covers
    coef: np.ndarray  # float64 (c, features)
    intercept: np.ndarray  # float64 (c,)
    floor: float
    source: dict

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """float64 (m, intents): tau for each observation vector."""
        v = np.atleast_2d(np.asarray(vectors, np.float64))
        logits = v @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        soft = np.exp(logits)
        soft /= soft.sum(axis=1, keepdims=True)
        n = len(self.intents)
        tau = np.full((v.shape[0], n), self.floor / n)
        tau[:, self.classes] += (1.0 - self.floor) * soft
        return tau

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "role": "candidate",
                "features": list(self.features),
                "intents": list(self.intents),
                "classes": self.classes.tolist(),
                "coef": self.coef.tolist(),
                "intercept": self.intercept.tolist(),
                "floor": self.floor,
                "source": self.source,
            },
            indent=1,
        )


def read_anchor(path: str, features: list[str], intents: list[str]) -> Anchor:
    """The anchor at ``path`` (or the built-in one), checked against the role's
    ``features`` and ``intents``; an `AnchorError` naming the file otherwise."""
    if path == BUILTIN:
        where = "the built-in anchor"
        text = resources.files("townsquare.policies").joinpath("candidate_anchor.json").read_text()
    else:
        where = path
        try:
            if Path(path).stat().st_size > 10_000_000:
                raise AnchorError(f"{where}: larger than 10 MB, not an anchor file")
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise AnchorError(f"{where}: cannot read it ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise AnchorError(f"{where}: not UTF-8 text, so not an anchor file") from None
    try:
        data = strict_json(text, where)
    except ValueError as exc:
        raise AnchorError(str(exc)) from None
    return _checked(data, where, features, intents)


def _checked(data, where: str, features: list[str], intents: list[str]) -> Anchor:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise AnchorError(f"{where}: not a townsquare anchor file (format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise AnchorError(f"{where}: anchor version {data.get('version')!r}, expected {VERSION}")
    if data.get("features") != features:
        raise AnchorError(f"{where}: made for other observations than the candidate role's")
    if data.get("intents") != intents:
        raise AnchorError(f"{where}: made for other intents than the candidate role's")
    try:
        classes = np.asarray(data["classes"], np.int64)
        coef = np.asarray(data["coef"], np.float64)
        intercept = np.asarray(data["intercept"], np.float64)
        floor = float(data["floor"])
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise AnchorError(f"{where}: damaged ({type(exc).__name__}: {exc})"[:200]) from None
    c = classes.shape[0] if classes.ndim == 1 else -1
    if c < 1 or len(set(classes.tolist())) != c:
        raise AnchorError(f"{where}: classes must list distinct intent ids")
    if classes.min() < 0 or classes.max() >= len(intents):
        raise AnchorError(f"{where}: classes must lie in [0, {len(intents)})")
    if coef.shape != (c, len(features)) or intercept.shape != (c,):
        raise AnchorError(f"{where}: coefficients of the wrong shape")
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise AnchorError(f"{where}: coefficients must be finite")
    if not 0.0 < floor <= 1.0:
        raise AnchorError(f"{where}: floor must lie in (0, 1]")
    source = data.get("source", {})
    if not isinstance(source, dict):
        raise AnchorError(f"{where}: source must be an object")
    return Anchor(tuple(features), tuple(intents), classes, coef, intercept, floor, source)
