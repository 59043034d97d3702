"""Bundled presets: the repository's presets/ folder (pure, no torch or Qt)."""

from __future__ import annotations

from pathlib import Path

import yaml

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "bert-base.yaml"


def preset_paths() -> list[Path]:
    if not PRESETS_DIR.is_dir():
        return []
    return sorted(p for p in PRESETS_DIR.glob("*.yaml") if not p.name.startswith("."))


def bundled_presets() -> list[tuple[Path, str]]:
    """(path, one-line description) of every bundled preset."""
    out = []
    for path in preset_paths():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            description = str(data.get("description", "")) if isinstance(data, dict) else ""
        except (OSError, yaml.YAMLError):
            description = "(unreadable)"
        out.append((path, description))
    return out


def default_preset() -> Path | None:
    path = PRESETS_DIR / DEFAULT_PRESET
    return path if path.is_file() else None
