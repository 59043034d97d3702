"""Sweeps: how FLOPs, parameters and memory move with sequence length, depth and scheme.

All pure analysis (milliseconds per point). The attention/FFN crossover is solved exactly:
per sequence, attention FLOPs are a*n + q*n^2 and FFN FLOPs f*n, so they meet at
n* = (f - a) / q (seed 003: n* = 2d when d_ff = 4d and nothing else differs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

from explorer.analysis.flops import count_flops
from explorer.analysis.report import analyze
from explorer.errors import ExplorerError, SpecError
from explorer.design.model import LayerSpec, StackSpec
from explorer.design.strategies import SCHEMES, apply_scheme
from explorer.kinds import kind


@dataclass(frozen=True)
class SeqPoint:
    seq: int
    attention: int
    ffn: int
    forward: int


@dataclass(frozen=True)
class SeqSweep:
    points: tuple[SeqPoint, ...]
    crossover: Fraction | None           # exact n where attention FLOPs = FFN FLOPs, None if never

    def sentence(self) -> str:
        c = self.crossover
        if c is None:
            return "Attention FLOPs never reach the FFN's (no quadratic attention term or no FFN)."
        if c <= 0:
            return "Attention FLOPs exceed the FFN's at every sequence length."
        exact = f"n = {c}" if c.denominator == 1 else f"n = {float(c):.1f}"
        return (f"Attention and FFN FLOPs are equal at {exact}; below it the FFN dominates, above it attention "
                f"(its S x S matmuls grow as n^2).")


def attention_ffn_crossover(spec: StackSpec) -> Fraction | None:
    """Exact n with attention FLOPs == FFN FLOPs (batch 1), from the analysis at n = 1, 2."""
    f1, f2 = count_flops(spec, 1, 1).by_component, count_flops(spec, 1, 2).by_component
    q = Fraction(f2["attention"] - 2 * f1["attention"], 2)      # n^2 coefficient
    a = f1["attention"] - q                                       # n coefficient
    f = Fraction(f1["ffn"])
    if q <= 0 or f == 0:
        return None
    return (f - a) / q


def sweep_seq(spec: StackSpec, seqs: list[int], batch: int = 1) -> SeqSweep:
    points = []
    for n in seqs:
        fc = count_flops(spec, batch, n)
        points.append(SeqPoint(n, fc.by_component["attention"], fc.by_component["ffn"], fc.forward))
    return SeqSweep(tuple(points), attention_ffn_crossover(spec))


def with_depth(spec: StackSpec, n_blocks: int) -> StackSpec:
    """The design with `n_blocks` transformer blocks (copies of its first block), groups dropped.
    A transformer block is any kind that says it is one (a dense block, Mixtral's MoE block);
    a decoder's cross-attention blocks are not the trunk a depth sweep grows."""
    blocks = [layer for layer in spec.layers
              if kind(layer.kind).transformer_block and not kind(layer.kind).reads_memory]
    if not blocks:
        raise SpecError("a depth sweep needs at least one transformer block", "stack")
    template = blocks[0]
    first = spec.layers.index(template)
    last = spec.layers.index(blocks[-1])
    taken = {layer.id for layer in spec.layers} - {b.id for b in blocks}
    new_blocks: list[LayerSpec] = []
    k = 0
    while len(new_blocks) < n_blocks:
        lid = f"block{k}"
        k += 1
        if lid not in taken:
            new_blocks.append(dataclasses.replace(template, id=lid, kv_from=None))
    layers = spec.layers[:first] + tuple(new_blocks) + tuple(x for x in spec.layers[last + 1:])
    # keep embedding tying, the one group that does not involve blocks
    groups = tuple(g for g in spec.groups if not any(m.layer in {b.id for b in blocks} for m in g.members))
    return dataclasses.replace(spec, layers=tuple(layers), groups=groups)


DEPTH_SCHEMES: dict[str, dict] = {
    "unshared": {},
    "albert": {"scheme": "albert"},
    "interleaved": {"scheme": "interleaved"},
    "cycle-2": {"scheme": "cycle", "blocks": 2},
    "cycle-4": {"scheme": "cycle", "blocks": 4},
    "immediate-repeat": {"scheme": "immediate-repeat", "repeat": 2},
}


@dataclass(frozen=True)
class DepthPoint:
    layers: int
    scheme: str
    unique: int
    forward: int
    training_bytes: int
    error: str = ""


def sweep_depth(spec: StackSpec, depths: list[int], schemes: list[str] | None = None, batch: int = 1,
                seq: int = 128, dtype: str = "fp32") -> list[DepthPoint]:
    out = []
    for n in depths:
        base = with_depth(spec, n)
        for name in schemes or list(DEPTH_SCHEMES):
            opts = dict(DEPTH_SCHEMES.get(name, {"scheme": name}))
            scheme = opts.pop("scheme", None)
            try:
                design = base if scheme is None else apply_scheme(base, scheme, **opts)
                r = analyze(design, batch, seq, dtype)
                out.append(DepthPoint(n, name, r.params.unique, r.flops.forward, r.memory.training))
            except ExplorerError as err:
                out.append(DepthPoint(n, name, 0, 0, 0, str(err)))
    return out


@dataclass(frozen=True)
class SchemePoint:
    scheme: str
    title: str
    unique: int
    unshared: int
    forward: int
    inference_bytes: int
    training_bytes: int
    pure: bool
    design: StackSpec | None
    error: str = ""


def sweep_schemes(spec: StackSpec, batch: int = 1, seq: int = 128, dtype: str = "fp32") -> list[SchemePoint]:
    """Every scheme applied to `spec` with default options: the sharing frontier."""
    out = []
    base = analyze(spec, batch, seq, dtype)
    out.append(SchemePoint("current", "current design", base.params.unique, base.params.unshared, base.flops.forward,
                           base.memory.inference, base.memory.training, True, spec))
    for s in SCHEMES.values():
        if s.name in ("unshare",):
            continue
        try:
            design = apply_scheme(spec, s.name)
            r = analyze(design, batch, seq, dtype)
        except ExplorerError as err:
            out.append(SchemePoint(s.name, s.title, 0, 0, 0, 0, 0, s.pure, None, str(err)))
            continue
        out.append(SchemePoint(s.name, s.title, r.params.unique, r.params.unshared, r.flops.forward,
                               r.memory.inference, r.memory.training, s.pure, design))
    return out


def parse_int_list(text: str, what: str) -> list[int]:
    """'128,256,512' or '128:4096:x2' (geometric) or '2:24:2' (arithmetic) -> ints."""
    text = text.strip()
    try:
        if ":" in text:
            start, stop, step = text.split(":")
            a, b = int(start), int(stop)
            if step.startswith("x"):
                factor = int(step[1:])
                if factor < 2:
                    raise ValueError
                out, v = [], a
                while v <= b:
                    out.append(v)
                    v *= factor
            else:
                out = list(range(a, b + 1, int(step)))
        else:
            out = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SpecError(f"expected a list like 128,256,512 or a range like 128:4096:x2, got {text!r}", what) from None
    if not out or any(v < 1 for v in out) or len(out) > 1000:
        raise SpecError(f"expected 1 to 1000 positive values, got {text!r}", what)
    return out
