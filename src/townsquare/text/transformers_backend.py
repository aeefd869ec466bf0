"""A local causal language model from a directory path (CPU or GPU), via transformers.

Requests are generated in batches (``batch_size``, left-padded) with one forward pass
per token for the whole batch, but each request draws its tokens from its own random
generator seeded by its ``seed``: a completion does not depend on the other requests
in its batch, nor on the batch's order (only, at worst, on the last bits of the
floating-point sums that padding changes; a run's replay cache makes replays exact
regardless). Needs the ``llm`` extra.
"""

from __future__ import annotations

from pathlib import Path

from .backend import Request, TextBackendError


class TransformersBackend:
    name = "transformers"

    def __init__(self, model_path: str | Path, device: str | None = None, batch_size: int = 16):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own progress bars say how far a run is
        path = Path(model_path)
        if not (path / "config.json").exists():
            raise TextBackendError(f"{path}: no causal language model here (config.json missing)")
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size}: at least 1")
        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = int(batch_size)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.tokenizer.padding_side = "left"  # new tokens follow every prompt directly
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.lm = AutoModelForCausalLM.from_pretrained(str(path)).to(self.device).eval()
        self.model = str(path.resolve())  # names the model in cache keys

    def generate(self, requests: list[Request]) -> list[str]:
        out: list[str] = []
        for start in range(0, len(requests), self.batch_size):
            batch = requests[start : start + self.batch_size]
            try:
                out += self._generate(batch)
            except Exception as exc:  # surface which items failed
                end = start + len(batch) - 1
                raise TextBackendError(f"items {start}-{end}: generation failed: {exc}") from exc
        return out

    def _generate(self, batch: list[Request]) -> list[str]:
        torch = self.torch
        ids = self.tokenizer([r.prompt for r in batch], return_tensors="pt", padding=True).to(
            self.device
        )
        sampler = _RowSampler(
            [r.seed for r in batch], [r.temperature for r in batch], self.device, torch
        )
        with torch.no_grad():
            tokens = self.lm.generate(
                **ids,
                max_new_tokens=max(r.max_tokens for r in batch),
                # the rows' own sampler picks each token: greedy search then keeps it
                do_sample=False,
                logits_processor=[sampler],
                pad_token_id=self.tokenizer.pad_token_id,
                num_beams=1,
            )
        new = tokens[:, ids["input_ids"].shape[1] :]
        return [
            self.tokenizer.decode(new[i, : r.max_tokens], skip_special_tokens=True).strip()
            for i, r in enumerate(batch)
        ]


class _RowSampler:
    """A logits processor that samples each row's next token with the row's own
    generator and temperature (0: the most likely token), and leaves only that token
    possible."""

    def __init__(self, seeds, temperatures, device, torch):
        self.torch = torch
        self.temperatures = [float(t) for t in temperatures]
        self.generators = []
        for seed in seeds:
            g = torch.Generator(device=device)
            g.manual_seed(int(seed))
            self.generators.append(g)

    def __call__(self, input_ids, scores):
        torch = self.torch
        chosen = torch.empty(scores.shape[0], dtype=torch.long, device=scores.device)
        for i, (g, t) in enumerate(zip(self.generators, self.temperatures, strict=True)):
            if t > 0:
                probs = torch.softmax(scores[i].float() / t, dim=-1)
                chosen[i] = torch.multinomial(probs, 1, generator=g)[0]
            else:
                chosen[i] = scores[i].argmax()
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, chosen[:, None], 0.0)
        return out
