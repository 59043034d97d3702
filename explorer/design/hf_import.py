"""Import a Hugging Face transformers ``config.json`` as an editable design.

Pure: the file is read with ``json`` only, never with transformers, and nothing in it
is executed (``auto_map`` and ``trust_remote_code`` are ignored). The design reproduces
the base model (``BertModel`` with its pooler, ``GPT2Model``/``LlamaModel`` with their
final norm) or, with ``with_head=True``, the model of ``architectures[0]``, tensor for
tensor, so its parameter and FLOP counts equal those of the transformers model. Mixtral's
and Qwen2-MoE's experts become ``moe_block`` layers. The readers of each family's keys are
in explorer/design/hf_families.py.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

from explorer.errors import SpecError
from explorer.design import yaml_io
from explorer.design.hf_families import Config, Trunk, encoder, gpt2, llama, show
from explorer.design.hf_t5 import T5_HEADS, T5_TYPES, t5_design
from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.design.strategies import apply_scheme, groups_from_order
from explorer.design.validate import validate
from explorer.kinds import REGISTRY, kind

MAX_CONFIG_BYTES = 4 * 1024 * 1024
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
    "gemma": ("Gemma", "llama"),
    "mixtral": ("Mixtral", "llama"),
    "qwen2_moe": ("Qwen2Moe", "llama"),
    "t5": ("T5", "t5"),
    "mt5": ("MT5", "t5"),
    "umt5": ("UMT5", "t5"),
}
SUPPORTED_MODEL_TYPES = tuple(sorted(MODEL_TYPES))
_QK_NORM = "its attention normalizes q and k per head, which a design cannot express yet"
_WHY_NOT = {"qwen3": _QK_NORM, "qwen3_moe": _QK_NORM,
            "gemma2": "its blocks add norms after attention and around the MLP (pre/post-feedforward), "
                      "which a design cannot express yet",
            "gemma3": "its blocks add pre/post-feedforward norms and normalize q and k per head, "
                      "which a design cannot express yet"}
_WHY_NOT["gemma3_text"] = _WHY_NOT["gemma3"]
_BLOCK_KINDS = tuple(name for name, k in REGISTRY.items() if k.transformer_block and not k.reads_memory)
_UNTIED_BY_DEFAULT = frozenset({"llama", "mistral", "qwen2", "mixtral", "qwen2_moe"})   # tie_word_embeddings

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
_HEADS.update({t: _HEADS["llama"] for t in ("mistral", "qwen2", "mixtral", "qwen2_moe")})
_HEADS["gemma"] = {k: v for k, v in _HEADS["llama"].items() if k != "ForQuestionAnswering"}
_HEADS.update({t: T5_HEADS for t in T5_TYPES})


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


def _head_layers(recipe: str, model_type: str, cfg: Config, settings: ModelSettings) -> tuple[list, bool, bool]:
    """(layers after the trunk, keep the pooler, tie the decoder) for one head recipe."""
    family = MODEL_TYPES[model_type][1]
    tie = cfg.bool("tie_word_embeddings", model_type not in _UNTIED_BY_DEFAULT)
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
    cfg = Config(data, source)
    model_type = cfg.get("model_type", None)[1]
    if not isinstance(model_type, str) or model_type not in MODEL_TYPES:
        what = "no model_type" if model_type is None else f"model_type {show(model_type)} is not supported"
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
    if family == "t5":
        named = _design_name(cfg, model_type, (), 0)
        return _checked(t5_design(cfg, model_type, recipe, None if named == model_type else named, arch), source)
    trunk = (encoder(cfg, model_type) if family == "encoder" else gpt2(cfg) if family == "gpt2"
             else llama(cfg, model_type))
    heads, keep_pooler, tie = _head_layers(recipe, model_type, cfg, trunk.settings)
    pooler = (LayerSpec("pooler", "pooler"),) if trunk.pooler and keep_pooler else ()
    description = _description(arch, trunk.settings, trunk, recipe != "base")
    if recipe in ("mlm", "pretraining") and not tie:
        description += (f" Untied: transformers 5 also keeps an unused output bias of {trunk.settings.vocab_size} "
                        f"(the MLM head's `bias`, tied to the decoder only when tie_word_embeddings is true); "
                        f"it is not counted here.")
    spec = StackSpec(settings=trunk.settings, layers=trunk.layers + pooler + tuple(heads),
                     name=_design_name(cfg, model_type, trunk.layers, trunk.settings.d_model), description=description)
    if trunk.order:
        spec = _albert_groups(spec, trunk.order)
    if tie:
        spec = apply_scheme(spec, "tie-embeddings")
    return _checked(spec, source)


def _checked(spec: StackSpec, source: str) -> StackSpec:
    try:
        validate(spec)
    except SpecError as err:
        raise SpecError(f"the imported design is invalid: {err}", "", source) from None
    return spec


def _architecture(cfg: Config) -> str:
    archs = cfg.get("architectures", None)[1]
    if not isinstance(archs, list) or not archs or not isinstance(archs[0], str):
        raise cfg.error("with a head, the config must name its model class in a non-empty list "
                        f"(got {show(archs)})", "architectures")
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


def _design_name(cfg: Config, model_type: str, layers: tuple[LayerSpec, ...], d_model: int) -> str:
    """The checkpoint's name when the config carries one, else the type and size ("t5" alone when
    the layers are not read yet)."""
    name = cfg.data.get("_name_or_path")
    if isinstance(name, str) and _NAME_RE.match(name):
        return name.rstrip("/").rsplit("/", 1)[-1] or model_type
    if not layers:
        return model_type
    blocks = sum(1 for layer in layers if layer.kind in _BLOCK_KINDS)
    return f"{model_type}-{blocks}x{d_model}"


def _description(arch: str, s: ModelSettings, trunk: Trunk, with_head: bool) -> str:
    blocks = sum(1 for layer in trunk.layers if layer.kind in _BLOCK_KINDS)
    moe = [layer for layer in trunk.layers if kind(layer.kind).has_experts]
    experts = ""
    if moe:                          # every MoE layer of a config has the same experts
        m = moe[0]
        shared = f", shared expert d_ff={m.shared_d_ff}" if m.shared_d_ff else ""
        which = "all" if len(moe) == blocks else f"{len(moe)} of them"
        experts = f" ({which} with {m.n_experts} experts, top {m.top_k}, expert d_ff={m.d_ff or s.d_ff}{shared})"
    kv = f", {s.n_kv_heads} K/V heads" if s.n_kv_heads else ""
    what = arch if with_head else f"{arch} (base model)"
    return (f"Imported from a Hugging Face config: {what}, {blocks} blocks{experts}, d={s.d_model}, "
            f"{s.n_heads} heads{kv}, d_ff={s.d_ff}, V={s.vocab_size}.")


def import_hf_to_yaml(config_path: str | os.PathLike, out_path: str | os.PathLike,
                      with_head: bool = False) -> StackSpec:
    """`explorer import-hf CONFIG.json -o OUT.yaml [--with-head]`: import and save. Raises SpecError."""
    spec = import_hf_config(config_path, with_head)
    yaml_io.save(spec, out_path)
    return spec


__all__ = ["MAX_CONFIG_BYTES", "SUPPORTED_MODEL_TYPES", "import_hf_config", "import_hf_to_yaml",
           "parse_hf_config", "read_hf_config", "supported_architectures"]
