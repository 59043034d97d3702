"""What a user gets from `pip install .` or a wheel: the presets and resources ship inside
the package, and the app and CLI find them with nothing but the installed files."""

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from explorer import bundled

ROOT = Path(__file__).resolve().parents[1]


def listed_packages() -> set[str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^packages = \[(.*?)\]", text, re.S | re.M).group(1)
    return set(re.findall(r'"([\w.]+)"', block))


def test_every_package_in_the_tree_is_listed_in_pyproject():
    tree = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "explorer").rglob("__init__.py")}
    listed = listed_packages()
    assert tree <= listed, f"add to pyproject.toml's packages: {sorted(tree - listed)}"
    assert {"explorer.bundled.presets", "explorer.bundled.resources", "explorer.bundled.docs"} <= listed


def test_source_checkout_finds_its_top_level_folders():
    assert bundled.presets_dir() == ROOT / "presets"
    assert bundled.folder("resources") == ROOT / "resources"
    assert bundled.folder("docs") == ROOT / "docs"                    # Help > User guide
    assert bundled.is_bundled(ROOT / "presets" / "bert-base.yaml")
    assert not bundled.is_bundled(ROOT / "README.md")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.glob("sharing_explorer-*.whl")
    return path


@pytest.mark.slow
def test_wheel_carries_every_preset_and_resource(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "explorer/py.typed" in names                               # the package says it is typed (PEP 561)
    for preset in (ROOT / "presets").glob("*.yaml"):
        assert f"explorer/bundled/presets/{preset.name}" in names
    for resource in (ROOT / "resources").rglob("*"):
        if resource.is_file():
            assert f"explorer/bundled/resources/{resource.relative_to(ROOT / 'resources').as_posix()}" in names
    for doc in [*(ROOT / "docs").glob("*.md"), *(ROOT / "docs" / "screenshots").glob("*.png")]:
        assert f"explorer/bundled/docs/{doc.relative_to(ROOT / 'docs').as_posix()}" in names   # the user guide


@pytest.mark.slow
def test_installed_wheel_runs_from_an_empty_folder(wheel, tmp_path):
    """Installed into an empty folder and run from another: no source tree in reach."""
    target, work = tmp_path / "site", tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EXPLORER_DEBUG")}
    env.update(PYTHONPATH=str(target), QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               XDG_DATA_HOME=str(tmp_path / "data"))

    def explorer(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300)

    where = subprocess.run([sys.executable, "-c", "import explorer, explorer.bundled as b; "
                            "print(explorer.__file__); print(b.folder('presets')); print(b.folder('resources'))"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=60)
    module, presets, resources = where.stdout.split()
    assert Path(module).is_relative_to(target), "imported the source tree, not the wheel"
    assert Path(presets) == target / "explorer" / "bundled" / "presets"
    assert Path(resources) == target / "explorer" / "bundled" / "resources"

    listing = explorer("presets")
    assert listing.returncode == 0, listing.stderr
    shipped = sorted(p.name for p in (ROOT / "presets").glob("*.yaml"))
    assert [line.split()[0] for line in listing.stdout.splitlines() if line.strip()] == shipped

    report = explorer("report", "albert-base", "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["params"]["unique"] == 11_683_584      # AlbertModel's own count

    shot = explorer("--screenshot", str(work / "window.png"))
    assert shot.returncode == 0, shot.stderr
    assert (work / "window.png").stat().st_size > 20_000
    assert "unreadable" not in shot.stderr and "Traceback" not in shot.stderr
