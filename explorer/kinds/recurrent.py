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

    def flops(self, d, f) -> tuple[dict[str, int], int]:
        n, w = f.n, d.d_model
        return flop_dict(other=2 * n * (2 * w) * self.gates * w), n * self.gates * w * 4

    def saved(self, d, f) -> list:
        """On the CPU torch's native LSTM and GRU (what a training step runs: see
        torchmodel/modules.py's Recurrent) keep 8 n d elements: the input projections and, per step,
        the gates and states. On CUDA cuDNN's kernel keeps the input, zero initial states, its output,
        a copy of the weights in one buffer (two biases even without) and a reserve space whose size
        is cuDNN's own: `saved_exact` says so."""
        from explorer.kinds.saving import Saved

        w = d.d_model
        if not f.cuda:
            return [Saved(8 * f.n * w)]
        states = 2 if self.name == "lstm" else 1
        return [Saved(f.n * w, "act", f.h), *[Saved(f.batch * w)] * states, Saved(f.n * w),
                Saved(2 * self.gates * w * w + 2 * self.gates * w)]

    def saved_exact(self, d, f) -> bool:
        return not f.cuda

    def working_set(self, d, f) -> int:
        w = d.d_model
        return f.n * (2 * w + self.gates * w)


LSTM = Recurrent("lstm", frozenset({"bias"}), tip="LSTM layer (d -> d)", trunk=True, recurrent_cell=True)
GRU = Recurrent("gru", frozenset({"bias"}), tip="GRU layer (d -> d)", trunk=True, recurrent_cell=True)
