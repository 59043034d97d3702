"""Mixtures of experts against a real run, and where FlopCounterMode does not look.

Our analysis counts exactly top_k experts per token. On a real CPU forward of a small
transformers model (random weights), a forward pre-hook on every ``layer.mlp.experts``
counts the tokens each expert receives: per layer they add up to batch x seq x k, and the
expert FLOPs they imply equal ours. With transformers' "eager" experts (one matmul per
expert on the tokens routed to it) FlopCounterMode then sees the whole real run, and its
total equals ours.

The blind spots are documented as behaviour (docs/hugging-face-import.md): transformers'
default experts implementation, grouped_mm, is not counted by FlopCounterMode (torch 2.13),
nor is SDPA attention on CPU. Those tests skip or xfail, never fail, if a later torch or
transformers changes what is counted.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from torch.utils.flop_counter import FlopCounterMode

from explorer.analysis import analyze
from explorer.design.hf_import import import_hf_config

T = transformers
TINY = {"vocab_size": 101, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
BATCH, SEQ = 2, 12

CONFIGS = {
    "mixtral": lambda: T.MixtralConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                       num_key_value_heads=2, intermediate_size=48, num_local_experts=4,
                                       num_experts_per_tok=2, **TINY),
    "qwen2-moe": lambda: T.Qwen2MoeConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                          num_key_value_heads=2, intermediate_size=96, moe_intermediate_size=32,
                                          shared_expert_intermediate_size=48, num_experts=6, num_experts_per_tok=2,
                                          **TINY),
    # layers 1 and 5 sparse: every 2nd layer, but not layer 3
    "qwen2-moe-sparse-step": lambda: T.Qwen2MoeConfig(hidden_size=48, num_hidden_layers=6, num_attention_heads=4,
                                                      num_key_value_heads=4, intermediate_size=80,
                                                      moe_intermediate_size=24, shared_expert_intermediate_size=40,
                                                      num_experts=5, num_experts_per_tok=3, decoder_sparse_step=2,
                                                      mlp_only_layers=[3], norm_topk_prob=True, **TINY),
    # layers 1 and 3 sparse: every layer but those in mlp_only_layers
    "qwen2-moe-mlp-only": lambda: T.Qwen2MoeConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                                                   num_key_value_heads=1, intermediate_size=64,
                                                   moe_intermediate_size=16, shared_expert_intermediate_size=24,
                                                   num_experts=8, num_experts_per_tok=1, mlp_only_layers=[0, 2],
                                                   qkv_bias=False, **TINY),
}
SPARSE = {"mixtral": [0, 1], "qwen2-moe": [0, 1], "qwen2-moe-sparse-step": [1, 5], "qwen2-moe-mlp-only": [1, 3]}


def count_expert_tokens(model, **forward_kwargs) -> dict[int, "torch.Tensor"]:
    """Layer index -> tokens each expert of that layer received in one forward."""
    counts, handles = {}, []
    for layer_idx, layer in enumerate(model.base_model.layers):
        experts = getattr(getattr(layer, "mlp", None), "experts", None)
        if experts is None:
            continue
        num_experts = experts.num_experts

        def pre_hook(module, args, kwargs, layer_idx=layer_idx, num_experts=num_experts):
            top_k_index = args[1] if len(args) > 1 else kwargs["top_k_index"]
            c = torch.bincount(top_k_index.reshape(-1).long().cpu(), minlength=num_experts)
            counts[layer_idx] = counts.get(layer_idx, 0) + c[:num_experts]

        handles.append(experts.register_forward_pre_hook(pre_hook, with_kwargs=True))
    try:
        with torch.no_grad():
            model(**forward_kwargs)
    finally:
        for h in handles:
            h.remove()
    return counts


def _import(tmp_path, config):
    config.save_pretrained(tmp_path)
    return import_hf_config(tmp_path / "config.json")


def _cpu_model(config, attn: str, experts: str | None):
    """The base model on CPU with random weights; `experts` None keeps transformers' default."""
    torch.manual_seed(0)
    config._attn_implementation = attn
    if experts is not None:
        config._experts_implementation = experts
    return getattr(T, type(config).__name__.replace("Config", "Model"))(config).eval()


def _ids(config, device: str = "cpu"):
    generator = torch.Generator().manual_seed(1)
    return torch.randint(3, config.vocab_size, (BATCH, SEQ), generator=generator).to(device)


def _counted(model, ids) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(input_ids=ids)
    return counter.get_total_flops()


def _sizes(config) -> dict[str, int]:
    d, heads = config.hidden_size, config.num_attention_heads
    kv = config.num_key_value_heads or heads
    head_dim = getattr(config, "head_dim", None) or d // heads
    moe = type(config).__name__ == "Qwen2MoeConfig"
    return {"d": d, "heads": heads, "kv": kv, "head_dim": head_dim, "k": config.num_experts_per_tok,
            "experts": config.num_experts if moe else config.num_local_experts,
            "expert_ff": config.moe_intermediate_size if moe else config.intermediate_size,
            "shared_ff": config.shared_expert_intermediate_size if moe else 0}


def _attention_core(s, n_layers: int) -> int:
    """Q K^T and A V of every layer: what SDPA on CPU hides from FlopCounterMode."""
    return n_layers * 2 * 2 * BATCH * s["heads"] * SEQ * SEQ * s["head_dim"]


