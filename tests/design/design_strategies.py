"""Hypothesis strategies for small, valid designs (pure: no torch).

Shared by tests/design, tests/analysis and tests/torchmodel; those add this folder to sys.path.
Sizes are tiny so that a design builds and runs on CPU in milliseconds.
"""

from __future__ import annotations

import dataclasses

from hypothesis import assume
from hypothesis import strategies as st

from explorer.errors import SpecError
from explorer.design.model import LayerSpec, Member, ModelSettings, SharingGroup, StackSpec
from explorer.design.strategies import SCHEMES, apply_scheme
from explorer.design.validate import validate

# name -> strategy of its options (drawn per application)
SCHEME_OPTIONS = {
    "albert": st.fixed_dictionaries({}, optional={"groups": st.integers(1, 3),
                                                  "slot": st.sampled_from(["block", "ffn", "attention"])}),
    "albert-ffn": st.just({}),
    "albert-attention": st.just({}),
    "universal": st.fixed_dictionaries({}, optional={"halting": st.booleans(), "timestep_signal": st.booleans()}),
    "sequence": st.fixed_dictionaries({"blocks": st.integers(1, 4)}),
    "cycle": st.fixed_dictionaries({"blocks": st.integers(1, 4)}),
    "cycle-reverse": st.fixed_dictionaries({"blocks": st.integers(1, 4)}),
    "immediate-repeat": st.fixed_dictionaries({"repeat": st.integers(1, 3)}),
    "interleaved": st.just({}),
    "skip": st.fixed_dictionaries({"skip": st.integers(1, 3)}),
    "head-sharing": st.fixed_dictionaries({"heads": st.sampled_from(["0:1", "0:2", "1:2", "2:4", 1, 2])}),
    "gqa": st.fixed_dictionaries({"n_kv_heads": st.sampled_from([1, 2])}),
    "mqa": st.just({}),
    "cross-layer-kv": st.fixed_dictionaries({"every": st.integers(2, 3)}),
    "tie-embeddings": st.just({}),
    "factorized-embedding": st.fixed_dictionaries({"size": st.sampled_from([4, 6, 8])}),
    "shared-low-rank": st.fixed_dictionaries({"rank": st.sampled_from([2, 4])}),
    "relaxed-recursion": st.fixed_dictionaries({"rank": st.sampled_from([1, 2]), "blocks": st.integers(1, 2)}),
    "shared-rnn-cell": st.just({}),
    "shared-conv-bank": st.just({}),
    "grouped-conv": st.fixed_dictionaries({"groups": st.sampled_from([2, 4])}),
    "multi-task": st.fixed_dictionaries({"tasks": st.sampled_from([(2, 3), (4,), 2]),
                                         "task": st.sampled_from(["sequence", "token"])}),
    "unshare": st.just({}),
    "expert-bank": st.fixed_dictionaries({}, optional={"banks": st.integers(1, 2)}),
    "shared-expert": st.just({}),
}
assert set(SCHEME_OPTIONS) == set(SCHEMES), "a new scheme needs options here"


@st.composite
def settings_st(draw, d_models=(8, 16)) -> ModelSettings:
    d_model = draw(st.sampled_from(d_models))
    n_heads = draw(st.sampled_from([h for h in (1, 2, 4) if d_model % h == 0]))
    n_kv = draw(st.sampled_from([None] + [k for k in (1, 2, 4) if n_heads % k == 0 and k <= n_heads]))
    head_dim = draw(st.sampled_from([None, None, 2, 4, 6]))
    positional = draw(st.sampled_from(["learned", "sinusoidal", "rotary", "none"]))
    return ModelSettings(
        d_model=d_model,
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=head_dim,
        d_ff=draw(st.sampled_from([None, 8, 12])),
        vocab_size=draw(st.sampled_from([11, 20])),
        embedding_size=draw(st.sampled_from([None, None, 4, 6])),
        max_positions=16,
        type_vocab_size=draw(st.sampled_from([0, 0, 2])),
        activation=draw(st.sampled_from(["gelu", "gelu_tanh", "relu", "silu", "swiglu", "geglu"])),
        norm=draw(st.sampled_from(["layernorm", "rmsnorm"])),
        norm_position=draw(st.sampled_from(["pre", "post"])),
        bias=draw(st.booleans()),
        attention_bias=draw(st.sampled_from([None, None, True, False])),
        ffn_bias=draw(st.sampled_from([None, None, True, False])),
        positional=positional,
        causal=draw(st.booleans()),
    )


