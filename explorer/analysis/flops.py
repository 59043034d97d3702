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
from explorer.kinds import kind


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
def layer_flops(d: LayerDims, batch: int, seq: int) -> tuple[tuple[tuple[str, int], ...], int]:
    """((component, matmul FLOPs) pairs, element-wise op estimate) of one layer's forward (cached);
    each kind's module says what its layer computes."""
    by_component, elementwise = kind(d.kind).flops(d, batch, seq)
    f = dict.fromkeys(COMPONENTS, 0)
    f.update(by_component)
    return tuple(f.items()), elementwise


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
