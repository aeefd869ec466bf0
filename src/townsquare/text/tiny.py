"""A tiny causal language model built in place, for tests and benchmarks: nothing is
downloaded. A word-level tokenizer trained on ``corpus`` and a GPT-2 of random weights
(seeded), saved as a folder that `transformers` (and so ``lm:transformers:PATH`` and
``train --algo grpo --model PATH``) loads like any model. Needs the ``text`` extra."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def tiny_causal_lm(
    folder: str | Path,
    corpus: Iterable[str],
    n_positions: int = 256,
    n_embd: int = 32,
    n_layer: int = 2,
    n_head: int = 2,
    seed: int = 0,
) -> Path:
    """Write the model and its tokenizer into ``folder``; returns it."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = Path(folder)
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        list(corpus), trainers.WordLevelTrainer(special_tokens=["[UNK]", "[EOS]"])
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", eos_token="[EOS]", pad_token="[EOS]"
    )
    fast.save_pretrained(folder)
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=fast.vocab_size,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        eos_token_id=fast.eos_token_id,
        bos_token_id=fast.eos_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder
