"""The language-model judge through a chat-completions server on loopback."""

from __future__ import annotations

import json

import pytest

from chat_server import ChatServer
from townsquare.text.backend import TextBackendError
from townsquare.text.judge import Judge, Rubric
from townsquare.text.openai_backend import OpenAIBackend

RUBRIC = Rubric.from_dict(
    {
        "civil": {"description": "free of insults", "weight": 3},
        "on_topic": "about the election",
    }
)


def judge_reply(prompt: str) -> str:
    text = prompt.split('"""')[1]
    civil = 2 if "idiot" in text else 9
    return f"Sure. {json.dumps({'civil': civil, 'on_topic': 6})}"


def test_judge_scores_are_weighted_means_in_unit_range():
    with ChatServer(responder=judge_reply) as server:
        judge = Judge(OpenAIBackend(server.url, "judge"), RUBRIC)
        polite, rude = judge.score(["Vote on Tuesday, friends.", "Only an idiot votes blue."])
        items = judge.item_scores(["Only an idiot votes blue."])
    assert polite == pytest.approx((3 * 9 + 6) / 40)
    assert rude == pytest.approx((3 * 2 + 6) / 40)
    assert items == [{"civil": 2.0, "on_topic": 6.0}]


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        ("I refuse.", "no JSON object"),
        ('{"civil": 11, "on_topic": 3}', "'civil' needs a score in 0-10"),
        ('{"civil": 5}', "'on_topic'"),
    ],
)
def test_bad_judge_answers_name_the_text(reply, fragment):
    with ChatServer(responder=lambda prompt: reply) as server:
        judge = Judge(OpenAIBackend(server.url, "judge"), RUBRIC)
        with pytest.raises(TextBackendError, match=f"judge, text 0: .*{fragment}"):
            judge.score(["hello"])


def test_rubric_validation():
    with pytest.raises(ValueError, match="at least one"):
        Rubric(())
    with pytest.raises(ValueError, match="weights"):
        Rubric.from_dict({"a": {"description": "x", "weight": 0}})
