"""Output layers that read the hidden state and leave it: BERT's pooler, a language-model head
(optionally with a transform) and task heads (several heads on one trunk = multi-task sharing)."""

from __future__ import annotations

from explorer.kinds import saving
from explorer.kinds.base import CardChip, LayerKind, TensorSpec, flop_dict, linear, norm
from explorer.kinds.saving import Flow, Saved


def _reads_first_token(d, f: Flow) -> int:
    w = d.d_model
    return f.batch * w * 2 + f.n * w


class Pooler(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        return linear("pooler", d.d_model, d.d_model, d.bias, "head")

    def flops(self, d, f: Flow) -> tuple[dict[str, int], int]:
        return flop_dict(head=2 * f.batch * d.d_model * d.d_model), f.batch * d.d_model

    def working_set(self, d, f: Flow) -> int:
        return _reads_first_token(d, f)

    def saved(self, d, f: Flow) -> list[Saved]:
        """h[:, 0] is a view: the dense layer keeps all of h alive; tanh keeps the pooled output."""
        return [Saved(f.n * d.d_model, "act", f.h), Saved(f.batch * d.d_model, "act", f"pooled:{f.layer}")]


class LMHead(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        out: list[TensorSpec] = []
        width = d.d_model
        if d.transform:
            out += linear("transform", d.embedding_size, d.d_model, True, "head")
            out += norm("transform_norm", d.norm, d.embedding_size, "head")
            width = d.embedding_size
        out.append(TensorSpec("decoder.weight", (d.vocab_size, width), "head"))
        if d.bias:
            out.append(TensorSpec("decoder.bias", (d.vocab_size,), "head"))
        return out

    def flops(self, d, f: Flow) -> tuple[dict[str, int], int]:
        n, w = f.n, d.d_model
        head, ew, decoder_in = 0, 0, w
        if d.transform:
            head += 2 * n * w * d.embedding_size
            ew += n * d.embedding_size * 9
            decoder_in = d.embedding_size
        return flop_dict(head=head + 2 * n * decoder_in * d.vocab_size), ew

    def working_set(self, d, f: Flow) -> int:
        width = d.embedding_size if d.transform else d.d_model
        return f.n * (d.d_model + width + d.vocab_size)

    def saved(self, d, f: Flow) -> list[Saved]:
        """The decoder's input (h, or the transform's: its input, the activation's save, the norm's),
        and the standard cross-entropy on the logits that a training step adds."""
        n = f.n
        items = [Saved(n * d.d_model, "act", f.h)]
        if d.transform:
            e = d.embedding_size
            if d.activation == "relu":              # relu keeps its output, which the norm reads
                relu = f"relu:{f.layer}"
                items += [Saved(n * e, "act", relu)] + saving.norm(d.norm, f, e, relu)
            else:                                    # the activation keeps its input
                items += [Saved(n * e)] + saving.norm(d.norm, f, e, None)
            items.append(Saved(n * e))
        return items + saving.cross_entropy(n, d.vocab_size)

    def card(self, d) -> tuple[CardChip, ...]:
        chips = [CardChip("transform", "transform")] if d.transform else []
        return (*chips, CardChip("head", "decoder", 2.5))

    def summary(self, d) -> str:
        return f"d{d.d_model} → V{d.vocab_size}"


class TaskHead(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        return linear("classifier", d.n_outputs, d.d_model, d.bias, "head")

    def flops(self, d, f: Flow) -> tuple[dict[str, int], int]:
        rows = f.batch if d.task == "sequence" else f.n
        return flop_dict(head=2 * rows * d.d_model * d.n_outputs), 0

    def working_set(self, d, f: Flow) -> int:
        return _reads_first_token(d, f)

    def saved(self, d, f: Flow) -> list[Saved]:
        """A token head keeps h; a sequence head the pooler's output, or (no pooler) all of h, of
        which it reads the first token through a view."""
        if d.task == "sequence" and f.pooled:
            return [Saved(f.batch * d.d_model, "act", f.pooled)]
        return [Saved(f.n * d.d_model, "act", f.h)]

    def card(self, d) -> tuple[CardChip, ...]:
        return (CardChip("head", "classifier", 2.5),)

    def summary(self, d) -> str:
        return f"{d.task}, {d.n_outputs} outputs"


POOLER = Pooler("pooler", frozenset({"bias"}), tip="BERT pooler: dense + tanh on the first token",
                transforms_hidden=False)
LM_HEAD = LMHead("lm_head", frozenset({"bias", "vocab_size", "embedding_size", "transform", "activation", "norm"}),
                 {"block": ("*",), "head": ("decoder.weight",), "transform": ("transform", "transform_norm")},
                 "Language-model head (d -> vocab)", transforms_hidden=False, lm_head=True)
HEAD = TaskHead("head", frozenset({"bias", "n_outputs", "task"}), {"block": ("*",), "head": ("classifier.weight",)},
                "Task head (classifier); several heads = multi-task sharing", transforms_hidden=False)
