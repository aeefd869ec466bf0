"""The free parameters of a calibration: ``--param KEY=LOW:HIGH``, a scenario key and the
range of its uniform prior.

A key must name a number the scenario holds (``opinion.epsilon``,
``population.activity.mean``): a key that is not there, or holds a word, a list or a
switch, is refused in one line, and so is a range the scenario's schema refuses at
either end. A key holding a whole number (``feed.k``) keeps whole numbers: its prior is
uniform over ``[ceil(LOW) - 0.5, floor(HIGH) + 0.5)`` and each draw is rounded half up
before it is run, so every whole number of the range has the same prior mass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import load_scenario, scenario_value
from ..errors import UserError

#: keys a calibration never sets: they say what is run, not how the platform behaves
NOT_CALIBRATED = {"users", "steps", "seed"}


@dataclass(frozen=True)
class Param:
    key: str
    low: float
    high: float
    integer: bool = False

    @property
    def width(self) -> float:
        return self.high - self.low

    @property
    def whole_range(self) -> tuple[int, int]:
        """The whole numbers a whole-number key's draws run."""
        return int(math.ceil(self.low)), int(math.floor(self.high))

    def value(self, x: float) -> float | int:
        """The value a draw ``x`` sets in the scenario: a whole-number key's draw is
        rounded half up, so each whole number of its range gets the same prior mass."""
        return int(math.floor(x + 0.5)) if self.integer else float(x)


def parse_param(text: str) -> tuple[str, float, float]:
    """``KEY=LOW:HIGH`` -> (key, low, high); a `UserError` saying what is wrong."""
    if "=" not in text or ":" not in text.split("=", 1)[1]:
        raise UserError(f"--param {text!r}: expected KEY=LOW:HIGH, e.g. opinion.epsilon=0.1:0.6")
    key, bounds = text.split("=", 1)
    key = key.strip()
    low_text, high_text = bounds.split(":", 1)
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise UserError(f"--param {text!r}: LOW and HIGH must be numbers") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise UserError(f"--param {text!r}: LOW and HIGH must be finite")
    if low >= high:
        raise UserError(f"--param {key}: LOW {low:g} must be below HIGH {high:g}")
    return key, low, high


def check_params(scenario_name: str, overrides: list[str], texts: list[str]) -> list[Param]:
    """The checked parameters of ``--param`` texts for a scenario (with its ``--set``
    overrides); the first that is wrong is a `UserError` naming it."""
    if not texts:
        raise UserError(
            "--param: name at least one parameter, e.g. --param opinion.epsilon=0.1:0.6"
        )
    base = load_scenario(scenario_name, overrides)
    params, seen = [], set()
    for text in texts:
        key, low, high = parse_param(text)
        if key in seen:
            raise UserError(f"--param {key}: given twice")
        seen.add(key)
        if key in NOT_CALIBRATED:
            raise UserError(f"--param {key}: says what is run, not how the platform behaves")
        value = scenario_value(base, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(
                f"--param {key}: holds {value!r}, not a number (only numeric keys are calibrated)"
            )
        integer = isinstance(value, int)
        ends: tuple[float, float] = (low, high)
        if integer:
            if math.floor(high) < math.ceil(low):
                raise UserError(
                    f"--param {key}: holds whole numbers, and none lies in {low:g}:{high:g}"
                )
            # each whole number n of the range is drawn from [n - 0.5, n + 0.5): all get
            # the same prior mass, and none outside the range is run
            ends = (math.ceil(low), math.floor(high))
            low, high = ends[0] - 0.5, ends[1] + 0.5
        for end in ends:
            shown = int(end) if integer else end
            try:
                load_scenario(scenario_name, [*overrides, f"{key}={shown}"])
            except UserError as exc:
                raise UserError(f"--param {key}: the scenario refuses {shown}: {exc}") from None
        params.append(Param(key, low, high, integer))
    return params


def draws(params: list[Param], count: int, seed: int, start: int = 0) -> np.ndarray:
    """(count, len(params)) prior draws number ``start`` .. ``start + count - 1``: draw i
    is the same whatever ``start``, so a resumed calibration draws what it would have."""
    out = np.empty((count, len(params)))
    for j in range(count):
        rng = np.random.default_rng([seed, start + j])
        out[j] = [p.low + p.width * rng.random() for p in params]
    return out


def overrides_for(params: list[Param], theta) -> list[str]:
    """The ``--set`` assignments of one draw."""
    return [f"{p.key}={p.value(x)!r}" for p, x in zip(params, theta, strict=True)]
