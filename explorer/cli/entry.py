"""`explorer [ARGS]`: run a command, or open the app; turn every failure into one line and an exit code.

Bad input ends with exit 2 and one line on stderr naming the file, key and reason.
"""

from __future__ import annotations

import argparse
import os
import sys

from explorer.cli.commands import HANDLERS
from explorer.cli.parser import COMMANDS, build_parser
from explorer.errors import ExplorerError


def _run_gui(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="explorer", description="Sharing Explorer. Commands: "
                                     + ", ".join(COMMANDS) + " (explorer COMMAND --help).")
    parser.add_argument("preset", nargs="?", help="a preset YAML file to open")
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window at 1440x900 to a PNG and exit")
    args = parser.parse_args(argv)
    try:
        from explorer.gui.app import run
    except ImportError as err:
        print(f"error: the app cannot start: {err}", file=sys.stderr)
        return 2
    return run(args.preset, args.screenshot)


def main(argv: list[str] | None = None) -> int:
    """The `explorer` command; returns its exit code (0 ok, 1 --verify mismatch, 2 bad input, 3 internal)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
            return _run_gui(argv)
        args = build_parser().parse_args(argv)
        return HANDLERS[args.command](args)
    except ExplorerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:               # `explorer report --json | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (RecursionError, MemoryError) as err:
        print(f"error: input too large or too deeply nested ({type(err).__name__})", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - one line for the user; the traceback only on request
        if os.environ.get("EXPLORER_DEBUG"):
            raise
        print(f"error: internal error {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''} "
              f"(set EXPLORER_DEBUG=1 for the traceback)", file=sys.stderr)
        return 3
