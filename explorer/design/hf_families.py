"""The readers behind ``import_hf_config`` (explorer/design/hf_import.py, the entry point):
typed access to a config.json's keys, and the trunk (global settings and layers) of each
family: BERT/RoBERTa/ALBERT, GPT-2, the LLaMA family (LLaMA, Mistral, Qwen2, Gemma) and its
mixtures of experts (Mixtral, Qwen2-MoE). Every problem is one SpecError naming the key.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from explorer.errors import SpecError
from explorer.design.model import MAX_DIM, MAX_LAYERS, MAX_POSITIONS, MAX_VOCAB, LayerSpec, ModelSettings

_REQUIRED = object()
MAX_EXPERTS = 65536

# hidden_act -> our activation (plain FFN) and, for LLaMA-style gated MLPs, the gated one
PLAIN_ACTS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh",
              "relu": "relu", "silu": "silu", "swish": "silu"}
GATED_ACTS = {"silu": "swiglu", "swish": "swiglu", "gelu": "geglu", "gelu_new": "geglu",
              "gelu_pytorch_tanh": "geglu"}

# transformers' defaults of the LLaMA-family keys a design needs only for its record:
# model_type -> (hidden_act, rms_norm_eps, max_position_embeddings, head_dim (None: d / heads))
_DECODER_DEFAULTS = {"gemma": ("gelu_pytorch_tanh", 1e-6, 8192, 256), "mixtral": ("silu", 1e-5, 131072, None),
                     "qwen2_moe": ("silu", 1e-6, 32768, None)}
_LLAMA_DEFAULTS = ("silu", 1e-6, 2048, None)
# num_key_value_heads when the key is absent: the config class's default (transformers 5), not the
# number of query heads; only LlamaConfig's default is None (= num_attention_heads). A null value
# means num_attention_heads in every family whose config accepts it.
_KV_HEADS_DEFAULTS = {"mistral": ("MistralConfig", 8), "qwen2": ("Qwen2Config", 32), "gemma": ("GemmaConfig", 16),
                      "mixtral": ("MixtralConfig", 8), "qwen2_moe": ("Qwen2MoeConfig", 16)}


class Config:
    """Typed access to config keys; every problem is a SpecError naming the key."""

    def __init__(self, data: Mapping, source: str) -> None:
        self.data, self.source = data, source

    def error(self, message: str, key: str) -> SpecError:
        return SpecError(message, key, self.source)

    def get(self, key: str, default=_REQUIRED, aliases: tuple[str, ...] = ()):
        """`aliases`: the config class's attribute_map names of `key`; as in transformers, an alias the
        file sets (not null) is applied after the field and wins."""
        for name in (*aliases, key):
            if name in self.data and self.data[name] is not None:
                return name, self.data[name]
        if default is _REQUIRED:
            raise self.error("missing: this model type needs it", key)
        return key, default

    def int(self, key: str, default=_REQUIRED, minimum: int = 1, maximum: int = MAX_DIM,
            aliases: tuple[str, ...] = ()) -> int:
        name, value = self.get(key, default, aliases)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"expected an integer, got {show(value)}", name)
        if value < minimum:
            raise self.error(f"must be at least {minimum}, got {value}", name)
        if value > maximum:
            raise self.error(f"{value:,} is absurdly large (limit {maximum:,})", name)
        return value

    def bool(self, key: str, default=_REQUIRED) -> bool:
        name, value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {show(value)}", name)
        return value

    def eps(self, key: str, default=_REQUIRED) -> float:
        name, value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < 1):
            raise self.error(f"expected a small positive number, got {show(value)}", name)
        return float(value)

    def text(self, key: str, default=_REQUIRED) -> str:
        name, value = self.get(key, default)
        if not isinstance(value, str):
            raise self.error(f"expected text, got {show(value)}", name)
        return value

    def activation(self, key: str, table: dict[str, str], default=_REQUIRED) -> str:
        value = self.text(key, default)
        if value not in table:
            raise self.error(f"activation {value!r} has no counterpart here (known: {', '.join(table)})", key)
        return table[value]

    def indices(self, key: str) -> frozenset[builtins.int]:   # builtins: `int` here is the method above
        """A list of layer indices (absent or null: none)."""
        name, value = self.get(key, [])
        if not isinstance(value, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in value):
            raise self.error(f"expected a list of layer indices, got {show(value)}", name)
        return frozenset(value)

    def num_labels(self) -> builtins.int:
        if self.data.get("id2label") is not None:
            labels = self.data["id2label"]
            if not isinstance(labels, dict) or not labels:
                raise self.error(f"expected an object of labels, got {show(labels)}", "id2label")
            return len(labels)
        return self.int("num_labels", 2, maximum=MAX_VOCAB)

    def refuse(self, key: str, allowed, reason: str) -> None:
        """Refuse a setting whose value adds tensors this import cannot reproduce."""
        if key in self.data and self.data[key] not in allowed:
            raise self.error(f"{show(self.data[key])} is not supported: {reason}", key)


def show(value) -> str:
    text = json.dumps(value) if isinstance(value, (bool, type(None))) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Trunk:
    settings: ModelSettings
    layers: tuple[LayerSpec, ...]
    order: tuple[tuple[str, int, int], ...] = ()   # ALBERT: (layer id, group, inner index)
    pooler: bool = False                           # encoders: BertModel etc. end in a pooler


def encoder(cfg: Config, model_type: str) -> Trunk:
    """BERT, RoBERTa and ALBERT: learned positions, token types, post-LN, tanh pooler."""
    cfg.refuse("position_embedding_type", ("absolute",), "relative position embeddings add tensors")
    cfg.refuse("add_cross_attention", (False,), "cross-attention layers are not imported")
    d = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers", maximum=MAX_LAYERS)
    heads = cfg.int("num_attention_heads", maximum=65536)
    if d % heads:
        raise cfg.error(f"hidden_size {d} is not divisible by num_attention_heads {heads}", "num_attention_heads")
    albert = model_type == "albert"
    settings = ModelSettings(
        d_model=d, n_heads=heads, d_ff=cfg.int("intermediate_size", maximum=MAX_DIM * 8),
        vocab_size=cfg.int("vocab_size", maximum=MAX_VOCAB),
        embedding_size=cfg.int("embedding_size", 128) if albert else None,
        max_positions=cfg.int("max_position_embeddings", maximum=MAX_POSITIONS),
        type_vocab_size=cfg.int("type_vocab_size", 2, minimum=0, maximum=MAX_VOCAB),
        activation=cfg.activation("hidden_act", PLAIN_ACTS, "gelu_new" if albert else "gelu"),
        norm="layernorm", norm_position="post", norm_eps=cfg.eps("layer_norm_eps", 1e-12), bias=True,
        positional="learned", causal=cfg.bool("is_decoder", False))
    if albert and settings.embedding_size == d:
        raise cfg.error(f"equal to hidden_size {d}: ALBERT still maps it to the hidden size with a full "
                        f"linear layer, which a design has only when embedding_size differs from d_model",
                        "embedding_size")
    embedding = LayerSpec("embeddings", "embedding", embedding_norm=True)
    if not albert:
        return Trunk(settings, (embedding,) + tuple(LayerSpec(f"layer{i}", "block") for i in range(n_layers)),
                     pooler=True)
    groups = cfg.int("num_hidden_groups", 1, maximum=MAX_LAYERS)
    inner = cfg.int("inner_group_num", 1, maximum=MAX_LAYERS)
    if groups > n_layers:
        raise cfg.error(f"{groups} groups for {n_layers} layers leaves groups that never run "
                        f"(their tensors cannot be placed in a stack)", "num_hidden_groups")
    if n_layers * inner > MAX_LAYERS:
        raise cfg.error(f"{n_layers} layers x {inner} inner layers is more than {MAX_LAYERS} blocks",
                        "inner_group_num")
    order = []
    for i in range(n_layers):
        group = int(i / (n_layers / groups))   # exactly AlbertTransformer's float schedule
        for j in range(inner):
            order.append((f"layer{i}" if inner == 1 else f"layer{i}_{j}", group, j))
    layers = (embedding,) + tuple(LayerSpec(lid, "block") for lid, _g, _j in order)
    return Trunk(settings, layers, tuple(order), pooler=True)


def gpt2(cfg: Config) -> Trunk:
    """GPT-2: pre-LN causal blocks (Conv1D = linear), learned positions, final ln_f."""
    cfg.refuse("add_cross_attention", (False,), "cross-attention layers are not imported")
    d = cfg.int("n_embd", aliases=("hidden_size",))
    heads = cfg.int("n_head", maximum=65536, aliases=("num_attention_heads",))
    if d % heads:
        raise cfg.error(f"n_embd {d} is not divisible by n_head {heads}", "n_head")
    n_layers = cfg.int("n_layer", maximum=MAX_LAYERS, aliases=("num_hidden_layers",))
    settings = ModelSettings(
        d_model=d, n_heads=heads, d_ff=cfg.int("n_inner", 4 * d, maximum=MAX_DIM * 8),
        vocab_size=cfg.int("vocab_size", maximum=MAX_VOCAB),
        max_positions=cfg.int("n_positions", maximum=MAX_POSITIONS, aliases=("max_position_embeddings",)),
        activation=cfg.activation("activation_function", PLAIN_ACTS, "gelu_new"), norm="layernorm",
        norm_position="pre", norm_eps=cfg.eps("layer_norm_epsilon", 1e-5), bias=True, positional="learned",
        causal=True)
    layers = (LayerSpec("wte", "embedding"),) + tuple(LayerSpec(f"h{i}", "block") for i in range(n_layers))
    return Trunk(settings, layers + (LayerSpec("ln_f", "norm"),))


def llama(cfg: Config, model_type: str = "llama") -> Trunk:
    """The LLaMA family: RMSNorm pre-LN, gated MLP, rotary, GQA, final norm.

    Biases, as each transformers model class builds them: LLaMA follows attention_bias (all
    four projections) and mlp_bias; Gemma attention_bias only; Qwen2's q/k/v always have one
    and o never, Qwen2-MoE's q/k/v follow qkv_bias; Mistral and Mixtral have none (their
    classes ignore attention_bias and mlp_bias). Gemma's embedding scale and (1 + w) norms are
    element-wise, the same tensors as LLaMA's. Mixtral and Qwen2-MoE put a mixture of
    experts in place of the MLP (see `_moe_layers`)."""
    act, eps, max_positions, head_dim = _DECODER_DEFAULTS.get(model_type, _LLAMA_DEFAULTS)
    d = cfg.int("hidden_size")
    heads = cfg.int("num_attention_heads", maximum=65536)
    kv_heads = _kv_heads(cfg, model_type, heads)
    head_dim = cfg.int("head_dim", d // heads if head_dim is None else head_dim)
    if head_dim % 2:                 # transformers' rotary embedding cannot run it either
        explicit = cfg.data.get("head_dim") is not None
        raise cfg.error(f"the head width {head_dim} is odd" + ("" if explicit else f" (hidden_size {d} // "
                        f"num_attention_heads {heads})") + ": rotary positions rotate pairs of channels, "
                        "so it must be even", "head_dim" if explicit else "num_attention_heads")
    n_layers = cfg.int("num_hidden_layers", maximum=MAX_LAYERS)
    attention_bias, o_bias, ffn_bias = _biases(cfg, model_type)
    settings = ModelSettings(
        d_model=d, n_heads=heads, n_kv_heads=None if kv_heads == heads else kv_heads,
        head_dim=None if (d % heads == 0 and head_dim == d // heads) else head_dim,
        d_ff=cfg.int("intermediate_size", maximum=MAX_DIM * 8), vocab_size=cfg.int("vocab_size", maximum=MAX_VOCAB),
        max_positions=cfg.int("max_position_embeddings", max_positions, maximum=MAX_POSITIONS),
        activation=cfg.activation("hidden_act", GATED_ACTS, act), norm="rmsnorm", norm_position="pre",
        norm_eps=cfg.eps("rms_norm_eps", eps), bias=False,
        attention_bias=attention_bias, o_bias=o_bias, ffn_bias=ffn_bias, positional="rotary",
        causal=not cfg.bool("use_bidirectional_attention", False) if model_type == "gemma" else True)
    blocks = _moe_layers(cfg, model_type, n_layers, settings.d_ff)
    return Trunk(settings, (LayerSpec("embed_tokens", "embedding"),) + blocks + (LayerSpec("norm", "norm"),))


def _kv_heads(cfg: Config, model_type: str, heads: int) -> int:
    """num_key_value_heads: null means num_attention_heads; absent, the config class's default."""
    absent = "num_key_value_heads" not in cfg.data
    config_class, default = _KV_HEADS_DEFAULTS.get(model_type, ("LlamaConfig", heads))
    kv_heads = cfg.int("num_key_value_heads", default if absent else heads, maximum=65536)
    if heads % kv_heads:
        if absent:
            raise cfg.error(f"missing, and transformers' {config_class} then uses {kv_heads} K/V heads, which do "
                            f"not divide num_attention_heads {heads} (the model cannot run); give the value",
                            "num_key_value_heads")
        raise cfg.error(f"num_key_value_heads {kv_heads} must divide num_attention_heads {heads}",
                        "num_key_value_heads")
    return kv_heads


