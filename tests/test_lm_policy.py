"""Language-model policies on a role's line (policies/lm.py)."""

from __future__ import annotations

import numpy as np
import pytest

from resume_checks import assert_resume_is_exact
from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.errors import UserError
from townsquare.policies.lm import TEMPLATES, LMPolicy, parse_spec
from townsquare.text.offline import OfflineGenerator
from townsquare.text.stance import stance_reader
from townsquare.world.population import Role

RACE = ["users=300", "steps=6", "election.days=[5]"]


def race(*extra):
    return build_world(load_scenario("candidate_env", [*RACE, *extra]))


@pytest.mark.parametrize("role", ["citizen", "influencer", "candidate", "socialbot"])
def test_every_role_can_write_its_posts_with_a_language_model(role):
    world, sc = race(f"roles.{role}.policy=lm:offline", "roles.socialbot.fraction=0.05")
    policy = world.policies[Role[role.upper()]]
    assert isinstance(policy, LMPolicy)
    for _ in range(sc.steps):
        world.step()
    members = world.population.ids_of(Role[role.upper()])
    ids = [i for i in range(len(world.posts)) if world.posts.author[i] in members
           and world.posts.kind[i] == 0]  # fmt: skip
    assert ids and all(world.posts.text.get(i) for i in ids)
    # the stance is what the words say
    reader = stance_reader("pack", OfflineGenerator())
    read = reader.read([world.posts.text[i] for i in ids], [0] * len(ids))
    assert np.array_equal(world.posts.stance[ids], read)
    m = policy.metrics()
    assert m[f"lm_{role}_prompts"] >= len(ids) and m[f"lm_{role}_unparsed"] == 0


def test_prompts_carry_the_role_s_observation():
    world, _ = race("roles.candidate.policy=lm:offline")
    obs = world.begin_step()[Role.CANDIDATE]
    prompts = world.policies[Role.CANDIDATE].prompts(obs, np.arange(len(obs)))
    assert len(prompts) == 2
    for prompt, position in zip(prompts, obs.opinion[:, 0], strict=True):
        assert f"position {position:+.2f}" in prompt and "Climate policy" in prompt


class Scripted:
    name, model = "scripted", "x"

    def __init__(self, texts):
        self.texts = list(texts)

    def generate(self, requests):
        return [self.texts[i % len(self.texts)] for i in range(len(requests))]


def test_unreadable_output_writes_nothing_and_is_counted():
    world, _ = race("roles.candidate.policy=lm:offline")
    policy = world.policies[Role.CANDIDATE]
    policy.backend = Scripted(["", "[silent] not today"])
    events = world.step()
    candidates = world.population.ids_of(Role.CANDIDATE)
    assert not (np.isin(events.post_author, candidates) & (events.post_kind == 0)).any()
    m = policy.metrics()
    assert (m["lm_candidate_unparsed"], m["lm_candidate_silent"]) == (1, 1)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("lm:gpt", "expected lm:offline"),
        ("lm:openai:model", "expected lm:offline"),
        ("lm:openai:model@ftp://x", "expected lm:offline"),
        ("lm:offline:extra", "expected lm:offline"),
    ],
)
def test_a_bad_backend_spec_is_one_line_naming_the_role(line, fragment):
    with pytest.raises(UserError, match=rf"roles\.citizen\.policy: '{line}'.*{fragment}"):
        load_scenario("candidate_env", [f"roles.citizen.policy={line}"])


def test_a_model_folder_without_a_model_is_one_line(tmp_path):
    pytest.importorskip("transformers")
    sc = load_scenario(
        "candidate_env", [*RACE, f"roles.candidate.policy=lm:transformers:{tmp_path}"]
    )
    with pytest.raises(UserError, match=r"roles\.candidate\.policy: .*no causal language model"):
        build_world(sc)


def test_a_template_with_an_unknown_placeholder_is_refused():
    with pytest.raises(UserError, match=r"roles\.candidate\.lm_template: KeyError\('mood'\)"):
        load_scenario("candidate_env", ["roles.candidate.lm_template=I feel {mood}"])
    sc = load_scenario(
        "candidate_env",
        [*RACE, "roles.candidate.policy=lm:offline",
         "roles.candidate.lm_template=Lead {poll_lead:+.2f}, say something."],
    )  # fmt: skip
    world, _ = build_world(sc)
    obs = world.begin_step()[Role.CANDIDATE]
    assert world.policies[Role.CANDIDATE].prompts(obs, np.arange(1))[0].startswith("Lead +0.00")


