"""Text in the platform's vocabulary: a policy may write its own words (`Actions`) and
read its feed's words (`Observations`); the text layer writes only posts that have none
(issue 11)."""

from __future__ import annotations

import copy

import duckdb
import numpy as np
import pytest

from conftest import SMALL
from townsquare.build import build_world
from townsquare.config import load_scenario, validate
from townsquare.policies.scripted import ScriptedCitizen, ScriptedInfluencer
from townsquare.runner import Run
from townsquare.world import Actions
from townsquare.world.population import Role


class Wordsmith(ScriptedInfluencer):
    """The scripted influencer, writing its own words for its posts and replies."""

    def act(self, obs, rng):
        actions = super().act(obs, rng)
        actions.post_text = np.array(
            [
                f"influencer {u} says {s:+.2f}" if p else None
                for u, s, p in zip(obs.users, actions.post_stance, actions.post, strict=True)
            ],
            object,
        )
        actions.reply_text = np.full(actions.reply.shape, None, object)
        actions.reply_text[actions.reply] = "a reply in my own words"
        return actions


class Reader(ScriptedCitizen):
    """The scripted citizen, keeping what its feed said."""

    reads_text = True

    def __init__(self, params):
        super().__init__(params)
        self.read: list[tuple[int, str | None]] = []

    def act(self, obs, rng):
        assert obs.feed_text is None or obs.feed_text.shape == obs.feed.shape
        if obs.feed_text is not None:
            shown = obs.feed >= 0
            self.read.extend(
                zip(obs.feed[shown].tolist(), obs.feed_text[shown].tolist(), strict=True)
            )
        return super().act(obs, rng)


def small_world(**text):
    data = copy.deepcopy(SMALL)
    data["text"] = text
    world, sc = build_world(validate(data))
    return world, sc


def test_a_policy_writes_its_own_words():
    world, sc = small_world()
    world.policies[Role.INFLUENCER] = Wordsmith(sc.roles.influencer)
    influencers = set(world.population.ids_of(Role.INFLUENCER).tolist())
    written = 0
    for _ in range(4):
        events = world.step()
        assert events.post_text is not None and len(events.post_text) == events.post_id.size
        for pid, author, kind, text in zip(
            events.post_id.tolist(),
            events.post_author.tolist(),
            events.post_kind.tolist(),
            events.post_text,
            strict=True,
        ):
            if author in influencers and kind == 0:
                assert text.startswith(f"influencer {author} says")
                assert world.posts.text[pid] == text
                written += 1
            elif author not in influencers:
                assert text is None and pid not in world.posts.text
    assert written > 0


def test_the_text_layer_writes_only_posts_without_words(tmp_path):
    sc = load_scenario(str(_scenario_file(tmp_path)), ["text.backend=offline"])
    run = Run.start(sc, tmp_path / "run")
    run.world.policies[Role.INFLUENCER] = Wordsmith(sc.roles.influencer)
    run.execute()
    with duckdb.connect(str(tmp_path / "run" / "events.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT author, kind, text FROM posts").fetchall()
    influencers = set(run.world.population.ids_of(Role.INFLUENCER).tolist())
    own = [t for a, k, t in rows if a in influencers and k == "post"]
    others = [t for a, k, t in rows if a not in influencers]
    assert own and all(t.startswith("influencer ") for t in own)
    assert others and all(t and not t.startswith("influencer ") for t in others)
    replies = [t for a, k, t in rows if a in influencers and k == "reply"]
    assert all(t == "a reply in my own words" for t in replies)


def test_words_are_recorded_without_a_text_layer(tmp_path):
    sc = load_scenario(str(_scenario_file(tmp_path)))
    run = Run.start(sc, tmp_path / "run")
    run.world.policies[Role.INFLUENCER] = Wordsmith(sc.roles.influencer)
    run.execute()
    with duckdb.connect(str(tmp_path / "run" / "events.duckdb"), read_only=True) as con:
        texts = con.execute("SELECT text FROM posts WHERE text IS NOT NULL").fetchall()
        total = con.execute("SELECT count(*) FROM posts").fetchone()[0]
    assert 0 < len(texts) < total


def test_a_reader_sees_its_feeds_words_and_others_do_not():
    world, sc = small_world()
    world.policies[Role.INFLUENCER] = Wordsmith(sc.roles.influencer)
    reader = Reader(sc.roles.citizen)
    world.policies[Role.CITIZEN] = reader
    seen_none = []

    class Blind(Wordsmith):
        def act(self, obs, rng):
            seen_none.append(obs.feed_text is None)
            return super().act(obs, rng)

    world.policies[Role.INFLUENCER] = Blind(sc.roles.influencer)
    for _ in range(5):
        world.step()
    assert all(seen_none)
    assert reader.read, "the citizens read nothing"
    for pid, text in reader.read:
        assert text == world.posts.text.get(pid)
    assert any(text is not None for _, text in reader.read)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("post_text", np.array(["x"], object), "shape"),
        ("post_text", np.array([1, 2, 3], object), "strings or None"),
        ("reply_text", np.full((3, 2), None, object), "shape"),
    ],
)
def test_words_of_the_wrong_shape_or_kind_are_refused(name, value, fragment):
    actions = Actions.nothing(3, 4)
    setattr(actions, name, value)
    with pytest.raises(ValueError, match=fragment):
        actions.check(3, 4, 1)


def _scenario_file(tmp_path):
    import yaml

    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return path
