"""Training activations as autograd sees them: the analysis equals what saved_tensors_hooks
measure in one training step's forward pass (distinct storages, parameters left out, a
cross-entropy on every LM head's logits), for every layer kind, every bundled preset, random
designs with random schemes, fp32 and bf16, several shapes, and with activation checkpointing.
A new kind, or a change to the build that moves memory, fails here until the analysis follows.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "design"))

from design_strategies import designs, schemed_designs

from explorer.analysis import analyze
from explorer.analysis.memory import checkpointed_activation_bytes, kept_cache_elements
from explorer.design import yaml_io
from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.design.strategies import apply_scheme
from explorer.design.validate import validate
from explorer.kinds import REGISTRY
from explorer.presets import preset_paths
from explorer.torchmodel import build_model
from explorer.torchmodel.saved import saved_activation_bytes

torch.set_num_threads(1)
SHAPES = [(2, 32, "fp32"), (3, 17, "bf16"), (1, 9, "fp32")]


def measured(spec: StackSpec, batch: int, seq: int, dtype: str = "fp32", target: int | None = None,
             checkpointing: bool = False) -> int:
    model = build_model(spec, "cpu", dtype)
    return saved_activation_bytes(model, model.example_inputs(batch, seq, target), checkpointing=checkpointing)


def figure(spec: StackSpec, batch: int, seq: int, dtype: str = "fp32", target: int | None = None) -> int:
    return analyze(spec, batch, seq, dtype, target_seq=target).memory.activations_training


def small(spec: StackSpec) -> StackSpec:
    """A preset at test size: same layers, kinds, options and sharing, small widths."""
    s = spec.settings
    settings = dataclasses.replace(
        s, d_model=64, n_heads=4, head_dim=None if s.head_dim is None else 16, d_ff=None if s.d_ff is None else 96,
        vocab_size=min(s.vocab_size, 300), embedding_size=None if s.embedding_size is None else 16,
        n_kv_heads=None if s.n_kv_heads is None else 2, max_positions=min(s.max_positions, 64))
    layers = tuple(dataclasses.replace(x, d_ff=None, n_heads=None, head_dim=None, n_kv_heads=None,
                                       shared_d_ff=min(x.shared_d_ff, 48), low_rank=min(x.low_rank, 8),
                                       lora_rank=min(x.lora_rank, 4)) for x in spec.layers)
    return spec.replace(settings=settings, layers=layers)


# ---------------------------------------------------------------- every kind

BASE = dict(d_model=32, n_heads=4, d_ff=48, vocab_size=37, max_positions=40)
VARIANTS = {
    "layernorm-gelu-post": dict(norm="layernorm", activation="gelu", norm_position="post", positional="learned"),
    "rmsnorm-swiglu-rotary-gqa": dict(norm="rmsnorm", activation="swiglu", positional="rotary", causal=True,
                                      n_kv_heads=2, bias=False),
    "relu-sinusoidal": dict(norm="layernorm", activation="relu", positional="sinusoidal", embedding_size=16),
    "relative-geglu": dict(norm="rmsnorm", activation="geglu", positional="relative", relative_buckets=8, bias=False),
}


def kind_stack(kind: str, variant: str, embedding: bool) -> StackSpec:
    """`kind` twice (after an embedding or on raw hidden states), with what it needs around it."""
    s = ModelSettings(**BASE, **VARIANTS[variant])
    relative = s.positional == "relative"
    layers = [LayerSpec("e", "embedding")] if embedding else []
    if REGISTRY[kind].reads_memory:
        layers = [LayerSpec("e", "embedding"), LayerSpec("enc", "block", position_bias=relative),
                  LayerSpec("t", "embedding", target=True)]
    if kind == "pooler" or kind == "head":
        layers.append(LayerSpec("trunk", "linear"))
    for i in range(2):
        extra = {"position_bias": True} if relative and i == 0 and "position_bias" in REGISTRY[kind].fields else {}
        if kind in ("block", "cross_block", "moe_block", "attention") and relative and not extra and i == 0:
            layers.append(LayerSpec("bias_owner", "block", position_bias=True))
        layers.append(LayerSpec(f"x{i}", kind, **extra))
    spec = StackSpec(s, tuple(layers), name=f"{kind}-{variant}")
    validate(spec)
    return spec


KIND_CASES = [(k, v, e) for k in REGISTRY for v in VARIANTS for e in (True, False)
              if not (REGISTRY[k].reads_memory and not e) and not (k == "embedding" and not e)
              and not (k == "embedding")]


@pytest.mark.parametrize("kind,variant,embedding", KIND_CASES,
                         ids=[f"{k}-{v}-{'emb' if e else 'raw'}" for k, v, e in KIND_CASES])
def test_every_kind_saves_what_the_analysis_says(kind, variant, embedding):
    spec = kind_stack(kind, variant, embedding)
    for batch, seq, dtype in SHAPES:
        target = seq - 3 if REGISTRY[kind].reads_memory else None
        assert figure(spec, batch, seq, dtype, target) == measured(spec, batch, seq, dtype, target), (batch, seq, dtype)


@pytest.mark.parametrize("options", [dict(embedding_norm=True), dict(embedding_norm=True, type_vocab_size=2),
                                     dict(embedding_size=8), dict()], ids=["norm", "types", "factorized", "plain"])
def test_embeddings(options):
    s = ModelSettings(**BASE, norm="rmsnorm")
    spec = StackSpec(dataclasses.replace(s, type_vocab_size=options.pop("type_vocab_size", 0),
                                         embedding_size=options.pop("embedding_size", None)),
                     (LayerSpec("e", "embedding", **options), LayerSpec("b", "block")))
    for batch, seq, dtype in SHAPES:
        assert figure(spec, batch, seq, dtype) == measured(spec, batch, seq, dtype)


@pytest.mark.parametrize("options", [dict(lora_rank=3), dict(low_rank=4), dict(halting=True),
                                     dict(halting=True, timestep_signal=True), dict(conv_even=True)],
                         ids=["lora", "low-rank", "act", "universal", "conv-even"])
def test_block_options(options):
    s = ModelSettings(**BASE, activation="silu")
    if options.pop("conv_even", False):
        layers = (LayerSpec("e", "embedding"), LayerSpec("c", "conv", kernel_size=4), LayerSpec("c2", "conv"))
    else:
        layers = (LayerSpec("e", "embedding"), *(LayerSpec(f"b{i}", "block", **options) for i in range(3)),
                  LayerSpec("n", "norm"))
    spec = StackSpec(s, layers)
    for batch, seq, dtype in SHAPES:
        assert figure(spec, batch, seq, dtype) == measured(spec, batch, seq, dtype)


# ---------------------------------------------------------------- presets, schemes, random designs

PRESETS = preset_paths()


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_preset(path):
    spec = small(yaml_io.load(path))
    for batch, seq, dtype in SHAPES:
        target = seq // 2 if any(x.target for x in spec.layers) else None
        assert figure(spec, batch, seq, dtype, target) == measured(spec, batch, seq, dtype, target)


@settings(max_examples=int(os.environ.get("MEMORY_EXAMPLES", 60)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=st.one_of(schemed_designs(), schemed_designs(base=designs(rich=True))), batch=st.integers(1, 3),
       seq=st.integers(2, 12), dtype=st.sampled_from(["fp32", "bf16"]))
def test_random_designs_with_random_schemes(spec, batch, seq, dtype):
    """Random mixes of kinds, options (K/V reuse, LoRA, low rank, ACT, head widths) and schemes."""
    assert figure(spec, batch, seq, dtype) == measured(spec, batch, seq, dtype)


def test_head_sharing_saves_the_assembled_weights():
    """In training every weight assembled from shared head slices is concatenated anew and saved."""
    spec = small(yaml_io.load([p for p in PRESETS if p.stem == "head-sharing"][0]))
    unshared = spec.replace(groups=())
    extra = figure(spec, 2, 16) - figure(unshared, 2, 16)
    assert extra > 0 and extra == measured(spec, 2, 16) - measured(unshared, 2, 16)


# ---------------------------------------------------------------- checkpointing, inference caches

@pytest.mark.parametrize("name", ["bert-base", "gpt2-tied", "moe-expert-bank", "t5-small", "albert-base",
                                  "relaxed-recursion"])
def test_checkpointing_keeps_block_inputs(name):
    spec = small(yaml_io.load([p for p in PRESETS if p.stem == name][0]))
    target = 7 if any(x.target for x in spec.layers) else None
    kept, recomputed = checkpointed_activation_bytes(spec, 2, 16, "fp32", target, validate(spec))
    assert kept == measured(spec, 2, 16, "fp32", target, checkpointing=True)
    assert 0 < kept < figure(spec, 2, 16, "fp32", target) and recomputed > 0


def test_inference_counts_the_caches_the_model_keeps():
    """The head-sharing preset keeps its assembled weights after an inference pass (and a sinusoidal
    embedding its table): the inference total includes them."""
    for name in ("head-sharing", "factorized-embedding"):
        spec = small(yaml_io.load([p for p in PRESETS if p.stem == name][0]))
        spec = spec.replace(settings=dataclasses.replace(spec.settings, positional="sinusoidal"))
        model = build_model(spec, "cpu")
        with torch.inference_mode():
            model(*model.example_inputs(2, 16))
        kept = 0
        for module in model.modules():
            kept += sum(t.nbytes for _key, t in module.__dict__.get("_assembled_cache", {}).values())
            table = module.__dict__.get("_sinusoid_table")
            kept += table.nbytes if table is not None else 0
        report = analyze(spec, 2, 16)
        assert report.memory.kept_caches == kept == kept_cache_elements(spec, report.plan, 16) * 4
        assert report.memory.inference == (report.memory.weights + report.memory.activations_inference
                                           + report.memory.kv_cache + kept)


def test_layers_reusing_kv_keep_nothing_of_their_own_for_it():
    s = ModelSettings(**BASE, positional="rotary", norm="rmsnorm", activation="swiglu", causal=True)
    spec = StackSpec(s, tuple(LayerSpec(f"b{i}", "block") for i in range(4)))
    shared = apply_scheme(spec, "cross-layer-kv", every=2)
    saved = measured(spec, 2, 16) - measured(shared, 2, 16)
    assert saved > 0 and saved == figure(spec, 2, 16) - figure(shared, 2, 16)


def test_planner_reads_the_exact_figures():
    """The planner's activations per GPU are the analysis' for CUDA kernels (checkpointed or not)
    split over TP, and its checkpointed figure is what the forward keeps plus one recomputed block."""
    from explorer.analysis.memory import training_activation_bytes
    from explorer.analysis.planner import Setup, per_gpu

    spec = small(yaml_io.load([p for p in PRESETS if p.stem == "gpt2-tied"][0]))
    for ckpt in (False, True):
        for tp in (1, 2):
            row = per_gpu(spec, Setup(4, tp, 1, ckpt, 2, 32, "bf16"))
            assert row.activations == training_activation_bytes(spec, 2, 32, "bf16", checkpointing=ckpt,
                                                                 device="cuda") // tp
    kept, recomputed = checkpointed_activation_bytes(spec, 2, 32, "bf16")
    assert training_activation_bytes(spec, 2, 32, "bf16", checkpointing=True) == kept + recomputed
    assert kept == measured(spec, 2, 32, "bf16", checkpointing=True)
