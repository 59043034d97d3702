"""What autograd saves for backward, op by op, as the kinds' torch code calls them (pure).

Each kind's `saved(d, f)` lists the tensors its forward pass keeps for backward, built from
these rules; the analysis adds them up, counting a storage that several layers save once
(a tag names it: the hidden state entering a layer, the rotary tables, K/V another layer
reuses, the encoder's output). The rules are those of torch 2.13's CPU kernels (measured exact
under 2.13 and 2.14); where its CUDA kernels differ (attention, norms, cuDNN's RNN) `Flow.cuda`
selects theirs (docs/memory.md). Which releases the figure is exact for, and the label outside
them: explorer/analysis/torch_version.py.

- linear `F.linear(x, W)`: x (the weight is a parameter); a weight assembled from chunks
  (head sharing) is a new tensor each forward, so it is saved too.
- layernorm: its input, mean and rstd (n each, in the activation dtype).
- rmsnorm (`F.rms_norm`, composite on CPU, computed in fp32): the fp32 input (the input itself
  in fp32, a copy otherwise), rstd (n, fp32) and the normalized fp32 input; the first two only
  when the input needs a gradient.
- gelu, silu: their input; relu: its output (the next linear saves the same storage).
- a gated FFN's product: both factors.
- scaled_dot_product_attention on CPU without a mask (the flash kernel): q, k, v, the output,
  and a log-sum-exp (batch x heads x queries, fp32); with a mask that needs a gradient (T5's
  relative bias) the math path: q scaled, k and v (expanded to every query head), the
  softmax (batch x heads x queries x keys), all in fp32 for 16-bit inputs, and the output.
- rotary positions: the cos and sin tables (the rotated q and k are what attention saves).
- embedding lookup: the int64 ids.
- cross-entropy: the log-probabilities (n x V), the int64 targets and a scalar.
"""

from __future__ import annotations

from dataclasses import dataclass

DTYPE_CLASSES = ("act", "f32", "i64", "bool")


@dataclass(frozen=True, slots=True)
class Saved:
    """`elements` kept for backward, in the activation dtype ("act") or a fixed one; a `tag` names a
    storage that other layers may save too (counted once)."""

    elements: int
    dtype: str = "act"
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    """Where a layer sits in one training forward pass: its batch and tokens per sequence, the
    encoder output's length it can read, whether its input needs a gradient, the tags of its
    input and output hidden states, the activation dtype's width, and the stack's rotary tables."""

    batch: int
    seq: int
    memory: int = 0
    input_grad: bool = True
    h: str = "h0"
    out: str = "h1"
    layer: str = ""
    pooled: str = ""                 # the tag of a pooler's output a sequence head reads ("": none yet)
    low_precision: bool = False      # bf16/fp16: rmsnorm upcasts to an fp32 copy
    rope_dim: int | None = None      # head width of the stack's shared rotary tables
    rope_len: int = 0
    memory_tag: str = ""             # the encoder output's storage (what cross-attention's K/V read)
    act_end: bool = False            # an ACT run ends after this layer
    cuda: bool = False               # torch's CUDA kernels (attention, norms, cuDNN's RNN), else its CPU ones

    @property
    def n(self) -> int:
        return self.batch * self.seq


def norm(kind: str, f: Flow, width: int, x_tag: str | None, input_grad: bool = True) -> list[Saved]:
    """A norm over `width` reading a tensor tagged `x_tag` (None: one of its own)."""
    n = f.n
    if kind == "layernorm":                              # input, mean and rstd (fp32 on CUDA)
        stats = "f32" if f.cuda else "act"
        return [Saved(n * width, "act", x_tag), Saved(n, stats), Saved(n, stats)]
    if f.cuda:                                           # the fused kernel: the input as it is, fp32 rstd
        return [Saved(n * width, "act", x_tag), Saved(n, "f32")]
    out = [Saved(n * width, "f32")]                      # the normalized fp32 input, times the weight
    if input_grad:
        out.append(Saved(n, "f32"))                      # rstd
        out.append(Saved(n * width, "f32") if f.low_precision else Saved(n * width, "act", x_tag))
    return out


def activation(name: str, n: int, width: int) -> list[Saved]:
    """An FFN's activation and, when gated, the product: what stays beyond the down projection's input."""
    if name in ("swiglu", "geglu"):
        return [Saved(n * width)] * 3                    # gate out (act), act out and up out (product)
    if name == "relu":
        return []                                        # its output is the down projection's input
    return [Saved(n * width)]                            # gelu/silu keep their input (the up projection's out)


def attention_backend(f: Flow, n_heads: int, kv_heads: int, head_dim: int, keys: int, mask: str | None) -> str:
    """The kernel scaled_dot_product_attention runs, as torch 2.13 picks it (docs/memory.md).

    `mask`: None, "bias" (T5's relative bias in an encoder: a permuted view, last stride = heads)
    or "causal_bias" (a decoder's bias with the future filled in: contiguous); both need a gradient.
    CPU: the fused flash kernel without a mask, the math path with one. CUDA (sm90, the PyPI wheel's
    cuDNN 9.20, which puts cuDNN attention first): cuDNN for 16-bit inputs, flash where cuDNN's
    head-width rule fails, memory-efficient for fp32 and for a contiguous bias, math otherwise
    (2.13's memory-efficient kernel has no GQA)."""
    if not f.cuda:
        return "math" if mask else "flash"
    gqa = n_heads != kv_heads
    align = 8 if f.low_precision else 4
    if mask:
        contiguous = mask == "causal_bias" or n_heads == 1
        return "efficient" if contiguous and not gqa and head_dim % align == 0 else "math"
    if f.low_precision and head_dim <= 256:
        return "cudnn" if head_dim % 8 == 0 and keys != 1 else "flash"
    return "efficient" if not gqa and head_dim % align == 0 else "math"