def _biases(cfg: Config, model_type: str) -> tuple[bool, bool | None, bool]:
    """(attention_bias, o_bias (None: as attention), ffn_bias) of a LLaMA-family model."""
    if model_type == "qwen2":
        return True, False, False
    if model_type == "qwen2_moe":
        return cfg.bool("qkv_bias", True), False, False
    if model_type in ("mistral", "mixtral"):
        return False, None, False
    return cfg.bool("attention_bias", False), None, model_type != "gemma" and cfg.bool("mlp_bias", False)


def _moe_layers(cfg: Config, model_type: str, n_layers: int, d_ff: int | None) -> tuple[LayerSpec, ...]:
    """The decoder layers: every one a mixture of experts in Mixtral; in Qwen2-MoE layer i is one
    iff i is not in mlp_only_layers, num_experts > 0 and (i + 1) % decoder_sparse_step == 0, the
    others a dense MLP of intermediate_size; elsewhere dense blocks."""
    if model_type == "mixtral":
        experts_key, experts = _experts(cfg, "num_local_experts", ("num_experts",))
        sparse = [True] * n_layers
    elif model_type == "qwen2_moe":
        experts_key, experts = _experts(cfg, "num_experts", minimum=0)
        step = cfg.int("decoder_sparse_step", 1, maximum=MAX_LAYERS)
        dense = cfg.indices("mlp_only_layers")
        sparse = [i not in dense and experts > 0 and (i + 1) % step == 0 for i in range(n_layers)]
    else:
        sparse = [False] * n_layers
    if not any(sparse):
        return tuple(LayerSpec(f"layer{i}", "block") for i in range(n_layers))
    top_k = cfg.int("num_experts_per_tok", maximum=MAX_EXPERTS)
    if top_k > experts:
        raise cfg.error(f"{top_k} is more than the {experts} experts of {experts_key}", "num_experts_per_tok")
    moe: dict[str, Any] = {"n_experts": experts, "top_k": top_k}      # LayerSpec's keyword arguments
    if model_type == "qwen2_moe":
        expert_ff = cfg.int("moe_intermediate_size", maximum=MAX_DIM * 8)
        shared = cfg.int("shared_expert_intermediate_size", minimum=0, maximum=MAX_DIM * 8)
        if not shared:
            raise cfg.error("0 is not supported: transformers still builds the shared expert's sigmoid gate "
                            "(1 x hidden_size), which a design has only with a shared expert",
                            "shared_expert_intermediate_size")
        moe.update(d_ff=None if expert_ff == d_ff else expert_ff, shared_d_ff=shared, shared_gate=True)
    return tuple(LayerSpec(f"layer{i}", "moe_block", **moe) if s else LayerSpec(f"layer{i}", "block")
                 for i, s in enumerate(sparse))


def _experts(cfg: Config, key: str, aliases: tuple[str, ...] = (), minimum: int = 1) -> tuple[str, int]:
    name = cfg.get(key, aliases=aliases)[0]
    return name, cfg.int(key, minimum=minimum, maximum=MAX_EXPERTS, aliases=aliases)


__all__ = ["GATED_ACTS", "PLAIN_ACTS", "Config", "Trunk", "encoder", "gpt2", "llama", "show"]