def _expert_flops(s, n_moe_layers: int) -> int:
    """k gated experts per token: up, gate and down, 2 x 3 x d x d_ff each."""
    return n_moe_layers * BATCH * SEQ * s["k"] * 2 * 3 * s["d"] * s["expert_ff"]


@pytest.mark.parametrize("case", list(CONFIGS))
def test_tokens_per_expert_add_up_to_our_expert_flops(tmp_path, case):
    config = CONFIGS[case]()
    spec = _import(tmp_path, config)
    model = _cpu_model(config, attn="eager", experts="eager")
    ids = _ids(config)
    counts = count_expert_tokens(model, input_ids=ids)
    assert sorted(counts) == SPARSE[case]
    assert [i for i, layer in enumerate(spec.layers[1:-1]) if layer.kind == "moe_block"] == SPARSE[case]

    s = _sizes(config)
    n = BATCH * SEQ
    report = analyze(spec, BATCH, SEQ)
    per_layer = dict(report.flops.per_layer)
    q, kv = s["heads"] * s["head_dim"], s["kv"] * s["head_dim"]
    attention = 2 * n * (s["d"] * q + 2 * s["d"] * kv + q * s["d"]) + _attention_core(s, 1)
    router = 2 * n * s["d"] * s["experts"]
    shared = 2 * n * (3 * s["d"] * s["shared_ff"] + s["d"]) if s["shared_ff"] else 0
    for layer_idx, tokens in counts.items():
        assert int(tokens.sum()) == n * s["k"], f"layer {layer_idx}: {tokens.tolist()}"
        implied = sum(int(t) * 2 * 3 * s["d"] * s["expert_ff"] for t in tokens)
        ours = per_layer[f"layer{layer_idx}"] - attention - router - shared
        assert implied == ours, f"layer {layer_idx}: tokens per expert {tokens.tolist()}"

    # the same real run, counted by FlopCounterMode: eager experts multiply only the tokens routed to them
    assert _counted(model, ids) == report.flops.forward


def test_flop_counter_sees_batched_mm_experts_on_meta(tmp_path):
    """The reference used by test_hf_exact.py: batched_mm experts on meta count as bmm, exactly."""
    config = CONFIGS["qwen2-moe-sparse-step"]()
    spec = _import(tmp_path, config)
    config._attn_implementation, config._experts_implementation = "eager", "batched_mm"
    with torch.device("meta"):
        model = T.Qwen2MoeModel(config).eval()
    assert _counted(model, _ids(config, "meta")) == analyze(spec, BATCH, SEQ).flops.forward


def _blind_spot(counted: int, ours: int, hidden: int, what: str) -> None:
    """Pass while FlopCounterMode misses exactly `hidden` FLOPs; skip once it counts everything."""
    if counted == ours:
        pytest.skip(f"FlopCounterMode now counts {what}: update docs/hugging-face-import.md")
    if counted != ours - hidden:
        pytest.xfail(f"FlopCounterMode's view of {what} changed: counted {counted:,}, ours {ours:,}, "
                     f"{what} {hidden:,}")
    assert hidden > 0


def _default_grouped_mm(model) -> None:
    used = getattr(model.config, "_experts_implementation_internal", None)
    if used != "grouped_mm":
        pytest.skip(f"transformers' default experts implementation is {used!r} here, not grouped_mm")


@pytest.mark.parametrize("case", ["mixtral", "qwen2-moe-sparse-step"])
def test_default_grouped_mm_experts_are_invisible_to_flop_counter_on_cpu(tmp_path, case):
    config = CONFIGS[case]()
    spec = _import(tmp_path, config)
    model = _cpu_model(config, attn="eager", experts=None)
    _default_grouped_mm(model)
    ours = analyze(spec, BATCH, SEQ).flops.forward
    hidden = _expert_flops(_sizes(config), len(SPARSE[case]))
    _blind_spot(_counted(model, _ids(config)), ours, hidden, "grouped_mm experts")


def test_default_grouped_mm_experts_are_invisible_to_flop_counter_on_meta_bf16(tmp_path):
    """On meta, grouped_mm runs only in bf16 (fp32 raises); it is not counted there either."""
    config = CONFIGS["mixtral"]()
    spec = _import(tmp_path, config)
    config._attn_implementation = "eager"
    with torch.device("meta"):
        model = T.MixtralModel(config).to(torch.bfloat16).eval()
    _default_grouped_mm(model)
    ours = analyze(spec, BATCH, SEQ).flops.forward
    hidden = _expert_flops(_sizes(config), len(SPARSE["mixtral"]))
    _blind_spot(_counted(model, _ids(config, "meta")), ours, hidden, "grouped_mm experts")


def test_sdpa_attention_is_invisible_to_flop_counter_on_cpu(tmp_path):
    config = CONFIGS["mixtral"]()
    spec = _import(tmp_path, config)
    model = _cpu_model(config, attn="sdpa", experts="eager")
    ours = analyze(spec, BATCH, SEQ).flops.forward
    hidden = _attention_core(_sizes(config), config.num_hidden_layers)
    _blind_spot(_counted(model, _ids(config)), ours, hidden, "SDPA attention on CPU")
