"""Spec -> torch model whose group members hold the very same Parameter objects.

Every parameter is created through one ParamStore: a piece claimed by a group is made
once, by its first member, and handed to every other member; a whole shared block is one
module object run at several depths. Build on ``meta`` to count without allocating.
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.build import modules as M
from explorer.errors import BuildError
from explorer.spec.model import LayerSpec, StackSpec, dims, unshared_twin
from explorer.spec.sharing import SharingPlan
from explorer.spec.slots import TensorSpec, block_linears, layer_tensors
from explorer.spec.validate import validate

TORCH_DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class ParamStore:
    """Creates each unique tensor once; members of a group get the first member's objects."""

    def __init__(self, spec: StackSpec, plan: SharingPlan, device, dtype, seed: int) -> None:
        self.spec, self.plan = spec, plan
        self.device, self.dtype = torch.device(device), dtype
        self.shared: dict[tuple[int, int], nn.Parameter] = {}
        self.modules: dict[int, nn.Module] = {}
        self.generator = None
        if self.device.type != "meta":
            self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def _new(self, name: str, shape: tuple[int, ...]) -> nn.Parameter:
        t = torch.empty(shape, device=self.device, dtype=self.dtype)
        if self.device.type != "meta":
            with torch.no_grad():
                leaf = name.rsplit(".", 1)[-1]
                if "bias" in leaf:
                    t.zero_()
                elif len(shape) == 1:
                    t.fill_(1.0)                       # norm gains
                elif leaf == "up" and ".lora." in f".{name}":
                    t.zero_()                          # LoRA starts as the identity update
                else:
                    t.normal_(0.0, 0.02, generator=self.generator)
        return nn.Parameter(t)

    def get(self, layer_id: str, t: TensorSpec):
        """The Parameter (or Chunks of head slices) for tensor `t` of layer `layer_id`."""
        claims = self.plan.claims.get((layer_id, t.name), ())
        if not claims:
            return self._new(t.name, t.shape)
        if len(claims) == 1 and claims[0].piece.axis is None:
            return self._claimed(claims[0], t.name)
        axis = claims[0].piece.axis
        extent = t.shape[axis]
        parts, pos = [], 0
        for c in sorted(claims, key=lambda c: c.piece.lo):
            if c.piece.lo > pos:
                parts.append(self._new(t.name, _slice_shape(t.shape, axis, c.piece.lo - pos)))
            parts.append(self._claimed(c, t.name))
            pos = c.piece.hi
        if pos < extent:
            parts.append(self._new(t.name, _slice_shape(t.shape, axis, extent - pos)))
        return M.Chunks(axis, parts)

    def _claimed(self, claim, name: str) -> nn.Parameter:
        key = (claim.group, claim.index)
        if key not in self.shared:
            self.shared[key] = self._new(name, claim.piece.shape)
        return self.shared[key]

    def whole_block_group(self, layer_id: str) -> int | None:
        g = self.plan.group_of(layer_id, "block")
        return None if g is None else g.index


def _slice_shape(shape: tuple[int, ...], axis: int, size: int) -> tuple[int, ...]:
    out = list(shape)
    out[axis] = size
    return tuple(out)


class LayerRunner(nn.Module):
    """One executed layer: a (possibly shared) core plus what is the layer's own."""

    def __init__(self, layer: LayerSpec, core: nn.Module, lora: nn.ModuleDict | None, step_signal, reads_kv,
                 keeps_kv: bool) -> None:
        super().__init__()
        self.layer_id = layer.id
        self.kind = layer.kind
        self.core = core
        self.lora = lora
        self._lora_map = None if lora is None else {k.replace("_", "."): v for k, v in lora.items()}
        if step_signal is not None:
            self.register_buffer("step_signal", step_signal, persistent=False)
        else:
            self.step_signal = None
        self.reads_kv = reads_kv
        self.keeps_kv = keeps_kv


