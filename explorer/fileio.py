"""Writing a file whole or not at all, with the mode a plain write would give it.

Every file the app and the CLI write (designs, checkpoints, exports) goes through
`write_atomic`: the content goes to a temporary file in the same folder, is flushed to disk,
and is renamed over the target, so a reader never sees half a file. A temporary file is
created private (0600); before the rename it gets the mode a plain `open(path, "w")` would
leave: an existing file keeps its own mode (as QSaveFile does), a new one follows the umask
(0644 under umask 022). Pure: no torch, no Qt.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (/proc), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def mode_for(target: str | os.PathLike) -> int:
    """The permission bits a write of `target` should leave: its own when it exists, else 0666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def write_atomic(path: str | os.PathLike, content: str | bytes | Callable[[str], None],
                 encoding: str = "utf-8") -> None:
    """Replace `path` with `content` atomically, keeping an existing file's mode (a new file: the umask's).

    `content`: text (written in `encoding`), bytes, or a function that writes the file at the path
    it is given (a library's save_file). Raises OSError; nothing is left behind on failure."""
    target = Path(path)
    mode = mode_for(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
    try:
        if callable(content):
            os.close(fd)
            fd = -1
            content(tmp)
            fd = os.open(tmp, os.O_RDONLY)
            os.fsync(fd)
        else:
            data = content.encode(encoding) if isinstance(content, str) else content
            with os.fdopen(fd, "wb") as handle:
                fd = -1
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        if fd >= 0:
            os.close(fd)
            fd = -1
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


__all__ = ["current_umask", "mode_for", "write_atomic"]
