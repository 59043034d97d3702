"""The design model: global settings, an ordered stack of layers, and sharing groups.

Everything is frozen; edit with ``dataclasses.replace``. Sizes are plain ints (elements),
never tensors. A layer's unset override (None) falls back to the global setting.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import lru_cache

from explorer.kinds import REGISTRY

KINDS = tuple(REGISTRY)
"""Layer kinds, bottom to top of a typical stack: the registry's (explorer/kinds/)."""

ACTIVATIONS = ("gelu", "gelu_tanh", "relu", "silu", "swiglu", "geglu")
GATED_ACTIVATIONS = frozenset({"swiglu", "geglu"})
NORMS = ("layernorm", "rmsnorm")
NORM_POSITIONS = ("pre", "post")
POSITIONALS = ("learned", "sinusoidal", "rotary", "relative", "none")
HEAD_TASKS = ("sequence", "token")

MAX_DIM = 1 << 20          # widths above a million are surely typos
MAX_VOCAB = 1 << 24
MAX_POSITIONS = 1 << 24
MAX_LAYERS = 4096


def _cached_hash(obj, fields: tuple[str, ...]) -> int:
    """Hash of a frozen dataclass, computed once: these objects key every analysis cache."""
    h = obj._hash
    if not h:
        h = hash(tuple(getattr(obj, f) for f in fields)) or 1
        object.__setattr__(obj, "_hash", h)
    return h


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Global architecture settings shared by every layer unless a layer overrides them."""

    d_model: int = 512
    n_heads: int = 8
    n_kv_heads: int | None = None          # None: = n_heads (MHA); 1: MQA; else GQA
    head_dim: int | None = None            # None: d_model // n_heads
    d_ff: int | None = None                # None: 4 * d_model
    vocab_size: int = 30522
    embedding_size: int | None = None      # None: = d_model (no factorization)
    max_positions: int = 512
    type_vocab_size: int = 0
    activation: str = "gelu"
    norm: str = "layernorm"
    norm_position: str = "pre"
    norm_eps: float = 1e-5
    bias: bool = True
    attention_bias: bool | None = None     # None: = bias
    ffn_bias: bool | None = None           # None: = bias
    o_bias: bool | None = None             # None: = attention_bias (Qwen2: q/k/v biased, o not)
    positional: str = "learned"
    causal: bool = False
    relative_buckets: int = 32             # T5's relative position bias: buckets ...
    relative_max_distance: int = 128       # ... and the distance the last bucket starts at
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, SETTINGS_FIELDS)


SETTINGS_FIELDS = tuple(f for f in ModelSettings.__dataclass_fields__ if f != "_hash")
"""The global settings' names (use this, not __dataclass_fields__, which has the hash cache)."""
SETTINGS_DEFAULTS = {f: ModelSettings.__dataclass_fields__[f].default for f in SETTINGS_FIELDS}

LAYER_OVERRIDES = (
    "n_heads",
    "n_kv_heads",
    "head_dim",
    "d_ff",
    "activation",
    "norm",
    "norm_position",
    "bias",
    "attention_bias",
    "ffn_bias",
    "o_bias",
    "causal",
    "vocab_size",
    "embedding_size",
    "max_positions",
    "type_vocab_size",
    "positional",
)
"""Global settings a layer may override."""