def _override(draw, kind: str, settings: ModelSettings, rich: bool = False) -> dict:
    """A few per-layer overrides that keep the layer valid (shapes may then differ)."""
    out: dict = {}
    if kind in ("block", "attention", "ffn") and draw(st.integers(0, 3)) == 0:
        if kind in ("block", "ffn"):
            out["d_ff"] = draw(st.sampled_from([8, 16]))
            out["activation"] = draw(st.sampled_from(["relu", "swiglu"]))
        if kind in ("block", "attention"):
            out["causal"] = draw(st.booleans())
        out["bias"] = draw(st.booleans())
    if kind == "block" and draw(st.integers(0, 4)) == 0:
        out["norm_position"] = draw(st.sampled_from(["pre", "post"]))
        out["norm"] = draw(st.sampled_from(["layernorm", "rmsnorm"]))
    if kind == "moe_block":
        out["n_experts"] = draw(st.sampled_from([2, 3, 4]))
        out["top_k"] = draw(st.integers(1, 2))
        if draw(st.booleans()):
            out["shared_d_ff"] = draw(st.sampled_from([4, 8]))
            out["shared_gate"] = draw(st.booleans())
        if draw(st.integers(0, 3)) == 0:
            out["d_ff"] = draw(st.sampled_from([8, 16]))
            out["activation"] = draw(st.sampled_from(["relu", "swiglu"]))
    if kind == "embedding":
        out["embedding_norm"] = draw(st.booleans())
    if kind == "lm_head":
        out["transform"] = draw(st.booleans())
    if kind == "head":
        out["n_outputs"] = draw(st.integers(1, 4))
        out["task"] = draw(st.sampled_from(["sequence", "token"]))
    if kind == "conv":
        out["kernel_size"] = draw(st.sampled_from([1, 3]))
        out["groups"] = draw(st.sampled_from([1, 2]))
    if kind in ("linear", "pooler", "lstm", "gru", "conv") and draw(st.booleans()):
        out["bias"] = draw(st.booleans())
    if rich and kind in ("block", "attention") and draw(st.integers(0, 2)) == 0:
        out["head_dim"] = draw(st.sampled_from([2, 4, 8]))
        out["n_heads"] = draw(st.sampled_from([1, 2, 4]))
        out["n_kv_heads"] = draw(st.sampled_from([None, 1, 2]))
        out["positional"] = draw(st.sampled_from(["rotary", "none", "learned"]))
    if rich and kind == "block" and draw(st.integers(0, 2)) == 0:
        out["low_rank"] = draw(st.sampled_from([0, 2]))
        out["lora_rank"] = draw(st.sampled_from([0, 1, 3]))
        out["halting"] = draw(st.booleans())
        out["timestep_signal"] = draw(st.booleans())
    if rich and kind in ("embedding", "lm_head") and draw(st.booleans()):
        out["embedding_size"] = draw(st.sampled_from([4, 8]))
        out["vocab_size"] = draw(st.sampled_from([7, 11]))
    return out