class SharedStack(nn.Module):
    """The built design. forward(x) -> dict with 'hidden' and one entry per output layer."""

    def __init__(self, spec: StackSpec, runners: list[LayerRunner], rotary_dim: int | None, takes_ids: bool) -> None:
        super().__init__()
        self.design_name = spec.name
        self.d_model = spec.settings.d_model
        self.runners = nn.ModuleList(runners)
        self.rotary_dim = rotary_dim
        self.takes_ids = takes_ids
        self.vocab_size = next((dims(layer, spec.settings).vocab_size for layer in spec.layers
                                if layer.kind == "embedding"), 0)

    def example_input(self, batch: int, seq: int, device=None, dtype=None, seed: int = 0) -> torch.Tensor:
        """A fixed input: token ids when the stack starts with an embedding, else hidden states."""
        p = next(self.parameters(), None)
        device = device or (p.device if p is not None else "cpu")
        dtype = dtype or (p.dtype if p is not None else torch.float32)
        if torch.device(device).type == "meta":
            if self.takes_ids:
                return torch.zeros(batch, seq, dtype=torch.long, device="meta")
            return torch.empty(batch, seq, self.d_model, dtype=dtype, device="meta")
        g = torch.Generator(device="cpu").manual_seed(seed)
        if self.takes_ids:
            return torch.randint(0, max(self.vocab_size, 1), (batch, seq), generator=g).to(device)
        return torch.randn(batch, seq, self.d_model, generator=g).to(device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        h = x
        S = x.shape[1]
        rope = None
        if self.rotary_dim:
            p = next(self.parameters())
            rope = M.rotary_tables(S, self.rotary_dim, h.device, p.dtype)
        kv_store: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        pooled = None
        act = None                              # (accumulated halting prob, weighted state) of an ACT run
        for r in self.runners:
            kind = r.kind
            if act is not None and not (kind == "block" and r.core.halting is not None):
                h = act[1] + (1.0 - act[0]) * h  # ACT: the remainder goes to the last state
                act = None
            if kind == "embedding":
                h = r.core(h)
            elif kind in ("block", "attention", "ffn"):
                if r.step_signal is not None:
                    h = h + r.step_signal
                kv_in = kv_store.get(r.reads_kv) if r.reads_kv else None
                if kind == "block":
                    h, kv = r.core(h, kv_in, rope, r._lora_map)
                elif kind == "attention":
                    a, kv = r.core(h, kv_in, rope)
                    h = h + a
                else:
                    h, kv = h + r.core(h), None
                if r.keeps_kv and kv is not None:
                    kv_store[r.layer_id] = kv
                if kind == "block" and r.core.halting is not None:
                    act = _act_step(act, h, r.core.halting)
            elif kind in ("norm", "linear", "conv", "lstm", "gru"):
                h = r.core(h)
            elif kind == "pooler":
                pooled = torch.tanh(r.core(h[:, 0]))
                out[r.layer_id] = pooled
            elif kind == "lm_head":
                out[r.layer_id] = r.core(h)
            elif kind == "head":
                if r.core.task == "token":
                    out[r.layer_id] = r.core.linear(h)
                else:
                    out[r.layer_id] = r.core.linear(pooled if pooled is not None else h[:, 0])
        if act is not None:
            h = act[1] + (1.0 - act[0]) * h
        out["hidden"] = h
        return out


def _act_step(act, h: torch.Tensor, halting: M.Linear, eps: float = 0.01):
    """One Adaptive Computation Time step (all steps run; weights sum to 1 per position)."""
    p = torch.sigmoid(halting(h))                                     # (B, S, 1)
    if act is None:
        acc = torch.zeros_like(p)
        state = torch.zeros_like(h)
    else:
        acc, state = act
    running = (acc < 1.0 - eps).to(h.dtype)
    w = torch.where(acc + p > 1.0 - eps, 1.0 - acc, p) * running
    return acc + w, state + w * h


class _Head(nn.Module):
    def __init__(self, linear: M.Linear, task: str) -> None:
        super().__init__()
        self.linear = linear
        self.task = task


def _core(spec: StackSpec, store: ParamStore, layer: LayerSpec) -> nn.Module:
    """The layer's shareable part, built from the store (tensor names as in spec/slots.py)."""
    d = dims(layer, spec.settings)
    params = {t.name: store.get(layer.id, t) for t in layer_tensors(layer, spec.settings)
              if not t.name.startswith("lora.")}

    def linear(prefix: str) -> M.Linear | None:
        if f"{prefix}.A" in params:
            return M.Linear(None, params.get(f"{prefix}.bias"), params[f"{prefix}.A"], params[f"{prefix}.B"])
        if f"{prefix}.weight" not in params:
            return None
        return M.Linear(params[f"{prefix}.weight"], params.get(f"{prefix}.bias"))

    def norm(prefix: str) -> M.Norm | None:
        if f"{prefix}.weight" not in params:
            return None
        return M.Norm(d.norm, params[f"{prefix}.weight"], params.get(f"{prefix}.bias"), spec.settings.norm_eps)

    k = layer.kind
    if k == "embedding":
        sinus = M.sinusoid(d.max_positions, d.embedding_size) if d.positional == "sinusoidal" else None
        if sinus is not None:
            sinus = sinus.to(device=store.device, dtype=store.dtype)
        return M.Embedding(params["embedding.weight"], params.get("position.weight"),
                           params.get("token_type.weight"), sinus, norm("norm"), linear("projection"))
    if k in ("block", "attention", "ffn"):
        attention = ffn = None
        if k in ("block", "attention"):
            attention = M.Attention(linear("attention.q"), linear("attention.k"), linear("attention.v"),
                                    linear("attention.o"), d.n_heads, d.n_kv_heads, d.head_dim, d.causal,
                                    d.positional == "rotary")
        if k in ("block", "ffn"):
            ffn = M.FFN(linear("ffn.up"), linear("ffn.gate"), linear("ffn.down"), d.activation)
        if k == "attention":
            return attention
        if k == "ffn":
            return ffn
        return M.Block(attention, ffn, norm("norm1"), norm("norm2"), d.norm_position == "pre", linear("halting"))
    if k == "norm":
        return norm("norm")
    if k == "linear":
        return linear("linear")
    if k in ("lstm", "gru"):
        cls = nn.LSTM if k == "lstm" else nn.GRU
        rnn = cls(d.d_model, d.d_model, batch_first=True, bias=d.bias, device="meta", dtype=store.dtype)
        for name, attr in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"),
                           ("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0")):
            if f"cell.{name}" in params:
                setattr(rnn, attr, params[f"cell.{name}"])
        return M.Recurrent(rnn)
    if k == "conv":
        return M.Conv(params["conv.weight"], params.get("conv.bias"), d.groups)
    if k == "pooler":
        return linear("pooler")
    if k == "lm_head":
        return M.LMHead(linear("transform"), norm("transform_norm"), d.activation, params["decoder.weight"],
                        params.get("decoder.bias"))
    if k == "head":
        return _Head(linear("classifier"), d.task)
    raise BuildError(f"cannot build layer kind {k!r}")