@dataclass(frozen=True, slots=True)
class LayerSpec:
    """One layer of the stack. `id` is stable across edits; None fields inherit globals."""

    id: str
    kind: str
    # overrides of global settings
    n_heads: int | None = None
    n_kv_heads: int | None = None
    head_dim: int | None = None
    d_ff: int | None = None
    activation: str | None = None
    norm: str | None = None
    norm_position: str | None = None
    bias: bool | None = None
    attention_bias: bool | None = None
    ffn_bias: bool | None = None
    o_bias: bool | None = None
    causal: bool | None = None
    vocab_size: int | None = None
    embedding_size: int | None = None
    max_positions: int | None = None
    type_vocab_size: int | None = None
    positional: str | None = None
    # layer-only options
    kv_from: str | None = None             # reuse K/V computed by this earlier layer (cross-layer KV)
    lora_rank: int = 0                     # per-layer LoRA on every block linear (relaxed recursion)
    low_rank: int = 0                      # factorize block linears W = U V (rank r); V is `factors`
    halting: bool = False                  # ACT halting unit (d -> 1) of the Universal Transformer
    timestep_signal: bool = False          # add a sinusoidal step signal before the block
    embedding_norm: bool = False           # embedding: LayerNorm after the sum of tables
    kernel_size: int = 3                   # conv
    groups: int = 1                        # conv: grouped convolution
    transform: bool = False                # lm_head: dense + act + norm before the decoder
    n_outputs: int = 2                     # head: classes or labels
    task: str = "sequence"                 # head: sequence (first token/pooled) or token
    n_experts: int = 8                     # moe_block: routed experts
    top_k: int = 2                         # moe_block: experts each token goes through
    shared_d_ff: int = 0                   # moe_block: width of the always-on shared expert (0: none)
    shared_gate: bool = False              # moe_block: a sigmoid gate on the shared expert (Qwen2-MoE)
    target: bool = False                   # embedding: starts the decoder; what came before is the encoder
    position_bias: bool = False            # holds the relative position bias its stream's later layers reuse (T5)
    _hash: int = field(default=0, init=False, repr=False, compare=False)
    _types: tuple = field(default=(), init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, _LAYER_FIELDS)

    def value_types(self) -> tuple:
        """Types of every field (32.0 == 32, but only one of them is a valid width)."""
        if not self._types:
            object.__setattr__(self, "_types", tuple(type(getattr(self, f)) for f in _LAYER_FIELDS))
        return self._types


_LAYER_FIELDS = tuple(f for f in LayerSpec.__dataclass_fields__ if f not in ("_hash", "_types"))

LAYER_OPTIONS = (
    "kv_from",
    "lora_rank",
    "low_rank",
    "halting",
    "timestep_signal",
    "embedding_norm",
    "kernel_size",
    "groups",
    "transform",
    "n_outputs",
    "task",
    "n_experts",
    "top_k",
    "shared_d_ff",
    "shared_gate",
    "target",
    "position_bias",
)

KIND_FIELDS: dict[str, frozenset[str]] = {name: k.fields for name, k in REGISTRY.items()}
"""Which optional fields each kind accepts (others are an error, so typos are caught)."""


_RANGE = re.compile(r"^(heads|experts)\[(\d+):(\d+)\]$")
RANGE_SLOTS = ("heads", "experts")
"""Slots that take a range [i:j]: attention heads, and the experts of a mixture of experts."""


@dataclass(frozen=True, slots=True)
class Slot:
    """A slot as a value: its name ("block", "ffn", "attention.q", ...) or, for a slice of
    attention heads or experts, "heads"/"experts" with the range [lo, hi). Files and the
    clipboard keep the text form (`str(slot)`: "heads[2:4]", read back by `Slot.parse`); inside
    the code a member's or a chip's slot is this value."""

    name: str
    lo: int | None = None
    hi: int | None = None

    @classmethod
    def parse(cls, text: "str | Slot") -> "Slot":
        if isinstance(text, Slot):
            return text
        m = _RANGE.match(text)
        return cls(m.group(1), int(m.group(2)), int(m.group(3))) if m else cls(text)

    @classmethod
    def head(cls, i: int) -> "Slot":
        return cls("heads", i, i + 1)

    @classmethod
    def expert(cls, i: int) -> "Slot":
        return cls("experts", i, i + 1)

    @property
    def is_range(self) -> bool:
        """A slice of heads or experts (as written: the range may still be empty or out of bounds)."""
        return self.lo is not None

    @property
    def is_heads(self) -> bool:
        return self.name == "heads" and self.is_range

    @property
    def is_experts(self) -> bool:
        return self.name == "experts" and self.is_range

    @property
    def width(self) -> int:
        """How many heads or experts (0 for any other slot)."""
        lo, hi = self.lo, self.hi
        return max(hi - lo, 0) if lo is not None and hi is not None else 0

    def covers_head(self, i: int) -> bool:
        lo, hi = self.lo, self.hi
        return self.is_heads and lo is not None and hi is not None and lo <= i < hi

    def covers(self, other: "Slot") -> bool:
        """Whether this range takes in all of `other`'s (same family: heads or experts)."""
        lo, hi, olo, ohi = self.lo, self.hi, other.lo, other.hi
        return (lo is not None and hi is not None and olo is not None and ohi is not None
                and other.name == self.name and lo <= olo and ohi <= hi)

    def starting_at(self, lo: int) -> "Slot":
        """The same number of heads (experts) from index `lo`."""
        return Slot(self.name, lo, lo + self.width)

    def heads(self) -> tuple["Slot", ...]:
        """One single-index slot per head (expert) of the range."""
        lo, hi = self.lo, self.hi
        return tuple(Slot(self.name, i, i + 1) for i in range(lo, hi)) if lo is not None and hi is not None else ()

    def __str__(self) -> str:
        return f"{self.name}[{self.lo}:{self.hi}]" if self.is_range else self.name