@st.composite
def designs(draw, min_trunk: int = 1, max_trunk: int = 6, families=("transformer", "rnn", "conv", "moe", "mixed"),
            overrides: bool = True, rich: bool = False) -> StackSpec:
    """A valid design: optional embedding, a trunk, optional output layers."""
    settings = draw(settings_st())
    # transformers are what most schemes act on: draw them most often
    family = draw(st.sampled_from([f for f in families for _ in range(4 if f == "transformer" else 1)]))
    trunk_kinds = {
        "transformer": ["block"],
        "rnn": ["lstm", "gru"],
        "conv": ["conv"],
        "moe": ["moe_block"],
        "mixed": ["block", "attention", "ffn", "norm", "linear", "conv", "lstm", "gru", "moe_block"],
    }[family]
    n = draw(st.integers(max(min_trunk, 2) if family in ("transformer", "moe") else min_trunk, max_trunk))
    if family in ("transformer", "moe") or draw(st.booleans()):
        kinds = [trunk_kinds[0]] * n if family != "mixed" else [draw(st.sampled_from(trunk_kinds)) for _ in range(n)]
    else:
        kinds = [draw(st.sampled_from(trunk_kinds)) for _ in range(n)]
    if draw(st.booleans()):
        kinds = ["embedding"] + kinds
    outputs = draw(st.lists(st.sampled_from(["pooler", "lm_head", "head"]), max_size=3))
    kinds += outputs
    layers = []
    counters: dict[str, int] = {}
    common: dict[str, dict] = {}          # most layers of a kind look alike, so that schemes fit
    for kind in kinds:
        k = counters.get(kind, 0)
        counters[kind] = k + 1
        if kind not in common:
            common[kind] = _override(draw, kind, settings, rich) if overrides else {}
        extra = common[kind]
        if overrides and draw(st.integers(0, 5)) == 0:
            extra = _override(draw, kind, settings, rich)
        layers.append(LayerSpec(id=f"{kind}{k}", kind=kind, **extra))
    if rich and draw(st.booleans()):
        # K/V reuse from an earlier attention layer
        attn = [i for i, x in enumerate(layers) if x.kind in ("block", "attention", "moe_block")]
        if len(attn) >= 2:
            src, dst = sorted(draw(st.lists(st.sampled_from(attn), min_size=2, max_size=2, unique=True)))
            layers[dst] = dataclasses.replace(layers[dst], kv_from=layers[src].id)
    spec = StackSpec(settings=settings, layers=tuple(layers), name=draw(st.sampled_from(["t", "design x"])))
    if rich:
        try:
            validate(spec)
        except SpecError:
            assume(False)
    else:
        validate(spec)
    return spec


def try_scheme(spec: StackSpec, name: str, options: dict) -> StackSpec | None:
    """Apply a scheme; None when the scheme does not fit the design (a SpecError)."""
    try:
        out = apply_scheme(spec, name, **options)
        validate(out)
    except SpecError:
        return None
    return out


# every scheme, the group-making ones that often do not fit a random design more often
_SCHEME_DRAW = sorted(SCHEMES) + ["expert-bank", "head-sharing", "head-sharing", "cycle", "sequence", "skip",
                                  "tie-embeddings", "albert-ffn", "cross-layer-kv", "immediate-repeat", "cycle-reverse"]


@st.composite
def schemed_designs(draw, base=None, max_schemes: int = 3) -> StackSpec:
    """A design with a random sequence of schemes applied (those that do not fit are skipped)."""
    spec = draw(base if base is not None else designs())
    for _ in range(draw(st.integers(1, max_schemes)) if max_schemes else 0):
        name = draw(st.sampled_from(_SCHEME_DRAW))
        options = draw(SCHEME_OPTIONS[name])
        out = try_scheme(spec, name, options)
        if out is not None:
            spec = out
    return spec


def replace_layers(spec: StackSpec, **changes) -> StackSpec:
    return dataclasses.replace(spec, layers=tuple(dataclasses.replace(x, **changes) for x in spec.layers))


# ----------------------------------------------------------------- fixed small stacks

