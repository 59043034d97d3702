"""Files the package ships: the bundled presets, the app's resources and the docs (the user guide
of Help > User guide) (pure, no torch or Qt).

In a wheel they are package data under `explorer/bundled/` (pyproject maps the top-level
`presets/`, `resources/` and `docs/` folders there) and are found with `importlib.resources`; in a
source checkout or an editable install they are those top-level folders themselves.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent


@cache
def folder(name: str) -> Path | None:
    """The shipped folder `name` ("presets", "resources" or "docs"), or None when it is missing."""
    packaged = resources.files("explorer") / "bundled" / name
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    source = SOURCE_ROOT / name
    return source if source.is_dir() else None


def presets_dir() -> Path | None:
    return folder("presets")


def resource(relative: str) -> Path | None:
    """A file under resources/ ("theme.yaml", "icons/sharing-explorer.svg"), or None."""
    root = folder("resources")
    if root is None:
        return None
    path = root / relative
    return path if path.is_file() else None


def is_bundled(path: str | Path) -> bool:
    """Whether `path` is one of the shipped files (which the app never writes)."""
    try:
        resolved = Path(path).resolve()
    except OSError:
        return False
    return any(root is not None and resolved.is_relative_to(root.resolve())
               for root in (folder("presets"), folder("resources")))
