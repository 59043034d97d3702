"""Small torch modules of a built design. Parameters come in from the ParamStore, so a
shared tensor is one Parameter object held by every member that uses it."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Chunks:
    """A tensor stored as row (axis 0) or column (axis 1) chunks, some of them shared."""

    def __init__(self, axis: int, parts: list[nn.Parameter]) -> None:
        self.axis = axis
        self.parts = parts


def _register(module: nn.Module, name: str, value) -> None:
    if isinstance(value, Chunks):
        setattr(module, f"{name}_chunks", nn.ParameterList(value.parts))
        setattr(module, f"{name}_axis", value.axis)
        module.register_parameter(name, None)
    else:
        module.register_parameter(name, value)


def _value(module: nn.Module, name: str) -> torch.Tensor | None:
    value = getattr(module, name)
    if value is None and hasattr(module, f"{name}_chunks"):
        return _assembled(module, name)
    return value


def _assembled(module: nn.Module, name: str) -> torch.Tensor:
    """A chunked weight as one tensor. With autograd off (inference) the result is kept and
    reused until a chunk changes (a new storage, or an in-place update bumping its version),
    so a forward pass pays one matmul per weight, as a dense layer does; with autograd on it
    is concatenated each call, so gradients reach the shared chunks. The kept copy costs the
    memory of the assembled weight (what a deployment that materialises it would hold)."""
    parts = list(getattr(module, f"{name}_chunks"))
    axis = getattr(module, f"{name}_axis")
    if torch.is_grad_enabled() or torch.compiler.is_compiling():
        return torch.cat(parts, dim=axis)
    key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in parts)
    cache = module.__dict__.setdefault("_assembled_cache", {})
    hit = cache.get(name)
    if hit is None or hit[0] != key:
        with torch.inference_mode(False), torch.no_grad():
            hit = (key, torch.cat(parts, dim=axis))   # a normal tensor: usable in and out of inference mode
        cache[name] = hit
    return hit[1]


class Linear(nn.Module):
    """y = x W^T + b, with W dense, chunked (head slices) or low rank (W = A B)."""

    def __init__(self, weight=None, bias=None, A=None, B=None) -> None:
        super().__init__()
        _register(self, "weight", weight)
        _register(self, "bias", bias)
        self.A = A
        self.B = B

    def forward(self, x: torch.Tensor, lora: "LoRA | None" = None) -> torch.Tensor:
        if self.A is not None:
            y = F.linear(F.linear(x, self.B), self.A, _value(self, "bias"))     # (.., r) -> (.., out)
        else:
            y = F.linear(x, _value(self, "weight"), _value(self, "bias"))
        if lora is not None:
            y = y + lora(x)
        return y


class LoRA(nn.Module):
    """Per-layer low-rank update of a (possibly shared) linear map: x -> up(down(x))."""

    def __init__(self, down: nn.Parameter, up: nn.Parameter) -> None:
        super().__init__()
        self.down = down            # (r, in)
        self.up = up                # (out, r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x, self.down), self.up)


class Norm(nn.Module):
    def __init__(self, kind: str, weight: nn.Parameter, bias: nn.Parameter | None, eps: float) -> None:
        super().__init__()
        self.kind = kind
        self.eps = eps
        self.weight = weight
        self.bias = bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[-1],)
        if self.kind == "rmsnorm":
            return F.rms_norm(x, shape, self.weight, self.eps)
        return F.layer_norm(x, shape, self.weight, self.bias, self.eps)


def activation(name: str):
    return {
        "gelu": F.gelu,
        "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
        "relu": F.relu,
        "silu": F.silu,
        "swiglu": F.silu,
        "geglu": F.gelu,
    }[name]


def rotary_tables(seq: int, head_dim: int, device, dtype, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape (seq, head_dim) for rotate-half rotary positions."""
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    t = torch.arange(seq, device=device, dtype=torch.float32)
    freqs = torch.outer(t, inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


def sinusoid(positions: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Fixed sinusoidal signal (positions, width), as in Vaswani et al.; computed in fp32
    where it is used (on meta it allocates nothing), then cast to `dtype`."""
    pos = torch.arange(positions, device=device, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(positions, width, device=device)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)[:, : width // 2]
    return table.to(dtype)


class Attention(nn.Module):
    """Multi-head attention on scaled_dot_product_attention; MQA/GQA via n_kv_heads. With `source`
    the keys and values come from it (cross-attention); with `relative`, a position bias computed
    by an earlier layer (T5) is added to the scores."""

    def __init__(self, q: Linear, k: Linear | None, v: Linear | None, o: Linear, n_heads: int, n_kv_heads: int,
                 head_dim: int, causal: bool, rotary: bool, relative: bool = False) -> None:
        super().__init__()
        self.q, self.k, self.v, self.o = q, k, v, o
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, head_dim
        self.causal = causal
        self.rotary = rotary
        self.relative = relative

    def forward(self, x: torch.Tensor, kv=None, rope=None, lora=None, source=None, bias=None):
        B, S, _ = x.shape
        lora = lora or {}
        if self.rotary and (rope is None or rope[0].shape[-1] != self.head_dim):
            rope = rotary_tables(S, self.head_dim, x.device, x.dtype)   # this layer's head width differs
        if self.rotary and rope[0].shape[0] != S:
            rope = (rope[0][:S], rope[1][:S])                           # tables made for the longer stream
        q = self.q(x, lora.get("attention.q")).view(B, S, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, S, hd)
        if kv is None:
            src = x if source is None else source
            T = src.shape[1]
            k = self.k(src, lora.get("attention.k")).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
            v = self.v(src, lora.get("attention.v")).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
            if self.rotary:
                k = apply_rotary(k, *rope)
        else:
            k, v = kv
        if self.rotary:
            q = apply_rotary(q, *rope)
        mask, causal = None, self.causal
        if self.relative and bias is not None:
            mask = bias.to(q.dtype)                                   # (1, H, S, S)
            if causal:
                future = torch.ones(S, k.shape[2], dtype=torch.bool, device=x.device).triu(1)
                mask = mask.masked_fill(future, float("-inf"))
                causal = False
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           enable_gqa=self.n_kv_heads != self.n_heads)          # (B, H, S, hd)
        # one contiguous copy for O and its LoRA alike (a head width of 1 would otherwise leave a strided
        # view that each linear reading it copies again)
        y = y.transpose(1, 2).reshape(B, S, self.n_heads * self.head_dim).contiguous()
        return self.o(y, lora.get("attention.o")), (k, v)


class PositionBias(nn.Module):
    """T5's relative position bias: a (buckets, heads) table looked up by the bucket of each
    key-query distance; bidirectional in an encoder, looking back only in a causal decoder."""

    def __init__(self, table, bidirectional: bool, max_distance: int) -> None:
        super().__init__()
        self.table = table
        self.bidirectional = bidirectional
        self.max_distance = max_distance

    def forward(self, q_len: int, k_len: int, device) -> torch.Tensor:
        buckets = self.table.shape[0]
        rel = torch.arange(k_len, device=device)[None, :] - torch.arange(q_len, device=device)[:, None]
        out = torch.zeros_like(rel)
        if self.bidirectional:
            buckets //= 2
            out = out + (rel > 0).long() * buckets
            rel = rel.abs()
        else:
            rel = -torch.clamp(rel, max=0)
        exact = buckets // 2
        small = rel < exact
        large = exact + (torch.log(rel.float().clamp(min=1) / exact) / math.log(self.max_distance / exact)
                         * (buckets - exact)).long()
        large = torch.clamp(large, max=buckets - 1)
        index = out + torch.where(small, rel, large)
        return F.embedding(index, self.table).permute(2, 0, 1).unsqueeze(0)      # (1, H, q, k)


class FFN(nn.Module):
    def __init__(self, up: Linear, gate: Linear | None, down: Linear, act: str) -> None:
        super().__init__()
        self.up, self.gate, self.down = up, gate, down
        self.act = activation(act)

    def forward(self, x: torch.Tensor, lora=None) -> torch.Tensor:
        lora = lora or {}
        if self.gate is not None:
            h = self.act(self.gate(x, lora.get("ffn.gate"))) * self.up(x, lora.get("ffn.up"))   # (B, S, d_ff)
        else:
            h = self.act(self.up(x, lora.get("ffn.up")))
        return self.down(h, lora.get("ffn.down"))


class Block(nn.Module):
    """Attention + FFN with residuals and pre- or post-norms; optional ACT halting unit."""

    def __init__(self, attention: Attention | None, ffn: FFN | None, norm1: Norm | None, norm2: Norm | None,
                 pre_norm: bool, halting: Linear | None = None, position_bias: PositionBias | None = None) -> None:
        super().__init__()
        self.attention, self.ffn = attention, ffn
        self.norm1, self.norm2 = norm1, norm2
        self.pre_norm = pre_norm
        self.halting = halting
        self.position_bias = position_bias

    def forward(self, x: torch.Tensor, kv=None, rope=None, lora=None, bias=None):
        kv_out = None
        if self.attention is not None:
            if self.pre_norm:
                a, kv_out = self.attention(self.norm1(x), kv, rope, lora, bias=bias)
                x = x + a
            else:
                a, kv_out = self.attention(x, kv, rope, lora, bias=bias)
                x = self.norm1(x + a)
        if self.ffn is not None:
            if self.pre_norm:
                x = x + self.ffn(self.norm2(x), lora)
            else:
                x = self.norm2(x + self.ffn(x, lora))
        return x, kv_out


class Embedding(nn.Module):
    """Token (+ learned or sinusoidal position, + token type) embedding. A sinusoidal signal has
    no parameters and no fixed length: its table is made for the run's length (and kept)."""

    def __init__(self, token, position, token_type, sinusoidal: bool, norm: Norm | None,
                 projection: Linear | None) -> None:
        super().__init__()
        self.token = token
        self.position = position
        self.token_type = token_type
        self.sinusoidal = sinusoidal
        self.norm = norm
        self.projection = projection

    def _sinusoid(self, S: int, h: torch.Tensor) -> torch.Tensor:
        """The (S, E) signal on h's device and dtype; the longest table so far is kept and sliced."""
        if torch.compiler.is_compiling():
            return sinusoid(S, h.shape[-1], h.device, h.dtype)
        table = self.__dict__.get("_sinusoid_table")
        if table is None or table.shape[0] < S or table.device != h.device or table.dtype != h.dtype:
            with torch.inference_mode(False), torch.no_grad():     # a normal tensor, usable in and out of it
                table = sinusoid(S, h.shape[-1], h.device, h.dtype)
            self.__dict__["_sinusoid_table"] = table
        return table[:S]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        S = ids.shape[1]
        h = F.embedding(ids, self.token)                       # (B, S, E)
        if self.position is not None:
            if S > self.position.shape[0]:          # a learned table has a length; sinusoids do not
                raise ValueError(f"sequence length {S} is longer than the learned position table "
                                 f"({self.position.shape[0]} positions, max_positions)")
            h = h + self.position[:S]
        if self.sinusoidal:
            h = h + self._sinusoid(S, h)
        if self.token_type is not None:
            h = h + self.token_type[0]                         # token type 0 everywhere
        if self.norm is not None:
            h = self.norm(h)
        if self.projection is not None:
            h = self.projection(h)                             # (B, S, d)
        return h


class Conv(nn.Module):
    def __init__(self, weight, bias, groups: int) -> None:
        super().__init__()
        self.weight, self.bias, self.groups = weight, bias, groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.weight.shape[-1]
        x = x.transpose(1, 2)                                                            # (B, d, S)
        if k % 2:
            y = F.conv1d(x, self.weight, self.bias, padding=k // 2, groups=self.groups)
        else:   # "same" for an even kernel: one more on the right, as padding="same" does (without its warning)
            y = F.conv1d(F.pad(x, ((k - 1) // 2, k // 2)), self.weight, self.bias, groups=self.groups)
        return y.transpose(1, 2).contiguous()     # (B, S, d); contiguous, as a linear after it would copy it


class Recurrent(nn.Module):
    """One stacked LSTM/GRU layer; a shared cell is this same module in several places.

    When autograd records (a training step) on the CPU, torch's native kernel runs instead of
    oneDNN's: oneDNN's LSTM keeps a workspace whose size is its own internal detail, the native
    one keeps 8 n d elements, which the analysis states exactly. Inference keeps oneDNN."""

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # contiguous: a batch-first output is a transposed view, and each linear reading a strided
        # input copies it (and saves its own copy for backward)
        if not (torch.is_grad_enabled() and x.device.type == "cpu" and torch._C._get_mkldnn_enabled()):
            return self.rnn(x)[0].contiguous()
        torch._C._set_mkldnn_enabled(False)
        try:
            return self.rnn(x)[0].contiguous()
        finally:
            torch._C._set_mkldnn_enabled(True)


class LMHead(nn.Module):
    def __init__(self, transform: Linear | None, transform_norm: Norm | None, act: str, decoder_weight,
                 decoder_bias) -> None:
        super().__init__()
        self.transform, self.transform_norm = transform, transform_norm
        self.act = activation("gelu" if act in ("swiglu", "geglu") else act)
        self.decoder_weight = decoder_weight
        self.decoder_bias = decoder_bias

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.transform is not None:
            h = self.transform_norm(self.act(self.transform(h)))
        return F.linear(h, self.decoder_weight, self.decoder_bias)   # (B, S, V)