def transformer_stack(n_blocks: int = 4, embedding: bool = True, lm_head: bool = True, **settings) -> StackSpec:
    """embedding, n blocks b0..b{n-1}, lm_head `out`; d_model 16, 4 heads, d_ff 32, vocab 23."""
    base = {"d_model": 16, "n_heads": 4, "d_ff": 32, "vocab_size": 23, "max_positions": 16}
    base.update(settings)
    layers = [LayerSpec("emb", "embedding")] if embedding else []
    layers += [LayerSpec(f"b{i}", "block") for i in range(n_blocks)]
    if lm_head:
        layers.append(LayerSpec("out", "lm_head"))
    return StackSpec(settings=ModelSettings(**base), layers=tuple(layers), name="small")


def moe_stack(n_blocks: int = 4, n_experts: int = 4, top_k: int = 2, shared_d_ff: int = 8) -> StackSpec:
    """embedding, n mixture-of-experts blocks b0.. (gated shared expert), final norm, lm_head `out`."""
    base = transformer_stack(0, activation="swiglu", norm="rmsnorm", bias=False, positional="rotary", causal=True)
    moe = tuple(LayerSpec(f"b{i}", "moe_block", n_experts=n_experts, top_k=top_k, shared_d_ff=shared_d_ff,
                          shared_gate=bool(shared_d_ff)) for i in range(n_blocks))
    return dataclasses.replace(base, layers=base.layers[:1] + moe + (LayerSpec("norm", "norm"),) + base.layers[1:],
                               name="small moe")


def rnn_stack(n: int = 3, bias: bool = True) -> StackSpec:
    layers = [LayerSpec(f"lstm{i}", "lstm") for i in range(n)] + [LayerSpec(f"gru{i}", "gru") for i in range(n)]
    return StackSpec(ModelSettings(d_model=8, n_heads=2, bias=bias), tuple(layers), name="rnn")


def conv_stack(n: int = 3, kernel_size: int = 3) -> StackSpec:
    layers = [LayerSpec(f"conv{i}", "conv", kernel_size=kernel_size) for i in range(n)]
    layers += [LayerSpec("pool", "pooler"), LayerSpec("cls", "head", n_outputs=3)]
    return StackSpec(ModelSettings(d_model=8, n_heads=2), tuple(layers), name="conv")


def stack_for_scheme(name: str) -> StackSpec:
    """A small design every scheme in SCHEMES fits with its default options."""
    if name == "shared-rnn-cell":
        return rnn_stack()
    if name in ("shared-conv-bank", "grouped-conv"):
        return conv_stack()
    if name in ("expert-bank", "shared-expert"):
        return moe_stack(4)
    if name == "shared-low-rank":
        return transformer_stack(4, d_model=16)        # rank 64 default is too big: callers pass rank
    return transformer_stack(4)


DEFAULT_TEST_OPTIONS = {"shared-low-rank": {"rank": 4}, "factorized-embedding": {"size": 8},
                        "relaxed-recursion": {"rank": 2}}
"""Options that make a scheme fit the tiny stacks (defaults are sized for real models)."""


# ----------------------------------------------------------------- streams: relative positions, K/V reuse