BLOCK = Slot("block")
"""The whole layer."""


@dataclass(frozen=True, slots=True, init=False)
class Member:
    """One shared slot: `slot` of layer `layer` (explorer/design/slots.py resolves it to tensors).
    The slot may be given as text ("ffn", "heads[0:2]"); it is held as a `Slot`."""

    layer: str
    slot: Slot = BLOCK

    def __init__(self, layer: str, slot: Slot | str = BLOCK) -> None:
        object.__setattr__(self, "layer", layer)
        object.__setattr__(self, "slot", Slot.parse(slot))

    def __str__(self) -> str:
        return f"{self.layer}:{self.slot}"


@dataclass(frozen=True, slots=True)
class SharingGroup:
    """Members that hold one and the same tensors."""

    name: str
    members: tuple[Member, ...]
    color: str = ""


RUN_DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8")
RUN_DEVICES = ("cpu", "cuda")
"""Whose kernels the training activations follow (they save different things for attention)."""


@dataclass(frozen=True, slots=True)
class RunShape:
    """The batch, sequence length and dtype a design is analysed at, and whose kernels its training
    activations follow (cpu or cuda), saved with it (`run:`)."""

    batch: int = 1
    seq: int = 128
    dtype: str = "fp32"
    device: str = "cpu"


@dataclass(frozen=True, slots=True)
class StackSpec:
    """A whole design: settings, layers bottom to top, sharing groups, and the run shape it
    was last looked at with (None: the defaults)."""

    settings: ModelSettings = field(default_factory=ModelSettings)
    layers: tuple[LayerSpec, ...] = ()
    groups: tuple[SharingGroup, ...] = ()
    name: str = "untitled"
    description: str = ""
    run: RunShape | None = None

    def layer(self, layer_id: str) -> LayerSpec:
        for layer in self.layers:
            if layer.id == layer_id:
                return layer
        raise KeyError(layer_id)

    def layer_index(self, layer_id: str) -> int:
        for i, layer in enumerate(self.layers):
            if layer.id == layer_id:
                return i
        raise KeyError(layer_id)

    def replace(self, **changes) -> "StackSpec":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class LayerDims:
    """A layer's effective settings after overrides: everything concrete."""

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
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, DIMS_FIELDS)

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in DIMS_FIELDS}

    @property
    def q_width(self) -> int:
        return self.n_heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.n_kv_heads * self.head_dim

    @property
    def gated(self) -> bool:
        return self.activation in GATED_ACTIVATIONS


DIMS_FIELDS = tuple(f for f in LayerDims.__dataclass_fields__ if f != "_hash")


def _pick(override, default):
    return default if override is None else override


