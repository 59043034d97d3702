"""Token (+ learned position, token type) embedding tables, an optional norm, and for a
factorized embedding (E < d) the E -> d projection."""

from __future__ import annotations

from explorer.kinds import saving
from explorer.kinds.base import CardChip, LayerKind, TensorSpec, flop_dict, linear, norm
from explorer.kinds.saving import Flow, Saved


class Embedding(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        e = d.embedding_size
        out = [TensorSpec("embedding.weight", (d.vocab_size, e), "embedding")]
        if d.positional == "learned":
            out.append(TensorSpec("position.weight", (d.max_positions, e), "embedding"))
        if d.type_vocab_size:
            out.append(TensorSpec("token_type.weight", (d.type_vocab_size, e), "embedding"))
        if d.embedding_norm:
            out += norm("norm", d.norm, e, "embedding")
        if e != d.d_model:
            out += linear("projection", d.d_model, e, d.bias, "embedding")
        return out

    def flops(self, d, f: Flow) -> tuple[dict[str, int], int]:
        n, e = f.n, d.embedding_size
        projection = 2 * n * e * d.d_model if e != d.d_model else 0
        return flop_dict(embedding=projection), n * e * (2 + (5 if d.embedding_norm else 0))

    def working_set(self, d, f: Flow) -> int:
        return f.n * (2 * d.embedding_size + d.d_model)

    def kept_cache(self, d, seq: int) -> int:
        """A sinusoidal signal's table, made for the longest run so far and kept."""
        return seq * d.embedding_size if d.positional == "sinusoidal" else 0

    def saved(self, d, f: Flow) -> list[Saved]:
        """The int64 ids of its look-up; the norm's saves; the projection's input."""
        e = d.embedding_size
        items = [Saved(f.n, "i64", "ids:target" if d.target else "ids:source")]
        if d.embedding_norm:
            items += saving.norm(d.norm, f, e, None)
        if e != d.d_model:
            items.append(Saved(f.n * e))
        return items

    def card(self, d) -> tuple[CardChip, ...]:
        chips = [CardChip("embedding", f"tokens {d.vocab_size}×{d.embedding_size}", 3.0)]
        if d.positional == "learned":
            chips.append(CardChip("position", "positions"))
        if d.type_vocab_size:
            chips.append(CardChip("token_type", "types"))
        if d.embedding_norm:
            chips.append(CardChip("norm", "norm"))
        if d.embedding_size != d.d_model:
            chips.append(CardChip("projection", "projection"))
        return tuple(chips)

    def summary(self, d) -> str:
        factor = f" E{d.embedding_size}" if d.embedding_size != d.d_model else ""
        return ("decoder input " if d.target else "") + f"V{d.vocab_size} d{d.d_model}{factor}"


KIND = Embedding(
    "embedding",
    frozenset({"vocab_size", "embedding_size", "max_positions", "type_vocab_size", "positional", "embedding_norm",
               "norm", "bias", "target"}),
    {"block": ("*",), "embedding": ("embedding",), "position": ("position",), "token_type": ("token_type",),
     "norm": ("norm",), "projection": ("projection",)},
    "Token (+ position, type) embedding tables: first layer, or with target: the decoder's input",
    reads_tokens=True,
    reads_positions=True,
)