def sdpa(f: Flow, n_heads: int, kv_heads: int, head_dim: int, keys: int, k_tag: str | None, v_tag: str | None,
         mask: str | None = None) -> list[Saved]:
    """scaled_dot_product_attention over `keys` key positions per sequence, on the kernel
    `attention_backend` picks. The fused kernels keep q, k and v as passed (K/V not expanded for
    GQA) and an output whose storage is the O projection's input."""
    n, b, lq = f.n, f.batch, f.seq
    q_width, kv_width = n_heads * head_dim, kv_heads * head_dim
    kernel = attention_backend(f, n_heads, kv_heads, head_dim, keys, mask)
    if kernel == "math":
        # q scaled, k^T scaled and v expanded to every query head (v itself when neither expanded
        # nor upcast), the softmax, all in fp32 for 16-bit inputs; the output, copied for O
        # v is saved as itself only where matmul's batch fold of the (batch, heads, keys, hd) view is
        # a view too (one batch, one head or one key); else each layer saves a copy of its own
        wide = "f32" if f.low_precision else "act"
        folds_in_place = b == 1 or n_heads == 1 or keys == 1
        v_own = v_tag if n_heads == kv_heads and not f.low_precision and folds_in_place else None
        return [Saved(n * q_width, wide), Saved(b * keys * q_width, wide), Saved(b * n_heads * lq * keys, wide),
                Saved(b * keys * q_width, wide, v_own), Saved(n * q_width)]
    if kernel == "flash" and f.cuda and head_dim % 8:
        # the composite pads the head width to a multiple of 8 first: padded copies are saved, and
        # the output handed back is a slice of the padded one, copied for O
        d8 = -(-head_dim // 8) * 8
        return [Saved(n * n_heads * d8), Saved(b * keys * kv_heads * d8), Saved(b * keys * kv_heads * d8),
                Saved(n * n_heads * d8), Saved(n * q_width), Saved(b * n_heads * lq, "f32"),
                Saved(2, "i64"), Saved(1, "i64")]
    items = [Saved(n * q_width), Saved(b * keys * kv_width, "act", k_tag), Saved(b * keys * kv_width, "act", v_tag),
             Saved(n * q_width)]
    if kernel == "efficient":
        items += [Saved(b * n_heads * -(-lq // 32) * 32, "f32"), Saved(1, "i64"), Saved(1, "i64")]
        if mask:             # the bias as passed when its rows align to 8 elements, else a padded copy
            items.append(Saved(n_heads * lq * (keys if mask == "causal_bias" and keys % 8 == 0
                                               else keys + 8 - keys % 8)))
        return items
    items.append(Saved(b * n_heads * lq, "f32"))             # the log-sum-exp
    if f.cuda:
        items += [Saved(1, "i64"), Saved(1, "i64")] if kernel == "cudnn" else [Saved(2, "i64"), Saved(1, "i64")]
    return items


def rotary(f: Flow, head_dim: int) -> list[Saved]:
    """The cos and sin tables: the stack's (shared by every layer of that head width), else the layer's own."""
    if head_dim == f.rope_dim:
        return [Saved(f.rope_len * head_dim, "act", f"rope-cos:{head_dim}"),
                Saved(f.rope_len * head_dim, "act", f"rope-sin:{head_dim}")]
    return [Saved(f.seq * head_dim), Saved(f.seq * head_dim)]


def extra_per_linear(n: int, count: int, low_rank: int, lora_rank: int) -> list[Saved]:
    """A factorized linear also keeps x B (n x r); a LoRA keeps its down projection's output (n x r)."""
    return [Saved(n * r) for r in (low_rank, lora_rank) if r for _ in range(count)]


def halting(f: Flow, width: int) -> list[Saved]:
    """An ACT step on the block's output: the halting linear's input (that output), sigmoid, the
    where's condition, the running mask and the step weight; the run's end keeps 1 - acc."""
    n = f.n
    out = [Saved(n * width, "act", f.out), Saved(n), Saved(n, "bool"), Saved(n), Saved(n)]
    return out + ([Saved(n)] if f.act_end else [])


def cross_entropy(n: int, vocab: int) -> list[Saved]:
    """A standard cross-entropy on n x V logits: log-probabilities, int64 targets, a scalar weight."""
    return [Saved(n * vocab), Saved(n, "i64"), Saved(1)]


def total_bytes(items, act_bytes: int) -> int:
    """Bytes of `items`, each tagged storage once."""
    size = {"act": act_bytes, "f32": 4, "i64": 8, "bool": 1}
    seen: set[str] = set()
    total = 0
    for s in items:
        if s.tag is not None:
            if s.tag in seen:
                continue
            seen.add(s.tag)
        total += s.elements * size[s.dtype]
    return total
