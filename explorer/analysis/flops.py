"""Forward FLOPs, exactly as torch.utils.flop_counter.FlopCounterMode counts them.

2 FLOPs per multiply-add of every matmul and convolution; the attention score (Q K^T)
and context (A V) matmuls in full, S x S, even when causal; bias adds, norms, softmax and
activations are element-wise work, estimated apart and never mixed into the matmul count.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from explorer.analysis.params import COMPONENTS
from explorer.design.model import LayerDims, StackSpec, dims
from explorer.design.slots import block_linears


@dataclass(frozen=True, slots=True)
class FlopCount:
    """Forward FLOPs of one batch: matmul FLOPs by component, element-wise ops apart."""

    batch: int
    seq: int
    by_component: dict[str, int]
    per_layer: tuple[tuple[str, int], ...]
    elementwise: int

    @property
    def forward(self) -> int:
        return sum(self.by_component.values())

    @property
    def train_step(self) -> int:
        """Forward + backward: the usual 3x forward (backward computes two matmuls per forward one)."""
        return 3 * self.forward


def _linear_flops(tokens: int, out_f: int, in_f: int, low_rank: int, lora_rank: int) -> int:
    if low_rank:
        f = 2 * tokens * low_rank * (in_f + out_f)
    else:
        f = 2 * tokens * in_f * out_f
    if lora_rank:
        f += 2 * tokens * lora_rank * (in_f + out_f)
    return f


@lru_cache(maxsize=65536)
def layer_flops(d: LayerDims, batch: int, seq: int) -> tuple[tuple[tuple[str, int], ...], int]:
    """((component, matmul FLOPs) pairs, element-wise op estimate) of one layer's forward (cached)."""
    n = batch * seq
    width = d.d_model
    f = dict.fromkeys(COMPONENTS, 0)
    ew = 0
    k = d.kind
    if k == "embedding":
        if d.embedding_size != width:
            f["embedding"] += 2 * n * d.embedding_size * width
        ew += n * d.embedding_size * (2 + (5 if d.embedding_norm else 0))
    elif k in ("block", "attention", "ffn"):
        with_attn = k in ("block", "attention")
        with_ffn = k in ("block", "ffn")
        lora = d.lora_rank if k == "block" else 0
        low = d.low_rank if k == "block" else 0
        for _path, out_f, in_f, _bias, comp in block_linears(d, with_attn, with_ffn):
            f[comp] += _linear_flops(n, out_f, in_f, low, lora)
            ew += n * out_f  # bias add / LoRA add
        if with_attn:
            # scores Q K^T and context A V: B * H * S * S * head_dim multiply-adds each
            f["attention"] += 2 * 2 * batch * d.n_heads * seq * seq * d.head_dim
            ew += 5 * batch * d.n_heads * seq * seq + n * width
        if with_ffn:
            ew += n * d.d_ff * (8 if d.gated else 4) + n * width
        if k == "block":
            ew += 2 * 5 * n * width
            if d.halting:
                f["other"] += 2 * n * width
                ew += 6 * n
            if d.timestep_signal:
                ew += n * width
    elif k == "norm":
        ew += 5 * n * width
    elif k == "linear":
        f["other"] += 2 * n * width * width
    elif k in ("lstm", "gru"):
        gates = 4 if k == "lstm" else 3
        f["other"] += 2 * n * (2 * width) * gates * width
        ew += n * gates * width * 4
    elif k == "conv":
        f["other"] += 2 * n * width * (width // max(d.groups, 1)) * d.kernel_size
    elif k == "pooler":
        f["head"] += 2 * batch * width * width
        ew += batch * width
    elif k == "lm_head":
        decoder_in = width
        if d.transform:
            f["head"] += 2 * n * width * d.embedding_size
            ew += n * d.embedding_size * 9
            decoder_in = d.embedding_size
        f["head"] += 2 * n * decoder_in * d.vocab_size
    elif k == "head":
        rows = batch if d.task == "sequence" else n
        f["head"] += 2 * rows * width * d.n_outputs
    return tuple(f.items()), ew


def count_flops(spec: StackSpec, batch: int = 1, seq: int = 128) -> FlopCount:
    """Forward FLOPs of `spec` for a (batch, seq) input. Sharing never changes these."""
    total = dict.fromkeys(COMPONENTS, 0)
    per_layer = []
    ew_total = 0
    for layer in spec.layers:
        f, ew = layer_flops(dims(layer, spec.settings), batch, seq)
        for key, value in f:
            total[key] += value
        per_layer.append((layer.id, sum(v for _k, v in f)))
        ew_total += ew
    return FlopCount(batch, seq, total, tuple(per_layer), ew_total)
