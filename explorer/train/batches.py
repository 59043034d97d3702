"""Samples -> tensors for each objective (torch side).

next-token: inputs are tokens[:-1], targets tokens[1:]; masked: 15% of the positions (or, for
a task, every answer position) are hidden (80% [MASK], 10% a random token, 10% kept) and only
they are scored; seq2seq: the encoder reads the source, the decoder the target shifted right.
Positions that are not scored have target -100. Every random choice comes from the caller's
`random.Random`, so every series sees the very same batches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

IGNORE = -100
MASK_SHARE = 0.15


@dataclass
class Batch:
    inputs: tuple[torch.Tensor, ...]         # the model's arguments: (ids,) or (source, target)
    targets: torch.Tensor                    # (B, T) with IGNORE where nothing is scored
    tokens: int                              # tokens the model read

    def to(self, device) -> "Batch":
        return Batch(tuple(t.to(device) for t in self.inputs), self.targets.to(device), self.tokens)


def make_batch(source, rng: random.Random, batch: int, seq: int, objective: str, vocab: int,
               mask_id: int | None, split: str = "train") -> Batch:
    if objective == "next-token":
        rows, targets = [], []
        for _ in range(batch):
            s = source.sample(rng, seq + 1, split)
            rows.append(s.tokens[:-1])
            first = 0 if s.answer_from is None else s.answer_from - 1
            targets.append(tuple(t if j >= first else IGNORE for j, t in enumerate(s.tokens[1:])))
        return Batch((torch.tensor(rows),), torch.tensor(targets), batch * seq)
    if objective == "masked":
        rows, targets = [], []
        for _ in range(batch):
            s = source.sample(rng, seq, split)
            tokens = list(s.tokens)
            if s.answer_from is None:
                hidden = [j for j in range(seq) if rng.random() < MASK_SHARE] or [rng.randrange(seq)]
            else:
                hidden = list(range(s.answer_from, seq))
            target = [IGNORE] * seq
            for j in hidden:
                target[j] = tokens[j]
                r = rng.random()
                if s.answer_from is not None or r < 0.8:
                    tokens[j] = mask_id
                elif r < 0.9:
                    tokens[j] = rng.randrange(vocab)
            rows.append(tokens)
            targets.append(target)
        return Batch((torch.tensor(rows),), torch.tensor(targets), batch * seq)
    # seq2seq: the source, then the target the decoder predicts (shifted right by one start token)
    src, tgt_in, tgt = [], [], []
    for _ in range(batch):
        s = source.sample(rng, 2 * seq if s_is_text(source) else seq, split)
        if s.answer_from is None:
            a, b = s.tokens[:seq], s.tokens[seq:2 * seq]
        else:
            pad = source.PAD
            a = (s.tokens[:s.answer_from] + (pad,) * seq)[:seq]
            b = (s.tokens[s.answer_from:] + (pad,) * seq)[:seq]
        start = source.SEP if s.answer_from is not None else 0
        src.append(a)
        tgt_in.append((start,) + tuple(b[:-1]))
        tgt.append(b)
    return Batch((torch.tensor(src), torch.tensor(tgt_in)), torch.tensor(tgt), batch * 2 * seq)


def s_is_text(source) -> bool:
    return getattr(source, "kind", "") == "text"
