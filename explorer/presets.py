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


def resolve(name_or_path: str) -> str:
    """A path as given when it names a file; else the bundled preset of that name
    ("albert-base" or "albert-base.yaml"), when there is one; else the path as given."""
    path = Path(name_or_path)
    if path.exists() or path.parent != Path("."):
        return name_or_path
    bundled = PRESETS_DIR / (path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml")
    return str(bundled) if bundled.is_file() else name_or_path