@lru_cache(maxsize=65536)
def dims(layer: LayerSpec, settings: ModelSettings) -> LayerDims:
    """Resolve a layer's overrides against the global settings (cached: both are frozen)."""
    s = settings
    n_heads = _pick(layer.n_heads, s.n_heads)
    n_kv_heads = _pick(layer.n_kv_heads, s.n_kv_heads)
    if n_kv_heads is None:
        n_kv_heads = n_heads
    head_dim = _pick(layer.head_dim, s.head_dim)
    if head_dim is None:
        head_dim = s.d_model // n_heads if n_heads > 0 else 0
    d_ff = _pick(layer.d_ff, s.d_ff)
    if d_ff is None:
        d_ff = 4 * s.d_model
    bias = _pick(layer.bias, s.bias)
    embedding_size = _pick(layer.embedding_size, s.embedding_size)
    if embedding_size is None:
        embedding_size = s.d_model
    # a layer-level `bias` override applies to its attention and FFN unless those are set too
    attention_bias = _pick(layer.attention_bias, _pick(s.attention_bias, bias) if layer.bias is None else bias)
    ffn_bias = _pick(layer.ffn_bias, _pick(s.ffn_bias, bias) if layer.bias is None else bias)
    return LayerDims(
        kind=layer.kind,
        d_model=s.d_model,
        n_heads=n_heads,
        n_kv_heads=n_kv_heads,
        head_dim=head_dim,
        d_ff=d_ff,
        activation=_pick(layer.activation, s.activation),
        norm=_pick(layer.norm, s.norm),
        norm_position=_pick(layer.norm_position, s.norm_position),
        attention_bias=attention_bias,
        ffn_bias=ffn_bias,
        o_bias=_o_bias(layer, s, attention_bias),
        bias=bias,
        causal=_pick(layer.causal, s.causal),
        vocab_size=_pick(layer.vocab_size, s.vocab_size),
        embedding_size=embedding_size,
        max_positions=_pick(layer.max_positions, s.max_positions),
        type_vocab_size=_pick(layer.type_vocab_size, s.type_vocab_size),
        positional=_pick(layer.positional, s.positional),
        kv_from=layer.kv_from,
        lora_rank=layer.lora_rank,
        low_rank=layer.low_rank,
        halting=layer.halting,
        timestep_signal=layer.timestep_signal,
        embedding_norm=layer.embedding_norm,
        kernel_size=layer.kernel_size,
        groups=layer.groups,
        transform=layer.transform,
        n_outputs=layer.n_outputs,
        task=layer.task,
        n_experts=layer.n_experts,
        top_k=layer.top_k,
        shared_d_ff=layer.shared_d_ff,
        shared_gate=layer.shared_gate,
        target=layer.target,
        position_bias=layer.position_bias,
        relative_buckets=s.relative_buckets,
        relative_max_distance=s.relative_max_distance,
    )


def _o_bias(layer: LayerSpec, s: ModelSettings, attention_bias: bool) -> bool:
    """The output projection's bias: its own setting, else the layer's attention bias when the
    layer sets one, else the global o_bias, else the attention bias."""
    if layer.o_bias is not None:
        return layer.o_bias
    if layer.attention_bias is None and layer.bias is None and s.o_bias is not None:
        return s.o_bias
    return attention_bias


def unshared_twin(spec: StackSpec) -> StackSpec:
    """The same architecture with every kind of sharing undone.

    No groups (so no tying), no cross-layer K/V reuse, and every query head with its own
    K/V head (MQA/GQA undone). Factorizations (embedding E, low rank, LoRA) are
    architecture, not sharing, and stay.
    """
    settings = dataclasses.replace(spec.settings, n_kv_heads=None)
    layers = tuple(
        dataclasses.replace(layer, kv_from=None, n_kv_heads=None)
        if (layer.kv_from is not None or layer.n_kv_heads is not None)
        else layer
        for layer in spec.layers
    )
    if layers == spec.layers and settings == spec.settings and not spec.groups:
        return spec
    return dataclasses.replace(
        spec, settings=settings, layers=layers, groups=(), name=f"{spec.name} (unshared twin)"
    )
