"""Positions at any length: sinusoids and rotary are computed for the run, a learned table is refused
past its end, and the analysis matches torch at every length."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.analysis import analyze
from explorer.torchmodel import build_model, verify
from explorer.torchmodel.modules import Conv, sinusoid
from explorer.torchmodel.verify import torch_flops
from explorer.errors import SpecError
from explorer.design.model import LayerSpec, ModelSettings, StackSpec


def design(positional: str, max_positions: int = 8, d_model: int = 12, embedding_size: int | None = None,
           extra: tuple[LayerSpec, ...] = ()) -> StackSpec:
    settings = ModelSettings(d_model=d_model, n_heads=2, d_ff=16, vocab_size=11, max_positions=max_positions,
                             positional=positional, embedding_size=embedding_size)
    layers = (LayerSpec("emb", "embedding"), LayerSpec("b0", "block"), LayerSpec("b1", "block", causal=True),
              *extra, LayerSpec("out", "lm_head"))
    return StackSpec(settings=settings, layers=layers, name=f"{positional}-{max_positions}")


def reference_sinusoid(positions: int, width: int) -> torch.Tensor:
    """Vaswani et al., element by element in float64: PE(p, 2i) = sin(p / 10000^(2i/w)), PE(p, 2i+1) = cos(...)."""
    table = torch.zeros(positions, width, dtype=torch.float64)
    for p in range(positions):
        for i in range(width):
            angle = p / 10000 ** ((i - i % 2) / width)
            table[p, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return table


@pytest.mark.parametrize("width", [1, 6, 7])
def test_sinusoid_is_the_textbook_table(width):
    assert torch.allclose(sinusoid(50, width).double(), reference_sinusoid(50, width), atol=1e-5)


@pytest.mark.parametrize("seq", [3, 8, 9, 40])
def test_sinusoidal_embedding_adds_the_table_for_the_runs_length(seq):
    """max_positions sizes no sinusoidal table: a run of any length gets the signal for its positions."""
    spec = design("sinusoidal", max_positions=8, d_model=6)
    model = build_model(spec)
    embedding = model.runners[0].core
    ids = torch.arange(seq).remainder(11).unsqueeze(0)                     # (1, seq)
    with torch.inference_mode():
        h = embedding(ids)
    expected = F.embedding(ids, embedding.token).double() + reference_sinusoid(seq, 6)
    assert torch.allclose(h.double(), expected, atol=1e-5)
    assert not list(model.buffers())                                       # no fixed-length table is kept as state


def test_a_short_run_after_a_long_one_gets_the_same_positions():
    model = build_model(design("sinusoidal", max_positions=4))
    embedding = model.runners[0].core
    ids = torch.zeros(1, 30, dtype=torch.long)
    with torch.inference_mode():
        long = embedding(ids)
        short = embedding(ids[:, :5])
    assert torch.equal(long[:, :5], short)
    assert torch.equal(embedding(ids[:, :5]), short)                        # with autograd on, too


@pytest.mark.parametrize("positional", ["sinusoidal", "rotary", "none"])
@pytest.mark.parametrize("seq", [1, 8, 9, 100])
def test_lengths_past_max_positions_are_analysed_as_torch_runs_them(positional, seq):
    spec = design(positional, max_positions=8)
    report = analyze(spec, 2, seq)
    model = build_model(spec, device="meta")
    assert report.params.unique == sum(p.numel() for p in model.parameters())
    assert report.flops.forward == torch_flops(model, 2, seq)
    with torch.inference_mode():
        out = build_model(spec)(torch.zeros(2, seq, dtype=torch.long))
    assert out["hidden"].shape == (2, seq, 12) and torch.isfinite(out["hidden"]).all()


def test_verify_on_meta_builds_no_table_for_a_huge_sequence():
    """The sinusoid is made on the input's device: on meta a 16M-position run allocates nothing."""
    spec = design("sinusoidal", max_positions=8, d_model=4096)
    result = verify(spec, 1, 1 << 24)
    assert result.ok


def test_a_learned_table_is_refused_past_its_end_in_the_analysis_and_in_the_model():
    spec = design("learned", max_positions=8)
    with pytest.raises(SpecError) as err:
        analyze(spec, 1, 9)
    assert err.value.path == "seq" and "max_positions 8" in str(err.value)
    model = build_model(spec)
    with pytest.raises(ValueError, match="longer than the learned position table"):
        model(torch.zeros(1, 9, dtype=torch.long))
    assert model(torch.zeros(1, 8, dtype=torch.long))["hidden"].shape == (1, 8, 12)


