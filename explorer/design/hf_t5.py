"""T5 and mT5 config.json -> design: an encoder-decoder with relative position bias.

T5's encoder and decoder are pre-norm stacks with RMS norms and no biases; the first
self-attention of each stack holds the relative position bias (buckets x heads) that every
later layer of that stack reuses; decoder blocks add cross-attention over the encoder's
output; one embedding table feeds the encoder and the decoder. v1.0 uses a relu FFN and ties
the output layer to that table; v1.1 and mT5 use gated-gelu and an untied output layer.
UMT5 is mT5 with a relative position bias table in every self-attention layer.
"""

from __future__ import annotations

from explorer.design.model import MAX_DIM, MAX_LAYERS, MAX_VOCAB, LayerSpec, Member, ModelSettings, SharingGroup, \
    StackSpec

# model_type -> class-name prefix
T5_TYPES = {"t5": "T5", "mt5": "MT5", "umt5": "UMT5"}
_BIAS_EVERY_LAYER = frozenset({"umt5"})          # UMT5: each self-attention has its own bias table
T5_HEADS = {"Model": "base", "ForConditionalGeneration": "lm", "EncoderModel": "encoder"}

_PLAIN = {"relu": "relu", "gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "silu": "silu",
          "swish": "silu"}
_GATED = {"gelu": "geglu", "gelu_new": "geglu", "gelu_pytorch_tanh": "geglu", "silu": "swiglu", "swish": "swiglu"}
# the config classes' defaults where they differ: model_type -> (feed_forward_proj, num_layers)
_CLASS_DEFAULTS = {"t5": ("relu", 6), "mt5": ("gated-gelu", 8), "umt5": ("gated-gelu", 8)}
# transformers' attribute_map: the alias, when the file has it, is set after the field and wins
_ALIASES = {"d_model": "hidden_size", "num_heads": "num_attention_heads", "num_layers": "num_hidden_layers",
            "d_kv": "head_dim"}


def _int(cfg, key: str, *args, **kwargs) -> int:
    """An integer setting, read from its attribute_map alias (hidden_size for d_model, ...) when the file
    has one, as transformers does."""
    alias = _ALIASES.get(key)
    return cfg.int(key, *args, aliases=(alias,) if alias else (), **kwargs)


def _activation(cfg, model_type: str = "t5") -> tuple[str, bool]:
    """(our activation, gated) from feed_forward_proj (mT5's and UMT5's default: gated-gelu), overridden
    by explicit dense_act_fn / is_gated_act as transformers does."""
    proj = cfg.text("feed_forward_proj", _CLASS_DEFAULTS[model_type][0])
    parts = proj.split("-")
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
        raise cfg.error(f"{proj!r} is not a feed-forward kind T5 knows ('relu', 'gated-gelu', ...)",
                        "feed_forward_proj")
    gated = cfg.bool("is_gated_act", len(parts) == 2)
    act = cfg.text("dense_act_fn", "gelu_new" if proj == "gated-gelu" else parts[-1])
    table = _GATED if gated else _PLAIN
    if act not in table:
        kind = "gated " if gated else ""
        raise cfg.error(f"{kind}activation {act!r} has no counterpart here (known: {', '.join(table)})",
                        "dense_act_fn" if "dense_act_fn" in cfg.data else "feed_forward_proj")
    return table[act], gated


def _buckets(cfg) -> int:
    """relative_attention_num_buckets: at least 4. The encoder's bidirectional bucketing splits them in
    two and keeps half of each side exact; with fewer than 4 that is 0 exact buckets, and both
    transformers' T5 and our model divide by it (a ZeroDivisionError on the first forward)."""
    buckets = cfg.int("relative_attention_num_buckets", 32, maximum=65536)
    if buckets < 4:
        raise cfg.error(f"{buckets} is too few: the encoder's bidirectional bucketing needs at least 4 "
                        f"(with fewer, T5's bucket formula divides by zero)", "relative_attention_num_buckets")
    return buckets


