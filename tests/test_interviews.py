"""Interviews (townsquare/interviews.py): a researcher's question to a user at a step,
answered with its stance (and its words where the run has words), recorded in the
``interviews`` table, and changing nothing in the run."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from cli_checks import one_line_error, quick_run
from resume_checks import assert_resume_is_exact
from townsquare.config import validate
from townsquare.runner import Run

BASE = {"users": 500, "steps": 6, "seed": 3}
QUESTIONS = [
    {"step": 2, "user": 7, "question": "Where do you stand?"},
    {"step": 5, "user": 0, "question": "And now?"},
    {"step": 5, "user": 400, "question": "Do you trust the news?"},
]


def table(run_dir, name="interviews") -> list[dict]:
    with duckdb.connect(str(run_dir / "events.duckdb"), read_only=True) as con:
        cur = con.execute(f"SELECT * FROM {name} ORDER BY ALL")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.mark.parametrize("extra", [{}, {"text": {"backend": "offline"}}])
def test_an_interview_changes_nothing_in_the_run(tmp_path, extra):
    plain = tmp_path / "plain"
    asked = tmp_path / "asked"
    Run.start(validate({**BASE, **extra}), plain).execute()
    Run.start(validate({**BASE, **extra, "interviews": QUESTIONS}), asked).execute()
    assert (plain / "metrics.parquet").read_bytes() == (asked / "metrics.parquet").read_bytes()
    assert table(plain, "posts") == table(asked, "posts")  # the words of posts too
    assert pq.read_table(plain / "users.parquet") == pq.read_table(asked / "users.parquet")


def test_an_answer_is_the_users_stance_at_the_end_of_the_step(tmp_path):
    out = tmp_path / "r"
    Run.start(validate({**BASE, "interviews": QUESTIONS}), out).execute()
    rows = table(out)
    assert [(r["step"], r["user_id"], r["question"]) for r in rows] == sorted(
        (q["step"], q["user"], q["question"]) for q in QUESTIONS
    )
    users = pq.read_table(out / "users.parquet").to_pandas().set_index("id")
    for r in rows:
        assert r["text"] is None  # no text backend, no words
        assert r["stance"] == r["opinion"]
        if r["step"] == BASE["steps"] - 1:  # asked at the last step: the final opinion
            assert r["opinion"] == pytest.approx(users.loc[r["user_id"], "opinion_end_t0"])
            assert r["role"] == users.loc[r["user_id"], "role"]
            assert r["followers"] == users.loc[r["user_id"], "followers"]


def test_with_a_text_backend_the_answer_has_words_in_its_stance(tmp_path):
    out = tmp_path / "r"
    Run.start(
        validate({**BASE, "interviews": QUESTIONS, "text": {"backend": "offline"}}), out
    ).execute()
    rows = table(out)
    assert all(r["text"] for r in rows)
    # the same question to the same user at the same step: the same words
    again = tmp_path / "again"
    Run.start(
        validate({**BASE, "interviews": QUESTIONS, "text": {"backend": "offline"}}), again
    ).execute()
    assert table(again) == rows


def test_a_language_model_user_answers_with_its_own_model(tmp_path):
    out = tmp_path / "r"
    scenario = validate(
        {
            **BASE,
            "roles": {"influencer": {"policy": "lm:offline", "count": 10}},
            "interviews": [{"step": 3, "user": 2, "question": "What do you think?"}],
        }
    )
    run = Run.start(scenario, out)
    assert run.world.population.role[2] == 1  # an influencer: the first accounts
    run.execute()
    (row,) = table(out)
    assert row["text"] and row["role"] == "influencer"
    # the stance is what its words say, not its hidden opinion
    from townsquare.text.offline import OfflineGenerator
    from townsquare.text.stance import stance_reader

    read = stance_reader("pack", OfflineGenerator()).read([row["text"]], [0])[0]
    assert row["stance"] == pytest.approx(np.clip(read, -1, 1))


def test_interviews_are_kept_when_no_events_are(tmp_path):
    out = tmp_path / "r"
    Run.start(
        validate({**BASE, "interviews": QUESTIONS, "record": {"events": "none"}}), out
    ).execute()
    assert len(table(out)) == len(QUESTIONS)
    with duckdb.connect(str(out / "events.duckdb"), read_only=True) as con:
        names = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert names == {"interviews"}


def test_a_resumed_run_asks_each_question_once(tmp_path):
    scenario = validate({**BASE, "interviews": QUESTIONS, "record": {"flush_every": 2}})
    assert_resume_is_exact(scenario, tmp_path, stop_after=3, tables=("posts", "interviews"))
    assert len(table(tmp_path / "stopped")) == len(QUESTIONS)


@pytest.mark.parametrize(
    "interview, fragments",
    [
        ({"step": 1, "user": 500, "question": "?"}, ["interviews[0].user", "no user 500"]),
        ({"step": 6, "user": 1, "question": "?"}, ["interviews[0].step", "6-step run"]),
        ({"step": 1, "user": 1, "question": "?", "topic": 2}, ["interviews[0].topic"]),
        ({"step": 1, "user": 1, "question": ""}, ["interviews.0.question"]),
    ],
)
def test_a_bad_interview_is_one_line(tmp_path, interview, fragments):
    path = tmp_path / "s.yaml"
    path.write_text(
        "users: 500\nsteps: 6\ninterviews:\n"
        + "  - {" + ", ".join(f"{k}: {v!r}" for k, v in interview.items()) + "}\n"
    )  # fmt: skip
    one_line_error(quick_run(path, tmp_path / "out"), *fragments)


def test_an_interview_of_a_user_beyond_a_networks_file_is_one_line(tmp_path, data_dir):
    path = tmp_path / "s.yaml"
    path.write_text(
        f"graph: {{kind: polblogs, path: {data_dir / 'polblogs'}}}\nsteps: 3\n"
        "interviews:\n  - {step: 1, user: 5000, question: 'hello?'}\n"
    )
    one_line_error(quick_run(path, tmp_path / "out"), "interviews[0].user", "no user 5000", "1,490")
