"""Bundled presets: the shipped presets/ folder, found by explorer.bundled (pure, no torch or Qt)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from explorer.bundled import is_bundled, presets_dir
from explorer.design.safe_yaml import LOADER

PRESETS_DIR = presets_dir()
DEFAULT_PRESET = "bert-base.yaml"
__all__ = ["PRESETS_DIR", "bundled_presets", "default_preset", "is_bundled", "preset_paths", "resolve"]


def preset_paths() -> list[Path]:
    if PRESETS_DIR is None:
        return []
    return sorted(p for p in PRESETS_DIR.glob("*.yaml") if not p.name.startswith("."))


def bundled_presets() -> list[tuple[Path, str]]:
    """(path, one-line description) of every bundled preset (read once: the shipped files do not change)."""
    return list(_bundled_presets())


@cache
def _bundled_presets() -> tuple[tuple[Path, str], ...]:
    out = []
    for path in preset_paths():
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)  # noqa: S506 - the C safe loader
            description = str(data.get("description", "")) if isinstance(data, dict) else ""
        except (OSError, yaml.YAMLError):
            description = "(unreadable)"
        out.append((path, description))
    return tuple(out)


def default_preset() -> Path | None:
    if PRESETS_DIR is None:
        return None
    path = PRESETS_DIR / DEFAULT_PRESET
    return path if path.is_file() else None


def resolve(name_or_path: str) -> str:
    """A path as given when it names a file; else the bundled preset of that name
    ("albert-base" or "albert-base.yaml"), when there is one; else the path as given."""
    path = Path(name_or_path)
    if path.exists() or path.parent != Path(".") or PRESETS_DIR is None:
        return name_or_path
    bundled = PRESETS_DIR / (path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml")
    return str(bundled) if bundled.is_file() else name_or_path
