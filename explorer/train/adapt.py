"""Make a design trainable on the data at hand, and small enough for a CPU (pure: no torch).

`scale_down` shrinks width, depth, heads and vocabulary and keeps the sharing pattern (groups
on removed layers lose those members; a group left with one member is gone; with `keep_sharing`
the kept layers are taken across the stack so that groups keep members: see `_kept_trunk`).
`sharing_lost` says when the scaled design has no sharing left, so that it would only be
compared with itself. `trainable`
gives a design a byte embedding and an LM head when it lacks them, sets its vocabulary to the
data's, and picks the objective: next-token prediction for causal designs, masked tokens (15%,
as BERT) for designs that look ahead, source-to-target for an encoder-decoder. Each change is
said in one line of `notes`, so the readout can say what was trained.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from explorer.design.model import LayerSpec, StackSpec, dims, unshared_twin
from explorer.design.grouping import without_members
from explorer.design.streams import decoder_start
from explorer.errors import SpecError
from explorer.kinds import kind

OBJECTIVES = ("next-token", "masked", "seq2seq")


@dataclass(frozen=True)
class Adapted:
    spec: StackSpec
    objective: str
    mask_id: int | None                  # the [MASK] token of the masked objective
    notes: tuple[str, ...]
    added: tuple[str, ...] = ()          # ids of layers added for training (counted apart)


def _scaled(value: int | None, factor: float, multiple: int = 1) -> int | None:
    if value is None:
        return None
    return max(multiple, int(round(value * factor / multiple)) * multiple)


NO_SHARING_LEFT = "no sharing left after scaling: the design equals its twin"


def sharing_lost(before: StackSpec, after: StackSpec) -> bool:
    """Whether scaling `before` down to `after` removed all of its sharing (groups, K/V reuse,
    GQA): `after` is its own unshared twin while `before` was not."""
    return unshared_twin(before) is not before and unshared_twin(after) is after


def no_sharing_left(keep_sharing: bool, option: str) -> str:
    """The one line said when `sharing_lost`: what happened, and how to keep the sharing (`option`:
    the flag or checkbox that asks for it, in the caller's words)."""
    if keep_sharing:
        return f"{NO_SHARING_LEFT} (even with {option}: keep more layers)"
    return (f"{NO_SHARING_LEFT} (its groups were on the dropped layers; {option} maps them onto the kept "
            f"layers)")


def _kept_trunk(trunk: list[LayerSpec], depth: int, spec: StackSpec) -> list[LayerSpec]:
    """`depth` of the trunk layers, mapping the sharing pattern onto the kept depth: kept layer j
    stands for the original layers [j L/depth, (j+1) L/depth) and is the first of them that is a
    group's member (else the first of them); the first trunk layer is always kept (T5's holds the
    position bias). ALBERT stays all-shared, a cycle stays a cycle, and groups on the top layers
    keep members on the kept top layers. Layers keep their own options, so shapes still match."""
    members = {m.layer for g in spec.groups for m in g.members}
    n = len(trunk)
    kept = []
    for j in range(depth):
        covered = trunk[j * n // depth:(j + 1) * n // depth]
        chosen = covered[0] if j == 0 else next((x for x in covered if x.id in members), covered[0])
        kept.append(chosen)
    return kept


def scale_down(spec: StackSpec, width: int | None = None, depth: int | None = None, heads: int | None = None,
               vocab: int | None = None, keep_sharing: bool = False) -> tuple[StackSpec, tuple[str, ...]]:
    """A smaller design with the same layers' kinds, options and sharing pattern. `depth`: keep the
    first `depth` Transformer blocks (or other trunk layers) of the stack, in order; with
    `keep_sharing`, `depth` of them taken across the stack so its groups keep members
    (`_kept_trunk`)."""
    notes = []
    s = spec.settings
    for name, value in (("width", width), ("depth", depth), ("heads", heads), ("vocab", vocab)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise SpecError(f"expected a positive integer, got {value!r}", name)
    layers = spec.layers
    groups = spec.groups
    if depth is not None:
        # an encoder-decoder keeps `depth` trunk layers of each stream, so the decoder still reads the encoder
        start = decoder_start(spec)
        start = len(layers) if start is None else start
        streams = [[x for x in part if kind(x.kind).trunk]
                   for part in (layers[:start], layers[start:])]
        trunk = [x for part in streams for x in part]
        if any(depth < len(part) for part in streams):
            kept = [x for part in streams for x in
                    ((_kept_trunk(part, depth, spec) if keep_sharing else part[:depth]) if depth < len(part)
                     else part)]
            dropped = {x.id for x in trunk} - {x.id for x in kept}
            layers = tuple(x for x in layers if x.id not in dropped and x.kv_from not in dropped)
            spec = spec.replace(layers=layers)
            groups = without_members(spec.replace(groups=groups), lambda m: m.layer in dropped)
            notes.append(f"depth {len(trunk)} -> {len(kept)} trunk layers, taken across the stack to keep its "
                         f"sharing: {', '.join(x.id for x in kept)}" if keep_sharing else
                         f"depth {len(trunk)} -> {len(kept)} trunk layers (groups keep their remaining members)")
    changes = {}
    if heads is not None and heads != s.n_heads:
        kv = s.n_kv_heads
        changes["n_heads"] = heads
        if kv is not None:
            changes["n_kv_heads"] = max(1, min(heads, heads * kv // s.n_heads))
            while heads % changes["n_kv_heads"]:
                changes["n_kv_heads"] -= 1
        notes.append(f"heads {s.n_heads} -> {heads}")
    if width is not None and width != s.d_model:
        factor = width / s.d_model
        n_heads = changes.get("n_heads", s.n_heads)
        changes.update(d_model=width, d_ff=_scaled(s.d_ff, factor), embedding_size=_scaled(s.embedding_size, factor))
        if s.head_dim is not None or width % n_heads:
            changes["head_dim"] = max(2, (width // n_heads) // 2 * 2)
        layers = tuple(dataclasses.replace(
            x, d_ff=_scaled(x.d_ff, factor), head_dim=None if x.head_dim is None else changes.get("head_dim"),
            embedding_size=_scaled(x.embedding_size, factor), shared_d_ff=_scaled(x.shared_d_ff or None, factor) or 0,
            low_rank=min(x.low_rank, width), lora_rank=min(x.lora_rank, width)) for x in layers)
        notes.append(f"width d_model {s.d_model} -> {width} (FFN and embedding widths scaled alike)")
    if vocab is not None and vocab != s.vocab_size:
        changes["vocab_size"] = vocab
        layers = tuple(dataclasses.replace(x, vocab_size=None) if x.vocab_size is not None else x for x in layers)
        notes.append(f"vocabulary {s.vocab_size} -> {vocab}")
    spec = spec.replace(settings=dataclasses.replace(s, **changes), layers=layers, groups=groups)
    return spec, tuple(notes)


def looks_ahead(spec: StackSpec) -> bool:
    """Whether some layer before the decoder reads later positions (then next-token prediction
    would let the model read the answer)."""
    for layer in spec.layers:
        if layer.target:
            return False
        if kind(layer.kind).looks_ahead(dims(layer, spec.settings)):
            return True
    return False


def trainable(spec: StackSpec, data_vocab: int, seq: int) -> Adapted:
    """`spec` made trainable on tokens below `data_vocab` at length `seq` (see the module doc)."""
    notes = []
    layers = list(spec.layers)
    two_streams = any(x.target for x in layers)
    objective = "seq2seq" if two_streams else ("masked" if looks_ahead(spec) else "next-token")
    vocab = data_vocab + (1 if objective == "masked" else 0)
    mask_id = data_vocab if objective == "masked" else None
    ids = {x.id for x in layers}
    added = []
    if not layers or not kind(layers[0].kind).reads_tokens:
        added.append(_fresh("train_embedding", ids))
        layers.insert(0, LayerSpec(added[-1], "embedding"))
        notes.append("a byte embedding was added below the stack (it has none); its parameters are counted apart")
    if not any(kind(x.kind).lm_head for x in layers):
        added.append(_fresh("train_lm_head", ids))
        layers.append(LayerSpec(added[-1], "lm_head"))
        notes.append("an LM head was added on top (the stack has none); its parameters are counted apart")
    s = spec.settings
    settings = s
    if s.vocab_size != vocab or any(x.vocab_size not in (None, vocab) for x in layers):
        settings = dataclasses.replace(settings, vocab_size=vocab)
        layers = [dataclasses.replace(x, vocab_size=None) if x.vocab_size is not None else x for x in layers]
        notes.append(f"vocabulary {s.vocab_size} -> {vocab} ({'bytes' if data_vocab == 256 else 'task symbols'}"
                     f"{' + [MASK]' if mask_id is not None else ''})")
    if s.positional == "learned" and s.max_positions < seq:
        settings = dataclasses.replace(settings, max_positions=seq)
        notes.append(f"learned position table {s.max_positions} -> {seq} positions")
    notes.append({"next-token": "objective: next-token prediction (causal design)",
                  "masked": "objective: masked tokens, 15% as BERT (the design reads later positions)",
                  "seq2seq": "objective: the decoder predicts the target from the source (encoder-decoder)"}[objective])
    out = spec.replace(settings=settings, layers=tuple(layers))
    return Adapted(out, objective, mask_id, tuple(notes), tuple(added))


def _fresh(base: str, ids: set[str]) -> str:
    name, k = base, 2
    while name in ids:
        name, k = f"{base}{k}", k + 1
    ids.add(name)
    return name
