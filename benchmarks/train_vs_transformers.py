"""A training step of our built BERT (MLM head) and GPT-2 (LM head) against transformers'
BertForMaskedLM and GPT2LMHeadModel, same config numbers, same batch, same optimizer.

    python benchmarks/train_vs_transformers.py                  # CPU: hidden 256, 4 layers, 4 heads, 4 x 128, fp32
    python benchmarks/train_vs_transformers.py --full --batch 1 # CPU: base size (768, 12 layers, 12 heads)
    python benchmarks/train_vs_transformers.py --device cuda    # base size, batch 8 x 512, bf16

Both transformers models are made from config objects (nothing is downloaded), with dropout 0
(ours has none) and `--attn` attention (sdpa by default). Our designs are imported from the same
config objects by explorer.design.hf_import (the route of `explorer import`, which reproduces the
model of `architectures[0]` tensor for tensor) and built with build_model; the parameter counts
of all four are printed and must match in pairs. One step of each, identical for all four:

    logits = <model>(ids)            # ours: model(ids)["lm_head"]; theirs: model(input_ids=ids).logits
    loss = F.cross_entropy(logits.float().flatten(0, -2), targets.flatten(), ignore_index=-100)
    opt.zero_grad(); loss.backward(); opt.step()           # torch.optim.AdamW(lr=1e-4, weight_decay=0.01)

BERT's batch hides 15% of the positions behind [MASK] (id 103) and scores only those; GPT-2's
scores every next token. Each pair (ours, theirs) is timed on its own, only its two models
alive, interleaved after a warm-up with the order reversed every other round (ours, theirs,
theirs, ours ...); the table gives median ms and ours/theirs.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from common import machine, median, time_interleaved
from explorer.analysis.params import count_params
from explorer.design.hf_import import import_hf_config
from explorer.torchmodel import TORCH_DTYPES, build_model

IGNORE = -100
BERT_MASK_ID = 103


def configs(args, attn: str):
    from transformers import BertConfig, GPT2Config

    bert = BertConfig(hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=args.heads,
                      intermediate_size=4 * args.hidden, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                      attn_implementation=attn)
    gpt2 = GPT2Config(n_embd=args.hidden, n_layer=args.layers, n_head=args.heads, resid_pdrop=0.0, embd_pdrop=0.0,
                      attn_pdrop=0.0, attn_implementation=attn)
    return bert, gpt2


def ours(config, architecture: str, device, dtype_name: str):
    data = config.to_dict()
    data["architectures"] = [architecture]
    spec = import_hf_config(data, with_head=True)
    return spec, build_model(spec, device, dtype_name, seed=0)


def batches(bert, gpt2, batch: int, seq: int, device):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, bert.vocab_size, (batch, seq), generator=g)
    hidden = torch.rand(batch, seq, generator=g) < 0.15
    hidden[:, 0] |= ~hidden.any(dim=1)                      # every row scores at least one position
    mlm = (torch.where(hidden, BERT_MASK_ID, ids), torch.where(hidden, ids, IGNORE))
    tokens = torch.randint(0, gpt2.vocab_size, (batch, seq + 1), generator=g)
    clm = (tokens[:, :-1], tokens[:, 1:])
    return tuple(t.to(device) for t in mlm), tuple(t.contiguous().to(device) for t in clm)


def step_fn(model, logits_of, opt, ids, targets):
    def step():
        logits = logits_of(model, ids)
        loss = F.cross_entropy(logits.float().flatten(0, -2), targets.flatten(), ignore_index=IGNORE)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="fp32 (CPU default) or bf16 (GPU default)")
    parser.add_argument("--full", action="store_true", help="base size: hidden 768, 12 layers, 12 heads "
                                                           "(the default on CUDA)")
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--heads", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--seq", type=int, default=None)
    parser.add_argument("--iters", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--attn", default="sdpa", choices=("sdpa", "eager"), help="transformers' attention")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    full = args.full or gpu
    args.hidden = args.hidden or (768 if full else 256)
    args.layers = args.layers or (12 if full else 4)
    args.heads = args.heads or (12 if full else 4)
    dtype_name = args.dtype or ("bf16" if gpu else "fp32")
    batch = args.batch or (8 if gpu else 4)
    seq = args.seq or (512 if gpu else 128)
    iters = args.iters or (20 if gpu else 10)
    dtype = TORCH_DTYPES[dtype_name]
    t_start = time.perf_counter()

    from transformers import BertForMaskedLM, GPT2LMHeadModel

    bert_cfg, gpt2_cfg = configs(args, args.attn)
    mlm, clm = batches(bert_cfg, gpt2_cfg, batch, seq, device)

    def our_logits(model, ids):
        return model(ids)["lm_head"]

    def their_logits(model, ids):
        return model(input_ids=ids).logits

    pairs = (  # (name, builds (model, spec or None), logits_of, batch) for ours then theirs
        (("ours bert (MLM head)", lambda: ours(bert_cfg, "BertForMaskedLM", device, dtype_name)[::-1], our_logits, mlm),
         ("transformers BertForMaskedLM", lambda: (BertForMaskedLM(bert_cfg).to(device, dtype), None), their_logits,
          mlm)),
        (("ours gpt2 (LM head)", lambda: ours(gpt2_cfg, "GPT2LMHeadModel", device, dtype_name)[::-1], our_logits, clm),
         ("transformers GPT2LMHeadModel", lambda: (GPT2LMHeadModel(gpt2_cfg).to(device, dtype), None), their_logits,
          clm)),
    )
    # Each pair is timed on its own (only its two models and optimizers alive), interleaved with
    # the order reversed every other round: a 4-model run once read GPT-2 1.19x where the pair
    # alone read 0.96x on the same idle machine (the step after BERT's paid for it).
    rows, samples = {}, {}
    for pair in pairs:
        fns = {}
        for name, build, logits_of, (ids, targets) in pair:
            torch.manual_seed(0)
            model, spec = build()
            model.train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
            fns[name] = step_fn(model, logits_of, opt, ids, targets)
            rows[name] = (sum(p.numel() for p in model.parameters()), spec)
        samples.update(time_interleaved(fns, device, iters, warmup=args.warmup, alternate=True))
        del fns

    print(f"machine: {machine(device)}")
    print(f"training step (forward, cross-entropy, backward, AdamW), hidden {args.hidden}, {args.layers} layers, "
          f"{args.heads} heads, batch {batch} x seq {seq}, {dtype_name}, transformers attention {args.attn}, "
          f"dropout 0, {iters} iterations after {args.warmup} warm-up, interleaved\n")
    print("| model | params built | params analysis | median ms | ours/theirs |\n|---|---:|---:|---:|---:|")
    names = list(rows)
    for i, name in enumerate(names):
        n, spec = rows[name]
        analysed = f"{count_params(spec).unique:,}" if spec is not None else ""
        m = median(samples[name])
        pair = names[i + 1] if i % 2 == 0 else name
        ratio = f"{m / median(samples[pair]):.3f}" if i % 2 == 0 else "1.000"
        print(f"| {name} | {n:,} | {analysed} | {m:.2f} | {ratio} |")
    for i in (0, 2):
        a, b = (rows[names[j]][0] for j in (i, i + 1))
        print(f"\nparameters {names[i]} vs {names[i + 1]}: {'equal' if a == b else f'DIFFER ({a:,} vs {b:,})'}",
              end="")
    print(f"\n\n({time.perf_counter() - t_start:.0f} s in all)")


if __name__ == "__main__":
    main()
