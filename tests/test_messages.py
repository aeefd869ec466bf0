"""Messages written to an intent and filtered (text/messages.py)."""

from __future__ import annotations

import numpy as np
import pytest

from resume_checks import assert_resume_is_exact
from townsquare.build import build_world, give_text_to_policies
from townsquare.config import TextConfig, load_scenario
from townsquare.text.layer import TextLayer
from townsquare.text.messages import (
    MessageWriter,
    PackStanceReader,
    garbled,
    near_duplicate,
    reader_for,
)
from townsquare.world.population import Role


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "too short",
        "!!!! ???? #### $$$$ 1234",
        "sooooooo good today",
        "no no no no way",
        "bell \x07 in the text here",
    ],
)
def test_garbled_text_is_caught(text):
    assert garbled(text)


def test_ordinary_posts_are_not_garbled():
    assert not garbled("Renewables are already cheaper than new coal plants. #CleanEnergy")
    assert not garbled("We can't shut down reliable plants before the grid is ready!")


def test_near_duplicates_share_most_of_their_words():
    recent = ["Stop pretending. Nuclear and gas keep the lights on when the wind stops."]
    assert near_duplicate("Nuclear and gas keep the lights on when the wind stops!", recent)
    assert not near_duplicate("A carbon tax hits rural commuters hardest.", recent)
    assert not near_duplicate("anything at all here", [])


def offline_layer(tmp_path, **extra) -> TextLayer:
    cfg = TextConfig(backend="offline", cache=str(tmp_path / "cache.db"), **extra)
    return TextLayer(cfg, tmp_path, seed=0)


def test_the_pack_reader_reads_the_side_of_offline_text(tmp_path):
    layer = offline_layer(tmp_path)
    reader = reader_for(layer)
    assert isinstance(reader, PackStanceReader)
    stances = np.array([-0.9, -0.6, 0.6, 0.9] * 10)
    texts = layer.generator.generate(
        stances, np.zeros(40, int), np.zeros(40, int), keys=np.arange(40)
    )
    read = reader.read(texts, [0] * 40)
    assert (np.sign(read) == np.sign(stances)).mean() >= 0.9
    layer.close()


class Scripted:
    """A backend that answers with the texts it was given, in turn."""

    name, model = "scripted", "x"

    def __init__(self, texts):
        self.texts = list(texts)

    def generate(self, requests):
        return [self.texts.pop(0) for _ in requests]


def test_each_filter_counts_what_it_drops_and_the_nearest_survivor_is_posted(tmp_path):
    layer = offline_layer(tmp_path)
    layer.backend = Scripted(
        [
            "",  # garbled
            "Renewables are already cheaper than new coal plants.",  # pro: wrong side
            "Nuclear and gas keep the lights on when the wind stops.",  # duplicate
            "Maybe a carbon tax hits rural commuters hardest, I think.",  # con, hedged
            "A carbon tax hits rural commuters hardest. #NoCarbonTax",  # con, strong
        ]
    )
    writer = MessageWriter(layer, reader_for(layer), k=5)
    recent = ["Nuclear and gas keep the lights on when the wind stops!"]
    text = writer.write(-0.9, 0, key=7, recent=recent, step=3)
    assert text == "A carbon tax hits rural commuters hardest. #NoCarbonTax"
    assert writer.counts == {
        "written": 5,
        "garbled": 1,
        "stance": 1,
        "duplicate": 1,
        "without_survivor": 0,
    }
    layer.backend = Scripted(["", "x"])
    assert MessageWriter(layer, reader_for(layer), k=2).write(-0.9, 0, 7, [], 3) is None
    layer.close()


def test_the_candidates_are_seeded_apart_and_replay_exactly(tmp_path):
    layer = offline_layer(tmp_path)
    writer = MessageWriter(layer, reader_for(layer), k=4)
    requests = [writer._request(0.6, 0, 5, 2, i) for i in range(4)]
    assert len({r.seed for r in requests}) == 4
    a = [writer.write(0.6, 0, 5, [], 2) for _ in range(2)]
    assert a[0] == a[1]
    layer.close()


def planning_world_with_text(tmp_path, *extra):
    """A 300-user race whose planning candidates write offline messages, with the text
    layer handed over as a run hands it; returns (world, steps, layer)."""
    sc = load_scenario(
        "candidate_env",
        ["users=300", "steps=8", "election.days=[7]", "text.backend=offline",
         "roles.candidate.policy=planner", "roles.candidate.rollouts=1",
         "roles.candidate.plan_every=4", f"text.cache={tmp_path / 'c.db'}", *extra],
    )  # fmt: skip
    world, sc = build_world(sc)
    layer = TextLayer(sc.text, tmp_path, sc.seed)
    give_text_to_policies(world, layer)
    return world, sc.steps, layer


def test_a_planning_run_with_offline_text_posts_filtered_messages(tmp_path):
    world, steps, layer = planning_world_with_text(
        tmp_path, "roles.candidate.horizon=2", "roles.candidate.messages=3"
    )
    candidates = world.population.ids_of(Role.CANDIDATE)
    for _ in range(steps):
        world.step()
    texts = [
        world.posts.text.get(i)
        for i in range(len(world.posts))
        if world.posts.author[i] in candidates and world.posts.kind[i] == 0
    ]
    assert len(texts) == 2 * steps and all(texts)
    m = world.policies[Role.CANDIDATE].metrics()
    assert m["messages_written"] == 3 * 2 * steps
    assert (
        m["messages_written"]
        >= m["messages_garbled"] + m["messages_stance"] + m["messages_duplicate"]
    )
    layer.close()


def test_a_planning_run_with_messages_resumes_exactly(tmp_path):
    sc = load_scenario(
        "candidate_env",
        ["users=300", "steps=12", "election.days=[11]", "election.poll_every=3",
         "text.backend=offline", "record.events=all", "record.flush_every=2",
         "roles.candidate.policy=planner", "roles.candidate.rollouts=1",
         "roles.candidate.horizon=2", "roles.candidate.plan_every=3"],
    )  # fmt: skip
    assert_resume_is_exact(sc, tmp_path, 4, ("posts", "plans", "polls", "votes"))


def test_a_fork_of_a_planning_world_counts_its_messages_apart(tmp_path):
    world, _, layer = planning_world_with_text(tmp_path, "roles.candidate.horizon=1")
    world.step()
    written = world.policies[Role.CANDIDATE].metrics()["messages_written"]
    fork = world.fork()
    fork.step()
    assert world.policies[Role.CANDIDATE].metrics()["messages_written"] == written
    assert fork.policies[Role.CANDIDATE].metrics()["messages_written"] > written
    layer.close()
