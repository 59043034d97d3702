"""Import a Hugging Face transformers ``config.json`` as an editable design.

Pure: the file is read with ``json`` only, never with transformers, and nothing in it
is executed (``auto_map`` and ``trust_remote_code`` are ignored). The design reproduces
the base model (``BertModel`` with its pooler, ``GPT2Model``/``LlamaModel`` with their
final norm) or, with ``with_head=True``, the model of ``architectures[0]``, tensor for
tensor, so its parameter and FLOP counts equal those of the transformers model.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from explorer.errors import SpecError
from explorer.design import yaml_io
from explorer.design.model import (
    MAX_DIM,
    MAX_LAYERS,
    MAX_POSITIONS,
    MAX_VOCAB,
    LayerSpec,
    ModelSettings,
    StackSpec,
)
from explorer.design.strategies import apply_scheme, groups_from_order
from explorer.design.validate import validate

MAX_CONFIG_BYTES = 4 * 1024 * 1024
_REQUIRED = object()
_NAME_RE = re.compile(r"^[\w.\-/]{1,100}$")

# model_type -> (class-name prefix, family)
MODEL_TYPES = {
    "albert": ("Albert", "encoder"),
    "bert": ("Bert", "encoder"),
    "roberta": ("Roberta", "encoder"),
    "gpt2": ("GPT2", "gpt2"),
    "llama": ("Llama", "llama"),
    "mistral": ("Mistral", "llama"),
    "qwen2": ("Qwen2", "llama"),
}
SUPPORTED_MODEL_TYPES = tuple(sorted(MODEL_TYPES))
_WHY_NOT = {"qwen3": "its attention normalizes q and k per head, which a design cannot express yet"}

# class-name suffix -> head recipe, per family
_ENCODER_HEADS = {"Model": "base", "ForMaskedLM": "mlm", "ForPreTraining": "pretraining",
                  "ForSequenceClassification": "pooled-classifier", "ForTokenClassification": "token-classifier",
                  "ForQuestionAnswering": "qa"}
_HEADS = {
    "bert": {**_ENCODER_HEADS, "ForNextSentencePrediction": "nsp", "LMHeadModel": "mlm"},
    "albert": dict(_ENCODER_HEADS),
    "roberta": {**{k: v for k, v in _ENCODER_HEADS.items() if k != "ForPreTraining"}, "ForCausalLM": "mlm"},
    "gpt2": {"Model": "base", "LMHeadModel": "causal-lm", "ForSequenceClassification": "all-token-classifier",
             "ForTokenClassification": "token-classifier", "ForQuestionAnswering": "qa"},
    "llama": {"Model": "base", "ForCausalLM": "causal-lm", "ForSequenceClassification": "all-token-classifier",
              "ForTokenClassification": "token-classifier", "ForQuestionAnswering": "qa"},
}
_HEADS["mistral"] = _HEADS["llama"]
_HEADS["qwen2"] = _HEADS["llama"]

# hidden_act -> our activation (plain FFN) and, for LLaMA-style gated MLPs, the gated one
_PLAIN_ACTS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh",
               "relu": "relu", "silu": "silu", "swish": "silu"}
_GATED_ACTS = {"silu": "swiglu", "swish": "swiglu", "gelu": "geglu", "gelu_new": "geglu",
               "gelu_pytorch_tanh": "geglu"}


def supported_architectures() -> tuple[str, ...]:
    """Every ``architectures[0]`` value that ``with_head=True`` reproduces."""
    return tuple(sorted(f"{MODEL_TYPES[t][0]}{suffix}" for t in MODEL_TYPES for suffix in _HEADS[t]))


def read_hf_config(path: str | os.PathLike) -> dict:
    """Read a config.json safely (size-capped, strict JSON, an object). Raises SpecError."""
    source = os.fspath(path)
    try:
        size = os.stat(source).st_size
        if size > MAX_CONFIG_BYTES:
            raise SpecError(f"{size:,} bytes is too large for a config.json (limit {MAX_CONFIG_BYTES:,})",
                            source=source)
        with open(source, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise SpecError(f"cannot read: {err.strerror or err}", source=source) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise SpecError(f"more than {MAX_CONFIG_BYTES:,} bytes is too large for a config.json", source=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SpecError(f"not UTF-8 text (byte {err.start})", source=source) from None
    return parse_hf_config(text, source)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON number")


def parse_hf_config(text: str, source: str = "") -> dict:
    """Parse config.json text; NaN/Infinity and non-objects are errors. Raises SpecError."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise SpecError("not valid JSON (nested too deeply)", source=source) from None
    except ValueError as err:
        raise SpecError(f"not valid JSON ({err})", source=source) from None
    if not isinstance(data, dict):
        raise SpecError(f"expected a JSON object of settings, got {type(data).__name__}", source=source)
    return data


