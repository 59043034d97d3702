"""Memory for inference and training of one batch, in bytes.

Weights, gradients and optimizer state scale with *unique* parameters (sharing shrinks
them); activations and the KV cache scale with executed layers (sharing does not).
Activation figures are estimates for a memory-efficient attention kernel (no S x S
matrix kept); weights, gradients, optimizer and KV cache are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.analysis.params import DTYPE_BYTES, ParamCount
from explorer.design.model import LayerDims, StackSpec, dims


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


def _working_set(d: LayerDims, n: int, batch: int) -> tuple[int, int]:
    """(peak live elements in inference, elements saved for backward) of one layer."""
    w = d.d_model
    k = d.kind
    if k == "embedding":
        e = d.embedding_size
        return n * (2 * e + w), n * (2 * e + (w if e != w else 0))
    if k in ("block", "attention", "ffn"):
        attn = ffn = 0
        saved = 0
        if k in ("block", "attention"):
            kv = 0 if d.kv_from else 2 * d.kv_width    # a layer reusing K/V holds the source's tensors
            attn = n * (3 * w + 2 * d.q_width + kv)
            saved += n * (2 * w + 2 * d.q_width + kv) + batch * d.n_heads * (n // max(batch, 1))
        if k in ("block", "ffn"):
            hidden = d.d_ff * (3 if d.gated else 2)
            ffn = n * (3 * w + hidden)
            # kept for backward: up (and gate) outputs, the activation, and for a gated FFN their product
            saved += n * (2 * w + d.d_ff * (4 if d.gated else 2))
        return max(attn, ffn), saved
    if k == "lm_head":
        width = d.embedding_size if d.transform else w
        return n * (w + width + d.vocab_size), n * (width + 2 * d.vocab_size)
    if k in ("lstm", "gru"):
        gates = 4 if k == "lstm" else 3
        return n * (2 * w + gates * w), n * (2 * w + 2 * gates * w)
    if k in ("pooler", "head"):
        return batch * w * 2 + n * w, batch * w * 2
    return n * 3 * w, n * 2 * w


def _per_layer(spec: StackSpec, batch: int, seq: int):
    """(layer, dims, peak live elements, elements saved for backward) of each layer."""
    for layer in spec.layers:
        d = dims(layer, spec.settings)
        yield (layer, d, *_working_set(d, batch * seq, batch))


def estimate_memory(spec: StackSpec, params: ParamCount, batch: int, seq: int, dtype: str = "fp32") -> MemoryEstimate:
    b = DTYPE_BYTES[dtype]
    n = batch * seq
    peak = 0
    saved = 0
    kv_cache = 0
    for layer, d, live, keep in _per_layer(spec, batch, seq):
        peak = max(peak, live)
        saved += keep
        if layer.kind in ("block", "attention") and d.causal and d.kv_from is None:
            kv_cache += 2 * n * d.kv_width
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
    n = batch * seq
    total = 0
    largest = 0
    inputs = 0
    for _layer, d, _live, keep in _per_layer(spec, batch, seq):
        total += keep
        largest = max(largest, keep)
        inputs += n * d.d_model
    return inputs + largest if checkpointing else total
