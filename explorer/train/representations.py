"""What the layers of a trained model compute, compared layer by layer (torch only, no Qt).

`layer_outputs` runs a built design (explorer.torchmodel.runtime.SharedStack) the way its own
forward does and keeps the hidden state every transforming layer hands on (heads, which pass
their input through unchanged, are left out), flattened to (tokens, width). `linear_cka` is
the linear centered kernel alignment of Kornblith et al. (2019) on centered features,
||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F): 1 for representations equal up to a rotation and
an overall scale, near 0 for unrelated ones. `cka_matrix` compares every pair of layers, and
`trained_cka` does it for each model a training run kept, on the run's own validation data.
"""

from __future__ import annotations

import math
import random

import torch



@torch.no_grad()
def layer_outputs(model, inputs) -> list[tuple[str, torch.Tensor]]:
    """[(layer id, hidden state (tokens, d))] after each layer that transforms the hidden state,
    in execution order; `inputs` are the model's arguments: ids, or a tuple (source, target)."""
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    was_training = model.training
    model.eval()
    recorded: list = []
    try:
        model(*inputs, record=recorded)              # the model's own forward, recording as it goes
    finally:
        model.train(was_training)
    return [(layer_id, h.reshape(-1, h.shape[-1]).detach().float().cpu())
            for layer_id, h in recorded if h.dim() == 3 and h.is_floating_point()]


def _centered(x: torch.Tensor) -> torch.Tensor:
    x = x.detach().to(torch.float64)
    if x.dim() != 2:
        x = x.reshape(-1, x.shape[-1])
    return x - x.mean(dim=0, keepdim=True)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of two representations of the same n examples, (n, d1) and (n, d2), on
    centered features: ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F), in [0, 1]. NaN when either
    is constant (nothing to compare)."""
    x, y = _centered(torch.as_tensor(x)), _centered(torch.as_tensor(y))
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs the same examples on both sides, got {x.shape[0]} and {y.shape[0]} rows")
    cross = torch.linalg.matrix_norm(y.T @ x) ** 2
    norm_x = torch.linalg.matrix_norm(x.T @ x)
    norm_y = torch.linalg.matrix_norm(y.T @ y)
    denominator = float(norm_x * norm_y)
    if not denominator or not math.isfinite(denominator):
        return math.nan
    return min(1.0, max(0.0, float(cross) / denominator))


def cka_matrix(outputs) -> list[list[float]]:
    """Linear CKA between every pair of layers of `outputs` ([(layer id, (n, d))] or tensors):
    symmetric, ones on the diagonal (NaN where rows differ, as a decoder's beside its encoder's)."""
    tensors = [t for _id, t in outputs] if outputs and isinstance(outputs[0], tuple) else list(outputs)
    n = len(tensors)
    matrix = [[math.nan] * n for _ in range(n)]
    for i in range(n):
        for j in range(i, n):
            if tensors[i].shape[0] != tensors[j].shape[0]:
                continue
            value = linear_cka(tensors[i], tensors[j])
            if i == j and math.isfinite(value):
                value = 1.0                           # exactly, not 1 - 1e-16
            matrix[i][j] = matrix[j][i] = value
    return matrix


def validation_inputs(spec, config, batches: int = 2) -> list[tuple[torch.Tensor, ...]]:
    """The model arguments of the first `batches` validation batches `train(spec, config)` scores."""
    from explorer.train.batches import make_batch
    from explorer.train.engine import VALIDATION_SEED, prepare

    source, adapted = prepare(spec, config)
    design = adapted["design"]
    rng = random.Random(config.seed + VALIDATION_SEED)
    return [make_batch(source, rng, config.batch, config.seq, design.objective, source.vocab, design.mask_id,
                       "validation").inputs for _ in range(max(1, min(batches, config.eval_batches)))]


def trained_cka(models: dict, inputs: list[tuple[torch.Tensor, ...]]) -> dict[str, tuple[list[str], list[list[float]]]]:
    """{series: (layer ids, CKA matrix)} of each trained model on the same validation inputs."""
    out = {}
    for name, model in models.items():
        device = next(model.parameters()).device
        per_batch = [layer_outputs(model, tuple(t.to(device) for t in args)) for args in inputs]
        if not per_batch or not per_batch[0]:
            out[name] = ([], [])
            continue
        ids = [layer_id for layer_id, _t in per_batch[0]]
        joined = [(layer_id, torch.cat([b[k][1] for b in per_batch])) for k, layer_id in enumerate(ids)]
        out[name] = (ids, cka_matrix(joined))
    return out
