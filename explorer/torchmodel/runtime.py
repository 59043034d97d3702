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
from torch.utils.checkpoint import checkpoint

from explorer.torchmodel.modules import Linear, LoRA, Norm, rotary_tables, sinusoid

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
    n_experts: int
    top_k: int
    shared_d_ff: int
    shared_gate: bool
    target: bool
    position_bias: bool
    relative_buckets: int
    relative_max_distance: int


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


class Context:
    """What one forward pass carries from layer to layer: the rotary tables, K/V kept for
    later layers, BERT's pooled first token, the outputs so far, an ACT run's state, and in an
    encoder-decoder the target ids, the encoder's output (memory) and the stream's position bias."""

    def __init__(self, rope, target=None) -> None:
        self.rope = rope
        self.kv: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.pooled: torch.Tensor | None = None
        self.out: dict[str, torch.Tensor] = {}
        self.act = None                      # (accumulated halting prob, weighted state) of an ACT run
        self.target = target                 # the decoder's input ids
        self.memory: torch.Tensor | None = None
        self.position_bias: torch.Tensor | None = None

    def finish_act(self, h: torch.Tensor) -> torch.Tensor:
        """End an ACT run: the remainder of the halting mass goes to the last state."""
        acc, state = self.act
        self.act = None
        return state + (1.0 - acc) * h


class Runner:
    """A layer kind's torch half (explorer/kinds/<kind>_torch.py): `make` builds the layer's
    shareable core from its parameters, `forward(r, h, ctx)` runs one layer. Registered by kind."""

    reads_ids = False                        # the first layer takes token ids (an embedding)
    block = False                            # a Transformer block: activation checkpointing wraps it

    @staticmethod
    def make(cfg: LayerConfig, params: dict, parts: "Parts", dtype) -> nn.Module:
        raise NotImplementedError

    @staticmethod
    def forward(r: "LayerRunner", h: torch.Tensor, ctx: Context) -> torch.Tensor:
        return r.core(h)

    @staticmethod
    def continues_act(r: "LayerRunner") -> bool:
        """Whether this layer is one more step of a running ACT loop."""
        return False

    @staticmethod
    def rotary_dim(cfg: LayerConfig) -> int | None:
        return None


RUNNERS: dict[str, type[Runner]] = {}


def runner(*kinds: str):
    """Class decorator: the torch half of these kinds."""
    def register(cls: type[Runner]) -> type[Runner]:
        for name in kinds:
            RUNNERS[name] = cls
        return cls
    return register


class Parts:
    """Linear maps and norms by tensor-name prefix, from one layer's parameters."""

    def __init__(self, params: dict, norm_kind: str, eps: float) -> None:
        self.params, self.norm_kind, self.eps = params, norm_kind, eps

    def linear(self, prefix: str) -> Linear | None:
        p = self.params
        if f"{prefix}.A" in p:
            return Linear(None, p.get(f"{prefix}.bias"), p[f"{prefix}.A"], p[f"{prefix}.B"])
        if f"{prefix}.weight" not in p:
            return None
        return Linear(p[f"{prefix}.weight"], p.get(f"{prefix}.bias"))

    def norm(self, prefix: str) -> Norm | None:
        if f"{prefix}.weight" not in self.params:
            return None
        return Norm(self.norm_kind, self.params[f"{prefix}.weight"], self.params.get(f"{prefix}.bias"), self.eps)


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
                 rotary_dim: int | None, takes_ids: bool, takes_target: bool = False,
                 target_vocab_size: int | None = None) -> None:
        super().__init__()
        self.d_model = d_model
        self.vocab_size = vocab_size              # the first embedding's (an encoder-decoder's source)
        self.target_vocab_size = vocab_size if target_vocab_size is None else target_vocab_size
        self.runners = nn.ModuleList(runners)
        self.rotary_dim = rotary_dim
        self.takes_ids = takes_ids
        self.takes_target = takes_target          # an encoder-decoder: forward(source, target)
        self.checkpointing = False                # True: every Transformer block recomputes in backward

    def example_input(self, batch: int, seq: int, device=None, dtype=None, seed: int = 0,
                      vocab_size: int | None = None) -> torch.Tensor:
        """A fixed input: token ids (below `vocab_size`, default the first embedding's) when the stack
        starts with an embedding, else hidden states."""
        vocab_size = self.vocab_size if vocab_size is None else vocab_size
        p = next(self.parameters(), None)
        device = device or (p.device if p is not None else "cpu")
        dtype = dtype or (p.dtype if p is not None else torch.float32)
        if torch.device(device).type == "meta":
            if self.takes_ids:
                return torch.zeros(batch, seq, dtype=torch.long, device="meta")
            return torch.empty(batch, seq, self.d_model, dtype=dtype, device="meta")
        g = torch.Generator(device=device).manual_seed(seed)     # made where it is used: no host copy
        if self.takes_ids:
            return torch.randint(0, max(vocab_size, 1), (batch, seq), generator=g, device=device)
        return torch.randn(batch, seq, self.d_model, generator=g, device=device).to(dtype)

    def example_inputs(self, batch: int, seq: int, target_seq: int | None = None, device=None, dtype=None,
                       seed: int = 0) -> tuple[torch.Tensor, ...]:
        """The arguments of one forward pass: (input,) or, for an encoder-decoder, (source, target)."""
        x = self.example_input(batch, seq, device, dtype, seed)
        if not self.takes_target:
            return (x,)
        return x, self.example_input(batch, seq if target_seq is None else target_seq, device, dtype, seed + 1,
                                     self.target_vocab_size)

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None,
                record: list | None = None) -> dict[str, torch.Tensor]:
        """Run the design on `x`; an encoder-decoder's decoder reads `target` (default: x itself).
        `record`: a list that receives (layer id, hidden state) after each layer that changed it."""
        h = x
        if target is None:
            target = x
        rope = None
        if self.rotary_dim:
            p = next(self.parameters())
            rope = rotary_tables(max(x.shape[1], target.shape[1]), self.rotary_dim, h.device, p.dtype)
        ctx = Context(rope, target)
        for r in self.runners:
            kind = RUNNERS[r.kind]
            if ctx.act is not None and not kind.continues_act(r):
                h = ctx.finish_act(h)
            before = h
            if self.checkpointing and kind.block and torch.is_grad_enabled():
                h = checkpoint(kind.forward, r, h, ctx, use_reentrant=False)   # keeps only h until backward
            else:
                h = kind.forward(r, h, ctx)
            if record is not None and h is not before:
                record.append((r.layer_id, h))
        if ctx.act is not None:
            h = ctx.finish_act(h)
        ctx.out["hidden"] = h
        return ctx.out


