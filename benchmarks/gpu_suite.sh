#!/usr/bin/env bash
# Everything issue 5 asks of a GPU, in one go, on the first CUDA device:
#   bash benchmarks/gpu_suite.sh [OUT.md]        (default benchmarks/RESULTS-gpu.md)
# Runs the CUDA tests, then each benchmark script; every table goes into OUT.md with the
# machine it ran on, ready to paste into benchmarks/RESULTS.md.
set -u
cd "$(dirname "$0")/.."
out="${1:-benchmarks/RESULTS-gpu.md}"
python -c 'import torch' 2>/dev/null || { echo "torch is not installed in this Python (see README)" >&2; exit 2; }
python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' \
    || { echo "no CUDA device here: nothing to do" >&2; exit 2; }
run() {   # title, command...
    local title="$1"; shift
    echo "running: $*" >&2
    { echo; echo "### $title (\`$*\`)"; echo; "$@" 2>&1; } >> "$out"
}
{
    echo "## Machine: $(python -c 'import torch; print(torch.cuda.get_device_name(0))') ($(date -u +%F))"
    echo
    python -c 'import torch, platform; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, Python {platform.python_version()}")'
} > "$out"
run "CUDA tests" python -m pytest -q -m gpu -p no:cacheprovider
run "Ours against transformers, BERT/ALBERT base, 32 x 512 bf16" python benchmarks/vs_transformers.py --device cuda
run "Shared vs twin, 32 x 512 bf16" python benchmarks/shared_vs_twin.py --device cuda --dtype bf16 --batch 32 --seq 512 --iters 30
run "Shared vs twin, 1 x 128 bf16 (small batch: cache effects)" python benchmarks/shared_vs_twin.py --device cuda --dtype bf16 --batch 1 --seq 128 --iters 50
run "Large stack against dense bf16 matmul" python benchmarks/large_stack.py --device cuda --compile
run "Large stack, causal (counted FLOPs include the skipped half)" python benchmarks/large_stack.py --device cuda --causal
run "The CLI on the ALBERT-base preset" explorer bench albert-base --twin --device cuda --dtype bf16 --batch 32 --seq 512 --iters 30
echo "wrote $out" >&2