@st.composite
def stream_designs(draw, valid: bool | None = None) -> StackSpec:
    """A small design mixing what interacts across layers: T5's relative position bias (held by some
    layers, reused by later ones, per-layer head counts), K/V read from another layer (also across the
    encoder/decoder boundary and between causal and bidirectional layers), encoder-decoders with their
    own vocabularies, head width 1, GQA, LoRA and whole-block groups. `valid`: True keeps only designs
    that validate, False only those refused, None both."""
    d_model = draw(st.sampled_from([4, 6, 8]))
    n_heads = draw(st.sampled_from([h for h in (1, 2, 4, 6, 8) if d_model % h == 0]))
    buckets = draw(st.sampled_from([4, 6, 8]))
    settings = ModelSettings(
        d_model=d_model, n_heads=n_heads,
        n_kv_heads=draw(st.sampled_from([None] + [k for k in (1, 2) if n_heads % k == 0])),
        d_ff=draw(st.sampled_from([None, 6])), vocab_size=draw(st.sampled_from([9, 13])), max_positions=16,
        activation=draw(st.sampled_from(["relu", "gelu", "swiglu"])),
        norm=draw(st.sampled_from(["layernorm", "rmsnorm"])),
        norm_position=draw(st.sampled_from(["pre", "post"])), bias=draw(st.booleans()),
        positional=draw(st.sampled_from(["relative", "relative", "relative", "rotary", "learned"])),
        relative_buckets=buckets, relative_max_distance=draw(st.integers(buckets // 2 + 1, 20)),
        causal=draw(st.booleans()))
    heads_options = [h for h in (1, 2, 4) if d_model % h == 0 and (settings.n_kv_heads or h) <= h
                     and h % (settings.n_kv_heads or h) == 0]

    def trunk(prefix: str, decoder: bool) -> list[LayerSpec]:
        kinds = ["cross_block"] if decoder else ["block"]
        kinds += ["block", "attention", "moe_block", "ffn", "norm"]
        out = []
        relative = settings.positional == "relative"
        for j in range(draw(st.integers(1, 4))):
            k = draw(st.sampled_from(kinds[:1] * 3 + kinds[1:]))
            extra: dict = {}
            if k in ("block", "cross_block") and relative and draw(st.integers(0, 4 if j else 1)) <= (0 if j else 1):
                extra["position_bias"] = True
            if k in ("block", "cross_block", "attention", "moe_block"):
                if draw(st.integers(0, 4)) == 0:
                    extra["n_heads"] = draw(st.sampled_from(heads_options))
                if draw(st.integers(0, 3)) == 0:
                    extra["causal"] = draw(st.booleans())
                if decoder:
                    extra.setdefault("causal", True)
            if k == "block" and draw(st.integers(0, 3)) == 0:
                extra["lora_rank"] = draw(st.sampled_from([1, 2]))
            if k == "moe_block":
                extra.update(n_experts=2, top_k=1)
            out.append(LayerSpec(f"{prefix}{j}", k, **extra))
        return out

    layers = [LayerSpec("emb", "embedding")] + trunk("enc", False)
    if draw(st.booleans()):
        layers.append(LayerSpec("tgt", "embedding", target=True,
                                vocab_size=draw(st.sampled_from([None, 7, 17]))))
        layers += trunk("dec", True)
    layers.append(LayerSpec("out", "lm_head"))
    attentive = [i for i, x in enumerate(layers) if x.kind in ("block", "cross_block", "attention", "moe_block")]
    for _ in range(draw(st.integers(0, 2))):
        if len(attentive) >= 2:
            src, dst = sorted(draw(st.lists(st.sampled_from(attentive), min_size=2, max_size=2, unique=True)))
            layers[dst] = dataclasses.replace(layers[dst], kv_from=layers[src].id)
    spec = StackSpec(settings=settings, layers=tuple(layers), name="streams")
    if draw(st.integers(0, 2)) == 0:
        same = [x.id for x in layers if x.kind == "block"]
        if len(same) >= 2:
            spec = dataclasses.replace(spec, groups=(SharingGroup("g", tuple(Member(lid, "block") for lid in
                                                                             draw(st.permutations(same))[:2])),))
    if draw(st.integers(0, 2)) == 0:
        name = draw(st.sampled_from(["cross-layer-kv", "albert", "gqa", "relaxed-recursion", "tie-embeddings"]))
        out = try_scheme(spec, name, draw(SCHEME_OPTIONS[name]))
        spec = out if out is not None else spec
    if valid is not None:
        try:
            validate(spec)
            ok = True
        except SpecError:
            ok = False
        assume(ok == valid)
    return spec