class _Config:
    """Typed access to config keys; every problem is a SpecError naming the key."""

    def __init__(self, data: Mapping, source: str) -> None:
        self.data, self.source = data, source

    def error(self, message: str, key: str) -> SpecError:
        return SpecError(message, key, self.source)

    def get(self, key: str, default=_REQUIRED, aliases: tuple[str, ...] = ()):
        for name in (key, *aliases):
            if name in self.data and self.data[name] is not None:
                return name, self.data[name]
        if default is _REQUIRED:
            raise self.error("missing: this model type needs it", key)
        return key, default

    def int(self, key: str, default=_REQUIRED, minimum: int = 1, maximum: int = MAX_DIM,
            aliases: tuple[str, ...] = ()) -> int:
        name, value = self.get(key, default, aliases)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"expected an integer, got {_show(value)}", name)
        if value < minimum:
            raise self.error(f"must be at least {minimum}, got {value}", name)
        if value > maximum:
            raise self.error(f"{value:,} is absurdly large (limit {maximum:,})", name)
        return value

    def bool(self, key: str, default=_REQUIRED) -> bool:
        name, value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {_show(value)}", name)
        return value

    def eps(self, key: str, default=_REQUIRED) -> float:
        name, value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < 1):
            raise self.error(f"expected a small positive number, got {_show(value)}", name)
        return float(value)

    def text(self, key: str, default=_REQUIRED) -> str:
        name, value = self.get(key, default)
        if not isinstance(value, str):
            raise self.error(f"expected text, got {_show(value)}", name)
        return value

    def activation(self, key: str, table: dict[str, str], default=_REQUIRED) -> str:
        value = self.text(key, default)
        if value not in table:
            raise self.error(f"activation {value!r} has no counterpart here (known: {', '.join(table)})", key)
        return table[value]

    def num_labels(self) -> int:
        if self.data.get("id2label") is not None:
            labels = self.data["id2label"]
            if not isinstance(labels, dict) or not labels:
                raise self.error(f"expected an object of labels, got {_show(labels)}", "id2label")
            return len(labels)
        return self.int("num_labels", 2, maximum=MAX_VOCAB)

    def refuse(self, key: str, allowed, reason: str) -> None:
        """Refuse a setting whose value adds tensors this import cannot reproduce."""
        if key in self.data and self.data[key] not in allowed:
            raise self.error(f"{_show(self.data[key])} is not supported: {reason}", key)


def _show(value) -> str:
    text = json.dumps(value) if isinstance(value, (bool, type(None))) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class _Trunk:
    settings: ModelSettings
    layers: tuple[LayerSpec, ...]
    order: tuple[tuple[str, int, int], ...] = ()   # ALBERT: (layer id, group, inner index)
    pooler: bool = False                           # encoders: BertModel etc. end in a pooler


def _encoder(cfg: _Config, model_type: str) -> _Trunk:
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
        activation=cfg.activation("hidden_act", _PLAIN_ACTS, "gelu_new" if albert else "gelu"),
        norm="layernorm", norm_position="post", norm_eps=cfg.eps("layer_norm_eps", 1e-12), bias=True,
        positional="learned", causal=cfg.bool("is_decoder", False))
    if albert and settings.embedding_size == d:
        raise cfg.error(f"equal to hidden_size {d}: ALBERT still maps it to the hidden size with a full "
                        f"linear layer, which a design has only when embedding_size differs from d_model",
                        "embedding_size")
    embedding = LayerSpec("embeddings", "embedding", embedding_norm=True)
    if not albert:
        return _Trunk(settings, (embedding,) + tuple(LayerSpec(f"layer{i}", "block") for i in range(n_layers)),
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
    return _Trunk(settings, layers, tuple(order), pooler=True)


def _gpt2(cfg: _Config) -> _Trunk:
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
        activation=cfg.activation("activation_function", _PLAIN_ACTS, "gelu_new"), norm="layernorm",
        norm_position="pre", norm_eps=cfg.eps("layer_norm_epsilon", 1e-5), bias=True, positional="learned",
        causal=True)
    layers = (LayerSpec("wte", "embedding"),) + tuple(LayerSpec(f"h{i}", "block") for i in range(n_layers))
    return _Trunk(settings, layers + (LayerSpec("ln_f", "norm"),))


