"""Hand-written config.json files of Mixtral, Qwen2-MoE, T5/mT5/UMT5 and Gemma, the way they are
published (transformers 4 files: keys absent, null or set) and with edge-case settings, through
``explorer import-hf`` and ``explorer report --json`` / ``--verify``, against transformers' own model
built from the same file on the meta device (``AutoConfig.from_pretrained`` on the folder; nothing is
downloaded).

Parameters must equal ``sum(p.numel() for p in model.parameters())`` (tied tensors once), and the
forward FLOPs FlopCounterMode's total: eager attention (SDPA for a few, which meta counts the same),
and the experts of Mixtral/Qwen2-MoE run as "batched_mm", the implementation FlopCounterMode sees
(docs/hugging-face-import.md, "Where FlopCounterMode is blind"). T5 models run a source and a shorter
target.

A T5/mT5/UMT5 file that says ``tie_word_embeddings: false`` (v1.1, Flan-T5, mT5, UMT5 as published)
is imported with its own output layer, the model its checkpoint loads as: transformers 5 built from the
config alone ties the output layer anyway, so the reference is untied the way ``from_pretrained`` leaves
it (see ``_untie_like_a_checkpoint``).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from hf_reference import hf_model, hf_params
from torch.utils.flop_counter import FlopCounterMode

from explorer.cli.entry import main

T = transformers
T5_TYPES = {"t5": "T5", "mt5": "MT5", "umt5": "UMT5"}
PREFIX = {**T5_TYPES, "gemma": "Gemma", "mixtral": "Mixtral", "qwen2_moe": "Qwen2Moe", "bert": "Bert",
          "albert": "Albert", "roberta": "Roberta", "gpt2": "GPT2", "llama": "Llama", "mistral": "Mistral",
          "qwen2": "Qwen2"}

# ---------------------------------------------------------------- published config.json files (full size)

MIXTRAL_8X7B = {
    "architectures": ["MixtralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 32768, "model_type": "mixtral", "num_attention_heads": 32, "num_experts_per_tok": 2,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "num_local_experts": 8, "output_router_logits": False,
    "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.02, "sliding_window": None,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.36.0.dev0",
    "use_cache": True, "vocab_size": 32000}
MIXTRAL_8X22B = {
    **MIXTRAL_8X7B, "hidden_size": 6144, "intermediate_size": 16384, "max_position_embeddings": 65536,
    "num_attention_heads": 48, "num_hidden_layers": 56, "router_aux_loss_coef": 0.001,
    "transformers_version": "4.38.0"}
QWEN15_MOE_A27B = {
    "architectures": ["Qwen2MoeForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
    "intermediate_size": 5632, "max_position_embeddings": 8192, "max_window_layers": 21, "model_type": "qwen2_moe",
    "num_attention_heads": 16, "num_hidden_layers": 24, "num_key_value_heads": 16, "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "transformers_version": "4.39.0.dev0", "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
    "decoder_sparse_step": 1, "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632,
    "num_experts_per_tok": 4, "num_experts": 60, "norm_topk_prob": False, "output_router_logits": False,
    "router_aux_loss_coef": 0.001}
QWEN2_57B_A14B = {
    **QWEN15_MOE_A27B, "hidden_size": 3584, "intermediate_size": 18944, "max_position_embeddings": 131072,
    "max_window_layers": 28, "moe_intermediate_size": 2560, "num_attention_heads": 28, "num_experts": 64,
    "num_experts_per_tok": 8, "num_hidden_layers": 28, "num_key_value_heads": 4,
    "shared_expert_intermediate_size": 20480, "sliding_window": 131072, "transformers_version": "4.40.1"}
T5_SMALL = {  # v1.0: no feed_forward_proj (relu), no tie_word_embeddings (tied)
    "architectures": ["T5ForConditionalGeneration"], "d_ff": 2048, "d_kv": 64, "d_model": 512,
    "decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1, "initializer_factor": 1.0,
    "is_encoder_decoder": True, "layer_norm_epsilon": 1e-06, "model_type": "t5", "n_positions": 512, "num_heads": 8,
    "num_layers": 6, "output_past": True, "pad_token_id": 0, "relative_attention_num_buckets": 32,
    "task_specific_params": {"summarization": {"early_stopping": True, "length_penalty": 2.0, "max_length": 200,
                                               "min_length": 30, "no_repeat_ngram_size": 3, "num_beams": 4,
                                               "prefix": "summarize: "}},
    "vocab_size": 32128}
T5_BASE = {**T5_SMALL, "d_ff": 3072, "d_model": 768, "num_heads": 12, "num_layers": 12}
T5_LARGE = {**T5_SMALL, "d_ff": 4096, "d_model": 1024, "num_heads": 16, "num_layers": 24}
T5_V1_1_SMALL = {  # gated-gelu, 6 heads x 64 != d_model 512, untied
    "architectures": ["T5ForConditionalGeneration"], "d_ff": 1024, "d_kv": 64, "d_model": 512,
    "decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1, "feed_forward_proj": "gated-gelu",
    "initializer_factor": 1.0, "is_encoder_decoder": True, "layer_norm_epsilon": 1e-06, "model_type": "t5",
    "num_decoder_layers": 8, "num_heads": 6, "num_layers": 8, "output_past": True, "pad_token_id": 0,
    "relative_attention_num_buckets": 32, "tie_word_embeddings": False, "vocab_size": 32128}
T5_V1_1_BASE = {**T5_V1_1_SMALL, "d_ff": 2048, "d_model": 768, "num_heads": 12, "num_layers": 12,
                "num_decoder_layers": 12}
FLAN_T5_SMALL = {**T5_V1_1_SMALL, "dense_act_fn": "gelu_new", "is_gated_act": True, "n_positions": 512,
                 "relative_attention_max_distance": 128, "torch_dtype": "float32", "transformers_version": "4.23.1",
                 "use_cache": True}
FLAN_T5_BASE = {**FLAN_T5_SMALL, "d_ff": 2048, "d_model": 768, "num_heads": 12, "num_layers": 12,
                "num_decoder_layers": 12}
MT5_SMALL = {
    "architectures": ["MT5ForConditionalGeneration"], "d_ff": 1024, "d_kv": 64, "d_model": 512,
    "decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1, "feed_forward_proj": "gated-gelu",
    "initializer_factor": 1.0, "is_encoder_decoder": True, "layer_norm_epsilon": 1e-06, "model_type": "mt5",
    "num_decoder_layers": 8, "num_heads": 6, "num_layers": 8, "pad_token_id": 0, "relative_attention_num_buckets": 32,
    "tie_word_embeddings": False, "tokenizer_class": "T5Tokenizer", "vocab_size": 250112}
UMT5_SMALL = {
    **MT5_SMALL, "architectures": ["UMT5ForConditionalGeneration"], "model_type": "umt5", "classifier_dropout": 0.0,
    "dense_act_fn": "gelu_new", "is_gated_act": True, "relative_attention_max_distance": 128,
    "scalable_attention": True, "torch_dtype": "float32", "transformers_version": "4.31.0", "use_cache": True,
    "vocab_size": 256384}
GEMMA_2B = {  # the legacy hidden_act "gelu" beside hidden_activation; head_dim 256 x 8 heads != 2048
    "architectures": ["GemmaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 2,
    "eos_token_id": 1, "head_dim": 256, "hidden_act": "gelu", "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 16384, "max_position_embeddings": 8192,
    "model_type": "gemma", "num_attention_heads": 8, "num_hidden_layers": 18, "num_key_value_heads": 1,
    "pad_token_id": 0, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 10000.0,
    "torch_dtype": "bfloat16", "transformers_version": "4.38.0.dev0", "use_cache": True, "vocab_size": 256000}
GEMMA_7B = {**GEMMA_2B, "hidden_size": 3072, "intermediate_size": 24576, "num_attention_heads": 16,
            "num_hidden_layers": 28, "num_key_value_heads": 16}

PUBLISHED = {"mixtral-8x7b": MIXTRAL_8X7B, "mixtral-8x22b": MIXTRAL_8X22B, "qwen1.5-moe-a2.7b": QWEN15_MOE_A27B,
             "qwen2-57b-a14b": QWEN2_57B_A14B, "t5-small": T5_SMALL, "t5-base": T5_BASE, "t5-large": T5_LARGE,
             "t5-v1_1-small": T5_V1_1_SMALL, "t5-v1_1-base": T5_V1_1_BASE, "flan-t5-small": FLAN_T5_SMALL,
             "flan-t5-base": FLAN_T5_BASE, "mt5-small": MT5_SMALL, "umt5-small": UMT5_SMALL, "gemma-2b": GEMMA_2B,
             "gemma-7b": GEMMA_7B}


def _with(data: dict, **changes) -> dict:
    return {**data, **changes}


def _without(data: dict, *keys: str) -> dict:
    return {k: v for k, v in data.items() if k not in keys}


# ---------------------------------------------------------------- small variants of the published shapes

MIX = _with(MIXTRAL_8X7B, hidden_size=64, intermediate_size=48, num_attention_heads=8, num_key_value_heads=2,
            num_hidden_layers=2, num_local_experts=4, vocab_size=101, max_position_embeddings=64)
QW = _with(QWEN15_MOE_A27B, hidden_size=64, intermediate_size=96, num_attention_heads=4, num_key_value_heads=4,
           num_hidden_layers=4, moe_intermediate_size=32, shared_expert_intermediate_size=48, num_experts=6,
           num_experts_per_tok=2, vocab_size=101, max_position_embeddings=64, bos_token_id=1, eos_token_id=1,
           pad_token_id=0)
GEM = _with(GEMMA_2B, hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=1,
            head_dim=32, num_hidden_layers=2, vocab_size=101)
T5S = _with(T5_SMALL, d_model=64, d_ff=96, d_kv=16, num_heads=4, num_layers=2, vocab_size=101,
            relative_attention_num_buckets=8)
T5V = _with(T5_V1_1_SMALL, d_model=64, d_ff=96, d_kv=24, num_heads=4, num_layers=3, num_decoder_layers=2,
            vocab_size=101, relative_attention_num_buckets=8)
MT5 = _with(MT5_SMALL, d_model=48, d_ff=64, d_kv=16, num_heads=6, num_layers=2, num_decoder_layers=3, vocab_size=101)
UMT5 = _with(UMT5_SMALL, d_model=48, d_ff=64, d_kv=16, num_heads=6, num_layers=2, num_decoder_layers=3,
             vocab_size=101)

VARIANTS = {
    # Mixtral: num_key_value_heads absent is MixtralConfig's 8, not num_attention_heads
    "mixtral": MIX,
    "mixtral-kv-absent-16-heads": _without(_with(MIX, num_attention_heads=16), "num_key_value_heads"),
    "mixtral-kv-absent-8-heads": _without(MIX, "num_key_value_heads"),
    "mixtral-head-dim": _with(MIX, head_dim=24),
    "mixtral-head-dim-null": _with(MIX, head_dim=None),
    "mixtral-head-dim-odd-d": _with(MIX, hidden_size=60, num_key_value_heads=4, head_dim=16),
    "mixtral-sliding-window": _with(MIX, sliding_window=4),
    "mixtral-tied": _with(MIX, tie_word_embeddings=True),
    "mixtral-tie-absent": _without(MIX, "tie_word_embeddings"),
    "mixtral-num-experts-alias": _with(_without(MIX, "num_local_experts"), num_experts=3),
    "mixtral-attention-bias-ignored": _with(MIX, attention_bias=True, mlp_bias=True, router_jitter_noise=0.1),
    "mixtral-top-k-all": _with(MIX, num_hidden_layers=1, num_local_experts=3, num_experts_per_tok=3),
    "mixtral-one-expert": _with(MIX, num_local_experts=1, num_experts_per_tok=1),
    "mixtral-seq-cls": _with(MIX, architectures=["MixtralForSequenceClassification"], num_labels=3, pad_token_id=0),
    "mixtral-token-cls": _with(MIX, architectures=["MixtralForTokenClassification"],
                               id2label={"0": "a", "1": "b", "2": "c", "3": "d"}),
    "mixtral-qa": _with(MIX, architectures=["MixtralForQuestionAnswering"]),
    # Qwen2-MoE: which layers are sparse, the shared expert, q/k/v biases
    "qwen2-moe": QW,
    "qwen2-moe-57b-shape": _with(QWEN2_57B_A14B, hidden_size=56, intermediate_size=96, num_attention_heads=7,
                                 num_key_value_heads=1, num_hidden_layers=3, moe_intermediate_size=40,
                                 shared_expert_intermediate_size=80, num_experts=8, num_experts_per_tok=8,
                                 vocab_size=101, max_position_embeddings=64),
    "qwen2-moe-sparse-step-2": _with(QW, decoder_sparse_step=2),
    "qwen2-moe-sparse-step-3-mlp-only": _with(QW, decoder_sparse_step=3, mlp_only_layers=[2]),
    "qwen2-moe-step-2-mlp-only-odd": _with(QW, num_hidden_layers=6, decoder_sparse_step=2, mlp_only_layers=[1, 3]),
    "qwen2-moe-mlp-only": _with(QW, mlp_only_layers=[0, 3]),
    "qwen2-moe-mlp-only-null": _with(QW, mlp_only_layers=None),
    "qwen2-moe-mlp-only-all": _with(QW, mlp_only_layers=[0, 1, 2, 3]),
    "qwen2-moe-mlp-only-out-of-range": _with(QW, mlp_only_layers=[7]),
    "qwen2-moe-step-beyond-depth": _with(QW, decoder_sparse_step=9),
    "qwen2-moe-step-absent": _without(QW, "decoder_sparse_step"),
    "qwen2-moe-no-experts": _with(QW, num_experts=0),
    "qwen2-moe-no-qkv-bias": _with(QW, qkv_bias=False, norm_topk_prob=True),
    "qwen2-moe-attention-bias-ignored": _with(QW, attention_bias=True),
    "qwen2-moe-kv-absent-32-heads": _without(_with(QW, num_attention_heads=32), "num_key_value_heads"),
    "qwen2-moe-head-dim": _with(QW, head_dim=24),
    "qwen2-moe-sliding-window": _with(QW, use_sliding_window=True, sliding_window=4, max_window_layers=2),
    "qwen2-moe-tied": _with(QW, tie_word_embeddings=True),
    "qwen2-moe-expert-width-is-d-ff": _with(QW, moe_intermediate_size=96, shared_expert_intermediate_size=32),
    "qwen2-moe-one-expert": _with(QW, num_experts=1, num_experts_per_tok=1),
    "qwen2-moe-seq-cls": _with(QW, architectures=["Qwen2MoeForSequenceClassification"], num_labels=4),
    "qwen2-moe-token-cls": _with(QW, architectures=["Qwen2MoeForTokenClassification"]),
    "qwen2-moe-qa": _with(QW, architectures=["Qwen2MoeForQuestionAnswering"]),
    # Gemma: head_dim 256 by default, tied by default, num_key_value_heads absent is GemmaConfig's 16
    "gemma": GEM,
    "gemma-head-dim-absent": _without(_with(GEM, hidden_size=256, num_attention_heads=2), "head_dim"),
    "gemma-kv-absent-16-heads": _without(_with(GEM, num_attention_heads=16, head_dim=8), "num_key_value_heads"),
    "gemma-hidden-act-absent": _without(GEM, "hidden_act"),
    "gemma-hidden-activation-only": _without(GEM, "hidden_act", "hidden_activation"),
    "gemma-tanh-null-activation": _with(GEM, hidden_act="gelu_pytorch_tanh", hidden_activation=None),
    "gemma-attention-bias": _with(GEM, attention_bias=True, num_key_value_heads=2),
    "gemma-untied": _with(GEM, tie_word_embeddings=False),
    "gemma-tied": _with(GEM, tie_word_embeddings=True, mlp_bias=True),
    "gemma-bidirectional": _with(GEM, use_bidirectional_attention=True),
    "gemma-one-head": _with(GEM, num_attention_heads=1, num_key_value_heads=1, head_dim=8),
    "gemma-2b-layer": _with(GEMMA_2B, num_hidden_layers=1, vocab_size=101),
    "gemma-7b-layer": _with(GEMMA_7B, num_hidden_layers=1, vocab_size=101),
    "gemma-seq-cls": _with(GEM, architectures=["GemmaForSequenceClassification"], num_labels=5),
    "gemma-token-cls": _with(GEM, architectures=["GemmaForTokenClassification"]),
    # T5 v1.0 / v1.1, mT5, UMT5
    "t5": T5S,
    "t5-untied": _with(T5S, tie_word_embeddings=False),
    "t5-tied": _with(T5S, tie_word_embeddings=True),
    "t5-d-kv-wide": _with(T5S, d_kv=40),
    "t5-one-head": _with(T5S, num_heads=1, d_kv=100),
    "t5-decoder-deeper": _with(T5S, num_decoder_layers=4),
    "t5-decoder-null": _with(T5S, num_decoder_layers=None),
    "t5-decoder-shallower": _with(T5S, num_layers=3, num_decoder_layers=1),
    "t5-max-distance": _with(T5S, relative_attention_max_distance=16, relative_attention_num_buckets=4),
    "t5-gated-silu": _with(T5S, feed_forward_proj="gated-silu"),
    "t5-gelu": _with(T5S, feed_forward_proj="gelu"),
    "t5-gelu-new": _with(T5S, feed_forward_proj="gelu_new"),
    "t5-gated-gelu-tanh": _with(T5S, feed_forward_proj="gated-gelu_pytorch_tanh"),
    "t5-is-gated-act-false-wins": _with(T5S, feed_forward_proj="gated-gelu", is_gated_act=False),
    "t5-dense-act-fn-wins": _with(T5S, feed_forward_proj="gated-gelu", dense_act_fn="silu"),
    "t5-hidden-size-aliases": _with(_without(T5S, "d_model", "num_heads", "d_kv"), hidden_size=64,
                                    num_attention_heads=2, head_dim=24),
    "t5-alias-wins": _with(T5S, hidden_size=48, num_hidden_layers=3),
    "t5-d-kv-absent": _without(_with(T5S, num_heads=2), "d_kv"),
    "t5-v1_1": T5V,
    "t5-v1_1-tied": _with(T5V, tie_word_embeddings=True),
    "t5-v1_1-tie-absent": _without(T5V, "tie_word_embeddings"),
    "t5-v1_1-decoder-deeper": _with(T5V, num_layers=1, num_decoder_layers=4),
    "flan-t5": _with(FLAN_T5_SMALL, d_model=64, d_ff=96, d_kv=16, num_heads=4, num_layers=2, num_decoder_layers=2,
                     vocab_size=101),
    "t5-encoder": _with(T5S, architectures=["T5EncoderModel"]),
    "t5-v1_1-encoder": _with(T5V, architectures=["T5EncoderModel"]),
    "mt5": MT5,
    "mt5-feed-forward-proj-absent": _without(MT5, "feed_forward_proj"),
    "mt5-tied": _with(MT5, tie_word_embeddings=True),
    "mt5-gated-silu": _with(MT5, feed_forward_proj="gated-silu"),
    "mt5-encoder": _with(MT5, architectures=["MT5EncoderModel"]),
    "umt5": UMT5,
    "umt5-defaults": _without(UMT5, "feed_forward_proj", "is_gated_act", "dense_act_fn", "tie_word_embeddings",
                              "num_decoder_layers"),
    "umt5-relu": _with(UMT5, feed_forward_proj="relu", is_gated_act=False, dense_act_fn="relu"),
    "umt5-one-decoder-layer": _with(UMT5, num_layers=3, num_decoder_layers=1),
    "umt5-encoder": _with(UMT5, architectures=["UMT5EncoderModel"]),
}
SDPA = ("mixtral", "qwen2-moe", "gemma-attention-bias", "t5", "t5-v1_1", "mt5", "umt5")


# ---------------------------------------------------------------- keys a family's model class ignores

# Each family's config with every key its transformers model class does not read for what it builds set
# to a value that would add or change tensors elsewhere: biases only some families build, and an
# attribute_map field beside its alias (transformers applies the alias last: GPT-2's n_layer under
# num_hidden_layers, Mixtral's num_local_experts under num_experts, T5's d_model under hidden_size).
_DECODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "intermediate_size": 48, "vocab_size": 101, "pad_token_id": 0}
_ENCODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 48,
            "max_position_embeddings": 20, "vocab_size": 101, "pad_token_id": 0, "num_labels": 3}
_BIASES = {"attention_bias": True, "mlp_bias": True, "qkv_bias": True}
IGNORED_KEYS = {
    "bert": {**_ENCODER, **_BIASES, "model_type": "bert", "architectures": ["BertForMaskedLM"]},
    "albert": {**_ENCODER, **_BIASES, "model_type": "albert", "embedding_size": 16,
               "architectures": ["AlbertForMaskedLM"]},
    "roberta": {**_ENCODER, **_BIASES, "model_type": "roberta", "pad_token_id": 1,
                "architectures": ["RobertaForMaskedLM"]},
    "gpt2": {**_BIASES, "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 101,
             "n_embd": 48, "hidden_size": 32, "n_head": 3, "num_attention_heads": 4, "n_layer": 3,
             "num_hidden_layers": 2, "n_positions": 40, "max_position_embeddings": 20},
    "llama": {**_DECODER, "model_type": "llama", "architectures": ["LlamaForCausalLM"], "qkv_bias": True},
    # the case: Mistral with both biases set builds none (ours had 77,312 where it has 76,352)
    "mistral": {**_DECODER, **_BIASES, "model_type": "mistral", "architectures": ["MistralForCausalLM"]},
    "qwen2": {**_DECODER, "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "attention_bias": False,
              "mlp_bias": True, "qkv_bias": False},
    "gemma": {**_DECODER, "model_type": "gemma", "architectures": ["GemmaForCausalLM"], "head_dim": 8,
              "mlp_bias": True, "qkv_bias": True},
    "mixtral": {**_DECODER, **_BIASES, "model_type": "mixtral", "architectures": ["MixtralForCausalLM"],
                "num_local_experts": 3, "num_experts": 4, "num_experts_per_tok": 2},
    "qwen2_moe": {**_DECODER, "model_type": "qwen2_moe", "architectures": ["Qwen2MoeForCausalLM"],
                  "attention_bias": True, "mlp_bias": True, "num_experts": 3, "num_experts_per_tok": 2,
                  "moe_intermediate_size": 24, "shared_expert_intermediate_size": 40},
    **{t: {**_BIASES, "model_type": t, "architectures": [f"{p}ForConditionalGeneration"], "d_model": 48,
           "hidden_size": 32, "num_heads": 2, "num_attention_heads": 4, "d_kv": 16, "head_dim": 8,
           "num_layers": 2, "d_ff": 48, "vocab_size": 101, "relative_attention_num_buckets": 8,
           "tie_word_embeddings": True} for t, p in T5_TYPES.items()},
}


# ---------------------------------------------------------------- the comparison


def _cli(*argv) -> tuple[int, str, str]:
    """`explorer ARGV...` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def _architecture(data: dict, with_head: bool) -> str:
    return data["architectures"][0] if with_head else PREFIX[data["model_type"]] + "Model"


