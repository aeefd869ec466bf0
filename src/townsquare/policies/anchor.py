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
MAX_BYTES = 10_000_000
#: the largest coefficient an anchor may hold: softmax logits stay finite for every
#: observation (features lie in [-1, 1]); a fitted regression is far below it
MAX_COEF = 1e6
#: the smallest floor: every intent keeps a probability a float can hold and log can read
MIN_FLOOR = 1e-9


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
            if not Path(path).is_file():
                raise AnchorError(f"{where}: not a file (an anchor is a JSON file)")
            with open(path, "rb") as fh:  # a bounded read: never more than MAX_BYTES + 1
                raw = fh.read(MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:
                raise AnchorError(f"{where}: larger than 10 MB, not an anchor file")
            text = raw.decode("utf-8")
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
    if type(data.get("version")) is not int or data["version"] != VERSION:
        raise AnchorError(f"{where}: anchor version {data.get('version')!r}, expected {VERSION}")
    if data.get("features") != features:
        raise AnchorError(f"{where}: made for other observations than the candidate role's")
    if data.get("intents") != intents:
        raise AnchorError(f"{where}: made for other intents than the candidate role's")
    for key in ("classes", "coef", "intercept", "floor"):
        if key not in data:
            raise AnchorError(f"{where}: damaged (no {key!r})")
    classes = _numbers(data["classes"], where, "classes", integers=True)
    coef = _numbers(data["coef"], where, "coef")
    intercept = _numbers(data["intercept"], where, "intercept")
    floor = _numbers(data["floor"], where, "floor")
    c = classes.shape[0] if classes.ndim == 1 else -1
    if c < 1 or len(set(classes.tolist())) != c:
        raise AnchorError(f"{where}: classes must list distinct intent ids")
    if classes.min() < 0 or classes.max() >= len(intents):
        raise AnchorError(f"{where}: classes must lie in [0, {len(intents)})")
    if coef.shape != (c, len(features)) or intercept.shape != (c,):
        raise AnchorError(f"{where}: coefficients of the wrong shape")
    if np.abs(coef).max() > MAX_COEF or np.abs(intercept).max() > MAX_COEF:
        raise AnchorError(f"{where}: coefficients must lie within ±{MAX_COEF:g}")
    if floor.shape != () or not MIN_FLOOR <= float(floor) <= 1.0:
        raise AnchorError(f"{where}: floor must be one number in [{MIN_FLOOR:g}, 1]")
    floor = float(floor)
    source = data.get("source", {})
    if not isinstance(source, dict):
        raise AnchorError(f"{where}: source must be an object")
    return Anchor(tuple(features), tuple(intents), classes, coef, intercept, floor, source)


def _numbers(value, where: str, name: str, integers: bool = False) -> np.ndarray:
    """``value`` (a JSON number or nested lists of them) as an array; strings, booleans,
    nulls, ragged lists and (for ``integers``) non-integers are refused."""

    def ok(x) -> bool:
        if isinstance(x, bool):
            return False
        return isinstance(x, int) if integers else isinstance(x, int | float)

    def walk(x, depth=0):
        if isinstance(x, list) and depth < 3:
            return all(walk(y, depth + 1) for y in x)
        return ok(x)

    kind = "integers" if integers else "numbers"
    if not walk(value):
        raise AnchorError(f"{where}: {name} must hold JSON {kind} only")
    try:
        array = np.asarray(value, np.int64 if integers else np.float64)
    except (ValueError, OverflowError):
        raise AnchorError(f"{where}: {name} is ragged or out of range") from None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise AnchorError(f"{where}: {name} must be finite")
    return array