def act_step(act, h: torch.Tensor, halting: Linear, eps: float = 0.01):
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


def init_kind(name: str, shape: tuple[int, ...]) -> str:
    """zeros for biases and LoRA up-projections (LoRA starts as no update), ones for norm gains,
    else normal(0, 0.02)."""
    leaf = name.rsplit(".", 1)[-1]
    if "bias" in leaf or (leaf == "up" and name.startswith("lora.")):
        return "zeros"
    if len(shape) == 1:
        return "ones"
    return "normal"


def init_tensor(t: torch.Tensor, rule: str, generator) -> None:
    """Initialize `t` by its rule from init_kind(): zeros, ones or normal(0, 0.02)."""
    with torch.no_grad():
        if rule == "zeros":
            t.zero_()
        elif rule == "ones":
            t.fill_(1.0)
        else:
            t.normal_(0.0, 0.02, generator=generator)


def make_core(cfg: LayerConfig, params: dict, device, dtype) -> nn.Module:
    """The layer's shareable part from its parameters (tensor names as in explorer/kinds/)."""
    if cfg.kind not in RUNNERS:
        raise ValueError(f"cannot build layer kind {cfg.kind!r}")
    return RUNNERS[cfg.kind].make(cfg, params, Parts(params, cfg.dims.norm, cfg.eps), dtype)


def assemble(d_model: int, layers: list[LayerConfig], get: Callable[[int, str], object], device,
             dtype, on_layer: Callable[[int, int], None] | None = None) -> SharedStack:
    """Build every layer, reusing one core object per whole-block group. `get(i, tensor)` gives the
    Parameter (or Chunks) of layer i's tensor, the same object for every member of a group.
    `on_layer(i, n)` is called before layer i of n is built (progress; it may raise to cancel)."""
    runners = []
    cores: dict[int, nn.Module] = {}
    rotary_dim = None
    vocab_size, target_vocab = 0, None
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
        rotary_dim = RUNNERS[cfg.kind].rotary_dim(cfg) or rotary_dim
        if RUNNERS[cfg.kind].reads_ids:
            if d.target:
                target_vocab = d.vocab_size
            elif not vocab_size:
                vocab_size = d.vocab_size
        runners.append(LayerRunner(cfg.id, cfg.kind, core, lora, step, cfg.kv_from, cfg.keeps_kv))
    takes_ids = bool(layers) and RUNNERS[layers[0].kind].reads_ids
    takes_target = any(cfg.dims.target for cfg in layers)
    return SharedStack(d_model, vocab_size, runners, rotary_dim, takes_ids, takes_target, target_vocab)