def _llama(cfg: _Config, model_type: str = "llama") -> _Trunk:
    """LLaMA, Mistral and Qwen2: RMSNorm pre-LN, gated MLP, rotary, GQA, final norm.
    Qwen2's q/k/v projections always have biases and its o projection never has one."""
    d = cfg.int("hidden_size")
    heads = cfg.int("num_attention_heads", maximum=65536)
    kv_heads = cfg.int("num_key_value_heads", heads, maximum=65536)
    if heads % kv_heads:
        raise cfg.error(f"num_key_value_heads {kv_heads} must divide num_attention_heads {heads}",
                        "num_key_value_heads")
    head_dim = cfg.int("head_dim", d // heads)
    n_layers = cfg.int("num_hidden_layers", maximum=MAX_LAYERS)
    settings = ModelSettings(
        d_model=d, n_heads=heads, n_kv_heads=None if kv_heads == heads else kv_heads,
        head_dim=None if (d % heads == 0 and head_dim == d // heads) else head_dim,
        d_ff=cfg.int("intermediate_size", maximum=MAX_DIM * 8), vocab_size=cfg.int("vocab_size", maximum=MAX_VOCAB),
        max_positions=cfg.int("max_position_embeddings", 2048, maximum=MAX_POSITIONS),
        activation=cfg.activation("hidden_act", _GATED_ACTS, "silu"), norm="rmsnorm", norm_position="pre",
        norm_eps=cfg.eps("rms_norm_eps", 1e-6), bias=False,
        attention_bias=True if model_type == "qwen2" else cfg.bool("attention_bias", False),
        o_bias=False if model_type == "qwen2" else None,
        ffn_bias=False if model_type == "qwen2" else cfg.bool("mlp_bias", False), positional="rotary", causal=True)
    layers = ((LayerSpec("embed_tokens", "embedding"),) + tuple(LayerSpec(f"layer{i}", "block")
                                                                 for i in range(n_layers)))
    return _Trunk(settings, layers + (LayerSpec("norm", "norm"),))


def _head_layers(recipe: str, model_type: str, cfg: _Config, settings: ModelSettings) -> tuple[list, bool, bool]:
    """(layers after the trunk, keep the pooler, tie the decoder) for one head recipe."""
    family = MODEL_TYPES[model_type][1]
    tie = cfg.bool("tie_word_embeddings", model_type not in ("llama", "mistral", "qwen2"))
    bias = settings.bias
    if recipe == "base":
        return [], True, False
    if recipe == "mlm":              # dense + act + norm, decoder to V with its own bias
        return [LayerSpec("lm_head", "lm_head", transform=True, bias=True)], False, tie
    if recipe == "pretraining":      # MLM plus next-sentence (BERT) or sentence-order (ALBERT) on the pooled token
        n = 2 if model_type == "bert" else cfg.num_labels()
        return [LayerSpec("lm_head", "lm_head", transform=True, bias=True),
                LayerSpec("classifier", "head", n_outputs=n, task="sequence")], True, tie
    if recipe == "nsp":
        return [LayerSpec("classifier", "head", n_outputs=2, task="sequence")], True, False
    if recipe == "pooled-classifier":  # BERT/ALBERT pooler + classifier; RoBERTa's dense+tanh+out_proj is the same
        return [LayerSpec("classifier", "head", n_outputs=cfg.num_labels(), task="sequence")], True, False
    if recipe == "causal-lm":
        return [LayerSpec("lm_head", "lm_head", bias=False if bias else None)], False, tie
    if recipe == "all-token-classifier":  # scores every position, then picks the last non-pad one
        return [LayerSpec("score", "head", n_outputs=cfg.num_labels(), task="token",
                          bias=False if bias else None)], False, False
    if recipe == "token-classifier":
        has_bias = cfg.bool("token_classification_bias", True) if family == "llama" else True
        return [LayerSpec("classifier", "head", n_outputs=cfg.num_labels(), task="token",
                          bias=None if has_bias == bias else has_bias)], False, False
    if recipe == "qa":               # start/end logits at every position
        n = cfg.num_labels() if family == "encoder" else 2
        return [LayerSpec("qa_outputs", "head", n_outputs=n, task="token", bias=None if bias else True)], False, False
    raise AssertionError(recipe)


def import_hf_config(path_or_dict: str | os.PathLike | Mapping, with_head: bool = False) -> StackSpec:
    """A design equal, tensor for tensor, to the transformers model of a config.json.

    `path_or_dict`: a config.json path or its parsed mapping. Base model by default;
    `with_head=True` adds the head of ``architectures[0]``. Raises SpecError.
    """
    if isinstance(path_or_dict, Mapping):
        data, source = path_or_dict, ""
    elif isinstance(path_or_dict, (str, os.PathLike)):
        source = os.fspath(path_or_dict)
        data = read_hf_config(source)
    else:
        raise SpecError(f"expected a config.json path or a mapping, got {type(path_or_dict).__name__}")
    cfg = _Config(data, source)
    model_type = cfg.get("model_type", None)[1]
    if not isinstance(model_type, str) or model_type not in MODEL_TYPES:
        what = "no model_type" if model_type is None else f"model_type {_show(model_type)} is not supported"
        if isinstance(model_type, str) and model_type in _WHY_NOT:
            what += f": {_WHY_NOT[model_type]}"
        raise cfg.error(f"{what} (supported: {', '.join(SUPPORTED_MODEL_TYPES)})", "model_type")
    prefix, family = MODEL_TYPES[model_type]
    recipe, arch = "base", f"{prefix}Model"
    if with_head:
        arch = _architecture(cfg)
        suffix = arch[len(prefix):] if arch.startswith(prefix) else None
        if suffix not in _HEADS[model_type]:
            known = ", ".join(prefix + s for s in _HEADS[model_type])
            raise cfg.error(f"architecture {arch!r} is not supported for model_type {model_type!r} "
                            f"(supported: {known})", "architectures")
        recipe = _HEADS[model_type][suffix]
    trunk = (_encoder(cfg, model_type) if family == "encoder" else _gpt2(cfg) if family == "gpt2"
             else _llama(cfg, model_type))
    heads, keep_pooler, tie = _head_layers(recipe, model_type, cfg, trunk.settings)
    pooler = (LayerSpec("pooler", "pooler"),) if trunk.pooler and keep_pooler else ()
    description = _description(arch, trunk.settings, trunk, recipe != "base")
    if recipe in ("mlm", "pretraining") and not tie:
        description += (f" Untied: transformers 5 also keeps an unused output bias of {trunk.settings.vocab_size} "
                        f"(the MLM head's `bias`, tied to the decoder only when tie_word_embeddings is true); "
                        f"it is not counted here.")
    spec = StackSpec(settings=trunk.settings, layers=trunk.layers + pooler + tuple(heads),
                     name=_design_name(cfg, model_type, trunk), description=description)
    if trunk.order:
        spec = _albert_groups(spec, trunk.order)
    if tie:
        spec = apply_scheme(spec, "tie-embeddings")
    try:
        validate(spec)
    except SpecError as err:
        raise SpecError(f"the imported design is invalid: {err}", "", source) from None
    return spec


def _architecture(cfg: _Config) -> str:
    archs = cfg.get("architectures", None)[1]
    if not isinstance(archs, list) or not archs or not isinstance(archs[0], str):
        raise cfg.error("with a head, the config must name its model class in a non-empty list "
                        f"(got {_show(archs)})", "architectures")
    return archs[0]


def _albert_groups(spec: StackSpec, order: tuple[tuple[str, int, int], ...]) -> StackSpec:
    """ALBERT groups: inner layer j of group g is one block wherever group g runs."""
    inner = max(j for _l, _g, j in order) + 1
    for j in range(inner):
        targets = [spec.layer(lid) for lid, _g, jj in order if jj == j]
        schedule = tuple(g for _l, g, jj in order if jj == j)
        base = "albert-block" if inner == 1 else f"albert-inner{j}"
        spec = groups_from_order(spec, targets, schedule, "block", base)
    return spec


def _design_name(cfg: _Config, model_type: str, trunk: _Trunk) -> str:
    name = cfg.data.get("_name_or_path")
    if isinstance(name, str) and _NAME_RE.match(name):
        return name.rstrip("/").rsplit("/", 1)[-1] or model_type
    blocks = sum(1 for layer in trunk.layers if layer.kind == "block")
    return f"{model_type}-{blocks}x{trunk.settings.d_model}"


def _description(arch: str, s: ModelSettings, trunk: _Trunk, with_head: bool) -> str:
    blocks = sum(1 for layer in trunk.layers if layer.kind == "block")
    kv = f", {s.n_kv_heads} K/V heads" if s.n_kv_heads else ""
    what = arch if with_head else f"{arch} (base model)"
    return (f"Imported from a Hugging Face config: {what}, {blocks} blocks, d={s.d_model}, "
            f"{s.n_heads} heads{kv}, d_ff={s.d_ff}, V={s.vocab_size}.")


def import_hf_to_yaml(config_path: str | os.PathLike, out_path: str | os.PathLike,
                      with_head: bool = False) -> StackSpec:
    """`explorer import-hf CONFIG.json -o OUT.yaml [--with-head]`: import and save. Raises SpecError."""
    spec = import_hf_config(config_path, with_head)
    yaml_io.save(spec, out_path)
    return spec


__all__ = ["MAX_CONFIG_BYTES", "SUPPORTED_MODEL_TYPES", "import_hf_config", "import_hf_to_yaml",
           "parse_hf_config", "read_hf_config", "supported_architectures"]
