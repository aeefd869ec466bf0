"""Elections (world/election.py): proximity voting, alienation, polls and their margins,
the scenario's election block, records, checkpoints and `townsquare show`."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from cli_checks import invoke, one_line_error
from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.errors import UserError
from townsquare.world.election import Election
from townsquare.world.population import Population, Role


def population(opinions, candidates=(), visits=None) -> Population:
    """Citizens at ``opinions`` and candidates at ``candidates`` (their positions)."""
    op = np.concatenate([np.asarray(candidates, float), np.asarray(opinions, float)])
    n = op.size
    role = np.full(n, Role.CITIZEN, np.int8)
    role[: len(candidates)] = Role.CANDIDATE
    visits = (
        np.full(n, 0.5) if visits is None else np.concatenate([[1.0] * len(candidates), visits])
    )
    return Population(
        role=role,
        opinion=op[:, None].copy(),
        activity=np.minimum(visits, 0.5),
        susceptibility=np.zeros(n),
        suspended=np.zeros(n, bool),
        community=np.full(n, -1, np.int8),
        visits=visits,
    )


def symmetric_voters(n=20_000, seed=0) -> np.ndarray:
    x = np.random.default_rng(seed).uniform(-1, 1, n // 2)
    return np.concatenate([x, -x])


def test_the_candidate_at_the_median_voter_wins_a_two_way_race():
    for rival in (0.3, -0.6, 0.9):
        pop = population(symmetric_voters(), candidates=[0.0, rival])
        election = Election(np.array([0, 1]), days=(0,))
        vote = election.vote(0, pop, np.random.default_rng(1))
        assert vote.share[0] > vote.share[1], rival
        assert election.expected_shares(pop)[0] > 0.5
        # proximity: every voter chose the nearer candidate
        op = pop.opinion[vote.voters, 0]
        nearer = np.where(np.abs(op - 0.0) < np.abs(op - rival), 0, 1)
        tie = np.isclose(np.abs(op), np.abs(op - rival))
        assert (vote.choice[~tie] == nearer[~tie]).all()


def test_symmetric_candidates_split_a_symmetric_population():
    pop = population(symmetric_voters(), candidates=[-0.5, 0.5])
    shares = Election(np.array([0, 1]), days=(0,)).expected_shares(pop)
    assert shares == pytest.approx([0.5, 0.5], abs=1e-9)


def test_turnout_falls_as_the_candidates_move_away_from_everyone():
    voters = np.random.default_rng(2).uniform(-0.2, 0.2, 20_000)
    turnouts = []
    for spread in (0.0, 0.4, 0.8, 1.0):
        pop = population(voters, candidates=[-spread, spread])
        vote = Election(np.array([0, 1]), days=(0,)).vote(0, pop, np.random.default_rng(3))
        turnouts.append(vote.turnout)
    assert all(a > b for a, b in zip(turnouts, turnouts[1:], strict=False)), turnouts
    # no alienation: turnout does not depend on where the candidates stand
    flat = []
    for spread in (0.0, 1.0):
        pop = population(voters, candidates=[-spread, spread])
        e = Election(np.array([0, 1]), days=(0,), alienation=0.0)
        flat.append(e.turnout_chance(pop, np.arange(2, pop.n)).mean())
    assert flat[0] == pytest.approx(flat[1])


def test_turnout_rises_with_activity():
    n = 10_000
    visits = np.concatenate([np.full(n, 0.05), np.full(n, 0.9)])
    pop = population(np.zeros(2 * n), candidates=[-0.2, 0.2], visits=visits)
    chance = Election(np.array([0, 1]), days=(0,)).turnout_chance(pop, np.arange(2, pop.n))
    assert chance[n:].mean() > chance[:n].mean()
    # the reference voter (median visits, at a candidate's position) votes at `turnout`
    pop = population([0.2, 0.2, 0.2], candidates=[-0.2, 0.2], visits=np.full(3, 0.3))
    e = Election(np.array([0, 1]), days=(0,), turnout=0.6)
    assert e.turnout_chance(pop, np.arange(2, 5)) == pytest.approx([0.6] * 3)


def test_polls_agree_with_the_election_within_their_margin_when_nothing_changes():
    pop = population(np.random.default_rng(4).uniform(-1, 1, 30_000), candidates=[-0.3, 0.5])
    election = Election(np.array([0, 1]), days=(0,), panel=1000)
    truth = election.expected_shares(pop)
    rng = np.random.default_rng(5)
    inside = []
    for _ in range(300):
        poll = election.poll(0, pop, rng)
        assert poll.respondents == 1000 and 0 < poll.likely <= 1000
        inside.append(abs(poll.share[0] - truth[0]) <= poll.margin[0])
    # a 95% margin covers the election's share in about 95% of polls
    assert 0.91 <= np.mean(inside) <= 0.99
    vote = election.vote(0, pop, rng)
    assert abs(vote.share[0] - truth[0]) < 0.01  # 16,000 voters: the sample is the truth


def test_a_panel_larger_than_the_electorate_asks_everyone_once():
    pop = population([0.1, -0.4, 0.7], candidates=[-0.5, 0.5])
    poll = Election(np.array([0, 1]), panel=1000, poll_every=1).poll(
        0, pop, np.random.default_rng()
    )
    assert poll.respondents == 3


def test_suspended_citizens_and_other_roles_do_not_vote():
    pop = population(np.zeros(100), candidates=[-0.1, 0.1])
    pop.suspended[2:52] = True
    pop.role[52:62] = Role.SOCIALBOT
    vote = Election(np.array([0, 1]), days=(0,), turnout=0.99).vote(0, pop, np.random.default_rng())
    assert vote.eligible == 40
    assert set(vote.voters.tolist()) <= set(range(62, 102))


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (["election.days=[100]"], ("election.days", "past the last step")),
        (["election.days=[-1]"], ("election.days", "0 or later")),
        (["election.days=[5,5]"], ("election.days", "twice")),
        (["election.panel=0"], ("election.panel",)),
        (["election.poll_every=-1"], ("election.poll_every",)),
        (["election.turnout=1.0"], ("election.turnout",)),
        (["election.alienation=-1"], ("election.alienation",)),
        (["roles.candidate.count=0"], ("election", "roles.candidate.count")),
        (["roles.candidate.lambda=0"], ("roles.candidate.lambda",)),
        (["roles.candidate.lambda=-0.5"], ("roles.candidate.lambda",)),
        (["roles.candidate.rollouts=0"], ("roles.candidate.rollouts",)),
        (["roles.candidate.horizon=0"], ("roles.candidate.horizon",)),
        (["roles.influencer.policy=planner"], ("roles.influencer.policy", "candidate only")),
        (["roles.citizen.policy=planner"], ("roles.citizen.policy", "candidate only")),
        (
            ["roles.candidate.policy=planner", "election.days=[]"],
            ("roles.candidate.policy", "election.days"),
        ),
    ],
)
def test_bad_election_and_planner_settings_are_one_line_errors(overrides, fragments):
    with pytest.raises(UserError) as info:
        load_scenario("election", overrides)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_a_bad_anchor_file_is_one_line_naming_the_key(tmp_path):
    bad = tmp_path / "anchor.json"
    bad.write_text('{"format": "something else"}')
    sc = load_scenario(
        "candidate_env", ["roles.candidate.policy=planner", f"roles.candidate.anchor={bad}"]
    )
    with pytest.raises(
        UserError, match=r"roles\.candidate\.anchor: .*anchor\.json: not a townsquare"
    ):
        build_world(sc)


def small_election(*extra):
    return load_scenario(
        "candidate_env",
        ["users=400", "steps=12", "election.days=[5,11]", "election.poll_every=3", *extra],
    )


def test_an_election_run_is_deterministic_and_reports_per_step():
    rows = []
    for _ in range(2):
        world, sc = build_world(small_election())
        rows.append([world.step().metrics for _ in range(sc.steps)])
    a, b = rows
    assert [r["vote_share_c0"] for r in a] == pytest.approx(
        [r["vote_share_c0"] for r in b], nan_ok=True
    )
    polls = [r["step"] for r in a if r["step"] % 3 == 2]
    assert all(np.isfinite(a[s]["poll_share_c0"]) for s in polls)
    assert np.isnan(a[0]["poll_share_c0"])  # before the first poll
    days = [r["step"] for r in a if np.isfinite(r["vote_share_c0"])]
    assert days == [5, 11]
    for r in a:
        if r["step"] in days:
            assert r["vote_share_c0"] + r["vote_share_c1"] == pytest.approx(1.0)
            assert 0 < r["turnout"] < 1


def test_a_scenario_without_an_election_has_no_election_columns():
    world, _ = build_world(
        load_scenario("candidate_env", ["users=300", "election.days=[]", "election.poll_every=0"])
    )
    assert world.election is None
    assert not any(k.startswith(("poll", "vote")) for k in world.step().metrics)


def test_checkpoints_carry_the_latest_poll_and_vote_exactly():
    world, sc = build_world(small_election())
    for _ in range(7):
        world.step()
    arrays, meta = world.state()
    copy, _ = build_world(sc)
    copy.load_state(arrays, meta)
    a = [world.step().metrics for _ in range(5)]
    b = [copy.step().metrics for _ in range(5)]
    for ra, rb in zip(a, b, strict=True):
        for key in ra:
            if key != "wall_s":
                assert ra[key] == pytest.approx(rb[key], nan_ok=True), key


def test_a_damaged_election_state_is_refused_naming_the_array():
    world, sc = build_world(small_election())
    for _ in range(7):
        world.step()
    arrays, meta = world.state()
    copy, _ = build_world(sc)
    for name, value, fragment in (
        ("election.vote_step", np.array(4, np.int64), "not an election day"),
        ("election.poll_share", np.array([0.5, 2.0]), "outside"),
        ("election.poll_step", np.array(99, np.int64), "election.poll_step"),
    ):
        damaged = {**arrays, name: value}
        with pytest.raises(ValueError, match=fragment):
            copy.load_state(damaged, meta)


def test_a_checkpoint_written_before_elections_existed_still_loads():
    # its random states lack the election stream, which it never drew from: the stream
    # continues from its fresh state, whatever the world loading it drew before
    import json

    sc = load_scenario(
        "candidate_env", ["users=300", "steps=12", "election.days=[11]", "election.poll_every=0"]
    )
    world, _ = build_world(sc)
    world.step()
    arrays, meta = world.state()
    arrays = {k: v.copy() for k, v in arrays.items()}  # state() hands out live arrays
    data = json.loads(meta)
    del data["rngs"]["election"]
    reference = [world.step().metrics for _ in range(11)]
    used, _ = build_world(sc)
    for _ in range(12):
        used.step()  # its election stream has voted once
    used.load_state(arrays, json.dumps(data))
    continued = [used.step().metrics for _ in range(11)]
    assert json.dumps(continued) == json.dumps(reference)  # NaN reads NaN in both


def test_a_checkpoint_with_polls_but_no_election_stream_is_refused():
    import json

    world, sc = build_world(small_election())
    for _ in range(4):
        world.step()
    arrays, meta = world.state()
    data = json.loads(meta)
    del data["rngs"]["election"]
    copy, _ = build_world(sc)
    with pytest.raises(ValueError, match="streams missing.*election"):
        copy.load_state(arrays, json.dumps(data))


def test_an_election_without_citizens_is_refused():
    with pytest.raises(UserError, match="no citizen is left to vote"):
        load_scenario("candidate_env", ["users=40", "roles.influencer.count=37"])


def test_a_poll_reads_turnout_against_the_whole_electorate():
    # half the voters rarely visit and stand left, half visit daily and stand right:
    # polls of any panel size agree with the election on average
    n = 4000
    visits = np.concatenate([np.full(n, 0.05), np.full(n, 0.9)])
    opinions = np.concatenate([np.full(n, -0.5), np.full(n, 0.5)])
    pop = population(opinions, candidates=[-0.5, 0.5], visits=visits)
    election = Election(np.array([0, 1]), panel=3, poll_every=1, days=(0,))
    truth = election.expected_shares(pop)[0]
    rng = np.random.default_rng(8)
    shares = [election.poll(0, pop, rng).share[0] for _ in range(3000)]
    assert np.nanmean(shares) == pytest.approx(truth, abs=0.02)


def test_a_run_records_polls_and_votes_and_show_prints_them(tmp_path):
    sc = small_election("record.events=all")
    path = tmp_path / "sc.yaml"
    path.write_text(sc.resolved_yaml())
    out = tmp_path / "run"
    assert invoke("run", path, "--out", out, "-q").exit_code == 0
    with duckdb.connect(str(out / "events.duckdb"), read_only=True) as con:
        polls = con.execute("SELECT step, count(*), sum(share) FROM polls GROUP BY step").fetchall()
        votes = con.execute(
            "SELECT step, count(*) FROM votes GROUP BY step ORDER BY step"
        ).fetchall()
        candidates = {c for (c,) in con.execute("SELECT DISTINCT candidate FROM votes").fetchall()}
    assert sorted(s for s, _, _ in polls) == [2, 5, 8, 11]
    assert all(n == 2 and total == pytest.approx(1.0) for _, n, total in polls)
    assert [s for s, _ in votes] == [5, 11]
    world, _ = build_world(sc)
    assert candidates <= set(world.population.ids_of(Role.CANDIDATE).tolist())
    shown = invoke("show", out)
    assert shown.exit_code == 0
    assert "polls (the last ten" in shown.output and "election days" in shown.output


def test_an_election_day_past_the_last_step_through_the_cli_is_one_line(tmp_path):
    result = invoke("run", "election", "--steps", "50", "--out", tmp_path / "r", "-q")
    one_line_error(result, "election.days", "past the last step")
