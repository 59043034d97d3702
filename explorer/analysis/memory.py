"""Memory for inference and training of one batch, in bytes.

Weights, gradients and optimizer state scale with *unique* parameters (sharing shrinks
them); activations and the KV cache scale with executed layers (sharing does not).
Activation figures are estimates for a memory-efficient attention kernel (no S x S
matrix kept); weights, gradients, optimizer and KV cache are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.analysis.params import DTYPE_BYTES, ParamCount
from explorer.design.model import StackSpec, dims
from explorer.design.streams import layer_lengths
from explorer.kinds import kind


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    dtype: str
    weights: int
    kv_cache: int                 # decoding cache for the whole sequence (causal designs)
    activations_inference: int    # peak working set of the largest layer
    gradients: int
    optimizer: int                # Adam m and v in fp32, plus an fp32 master copy for 16-bit weights
    activations_training: int     # saved for backward, no checkpointing

    @property
    def inference(self) -> int:
        return self.weights + self.activations_inference + self.kv_cache

    @property
    def training(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations_training


def _per_layer(spec: StackSpec, batch: int, seq: int, target_seq: int | None = None):
    """(layer, dims, tokens, peak live elements, elements saved for backward, K/V cache elements)
    of each layer (an encoder-decoder's decoder layers over the target's length)."""
    for layer, (length, memory) in zip(spec.layers, layer_lengths(spec, seq, target_seq)):
        d = dims(layer, spec.settings)
        k = kind(d.kind)
        n = batch * length
        if k.reads_memory:
            live, keep = k.working_set(d, n, batch, memory=memory)
            cache = k.kv_cache(d, n, memory=batch * memory)
        else:
            (live, keep), cache = k.working_set(d, n, batch), k.kv_cache(d, n)
        yield layer, d, n, live, keep, cache


def estimate_memory(spec: StackSpec, params: ParamCount, batch: int, seq: int, dtype: str = "fp32",
                    target_seq: int | None = None) -> MemoryEstimate:
    b = DTYPE_BYTES[dtype]
    peak = 0
    saved = 0
    kv_cache = 0
    for _layer, _d, _n, live, keep, cache in _per_layer(spec, batch, seq, target_seq):
        peak = max(peak, live)
        saved += keep
        kv_cache += cache
    weights = params.unique * b
    master = 4 if b < 4 else 0
    return MemoryEstimate(
        dtype=dtype,
        weights=weights,
        kv_cache=kv_cache * b,
        activations_inference=peak * b,
        gradients=weights,
        optimizer=params.unique * (8 + master),
        activations_training=saved * b,
    )


def training_activation_elements(spec: StackSpec, batch: int, seq: int, checkpointing: bool = False) -> int:
    """Activation elements kept for backward over the whole stack.

    With activation checkpointing only each layer's input (n x d) is kept, plus the
    largest layer's own saved set while it is recomputed.
    """
    total = 0
    largest = 0
    inputs = 0
    for _layer, d, n, _live, keep, _cache in _per_layer(spec, batch, seq):
        total += keep
        largest = max(largest, keep)
        inputs += n * d.d_model
    return inputs + largest if checkpointing else total