def test_every_role_has_a_default_template_its_observation_fills():
    from townsquare.policies.lm import check_template

    for role, template in TEMPLATES.items():
        check_template(template, role)


@pytest.mark.parametrize("line", ["lm:", "lm:transformers:"])
def test_a_spec_ending_in_a_colon_is_refused_too(line):
    # (on the command line YAML reads `lm:` as a mapping: quote it, or this is the error)
    from townsquare.policies.registry import kind_of

    with pytest.raises(ValueError, match=rf"roles\.citizen\.policy: '{line}': expected"):
        kind_of("citizen", line)


def test_parse_spec():
    assert parse_spec("lm:offline").kind == "offline"
    assert parse_spec("lm:transformers:/m").path == "/m"
    spec = parse_spec("lm:openai:qwen@http://localhost:8000/v1")
    assert (spec.model, spec.url) == ("qwen", "http://localhost:8000/v1")


def test_a_run_with_a_language_model_replays_and_resumes_exactly(tmp_path):
    sc = load_scenario(
        "candidate_env",
        ["users=300", "steps=8", "election.days=[7]", "roles.candidate.policy=lm:offline",
         "record.events=all", "record.flush_every=2"],
    )  # fmt: skip
    assert_resume_is_exact(sc, tmp_path, 3)


def test_writers_lets_only_the_first_candidates_write_with_the_model():
    world, sc = race("roles.candidate.policy=lm:offline", "roles.candidate.writers=1")
    policy = world.policies[Role.CANDIDATE]
    for _ in range(sc.steps):
        world.step()
    first, second = (int(c) for c in world.election.candidates)
    posts = world.posts
    own = [i for i in range(len(posts)) if posts.kind[i] == 0]
    mine = [i for i in own if posts.author[i] == first]
    rival = [i for i in own if posts.author[i] == second]
    assert mine and rival
    # the first writes with the model (its words carry its post); the second posts by
    # the scripted rule, as many posts as steps (post_prob 1)
    assert all(posts.text.get(i) for i in mine) and not any(posts.text.get(i) for i in rival)
    assert len(rival) == sc.steps
    assert policy.metrics()["lm_candidate_prompts"] == len(mine)


def test_a_candidate_s_tags_move_its_platform_and_unknown_tags_do_nothing():
    from townsquare.policies.lm import split_tags

    assert split_tags(" [TO_CENTRE] [silent]  words here") == (
        ["to_centre", "silent"],
        "words here",
    )
    assert split_tags("no [tags] up front") == ([], "no [tags] up front")
    world, _ = race("roles.candidate.policy=lm:offline")
    policy = world.policies[Role.CANDIDATE]
    first, second = (int(c) for c in world.election.candidates)
    before = world.population.opinion[[first, second], 0].copy()
    # candidates act in user-id order: the first moves toward the centre and posts, the
    # second uses a tag candidates do not have
    policy.backend = Scripted(
        ["[to_centre] lower taxes for working families", "[follow] lower taxes for all"]
    )
    events = world.step()
    after = world.population.opinion[[first, second], 0]
    assert abs(after[0]) == pytest.approx(abs(before[0]) - 0.05)  # one move step inward
    assert after[1] == before[1]
    posted = set(events.post_author[events.post_kind == 0].tolist())
    assert first in posted and second not in posted
    m = policy.metrics()
    assert (m["lm_candidate_moves"], m["lm_candidate_unparsed"]) == (1, 1)
    # the tag is not part of the post
    own = [i for i in range(len(world.posts)) if world.posts.author[i] == first]
    assert world.posts.text[own[-1]] == "lower taxes for working families"
    # a citizen has no platform to move: its tag is unparseable
    world, _ = race("roles.citizen.policy=lm:offline")
    assert "lm_citizen_moves" not in world.policies[Role.CITIZEN].metrics()


def test_writers_needs_an_election():
    with pytest.raises(UserError, match="writers: picks the first candidates"):
        load_scenario("default", ["roles.candidate.writers=1", "election.days=[]"])
