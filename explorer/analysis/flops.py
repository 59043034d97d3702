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
from explorer.design.streams import layer_lengths
from explorer.kinds import kind
from explorer.kinds.saving import Flow


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


@lru_cache(maxsize=65536)
def layer_flops(d: LayerDims, batch: int, seq: int, memory: int = 0) -> tuple[tuple[tuple[str, int], ...], int]:
    """((component, matmul FLOPs) pairs, element-wise op estimate) of one layer's forward (cached);
    each kind's module says what its layer computes. `memory`: the encoder output's length, for
    kinds that read it (cross-attention)."""
    k = kind(d.kind)
    by_component, elementwise = k.flops(d, Flow(batch=batch, seq=seq, memory=memory))
    f = dict.fromkeys(COMPONENTS, 0)
    f.update(by_component)
    return tuple(f.items()), elementwise


def count_flops(spec: StackSpec, batch: int = 1, seq: int = 128, target_seq: int | None = None) -> FlopCount:
    """Forward FLOPs of `spec` for a (batch, seq) input (an encoder-decoder's decoder over
    `target_seq`, default seq). Sharing never changes these."""
    total = dict.fromkeys(COMPONENTS, 0)
    per_layer = []
    ew_total = 0
    for layer, (length, memory) in zip(spec.layers, layer_lengths(spec, seq, target_seq)):
        f, ew = layer_flops(dims(layer, spec.settings), batch, length, memory)
        for key, value in f:
            total[key] += value
        per_layer.append((layer.id, sum(v for _k, v in f)))
        ew_total += ew
    return FlopCount(batch, seq, total, tuple(per_layer), ew_total)
