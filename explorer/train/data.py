"""Training data that needs no download: bytes of the running Python's standard library, any
text file or folder the user names, and synthetic tasks (copy, reverse, sort, modular addition).

Pure Python (no torch): a source yields token sequences as lists of ints; the engine turns
them into tensors. Every draw comes from a `random.Random` seeded by the caller, so the same
seed gives the same batches, in the same order, for the design and its twin.
"""

from __future__ import annotations

import hashlib
import os
import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from explorer.errors import SpecError

BYTE_VOCAB = 256
MAX_TRAIN_BYTES = 16 * 1024 * 1024          # enough for thousands of CPU steps; keeps loading under a second
MAX_FILE_BYTES = 4 * 1024 * 1024
VALIDATION_SHARE = 10                      # one file in ten (by a hash of its path) is validation
TASKS = ("copy", "reverse", "sort", "add")
TASK_DIGITS = 10                           # task symbols 0..9; then separator, pad


@dataclass(frozen=True)
class Sample:
    """One sequence and which positions are answers (a task's output) to score; None: every token."""

    tokens: tuple[int, ...]
    answer_from: int | None = None


class ByteText:
    """Byte-level text split into train and validation bytes; windows are drawn at random."""

    kind = "text"

    def __init__(self, name: str, train: bytes, validation: bytes, files: tuple[int, int]) -> None:
        if len(train) < 2 or len(validation) < 2:
            raise SpecError(f"{name}: not enough text to train on ({len(train):,} train and {len(validation):,} "
                            f"validation bytes)", "data")
        self.name, self.train, self.validation, self.files = name, train, validation, files
        self.vocab = BYTE_VOCAB

    def sample(self, rng: random.Random, length: int, split: str = "train") -> Sample:
        data = self.train if split == "train" else self.validation
        if len(data) <= length:
            data = data * (length // len(data) + 2)
        start = rng.randrange(0, len(data) - length)
        return Sample(tuple(data[start:start + length]))

    def describe(self) -> dict:
        return {"source": self.name, "kind": "bytes", "train_bytes": len(self.train),
                "validation_bytes": len(self.validation), "train_files": self.files[0],
                "validation_files": self.files[1]}


def _is_validation(relative: str) -> bool:
    return int(hashlib.sha256(relative.encode("utf-8")).hexdigest(), 16) % VALIDATION_SHARE == 0


def _read_tree(root: Path, pattern: str, name: str) -> ByteText:
    """Every file under `root` matching `pattern` (sorted), split by a hash of its relative path."""
    train, validation = bytearray(), bytearray()
    counts = [0, 0]
    for path in sorted(root.rglob(pattern)):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        try:
            data = path.read_bytes()[:MAX_FILE_BYTES]
        except OSError:
            continue
        relative = path.relative_to(root).as_posix()
        target, index = (validation, 1) if _is_validation(relative) else (train, 0)
        if len(target) < MAX_TRAIN_BYTES:
            target += data + b"\n"
            counts[index] += 1
        if len(train) >= MAX_TRAIN_BYTES and len(validation) >= MAX_TRAIN_BYTES // VALIDATION_SHARE:
            break
    return ByteText(name, bytes(train), bytes(validation), (counts[0], counts[1]))


def stdlib_corpus() -> ByteText:
    """The .py sources of the running Python's standard library (every install has them)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return _read_tree(root, "*.py", f"stdlib ({root})")


def text_source(path: str) -> ByteText:
    """A text file (its last tenth is validation) or a folder (files split by a hash of their path)."""
    p = Path(path)
    if p.is_dir():
        return _read_tree(p, "*", str(p))
    try:
        data = p.read_bytes()[:MAX_TRAIN_BYTES + MAX_TRAIN_BYTES // VALIDATION_SHARE]
    except OSError as err:
        raise SpecError(f"cannot read: {err.strerror or err}", "data", str(path)) from None
    cut = len(data) - max(len(data) // VALIDATION_SHARE, 2)
    return ByteText(str(p), data[:cut], data[cut:], (1, 1))


class Task:
    """A synthetic sequence task: input digits, a separator, the answer. Tokens 0..9 are digits,
    10 the separator, 11 padding; the answer is scored (exact match per sequence)."""

    kind = "task"
    SEP, PAD = TASK_DIGITS, TASK_DIGITS + 1
    vocab = TASK_DIGITS + 2

    def __init__(self, name: str) -> None:
        if name not in TASKS:
            raise SpecError(f"unknown task {name!r} (tasks: {', '.join(TASKS)})", "data")
        self.name = name

    def answer(self, digits: list[int]) -> list[int]:
        if self.name == "copy":
            return list(digits)
        if self.name == "reverse":
            return digits[::-1]
        if self.name == "sort":
            return sorted(digits)
        half = len(digits) // 2                      # add: the two halves as numbers, digit by digit mod 10
        a, b = digits[:half], digits[half:2 * half]
        return [(x + y) % TASK_DIGITS for x, y in zip(a, b)] + [0] * (len(digits) - half)

    def sample(self, rng: random.Random, length: int, split: str = "train") -> Sample:
        """A sequence of exactly `length` tokens: n digits, the separator, n answer digits (padded)."""
        n = max((length - 1) // 2, 1)
        digits = [rng.randrange(TASK_DIGITS) for _ in range(n)]
        tokens = digits + [self.SEP] + self.answer(digits)
        tokens = (tokens + [self.PAD] * length)[:length]
        return Sample(tuple(tokens), answer_from=n + 1)

    def describe(self) -> dict:
        return {"source": f"task:{self.name}", "kind": "task", "vocab": self.vocab,
                "train": "random digits, drawn per step", "validation": "fixed random digits (own seed)"}


def data_source(spec: str | None) -> ByteText | Task:
    """`stdlib` (default), `task:NAME`, or a path to a text file or folder. Raises SpecError."""
    if spec in (None, "", "stdlib"):
        return stdlib_corpus()
    if spec.startswith("task:"):
        return Task(spec[5:])
    if not os.path.exists(spec):
        raise SpecError("no such file or folder (data: stdlib, task:NAME or a path)", "data", spec)
    return text_source(spec)
