"""A GPT-3-sized config (96 layers, d=12288, 175B) imports and analyses at once, without allocating."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from explorer.analysis import analyze
from explorer.design.hf_import import import_hf_config

V, P, D, L, H = 50257, 2048, 12288, 96, 96
GPT3 = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_positions": P,
        "n_embd": D, "n_layer": L, "n_head": H, "n_inner": None, "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5}
LLAMA_175B = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 32000,
              "hidden_size": D, "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": 8,
              "intermediate_size": 32768, "max_position_embeddings": 2048, "tie_word_embeddings": False}


def _timed(config: dict, with_head: bool, batch: int, seq: int):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        spec = import_hf_config(config, with_head)
        report = analyze(spec, batch, seq)
        seconds = time.perf_counter() - start
        _now, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return report, seconds, peak_bytes


@pytest.mark.parametrize("with_head", [False, True])
def test_gpt3_175b_closed_form(with_head):
    batch, seq = 2, 2048
    report, seconds, peak_bytes = _timed(GPT3, with_head, batch, seq)
    block = 12 * D * D + 13 * D                  # q,k,v,o + 4x FFN weights, their biases, two LayerNorms
    expected = V * D + P * D + L * block + 2 * D  # token + position tables, blocks, ln_f; the head is tied
    assert report.params.unique == expected == 174_604_259_328
    tokens = batch * seq
    flops = L * (2 * tokens * 12 * D * D + 4 * batch * seq * seq * D)
    if with_head:
        flops += 2 * tokens * D * V
    assert report.flops.forward == flops
    assert seconds < 2.0, f"import + analyze took {seconds:.2f} s"
    assert peak_bytes < 32 * 2**20, f"peak {peak_bytes / 2**20:.1f} MiB: nothing the size of a tensor is made"


def test_llama_style_175b_closed_form():
    report, seconds, peak_bytes = _timed(LLAMA_175B, True, 1, 4096)
    kv = 8 * (D // H)
    block = 2 * D * D + 2 * D * kv + 3 * D * 32768 + 2 * D
    expected = 32000 * D + L * block + D + 32000 * D        # untied lm_head
    assert report.params.unique == expected
    assert seconds < 2.0 and peak_bytes < 32 * 2**20


def test_llama_style_175b_equals_transformers_on_meta():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(**{k: v for k, v in LLAMA_175B.items() if k not in ("model_type",
                                                                                          "architectures")})
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    spec = import_hf_config(LLAMA_175B, with_head=True)
    assert analyze(spec, 1, 16).params.unique == sum(p.numel() for p in model.parameters())
