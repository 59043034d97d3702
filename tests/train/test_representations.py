"""Layer representations of built designs and linear CKA between them."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.design.strategies import apply_scheme
from explorer.torchmodel import build_model
from explorer.train.engine import TrainConfig, train
from explorer.train.representations import (cka_matrix, layer_outputs, linear_cka, trained_cka,
                                            validation_inputs)


def albert(n: int = 3) -> StackSpec:
    s = ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=256, max_positions=64, causal=True,
                      positional="learned")
    layers = (LayerSpec("emb", "embedding"), *(LayerSpec(f"b{i}", "block") for i in range(n)),
              LayerSpec("out", "lm_head"))
    return apply_scheme(StackSpec(s, layers, name="tiny-albert"), "albert")


def numpy_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Kornblith et al. 2019, eq. (on centered X, Y): ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)."""
    x = x - x.mean(0)
    y = y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def test_cka_properties():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 16, generator=g)
    y = torch.randn(200, 24, generator=g) + x @ torch.randn(16, 24, generator=g)
    assert linear_cka(x, x) == pytest.approx(1.0)
    q, _r = torch.linalg.qr(torch.randn(16, 16, generator=g, dtype=torch.float64))
    assert linear_cka(x, (x.double() @ q) * 3.7 + 5.0) == pytest.approx(1.0)          # rotation, scale, shift
    assert linear_cka(x, (y.double() @ torch.linalg.qr(torch.randn(24, 24, dtype=torch.float64,
                                                                   generator=g))[0]) * 0.1) \
        == pytest.approx(linear_cka(x, y))
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x))
    assert linear_cka(x, y) == pytest.approx(numpy_cka(x.numpy().astype(np.float64), y.numpy().astype(np.float64)))
    unrelated = torch.randn(200, 16, generator=g)
    for other in (y, unrelated):
        assert 0.0 <= linear_cka(x, other) <= 1.0
    assert linear_cka(x, unrelated) < 0.3 < linear_cka(x, y)
    assert math.isnan(linear_cka(x, torch.ones(200, 4)))
    with pytest.raises(ValueError):
        linear_cka(x, y[:10])


def test_cka_matrix_of_a_models_layers():
    spec = albert()
    model = build_model(spec, "cpu", "fp32", 0)
    outputs = layer_outputs(model, model.example_inputs(2, 8, device="cpu", seed=0))
    assert [layer_id for layer_id, _t in outputs] == ["emb", "b0", "b1", "b2"]      # the head passes h through
    assert all(t.shape == (16, 32) for _id, t in outputs)
    hidden = model(*model.example_inputs(2, 8, device="cpu", seed=0))["hidden"]
    assert torch.allclose(outputs[-1][1], hidden.reshape(-1, 32))          # the same forward as the model's
    m = cka_matrix(outputs)
    assert len(m) == 4 and all(len(row) == 4 for row in m)
    assert all(m[i][i] == 1.0 for i in range(4))
    assert all(m[i][j] == pytest.approx(m[j][i]) and 0 <= m[i][j] <= 1 for i in range(4) for j in range(4))


def test_albert_and_its_twin_after_a_few_steps():
    spec = albert(4)
    config = TrainConfig(steps=4, batch=2, seq=16, eval_every=2, eval_batches=2, twin=True, data="task:copy")
    models: dict = {}
    result = train(spec, config, keep_models=models)
    assert result.error is None and set(models) == {"design", "twin"}
    matrices = trained_cka(models, validation_inputs(spec, config, batches=2))
    for name in ("design", "twin"):
        ids, m = matrices[name]
        assert ids == ["emb", "b0", "b1", "b2", "b3"]
        assert len(m) == 5 and all(len(row) == 5 for row in m)
        assert all(m[i][i] == 1.0 for i in range(5))