def build_model(spec: StackSpec, device: str | torch.device = "cpu", dtype: str = "fp32", seed: int = 0) -> SharedStack:
    """Build `spec` on `device` ('meta' to count without allocating). Raises SpecError/BuildError."""
    plan = validate(spec)
    if dtype not in TORCH_DTYPES:
        raise BuildError(f"dtype {dtype!r} cannot be built (dtypes: {', '.join(TORCH_DTYPES)})")
    try:
        torch_device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise BuildError(f"unknown device {device!r}: {err}") from None
    store = ParamStore(spec, plan, torch_device, TORCH_DTYPES[dtype], seed)
    needed_kv = {layer.kv_from for layer in spec.layers if layer.kv_from}
    runners = []
    rotary_dim = None
    block_index = 0
    for layer in spec.layers:
        d = dims(layer, spec.settings)
        group = store.whole_block_group(layer.id)
        if group is not None and group in store.modules:
            core = store.modules[group]            # the very same block object
        else:
            core = _core(spec, store, layer)
            if group is not None:
                store.modules[group] = core
        lora = None
        if d.lora_rank and layer.kind == "block":
            lora = nn.ModuleDict()
            tensors = {t.name: t for t in layer_tensors(layer, spec.settings)}
            for path, *_ in block_linears(d):
                lora[path.replace(".", "_")] = M.LoRA(store.get(layer.id, tensors[f"lora.{path}.down"]),
                                                      store.get(layer.id, tensors[f"lora.{path}.up"]))
        step = None
        if layer.kind == "block":
            if d.timestep_signal:
                step = M.sinusoid(block_index + 1, d.d_model)[block_index].to(device=torch_device,
                                                                               dtype=store.dtype)
            block_index += 1
        if layer.kind in ("block", "attention") and d.positional == "rotary":
            rotary_dim = d.head_dim
        runners.append(LayerRunner(layer, core, lora, step, layer.kv_from, layer.id in needed_kv))
    takes_ids = bool(spec.layers) and spec.layers[0].kind == "embedding"
    return SharedStack(spec, runners, rotary_dim, takes_ids)


def build_twin(spec: StackSpec, device: str | torch.device = "cpu", dtype: str = "fp32", seed: int = 0) -> SharedStack:
    """The unshared twin of `spec`: same architecture, every layer its own weights."""
    return build_model(unshared_twin(spec), device, dtype, seed)
