"""A language-model judge: scores texts against a rubric of weighted items.

This is the reward for goals the simulator cannot verify (Rubrics as Rewards, arXiv
2507.17746). Any backend works. The judge asks for one integer score from 0 to 10 per
rubric item, as JSON, and returns the weighted mean scaled to [0, 1]. Unparseable or
incomplete answers raise `TextBackendError` naming the text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .backend import Request, TextBackend, TextBackendError

PROMPT = (
    "You are a strict judge. Score the text below on each rubric item from 0 (not at all) "
    'to 10 (fully).\n\nRubric:\n{items}\n\nText:\n"""{text}"""\n\n'
    "Answer with JSON only, for example {example}."
)


@dataclass(frozen=True)
class RubricItem:
    name: str
    description: str
    weight: float = 1.0


@dataclass(frozen=True)
class Rubric:
    items: tuple[RubricItem, ...]

    def __post_init__(self):
        if not self.items:
            raise ValueError("a rubric needs at least one item")
        names = [i.name for i in self.items]
        if len(set(names)) != len(names):
            raise ValueError("rubric item names must be unique")
        if any(i.weight < 0 for i in self.items) or sum(i.weight for i in self.items) <= 0:
            raise ValueError("rubric weights must be non-negative and not all zero")

    @classmethod
    def from_dict(cls, data: dict[str, dict | str]) -> Rubric:
        """``{name: description}`` or ``{name: {description, weight}}``."""
        items = []
        for name, spec in data.items():
            if isinstance(spec, str):
                items.append(RubricItem(name, spec))
            else:
                items.append(RubricItem(name, spec["description"], float(spec.get("weight", 1.0))))
        return cls(tuple(items))


class Judge:
    def __init__(
        self, backend: TextBackend, rubric: Rubric, temperature: float = 0.0, max_tokens: int = 120
    ):
        self.backend = backend
        self.rubric = rubric
        self.temperature = temperature
        self.max_tokens = max_tokens

    def prompt(self, text: str) -> str:
        items = "\n".join(f"- {i.name}: {i.description}" for i in self.rubric.items)
        example = json.dumps({i.name: 7 for i in self.rubric.items})
        return PROMPT.format(items=items, text=text, example=example)

    def item_scores(self, texts: list[str]) -> list[dict[str, float]]:
        requests = [
            Request(
                prompt=self.prompt(t),
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                seed=0,
                intent={"judge": [i.name for i in self.rubric.items]},
            )
            for t in texts
        ]
        answers = self.backend.generate(requests)
        return [self._parse(i, a) for i, a in enumerate(answers)]

    def score(self, texts: list[str]) -> list[float]:
        """Weighted mean of the item scores, in [0, 1], one per text."""
        total = sum(i.weight for i in self.rubric.items)
        return [
            sum(i.weight * s[i.name] for i in self.rubric.items) / (10.0 * total)
            for s in self.item_scores(texts)
        ]

    def _parse(self, index: int, answer: str) -> dict[str, float]:
        match = re.search(r"\{.*\}", answer, re.DOTALL)
        try:
            data = json.loads(match.group(0)) if match else None
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise TextBackendError(f"judge, text {index}: no JSON object in {answer[:200]!r}")
        scores = {}
        for item in self.rubric.items:
            value = data.get(item.name)
            if not isinstance(value, int | float) or not 0 <= value <= 10:
                raise TextBackendError(
                    f"judge, text {index}: item {item.name!r} needs a score in 0-10, got {value!r}"
                )
            scores[item.name] = float(value)
        return scores
