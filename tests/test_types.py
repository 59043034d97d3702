"""The pure core (explorer/design, explorer/kinds less its torch halves, explorer/analysis) type-checks
clean: mypy with the [tool.mypy] settings of pyproject.toml (installed by the `test` extras)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

ROOT = Path(__file__).resolve().parents[1]


def test_pure_packages_type_check_clean(tmp_path):
    # a fresh cache each run: nothing written into the checkout, no stale result from an older tree
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "--cache-dir", str(tmp_path / "mypy_cache"), "--no-color-output", "--no-error-summary"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
