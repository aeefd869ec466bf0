"""A local causal language model from a directory path (CPU or GPU), via transformers.

Each request is sampled with its own ``seed`` (``torch.manual_seed``), so a completion
does not depend on the batch it came in. Needs the ``llm`` extra.
"""

from __future__ import annotations

from pathlib import Path

from .backend import Request, TextBackendError


class TransformersBackend:
    name = "transformers"

    def __init__(self, model_path: str | Path, device: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_path)
        if not (path / "config.json").exists():
            raise TextBackendError(f"{path}: no causal language model here (config.json missing)")
        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.lm = AutoModelForCausalLM.from_pretrained(str(path)).to(self.device).eval()
        self.model = str(path.resolve())  # names the model in cache keys

    def generate(self, requests: list[Request]) -> list[str]:
        torch = self.torch
        out = []
        for i, request in enumerate(requests):
            ids = self.tokenizer(request.prompt, return_tensors="pt").to(self.device)
            torch.manual_seed(request.seed)
            sample = request.temperature > 0
            try:
                with torch.no_grad():
                    tokens = self.lm.generate(
                        **ids,
                        max_new_tokens=request.max_tokens,
                        do_sample=sample,
                        temperature=request.temperature if sample else None,
                        pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                    )
            except Exception as exc:  # surface which item failed
                raise TextBackendError(f"item {i}: generation failed: {exc}") from exc
            new = tokens[0, ids["input_ids"].shape[1] :]
            out.append(self.tokenizer.decode(new, skip_special_tokens=True).strip())
        return out
