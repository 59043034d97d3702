"""Does our training loop cost anything? The engine's step against a bare PyTorch loop, same model.

    python benchmarks/train_loop.py                                   # CPU: width 256, depth 4, heads 4, 8 x 128
    python benchmarks/train_loop.py --device cuda --dtype bf16 --batch 32 --seq 512

For each design (a bundled preset scaled down with explorer.train.adapt.scale_down), the engine
(`explorer.train.engine.train`, eval_every > steps so no evaluation runs mid-run) trains it, and
after each of its steps, from inside its `on_step` callback, a bare loop takes one step on a
second copy of the same built model (same spec, same seed, so the same initial weights) with the
very same batch the engine drew (the batches are drawn from the same seed, as the engine does):

    logits = model(ids)[head]
    loss = F.cross_entropy(logits.float().flatten(0, -2), targets.flatten(), ignore_index=-100)
    opt.zero_grad(); loss.backward(); opt.step()

so the steps run interleaved: engine, bare, engine, bare. The first `--warmup` steps of each are
dropped. Columns:

- engine step: the engine's own `Series.step_seconds` (forward, loss, backward, AdamW, loss.item()).
- bare step: the loop above, timed the same way (ending on a device sync).
- engine iteration: wall time from the end of one bare step to the start of the next, i.e.
  everything the engine's loop does per step: drawing and copying the batch, the cancel check,
  progress, bookkeeping, and its timed step. iteration - step is what the loop costs outside
  the timed region.

Both models' losses are compared step by step: "same losses" says the bare loop did the same work.
"""

from __future__ import annotations

import argparse
import random
import time

import torch
import torch.nn.functional as F

from common import machine, median, sync
from explorer.design import yaml_io
from explorer.presets import PRESETS_DIR
from explorer.torchmodel import build_model
from explorer.train.adapt import scale_down
from explorer.train.batches import IGNORE, make_batch
from explorer.train.engine import TrainConfig, _lm_head, prepare, train

DEFAULT = ["bert-base", "gpt2-tied", "tutorial-all-shared"]


def run(preset: str, args) -> dict:
    spec, _notes = scale_down(yaml_io.load(PRESETS_DIR / f"{preset}.yaml"), width=args.width, depth=args.depth,
                              heads=args.heads)
    steps = args.warmup + args.steps
    config = TrainConfig(steps=steps, batch=args.batch, seq=args.seq, lr=1e-4, seed=0, data=args.data,
                         eval_every=steps + 1, eval_batches=1, device=args.device, dtype=args.dtype)
    device = torch.device(args.device)

    # The bare loop's model and batches, made as the engine makes its own.
    source, adapted = prepare(spec, config)
    design = adapted["design"]
    head = _lm_head(design.spec)
    model = build_model(design.spec, device, config.dtype, config.seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    vocab = design.spec.settings.vocab_size - (1 if design.mask_id is not None else 0)
    rng = random.Random(config.seed)
    batches = [make_batch(source, rng, config.batch, config.seq, design.objective, vocab, design.mask_id).to(device)
               for _ in range(steps)]
    params = sum(p.numel() for p in model.parameters())

    bare_ms, bare_loss, marks = [], [], []      # marks: (entered on_step, left on_step)

    def bare_step(name: str, step: int, _value: float) -> None:
        entered = time.perf_counter()
        if name != "design":
            return
        batch = batches[step - 1]
        ids, = batch.inputs
        sync(device)
        t0 = time.perf_counter()
        logits = model(ids)[head]
        loss = F.cross_entropy(logits.float().flatten(0, -2), batch.targets.flatten(), ignore_index=IGNORE)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sync(device)
        bare_ms.append((time.perf_counter() - t0) * 1e3)
        bare_loss.append(loss.detach())
        marks.append((entered, time.perf_counter()))

    result = train(spec, config, on_step=bare_step)
    if result.error:
        raise SystemExit(f"{preset}: {result.error}")
    series = result.series["design"]
    engine_ms = [s * 1e3 for s in series.step_seconds]
    iteration_ms = [(marks[i][0] - marks[i - 1][1]) * 1e3 for i in range(1, len(marks))]   # step i+1's iteration
    w = args.warmup
    max_diff = max(abs(a - b.item()) for a, b in zip(series.train_loss, bare_loss))
    return {"preset": preset, "params": params, "objective": design.objective,
            "engine": median(engine_ms[w:]), "bare": median(bare_ms[w:]), "iteration": median(iteration_ms[w - 1:]),
            "same": max_diff}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30, help="timed steps (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--data", default="stdlib")
    parser.add_argument("presets", nargs="*", default=DEFAULT)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    t_start = time.perf_counter()
    rows = [run(preset, args) for preset in args.presets]
    print(f"machine: {machine(device)}")
    print(f"training step, batch {args.batch} x seq {args.seq}, {args.dtype}, presets scaled to width {args.width}, "
          f"depth {args.depth}, heads {args.heads}, data {args.data}; {args.steps} steps after {args.warmup} "
          f"warm-up, engine and bare interleaved step by step\n")
    print("| design | params | objective | engine step ms | bare step ms | engine/bare | engine iteration ms "
          "| iteration/bare | same losses |\n|---|---:|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        same = "yes" if r["same"] == 0 else f"max diff {r['same']:.2g}"
        print(f"| {r['preset']} | {r['params']:,} | {r['objective']} | {r['engine']:.2f} | {r['bare']:.2f} | "
              f"{r['engine'] / r['bare']:.3f} | {r['iteration']:.2f} | {r['iteration'] / r['bare']:.3f} | {same} |")
    print(f"\n({time.perf_counter() - t_start:.0f} s in all)")


if __name__ == "__main__":
    main()