def test_rotary_at_any_length_and_with_a_layer_of_another_head_width():
    extra = (LayerSpec("a", "attention", n_heads=3, head_dim=6), LayerSpec("c", "block", head_dim=2))
    spec = design("rotary", max_positions=4, extra=extra)
    for seq in (1, 5, 33):
        assert verify(spec, 2, seq).ok
        with torch.inference_mode():
            assert torch.isfinite(build_model(spec)(torch.ones(2, seq, dtype=torch.long))["hidden"]).all()


@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 7, 8, 64])
@pytest.mark.parametrize("groups", [1, 4])
def test_conv_pads_like_padding_same_without_its_warning(kernel, groups):
    g = torch.Generator().manual_seed(kernel * 10 + groups)
    weight, bias = torch.randn(4, 4 // groups, kernel, generator=g), torch.randn(4, generator=g)
    x = torch.randn(2, 9, 4, generator=g)                                        # (B, S, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = F.conv1d(x.transpose(1, 2), weight, bias, padding="same", groups=groups).transpose(1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                        # any warning fails the test
        y = Conv(weight, bias, groups)(x)
    # kernels wider than the run take another conv path: the same sums in another order (fp32 rounding)
    assert torch.allclose(y, expected, atol=1e-5)


positionals = st.sampled_from(["learned", "sinusoidal", "rotary", "none"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(positionals, st.integers(1, 16), st.integers(1, 48), st.integers(1, 3),
       st.sampled_from([None, 4, 5]), st.sampled_from([4, 8, 12]))       # even head widths, for rotary
def test_any_positional_at_any_length_is_refused_in_one_line_or_counted_exactly(
        positional, max_positions, seq, batch, embedding_size, d_model):
    spec = design(positional, max_positions=max_positions, d_model=d_model, embedding_size=embedding_size)
    try:
        report = analyze(spec, batch, seq)
    except SpecError as err:
        assert positional == "learned" and seq > max_positions
        assert err.path == "seq" and "\n" not in str(err)
        return
    assert positional != "learned" or seq <= max_positions
    model = build_model(spec, device="meta")
    assert report.params.unique == sum(p.numel() for p in model.parameters())
    assert report.flops.forward == torch_flops(model, batch, seq)


@pytest.mark.parametrize("buckets,distance", [(4, 3), (5, 3), (8, 5), (32, 17), (64, 33)])
@pytest.mark.parametrize("causal", [False, True])
def test_the_smallest_relative_bias_settings_validation_allows_run(buckets, distance, causal):
    """T5's bucketing divides by the exact buckets and the log of distance / exact: the settings
    validation allows are the ones whose forward pass is finite (fewer buckets or a shorter
    distance are refused in one line)."""
    from explorer.design.model import LayerSpec, ModelSettings, StackSpec
    from explorer.torchmodel import build_model

    s = ModelSettings(d_model=16, n_heads=2, d_ff=32, vocab_size=20, positional="relative", causal=causal,
                      relative_buckets=buckets, relative_max_distance=distance, max_positions=80)
    spec = StackSpec(s, (LayerSpec("e", "embedding"), LayerSpec("b0", "block", position_bias=True),
                         LayerSpec("b1", "block")))
    model = build_model(spec, "cpu")
    out = model(model.example_input(2, 70))["hidden"]
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("settings,key", [(dict(relative_buckets=3), "model.relative_buckets"),
                                          (dict(relative_buckets=32, relative_max_distance=16),
                                           "model.relative_max_distance")])
def test_relative_bias_settings_that_cannot_run_are_refused(settings, key):
    from explorer.design.model import LayerSpec, ModelSettings, StackSpec
    from explorer.design.validate import validate
    from explorer.errors import SpecError

    s = ModelSettings(d_model=16, n_heads=2, d_ff=32, vocab_size=20, positional="relative", **settings)
    spec = StackSpec(s, (LayerSpec("e", "embedding"), LayerSpec("b0", "block", position_bias=True)))
    with pytest.raises(SpecError) as err:
        validate(spec)
    assert err.value.path == key
