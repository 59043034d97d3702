"""Install the app's .desktop entry and icon for Linux desktops (pure: no Qt, no torch).

The entry goes to $XDG_DATA_HOME/applications/, the icon to the hicolor theme's scalable
apps folder, both per user; the entry's Exec names this installation's `explorer`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from explorer import bundled
from explorer.fileio import write_atomic
from explorer.errors import ExplorerError

DESKTOP_FILE = "sharing-explorer.desktop"
ICON_FILE = "icons/sharing-explorer.svg"
ICON_NAME = "sharing-explorer"
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")      # Exec arguments with these must be quoted


def default_data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share where it is unset or not absolute (the XDG rule)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".local" / "share"


def exec_command() -> list[str]:
    """What starts the app: the `explorer` script on PATH, else this Python with `-m explorer`."""
    script = shutil.which("explorer")
    return [script] if script else [sys.executable, "-m", "explorer"]


def exec_arg(arg: str) -> str:
    """One argument of an Exec value, quoted and escaped as the Desktop Entry spec asks."""
    if arg and not _RESERVED.intersection(arg):
        return arg.replace("%", "%%")
    quoted = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    # an Exec value is also a string value, whose own escaping doubles each backslash again
    return quoted.replace("\\", "\\\\").replace("%", "%%")


def with_exec(entry_text: str, command: list[str]) -> str:
    """The desktop entry with its Exec line set to `command` followed by %f (the file to open)."""
    line = "Exec=" + " ".join(exec_arg(a) for a in command) + " %f"
    text, count = re.subn(r"^Exec=.*$", lambda _m: line, entry_text, count=1, flags=re.MULTILINE)
    return text if count else text.rstrip("\n") + "\n" + line + "\n"


def install_desktop_entry(data_home: Path | None = None) -> list[Path]:
    """Write the .desktop entry and the SVG icon under `data_home` (default: $XDG_DATA_HOME);
    return the two paths written. Raises ExplorerError when a file is missing or unwritable."""
    entry_source, icon_source = bundled.resource(DESKTOP_FILE), bundled.resource(ICON_FILE)
    if entry_source is None or icon_source is None:
        raise ExplorerError(f"this installation lacks resources/{DESKTOP_FILE} or resources/{ICON_FILE}")
    home = Path(data_home) if data_home is not None else default_data_home()
    entry = home / "applications" / DESKTOP_FILE
    icon = home / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"
    try:
        text = with_exec(entry_source.read_text(encoding="utf-8"), exec_command())
        entry.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(entry, text)
        icon.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(icon_source, icon)
    except OSError as err:
        raise ExplorerError(f"cannot install the desktop entry: {err}") from None
    return [entry, icon]
