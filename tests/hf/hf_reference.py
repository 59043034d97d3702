"""Helpers: build a transformers model on the meta device and count what torch counts."""

from __future__ import annotations

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode


def hf_model(config, architecture: str, attn: str = "sdpa", experts: str | None = "batched_mm"):
    """`architecture` of transformers built on meta from `config` (no weights, no download).

    `experts`: how MoE models (Mixtral, Qwen2-MoE) run their stacked experts. transformers'
    default, "grouped_mm" (`experts=None`), fails on meta in fp32 and FlopCounterMode does not
    count it; "batched_mm" gathers each token's k experts and runs them as bmm, which it counts
    exactly. Models without experts ignore it."""
    config._attn_implementation = attn
    if experts is not None:
        config._experts_implementation = experts
    with torch.device("meta"):
        model = getattr(transformers, architecture)(config)
    for module in model.modules():
        # GPT-2 peeks at the first and last token ids to warn about padding: .item() on meta fails;
        # it is a warning only and runs no matmul
        if hasattr(module, "warn_if_padding_and_no_attention_mask"):
            module.warn_if_padding_and_no_attention_mask = lambda *args: None
    return model.eval()


def hf_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def hf_flops(model, batch: int, seq: int) -> tuple[int, dict[str, int]]:
    """Total forward FLOPs of `model` on (batch, seq) token ids, and the count per aten op."""
    ids = torch.zeros(batch, seq, dtype=torch.long, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(input_ids=ids)
    per_op = {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}
    return counter.get_total_flops(), per_op
