from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from townsquare.text.offline import (
    TONES,
    OfflineGenerator,
    TopicPack,
    builtin_packs,
    claims_for,
    load_pack,
)


def _pack_dict(name: str = "climate") -> dict:
    return yaml.safe_load(builtin_packs()[name].read_text())


def _write(tmp_path: Path, data: dict, name: str = "pack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _has_claim(text: str, claims: list[str]) -> bool:
    low = text.lower()
    return any(c.lower() in low for c in claims)


# ------------------------------------------------------------------ packs


def test_builtin_packs_load():
    packs = builtin_packs()
    assert len(packs) >= 4
    for name, path in packs.items():
        pack = load_pack(name)
        assert pack == load_pack(path)
        assert pack.topic == name
        assert len(pack.pro_claims) >= 8 and len(pack.con_claims) >= 8
        assert not set(pack.pro_claims) & set(pack.con_claims)
        for tone in TONES:
            assert getattr(pack.tones, tone)


def test_unknown_pack_name():
    with pytest.raises(ValueError, match="no topic pack"):
        load_pack("no-such-topic")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(mood="grumpy"), "mood"),
        (lambda d: d.pop("title"), "title"),
        (lambda d: d["tones"]["angry"].append("no placeholder here"), "tones.angry"),
        (lambda d: d["replies"]["agree"].append("{claim} and {oops}"), "replies.agree"),
        (lambda d: d["hashtags"].update(extra=["#x"]), "hashtags.extra"),
        (lambda d: d.update(pro_claims=d["pro_claims"][:3]), "pro_claims"),
    ],
)
def test_bad_pack_names_file_and_field(tmp_path, mutate, field):
    data = _pack_dict()
    mutate(data)
    path = _write(tmp_path, data, "broken_pack.yaml")
    with pytest.raises(ValueError) as info:
        load_pack(path)
    message = str(info.value)
    assert "broken_pack.yaml" in message
    assert field in message


def test_pack_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="list.yaml"):
        load_pack(path)


# ------------------------------------------------------------------ generation


def _batch(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(-1, 1, n),
        rng.integers(0, 8, n),
        rng.integers(0, 3, n),
        rng.choice(10_000, n, replace=False),
    )


def test_deterministic_and_seed_dependent():
    stances, topics, kinds, keys = _batch()
    a = OfflineGenerator(seed=3).generate(stances, topics, kinds, keys=keys)
    b = OfflineGenerator(seed=3).generate(stances, topics, kinds, keys=keys)
    c = OfflineGenerator(seed=4).generate(stances, topics, kinds, keys=keys)
    assert a == b
    assert len(a) == len(stances) and all(isinstance(t, str) and t for t in a)
    assert sum(x != y for x, y in zip(a, c, strict=True)) > len(a) // 2


def test_item_text_independent_of_batch():
    stances, topics, kinds, keys = _batch()
    gen = OfflineGenerator(seed=7)
    full = gen.generate(stances, topics, kinds, keys=keys)
    perm = np.random.default_rng(1).permutation(len(stances))
    shuffled = gen.generate(stances[perm], topics[perm], kinds[perm], keys=keys[perm])
    assert [full[i] for i in perm] == shuffled
    sub = perm[:17]
    assert gen.generate(stances[sub], topics[sub], kinds[sub], keys=keys[sub]) == [
        full[i] for i in sub
    ]
    # a single item on its own
    assert gen.generate(stances[:1], topics[:1], kinds[:1], keys=keys[:1]) == full[:1]


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_stance_sign_selects_side(kind):
    gen = OfflineGenerator(seed=0)
    n = 80
    topics = np.arange(n) % len(gen.packs)
    keys = np.arange(n)
    kinds = np.full(n, kind)
    for stance, side in ((0.8, 0), (-0.8, 1)):
        texts = gen.generate(np.full(n, stance), topics, kinds, keys=keys)
        for text, topic in zip(texts, topics, strict=True):
            claims = gen.claims_for(int(topic))
            assert _has_claim(text, claims[side]), text
            assert not _has_claim(text, claims[1 - side]), text


def test_undecided_mixes_both_sides():
    gen = OfflineGenerator(seed=0)
    texts = gen.generate(np.full(40, 0.05), np.zeros(40, int), np.zeros(40, int))
    pro, con = gen.claims_for(0)
    assert all(_has_claim(t, pro) and _has_claim(t, con) for t in texts)


def test_weak_stances_hedge_strong_stances_do_not():
    gen = OfflineGenerator(seed=0)
    n = 200
    hedges = ("i think", "maybe", "could be wrong", "seems to me", "starting to think", "probably")
    weak = gen.generate(np.full(n, 0.2), np.zeros(n, int), np.zeros(n, int))
    strong = gen.generate(np.full(n, 0.95), np.zeros(n, int), np.zeros(n, int))
    assert sum(any(h in t.lower() for h in hedges) for t in weak) > n // 2
    assert sum(any(h in t.lower() for h in hedges) for t in strong) == 0
    assert sum("#" in t for t in strong) > sum("#" in t for t in weak)


def test_forced_tone():
    gen = OfflineGenerator(seed=0)
    pack = gen.pack_for(0)
    texts = gen.generate([0.5] * 30, [0] * 30, [0] * 30, tones=["sarcastic"] * 30)
    prefixes = [t.split("{claim}")[0].strip().lower() for t in pack.tones.sarcastic]
    assert all(any(t.lower().startswith(p) for p in prefixes) for t in texts)
    with pytest.raises(ValueError, match="unknown tone"):
        gen.generate([0.5], [0], [0], tones=["furious"])


def test_reply_agreement_follows_parent_sign():
    data = _pack_dict("economy")
    data["replies"] = {"agree": ["AGREE: {claim}."], "disagree": ["DISAGREE: {claim}."]}
    pack = TopicPack.model_validate(data)
    gen = OfflineGenerator([pack], seed=0)
    own = np.array([0.7, 0.7, -0.7, -0.7])
    parent = np.array([0.4, -0.4, -0.4, 0.4])
    texts = gen.generate(own, np.zeros(4, int), np.full(4, 2), parent_stances=parent)
    assert [t.split(":")[0] for t in texts] == ["AGREE", "DISAGREE", "AGREE", "DISAGREE"]
    assert _has_claim(texts[1], pack.pro_claims) and _has_claim(texts[2], pack.con_claims)
    # without parent stances the reply's own sign decides
    texts = gen.generate(own, np.zeros(4, int), np.full(4, 2))
    assert [t.split(":")[0] for t in texts] == ["AGREE", "AGREE", "DISAGREE", "DISAGREE"]


def test_topic_index_wraps_and_claims_for():
    gen = OfflineGenerator(seed=0)
    k = len(gen.packs)
    assert gen.claims_for(1) == gen.claims_for(1 + k) == claims_for(1)
    assert [p.topic for p in gen.packs] == sorted(builtin_packs())


def test_input_validation():
    gen = OfflineGenerator()
    with pytest.raises(ValueError, match="kinds"):
        gen.generate([0.5], [0], [5])
    with pytest.raises(ValueError, match="keys"):
        gen.generate([0.5], [0], [0], keys=[-1])
    with pytest.raises(ValueError, match="topics"):
        gen.generate([0.5, 0.2], [0], [0, 0])
