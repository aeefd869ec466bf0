"""One policy line for every role, resolved by one registry (issue 11)."""

from __future__ import annotations

import copy

import pytest

from cli_checks import invoke
from cli_checks import one_line_error as assert_one_line_error
from conftest import SMALL
from townsquare.build import build_world
from townsquare.config import validate
from townsquare.errors import UserError
from townsquare.policies.registry import KINDS, ROLE_NAMES, kind_of
from townsquare.policies.scripted import SCRIPTED
from townsquare.world.population import Role


def test_every_role_takes_scripted_and_gets_its_scripted_policy():
    world, _ = build_world(validate(copy.deepcopy(SMALL)))
    for i, role in enumerate(ROLE_NAMES):
        assert kind_of(role, "scripted").name == "scripted"
        assert type(world.policies[Role(i)]) is SCRIPTED[role]


@pytest.mark.parametrize("line", ["table.npz", "table.json", "ppo.safetensors"])
def test_checkpoints_drive_every_learnable_role(line):
    # every role has a learner definition now, the socialbot's included (which file
    # fits which role is checked when the file is read)
    for role in ROLE_NAMES:
        assert kind_of(role, line).name == "checkpoint"


def test_the_registry_knows_every_learnable_role():
    # the schema's list (no heavy imports) and the role modules agree
    from townsquare.policies.registry import LEARNABLE_ROLES
    from townsquare.roles import ROLES

    assert set(LEARNABLE_ROLES) == set(ROLES)


@pytest.mark.parametrize("role", ROLE_NAMES)
@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("model.zip", "pickles"),
        ("llm:gpt", "not a policy line"),
        ("lm:gpt", "expected lm:offline"),
        ("", "not a policy line"),
    ],
)
def test_lines_no_kind_takes(role, line, fragment):
    with pytest.raises(ValueError, match=rf"roles\.{role}\.policy: .*{fragment}"):
        kind_of(role, line)


def test_the_error_names_what_the_role_can_take():
    with pytest.raises(ValueError) as info:
        kind_of("socialbot", "planner")
    assert "the socialbot role can take: scripted, checkpoint, lm" in str(info.value)
    assert {k.name for k in KINDS} >= {"scripted", "checkpoint"}


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_a_bad_policy_line_through_the_cli_is_one_line(small_scenario, tmp_path, role):
    result = invoke(
        "run",
        str(small_scenario),
        "--out",
        str(tmp_path / "r"),
        "-q",
        "--set",
        f"roles.{role}.policy=nonsense",
    )
    assert_one_line_error(result, f"roles.{role}.policy", "nonsense", "not a policy line")


def test_a_missing_checkpoint_is_named_with_its_role(tmp_path):
    data = copy.deepcopy(SMALL)
    data["roles"]["influencer"]["policy"] = str(tmp_path / "gone.npz")
    with pytest.raises(UserError, match=r"roles\.influencer\.policy: .*gone\.npz"):
        build_world(validate(data))