def t5_design(cfg, model_type: str, recipe: str, name: str | None, arch: str) -> StackSpec:
    """The design of a T5/mT5 config; `recipe`: base (T5Model), lm (ForConditionalGeneration) or
    encoder (EncoderModel). `name`: the checkpoint's (None: type and size)."""
    d = _int(cfg, "d_model")
    heads = _int(cfg, "num_heads", maximum=65536)
    head_dim = _int(cfg, "d_kv", 64)
    n_enc = _int(cfg, "num_layers", maximum=MAX_LAYERS)
    # transformers fills num_decoder_layers from num_layers itself (its class default when the file
    # has none), before an alias num_hidden_layers is applied
    symmetric = cfg.int("num_layers", _CLASS_DEFAULTS[model_type][1], maximum=MAX_LAYERS)
    n_dec = cfg.int("num_decoder_layers", symmetric, minimum=0, maximum=MAX_LAYERS)
    activation, _gated = _activation(cfg, model_type)
    tie = cfg.bool("tie_word_embeddings", True)          # T5Config and MT5Config both default to tied
    settings = ModelSettings(
        d_model=d, n_heads=heads, head_dim=None if head_dim * heads == d else head_dim,
        d_ff=cfg.int("d_ff", maximum=MAX_DIM * 8), vocab_size=cfg.int("vocab_size", maximum=MAX_VOCAB),
        activation=activation, norm="rmsnorm", norm_position="pre", norm_eps=cfg.eps("layer_norm_epsilon", 1e-6),
        bias=False, positional="relative",
        relative_buckets=_buckets(cfg),
        relative_max_distance=cfg.int("relative_attention_max_distance", 128, maximum=1 << 24))
    layers = [LayerSpec("encoder_embed", "embedding")]
    every = model_type in _BIAS_EVERY_LAYER
    layers += [LayerSpec(f"encoder{i}", "block", position_bias=every or i == 0) for i in range(n_enc)]
    layers.append(LayerSpec("encoder_norm", "norm"))
    members = [Member("encoder_embed", "embedding")]
    if recipe != "encoder" and n_dec == 0:
        raise cfg.error("0 decoder layers: no layer would read the encoder's output, which a design does not "
                        "express (T5EncoderModel in architectures imports the encoder alone)", "num_decoder_layers")
    if recipe != "encoder":
        layers.append(LayerSpec("decoder_embed", "embedding", target=True))
        layers += [LayerSpec(f"decoder{i}", "cross_block", causal=True, position_bias=every or i == 0)
                   for i in range(n_dec)]
        layers.append(LayerSpec("decoder_norm", "norm"))
        members.append(Member("decoder_embed", "embedding"))
        if recipe == "lm":
            layers.append(LayerSpec("lm_head", "lm_head"))
            if tie:
                members.append(Member("lm_head", "head"))
    groups = (SharingGroup("shared-embedding", tuple(members)),) if len(members) > 1 else ()
    what = arch if recipe != "base" else f"{arch} (base model)"
    untied = (f", untied output layer as in its checkpoint (transformers 5 builds this config tied, "
              f"{settings.vocab_size * d:,} parameters fewer: tie-embeddings does the same here)")
    head = {"lm": ", output layer tied to the embedding" if tie else untied, "base": "", "encoder": ""}[recipe]
    description = (f"Imported from a Hugging Face config: {what}, {n_enc} encoder"
                   + (f" + {n_dec} decoder" if recipe != "encoder" else "")
                   + f" blocks, d={d}, {heads} heads x {head_dim}, d_ff={settings.d_ff} {activation}, "
                   f"V={settings.vocab_size}{head}.")
    name = name or (f"{model_type}-{n_enc}x{d}" if recipe == "encoder" else f"{model_type}-{n_enc}+{n_dec}x{d}")
    return StackSpec(settings=settings, layers=tuple(layers), groups=groups, name=name, description=description)
