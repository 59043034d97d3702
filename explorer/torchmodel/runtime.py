"""Assemble a built design from plain layer configs and a parameter look-up (torch only).

No explorer imports beyond build/modules.py: `explorer export` writes this file's source
into a standalone model file, so the exported model is assembled by the very same code.
Each layer is a typed LayerConfig (below); its Dims are the design's resolved per-layer
settings (explorer.design.model.LayerDims, copied field for field: a test checks it).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import nn

from explorer.torchmodel.modules import (
    FFN,
    Attention,
    Block,
    Conv,
    Embedding,
    Linear,
    LMHead,
    LoRA,
    Norm,
    Recurrent,
    rotary_tables,
    sinusoid,
)

class Dims(NamedTuple):
    """A layer's effective settings (every override resolved), as the torch side reads them.
    (NamedTuples, not dataclasses: an exported file loaded with importlib, outside sys.modules,
    cannot define dataclasses under `from __future__ import annotations`.)"""

    kind: str
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    activation: str
    norm: str
    norm_position: str
    attention_bias: bool
    ffn_bias: bool
    o_bias: bool
    bias: bool
    causal: bool
    vocab_size: int
    embedding_size: int
    max_positions: int
    type_vocab_size: int
    positional: str
    kv_from: str | None
    lora_rank: int
    low_rank: int
    halting: bool
    timestep_signal: bool
    embedding_norm: bool
    kernel_size: int
    groups: int
    transform: bool
    n_outputs: int
    task: str


class LayerConfig(NamedTuple):
    """One layer to build. `core_group`: layers with the same value reuse one core object;
    `lora`: linear paths with a per-layer LoRA; `step`: the timestep index of a Universal
    Transformer step; `kv_from`: the layer whose K/V it reads; `keeps_kv`: a later layer reads its K/V."""

    id: str
    kind: str
    dims: Dims
    eps: float
    tensors: tuple[tuple[str, tuple[int, ...]], ...]
    core_group: int | None = None
    lora: tuple[str, ...] = ()
    step: int | None = None
    kv_from: str | None = None
    keeps_kv: bool = False


class LayerRunner(nn.Module):
    """One executed layer: a (possibly shared) core plus what is the layer's own."""

    def __init__(self, layer_id: str, kind: str, core: nn.Module, lora: nn.ModuleDict | None, step_signal,
                 reads_kv, keeps_kv: bool) -> None:
        super().__init__()
        self.layer_id = layer_id
        self.kind = kind
        self.core = core
        self.lora = lora
        self._lora_map = None if lora is None else {k.replace("_", "."): v for k, v in lora.items()}
        if step_signal is not None:
            self.register_buffer("step_signal", step_signal, persistent=False)
        else:
            self.step_signal = None
        self.reads_kv = reads_kv
        self.keeps_kv = keeps_kv


