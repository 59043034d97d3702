"""Our built BERT-base / ALBERT-base against transformers' BertModel / AlbertModel, same config.

    python benchmarks/vs_transformers.py                 # small fp32 case on CPU (batch 2 x 128)
    python benchmarks/vs_transformers.py --device cuda   # batch 32 x 512 in bf16 on a GPU

All four models are timed interleaved in one run (forward, inference_mode), so machine
noise hits them alike; the table gives medians and ratios to BertModel.
"""

from __future__ import annotations

import argparse

import torch

from common import machine, median, time_interleaved
from explorer.torchmodel import TORCH_DTYPES, build_model
from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io


def hf_models(dtype, device):
    from transformers import AlbertConfig, AlbertModel, BertConfig, BertModel

    bert = BertModel(BertConfig(attn_implementation="sdpa"))
    albert = AlbertModel(AlbertConfig(embedding_size=128, hidden_size=768, num_attention_heads=12,
                                      intermediate_size=3072, num_hidden_layers=12, vocab_size=30000,
                                      attn_implementation="sdpa"))
    return {"transformers BertModel": bert.to(device, dtype).eval(),
            "transformers AlbertModel": albert.to(device, dtype).eval()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="fp32 (CPU default) or bf16 (GPU default)")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--seq", type=int, default=None)
    parser.add_argument("--iters", type=int, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    dtype_name = args.dtype or ("bf16" if gpu else "fp32")
    batch = args.batch or (32 if gpu else 2)
    seq = args.seq or (512 if gpu else 128)
    iters = args.iters or (50 if gpu else 10)
    dtype = TORCH_DTYPES[dtype_name]
    torch.manual_seed(0)
    models = {
        "ours bert-base": build_model(yaml_io.load(PRESETS_DIR / "bert-base.yaml"), device, dtype_name).eval(),
        "ours albert-base": build_model(yaml_io.load(PRESETS_DIR / "albert-base.yaml"), device, dtype_name).eval(),
        **hf_models(dtype, device),
    }
    ids = torch.randint(0, 30000, (batch, seq), device=device)

    def runner(model):
        def run():
            with torch.inference_mode():
                model(ids)
        return run

    samples = time_interleaved({name: runner(m) for name, m in models.items()}, device, iters, warmup=5)
    base = median(samples["transformers BertModel"])
    print(f"machine: {machine(device)}")
    print(f"forward, batch {batch} x seq {seq}, {dtype_name}, {iters} iterations interleaved\n")
    print("| model | params | median ms | vs BertModel |\n|---|---:|---:|---:|")
    for name, model in models.items():
        n = sum(p.numel() for p in model.parameters())
        m = median(samples[name])
        print(f"| {name} | {n:,} | {m:.2f} | {m / base:.3f} |")


if __name__ == "__main__":
    main()
