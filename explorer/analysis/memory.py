"""Memory for inference and training of one batch, in bytes.

Weights, gradients and optimizer state scale with *unique* parameters (sharing shrinks
them); activations and the KV cache scale with executed layers (sharing does not).

Training activations are exact: the bytes of the distinct tensors autograd saves in the
forward pass of a training step, parameters excluded, including a standard cross-entropy
on every LM head's logits, as torch's CPU (or, with device="cuda", CUDA) kernels save them
(explorer/kinds/saving.py holds the rules, each kind's `saved()` applies them; tests measure
them with saved_tensors_hooks). On CUDA an LSTM/GRU's cuDNN reserve space is left out and the
figure says so (`activations_training_exact`).
The inference figure's activations are an estimate of the largest layer's working set;
weights, gradients, optimizer state, the KV cache and the caches the built model keeps
(weights assembled from shared head slices, sinusoidal tables) are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from explorer.analysis import torch_version
from explorer.analysis.params import DTYPE_BYTES, ParamCount
from explorer.design.model import StackSpec, dims
from explorer.design.sharing import EMPTY_PLAN, SharingPlan
from explorer.design.slots import layer_tensors
from explorer.design.streams import layer_lengths
from explorer.kinds import kind
from explorer.kinds.saving import Flow, Saved, total_bytes


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    dtype: str
    weights: int
    kv_cache: int                 # decoding cache for the whole sequence (causal designs)
    activations_inference: int    # peak working set of the largest layer
    gradients: int
    optimizer: int                # Adam m and v in fp32, plus an fp32 master copy for 16-bit weights
    activations_training: int     # saved for backward in a training step (with the LM loss), no checkpointing
    kept_caches: int = 0          # what the built model keeps between passes in inference (assembled weights)
    activations_training_exact: bool = True    # False: see the note (a cuDNN buffer left out, another torch)
    activations_training_note: str = ""        # why the figure is not exact, in words ("" when it is)
    activations_training_at_least: bool = False   # not exact but a lower bound (only a kernel's buffer left out)

    @property
    def inference(self) -> int:
        return self.weights + self.activations_inference + self.kv_cache + self.kept_caches

    @property
    def training(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations_training


def _per_layer(spec: StackSpec, batch: int, seq: int, target_seq: int | None = None):
    """(peak live elements, K/V cache elements) of each layer (an encoder-decoder's decoder layers
    over the target's length)."""
    for layer, (length, memory) in zip(spec.layers, layer_lengths(spec, seq, target_seq)):
        d = dims(layer, spec.settings)
        k = kind(d.kind)
        f = Flow(batch=batch, seq=length, memory=memory)
        yield k.working_set(d, f), k.kv_cache(d, f)


def saved_items(spec: StackSpec, batch: int, seq: int, target_seq: int | None = None, dtype: str = "fp32",
                plan: SharingPlan = EMPTY_PLAN, device: str = "cpu") -> list[tuple[Flow, list[Saved]]]:
    """(where the layer sits, what it saves for backward) of every layer in one training forward pass,
    as torch's kernels for `device` ("cpu" or "cuda") save it."""
    layers = spec.layers
    all_dims = [dims(layer, spec.settings) for layer in layers]
    rope_dim = None                       # the stack's rotary tables: the last rotary layer's head width
    for d in all_dims:
        if kind(d.kind).has_heads and d.positional == "rotary":
            rope_dim = d.head_dim
    two_streams = any(layer.target for layer in layers)
    rope_len = max(seq, target_seq or seq) if two_streams else seq
    h, produced, pooled, memory_tag = "h0", False, "", ""
    out = []
    for i, (layer, d, (length, memory)) in enumerate(zip(layers, all_dims, layer_lengths(spec, seq, target_seq))):
        k = kind(d.kind)
        if layer.target:
            memory_tag = h
        following = all_dims[i + 1] if i + 1 < len(all_dims) else None
        f = Flow(batch=batch, seq=length, memory=memory, input_grad=produced, h=h,
                 out=f"h{i + 1}" if k.transforms_hidden else h, layer=layer.id, pooled=pooled,
                 low_precision=DTYPE_BYTES[dtype] < 4, rope_dim=rope_dim, rope_len=rope_len, memory_tag=memory_tag,
                 act_end=d.halting and not (following is not None and following.halting), cuda=device == "cuda")
        # a linear whose input needs no gradient keeps only that input: q, k and v reading the raw stack
        # input (no norm before them) do not keep their assembled weights
        raw = not produced and not (k.transformer_block and d.norm_position == "pre")
        items = list(_saves(d, f)) + _assembled(layer, spec, plan, skip=_QKV if raw else ())
        pooled = next((s.tag for s in items if s.tag and s.tag.startswith("pooled:")), pooled)
        if k.transforms_hidden:
            h, produced = f.out, True
        if f.act_end:
            h = f"{f.out}+act"               # the ACT run's mix of states: a new tensor
        out.append((f, items))
    return out


_QKV = ("attention.q.weight", "attention.k.weight", "attention.v.weight")


@lru_cache(maxsize=65536)
def _saves(d, f: Flow) -> tuple[Saved, ...]:
    """A layer's saves for these settings and place in the pass (cached: an edit leaves most alone)."""
    return tuple(kind(d.kind).saved(d, f))


def _assembled(layer, spec: StackSpec, plan: SharingPlan, skip: tuple[str, ...] = ()) -> list[Saved]:
    """Weights stored as chunks (shared head slices or experts) are concatenated on every training
    forward into a new tensor that the op using them saves (when its input needs a gradient)."""
    out = []
    if layer.id in plan.claimed_layers:
        for t in layer_tensors(layer, spec.settings):
            if t.name in skip:
                continue
            claims = plan.claims.get((layer.id, t.name), ())
            if len(t.shape) >= 2 and any(c.piece.axis is not None for c in claims):
                out.append(Saved(t.numel))
    return out


def kept_cache_elements(spec: StackSpec, plan: SharingPlan, seq: int) -> int:
    """What the built model keeps between inference passes: each weight assembled from chunks
    (kept until a chunk changes) once per core object, and an embedding's sinusoidal table."""
    total = 0
    seen_cores: set[str] = set()
    for layer in spec.layers:
        core = plan.block_of.get(layer.id, layer.id)
        if core not in seen_cores:
            seen_cores.add(core)
            total += sum(s.elements for s in _assembled(layer, spec, plan))
        d = dims(layer, spec.settings)
        total += kind(d.kind).kept_cache(d, seq)
    return total


def training_activation_bytes(spec: StackSpec, batch: int, seq: int, dtype: str = "fp32",
                              target_seq: int | None = None, plan: SharingPlan = EMPTY_PLAN,
                              checkpointing: bool = False, device: str = "cpu") -> int:
    """Bytes autograd keeps for backward in a training step; with activation checkpointing of every
    Transformer block, what the forward keeps plus the largest block's saves, which exist again
    while it is recomputed in backward."""
    if checkpointing:
        return sum(checkpointed_activation_bytes(spec, batch, seq, dtype, target_seq, plan, device))
    items = saved_items(spec, batch, seq, target_seq, dtype, plan, device)
    return total_bytes([s for _f, layer_items in items for s in layer_items], DTYPE_BYTES[dtype])


def checkpointed_activation_bytes(spec: StackSpec, batch: int, seq: int, dtype: str = "fp32",
                                  target_seq: int | None = None, plan: SharingPlan = EMPTY_PLAN,
                                  device: str = "cpu") -> tuple[int, int]:
    """(bytes the forward keeps, bytes a recomputed block adds in backward) when every Transformer
    block runs under torch.utils.checkpoint: a block keeps only its input; the other layers keep
    their saves; the largest block's saves come back while it is recomputed."""
    b = DTYPE_BYTES[dtype]
    kept: list[Saved] = []
    largest = 0
    for layer, (f, layer_items) in zip(spec.layers, saved_items(spec, batch, seq, target_seq, dtype, plan, device)):
        if kind(layer.kind).transformer_block:
            kept.append(Saved(f.n * spec.settings.d_model, "act", f.h))
            largest = max(largest, total_bytes(layer_items, b))
        else:
            kept += layer_items
    return total_bytes(kept, b), largest


def estimate_memory(spec: StackSpec, params: ParamCount, batch: int, seq: int, dtype: str = "fp32",
                    target_seq: int | None = None, plan: SharingPlan = EMPTY_PLAN,
                    device: str = "cpu") -> MemoryEstimate:
    b = DTYPE_BYTES[dtype]
    peak = 0
    kv_cache = 0
    for live, cache in _per_layer(spec, batch, seq, target_seq):
        peak = max(peak, live)
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
        activations_training=training_activation_bytes(spec, batch, seq, dtype, target_seq, plan, device=device),
        kept_caches=kept_cache_elements(spec, plan, seq) * b,
        **_training_exactness(spec, device),
    )


RNN_RESERVE_NOTE = "at least: cuDNN's LSTM/GRU reserve space is its own"


def _training_exactness(spec: StackSpec, device: str) -> dict:
    """The MemoryEstimate fields that say whether the training activations are exact: every layer's
    saves known on `device` (cuDNN's RNN reserve space is not: the figure is then a lower bound),
    and the installed torch one whose kernels the rules follow (else an estimate)."""
    kernels = training_activations_exact(spec, device)
    other_torch = torch_version.torch_note(device)
    notes = ([] if kernels else [RNN_RESERVE_NOTE]) + ([other_torch] if other_torch else [])
    return {"activations_training_exact": not notes, "activations_training_note": "; ".join(notes),
            "activations_training_at_least": not kernels and not other_torch}


def training_activations_exact(spec: StackSpec, device: str = "cpu") -> bool:
    """Whether every layer's saves are known on `device` (cuDNN's RNN reserve space is not)."""
    f = Flow(batch=1, seq=1, cuda=device == "cuda")
    return all(kind(d.kind).saved_exact(d, f) for d in (dims(layer, spec.settings) for layer in spec.layers))
