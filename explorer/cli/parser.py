"""The `explorer` command's arguments: one subparser per command."""

from __future__ import annotations

import argparse

COMMANDS = ("report", "compare", "apply", "import-hf", "bench", "train", "sweep", "plan", "export", "schemes",
            "presets", "desktop-entry")
DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8")
USAGE = "explorer [PRESET.yaml] [--screenshot OUT.png]\n       explorer COMMAND [OPTIONS]"
APP_FORM = """Without a command, explorer opens the app:
  explorer [PRESET.yaml] [--screenshot OUT.png]
    PRESET.yaml              a design file to open (default: a built-in design)
    --screenshot OUT.png     render the window at 1440x900 to a PNG and exit

explorer COMMAND --help describes each command."""


def add_run_shape(p: argparse.ArgumentParser, from_file: bool = False) -> None:
    """--batch/--seq/--dtype; with `from_file`, unset ones come from the design's `run:` section."""
    where = "the file's run: section, else " if from_file else ""
    p.add_argument("--batch", type=int, default=None if from_file else 1, help=f"batch size (default {where}1)")
    p.add_argument("--seq", type=int, default=None if from_file else 128,
                   help=f"sequence length (default {where}128)")
    p.add_argument("--dtype", choices=DTYPES, default=None if from_file else "fp32",
                   help=f"weight dtype for memory (default {where}fp32)")
    p.add_argument("--target-seq", type=int, default=None,
                   help="an encoder-decoder's target (decoder) length (default: --seq)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="explorer", usage=USAGE, description="Sharing Explorer: design "
                                     "cross-layer parameter sharing and measure it.", epilog=APP_FORM,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("report", help="exact parameters, FLOPs and memory of a preset")
    p.add_argument("preset")
    add_run_shape(p, from_file=True)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--csv", action="store_true", help="print CSV rows: metric, design, unshared twin")
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown summary")
    p.add_argument("--verify", action="store_true",
                   help="also build the model on the meta device; exit 1 if torch's counts differ")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="training activations as torch's kernels on this device save them (attention "
                        "differs; default the file's run: section, else cpu)")
    p = sub.add_parser("compare", help="two designs side by side, with ratios")
    p.add_argument("a")
    p.add_argument("b")
    add_run_shape(p)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="training activations as torch's kernels on this device save them (default cpu)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("apply", help="apply a sharing scheme and write the new design")
    p.add_argument("preset")
    p.add_argument("scheme")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="scheme option, e.g. -p blocks=3 or -p layers=block0,block1")
    p.add_argument("-o", "--output", required=True)
    p = sub.add_parser("import-hf", help="turn a Hugging Face config.json into an editable design")
    p.add_argument("config")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--with-head", action="store_true",
                   help="add the head of architectures[0] (e.g. MaskedLM, CausalLM); default: the base model")
    p = sub.add_parser("bench", help="build the real model and time forward passes (with --twin beside its "
                       "unshared twin, interleaved)")
    p.add_argument("preset")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--iters", type=int, default=20, help="measured iterations (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up iterations, not in statistics (default 3)")
    p.add_argument("--mode", choices=("forward", "train"), default="forward")
    p.add_argument("--compile", action="store_true", help="torch.compile the model first")
    p.add_argument("--twin", action="store_true", help="also time the unshared twin, interleaved")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("train", help="train the design (with --twin beside its unshared twin) on data that needs "
                       "no download; losses, speed, checkpoints")
    p.add_argument("preset", help="a design file, or a bundled preset's name")
    p.add_argument("--steps", type=int, default=200, help="optimizer steps (default 200)")
    p.add_argument("--batch", type=int, default=8, help="sequences per step (default 8)")
    p.add_argument("--seq", type=int, default=64, help="tokens per sequence (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 0.001)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the batches (default 0)")
    p.add_argument("--data", default="stdlib", help="stdlib (the Python standard library's sources), a text file "
                   "or folder, or task:copy|reverse|sort|add (default stdlib)")
    p.add_argument("--eval-every", type=int, default=50, help="validation every N steps, and at the end "
                   "(default 50)")
    p.add_argument("--eval-batches", type=int, default=4, help="validation batches per evaluation (default 4)")
    p.add_argument("--twin", action="store_true", help="also train the unshared twin on the same batches "
                   "(default: off)")
    p.add_argument("--baseline", metavar="PRESET", help="also train this design (scaled down alike) on the same "
                   "batches (default: none)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32",
                   help="weights and activations (default fp32)")
    p.add_argument("--save", metavar="DIR", help="write design.safetensors and design.yaml, the design as "
                   "trained (and twin.*, baseline.*) to DIR (default: nothing is saved)")
    p.add_argument("--json", action="store_true", help="print the result as JSON, without progress "
                   "(default: a readout)")
    scale = p.add_argument_group("scale down (keeps the sharing pattern)")
    scale.add_argument("--width", type=int, help="d_model; FFN and embedding widths scale alike (default: the "
                       "design's)")
    scale.add_argument("--depth", type=int, help="keep the first N trunk layers (default: all)")
    scale.add_argument("--heads", type=int, help="attention heads; K/V heads scale alike (default: the design's)")
    scale.add_argument("--vocab", type=int, help="vocabulary size; the data's own vocabulary replaces it for "
                       "training (default: the design's)")
    scale.add_argument("--keep-sharing", action="store_true",
                       help="with --depth: take the kept trunk layers across the stack so that its groups keep "
                       "members (default: off, the first N, which may drop every group)")
    p = sub.add_parser("sweep", help="sweep sequence length, depth or schemes (with --train-steps, train each "
                       "scheme on the same batches: the quality frontier)")
    p.add_argument("preset")
    p.add_argument("--seq", dest="seqs", metavar="LIST", help="e.g. 128,256,512 or 128:8192:x2; with --schemes "
                   "--train-steps: the training sequence length (one number, default 64)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--layers", metavar="LIST", help="e.g. 2:24:2 or 6,12,24")
    what.add_argument("--schemes", action="store_true", help="every scheme on this design")
    p.add_argument("--only", metavar="LIST", help="with --schemes: only these schemes, e.g. "
                   "albert,albert-ffn,albert-attention (none and the unshared twin are always trained)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 1; 8 with --train-steps)")
    p.add_argument("--at-seq", type=int, default=128, help="sequence length for --layers/--schemes")
    p.add_argument("--device", default=None, help="with --seq: also time the built model on this device (cpu, cuda); "
                   "with --train-steps: where to train (default cpu)")
    p.add_argument("--iters", type=int, default=5, help="with --device: measured iterations per point")
    p.add_argument("--dtype", choices=DTYPES, default="fp32")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="with --schemes and --device or --train-steps: one Ray task per point on a cluster "
                   "(local: start Ray on this machine; else auto, HOST:6379 or ray://HOST:10001)")
    p.add_argument("--ray-cpus", type=int, default=None, help="with --ray local: worker CPUs (default: all)")
    train = p.add_argument_group("train each scheme (with --schemes)")
    train.add_argument("--train-steps", type=int, metavar="N",
                       help="train none, the unshared twin and every scheme N steps with the same data, seed and "
                       "batches; print unique parameters, final and best validation loss, tokens/s")
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--data", default="stdlib", help="stdlib (default), a text file or folder, or "
                       "task:copy|reverse|sort|add")
    train.add_argument("--eval-every", type=int, default=50, help="validation every N steps (and at the end)")
    train.add_argument("--width", type=int, help="scale down first: d_model (keeps the sharing pattern)")
    train.add_argument("--depth", type=int, help="scale down first: keep the first N trunk layers")
    train.add_argument("--heads", type=int)
    train.add_argument("--vocab", type=int)
    p = sub.add_parser("desktop-entry", help="install the app's menu entry and icon for Linux desktops (per user)")
    p.add_argument("--data-home", default=None, help="instead of $XDG_DATA_HOME (~/.local/share)")
    p = sub.add_parser("plan", help="training memory per GPU under DP, ZeRO 1-3 and tensor parallelism")
    p.add_argument("preset")
    p.add_argument("--gpus", type=int, default=8)
    p.add_argument("--micro-batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="bf16")
    p.add_argument("--gpu-gib", type=float, default=80.0, help="memory of one GPU (default 80)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("export", help="write a standalone PyTorch file (imports only torch) of the design")
    p.add_argument("preset")
    p.add_argument("-o", "--output", required=True)
    sub.add_parser("schemes", help="list sharing schemes and their options")
    sub.add_parser("presets", help="list bundled presets")
    return parser
