"""What autograd keeps for backward, measured: the bytes of the distinct tensors the forward
pass of a training step saves (parameters left out), seen with saved_tensors_hooks.

The training step's forward includes a standard cross-entropy loss on every LM head's logits
(targets: token ids of the head's length), so the log-probabilities it keeps are counted, as
they are in any language-model training loop. Each storage counts once, however many ops save
it or views of it (a pooler reading h[:, 0] keeps all of h alive).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from explorer.kinds import kind
from explorer.torchmodel.runtime import SharedStack


def lm_heads(model: SharedStack) -> list[str]:
    """Ids of the layers whose output is a language model's logits."""
    return [r.layer_id for r in model.runners if kind(r.kind).lm_head]


def loss_targets(model: SharedStack, out: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """Cross-entropy targets for every LM head's logits in `out`: token ids drawn on the CPU from
    `seed` (the same ids on every device), flattened (B*T,), on the logits' device."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    targets = {}
    for name in lm_heads(model):
        logits = out[name]
        target = torch.randint(0, logits.shape[-1], logits.shape[:-1], generator=g)
        targets[name] = target.flatten().to(logits.device)
    return targets


def training_loss(model: SharedStack, out: dict[str, torch.Tensor], seed: int = 0,
                  targets: dict[str, torch.Tensor] | None = None) -> torch.Tensor | None:
    """A standard cross-entropy on every LM head's logits, summed (None when the design has none).
    `targets`: from loss_targets, made once (a timed step draws nothing); else drawn here."""
    targets = loss_targets(model, out, seed) if targets is None else targets
    loss = None
    for name, target in targets.items():
        part = F.cross_entropy(out[name].flatten(0, -2), target)
        loss = part if loss is None else loss + part
    return loss


def saved_activation_bytes(model: SharedStack, inputs: tuple[torch.Tensor, ...], loss: bool = True,
                           checkpointing: bool = False) -> int:
    """Bytes of distinct storages autograd saves in one training-mode forward (and the loss on
    the LM heads' logits when `loss`), parameters excluded; with `checkpointing`, every
    Transformer block runs under torch.utils.checkpoint."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params and storage.nbytes():
            kept[ptr] = storage.nbytes()
        return t

    was_training, was_checkpointing = model.training, model.checkpointing
    model.train()
    model.checkpointing = checkpointing
    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(*inputs)
            total = training_loss(model, out) if loss else None       # held: its graph keeps what it saved
            del out, total
    finally:
        model.train(was_training)
        model.checkpointing = was_checkpointing
    return sum(kept.values())
