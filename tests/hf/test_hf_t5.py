"""T5, mT5 and UMT5 imports equal transformers' models: parameters on meta, and forward FLOPs of an
encoder-decoder run (source and target of different lengths) under FlopCounterMode.

transformers 5 builds a T5 from a config with its output layer always tied to the shared
embedding (`tie_word_embeddings: false` only turns off the d**-0.5 scaling, an element-wise
op); a v1.1 checkpoint, whose config.json (written by transformers 4) says false, holds a
separate lm_head, and loading it unties the model. A design follows the file: untied when it
says false. The v1.1-as-published case is checked against transformers' model with its head
untied the way loading that checkpoint leaves it.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from hf_reference import hf_model, hf_params
from torch.utils.flop_counter import FlopCounterMode

from explorer.analysis import analyze
from explorer.design.hf_import import import_hf_config, supported_architectures
from explorer.torchmodel import verify

T = transformers
SMALL = dict(vocab_size=101, d_model=64, d_kv=16, num_heads=4, d_ff=96, num_layers=2, num_decoder_layers=3,
             relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
CONFIGS = {
    "v1.0": lambda: T.T5Config(feed_forward_proj="relu", **SMALL),
    "v1.1": lambda: T.T5Config(feed_forward_proj="gated-gelu", tie_word_embeddings=False, **SMALL),
    "mt5": lambda: T.MT5Config(**{**SMALL, "num_decoder_layers": 2, "d_kv": 24}),
    "umt5": lambda: T.UMT5Config(**SMALL),
    "odd": lambda: T.T5Config(feed_forward_proj="gated-silu", **{**SMALL, "num_layers": 3, "num_decoder_layers": 1,
                                                                  "relative_attention_max_distance": 20}),
}
ARCHS = {"T5Model": "base", "T5ForConditionalGeneration": "lm", "T5EncoderModel": "encoder"}


def _flops(model, batch: int, source: int, target: int | None) -> int:
    ids = torch.zeros(batch, source, dtype=torch.long, device="meta")
    kwargs = {"input_ids": ids}
    if target is not None:
        kwargs["decoder_input_ids"] = torch.zeros(batch, target, dtype=torch.long, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(**kwargs)
    return counter.get_total_flops()


def _check(spec, model, batch=2, source=8, target=5) -> None:
    encoder_only = "Encoder" in type(model).__name__
    report = analyze(spec, batch, source, target_seq=None if encoder_only else target)
    assert report.params.unique == hf_params(model)
    assert report.flops.forward == _flops(model, batch, source, None if encoder_only else target)
    check = verify(spec, batch, source, None if encoder_only else target)
    assert check.ok, check.mismatches()


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_saved_config_matches_transformers(tmp_path, name, arch, attn):
    config = CONFIGS[name]()
    prefix = {"mt5": "MT5", "umt5": "UMT5"}.get(name, "T5")
    arch = prefix + arch[2:]
    config.architectures = [arch]
    config.save_pretrained(tmp_path)
    spec = import_hf_config(tmp_path / "config.json", with_head=True)
    _check(spec, hf_model(config, arch, attn))


def test_base_model_by_default(tmp_path):
    config = CONFIGS["v1.0"]()
    config.architectures = ["T5ForConditionalGeneration"]
    config.save_pretrained(tmp_path)
    spec = import_hf_config(tmp_path / "config.json")
    _check(spec, hf_model(CONFIGS["v1.0"](), "T5Model"))
    assert [x.id for x in spec.layers][-1] == "decoder_norm"


def test_published_v1_1_file_is_untied(tmp_path):
    """A transformers 4 config.json of T5 v1.1 (tie_word_embeddings: false) is a model with its own lm_head."""
    data = {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "d_model": 64, "d_kv": 16,
            "d_ff": 96, "num_layers": 2, "num_decoder_layers": 2, "num_heads": 4, "vocab_size": 101,
            "relative_attention_num_buckets": 8, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False,
            "layer_norm_epsilon": 1e-6, "transformers_version": "4.25.0"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    spec = import_hf_config(path, with_head=True)
    model = hf_model(T.T5Config.from_pretrained(tmp_path), "T5ForConditionalGeneration")
    # loading a v1.1 checkpoint, whose lm_head differs from the shared table, leaves the head untied
    model.lm_head.weight = torch.nn.Parameter(torch.empty_like(model.lm_head.weight))
    _check(spec, model)
    assert "untied" in spec.description


def test_t5_small_full_size(tmp_path):
    config = T.T5Config()                       # t5-small: d 512, 6 + 6 layers, 8 heads, d_ff 2048, V 32128
    config.architectures = ["T5ForConditionalGeneration"]
    config.save_pretrained(tmp_path)
    spec = import_hf_config(tmp_path / "config.json", with_head=True)
    model = hf_model(config, "T5ForConditionalGeneration")
    assert hf_params(model) == 60_506_624
    _check(spec, model, 1, 64, 32)


@pytest.mark.parametrize("change,key", [
    ({"feed_forward_proj": "gated-relu"}, "feed_forward_proj"),
    ({"feed_forward_proj": "fancy-gelu"}, "feed_forward_proj"),
    ({"d_model": 0}, "d_model"),
    ({"num_heads": None}, "num_heads"),
])
def test_bad_t5_configs_name_the_key(change, key):
    from explorer.errors import SpecError

    data = {"model_type": "t5", "d_model": 64, "d_kv": 16, "d_ff": 96, "num_layers": 2, "num_heads": 4,
            "vocab_size": 101, **change}
    with pytest.raises(SpecError) as info:
        import_hf_config(data)
    assert key in str(info.value) and "\n" not in str(info.value)


def test_t5_architectures_are_listed():
    assert {"T5Model", "T5ForConditionalGeneration", "T5EncoderModel", "MT5ForConditionalGeneration"} <= \
        set(supported_architectures())
