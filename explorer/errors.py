"""Typed errors: everything a user can cause is an ExplorerError with a one-line message."""


class ExplorerError(Exception):
    """Base of every error caused by user input; str(err) is one line for a status bar or stderr."""

    MAX_CHARS = 600

    def __str__(self) -> str:
        text = " ".join(super().__str__().split())
        if len(text) > self.MAX_CHARS:     # a hostile file's megabyte-long key stays a readable line
            text = text[: self.MAX_CHARS - 1] + "…"
        return text


class SpecError(ExplorerError):
    """A design is malformed or inconsistent.

    `path` is the key path inside the design (``stack[3].d_ff``), `source` the file, if any.
    """

    def __init__(self, message: str, path: str = "", source: str = "") -> None:
        self.message = message
        self.path = path
        self.source = source
        super().__init__(self._format())

    def _format(self) -> str:
        where = ": ".join(part for part in (self.source, self.path) if part)
        return f"{where}: {self.message}" if where else self.message

    def with_source(self, source: str) -> "SpecError":
        return SpecError(self.message, self.path, source)


class BuildError(ExplorerError):
    """A design cannot be built as a torch model (device, dtype, memory)."""


class BenchError(ExplorerError):
    """A timing run failed (out of memory, device error, cancelled)."""


class JobError(ExplorerError):
    """A job in a worker process failed, was refused, or its worker died or had to be ended."""