class SharedStack(nn.Module):
    """The built design. forward(x) -> dict with 'hidden' and one entry per output layer."""

    def __init__(self, d_model: int, vocab_size: int, runners: list[LayerRunner],
                 rotary_dim: int | None, takes_ids: bool) -> None:
        super().__init__()
        self.d_model = d_model
        self.vocab_size = vocab_size
        self.runners = nn.ModuleList(runners)
        self.rotary_dim = rotary_dim
        self.takes_ids = takes_ids

    def example_input(self, batch: int, seq: int, device=None, dtype=None, seed: int = 0) -> torch.Tensor:
        """A fixed input: token ids when the stack starts with an embedding, else hidden states."""
        p = next(self.parameters(), None)
        device = device or (p.device if p is not None else "cpu")
        dtype = dtype or (p.dtype if p is not None else torch.float32)
        if torch.device(device).type == "meta":
            if self.takes_ids:
                return torch.zeros(batch, seq, dtype=torch.long, device="meta")
            return torch.empty(batch, seq, self.d_model, dtype=dtype, device="meta")
        g = torch.Generator(device=device).manual_seed(seed)     # made where it is used: no host copy
        if self.takes_ids:
            return torch.randint(0, max(self.vocab_size, 1), (batch, seq), generator=g, device=device)
        return torch.randn(batch, seq, self.d_model, generator=g, device=device).to(dtype)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        h = x
        S = x.shape[1]
        rope = None
        if self.rotary_dim:
            p = next(self.parameters())
            rope = rotary_tables(S, self.rotary_dim, h.device, p.dtype)
        kv_store: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        pooled = None
        act = None                              # (accumulated halting prob, weighted state) of an ACT run
        for r in self.runners:
            kind = r.kind
            if act is not None and not (kind == "block" and r.core.halting is not None):
                h = act[1] + (1.0 - act[0]) * h  # ACT: the remainder goes to the last state
                act = None
            if kind == "embedding":
                h = r.core(h)
            elif kind in ("block", "attention", "ffn"):
                if r.step_signal is not None:
                    h = h + r.step_signal
                kv_in = kv_store.get(r.reads_kv) if r.reads_kv else None
                if kind == "block":
                    h, kv = r.core(h, kv_in, rope, r._lora_map)
                elif kind == "attention":
                    a, kv = r.core(h, kv_in, rope)
                    h = h + a
                else:
                    h, kv = h + r.core(h), None
                if r.keeps_kv and kv is not None:
                    kv_store[r.layer_id] = kv
                if kind == "block" and r.core.halting is not None:
                    act = _act_step(act, h, r.core.halting)
            elif kind in ("norm", "linear", "conv", "lstm", "gru"):
                h = r.core(h)
            elif kind == "pooler":
                pooled = torch.tanh(r.core(h[:, 0]))
                out[r.layer_id] = pooled
            elif kind == "lm_head":
                out[r.layer_id] = r.core(h)
            elif kind == "head":
                if r.core.task == "token":
                    out[r.layer_id] = r.core.linear(h)
                else:
                    out[r.layer_id] = r.core.linear(pooled if pooled is not None else h[:, 0])
        if act is not None:
            h = act[1] + (1.0 - act[0]) * h
        out["hidden"] = h
        return out


def _act_step(act, h: torch.Tensor, halting: Linear, eps: float = 0.01):
    """One Adaptive Computation Time step (all steps run; weights sum to 1 per position)."""
    p = torch.sigmoid(halting(h))                                     # (B, S, 1)
    if act is None:
        acc = torch.zeros_like(p)
        state = torch.zeros_like(h)
    else:
        acc, state = act
    running = (acc < 1.0 - eps).to(h.dtype)
    w = torch.where(acc + p > 1.0 - eps, 1.0 - acc, p) * running
    return acc + w, state + w * h


class _Head(nn.Module):
    def __init__(self, linear: Linear, task: str) -> None:
        super().__init__()
        self.linear = linear
        self.task = task


def init_kind(name: str, shape: tuple[int, ...]) -> str:
    """zeros for biases and LoRA up-projections (LoRA starts as no update), ones for norm gains,
    else normal(0, 0.02)."""
    leaf = name.rsplit(".", 1)[-1]
    if "bias" in leaf or (leaf == "up" and name.startswith("lora.")):
        return "zeros"
    if len(shape) == 1:
        return "ones"
    return "normal"


def init_tensor(t: torch.Tensor, kind: str, generator) -> None:
    with torch.no_grad():
        if kind == "zeros":
            t.zero_()
        elif kind == "ones":
            t.fill_(1.0)
        else:
            t.normal_(0.0, 0.02, generator=generator)


