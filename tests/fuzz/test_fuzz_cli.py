"""A sample of mutated presets and configs through the real command line, in subprocesses:
``explorer report FILE`` and ``explorer import-hf FILE -o OUT`` exit 0 or 2; with 2, stderr is
exactly one line and no traceback. Wall time per process (Python start included) is recorded;
5 s is asserted only as a hang guard."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fuzz_mutations as mut
from fuzz_stats import record

from explorer.presets import preset_paths

ROOT = Path(__file__).resolve().parents[2]
N_PRESETS = 24 * mut.SCALE
N_CONFIGS = 10 * mut.SCALE
GUARD_S = 5.0


def _cases(tmp_path):
    rnd = random.Random(20261123)
    presets = preset_paths()
    configs = sorted((Path(__file__).parent / "hf_configs").glob("*.json"))
    out = []
    for i in range(N_PRESETS + N_CONFIGS):
        is_preset = i < N_PRESETS
        base = rnd.choice(presets if is_preset else configs)
        pool = mut.YAML_MUTATORS if is_preset else mut.JSON_MUTATORS
        common, rare = [m for m in pool if m not in mut.RARE], [m for m in pool if m in mut.RARE]
        steps = [(rnd.choice(rare if rnd.random() < 0.06 else common), rnd.randrange(2 ** 32))
                 for _ in range(rnd.randint(1, 3))]
        folder = tmp_path / f"case{i}"
        folder.mkdir()
        path = folder / (base.name if is_preset else "config.json")
        path.write_bytes(mut.apply(base.read_bytes(), steps))
        args = ["report", str(path)] if is_preset else ["import-hf", str(path), "-o", str(folder / "out.yaml")]
        out.append((args, f"{base.name}: {mut.describe(steps)}"))
    return out


def _run(args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("EXPLORER_DEBUG", None)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60, check=False)
    return proc, time.perf_counter() - start


def test_mutated_files_through_the_cli_exit_0_or_2_with_one_line(tmp_path):
    cases = _cases(tmp_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda c: _run(c[0]), cases))
    problems = []
    for (args, case), (proc, elapsed) in zip(cases, results):
        lines = proc.stderr.splitlines()
        good = proc.returncode == 0 or (proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ")
                                        and args[1] in lines[0])
        good = good and "Traceback" not in proc.stderr and elapsed < GUARD_S
        record("cli", "failures" if not good else "ok" if proc.returncode == 0 else "errors", elapsed,
               f"{args[0]} {case}")
        if not good:
            problems.append(f"{args[0]} {case}: rc={proc.returncode} {elapsed:.2f}s stderr={proc.stderr[-300:]!r}")
    assert not problems, "\n".join(problems)
    assert any(proc.returncode == 2 for proc, _ in results)
