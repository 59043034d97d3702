"""LSTM and GRU layers (d -> d, one direction): input and hidden weights of all gates."""

from __future__ import annotations

from explorer.kinds.base import LayerKind, TensorSpec, flop_dict


class Recurrent(LayerKind):
    @property
    def gates(self) -> int:
        return 4 if self.name == "lstm" else 3

    def tensors(self, d) -> list[TensorSpec]:
        g, h = self.gates, d.d_model
        out = [TensorSpec("cell.weight_ih", (g * h, h), "other"), TensorSpec("cell.weight_hh", (g * h, h), "other")]
        if d.bias:
            out += [TensorSpec("cell.bias_ih", (g * h,), "other"), TensorSpec("cell.bias_hh", (g * h,), "other")]
        return out

    def flops(self, d, batch: int, seq: int) -> tuple[dict[str, int], int]:
        n, w = batch * seq, d.d_model
        return flop_dict(other=2 * n * (2 * w) * self.gates * w), n * self.gates * w * 4

    def saved(self, d, f) -> list:
        """torch's native LSTM and GRU (what a training step runs: see kinds/recurrent_torch.py) keep
        8 n d elements: the input projections and, per step, the gates and states."""
        from explorer.kinds.saving import Saved

        return [Saved(8 * f.n * d.d_model)]

    def working_set(self, d, n: int, batch: int) -> tuple[int, int]:
        w = d.d_model
        return n * (2 * w + self.gates * w), n * (2 * w + 2 * self.gates * w)


LSTM = Recurrent("lstm", frozenset({"bias"}), tip="LSTM layer (d -> d)")
GRU = Recurrent("gru", frozenset({"bias"}), tip="GRU layer (d -> d)")
