"""Reading config.json safely: every bad input is one SpecError naming the key or the reason. Pure: no torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.errors import SpecError
from explorer.design import yaml_io
from explorer.design.hf_import import (
    MAX_CONFIG_BYTES,
    SUPPORTED_MODEL_TYPES,
    import_hf_config,
    import_hf_to_yaml,
    supported_architectures,
)

BERT = {"model_type": "bert", "architectures": ["BertForMaskedLM"], "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "max_position_embeddings": 64,
        "type_vocab_size": 2}
LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96, "vocab_size": 100}
MIXTRAL = {**LLAMA, "model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "num_local_experts": 4,
           "num_experts_per_tok": 2}
QWEN2_MOE = {**LLAMA, "model_type": "qwen2_moe", "architectures": ["Qwen2MoeForCausalLM"], "num_experts": 4,
             "num_experts_per_tok": 2, "moe_intermediate_size": 32, "shared_expert_intermediate_size": 48}
GEMMA = {**LLAMA, "model_type": "gemma", "architectures": ["GemmaForCausalLM"], "head_dim": 16}


def _error(data, with_head: bool = False) -> str:
    with pytest.raises(SpecError) as info:
        import_hf_config(data, with_head)
    text = str(info.value)
    assert "\n" not in text
    return text


def _write(tmp_path, text: str | bytes):
    path = tmp_path / "config.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_unknown_model_type_names_it_and_the_supported_ones():
    text = _error({**BERT, "model_type": "bart"})
    assert "'bart'" in text and "model_type" in text and "t5" in text
    for name in SUPPORTED_MODEL_TYPES:
        assert name in text
    assert "no model_type" in _error({k: v for k, v in BERT.items() if k != "model_type"})
    assert "normalizes q and k" in _error({**LLAMA, "model_type": "qwen3"})   # a known family says why
    assert _error({**BERT, "model_type": ["bert"]}).startswith("model_type:")


@pytest.mark.parametrize("key", ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                                 "vocab_size", "max_position_embeddings"])
def test_missing_key_is_named(key):
    text = _error({k: v for k, v in BERT.items() if k != key})
    assert text.startswith(f"{key}:") and "missing" in text


@pytest.mark.parametrize("key,value,expect", [
    ("hidden_size", "768", "expected an integer"),
    ("hidden_size", 64.0, "expected an integer"),
    ("num_hidden_layers", True, "expected an integer"),
    ("num_attention_heads", 0, "at least 1"),
    ("vocab_size", -5, "at least 1"),
    ("hidden_size", 10**12, "absurdly large"),
    ("num_hidden_layers", 100000, "absurdly large"),
    ("type_vocab_size", [2], "expected an integer"),
    ("layer_norm_eps", "tiny", "small positive number"),
    ("is_decoder", "yes", "true or false"),
    ("hidden_act", "mish", "no counterpart"),
    ("hidden_act", 3, "expected text"),
    ("id2label", ["a", "b"], "object of labels"),
])
def test_wrongly_typed_key_is_named(key, value, expect):
    data = {**BERT, key: value, "architectures": ["BertForSequenceClassification"]}
    text = _error(data, with_head=key == "id2label")
    assert text.startswith(f"{key}:") and expect in text, text


@pytest.mark.parametrize("data,key", [
    (MIXTRAL, "num_local_experts"), (MIXTRAL, "num_experts_per_tok"), (MIXTRAL, "intermediate_size"),
    (QWEN2_MOE, "num_experts"), (QWEN2_MOE, "num_experts_per_tok"), (QWEN2_MOE, "moe_intermediate_size"),
    (QWEN2_MOE, "shared_expert_intermediate_size"), (QWEN2_MOE, "intermediate_size"), (GEMMA, "hidden_size"),
])
def test_missing_expert_keys_are_named(data, key):
    text = _error({k: v for k, v in data.items() if k != key})
    assert text.startswith(f"{key}:") and "missing" in text, text


@pytest.mark.parametrize("data,key,value,expect", [
    (MIXTRAL, "num_experts_per_tok", 5, "5 is more than the 4 experts of num_local_experts"),
    (QWEN2_MOE, "num_experts_per_tok", 9, "9 is more than the 4 experts of num_experts"),
    (MIXTRAL, "num_experts_per_tok", 0, "at least 1"),
    (MIXTRAL, "num_local_experts", 0, "at least 1"),
    (MIXTRAL, "num_local_experts", 10**6, "absurdly large"),
    (MIXTRAL, "num_local_experts", "8", "expected an integer"),
    (QWEN2_MOE, "num_experts", -1, "at least 0"),
    (QWEN2_MOE, "decoder_sparse_step", 0, "at least 1"),
    (QWEN2_MOE, "mlp_only_layers", "0,1", "list of layer indices"),
    (QWEN2_MOE, "mlp_only_layers", [0, True], "list of layer indices"),
    (QWEN2_MOE, "moe_intermediate_size", 0, "at least 1"),
    (QWEN2_MOE, "shared_expert_intermediate_size", 0, "shared expert's sigmoid gate"),
    (QWEN2_MOE, "qkv_bias", "yes", "true or false"),
    (GEMMA, "hidden_act", "relu", "no counterpart"),
    (GEMMA, "use_bidirectional_attention", 1, "true or false"),
])
def test_bad_expert_settings_are_named(data, key, value, expect):
    text = _error({**data, key: value})
    assert text.startswith(f"{key}:") and expect in text, text


def test_expert_layouts_and_defaults():
    mixtral = import_hf_config(MIXTRAL, with_head=True)
    assert [x.kind for x in mixtral.layers] == ["embedding", "moe_block", "moe_block", "norm", "lm_head"]
    assert not mixtral.groups                                               # untied by default
    assert (mixtral.layers[1].n_experts, mixtral.layers[1].top_k, mixtral.layers[1].d_ff) == (4, 2, None)
    assert "(all with 4 experts, top 2, expert d_ff=96)" in mixtral.description
    alias = {**{k: v for k, v in MIXTRAL.items() if k != "num_local_experts"}, "num_experts": 4}
    assert import_hf_config(alias) == import_hf_config(MIXTRAL)            # MixtralConfig's attribute_map
    assert not import_hf_config({**MIXTRAL, "attention_bias": True, "mlp_bias": True}).settings.attention_bias
    qwen = import_hf_config({**QWEN2_MOE, "num_hidden_layers": 4, "decoder_sparse_step": 2})
    assert [x.kind for x in qwen.layers[1:-1]] == ["block", "moe_block", "block", "moe_block"]
    moe = qwen.layers[2]
    assert (moe.d_ff, moe.shared_d_ff, moe.shared_gate) == (32, 48, True)
    assert qwen.settings.attention_bias and qwen.settings.o_bias is False
    same_width = import_hf_config({**QWEN2_MOE, "moe_intermediate_size": 96})
    assert same_width.layers[1].d_ff is None                                # = intermediate_size
    dense = import_hf_config({**QWEN2_MOE, "num_experts": 0, "num_experts_per_tok": 99})
    assert {x.kind for x in dense.layers[1:-1]} == {"block"}                # no experts: top_k is never read
    assert {x.kind for x in import_hf_config({**QWEN2_MOE, "mlp_only_layers": [0, 1, 7]}).layers[1:-1]} == {"block"}
    gemma = import_hf_config(GEMMA, with_head=True)
    assert [g.name for g in gemma.groups] == ["tied-embeddings"]            # tied by default
    assert gemma.settings.activation == "geglu" and gemma.settings.head_dim is None
    no_head_dim = import_hf_config({k: v for k, v in GEMMA.items() if k != "head_dim"})
    assert no_head_dim.settings.head_dim == 256                             # GemmaConfig's default
    biased = import_hf_config({**GEMMA, "attention_bias": True, "mlp_bias": True}).settings
    assert biased.attention_bias and biased.o_bias is None and biased.ffn_bias is False
    assert not import_hf_config({**GEMMA, "use_bidirectional_attention": True}).settings.causal
    assert "architectures" in _error({**GEMMA, "architectures": ["GemmaForQuestionAnswering"]}, with_head=True)


@pytest.mark.parametrize("model_type,expect", [("gemma2", "pre/post-feedforward"), ("gemma3", "pre/post-feedforward"),
                                               ("gemma3_text", "normalize q and k"), ("qwen3_moe", "normalizes q")])
def test_families_we_cannot_reproduce_say_why(model_type, expect):
    text = _error({**GEMMA, "model_type": model_type})
    assert text.startswith("model_type:") and expect in text, text


def test_inconsistent_sizes_are_explained():
    assert "num_attention_heads" in _error({**BERT, "num_attention_heads": 5})
    assert "num_key_value_heads" in _error({**LLAMA, "num_key_value_heads": 3})
    assert "head_dim" in _error({**LLAMA, "head_dim": 15})                  # rotary needs an even width


@pytest.mark.parametrize("text,expect", [
    ('{"model_type": "bert", "hidden_size": NaN}', "NaN is not a valid JSON number"),
    ('{"model_type": "bert", "hidden_size": Infinity}', "Infinity"),
    ('{"model_type": "bert", "hidden_size": -Infinity}', "Infinity"),
    ("[1, 2, 3]", "expected a JSON object"),
    ('"bert"', "expected a JSON object"),
    ("null", "expected a JSON object"),
    ('{"model_type": "bert",', "not valid JSON"),
    ("", "not valid JSON"),
    ("[" * 100000 + "]" * 100000, "not valid JSON"),
])
def test_unsafe_or_malformed_json_is_rejected(tmp_path, text, expect):
    path = _write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        import_hf_config(path)
    assert expect in str(info.value) and str(path) in str(info.value)


def test_huge_file_is_refused_before_parsing(tmp_path):
    path = _write(tmp_path, '{"model_type": "bert", "pad": "' + "x" * MAX_CONFIG_BYTES + '"}')
    with pytest.raises(SpecError, match="too large"):
        import_hf_config(path)


def test_binary_and_missing_files(tmp_path):
    with pytest.raises(SpecError, match="not UTF-8"):
        import_hf_config(_write(tmp_path, b'{"model_type": "\xff\xfe"}'))
    with pytest.raises(SpecError, match="cannot read"):
        import_hf_config(tmp_path / "absent.json")
    with pytest.raises(SpecError, match="cannot read"):
        import_hf_config(tmp_path)                                          # a folder


def test_remote_code_keys_are_ignored(tmp_path):
    data = {**BERT, "auto_map": {"AutoModel": "evil.EvilModel"}, "trust_remote_code": True,
            "custom_pipelines": {"x": {"impl": "evil.Pipe"}}}
    spec = import_hf_config(_write(tmp_path, json.dumps(data)))
    assert spec == import_hf_config(BERT)


def test_utf8_bom_and_transformers_5_null_fields_are_fine(tmp_path):
    data = {**LLAMA, "head_dim": None, "num_key_value_heads": None, "rope_parameters": {"rope_type": "default"},
            "dtype": "bfloat16"}
    spec = import_hf_config(_write(tmp_path, b"\xef\xbb\xbf" + json.dumps(data).encode()))
    assert spec.settings.n_kv_heads is None and spec.settings.head_dim is None


def test_head_needs_a_known_architecture():
    text = _error({**BERT, "architectures": ["BertForMultipleChoice"]}, with_head=True)
    assert "'BertForMultipleChoice'" in text and "BertForMaskedLM" in text and text.startswith("architectures:")
    assert "architectures" in _error({**BERT, "architectures": ["LlamaForCausalLM"]}, with_head=True)
    for bad in (None, [], "BertForMaskedLM", [3]):
        data = {**BERT, "architectures": bad} if bad is not None else {k: v for k, v in BERT.items()
                                                                        if k != "architectures"}
        assert _error(data, with_head=True).startswith("architectures:")
    # without a head, architectures is not read at all
    assert import_hf_config({**BERT, "architectures": ["BertForMultipleChoice"]}).layers[-1].kind == "pooler"


@pytest.mark.parametrize("data,key", [
    ({**BERT, "position_embedding_type": "relative_key"}, "position_embedding_type"),
    ({**BERT, "add_cross_attention": True}, "add_cross_attention"),
    ({**BERT, "model_type": "albert", "embedding_size": 64}, "embedding_size"),
    ({**BERT, "model_type": "albert", "embedding_size": 16, "num_hidden_groups": 3}, "num_hidden_groups"),
    ({**BERT, "model_type": "albert", "embedding_size": 16, "num_hidden_layers": 2000, "inner_group_num": 3},
     "inner_group_num"),
])
def test_what_cannot_be_reproduced_is_refused(data, key):
    assert _error(data).startswith(f"{key}:")


def test_base_models_and_heads_have_the_expected_layers():
    base = import_hf_config(BERT)
    assert [layer.kind for layer in base.layers] == ["embedding", "block", "block", "pooler"]
    mlm = import_hf_config(BERT, with_head=True)
    assert [layer.kind for layer in mlm.layers][-1] == "lm_head" and "pooler" not in {x.kind for x in mlm.layers}
    assert [g.name for g in mlm.groups] == ["tied-embeddings"]
    untied = import_hf_config({**LLAMA, "tie_word_embeddings": False}, with_head=True)
    assert not untied.groups and untied.layers[-2].kind == "norm"
    tied = import_hf_config({**LLAMA, "tie_word_embeddings": True}, with_head=True)
    assert [g.name for g in tied.groups] == ["tied-embeddings"]
    assert import_hf_config(LLAMA).settings.n_kv_heads == 2


def test_design_is_named_after_the_checkpoint():
    assert import_hf_config({**BERT, "_name_or_path": "google-bert/bert-base-uncased"}).name == "bert-base-uncased"
    assert import_hf_config({**BERT, "_name_or_path": "bad\nname"}).name == "bert-2x64"
    assert "\n" not in import_hf_config(BERT).description


def test_supported_architectures_cover_every_family():
    archs = supported_architectures()
    for name in ("BertForMaskedLM", "AlbertForMaskedLM", "GPT2LMHeadModel", "LlamaForCausalLM",
                 "MistralForCausalLM", "RobertaForSequenceClassification", "GemmaForCausalLM", "MixtralForCausalLM",
                 "Qwen2MoeForQuestionAnswering"):
        assert name in archs


def test_import_to_yaml_writes_a_loadable_design(tmp_path):
    config = _write(tmp_path, json.dumps(LLAMA))
    out = tmp_path / "out.yaml"
    spec = import_hf_to_yaml(config, out, with_head=True)
    assert yaml_io.load(out) == spec
    with pytest.raises(SpecError, match="cannot write"):
        import_hf_to_yaml(config, tmp_path / "missing-dir" / "out.yaml")


def test_import_is_pure():
    code = ("import sys; from explorer.design.hf_import import import_hf_config; "
            f"s = import_hf_config({LLAMA!r}, True); "
            "from explorer.analysis import analyze; analyze(s, 1, 16); "
            "bad = [m for m in ('torch', 'transformers', 'PySide6') if m in sys.modules]; assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


_KEYS = sorted({*BERT, *LLAMA, "n_embd", "n_layer", "n_head", "n_positions", "n_inner", "embedding_size",
                "num_hidden_groups", "inner_group_num", "head_dim", "tie_word_embeddings", "id2label", "num_labels",
                "hidden_act", "activation_function", "layer_norm_eps", "rms_norm_eps", "attention_bias",
                *MIXTRAL, *QWEN2_MOE, "num_experts", "decoder_sparse_step", "mlp_only_layers", "qkv_bias",
                "use_bidirectional_attention"})
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 5000), st.floats(allow_nan=True),
                    st.sampled_from(["bert", "albert", "gpt2", "llama", "mistral", "roberta", "gemma", "mixtral",
                                     "qwen2_moe", "silu", "gelu_new"]),
                    st.lists(st.sampled_from(["BertForMaskedLM", "LlamaForCausalLM", "GPT2LMHeadModel",
                                              "MixtralForCausalLM"]), max_size=2),
                    st.lists(st.integers(-2, 6), max_size=3),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from([BERT, LLAMA, MIXTRAL, QWEN2_MOE, GEMMA]),
       changes=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=4),
       with_head=st.booleans())
def test_any_config_gives_a_design_or_one_spec_error(base, changes, with_head):
    try:
        spec = import_hf_config({**base, **changes}, with_head)
    except SpecError as err:
        assert "\n" not in str(err) and str(err)
    else:
        assert spec.layers
    with pytest.raises(SpecError, match="path or a mapping"):
        import_hf_config(["not", "a", "config"])