def make_core(cfg: LayerConfig, params: dict, device, dtype) -> nn.Module:
    """The layer's shareable part from its parameters (tensor names as in design/slots.py)."""
    d = cfg.dims
    eps = cfg.eps

    def linear(prefix: str) -> Linear | None:
        if f"{prefix}.A" in params:
            return Linear(None, params.get(f"{prefix}.bias"), params[f"{prefix}.A"], params[f"{prefix}.B"])
        if f"{prefix}.weight" not in params:
            return None
        return Linear(params[f"{prefix}.weight"], params.get(f"{prefix}.bias"))

    def norm(prefix: str) -> Norm | None:
        if f"{prefix}.weight" not in params:
            return None
        return Norm(d.norm, params[f"{prefix}.weight"], params.get(f"{prefix}.bias"), eps)

    k = cfg.kind
    if k == "embedding":
        return Embedding(params["embedding.weight"], params.get("position.weight"), params.get("token_type.weight"),
                         d.positional == "sinusoidal", norm("norm"), linear("projection"))
    if k in ("block", "attention", "ffn"):
        attention = ffn = None
        if k in ("block", "attention"):
            attention = Attention(linear("attention.q"), linear("attention.k"), linear("attention.v"),
                                  linear("attention.o"), d.n_heads, d.n_kv_heads, d.head_dim, d.causal,
                                  d.positional == "rotary")
        if k in ("block", "ffn"):
            ffn = FFN(linear("ffn.up"), linear("ffn.gate"), linear("ffn.down"), d.activation)
        if k == "attention":
            return attention
        if k == "ffn":
            return ffn
        return Block(attention, ffn, norm("norm1"), norm("norm2"), d.norm_position == "pre", linear("halting"))
    if k == "norm":
        return norm("norm")
    if k == "linear":
        return linear("linear")
    if k in ("lstm", "gru"):
        cls = nn.LSTM if k == "lstm" else nn.GRU
        rnn = cls(d.d_model, d.d_model, batch_first=True, bias=d.bias, device="meta", dtype=dtype)
        for name, attr in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"),
                           ("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0")):
            if f"cell.{name}" in params:
                setattr(rnn, attr, params[f"cell.{name}"])
        return Recurrent(rnn)
    if k == "conv":
        return Conv(params["conv.weight"], params.get("conv.bias"), d.groups)
    if k == "pooler":
        return linear("pooler")
    if k == "lm_head":
        return LMHead(linear("transform"), norm("transform_norm"), d.activation, params["decoder.weight"],
                      params.get("decoder.bias"))
    if k == "head":
        return _Head(linear("classifier"), d.task)
    raise ValueError(f"cannot build layer kind {k!r}")


def assemble(d_model: int, layers: list[LayerConfig], get: Callable[[int, str], object], device,
             dtype, on_layer: Callable[[int, int], None] | None = None) -> SharedStack:
    """Build every layer, reusing one core object per whole-block group. `get(i, tensor)` gives the
    Parameter (or Chunks) of layer i's tensor, the same object for every member of a group.
    `on_layer(i, n)` is called before layer i of n is built (progress; it may raise to cancel)."""
    runners = []
    cores: dict[int, nn.Module] = {}
    rotary_dim = None
    vocab_size = 0
    for i, cfg in enumerate(layers):
        if on_layer is not None:
            on_layer(i, len(layers))
        d = cfg.dims
        group = cfg.core_group
        if group is not None and group in cores:
            core = cores[group]                    # the very same block object
        else:
            params = {t: get(i, t) for t, _shape in cfg.tensors if not t.startswith("lora.")}
            core = make_core(cfg, params, device, dtype)
            if group is not None:
                cores[group] = core
        lora = None
        if cfg.lora:
            lora = nn.ModuleDict({path.replace(".", "_"): LoRA(get(i, f"lora.{path}.down"), get(i, f"lora.{path}.up"))
                                  for path in cfg.lora})
        step = None
        if cfg.step is not None:
            step = sinusoid(cfg.step + 1, d.d_model, device, dtype)[cfg.step]
        if cfg.kind in ("block", "attention") and d.positional == "rotary":
            rotary_dim = d.head_dim
        if cfg.kind == "embedding":
            vocab_size = d.vocab_size
        runners.append(LayerRunner(cfg.id, cfg.kind, core, lora, step, cfg.kv_from, cfg.keeps_kv))
    takes_ids = bool(layers) and layers[0].kind == "embedding"
    return SharedStack(d_model, vocab_size, runners, rotary_dim, takes_ids)