def _untie_like_a_checkpoint(model, data: dict) -> None:
    """A T5-family file that says tie_word_embeddings: false comes with a checkpoint holding its own
    lm_head; transformers 5 builds the model from the config tied, and from_pretrained unties it
    (the two tables differ). Do here what loading does."""
    if data["model_type"] in T5_TYPES and data.get("tie_word_embeddings") is False \
            and hasattr(model, "lm_head"):
        model.lm_head.weight = torch.nn.Parameter(torch.empty_like(model.lm_head.weight))


def _their_model(folder, data: dict, architecture: str, attn: str):
    config = T.AutoConfig.from_pretrained(folder)        # a local folder: nothing is downloaded
    model = hf_model(config, architecture, attn)
    _untie_like_a_checkpoint(model, data)
    return model


def _their_flops(model, batch: int, seq: int, target: int | None) -> int:
    kwargs = {"input_ids": torch.zeros(batch, seq, dtype=torch.long, device="meta")}
    if target is not None:
        kwargs["decoder_input_ids"] = torch.zeros(batch, target, dtype=torch.long, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(**kwargs)
    return counter.get_total_flops()


def _compare(tmp_path, data: dict, with_head: bool, batch: int, seq: int, target: int, attn: str = "eager",
             verify: bool = True) -> dict:
    config, out = tmp_path / "config.json", tmp_path / "design.yaml"
    config.write_text(json.dumps(data, indent=2))
    rc, _out, err = _cli("import-hf", config, "-o", out, *(["--with-head"] if with_head else []))
    assert rc == 0, err
    architecture = _architecture(data, with_head)
    encoder_decoder = data["model_type"] in T5_TYPES and "Encoder" not in architecture
    shape = ["--batch", batch, "--seq", seq] + (["--target-seq", target] if encoder_decoder else [])
    rc, text, err = _cli("report", out, "--json", *shape)
    assert rc == 0, err
    report = json.loads(text)
    model = _their_model(tmp_path, data, architecture, attn)
    assert report["params"]["unique"] == hf_params(model), architecture
    theirs = _their_flops(model, batch, seq, target if encoder_decoder else None)
    assert report["flops"]["forward"] == theirs, f"{architecture}: ours {report['flops']} theirs {theirs:,}"
    if verify:
        rc, _text, err = _cli("report", out, "--verify", *shape)
        assert rc == 0, err
    return report


@pytest.mark.parametrize("with_head", [False, True], ids=["base", "head"])
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_matches_transformers(tmp_path, name, with_head):
    """--verify (our own model built on meta) runs on the model with its head, which holds the base model."""
    _compare(tmp_path, VARIANTS[name], with_head, 2, 8, 5, verify=with_head)


@pytest.mark.parametrize("with_head", [False, True], ids=["base", "head"])
@pytest.mark.parametrize("model_type", sorted(IGNORED_KEYS))
def test_keys_the_model_class_ignores_add_nothing(tmp_path, model_type, with_head):
    """Parameters and forward FLOPs equal transformers' model where the file sets keys its class ignores."""
    _compare(tmp_path, IGNORED_KEYS[model_type], with_head, 2, 6, 4, verify=False)


@pytest.mark.parametrize("model_type,architecture", [
    ("llama", "LlamaForCausalLM"), ("mistral", "MistralForCausalLM"), ("qwen2", "Qwen2ForCausalLM"),
    ("gemma", "GemmaForCausalLM"), ("mixtral", "MixtralForCausalLM"), ("qwen2_moe", "Qwen2MoeForCausalLM")])
def test_absent_kv_heads_are_the_config_class_default(tmp_path, model_type, architecture):
    """num_key_value_heads absent: 8 (Mistral, Mixtral), 16 (Gemma, Qwen2-MoE), 32 (Qwen2), all heads
    (LLaMA), whatever num_attention_heads is; here 32 heads, which each of them divides."""
    data = {"model_type": model_type, "architectures": [architecture], "hidden_size": 64, "num_attention_heads": 32,
            "head_dim": 4, "intermediate_size": 48, "num_hidden_layers": 2, "vocab_size": 101}
    if model_type in ("mixtral", "qwen2_moe"):
        data.update(num_local_experts=3, num_experts=3, num_experts_per_tok=2, moe_intermediate_size=24,
                    shared_expert_intermediate_size=40)
    _compare(tmp_path, data, True, 2, 6, 0, verify=False)


@pytest.mark.parametrize("name", SDPA)
def test_sdpa_attention_counts_the_same(tmp_path, name):
    _compare(tmp_path, VARIANTS[name], True, 2, 9, 4, attn="sdpa", verify=False)


@pytest.mark.parametrize("with_head", [False, True], ids=["base", "head"])
@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_config_full_size(tmp_path, name, with_head):
    """The files as published, at full size on meta: parameters, and the FLOPs of 1 x 16 tokens (T5: and
    an 8-token target); --verify builds our own model on meta too."""
    _compare(tmp_path, PUBLISHED[name], with_head, 1, 16, 8, verify=with_head)


def test_report_runs_a_source_and_a_target_length(tmp_path):
    """`report --seq S --target-seq T` of an imported T5 differs from S = T as transformers' does."""
    short = _compare(tmp_path, T5V, True, 2, 12, 3)
    same = _compare(tmp_path, T5V, True, 2, 12, 12)
    assert short["seq"] == 12 and short["target_seq"] == 3 and same["target_seq"] == 12
    assert short["flops"]["forward"] < same["flops"]["forward"]


# ---------------------------------------------------------------- what is refused, in one line naming the key

REFUSED = {
    # transformers builds these but its forward cannot run them
    "qwen2-moe-kv-absent-4-heads": (_without(QW, "num_key_value_heads"), "num_key_value_heads",
                                    "Qwen2MoeConfig then uses 16"),
    "gemma-kv-absent-4-heads": (_without(GEM, "num_key_value_heads"), "num_key_value_heads",
                                "GemmaConfig then uses 16"),
    "mixtral-odd-head-width": (_without(_with(MIX, hidden_size=56), "head_dim"), "num_attention_heads",
                               "head width 7 is odd"),
    "gemma-odd-head-dim": (_with(GEM, head_dim=9), "head_dim", "head width 9 is odd"),
    "t5-two-buckets": (_with(T5S, relative_attention_num_buckets=2), "relative_attention_num_buckets", "at least 4"),
    # transformers runs it, computing an encoder whose output nothing reads
    "t5-no-decoder-layers": (_with(T5S, num_decoder_layers=0), "num_decoder_layers", "no layer would read"),
    # a design cannot hold them yet
    "qwen2-moe-shared-expert-0": (_with(QW, shared_expert_intermediate_size=0), "shared_expert_intermediate_size",
                                  "sigmoid gate"),
    "t5-gated-relu": (_with(T5S, is_gated_act=True), "feed_forward_proj", "gated activation 'relu'"),
    "t5-question-answering": (_with(T5S, architectures=["T5ForQuestionAnswering"]), "architectures", "T5EncoderModel"),
    # documented refusals of a missing expert setting (transformers would use its class default)
    "qwen2-moe-shared-expert-absent": (_without(QW, "shared_expert_intermediate_size"),
                                       "shared_expert_intermediate_size", "missing"),
    "mixtral-top-k-absent": (_without(MIX, "num_experts_per_tok"), "num_experts_per_tok", "missing"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_in_one_line_naming_the_key(tmp_path, name):
    data, key, words = REFUSED[name]
    config = tmp_path / "config.json"
    config.write_text(json.dumps(data))
    rc, out, err = _cli("import-hf", config, "-o", tmp_path / "design.yaml", "--with-head")
    assert rc == 2 and not out
    line = err.strip()
    assert "\n" not in line and str(config) in line and f"{key}:" in line and words in line, line
    assert not (tmp_path / "design.yaml").exists()


@pytest.mark.slow
def test_python_m_explorer_end_to_end(tmp_path):
    """The commands as a checker runs them: import-hf --with-head, report --json with a target length,
    report --verify, in a fresh interpreter."""
    config, out = tmp_path / "config.json", tmp_path / "flan.yaml"
    data = VARIANTS["flan-t5"]
    config.write_text(json.dumps(data))
    run = [sys.executable, "-m", "explorer"]
    subprocess.run([*run, "import-hf", str(config), "-o", str(out), "--with-head"], check=True, timeout=120)
    text = subprocess.run([*run, "report", str(out), "--json", "--seq", "8", "--target-seq", "5"], check=True,
                          capture_output=True, text=True, timeout=120).stdout
    model = _their_model(tmp_path, data, data["architectures"][0], "eager")
    report = json.loads(text)
    assert report["params"]["unique"] == hf_params(model)
    assert report["flops"]["forward"] == _their_flops(model, 1, 8, 5)
    subprocess.run([*run, "report", str(out), "--verify", "--seq", "8", "--target-seq", "5"], check=True,
                   capture_output=True, timeout=120)
