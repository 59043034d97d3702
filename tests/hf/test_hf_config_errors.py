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
    text = _error({**BERT, "model_type": "t5"})
    assert "'t5'" in text and "model_type" in text
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
                 "MistralForCausalLM", "RobertaForSequenceClassification"):
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
                "hidden_act", "activation_function", "layer_norm_eps", "rms_norm_eps", "attention_bias"})
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 5000), st.floats(allow_nan=True),
                    st.sampled_from(["bert", "albert", "gpt2", "llama", "mistral", "roberta", "silu", "gelu_new"]),
                    st.lists(st.sampled_from(["BertForMaskedLM", "LlamaForCausalLM", "GPT2LMHeadModel"]),
                             max_size=2),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from([BERT, LLAMA]), changes=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=4),
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
