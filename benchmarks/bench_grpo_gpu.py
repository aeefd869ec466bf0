"""What a model of real size costs on a GPU (docs/grpo.md, "What it costs"): not part of
`make bench` (it needs a CUDA device and the llm extra).

The model is a GPT-2 of 459 M parameters (GPT-2 medium's body: 24 layers, 1,024 wide,
16 heads; with Qwen2.5's 151,936-token vocabulary, the size class of Qwen2.5-0.5B) with
random weights, and a word-level tokenizer of as many letter-only words, both built
here: nothing is downloaded, and the cost of a forward pass does not depend on what the
weights are. (GPT-2, not Qwen2's own architecture: `transformers` would pair a Qwen2
model folder with Qwen2's tokenizer class, not the word-level one built here.) Measured:

* prompts/s through the ``transformers`` backend (`text/transformers_backend.py`), the
  path of an ``lm:transformers:PATH`` policy line: 64 candidate prompts, 40-token
  completions, in batches of 1, 16 and 64 (each request sampled under its own seed);
* seconds per GRPO step (`learn/grpo.py`) for the candidate, 16 completions of 40
  tokens a step (8 per prompt), with every weight trained and with LoRA rank 16, the
  first step (warm-up) left out.

``--tiny`` runs the same on a small model, to check the script on a CPU.
Writes the JSON to ``--out`` (default benchmarks/results/grpo_gpu.json).
"""

from __future__ import annotations

import argparse
import json
import string
import tempfile
import time
from pathlib import Path

HALF_B = dict(n_embd=1024, n_layer=24, n_head=16, vocab_size=151_936, n_positions=1024)
TINY = dict(n_embd=64, n_layer=2, n_head=4, vocab_size=5_000, n_positions=512)


def letters(i: int) -> str:
    """The i-th letter-only word (a, b, ..., z, ba, bb, ...): words the garbled-text filter
    reads as text."""
    out = ""
    while True:
        out = string.ascii_lowercase[i % 26] + out
        i //= 26
        if i == 0:
            return out + "x"  # never a one-letter word


def build_model(folder: Path, shape: dict) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from townsquare.policies.lm import TEMPLATES
    from townsquare.text.offline import OfflineGenerator

    pack = OfflineGenerator().pack_for(0)
    words = ["[UNK]", "[EOS]"]
    seen = set(words)
    for text in [*pack.pro_claims, *pack.con_claims, *TEMPLATES.values()]:
        for w in pre_tokenizers.Whitespace().pre_tokenize_str(text):
            if w[0] not in seen:
                seen.add(w[0])
                words.append(w[0])
    i = 0
    while len(words) < shape["vocab_size"]:
        w = letters(i)
        i += 1
        if w not in seen:
            seen.add(w)
            words.append(w)
    tok = Tokenizer(models.WordLevel({w: k for k, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", eos_token="[EOS]", pad_token="[EOS]"
    )
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(**shape, eos_token_id=1, bos_token_id=1, pad_token_id=1)
    model = GPT2LMHeadModel(config)
    model.save_pretrained(folder)
    return folder


def generation(model: Path, device: str, sizes=(1, 16, 64), prompts: int = 64) -> dict:
    import torch

    from townsquare.policies.lm import TEMPLATES
    from townsquare.text.backend import Request
    from townsquare.text.transformers_backend import TransformersBackend

    backend = TransformersBackend(model, device=device)
    prompt = TEMPLATES["candidate"].format(
        position=-0.5, topic="Climate policy", poll_lead=0.02, days_left=0.3, feed_stance=0.1
    )
    requests = [Request(prompt, 40, 0.8, seed) for seed in range(prompts)]
    out = {"parameters_m": sum(p.numel() for p in backend.lm.parameters()) / 1e6}
    backend.batch_size = 16
    backend.generate(requests[:16])  # warm-up
    for size in sizes:
        backend.batch_size = size
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        texts = backend.generate(requests)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        out[f"batch_{size}"] = {
            "prompts_per_s": prompts / seconds,
            "seconds": seconds,
            "words_per_completion": sum(len(t.split()) for t in texts) / len(texts),
        }
    return out


def grpo_steps(model: Path, device: str, lora: int, steps: int, work: Path) -> dict:
    from townsquare.learn.grpo import GRPOSettings, train_grpo

    stamps = []
    s = GRPOSettings(
        model=str(model),
        overrides=("users=300",),
        steps=steps,
        batch=16,
        num_generations=8,
        max_completion_length=40,
        learning_rate=1e-5,
        reader="lexicon",
        panel=1000,
        lora=lora,
        device=device,
    )
    start = time.perf_counter()
    result = train_grpo(
        s, work / f"grpo_lora{lora}", lambda row: stamps.append(time.perf_counter())
    )
    total = time.perf_counter() - start
    per_step = [b - a for a, b in zip(stamps[:-1], stamps[1:], strict=False)]
    return {
        "lora": lora,
        "steps": steps,
        "seconds_per_step": sum(per_step) / len(per_step) if per_step else float("nan"),
        "first_step_s": stamps[0] - start if stamps else float("nan"),
        "total_s": total,
        "mean_reward": sum(r["reward"] for r in result.curve) / len(result.curve),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--device", default=None)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "grpo_gpu.json"))
    args = parser.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    results: dict = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "model": "tiny" if args.tiny else "GPT-2 of 0.5 B parameters, random weights",
        "torch": torch.__version__,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save():
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "model", TINY if args.tiny else HALF_B)
        results["generation"] = generation(model, device)
        save()
        for lora in (0, 16):
            try:
                results[f"grpo_lora{lora}"] = grpo_steps(model, device, lora, args.steps, Path(tmp))
            except Exception as exc:  # report what failed and keep what was measured
                results[f"grpo_lora{lora}"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            save()


if __name__ == "__main__":
    main()
