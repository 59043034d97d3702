"""Imported designs equal the transformers models to the last parameter and FLOP.

Each case writes a config.json with ``save_pretrained`` (as transformers 5 writes it),
imports it, and compares our analysis with the transformers model built on the meta
device: parameters, and FlopCounterMode's forward total on (batch, seq) token ids. Our
own built model must verify too.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from hf_reference import hf_flops, hf_model, hf_params

from explorer.analysis import analyze
from explorer.torchmodel import verify
from explorer.design import yaml_io
from explorer.design.hf_import import import_hf_config, supported_architectures

T = transformers
TINY = {"vocab_size": 101, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}

# (config, architectures to check, batch, seq)
CASES = {
    "bert-tiny": (lambda: T.BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=96, max_position_embeddings=40, num_labels=3, **TINY),
                  ["BertModel", "BertForMaskedLM", "BertForPreTraining", "BertForNextSentencePrediction",
                   "BertForSequenceClassification", "BertForTokenClassification", "BertLMHeadModel"], 2, 16),
    "bert-odd-untied": (lambda: T.BertConfig(hidden_size=96, num_hidden_layers=3, num_attention_heads=3,
                                             intermediate_size=200, type_vocab_size=1, hidden_act="relu",
                                             tie_word_embeddings=False, **TINY),
                        ["BertModel", "BertForMaskedLM", "BertForPreTraining"], 3, 7),
    "bert-qa": (lambda: T.BertConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=64, **TINY), ["BertForQuestionAnswering"], 2, 8),
    "albert-tiny": (lambda: T.AlbertConfig(hidden_size=64, embedding_size=16, num_hidden_layers=3,
                                           num_attention_heads=4, intermediate_size=96, num_labels=5, **TINY),
                    ["AlbertModel", "AlbertForMaskedLM", "AlbertForPreTraining", "AlbertForSequenceClassification",
                     "AlbertForTokenClassification"], 2, 16),
    "albert-groups-inner": (lambda: T.AlbertConfig(hidden_size=48, embedding_size=24, num_hidden_layers=5,
                                                   num_hidden_groups=2, inner_group_num=3, num_attention_heads=4,
                                                   intermediate_size=64, **TINY),
                            ["AlbertModel", "AlbertForMaskedLM"], 2, 9),
    "albert-qa": (lambda: T.AlbertConfig(hidden_size=32, embedding_size=8, num_hidden_layers=2,
                                         num_attention_heads=2, intermediate_size=64, **TINY),
                  ["AlbertForQuestionAnswering"], 2, 8),
    "roberta-tiny": (lambda: T.RobertaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                             intermediate_size=96, max_position_embeddings=40, type_vocab_size=1,
                                             num_labels=4, vocab_size=101, pad_token_id=1, bos_token_id=0,
                                             eos_token_id=2),
                     ["RobertaModel", "RobertaForMaskedLM", "RobertaForCausalLM", "RobertaForSequenceClassification",
                      "RobertaForTokenClassification"], 2, 16),
    "roberta-qa": (lambda: T.RobertaConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                           intermediate_size=64, max_position_embeddings=20, vocab_size=101,
                                           pad_token_id=1, bos_token_id=0, eos_token_id=2),
                   ["RobertaForQuestionAnswering"], 2, 8),
    "gpt2-tiny": (lambda: T.GPT2Config(n_embd=64, n_layer=2, n_head=4, n_positions=40, num_labels=3, **TINY),
                  ["GPT2Model", "GPT2LMHeadModel", "GPT2ForSequenceClassification", "GPT2ForTokenClassification",
                   "GPT2ForQuestionAnswering"], 2, 16),
    "gpt2-n-inner-untied": (lambda: T.GPT2Config(n_embd=48, n_layer=3, n_head=3, n_inner=100, n_positions=30,
                                                 activation_function="relu", tie_word_embeddings=False,
                                                 scale_attn_by_inverse_layer_idx=True, reorder_and_upcast_attn=True,
                                                 **TINY),
                            ["GPT2Model", "GPT2LMHeadModel"], 3, 11),
    "llama-mha-tied": (lambda: T.LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                             intermediate_size=96, tie_word_embeddings=True, num_labels=3, **TINY),
                       ["LlamaModel", "LlamaForCausalLM", "LlamaForSequenceClassification",
                        "LlamaForTokenClassification", "LlamaForQuestionAnswering"], 2, 16),
    "llama-gqa-biases": (lambda: T.LlamaConfig(hidden_size=64, num_hidden_layers=3, num_attention_heads=8,
                                               num_key_value_heads=2, intermediate_size=80, attention_bias=True,
                                               mlp_bias=True, **TINY),
                         ["LlamaModel", "LlamaForCausalLM"], 2, 13),
    "llama-mqa-head-dim": (lambda: T.LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                                 num_key_value_heads=1, head_dim=24, intermediate_size=96,
                                                 hidden_act="gelu", **TINY),
                           ["LlamaModel", "LlamaForCausalLM"], 1, 9),
    "mistral-gqa": (lambda: T.MistralConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                            num_key_value_heads=2, head_dim=32, intermediate_size=96,
                                            sliding_window=4, num_labels=2, **TINY),
                    ["MistralModel", "MistralForCausalLM", "MistralForSequenceClassification",
                     "MistralForTokenClassification", "MistralForQuestionAnswering"], 2, 16),
    "qwen2-gqa": (lambda: T.Qwen2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                        num_key_value_heads=2, intermediate_size=96, num_labels=2, **TINY),
                  ["Qwen2Model", "Qwen2ForCausalLM", "Qwen2ForSequenceClassification",
                   "Qwen2ForTokenClassification", "Qwen2ForQuestionAnswering"], 2, 16),
    "qwen2-tied": (lambda: T.Qwen2Config(hidden_size=64, num_hidden_layers=3, num_attention_heads=8,
                                         num_key_value_heads=8, intermediate_size=80, tie_word_embeddings=True,
                                         **TINY),
                   ["Qwen2Model", "Qwen2ForCausalLM"], 1, 9),
    # Gemma: tied by default, head_dim 256 by default (set here), gelu_pytorch_tanh, scaled embedding
    "gemma-gqa-tied": (lambda: T.GemmaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                             num_key_value_heads=2, head_dim=16, intermediate_size=96,
                                             num_labels=3, **TINY),
                       ["GemmaModel", "GemmaForCausalLM", "GemmaForSequenceClassification",
                        "GemmaForTokenClassification"], 2, 16),
    "gemma-untied-biases": (lambda: T.GemmaConfig(hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
                                                  num_key_value_heads=1, head_dim=24, intermediate_size=80,
                                                  attention_bias=True, hidden_act="gelu", tie_word_embeddings=False,
                                                  **TINY),
                            ["GemmaModel", "GemmaForCausalLM"], 2, 11),
    # mixtures of experts: every Mixtral layer; Qwen2-MoE by decoder_sparse_step and mlp_only_layers
    "mixtral-gqa": (lambda: T.MixtralConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                            num_key_value_heads=2, intermediate_size=48, num_local_experts=4,
                                            num_experts_per_tok=2, num_labels=3, **TINY),
                    ["MixtralModel", "MixtralForCausalLM", "MixtralForSequenceClassification",
                     "MixtralForTokenClassification", "MixtralForQuestionAnswering"], 2, 16),
    "mixtral-head-dim-tied": (lambda: T.MixtralConfig(hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
                                                      num_key_value_heads=4, head_dim=20, intermediate_size=40,
                                                      num_local_experts=3, num_experts_per_tok=3,
                                                      tie_word_embeddings=True, **TINY),
                              ["MixtralModel", "MixtralForCausalLM"], 1, 9),
    "qwen2-moe-gqa": (lambda: T.Qwen2MoeConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                               num_key_value_heads=2, intermediate_size=96, moe_intermediate_size=32,
                                               shared_expert_intermediate_size=48, num_experts=6,
                                               num_experts_per_tok=2, num_labels=3, **TINY),
                      ["Qwen2MoeModel", "Qwen2MoeForCausalLM", "Qwen2MoeForSequenceClassification",
                       "Qwen2MoeForTokenClassification", "Qwen2MoeForQuestionAnswering"], 2, 16),
    "qwen2-moe-sparse-step": (lambda: T.Qwen2MoeConfig(hidden_size=48, num_hidden_layers=6, num_attention_heads=4,
                                                       num_key_value_heads=4, intermediate_size=80,
                                                       moe_intermediate_size=24, shared_expert_intermediate_size=40,
                                                       num_experts=5, num_experts_per_tok=3, decoder_sparse_step=2,
                                                       mlp_only_layers=[3], qkv_bias=False, norm_topk_prob=True,
                                                       tie_word_embeddings=True, **TINY),
                              ["Qwen2MoeModel", "Qwen2MoeForCausalLM"], 2, 7),
}

PARAMS = [(case, arch) for case, (_c, archs, _b, _s) in CASES.items() for arch in archs]


def _import(tmp_path, config, architecture: str, with_head: bool = True):
    config.architectures = [architecture]
    config.save_pretrained(tmp_path)          # config.json exactly as transformers writes it
    return import_hf_config(tmp_path / "config.json", with_head=with_head)


def _unused_output_bias(model) -> int:
    """transformers 5 ties an MLM head's `bias` to its decoder only with tie_word_embeddings; untied,
    it stays a separate Parameter that forward never reads (the decoder adds its own bias)."""
    config = model.config
    encoder_mlm = any(k in type(model).__name__ for k in ("MaskedLM", "PreTraining", "LMHeadModel", "CausalLM"))
    if config.model_type in ("bert", "albert", "roberta") and encoder_mlm and not config.tie_word_embeddings:
        return config.vocab_size
    return 0


def _check(spec, model, batch: int, seq: int) -> None:
    report = analyze(spec, batch, seq)
    assert report.params.unique + _unused_output_bias(model) == hf_params(model)
    flops, per_op = hf_flops(model, batch, seq)
    assert report.flops.forward == flops, f"transformers per op: {per_op}; ours: {report.flops.by_component}"
    result = verify(spec, batch, seq)
    assert result.ok, result.mismatches()


@pytest.mark.parametrize("case,architecture", PARAMS, ids=[f"{c}-{a}" for c, a in PARAMS])
def test_with_head_matches_transformers(tmp_path, case, architecture):
    make, _archs, batch, seq = CASES[case]
    config = make()
    spec = _import(tmp_path, config, architecture)
    _check(spec, hf_model(config, architecture), batch, seq)


@pytest.mark.parametrize("case", list(CASES))
def test_base_model_by_default(tmp_path, case):
    """Without with_head, any architecture gives the base model (checked against transformers above)."""
    make, archs, _batch, _seq = CASES[case]
    base = type(make()).__name__.replace("Config", "Model")
    assert _import(tmp_path, make(), archs[-1], with_head=False) == _import(tmp_path, make(), base)


def test_base_model_matches_transformers_whatever_the_head(tmp_path):
    config = CASES["llama-mha-tied"][0]()
    spec = _import(tmp_path, config, "LlamaForSequenceClassification", with_head=False)
    _check(spec, hf_model(config, "LlamaModel"), 2, 16)


@pytest.mark.parametrize("case", ["bert-tiny", "gpt2-n-inner-untied", "llama-gqa-biases", "gemma-untied-biases",
                                  "mixtral-gqa", "qwen2-moe-sparse-step"])
def test_eager_attention_counts_the_same(tmp_path, case):
    make, archs, batch, seq = CASES[case]
    config = make()
    spec = _import(tmp_path, config, archs[1])
    _check(spec, hf_model(config, archs[1], attn="eager"), batch, seq)


def test_every_supported_architecture_is_tested():
    from test_hf_t5 import ARCHS as T5_ARCHS         # T5 and mT5 are checked there, with a target length

    tested = {arch for _case, arch in PARAMS} | {p + a[2:] for a in T5_ARCHS for p in ("T5", "MT5", "UMT5")}
    bases = {"BertModel", "AlbertModel", "RobertaModel", "GPT2Model", "LlamaModel", "MistralModel", "Qwen2Model",
             "GemmaModel", "MixtralModel", "Qwen2MoeModel"}
    assert set(supported_architectures()) <= tested | bases


def test_experts_become_moe_blocks_where_transformers_puts_them(tmp_path):
    """Qwen2-MoE: layer i is sparse iff i not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0."""
    config = CASES["qwen2-moe-sparse-step"][0]()
    spec = _import(tmp_path, config, "Qwen2MoeModel")
    model = hf_model(config, "Qwen2MoeModel")
    theirs = [hasattr(layer.mlp, "experts") for layer in model.layers]
    ours = [layer.kind == "moe_block" for layer in spec.layers if layer.kind in ("block", "moe_block")]
    assert ours == theirs == [False, True, False, False, False, True]
    moe = [layer for layer in spec.layers if layer.kind == "moe_block"]
    assert {(m.n_experts, m.top_k, m.d_ff, m.shared_d_ff, m.shared_gate) for m in moe} == {(5, 3, 24, 40, True)}
    assert "2 of them with 5 experts, top 3, expert d_ff=24, shared expert d_ff=40" in spec.description
    mixtral = _import(tmp_path, CASES["mixtral-gqa"][0](), "MixtralModel")
    assert "2 blocks (all with 4 experts, top 2, expert d_ff=48)" in mixtral.description


# ---------------------------------------------------------------- full sizes (meta only)

FULL = {
    # name: (config, architecture, parameters of the transformers model); the heads of full-size
    # models are checked on the transformers 4 config files below
    "bert-base": (lambda: T.BertConfig(), "BertModel", 109_482_240),
    "albert-base-v2": (lambda: T.AlbertConfig(hidden_size=768, num_attention_heads=12, intermediate_size=3072),
                       "AlbertModel", 11_683_584),
    "roberta-base": (lambda: T.RobertaConfig(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1,
                                             pad_token_id=1), "RobertaModel", 124_645_632),
    "gpt2": (lambda: T.GPT2Config(), "GPT2Model", 124_439_808),
    "qwen2-0.5b": (lambda: T.Qwen2Config(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                                         num_attention_heads=14, num_key_value_heads=2, vocab_size=151936,
                                         max_position_embeddings=32768, tie_word_embeddings=True),
                   "Qwen2Model", 494_032_768),
    "gemma-7b": (lambda: T.GemmaConfig(), "GemmaModel", 8_537_680_896),     # GemmaConfig's defaults are 7B's
    "mixtral-8x7b": (lambda: T.MixtralConfig(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                                             num_key_value_heads=8, intermediate_size=14336, vocab_size=32000,
                                             num_local_experts=8, num_experts_per_tok=2,
                                             max_position_embeddings=32768), "MixtralModel", 46_571_720_704),
    "qwen1.5-moe-a2.7b": (lambda: T.Qwen2MoeConfig(hidden_size=2048, num_hidden_layers=24, num_attention_heads=16,
                                                   num_key_value_heads=16, intermediate_size=5632,
                                                   moe_intermediate_size=1408, shared_expert_intermediate_size=5632,
                                                   num_experts=60, num_experts_per_tok=4, vocab_size=151936),
                          "Qwen2MoeModel", 14_004_619_264),
}


@pytest.mark.parametrize("name", list(FULL))
def test_full_size_models(tmp_path, name):
    make, architecture, expected = FULL[name]
    config = make()
    spec = _import(tmp_path, config, architecture, with_head=False)
    model = hf_model(config, architecture)
    assert hf_params(model) == expected
    _check(spec, model, 1, 128)


@pytest.mark.parametrize("name,architecture,expected", [("mixtral-8x7b", "MixtralForCausalLM", 46_702_792_704),
                                                        ("qwen1.5-moe-a2.7b", "Qwen2MoeForCausalLM", 14_315_784_192)])
def test_full_size_moe_with_their_lm_head(tmp_path, name, architecture, expected):
    """The published totals (46.7B, 14.3B) include the untied LM head: V x d more than the base model."""
    config = FULL[name][0]()
    spec = _import(tmp_path, config, architecture)
    model = hf_model(config, architecture)
    assert hf_params(model) == expected == analyze(spec, 1, 128).params.unique


# ---------------------------------------------------------------- transformers 4.x config files

V4_CONFIGS = {
    "bert-base-uncased": {"architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1,
                          "gradient_checkpointing": False, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                          "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072,
                          "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
                          "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0,
                          "position_embedding_type": "absolute", "transformers_version": "4.6.0.dev0",
                          "type_vocab_size": 2, "use_cache": True, "vocab_size": 30522},
    "albert-base-v2": {"architectures": ["AlbertForMaskedLM"], "attention_probs_dropout_prob": 0, "bos_token_id": 2,
                       "classifier_dropout_prob": 0.1, "down_scale_factor": 1, "embedding_size": 128,
                       "eos_token_id": 3, "gap_size": 0, "hidden_act": "gelu_new", "hidden_dropout_prob": 0,
                       "hidden_size": 768, "initializer_range": 0.02, "inner_group_num": 1,
                       "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
                       "model_type": "albert", "net_structure_type": 0, "num_attention_heads": 12,
                       "num_hidden_groups": 1, "num_hidden_layers": 12, "num_memory_blocks": 0, "pad_token_id": 0,
                       "type_vocab_size": 2, "vocab_size": 30000},
    "gpt2": {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
             "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
             "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
             "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": None,
             "summary_first_dropout": 0.1, "summary_proj_to_labels": True, "summary_type": "cls_index",
             "summary_use_proj": True, "task_specific_params": {"text-generation": {"do_sample": True,
                                                                                    "max_length": 50}},
             "vocab_size": 50257},
    "roberta-base": {"architectures": ["RobertaForMaskedLM"], "attention_probs_dropout_prob": 0.1,
                     "bos_token_id": 0, "eos_token_id": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                     "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072,
                     "layer_norm_eps": 1e-05, "max_position_embeddings": 514, "model_type": "roberta",
                     "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 1, "type_vocab_size": 1,
                     "vocab_size": 50265},
    "llama-2-7b": {"architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
                   "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 11008,
                   "max_position_embeddings": 4096, "model_type": "llama", "num_attention_heads": 32,
                   "num_hidden_layers": 32, "num_key_value_heads": 32, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
                   "rope_scaling": None, "tie_word_embeddings": False, "torch_dtype": "float16",
                   "transformers_version": "4.31.0.dev0", "use_cache": True, "vocab_size": 32000},
    "llama-3.2-1b": {"architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
                     "bos_token_id": 128000, "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu",
                     "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 8192,
                     "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama",
                     "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
                     "pretraining_tp": 1, "rms_norm_eps": 1e-05,
                     "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                      "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                     "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
                     "transformers_version": "4.45.0.dev0", "use_cache": True, "vocab_size": 128256},
    "mistral-7b-v0.1": {"architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
                        "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
                        "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
                        "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
                        "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096,
                        "tie_word_embeddings": False, "torch_dtype": "bfloat16",
                        "transformers_version": "4.34.0.dev0", "use_cache": True, "vocab_size": 32000},
}
V4_EXPECTED = {"bert-base-uncased": 109_514_298, "albert-base-v2": 11_221_680, "gpt2": 124_439_808,
               "roberta-base": 124_697_433, "llama-2-7b": 6_738_415_616, "llama-3.2-1b": 1_235_814_400,
               "mistral-7b-v0.1": 7_241_732_096}


@pytest.mark.parametrize("name", list(V4_CONFIGS))
def test_transformers_4_config_files(tmp_path, name):
    data = V4_CONFIGS[name]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data, indent=2))
    spec = import_hf_config(path, with_head=True)
    config = T.AutoConfig.from_pretrained(tmp_path)      # a local folder: nothing is downloaded
    model = hf_model(config, data["architectures"][0])
    assert hf_params(model) == V4_EXPECTED[name]
    _check(spec, model, 1, 64)


# ---------------------------------------------------------------- ALBERT groups, exactly as transformers runs them


def _shared_with(spec) -> dict[str, str]:
    """Layer id -> the id of the first layer whose block it runs."""
    owner = {layer.id: layer.id for layer in spec.layers}
    for g in spec.groups:
        if all(m.slot.name == "block" for m in g.members):
            for m in g.members:
                owner[m.layer] = g.members[0].layer
    return owner


@pytest.mark.parametrize("layers,groups,inner", [(12, 3, 1), (18, 14, 1), (7, 3, 2)])
def test_albert_schedule_is_the_one_transformers_runs(tmp_path, layers, groups, inner):
    """AlbertTransformer picks group int(i / (N / G)) in floats: (18, 14) differs from floor(i * G / N)."""
    import torch

    config = T.AlbertConfig(hidden_size=16, embedding_size=8, num_hidden_layers=layers, num_hidden_groups=groups,
                            inner_group_num=inner, num_attention_heads=2, intermediate_size=16, **TINY)
    spec = _import(tmp_path, config, "AlbertModel")
    model = hf_model(config, "AlbertModel")
    ran: list[tuple[int, int]] = []
    for g, group in enumerate(model.encoder.albert_layer_groups):
        for j, layer in enumerate(group.albert_layers):
            layer.register_forward_hook(lambda *_a, key=(g, j): ran.append(key))
    with torch.no_grad():
        model(input_ids=torch.zeros(1, 4, dtype=torch.long, device="meta"))
    blocks = [layer.id for layer in spec.layers if layer.kind == "block"]
    assert len(ran) == len(blocks) == layers * inner
    owner = _shared_with(spec)
    first_of = {}
    for layer_id, key in zip(blocks, ran):
        first_of.setdefault(key, layer_id)
        assert owner[layer_id] == first_of[key], f"{layer_id} should run the block of {first_of[key]}"
    assert verify(spec, 1, 8).ok


def test_albert_groups_agree_with_the_albert_scheme(tmp_path):
    from explorer.design.strategies import apply_scheme

    config = T.AlbertConfig(hidden_size=32, embedding_size=8, num_hidden_layers=12, num_hidden_groups=3,
                            num_attention_heads=2, intermediate_size=32, **TINY)
    spec = _import(tmp_path, config, "AlbertModel")
    assert spec == apply_scheme(spec.replace(groups=()), "albert", groups=3)


@pytest.mark.parametrize("case,architecture", [("albert-groups-inner", "AlbertForMaskedLM"),
                                               ("llama-gqa-biases", "LlamaForCausalLM"),
                                               ("gpt2-tiny", "GPT2LMHeadModel")])
def test_imported_design_round_trips_through_yaml(tmp_path, case, architecture):
    spec = _import(tmp_path, CASES[case][0](), architecture)
    out = tmp_path / "design.yaml"
    yaml_io.save(spec, out)
    assert yaml_io.load(out) == spec
